"""ConvNeXT and ConvNeXT V2 parity with the reference, both classes of both versions, on tiny random configs:
outputs (stage feature maps included) in eval and training mode (stochastic depth draws the same samples),
losses and gradients, checkpoints both ways, the V2 prefix, and clear errors for bad pixel_values."""

import json

import pytest
import torch
import transformers
from parity import (
    assert_close,
    assert_outputs_close,
    assert_reference_loads_ours,
    load_ours_from_reference,
    reference_model,
    varied_weights,
)

import workbench
from workbench.models.convnext import TINY_PRESETS

VERSIONS = {"convnext": ("ConvNextConfig", "ConvNext"), "convnextv2": ("ConvNextV2Config", "ConvNextV2")}
CLASSES = ["Model", "ForImageClassification"]


def tiny_config(preset: str):
    return workbench.AutoConfig.for_model(**TINY_PRESETS[preset])


def reference_config(version: str, **overrides):
    config_class, _ = VERSIONS[version]
    values = {"num_stages": 3, "hidden_sizes": [8, 16, 16], "depths": [1, 2, 1], "num_labels": 3, **overrides}
    return getattr(transformers, config_class)(**values)


def images(batch: int = 2, height: int = 37, width: int = 41, seed: int = 0) -> torch.Tensor:
    """Odd sizes on purpose: the stem and the downsampling convolutions then drop the last rows and columns."""
    return torch.randn(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


def reference_and_ours(version: str, suffix: str, tmp_path, **overrides):
    """The reference's class with weights far from their initialisation (layer scale starts at 1e-6 and GRN at
    0, which would hide most of a block), and ours loaded from its save."""
    _, prefix = VERSIONS[version]
    ref = varied_weights(reference_model(prefix + suffix, reference_config(version, **overrides), seed=0), std=0.3)
    ours, _ = load_ours_from_reference(ref, getattr(workbench, prefix + suffix), tmp_path)
    return ref, ours


@pytest.mark.parametrize("suffix", CLASSES)
@pytest.mark.parametrize("version", VERSIONS)
def test_parity_and_checkpoints(version, suffix, tmp_path):
    ref, ours = reference_and_ours(version, suffix, tmp_path)
    expected, got = assert_outputs_close(ref, ours, {"pixel_values": images()}, drop=("output_attentions",))
    hidden = got["hidden_states"]  # the stem's map, then each stage's (37x41 pixels / 4, then halved)
    assert [tuple(h.shape[1:]) for h in hidden] == [(8, 9, 10), (8, 9, 10), (16, 4, 5), (16, 2, 2)]
    if suffix == "Model":
        assert torch.equal(hidden[-1], got["last_hidden_state"])
    with torch.no_grad():
        as_tuple = ours(images(), output_hidden_states=True, return_dict=False)
    assert_close(as_tuple, ref(images(), output_hidden_states=True, return_dict=False))
    assert_reference_loads_ours(ours, ref, tmp_path)


@pytest.mark.parametrize("version", VERSIONS)
def test_training_mode_losses_and_gradients(version, tmp_path):
    """Stochastic depth (rate growing to 0.5) drops the same samples' blocks with the same seed; the loss
    and every gradient match, for single-label and multi-label targets."""
    ref, ours = reference_and_ours(version, "ForImageClassification", tmp_path, drop_path_rate=0.5)
    ref.train(), ours.train()
    pixel_values = images(batch=4)
    for labels in (torch.tensor([0, 2, 1, 2]), torch.tensor([[1.0, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]])):
        ref.config.problem_type = ours.config.problem_type = None
        results = []
        for model in (ref, ours):
            model.zero_grad()
            torch.manual_seed(7)
            out = model(pixel_values, labels=labels, output_hidden_states=True)
            out.loss.backward()
            results.append((out, {name: p.grad for name, p in model.named_parameters()}))
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
        assert not torch.allclose(ours(pixel_values).logits, first)  # blocks really dropped, per sample
        ours.eval()
        assert torch.equal(ours(pixel_values).logits, ours(pixel_values).logits)  # and never in eval mode


def test_v2_is_a_config_switch():
    v1 = workbench.ConvNextForImageClassification(tiny_config("convnext-tiny-random"))
    v2 = workbench.ConvNextV2ForImageClassification(tiny_config("convnextv2-tiny-random"))
    assert workbench.ConvNextV2ForImageClassification is workbench.ConvNextForImageClassification
    assert hasattr(v1, "convnext") and hasattr(v2, "convnextv2")  # the attribute is the checkpoint prefix
    block_v1, block_v2 = v1.convnext.encoder.stages[0].layers[0], v2.convnextv2.encoder.stages[0].layers[0]
    assert block_v1.grn is None and block_v1.layer_scale_parameter is not None
    assert block_v2.grn is not None and block_v2.layer_scale_parameter is None
    assert "layer_scale_init_value" not in v2.config.to_dict()  # as the reference's V2 config.json
    with pytest.raises(ValueError, match="no layer scale"):
        workbench.ConvNextV2Config(layer_scale_init_value=1e-6)
    no_scale = workbench.ConvNextModel(workbench.ConvNextConfig(layer_scale_init_value=0.0))
    assert no_scale.encoder.stages[0].layers[0].layer_scale_parameter is None


@pytest.mark.parametrize("version", VERSIONS)
def test_bare_and_task_checkpoints_cross_load(version, tmp_path):
    """A bare model's checkpoint (keys without the prefix) into the classifier, and a classifier's (keys under
    convnext. or convnextv2.) into the bare model, through the Auto classes."""
    _, prefix = VERSIONS[version]
    bare = reference_model(prefix + "Model", reference_config(version), seed=0)
    bare.save_pretrained(tmp_path / "bare")
    model, info = workbench.AutoModelForImageClassification.from_pretrained(tmp_path / "bare", output_loading_info=True)
    assert type(model).__name__ == "ConvNextForImageClassification"
    assert info["missing_keys"] == ["classifier.weight", "classifier.bias"] and not info["unexpected_keys"]
    torch.testing.assert_close(model.base_model(images()).pooler_output, bare(images()).pooler_output)

    task = reference_model(prefix + "ForImageClassification", reference_config(version), seed=0)
    task.save_pretrained(tmp_path / "task")
    model, info = workbench.AutoModel.from_pretrained(tmp_path / "task", output_loading_info=True)
    assert info["missing_keys"] == [] and sorted(info["unexpected_keys"]) == ["classifier.bias", "classifier.weight"]
    torch.testing.assert_close(model(images()).pooler_output, task.base_model(images()).pooler_output)


def test_no_classifier_and_regression(tmp_path):
    ref, ours = reference_and_ours("convnext", "ForImageClassification", tmp_path / "none", num_labels=0)
    assert isinstance(ours.classifier, torch.nn.Identity)
    assert_outputs_close(ref, ours, {"pixel_values": images()}, drop=("output_attentions",))
    ref, ours = reference_and_ours("convnextv2", "ForImageClassification", tmp_path / "one", num_labels=1)
    targets = torch.tensor([0.5, -1.0])
    with torch.no_grad():
        assert_close(ours(images(), labels=targets).loss, ref(images(), labels=targets).loss, "regression loss")


def test_presets_and_auto_classes(tmp_path):
    presets = {
        "convnext-tiny-random": "ConvNextForImageClassification",
        "convnextv2-tiny-random": "ConvNextV2ForImageClassification",
    }
    for preset, architecture in presets.items():
        config = tiny_config(preset)
        model = workbench.AutoModelForImageClassification.from_config(config).eval()
        logits = model(torch.randn(2, 3, config.image_size, config.image_size)).logits
        assert logits.shape == (2, 3)
        model.save_pretrained(tmp_path / preset)
        saved = json.loads((tmp_path / preset / "config.json").read_text())
        assert saved["architectures"] == [architecture]
        back = transformers.AutoModelForImageClassification.from_pretrained(tmp_path / preset).eval()
        assert type(back).__name__ == architecture
        with torch.no_grad():
            torch.testing.assert_close(back(torch.ones(1, 3, 64, 64)).logits, model(torch.ones(1, 3, 64, 64)).logits)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # v5 renamed it activation_checkpointing_enable
def test_gradient_checkpointing_unsupported_like_the_reference():
    ref = reference_model("ConvNextModel", reference_config("convnext"))
    with pytest.raises(ValueError):
        ref.gradient_checkpointing_enable()
    ours = workbench.ConvNextModel(tiny_config("convnext-tiny-random"))
    assert not ours.supports_gradient_checkpointing
    with pytest.raises(ValueError):
        ours.gradient_checkpointing_enable()


def test_bad_pixel_values():
    model = workbench.ConvNextModel(tiny_config("convnext-tiny-random")).eval()
    with pytest.raises(ValueError, match="4 channels but the config says num_channels=3"):
        model(torch.randn(1, 4, 64, 64))
    with pytest.raises(ValueError, match="at least 32x32 pixels"):
        model(torch.randn(1, 3, 64, 31))
    with pytest.raises(TypeError, match="floating point"):
        model(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"pixel_values\[None\]"):
        model(torch.randn(3, 64, 64))
    with pytest.raises(TypeError, match="float64 but ConvNextModel's weights are torch.float32"):
        model(torch.randn(1, 3, 64, 64, dtype=torch.float64))
    with pytest.raises(ValueError, match="needs pixel_values"):
        model()
    with pytest.raises(ValueError, match="one hidden size and one depth per stage"):
        workbench.ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1])
