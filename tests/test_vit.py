"""Vision transformers (ViT, DeiT, DINOv2, BEiT, data2vec-vision): parity with the reference, every head, on tiny
random configs (32x32 images in 8x8 patches), checkpoints both ways, other image sizes, errors, hooks,
gradient checkpointing and the tiny presets."""

import pytest
import torch
import transformers
from parity import (
    assert_fast_path_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    load_ours_from_reference,
    reference_model,
)
from safetensors.torch import load_file, save_file

import workbench
from workbench.models import vit
from workbench.models.auto import tiny_config

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8)
PATCHES = 16


def vit_config(**overrides):
    return transformers.ViTConfig(**{**TINY, "intermediate_size": 37, "encoder_stride": 8, **overrides})


def deit_config(**overrides):
    return transformers.DeiTConfig(**{**TINY, "intermediate_size": 37, "encoder_stride": 8, **overrides})


def dinov2_config(**overrides):
    return transformers.Dinov2Config(**{**TINY, "mlp_ratio": 2, **overrides})


def beit_config(**overrides):
    return transformers.BeitConfig(**{**TINY, "intermediate_size": 37, "vocab_size": 50, **overrides})


def data2vec_config(**overrides):
    return transformers.Data2VecVisionConfig(**{**TINY, "intermediate_size": 37, **overrides})


BEIT_BIAS = dict(use_relative_position_bias=True, use_absolute_position_embeddings=True)

# test id -> (class name, the reference config, extra inputs: "mask" = bool_masked_pos, "labels" = labels)
CASES = {
    "vit": ("ViTModel", vit_config(), ()),
    "vit-classification": ("ViTForImageClassification", vit_config(num_labels=3), ("labels",)),
    "vit-mim": ("ViTForMaskedImageModeling", vit_config(), ("mask",)),
    "vit-no-qkv-bias-relu": ("ViTModel", vit_config(qkv_bias=False, hidden_act="relu", pooler_act="relu"), ()),
    "deit": ("DeiTModel", deit_config(), ()),
    "deit-classification": ("DeiTForImageClassification", deit_config(num_labels=3), ("labels",)),
    "deit-teacher": ("DeiTForImageClassificationWithTeacher", deit_config(num_labels=3), ()),
    "deit-mim": ("DeiTForMaskedImageModeling", deit_config(), ("mask",)),
    "dinov2": ("Dinov2Model", dinov2_config(), ("mask",)),
    "dinov2-swiglu": ("Dinov2Model", dinov2_config(use_swiglu_ffn=True, layerscale_value=0.5), ()),
    "dinov2-classification": ("Dinov2ForImageClassification", dinov2_config(num_labels=3), ("labels",)),
    "beit": ("BeitModel", beit_config(**BEIT_BIAS, use_mask_token=True), ("mask",)),
    "beit-shared-bias-cls-pooling": (
        "BeitModel",
        beit_config(use_shared_relative_position_bias=True, use_mean_pooling=False),
        (),
    ),
    "beit-classification": ("BeitForImageClassification", beit_config(**BEIT_BIAS, num_labels=3), ("labels",)),
    "beit-mim": (
        "BeitForMaskedImageModeling",
        beit_config(use_shared_relative_position_bias=True, use_mask_token=True),
        ("mask", "labels"),
    ),
    "data2vec-vision": ("Data2VecVisionModel", data2vec_config(**BEIT_BIAS), ()),
    "data2vec-vision-classification": (
        "Data2VecVisionForImageClassification",
        data2vec_config(use_relative_position_bias=True, use_shared_relative_position_bias=True, num_labels=3),
        ("labels",),
    ),
}


def random_reference(class_name: str, config):
    """The reference model with every weight moved off its initial value (BEiT starts its bias tables, tokens and
    position table at zero), so that each of them shows in the outputs."""
    ref = reference_model(class_name, config, seed=0)
    with torch.no_grad():
        for param in ref.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    return ref


