"""CLIP and SigLIP: parity with the reference on tiny random configs for every class (both towers alone, with
their projections, and together), checkpoints both ways, towers loaded from a whole checkpoint, other image
sizes, the contrastive and sigmoid losses, errors and the tiny presets."""

import pytest
import torch
import transformers
from parity import (
    assert_fast_path_matches,
    assert_gradient_checkpointing_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    load_ours_from_reference,
    padding_mask,
    reference_model,
)

import workbench
from workbench.models.auto import tiny_config

VOCAB, EOS, PAD = 99, 98, 1
TOWER = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4)
TEXT = dict(**TOWER, vocab_size=VOCAB, max_position_embeddings=16, bos_token_id=97, eos_token_id=EOS, pad_token_id=PAD)
VISION = dict(**TOWER, image_size=32, patch_size=8)


def clip_text(**overrides):
    return transformers.CLIPTextConfig(**{**TEXT, "projection_dim": 16, **overrides})


def clip_vision(**overrides):
    return transformers.CLIPVisionConfig(**{**VISION, "projection_dim": 16, **overrides})


def clip(text=None, vision=None, **overrides):
    return transformers.CLIPConfig(
        text_config=(text or clip_text()).to_dict(),
        vision_config=(vision or clip_vision()).to_dict(),
        **{"projection_dim": 16, **overrides},
    )


def siglip_text(**overrides):
    return transformers.SiglipTextConfig(**{**TEXT, **overrides})


def siglip_vision(**overrides):
    return transformers.SiglipVisionConfig(**{**VISION, **overrides})


def siglip(text=None, vision=None, **overrides):
    return transformers.SiglipConfig(
        text_config=(text or siglip_text()).to_dict(), vision_config=(vision or siglip_vision()).to_dict(), **overrides
    )


# test id -> (class name, the reference config, the inputs: "text", "images" or both)
CASES = {
    "clip": ("CLIPModel", clip(), "both"),
    "clip-gelu-legacy-eos": (
        "CLIPModel",
        clip(clip_text(eos_token_id=2, hidden_act="gelu"), clip_vision(hidden_act="gelu")),
        "both",
    ),
    "clip-text": ("CLIPTextModel", clip_text(), "text"),
    "clip-text-projection": ("CLIPTextModelWithProjection", clip_text(), "text"),
    "clip-vision": ("CLIPVisionModel", clip_vision(), "images"),
    "clip-vision-projection": ("CLIPVisionModelWithProjection", clip_vision(), "images"),
    "siglip": ("SiglipModel", siglip(), "both"),
    "siglip-text": ("SiglipTextModel", siglip_text(projection_size=24), "text"),
    "siglip-vision": ("SiglipVisionModel", siglip_vision(), "images"),
    "siglip-vision-no-head": ("SiglipVisionModel", siglip_vision(vision_use_head=False), "images"),
    # the image classifiers of the current reference (v4.38 on)
    "clip-classification": ("CLIPForImageClassification", clip(num_labels=3), "labelled images"),
    "siglip-classification": ("SiglipForImageClassification", siglip(num_labels=3), "labelled images"),
}


def random_reference(class_name: str, config):
    """The reference model with every weight moved off its initial value (zeros, ones), so that each shows."""
    ref = reference_model(class_name, config, seed=0)
    with torch.no_grad():
        for param in ref.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    return ref


