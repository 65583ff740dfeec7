"""ipywidgets for the workbench, imported lazily (``import workbench.widgets`` loads no widget code).

from workbench.widgets import TrainingMonitor, AttentionVisualizer, AudioExplorer
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module (relative to this package) that defines it
_LAZY = {
    "TrainingMonitor": "training_monitor",
    "ModelPicker": "model_picker",
    "AttentionVisualizer": "attention",
    "TokenizerExplorer": "tokenizer_explorer",
    "GenerationExplorer": "generation_explorer",
    "AudioExplorer": "audio_explorer",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'workbench.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