def image_batch(extras=(), class_name: str = "", config=None, size=(32, 32), seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    batch = {"pixel_values": torch.randn(2, 3, *size, generator=g)}
    masked = torch.rand(2, PATCHES, generator=g) < 0.5
    if "mask" in extras:
        batch["bool_masked_pos"] = masked
    if "labels" in extras:
        if class_name == "BeitForMaskedImageModeling":  # the visual tokens of the masked patches
            batch["labels"] = torch.randint(0, config.vocab_size, (int(masked.sum()),), generator=g)
        else:
            batch["labels"] = torch.randint(0, config.num_labels, (2,), generator=g)
    return batch


@pytest.mark.parametrize("case", CASES)
def test_head_parity(case, tmp_path):
    class_name, config, extras = CASES[case]
    ref = random_reference(class_name, config)
    ours, _ = load_ours_from_reference(ref, getattr(workbench, class_name), tmp_path)
    batch = image_batch(extras, class_name, config)
    expected, got = assert_outputs_close(ref, ours, batch)  # every output: loss, logits, hidden states, attentions
    tokens = 1 + case.startswith("deit") + PATCHES  # [CLS] (and DeiT's distillation token) + patches
    assert len(got["hidden_states"]) == 3 and got["attentions"][0].shape == (2, 4, tokens, tokens)
    assert_fast_path_matches(ours, batch)
    assert_reference_loads_ours(ours, ref, tmp_path)


# other image sizes: ViT and DeiT resize the position table when asked, DINOv2 always, BEiT always (its relative
# position bias too); (48, 40) is 6x5 patches, (16, 56) 2x7, (64, 64) 8x8 from a 4x4 table
RESIZED = {
    "vit": ("ViTModel", vit_config(), True),
    "deit-teacher": ("DeiTForImageClassificationWithTeacher", deit_config(), True),
    "dinov2": ("Dinov2Model", dinov2_config(), None),
    "beit": ("BeitModel", beit_config(**BEIT_BIAS, use_shared_relative_position_bias=True), False),
    "data2vec-vision": ("Data2VecVisionForImageClassification", data2vec_config(**BEIT_BIAS), True),
}


@pytest.mark.parametrize("size", [(48, 40), (16, 56), (64, 64)])
@pytest.mark.parametrize("case", RESIZED)
def test_other_image_sizes_match_the_reference(case, size, tmp_path):
    class_name, config, interpolate = RESIZED[case]
    ref = random_reference(class_name, config)
    ours, _ = load_ours_from_reference(ref, getattr(workbench, class_name), tmp_path)
    batch = image_batch(size=size)
    if interpolate is not None:
        batch["interpolate_pos_encoding"] = interpolate
    assert_outputs_close(ref, ours, batch)
    assert_fast_path_matches(ours, batch)


def test_resized_masked_image_modeling_and_its_loss(tmp_path):
    ref = random_reference("ViTForMaskedImageModeling", vit_config())
    ours, _ = load_ours_from_reference(ref, workbench.ViTForMaskedImageModeling, tmp_path)
    batch = {"pixel_values": torch.randn(2, 3, 64, 64), "bool_masked_pos": torch.rand(2, 64) < 0.4}
    with torch.no_grad():
        out = ours(**batch, interpolate_pos_encoding=True)
    assert out.reconstruction.shape == (2, 3, 64, 64) and out.loss > 0  # the reference needs config.image_size here


@pytest.mark.parametrize(
    ("config", "auto_class", "expected"),
    [
        (vit_config(), "AutoModel", "ViTModel"),
        (vit_config(), "AutoModelForImageClassification", "ViTForImageClassification"),
        (vit_config(), "AutoModelForMaskedImageModeling", "ViTForMaskedImageModeling"),
        (deit_config(), "AutoModelForMaskedImageModeling", "DeiTForMaskedImageModeling"),
        (dinov2_config(), "AutoModelForImageClassification", "Dinov2ForImageClassification"),
        (beit_config(**BEIT_BIAS), "AutoModelForImageClassification", "BeitForImageClassification"),
        (data2vec_config(), "AutoModel", "Data2VecVisionModel"),
    ],
)
def test_auto_classes_build_the_variant(config, auto_class, expected, tmp_path):
    """An Auto class on a reference checkpoint builds the variant's config and head; what it saves names the
    reference's class and loads there with every tensor."""
    ref = random_reference(expected, config)
    ours, _ = load_ours_from_reference(ref, getattr(workbench, auto_class), tmp_path)
    assert type(ours.config).__name__ == type(ref.config).__name__
    assert isinstance(ours, getattr(workbench, expected))
    assert_outputs_close(ref, ours, image_batch())
    assert_reference_loads_ours(ours, ref, tmp_path, reference_class=getattr(transformers, auto_class))


def test_beit_has_no_pixel_masked_image_modeling():
    with pytest.raises(ValueError, match="masked-image-modeling"):
        workbench.AutoModelForMaskedImageModeling.from_config(vit.BeitConfig(**TINY))


def test_old_checkpoints_with_relative_position_index_buffers_load(tmp_path):
    ref = random_reference("BeitForImageClassification", beit_config(**BEIT_BIAS))
    ref.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    index = torch.zeros(17, 17, dtype=torch.long)
    weights["beit.encoder.layer.0.attention.attention.relative_position_index"] = index  # as old checkpoints have
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    _, info = workbench.BeitForImageClassification.from_pretrained(tmp_path, output_loading_info=True)
    assert info["unexpected_keys"] == [] and info["missing_keys"] == []


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------


def tiny_vit(**overrides):
    return workbench.ViTModel(vit.ViTConfig(**{**TINY, "intermediate_size": 37, **overrides})).eval()


@pytest.mark.parametrize(
    ("pixel_values", "error", "message"),
    [
        (torch.randn(2, 1, 32, 32), ValueError, "1 channels but the config says num_channels=3"),
        (torch.randn(2, 4, 32, 32), ValueError, "RGBA to RGB"),
        (torch.randn(2, 3, 48, 48), ValueError, "interpolate_pos_encoding=True"),
        (torch.randn(2, 3, 33, 32), ValueError, r"Input image size \(33\*32\) doesn't match"),
        (torch.randn(3, 32, 32), ValueError, r"pixel_values\[None\]"),
        (torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8), TypeError, "image processor"),
        (torch.randn(2, 3, 4, 32), ValueError, "smaller than one 8x8 patch"),
        (None, ValueError, "needs pixel_values"),
        ([[0.0]], TypeError, "return_tensors='pt'"),
    ],
)
def test_bad_pixel_values_get_clear_errors(pixel_values, error, message):
    with pytest.raises(error, match=message):
        tiny_vit()(pixel_values)


