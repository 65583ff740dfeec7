"""ResNet parity with the reference on tiny random configs: both classes, basic and bottleneck layers and the
downsampling switches; BatchNorm's buffers (running statistics, num_batches_tracked) through checkpoints both
ways, updated in training mode exactly as the reference updates them, and used in eval mode."""

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
from workbench.models.resnet import TINY_PRESETS

CLASSES = ["ResNetModel", "ResNetForImageClassification"]
VARIANTS = {
    "basic": dict(layer_type="basic"),
    "bottleneck": dict(layer_type="bottleneck"),
    "bottleneck-strided-1x1": dict(layer_type="bottleneck", downsample_in_bottleneck=True),
    "basic-downsampled-first-stage": dict(layer_type="basic", downsample_in_first_stage=True, hidden_act="gelu"),
}


def tiny_config(preset: str):
    return workbench.AutoConfig.for_model(**TINY_PRESETS[preset])


def reference_config(**overrides):
    values = {"embedding_size": 8, "hidden_sizes": [8, 16, 16], "depths": [1, 2, 1], "num_labels": 3, **overrides}
    return transformers.ResNetConfig(**values)


def images(batch: int = 2, height: int = 37, width: int = 41, seed: int = 0) -> torch.Tensor:
    """Odd sizes on purpose: every strided convolution then rounds up."""
    return torch.randn(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


def with_running_statistics(model):
    """Weights far from their initialisation and BatchNorm buffers far from theirs (mean 0, variance 1, count
    0), so that eval mode's use of the running statistics shows in every output."""
    varied_weights(model, std=0.3)
    generator = torch.Generator().manual_seed(2)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0.0, 0.5, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
            module.num_batches_tracked.fill_(17)
    return model


def reference_and_ours(class_name: str, tmp_path, **overrides):
    ref = with_running_statistics(reference_model(class_name, reference_config(**overrides), seed=0))
    ours, _ = load_ours_from_reference(ref, getattr(workbench, class_name), tmp_path)
    return ref, ours


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("class_name", CLASSES)
def test_parity_and_checkpoints(class_name, variant, tmp_path):
    ref, ours = reference_and_ours(class_name, tmp_path, **VARIANTS[variant])
    _, got = assert_outputs_close(ref, ours, {"pixel_values": images()}, drop=("output_attentions",))
    # The stem's map (37x41 pixels: conv stride 2, max-pool stride 2), then each stage's, halved from the second
    # stage on (and in the first with downsample_in_first_stage).
    sizes = [(10, 11), (5, 6), (3, 3), (2, 2)] if "first-stage" in variant else [(10, 11), (10, 11), (5, 6), (3, 3)]
    assert [tuple(h.shape[1:]) for h in got["hidden_states"]] == [(c, *hw) for c, hw in zip([8, 8, 16, 16], sizes)]
    with torch.no_grad():
        as_tuple = ours(images(), output_hidden_states=True, return_dict=False)
    assert_close(as_tuple, ref(images(), output_hidden_states=True, return_dict=False))
    assert_reference_loads_ours(ours, ref, tmp_path)  # every tensor, the BatchNorm buffers included


@pytest.mark.parametrize("variant", ["basic", "bottleneck"])
def test_training_mode_updates_batchnorm_like_the_reference(variant, tmp_path):
    """Three training steps' forward passes: batch statistics normalise, the running statistics and the count
    move exactly as the reference's; the loss and every gradient match."""
    ref, ours = reference_and_ours("ResNetForImageClassification", tmp_path, **VARIANTS[variant])
    ref.train(), ours.train()
    labels = torch.tensor([0, 2, 1, 2])
    for step in range(3):
        pixel_values = images(batch=4, seed=step)
        results = []
        for model in (ref, ours):
            model.zero_grad()
            out = model(pixel_values, labels=labels, output_hidden_states=True)
            out.loss.backward()
            results.append((out, {name: p.grad for name, p in model.named_parameters()}))
        (expected, expected_grads), (got, got_grads) = results
        assert_close(got.loss, expected.loss, "loss")
        assert_close(got.hidden_states, expected.hidden_states, "hidden_states")
        assert sorted(got_grads) == sorted(expected_grads)
        for name, grad in got_grads.items():
            assert_close(grad, expected_grads[name], name)
        ours_buffers, ref_buffers = dict(ours.named_buffers()), dict(ref.named_buffers())
        assert sorted(ours_buffers) == sorted(ref_buffers)
        for name, buffer in ours_buffers.items():
            assert_close(buffer, ref_buffers[name], name)
    stem = ours.resnet.embedder.embedder.normalization
    assert int(stem.num_batches_tracked) == 17 + 3
    assert_reference_loads_ours(ours, ref, tmp_path)  # the updated buffers survive the round trip


def test_eval_mode_uses_the_running_statistics(tmp_path):
    """In eval mode an image's prediction does not depend on the rest of the batch; in training mode it does."""
    _, ours = reference_and_ours("ResNetForImageClassification", tmp_path)
    pixel_values = images(batch=3)
    with torch.no_grad():
        assert not ours.training  # from_pretrained returns the model in eval mode, as the reference does
        torch.testing.assert_close(ours(pixel_values).logits[:1], ours(pixel_values[:1]).logits)
        before = {name: buffer.clone() for name, buffer in ours.named_buffers()}
        ours(pixel_values)
        assert all(torch.equal(buffer, before[name]) for name, buffer in ours.named_buffers())  # nothing moved
        ours.train()
        assert not torch.allclose(ours(pixel_values).logits[:1], ours(pixel_values[:2]).logits[:1])


def test_bare_and_task_checkpoints_cross_load(tmp_path):
    bare = with_running_statistics(reference_model("ResNetModel", reference_config(), seed=0))
    bare.save_pretrained(tmp_path / "bare")
    model, info = workbench.AutoModelForImageClassification.from_pretrained(tmp_path / "bare", output_loading_info=True)
    assert isinstance(model, workbench.ResNetForImageClassification)
    assert info["missing_keys"] == ["classifier.1.weight", "classifier.1.bias"] and not info["unexpected_keys"]
    with torch.no_grad():
        torch.testing.assert_close(model.resnet(images()).pooler_output, bare(images()).pooler_output)

    task = with_running_statistics(reference_model("ResNetForImageClassification", reference_config(), seed=0))
    task.save_pretrained(tmp_path / "task")
    model, info = workbench.AutoModel.from_pretrained(tmp_path / "task", output_loading_info=True)
    assert info["missing_keys"] == []
    assert sorted(info["unexpected_keys"]) == ["classifier.1.bias", "classifier.1.weight"]
    with torch.no_grad():
        torch.testing.assert_close(model(images()).pooler_output, task.resnet(images()).pooler_output)


def test_no_classifier_and_multi_label_loss(tmp_path):
    ref, ours = reference_and_ours("ResNetForImageClassification", tmp_path / "none", num_labels=0)
    assert isinstance(ours.classifier[1], torch.nn.Identity)
    assert_outputs_close(ref, ours, {"pixel_values": images()}, drop=("output_attentions",))
    ref, ours = reference_and_ours("ResNetForImageClassification", tmp_path / "multi")
    targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    with torch.no_grad():
        assert_close(ours(images(), labels=targets).loss, ref(images(), labels=targets).loss, "multi-label loss")
    assert ours.config.problem_type == ref.config.problem_type == "multi_label_classification"


def test_presets_and_auto_classes(tmp_path):
    for preset in TINY_PRESETS:
        model = workbench.AutoModelForImageClassification.from_config(tiny_config(preset)).eval()
        assert model(torch.randn(2, 3, 64, 64)).logits.shape == (2, 2)
        model.save_pretrained(tmp_path / preset)
        assert json.loads((tmp_path / preset / "config.json").read_text())["architectures"] == [
            "ResNetForImageClassification"
        ]
        back = transformers.AutoModelForImageClassification.from_pretrained(tmp_path / preset).eval()
        with torch.no_grad():
            torch.testing.assert_close(back(torch.ones(1, 3, 64, 64)).logits, model(torch.ones(1, 3, 64, 64)).logits)


def test_a_checkpoint_without_batch_counts_loads(tmp_path):
    """Old checkpoints may lack num_batches_tracked: the counts start at 0 (reported as new, as the reference
    does) and every other tensor loads."""
    from safetensors.torch import load_file, save_file

    ref = with_running_statistics(reference_model("ResNetModel", reference_config(), seed=0))
    ref.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    save_file({k: v for k, v in weights.items() if "num_batches_tracked" not in k}, tmp_path / "model.safetensors")
    ours, info = workbench.ResNetModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] and all(key.endswith("num_batches_tracked") for key in info["missing_keys"])
    assert all(int(m.num_batches_tracked) == 0 for m in ours.modules() if isinstance(m, torch.nn.BatchNorm2d))
    with torch.no_grad():
        torch.testing.assert_close(ours(images()).pooler_output, ref(images()).pooler_output)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # v5 renamed it activation_checkpointing_enable
def test_gradient_checkpointing_unsupported_like_the_reference():
    with pytest.raises(ValueError):
        reference_model("ResNetModel", reference_config()).gradient_checkpointing_enable()
    ours = workbench.ResNetModel(tiny_config("resnet-tiny-random"))
    assert not ours.supports_gradient_checkpointing
    with pytest.raises(ValueError):
        ours.gradient_checkpointing_enable()


def test_bad_pixel_values_and_config():
    model = workbench.ResNetModel(tiny_config("resnet-tiny-random")).eval()
    with pytest.raises(ValueError, match="1 channels but the config says num_channels=3"):
        model(torch.randn(2, 1, 32, 32))
    with pytest.raises(TypeError, match="floating point"):
        model(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="empty batch"):
        model(torch.zeros(0, 3, 32, 32))
    assert model(torch.randn(1, 3, 1, 1)).last_hidden_state.shape == (
        1,
        64,
        1,
        1,
    )  # any size works, as in the reference
    with pytest.raises(ValueError, match="layer_type='wide'"):
        workbench.ResNetConfig(layer_type="wide")
    with pytest.raises(ValueError, match="one of each per stage"):
        workbench.ResNetConfig(hidden_sizes=[8, 16], depths=[1])
