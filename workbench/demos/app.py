"""The Gradio wiring: the tabs of ``tasks.py`` as one Blocks app, one pipeline as an Interface, and launching.

Safe defaults: nothing launches at import; ``launch_app`` binds 127.0.0.1 and keeps share off unless asked;
the queue is on with ``CONCURRENCY_LIMIT`` workers per endpoint; inputs longer than ``MAX_CHARS`` are refused
with a message; uploads are at most ``MAX_AUDIO_BYTES`` (images ``MAX_IMAGE_BYTES`` and at most
``MAX_IMAGE_PIXELS``, speech at most ``MAX_AUDIO_SECONDS``), and a file that is not an image (or not audio) gets a
message, not a traceback; no extra files are served (``allowed_paths`` empty;
gradio's own temporary folder is a private one, ``GRADIO_TEMP_DIR``, created per process unless already set); a
model dropdown only accepts the checkpoints it lists, so an API caller cannot make the server load an arbitrary
path.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import threading
from typing import Any, Callable

from .tasks import (
    MAX_AUDIO_BYTES,
    MAX_CHARS,
    MAX_IMAGE_BYTES,
    MAX_NEW_TOKENS,
    TABS,
    DemoInputError,
    Tab,
    TabModels,
    folder_gallery,
    missing_model_message,
    parse_model_args,
    tab_for_pipeline,
)

CONCURRENCY_LIMIT = 2  # workers per endpoint (CPU-bound models; 2 cores in a classroom)
QUEUE_SIZE = 256  # requests waiting at most, across the app; more get "queue full"


# ------------------------------------------------------------------------------------------------
# Safe file access: gradio's temporary folder is a private one
# ------------------------------------------------------------------------------------------------

_TEMP_LOCK = threading.Lock()


def _private_temp_dir() -> str:
    """Point gradio's temporary folder (uploads, images it serves) at a private folder of this process.

    Gradio serves files only from that folder, ``allowed_paths`` and static paths; by default the folder is
    a shared ``/tmp/gradio``. Set ``GRADIO_TEMP_DIR`` yourself to choose another one.
    """
    with _TEMP_LOCK:
        if not os.environ.get("GRADIO_TEMP_DIR"):
            os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="workbench-demo-")
        return os.environ["GRADIO_TEMP_DIR"]


# ------------------------------------------------------------------------------------------------
# Gradio wiring
# ------------------------------------------------------------------------------------------------


def _wrap(models: TabModels, tab: Tab) -> Callable:
    """tab.run(pipe, *inputs) -> a Gradio handler(*inputs, model_name): input errors become gr.Error messages."""
    import gradio as gr

    fn = tab.run
    if tab.streaming:

        def handler(*args):
            *inputs, name = args
            try:
                pipe, lock = models.get(tab.key, name)
                with lock:
                    yield from fn(pipe, *inputs)
            except DemoInputError as e:
                raise gr.Error(str(e), print_exception=False) from None
    else:

        def handler(*args):
            *inputs, name = args
            try:
                pipe, lock = models.get(tab.key, name)
                with lock:
                    return fn(pipe, *inputs)
            except DemoInputError as e:
                raise gr.Error(str(e), print_exception=False) from None

    handler.__name__ = tab.api_name
    handler.__doc__ = fn.__doc__
    # the API page and gradio_client name the parameters after the task function's (plus the model)
    names = [*list(inspect.signature(fn).parameters)[1:], "model"]
    handler.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    )
    return handler


def _picture_input(label: str):
    """An image input (upload or webcam) that hands the task function the uploaded file's path. Gradio opens the
    file first: one that is not an image gets the demo's message instead of PIL's (with a temporary path)."""
    import gradio as gr

    image = gr.Image(label=label, type="filepath", image_mode=None, sources=["upload", "webcam"], height=320)
    opens_upload = image.preprocess

    def preprocess(payload):
        try:
            return opens_upload(payload)
        except Exception:
            raise gr.Error(
                "The upload is not an image this demo can read: upload a JPEG, PNG, WebP, GIF, BMP or TIFF photo.",
                print_exception=False,
            ) from None

    # on the instance, not in a gr.Image subclass: gradio writes a .pyi file next to every subclass's source
    image.preprocess = preprocess
    return image


def _speech_input(label: str):
    """An audio input (microphone or upload, any sampling rate) that hands the task function the clip's file path;
    a file gradio cannot open gets the demo's message."""
    import gradio as gr

    # format=None: gradio passes the file as it came (its own conversion needs ffmpeg); workbench decodes it
    audio = gr.Audio(label=label, type="filepath", sources=["upload", "microphone"], format=None)
    opens_upload = audio.preprocess

    def preprocess(payload):
        try:
            return opens_upload(payload)
        except Exception:
            raise gr.Error(
                "The upload is not audio this demo can read: upload a WAV, FLAC, OGG or MP3 file (or record one).",
                print_exception=False,
            ) from None

    audio.preprocess = preprocess  # on the instance: no gr.Audio subclass (gradio would write a .pyi file)
    return audio


