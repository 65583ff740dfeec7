"""Swin and Swin V2 parity with the reference: every class of both versions on tiny random configs (32x32
images, 4x4 patches, 4x4 windows: stage 0 has four windows and a shifted layer, stage 1 one window),
outputs (per-stage attentions, hidden states and feature maps, losses) on the eager and the fused path,
images that need padding, training mode (stochastic depth draws the same samples) and gradients,
checkpoints both ways (old Swin checkpoints with their persistent relative_position_index too), presets,
and clear errors for bad inputs."""

import json
import subprocess

import pytest
import torch
import transformers
from parity import (
    assert_close,
    assert_fast_path_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    load_ours_from_reference,
    reference_model,
    varied_weights,
)
from safetensors.torch import load_file, save_file

import workbench
from workbench.models.swin import TINY_PRESETS

VERSIONS = {"swin": "Swin", "swinv2": "Swinv2"}
CLASSES = ["Model", "ForImageClassification", "ForMaskedImageModeling"]


def reference_config(version: str, **overrides):
    values = dict(
        image_size=32,
        patch_size=4,
        embed_dim=16,
        depths=[2, 2],
        num_heads=[2, 4],
        window_size=4,
        encoder_stride=8,
        num_labels=3,
    )
    values.update(overrides)
    return getattr(transformers, VERSIONS[version] + "Config")(**values)


def tiny_config(preset: str, **overrides):
    return workbench.AutoConfig.for_model(**{**TINY_PRESETS[preset], **overrides})


