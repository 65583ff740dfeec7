"""A LiT-style image-text model from its trained projections and two packaged towers (``lit-dual-encoder``).

``workbench/lit-dinov2-minilm`` ships as one small file, ``projections.safetensors`` (the two bias-free projections
and the temperature, trained by ``tools/build_lit_model.py``), whose metadata names the frozen towers it was trained
on (``vision_model``, ``text_model``: the Hub ids of packaged checkpoints). This converter joins them into a
``VisionTextDualEncoderModel`` folder that ``from_pretrained``, ``pipeline("zero-shot-image-classification")`` and
the reference load: config.json, model.safetensors, preprocessor_config.json and the tokenizer's files.
"""

from __future__ import annotations

from pathlib import Path

PROJECTIONS = "projections.safetensors"
KEYS = ("visual_projection.weight", "text_projection.weight", "logit_scale")


def convert(source: Path, out: Path) -> None:
    from safetensors import safe_open

    from ..models.vision_text_dual_encoder import VisionTextDualEncoderModel
    from ..processing.processor import AutoImageProcessor, VisionTextDualEncoderProcessor
    from ..processing.tokenizer import AutoTokenizer

    file = source / PROJECTIONS if source.is_dir() else source
    if not file.is_file():
        raise FileNotFoundError(f"{source} has no {PROJECTIONS}: pass the folder that tools/build_lit_model.py wrote.")
    with safe_open(file, "pt") as projections:
        towers = projections.metadata() or {}
        tensors = {key: projections.get_tensor(key) for key in projections.keys()}
    if sorted(tensors) != sorted(KEYS) or not {"vision_model", "text_model"} <= set(towers):
        raise ValueError(
            f"{file} should hold {', '.join(KEYS)} and name the towers in its metadata (vision_model, text_model); "
            f"it holds {sorted(tensors)} and {towers}."
        )
    model = VisionTextDualEncoderModel.from_vision_text_pretrained(
        towers["vision_model"], towers["text_model"], projection_dim=tensors["text_projection.weight"].shape[0]
    )
    model.load_state_dict(tensors, strict=False)
    model.save_pretrained(out)
    image_processor = AutoImageProcessor.from_pretrained(towers["vision_model"])
    VisionTextDualEncoderProcessor(
        image_processor, AutoTokenizer.from_pretrained(towers["text_model"])
    ).save_pretrained(out)