def _input(kind: str, label: str, value: Any):
    import gradio as gr

    if kind == "picture":
        return _picture_input(label)
    if kind == "speech":
        return _speech_input(label)
    if kind == "text":
        return gr.Textbox(label=label, value=value, lines=4, max_length=MAX_CHARS * 4)
    if kind == "line":
        return gr.Textbox(label=label, value=value, lines=1)
    if kind == "tokens":
        return gr.Slider(1, MAX_NEW_TOKENS, value=value, step=1, label=label)
    if kind == "check":
        return gr.Checkbox(label=label, value=value)
    if kind == "layer":
        return gr.Number(label=label, value=value, precision=0, minimum=0)
    if kind == "head":
        return gr.Number(label=label, value=value, precision=0, minimum=-1)
    if kind == "view":
        return gr.Radio(["heatmap", "model", "head"], label=label, value=value)
    raise ValueError(kind)


def _output(kind: str, label: str):
    import gradio as gr

    return {
        "label": lambda: gr.Label(label=label, num_top_classes=10),
        "highlight": lambda: gr.HighlightedText(label=label, combine_adjacent=False, show_legend=True),
        "json": lambda: gr.JSON(label=label),
        "textout": lambda: gr.Textbox(label=label, lines=6, buttons=["copy"]),
        "table": lambda: gr.Dataframe(
            headers=["sentence", "cosine similarity"], label=label, datatype=["str", "number"], interactive=False
        ),
        "image": lambda: gr.Image(
            label=label, type="pil", format="png", interactive=False, buttons=["download", "fullscreen"]
        ),
        "gallery": lambda: gr.Gallery(label=label, columns=4, height="auto", object_fit="contain", format="jpeg"),
        "word_table": lambda: gr.Dataframe(
            headers=["word", "start (s)", "end (s)"],
            label=label,
            datatype=["str", "number", "number"],
            interactive=False,
        ),
        "photo_table": lambda: gr.Dataframe(
            headers=["photo", "label", "cosine similarity"],
            label=label,
            datatype=["str", "str", "number"],
            interactive=False,
        ),
    }[kind]()


def build_demo(pipeline, *, title: str | None = None):
    """A ready ``gr.Interface`` for any workbench pipeline: ``build_demo(p).launch(inline=True)``.

    Feature-extraction pipelines get the sentence-similarity demo, image-feature-extraction pipelines the
    image-similarity demo (on the clothing photos). The interface is queued (at most
    ``CONCURRENCY_LIMIT`` requests at a time) and its endpoint is named after the task (``/similarity``,
    ``/classify``, ...; see ``TABS``).
    """
    import gradio as gr

    _private_temp_dir()
    tab = tab_for_pipeline(pipeline)
    models = TabModels(fixed={tab.key: pipeline})
    handler = _wrap(models, tab)
    name = models.default(tab.key)

    def run(*args):  # the Interface has no model dropdown: one pipeline
        return handler(*args, name)

    def run_stream(*args):
        yield from handler(*args, name)

    for f in (run, run_stream):  # API parameter names: the task function's
        f.__signature__ = inspect.Signature(list(inspect.signature(handler).parameters.values())[:-1])

    demo = gr.Interface(
        fn=run_stream if tab.streaming else run,
        inputs=[_input(*spec) for spec in tab.inputs],
        outputs=[_output(*spec) for spec in tab.outputs],
        title=title or f"{tab.title} · {name}",
        description=f"workbench `{pipeline.task}` pipeline on `{name}`. "
        + (tab.run.__doc__ or "").strip().split("\n")[0],
        flagging_mode="never",
        analytics_enabled=False,
        api_name=tab.api_name,
        concurrency_limit=CONCURRENCY_LIMIT,
    )
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    return demo