def images(batch: int = 2, height: int = 32, width: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


def masked_patches(batch: int = 2, patches: int = 64, seed: int = 1) -> torch.Tensor:
    return torch.rand(batch, patches, generator=torch.Generator().manual_seed(seed)) < 0.4


def reference_and_ours(version: str, suffix: str, tmp_path, **overrides):
    """The reference's class with weights away from their initialisation (the position bias table starts at
    zero), and ours loaded from its save with no missing or unexpected keys."""
    ref = varied_weights(reference_model(VERSIONS[version] + suffix, reference_config(version, **overrides)), std=0.2)
    ours, _ = load_ours_from_reference(ref, getattr(workbench, VERSIONS[version] + suffix), tmp_path)
    return ref, ours


# The current reference's Swin (v1) names some modules differently inside (q_proj, mlp.fc1, ...) and renames
# the Hub's keys when loading and saving; our modules carry the Hub's names.
REFERENCE_MODULE_NAMES = {
    "attention.q_proj": "attention.self.query",
    "attention.k_proj": "attention.self.key",
    "attention.v_proj": "attention.self.value",
    "attention.o_proj": "attention.output.dense",
    "attention.relative_position_bias.": "attention.self.",
    "mlp.fc1": "intermediate.dense",
    "mlp.fc2": "output.dense",
}


def hub_name(parameter_name: str) -> str:
    for internal, hub in REFERENCE_MODULE_NAMES.items():
        parameter_name = parameter_name.replace(internal, hub)
    return parameter_name


def batch_for(suffix: str, **image_size) -> dict:
    batch = {"pixel_values": images(**image_size)}
    if suffix == "ForImageClassification":
        batch["labels"] = torch.tensor([2, 0])
    if suffix == "ForMaskedImageModeling":
        batch["bool_masked_pos"] = masked_patches()
    return batch


@pytest.mark.parametrize("suffix", CLASSES)
@pytest.mark.parametrize("version", VERSIONS)
def test_parity_and_checkpoints(version, suffix, tmp_path):
    ref, ours = reference_and_ours(version, suffix, tmp_path)
    batch = batch_for(suffix)
    expected, got = assert_outputs_close(ref, ours, batch)
    # the embeddings' 8x8 map, then each stage's after its patch merging; one attention map per stage
    assert [tuple(m.shape[1:]) for m in got["reshaped_hidden_states"]] == [(16, 8, 8), (32, 4, 4), (32, 4, 4)]
    assert [tuple(a.shape) for a in got["attentions"]] == [(8, 2, 16, 16), (2, 4, 16, 16)]
    assert_fast_path_matches(ours, batch)
    with torch.no_grad():
        as_tuple = ours(**batch, output_hidden_states=True, return_dict=False)
        assert_close(as_tuple, ref(**batch, output_hidden_states=True, return_dict=False))
    assert_reference_loads_ours(ours, ref, tmp_path)


@pytest.mark.parametrize("size", [(30, 30), (36, 36), (30, 44), (64, 64)])
@pytest.mark.parametrize("version", VERSIONS)
def test_images_that_need_padding(version, size, tmp_path):
    """Sides that are not multiples of the patch (30), of the window (36: a 9x9 map in 4x4 windows), of two
    (patch merging of 9x9), non-square, and larger than configured (v1 then shifts its last stage too)."""
    ref, ours = reference_and_ours(version, "Model", tmp_path, depths=[1, 2])
    batch = {"pixel_values": images(height=size[0], width=size[1])}
    assert_outputs_close(ref, ours, batch)
    assert_fast_path_matches(ours, batch)


def test_swin_window_is_fitted_per_input_without_memory(tmp_path):
    """v1 fits the window to each input's map; the reference remembers the fitted (unshifted) window in the
    layer after a small input, ours does not: a 64x64 image after a 32x32 one gives a fresh reference's numbers."""
    ref, ours = reference_and_ours("swin", "Model", tmp_path, depths=[1, 2])
    with torch.no_grad():
        expected = ref(images(height=64, width=64)).last_hidden_state
        ours(images())
        assert_close(ours(images(height=64, width=64)).last_hidden_state, expected, "after a 32x32 input")


@pytest.mark.parametrize("version", VERSIONS)
def test_training_mode_losses_and_gradients(version, tmp_path):
    """Stochastic depth (rate growing to 0.5) and dropout draw the same samples with the same seed; the loss
    and every gradient match."""
    ref, ours = reference_and_ours(version, "ForImageClassification", tmp_path, drop_path_rate=0.5)
    ref.train(), ours.train()
    pixel_values, labels = images(batch=4), torch.tensor([0, 2, 1, 2])
    results = []
    for model in (ref, ours):
        model.zero_grad()
        torch.manual_seed(7)
        out = model(pixel_values, labels=labels, output_hidden_states=True)
        out.loss.backward()
        results.append((out, {hub_name(name): p.grad for name, p in model.named_parameters()}))
    (expected, expected_grads), (got, got_grads) = results
    assert_close(got.loss, expected.loss, "loss")
    assert_close(got.hidden_states, expected.hidden_states, "hidden_states")
    assert sorted(got_grads) == sorted(expected_grads)
    for name, grad in got_grads.items():
        assert_close(grad, expected_grads[name], name)
    with torch.no_grad():
        torch.manual_seed(1)
        first = ours(pixel_values).logits
        torch.manual_seed(2)
        assert not torch.allclose(ours(pixel_values).logits, first)  # layers really dropped, per sample
        ours.eval()
        assert torch.equal(ours(pixel_values).logits, ours(pixel_values).logits)  # and never in eval mode


@pytest.mark.parametrize("version", VERSIONS)
def test_gradient_checkpointing_gives_the_same_gradients(version):
    model = workbench.AutoModelForImageClassification.from_config(tiny_config(f"{version}-tiny-random", num_labels=3))
    model.train()
    grads = []
    for checkpointing in (False, True):
        if checkpointing:
            model.gradient_checkpointing_enable()
        model.zero_grad()
        model(images(), labels=torch.tensor([1, 2])).loss.backward()
        grads.append({name: p.grad.clone() for name, p in model.named_parameters()})
    assert model.is_gradient_checkpointing
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], msg=name)


def test_absolute_position_table_and_its_interpolation(tmp_path):
    ref, ours = reference_and_ours("swin", "Model", tmp_path, use_absolute_embeddings=True)
    # 48x48 first: after a 32x32 input the reference would keep its last stage unshifted (see above)
    assert_outputs_close(ref, ours, {"pixel_values": images(height=48, width=48), "interpolate_pos_encoding": True})
    assert_outputs_close(ref, ours, {"pixel_values": images()})
    with pytest.raises(ValueError, match="interpolate_pos_encoding=True"):
        ours(images(height=48, width=48))
    with pytest.raises(NotImplementedError, match="use_absolute_embeddings=False"):
        workbench.Swinv2Model(workbench.Swinv2Config(use_absolute_embeddings=True))