def text_batch(rows: int = 3, seq: int = 9, seed: int = 0) -> dict:
    """Right-padded texts that end with the end-of-text token: row 0 full, row 1 two pads, row 2 five."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB - 3, (rows, seq), generator=g)
    mask = padding_mask(seq, right=[0, 2, 5][:rows])
    ids[torch.arange(rows), mask.sum(-1) - 1] = EOS
    return {"input_ids": ids.masked_fill(mask == 0, PAD), "attention_mask": mask}


def image_batch(rows: int = 3, size=(32, 32), seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"pixel_values": torch.randn(rows, 3, *size, generator=g)}


def batch_for(inputs: str) -> dict:
    batch = {}
    if inputs in ("text", "both"):
        batch.update(text_batch())
    if inputs in ("images", "both", "labelled images"):
        batch.update(image_batch())
    if inputs == "labelled images":
        batch["labels"] = torch.tensor([0, 2, 1])
    if inputs == "both":
        batch["return_loss"] = True
    return batch


def as_current_reference(model):
    """CLIPModel as the current reference reports it: its towers' pooler_output projected into the shared space
    (v4.37, and workbench, keep each tower's own pooled vector there; v5 changed it)."""

    def run(**inputs):
        out = model(**inputs)
        if model.config.projections:
            out.text_model_output.pooler_output = model.text_projection(out.text_model_output.pooler_output)
            out.vision_model_output.pooler_output = model.visual_projection(out.vision_model_output.pooler_output)
        return out

    return run


@pytest.mark.parametrize("case", CASES)
def test_parity(case, tmp_path):
    class_name, config, inputs = CASES[case]
    ref = random_reference(class_name, config)
    ours, _ = load_ours_from_reference(ref, getattr(workbench, class_name), tmp_path)
    batch = batch_for(inputs)
    # every output: logits, embeddings, the towers' outputs (hidden states, attentions) and the loss
    assert_outputs_close(ref, as_current_reference(ours) if inputs == "both" else ours, batch)
    if inputs == "both":  # the harness compares flat outputs: here the scores, vectors, loss and towers' states
        with torch.no_grad():
            eager, fast = ours(**batch, output_attentions=True), ours(**batch)
        for key in ("logits_per_image", "text_embeds", "image_embeds", "loss"):
            torch.testing.assert_close(fast[key], eager[key], atol=1e-5, rtol=1e-4)
        for tower in ("text_model_output", "vision_model_output"):
            for key in ("last_hidden_state", "pooler_output"):
                torch.testing.assert_close(fast[tower][key], eager[tower][key], atol=1e-5, rtol=1e-4)
    else:
        assert_fast_path_matches(ours, batch)
    # the towers alone: the Hub's layout (text_model.*, vision_model.*), which the current reference reads but
    # writes without the prefix
    prefix = {"CLIPTextModel": "text_model.", "CLIPVisionModel": "vision_model."}.get(type(ours).__name__, "")
    assert_reference_loads_ours(ours, ref, tmp_path, key_prefix=prefix)


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_features_towers_from_the_whole_checkpoint_and_auto_classes(family, tmp_path):
    config = clip() if family == "clip" else siglip()
    prefix = "CLIP" if family == "clip" else "Siglip"
    ref = random_reference(f"{prefix}Model", config)
    ours, folder = load_ours_from_reference(ref, workbench.AutoModelForZeroShotImageClassification, tmp_path)
    assert type(ours) is workbench.CLIPModel and workbench.AutoModel.from_pretrained(folder).config == ours.config
    texts, images = text_batch(), image_batch(rows=2)
    with torch.no_grad():
        # get_*_features return the vectors (v4.37's tensors; the current reference wraps them in an output)
        torch.testing.assert_close(ours.get_text_features(**texts), ref.get_text_features(**texts).pooler_output)
        torch.testing.assert_close(ours.get_image_features(**images), ref.get_image_features(**images).pooler_output)
        # each tower loads alone from the whole checkpoint (its sub-config), as the reference's does
        text_tower = getattr(workbench, f"{prefix}TextModel").from_pretrained(folder)
        vision_tower = getattr(workbench, f"{prefix}VisionModel").from_pretrained(folder)
        assert text_tower.config.model_type == f"{family}_text_model"
        torch.testing.assert_close(
            text_tower(**texts).last_hidden_state, ours(**texts, **images).text_model_output.last_hidden_state
        )
        torch.testing.assert_close(
            vision_tower(**images).pooler_output,
            ours.vision_model(images["pixel_values"], False, False, False).pooler_output,
        )


@pytest.mark.parametrize("class_name", ["CLIPVisionModel", "SiglipVisionModel"])
@pytest.mark.parametrize("size", [(48, 48), (64, 40)])
def test_other_image_sizes_match_the_reference(class_name, size, tmp_path):
    config = clip_vision() if class_name.startswith("CLIP") else siglip_vision()
    ref = random_reference(class_name, config)
    ours, _ = load_ours_from_reference(ref, getattr(workbench, class_name), tmp_path)
    batch = {**image_batch(size=size), "interpolate_pos_encoding": True}
    if size[0] != size[1]:  # the reference resizes square tables only to square grids (sqrt of the positions)
        with torch.no_grad():
            assert ours(**batch).last_hidden_state.shape[1] == size[0] // 8 * size[1] // 8 + (
                class_name == "CLIPVisionModel"
            )
        return
    assert_outputs_close(ref, ours, batch)
    with pytest.raises(ValueError, match="interpolate_pos_encoding=True"):
        ours(**image_batch(size=size))


def test_bad_inputs_get_clear_errors():
    model = workbench.CLIPModel(tiny_config("clip-tiny-random")).eval()
    texts, images = text_batch(), image_batch()
    no_eos = texts["input_ids"].masked_fill(texts["input_ids"] == EOS, 5)
    with pytest.raises(ValueError, match="end-of-text token"):
        model(input_ids=no_eos, pixel_values=images["pixel_values"])
    with pytest.raises(ValueError, match="truncation=True, max_length=16"):
        model.get_text_features(input_ids=torch.full((1, 17), EOS))
    with pytest.raises(ValueError, match="one caption per image"):
        model(**texts, pixel_values=images["pixel_values"][:2], return_loss=True)
    with pytest.raises(ValueError, match="channels"):
        model.get_image_features(pixel_values=torch.randn(1, 1, 32, 32))


@pytest.mark.parametrize("preset", ["clip-tiny-random", "siglip-tiny-random"])
def test_tiny_presets_train_a_step_with_checkpointed_blocks(preset, tmp_path):
    torch.manual_seed(0)
    model = workbench.AutoModel.from_config(tiny_config(preset))
    texts, images = text_batch(), image_batch()
    loss = model(**texts, **images, return_loss=True).loss
    loss.backward()
    assert loss > 0 and model.logit_scale.grad is not None
    assert_gradient_checkpointing_matches(model, {**texts, **images, "return_loss": True})
    model.save_pretrained(tmp_path)
    again = workbench.AutoModel.from_pretrained(tmp_path)
    with torch.no_grad():
        model.eval()
        torch.testing.assert_close(again(**texts, **images).logits_per_image, model(**texts, **images).logits_per_image)