def build_app(
    models: dict[str, str] | None = None,
    *,
    gallery: str | os.PathLike | None = None,
    title: str = "Transformers Workbench demos",
):
    """The Blocks app: a tab per task, each with a model dropdown and a named API endpoint.

    ``models``: ``{task: Hub id or local folder}`` to offer (first in its dropdown), e.g.
    ``{"text-generation": "./tiny-gpt"}``; tasks are the keys of ``TABS`` (aliases such as "ner",
    "sentiment-analysis", "translation" work). ``gallery``: a folder of photos (one subfolder per label) for the
    image-similarity tab to search instead of the clothing data set's validation photos. Nothing is loaded until a
    tab is used.
    """
    import gradio as gr

    _private_temp_dir()
    registry = TabModels(models, gallery=folder_gallery(gallery) if gallery is not None else None)
    with gr.Blocks(title=title, analytics_enabled=False) as app:
        gr.Markdown(
            f"# {title}\nHugging Face Transformers pipelines in plain PyTorch, running on this machine. "
            f"Each tab is also an API endpoint (see *Use via API* at the bottom of the page)."
        )
        for tab in TABS:
            with gr.Tab(tab.title, id=tab.api_name, elem_id=tab.api_name):
                choices = registry.choices[tab.key]
                if not choices:
                    gr.Markdown(missing_model_message(tab))
                in_components = [_input(*spec) for spec in tab.inputs]
                model = gr.Dropdown(
                    choices=choices,
                    value=registry.default(tab.key),
                    label="Model",
                    allow_custom_value=False,
                    interactive=bool(choices),
                )
                button = gr.Button("Submit", variant="primary", interactive=bool(choices))
                out_components = [_output(*spec) for spec in tab.outputs]
                button.click(
                    _wrap(registry, tab),
                    inputs=[*in_components, model],
                    outputs=out_components,
                    api_name=tab.api_name,
                    concurrency_limit=CONCURRENCY_LIMIT,
                    concurrency_id=tab.api_name,
                )
    app.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    app.workbench_models = registry.choices  # what each tab offers (for tests and the CLI's banner)
    return app


# ------------------------------------------------------------------------------------------------
# Launching, and the command line (``workbench demo``, ``python -m workbench.demos``)
# ------------------------------------------------------------------------------------------------


def launch_app(app, *, port: int | None = None, host: str = "127.0.0.1", share: bool = False, **kwargs: Any):
    """``app.launch`` with the safe defaults: local address only, no share link, no extra file access, uploads of
    at most ``MAX_AUDIO_BYTES`` (the larger of the image and audio limits; each tab checks its own)."""
    if kwargs.get("allowed_paths"):
        raise ValueError("This demo serves no files of yours: allowed_paths must stay empty.")
    kwargs.pop("allowed_paths", None)
    kwargs.setdefault("max_file_size", max(MAX_IMAGE_BYTES, MAX_AUDIO_BYTES))
    return app.launch(server_name=host, server_port=port, share=share, allowed_paths=[], show_error=True, **kwargs)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m workbench.demos", description="Gradio demos of every pipeline.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def add_arguments(parser) -> None:
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="TASK=ID_OR_PATH",
        help="checkpoint for a tab, e.g. text-generation=./tiny-gpt (repeatable)",
    )
    parser.add_argument(
        "--gallery",
        metavar="FOLDER",
        help="photos for the image-similarity tab to search, one subfolder per label (default: the clothing data "
        "set's validation photos)",
    )
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")


def run_from_args(args) -> int:
    models = parse_model_args(args.model)
    app = build_app(models, gallery=getattr(args, "gallery", None))
    for tab in TABS:
        offered = app.workbench_models[tab.key]
        print(f"  {tab.title:<22} /{tab.api_name:<11} {offered[0] if offered else '(no model: see the tab)'}")
    launch_app(app, port=args.port, host=args.host, share=args.share)
    return 0