def test_any_size_for_dinov2_and_beit_and_float64_input():
    for config in (vit.Dinov2Config(**TINY, mlp_ratio=2), vit.BeitConfig(**TINY, use_relative_position_bias=True)):
        model = workbench.AutoModel.from_config(config).eval()
        with torch.no_grad():
            out = model(torch.randn(1, 3, 40, 56, dtype=torch.float64))  # cast to the weights' dtype, as the reference
        assert out.last_hidden_state.shape == (1, 1 + 5 * 7, 32) and out.last_hidden_state.dtype == torch.float32


def test_bad_bool_masked_pos_gets_clear_errors():
    with pytest.raises(ValueError, match="needs a mask token"):
        tiny_vit()(torch.randn(1, 3, 32, 32), bool_masked_pos=torch.zeros(1, PATCHES, dtype=torch.bool))
    model = workbench.ViTModel(vit.ViTConfig(**TINY), use_mask_token=True)
    with pytest.raises(ValueError, match=r"pass \(batch, 16\)"):
        model(torch.randn(1, 3, 32, 32), bool_masked_pos=torch.zeros(1, 9, dtype=torch.bool))
    mim = workbench.ViTForMaskedImageModeling(vit.ViTConfig(**TINY, encoder_stride=4))
    with pytest.raises(ValueError, match="must equal encoder_stride"):
        mim(torch.randn(1, 3, 32, 32), bool_masked_pos=torch.zeros(1, PATCHES, dtype=torch.bool))
    beit = workbench.BeitForMaskedImageModeling(vit.BeitConfig(**TINY, vocab_size=10, use_mask_token=True))
    with pytest.raises(ValueError, match="pass bool_masked_pos too"):
        beit(torch.randn(1, 3, 32, 32), labels=torch.tensor([1]))


# ------------------------------------------------------------------------------------------------
# Attention patterns, fresh models, loading into other heads
# ------------------------------------------------------------------------------------------------


def test_pattern_hook_sees_the_attention_probabilities():
    model = tiny_vit()
    seen = []
    model.encoder.layer[1].attention.attention.pattern_hook.register_forward_hook(lambda m, i, out: seen.append(out))
    pixel_values = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        hooked = model(pixel_values)  # a listening hook takes the eager path
        out = model(pixel_values, output_attentions=True)
    assert seen[0].shape == (2, 4, 17, 17)
    torch.testing.assert_close(seen[0].sum(-1), torch.ones(2, 4, 17))
    torch.testing.assert_close(seen[0], out.attentions[1])
    torch.testing.assert_close(hooked.last_hidden_state, out.last_hidden_state)


