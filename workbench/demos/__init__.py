"""Gradio demos: one app with a tab per task, or one Interface for any pipeline.

    from workbench.demos import build_app, build_demo
    from workbench.pipelines import pipeline

    build_demo(pipeline("feature-extraction")).launch()     # one pipeline, one Interface
    build_app({"text-generation": "path/to/tiny-gpt"}).launch(server_name="127.0.0.1")

    workbench demo [--port N] [--model TASK=ID_OR_PATH ...] [--gallery FOLDER] [--share]   # from a shell
    python -m workbench.demos ...                                                          # the same again

``tasks.py`` holds what each tab computes and which models it offers (plain Python, no Gradio);
``app.py`` wires the tabs into Gradio and launches them with safe defaults.
"""

from __future__ import annotations

from .app import CONCURRENCY_LIMIT, QUEUE_SIZE, add_arguments, build_app, build_demo, launch_app, main, run_from_args
from .tasks import (
    MAX_AUDIO_BYTES,
    MAX_AUDIO_SECONDS,
    MAX_CHARS,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_NEW_TOKENS,
    TABS,
    DemoInputError,
    Tab,
    available_models,
    parse_model_args,
)

__all__ = [
    "build_demo",
    "build_app",
    "launch_app",
    "available_models",
    "TABS",
    "Tab",
    "MAX_CHARS",
    "MAX_NEW_TOKENS",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_AUDIO_BYTES",
    "MAX_AUDIO_SECONDS",
    "CONCURRENCY_LIMIT",
    "QUEUE_SIZE",
    "DemoInputError",
    "parse_model_args",
    "add_arguments",
    "run_from_args",
    "main",
]
