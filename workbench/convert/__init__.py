"""Converters: checkpoints in other formats turned into Hub-format folders (config.json, model.safetensors, ...).

Each converter reads one format and writes a folder that ``from_pretrained`` loads, and the reference library
too. The packaged checkpoints that ship in another format (``hub.PACKAGED_CHECKPOINTS``) are converted by them
on first use; ``workbench convert FORMAT SOURCE OUT`` runs one by hand.

    format        reads                                              module
    onnx-dinov2   an ONNX export of a DINOv2 backbone (Dinov2Model)  onnx_dinov2.py
    ct2-whisper   a CTranslate2 (faster-whisper) Whisper folder      ct2_whisper.py
    lit-dual-encoder  trained projections + two packaged towers      lit_dual_encoder.py
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Converter:
    module: str  # the module in this package that holds ``convert(source, out)``
    reads: str  # what SOURCE is, for ``workbench convert --help``


CONVERTERS = {
    "onnx-dinov2": Converter("onnx_dinov2", "an ONNX export (a .onnx file) of a DINOv2 backbone"),
    "ct2-whisper": Converter(
        "ct2_whisper",
        "a CTranslate2 (faster-whisper) Whisper folder: model.bin, config.json, tokenizer.json, vocabulary.txt",
    ),
    "lit-dual-encoder": Converter(
        "lit_dual_encoder",
        "a folder with projections.safetensors (tools/build_lit_model.py), whose metadata names the two towers",
    ),
}


def convert(format_name: str, source: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Convert ``source`` (a file or folder in ``format_name``) into a Hub-format folder ``out``; returns ``out``."""
    if format_name not in CONVERTERS:
        raise ValueError(f"No converter for {format_name!r}: the formats are {', '.join(sorted(CONVERTERS))}.")
    source = Path(source).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist: pass the {CONVERTERS[format_name].reads}.")
    out = Path(out).expanduser()
    if out.is_dir() and any(out.iterdir()):
        raise FileExistsError(f"{out} already holds files: pass a new or empty folder to write the checkpoint into.")
    out.mkdir(parents=True, exist_ok=True)
    module = importlib.import_module(f"{__name__}.{CONVERTERS[format_name].module}")
    module.convert(source, out)
    return out