def test_fresh_model_initialisation():
    beit = workbench.BeitModel(vit.BeitConfig(**TINY, use_relative_position_bias=True, use_mask_token=True))
    layer = beit.encoder.layer[0]
    assert torch.all(layer.lambda_1 == 0.1) and torch.all(layer.lambda_2 == 0.1)
    assert torch.all(layer.attention.attention.relative_position_bias.relative_position_bias_table == 0)
    assert layer.attention.attention.key.bias is None and layer.attention.attention.query.bias is not None
    assert torch.all(beit.embeddings.mask_token == 0) and beit.embeddings.position_embeddings is None
    dinov2 = workbench.Dinov2Model(vit.Dinov2Config(**TINY, layerscale_value=0.3))
    assert torch.all(dinov2.encoder.layer[1].layer_scale2.lambda1 == 0.3)
    assert dinov2.embeddings.mask_token.shape == (1, 32) and dinov2.embeddings.cls_token.std() > 0
    deit = workbench.DeiTForImageClassificationWithTeacher(vit.DeiTConfig(**TINY))
    assert deit.deit.embeddings.position_embeddings.shape == (1, 18, 32)


def test_bare_checkpoint_into_masked_image_modeling_gets_a_zero_mask_token(tmp_path):
    ref = random_reference("ViTModel", vit_config())
    ref.save_pretrained(tmp_path)
    model, info = workbench.ViTForMaskedImageModeling.from_pretrained(tmp_path, output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["decoder.0.bias", "decoder.0.weight", "vit.embeddings.mask_token"]
    assert torch.all(model.vit.embeddings.mask_token == 0)
    assert sorted(info["unexpected_keys"]) == ["pooler.dense.bias", "pooler.dense.weight"]  # the bare model's pooler
    torch.testing.assert_close(model.vit.embeddings.cls_token, ref.embeddings.cls_token)


def test_classifier_without_labels_is_a_feature_extractor():
    model = workbench.Dinov2ForImageClassification(vit.Dinov2Config(**TINY, num_labels=0)).eval()
    with torch.no_grad():
        features = model(torch.randn(2, 3, 32, 32)).logits
    assert features.shape == (2, 64)  # [CLS] and the mean patch token, side by side


# ------------------------------------------------------------------------------------------------
# Gradient checkpointing and presets
# ------------------------------------------------------------------------------------------------


def loss_and_gradients(model, batch):
    torch.manual_seed(1)
    model.zero_grad()
    loss = model(**batch).loss
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(
    "config",
    [
        vit.ViTConfig(**TINY, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, num_labels=3),
        vit.BeitConfig(**TINY, use_relative_position_bias=True, drop_path_rate=0.5, num_labels=3),
        vit.Dinov2Config(**TINY, drop_path_rate=0.3, use_swiglu_ffn=True, num_labels=3),
    ],
    ids=["vit-dropout", "beit-drop-path", "dinov2-drop-path"],
)
def test_gradient_checkpointing_gives_the_same_gradients(config):
    torch.manual_seed(0)
    model = workbench.AutoModelForImageClassification.from_config(config).train()
    batch = {"pixel_values": torch.randn(4, 3, 32, 32), "labels": torch.tensor([0, 1, 2, 1])}
    plain_loss, plain_grads = loss_and_gradients(model, batch)
    calls = []
    model.base_model.encoder.layer[0].attention.register_forward_hook(lambda *_: calls.append(1))
    model.gradient_checkpointing_enable()
    loss, grads = loss_and_gradients(model, batch)
    assert len(calls) == 2, "a checkpointed block runs in the forward pass and again in the backward pass"
    torch.testing.assert_close(loss, plain_loss)
    assert grads.keys() == plain_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, plain_grads[name], atol=1e-7, rtol=1e-5, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("preset", vit.TINY_PRESETS)
def test_tiny_presets_build_run_and_round_trip(preset, tmp_path):
    config = tiny_config(preset, num_labels=2)
    model = workbench.AutoModelForImageClassification.from_config(config).eval()
    pixel_values = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        logits = model(pixel_values).logits
    model.save_pretrained(tmp_path)
    again = workbench.AutoModelForImageClassification.from_pretrained(tmp_path)
    assert type(again.config) is type(config) and type(again) is type(model)
    with torch.no_grad():
        torch.testing.assert_close(again(pixel_values).logits, logits)


def test_auto_class_loads_the_distilled_deit_its_architectures_name(tmp_path):
    config = tiny_config("deit-tiny-random")
    workbench.DeiTForImageClassificationWithTeacher(config).save_pretrained(tmp_path)
    loaded = workbench.AutoModelForImageClassification.from_pretrained(tmp_path)
    assert type(loaded).__name__ == "DeiTForImageClassificationWithTeacher"  # as the reference's Auto class