def test_old_swin_checkpoints_with_the_persistent_index(tmp_path):
    """Swin checkpoints saved before the reference made relative_position_index non-persistent carry it for
    every layer: it loads with no unexpected keys, and we save what the current reference saves (no index)."""
    ref = varied_weights(reference_model("SwinForImageClassification", reference_config("swin")), std=0.2)
    ref.save_pretrained(tmp_path / "old")
    weights = load_file(tmp_path / "old" / "model.safetensors")
    for name, _ in ref.named_modules():
        if name.endswith(".attention"):
            weights[hub_name(name) + ".self.relative_position_index"] = workbench.layers.relative_position_index(4, 4)
    save_file(weights, tmp_path / "old" / "model.safetensors", metadata={"format": "pt"})
    ours, info = workbench.SwinForImageClassification.from_pretrained(tmp_path / "old", output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert_outputs_close(ref, ours, batch_for("ForImageClassification"))
    assert_reference_loads_ours(ours, ref, tmp_path)


_V4_SAVE = r"""
import sys, torch, transformers
torch.manual_seed(0)
config = transformers.SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                                  window_size=4, num_labels=3)
model = transformers.SwinForImageClassification(config).eval()
with torch.no_grad():
    for p in model.parameters():
        p.add_(0.2 * torch.randn_like(p))
    model.save_pretrained(sys.argv[1])
    pixel_values = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    torch.save(model(pixel_values).logits, sys.argv[1] + "/logits.pt")
"""


def test_checkpoint_saved_by_reference_v4(tmp_path):
    """A checkpoint written by transformers 4.37 (persistent index, the Hub's key names) loads with no
    unexpected keys and gives 4.37's logits."""
    from reference_v4 import VENV, _env, v4_unavailable

    reason = v4_unavailable()
    if reason:
        pytest.skip(reason)
    folder = tmp_path / "v4"
    result = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", _V4_SAVE, str(folder)], capture_output=True, text=True, env=_env()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert any(key.endswith("relative_position_index") for key in load_file(folder / "model.safetensors"))
    ours, info = workbench.AutoModelForImageClassification.from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    with torch.no_grad():
        assert_close(ours(images()).logits, torch.load(folder / "logits.pt"), "logits")


@pytest.mark.parametrize("version", VERSIONS)
def test_bare_and_task_checkpoints_cross_load(version, tmp_path):
    """A bare model's checkpoint into the classifier, a masked-image model's (keys under swin. or swinv2.) into
    the bare model, through the Auto classes."""
    prefix = VERSIONS[version]
    bare = reference_model(prefix + "Model", reference_config(version), seed=0)
    bare.save_pretrained(tmp_path / "bare")
    model, info = workbench.AutoModelForImageClassification.from_pretrained(tmp_path / "bare", output_loading_info=True)
    assert type(model).__name__ == "SwinForImageClassification" and hasattr(model, version)
    assert info["missing_keys"] == ["classifier.weight", "classifier.bias"] and not info["unexpected_keys"]
    with torch.no_grad():
        assert_close(model.base_model(images()).pooler_output, bare(images()).pooler_output, "pooler_output")

    task = reference_model(prefix + "ForMaskedImageModeling", reference_config(version), seed=0)
    task.save_pretrained(tmp_path / "task")
    model, info = workbench.AutoModel.from_pretrained(tmp_path / "task", output_loading_info=True)
    assert info["missing_keys"] == []
    assert sorted(info["unexpected_keys"]) == ["decoder.0.bias", "decoder.0.weight", f"{version}.embeddings.mask_token"]
    with torch.no_grad():
        assert_close(model(images()).last_hidden_state, task.base_model(images()).last_hidden_state, "hidden")


def test_no_classifier_and_regression(tmp_path):
    ref, ours = reference_and_ours("swin", "ForImageClassification", tmp_path / "none", num_labels=0)
    assert isinstance(ours.classifier, torch.nn.Identity)
    assert_outputs_close(ref, ours, {"pixel_values": images()})
    ref, ours = reference_and_ours("swinv2", "ForImageClassification", tmp_path / "one", num_labels=1)
    targets = torch.tensor([0.5, -1.0])
    with torch.no_grad():
        assert_close(ours(images(), labels=targets).loss, ref(images(), labels=targets).loss, "regression loss")


def test_v2_is_a_config_switch():
    v1 = workbench.SwinForMaskedImageModeling(tiny_config("swin-tiny-random"))
    v2 = workbench.Swinv2ForMaskedImageModeling(tiny_config("swinv2-tiny-random"))
    assert workbench.Swinv2ForMaskedImageModeling is workbench.SwinForMaskedImageModeling
    assert hasattr(v1, "swin") and hasattr(v2, "swinv2")  # the attribute is the checkpoint prefix
    attention_v1 = v1.swin.encoder.layers[0].blocks[0].attention.self
    attention_v2 = v2.swinv2.encoder.layers[0].blocks[0].attention.self
    assert attention_v1.relative_position_bias_table.shape == (49, 2) and attention_v1.key.bias is not None
    assert attention_v2.continuous_position_bias_mlp is not None and attention_v2.key.bias is None
    for model in (v1, v2):  # the fixed index is no checkpoint key
        assert not any(key.endswith("relative_position_index") for key in model.state_dict())


def test_presets_and_auto_classes(tmp_path):
    for preset, head in [("swin-tiny-random", "SwinForMaskedImageModeling"), ("swinv2-tiny-random", "Swinv2Model")]:
        config = tiny_config(preset)
        auto = workbench.AutoModelForMaskedImageModeling if "Masked" in head else workbench.AutoModel
        model = auto.from_config(config).eval()
        pixel_values = images()
        inputs = {"pixel_values": pixel_values}
        if "Masked" in head:
            inputs["bool_masked_pos"] = masked_patches()
        with torch.no_grad():
            out = model(**inputs)
        if "Masked" in head:
            assert out.reconstruction.shape == pixel_values.shape and out.loss > 0
        else:
            assert out.last_hidden_state.shape == (2, 16, 32) and out.pooler_output.shape == (2, 32)
        model.save_pretrained(tmp_path / preset)
        assert json.loads((tmp_path / preset / "config.json").read_text())["architectures"] == [head]
        back = getattr(transformers, head).from_pretrained(tmp_path / preset).eval()
        with torch.no_grad():
            expected = back(**inputs)
        assert_close(out.to_tuple(), expected.to_tuple())


def test_attention_pattern_hook():
    model = workbench.SwinModel(tiny_config("swin-tiny-random")).eval()
    seen = []
    attention = model.encoder.layers[0].blocks[1].attention.self  # the shifted layer of stage 0
    attention.pattern_hook.register_forward_hook(lambda module, args, out: seen.append(out))
    with torch.no_grad():
        model(images())
    assert seen[0].shape == (8, 2, 16, 16)  # (batch * windows, heads, window^2, window^2)
    torch.testing.assert_close(seen[0].sum(-1), torch.ones(8, 2, 16))


def test_bad_inputs():
    model = workbench.SwinForMaskedImageModeling(tiny_config("swin-tiny-random")).eval()
    with pytest.raises(ValueError, match="4 channels but the config says num_channels=3"):
        model(torch.randn(1, 4, 32, 32))
    with pytest.raises(ValueError, match="smaller than its 4 x 4 attention window"):
        model(torch.randn(1, 3, 20, 20))
    with pytest.raises(ValueError, match=r"must be \(batch, 64\)"):
        model(images(), bool_masked_pos=masked_patches(patches=49))
    with pytest.raises(ValueError, match="multiples of config.encoder_stride"):
        model(images(height=36, width=36), bool_masked_pos=masked_patches(patches=81))
    bare = workbench.SwinModel(tiny_config("swin-tiny-random")).eval()
    with pytest.raises(ValueError, match="use_mask_token=True"):
        bare(images(), bool_masked_pos=masked_patches())
    with pytest.raises(ValueError, match="not a multiple of 3 heads"):
        workbench.SwinConfig(embed_dim=16, num_heads=[3, 4], depths=[1, 1])
