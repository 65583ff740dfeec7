"""Speech encoders (Wav2Vec2, HuBERT, data2vec-audio): parity with the reference, every head, on tiny random
configs (three convs of stride 4: one frame per 64 samples), with and without attention masks; CTC and
classification losses; checkpoints both ways, the weight norm's two spellings; SpecAugment; errors."""

import copy
import json
import logging
import subprocess

import numpy as np
import pytest
import torch
import transformers
from parity import (
    assert_close,
    assert_fast_path_matches,
    assert_gradient_checkpointing_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    load_ours_from_reference,
    reference_model,
)
from safetensors.torch import load_file, save_file

import workbench
from workbench import data, layers
from workbench.models.auto import tiny_config

TINY = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    conv_dim=(32, 32, 32),
    conv_stride=(4, 4, 4),
    conv_kernel=(8, 8, 8),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
    vocab_size=12,
    num_labels=3,
    mask_time_length=2,
)


def wav2vec2_config(**overrides):
    return transformers.Wav2Vec2Config(**{**TINY, **overrides})


def hubert_config(**overrides):
    return transformers.HubertConfig(**{**TINY, **overrides})


def data2vec_config(**overrides):
    return transformers.Data2VecAudioConfig(
        **{**TINY, "num_conv_pos_embeddings": 2, "conv_pos_kernel_size": 5, **overrides}
    )


STABLE = dict(feat_extract_norm="layer", do_stable_layer_norm=True)
VARIANTS = {
    "wav2vec2": ("Wav2Vec2", wav2vec2_config()),
    "wav2vec2-stable": ("Wav2Vec2", wav2vec2_config(**STABLE)),
    "wav2vec2-odd-kernel-relu-bias": (
        "Wav2Vec2",
        wav2vec2_config(num_conv_pos_embeddings=15, conv_bias=True, feat_extract_activation="relu", hidden_act="relu"),
    ),
    "wav2vec2-weighted": ("Wav2Vec2", wav2vec2_config(**STABLE, use_weighted_layer_sum=True)),
    "hubert": ("Hubert", hubert_config()),
    "hubert-stable-batchnorm": (
        "Hubert",
        hubert_config(**STABLE, conv_pos_batch_norm=True, feat_proj_layer_norm=False, use_weighted_layer_sum=True),
    ),
    "data2vec-audio": ("Data2VecAudio", data2vec_config(use_weighted_layer_sum=True)),
    "data2vec-audio-even-kernel": ("Data2VecAudio", data2vec_config(conv_pos_kernel_size=4)),
}
HEADS = ("Model", "ForCTC", "ForSequenceClassification")
SAMPLES = 1000  # 14 frames


def audio_batch(attention_mask: bool = True, seed: int = 0):
    """Three clips of 1000, 700 and 400 samples, zero-padded on the right; with their attention mask."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(3, SAMPLES, dtype=torch.long)
    mask[1, 700:] = 0
    mask[2, 400:] = 0
    batch = {"input_values": torch.randn(3, SAMPLES, generator=g) * mask}
    if attention_mask:
        batch["attention_mask"] = mask
    return batch


def ctc_labels(lengths=(6, 4, 2), vocab_size=12, seed=0):
    """Letters 1..vocab-1 (never the blank 0), padded with -100."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(1, vocab_size, (len(lengths), max(lengths)), generator=g)
    for row, length in enumerate(lengths):
        labels[row, length:] = -100
    return labels


def randomize_batch_norm(ref):
    """A BatchNorm's running statistics start at 0 and 1; give them values that matter."""
    with torch.no_grad():
        for module in ref.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return ref


# ------------------------------------------------------------------------------------------------
# Parity: every variant and head, with and without attention masks
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_parity(variant, head, tmp_path):
    prefix, config = VARIANTS[variant]
    ref = randomize_batch_norm(reference_model(prefix + head, config, seed=0))
    ours, _ = load_ours_from_reference(ref, getattr(workbench, prefix + head), tmp_path)
    for batch in (audio_batch(attention_mask=False), audio_batch(attention_mask=True)):
        assert_outputs_close(ref, ours, batch)
        assert_fast_path_matches(ours, batch)
    assert_reference_loads_ours(ours, ref, tmp_path)


@pytest.mark.parametrize("variant", ["wav2vec2", "wav2vec2-stable", "hubert", "data2vec-audio"])
def test_auto_classes_and_architectures(variant, tmp_path):
    prefix, config = VARIANTS[variant]
    for auto, head in (
        ("AutoModel", "Model"),
        ("AutoModelForCTC", "ForCTC"),
        ("AutoModelForAudioClassification", "ForSequenceClassification"),
    ):
        ref = reference_model(prefix + head, config, seed=0)
        ours, _ = load_ours_from_reference(ref, getattr(workbench, auto), tmp_path / head)
        assert type(ours) is getattr(workbench, prefix + head)
        assert_outputs_close(ref, ours, audio_batch())
        assert_reference_loads_ours(ours, ref, tmp_path / head, reference_class=getattr(transformers, auto))


def test_real_speech(tmp_path):
    """A spoken digit from data/fsdd (8 kHz, as it is) through tiny random models: real audio, real lengths."""
    import soundfile

    clips = [
        soundfile.read(data.path("fsdd", "recordings", f"{digit}_jackson_0.wav"), dtype="float32")[0]
        for digit in (3, 7)
    ]
    length = max(len(clip) for clip in clips)
    input_values = torch.zeros(2, length)
    mask = torch.zeros(2, length, dtype=torch.long)
    for row, clip in enumerate(clips):
        clip = (clip - clip.mean()) / np.sqrt(clip.var() + 1e-7)  # what the feature extractor does
        input_values[row, : len(clip)] = torch.from_numpy(clip)
        mask[row, : len(clip)] = 1
    for variant in ("wav2vec2-stable", "data2vec-audio"):
        prefix, config = VARIANTS[variant]
        ref = reference_model(prefix + "ForCTC", config, seed=0)
        ours, _ = load_ours_from_reference(ref, getattr(workbench, prefix + "ForCTC"), tmp_path / variant)
        assert_outputs_close(ref, ours, {"input_values": input_values, "attention_mask": mask})


# ------------------------------------------------------------------------------------------------
# Losses
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("variant", ["wav2vec2", "hubert", "data2vec-audio"])
def test_ctc_loss_and_gradients(variant, reduction, tmp_path):
    prefix, config = VARIANTS[variant]
    config = copy.deepcopy(config)
    config.ctc_loss_reduction = reduction
    ref = reference_model(prefix + "ForCTC", config, seed=0)
    ours, _ = load_ours_from_reference(ref, getattr(workbench, prefix + "ForCTC"), tmp_path)
    labels = ctc_labels()
    labels[2, 1] = 0  # the blank (pad) id in a label row is padding too, as in the reference
    for batch in (audio_batch(attention_mask=False), audio_batch()):
        expected = ref(**batch, labels=labels)
        got = ours(**batch, labels=labels)
        assert_close(got.loss, expected.loss, "loss")
        expected.loss.backward()
        got.loss.backward()
        assert_close(ours.lm_head.weight.grad, ref.lm_head.weight.grad, "lm_head gradient")
        ref.zero_grad()
        ours.zero_grad()


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_loss_of_impossible_targets(zero_infinity, tmp_path):
    """A target longer than its frames: an infinite loss, or zero with ctc_zero_infinity."""
    config = wav2vec2_config(ctc_zero_infinity=zero_infinity, ctc_loss_reduction="mean")
    ref = reference_model("Wav2Vec2ForCTC", config, seed=0)
    ours, _ = load_ours_from_reference(ref, workbench.Wav2Vec2ForCTC, tmp_path)
    labels = ctc_labels(lengths=(6, 4, 9))  # row 2 has 400 samples: 5 frames for 9 letters
    expected = ref(**audio_batch(), labels=labels).loss
    got = ours(**audio_batch(), labels=labels).loss
    assert torch.isinf(got) != zero_infinity
    assert_close(got, expected, "loss")


@pytest.mark.parametrize("variant", ["wav2vec2-weighted", "hubert", "data2vec-audio"])
def test_sequence_classification_loss(variant, tmp_path):
    prefix, config = VARIANTS[variant]
    ref = reference_model(prefix + "ForSequenceClassification", config, seed=0)
    ours, _ = load_ours_from_reference(ref, getattr(workbench, prefix + "ForSequenceClassification"), tmp_path)
    labels = torch.tensor([2, 0, 1])
    for batch in (audio_batch(attention_mask=False), audio_batch()):
        assert_close(ours(**batch, labels=labels).loss, ref(**batch, labels=labels).loss, "loss")
        assert "hidden_states" not in ours(**batch)  # computed for the layer mix, returned only when asked


def test_gradient_checkpointing():
    config = tiny_config("wav2vec2-tiny-random", vocab_size=12, mask_time_prob=0.0, layerdrop=0.0)
    model = workbench.Wav2Vec2ForCTC(config)
    assert_gradient_checkpointing_matches(model, {**audio_batch(), "labels": ctc_labels()})


# ------------------------------------------------------------------------------------------------
# Frames, adapters, SpecAugment
# ------------------------------------------------------------------------------------------------


def test_feature_vector_lengths_and_masks(tmp_path):
    for variant in ("wav2vec2", "hubert"):
        prefix, config = VARIANTS[variant]
        ref = reference_model(prefix + "Model", config, seed=0)
        ours, _ = load_ours_from_reference(ref, getattr(workbench, prefix + "Model"), tmp_path / variant)
        lengths = torch.tensor([64, 71, 400, 999, 1000])
        assert torch.equal(
            ours._get_feat_extract_output_lengths(lengths), ref._get_feat_extract_output_lengths(lengths)
        )
        assert ours._get_feat_extract_output_lengths(1000) == ref._get_feat_extract_output_lengths(1000) == 14
        lengths = lengths[2:]  # a row too short for one frame is refused (test_errors); the reference unmasks it
        mask = (torch.arange(1000)[None, :] < lengths[:, None]).long()
        assert torch.equal(
            ours._get_feature_vector_attention_mask(14, mask), ref._get_feature_vector_attention_mask(14, mask)
        )
        assert ours.minimum_samples() == 148  # 8 + 7 * 4 + 7 * 16 samples make one frame
    assert tiny_config("wav2vec2-tiny-random").inputs_to_logits_ratio == 64
    assert workbench.Wav2Vec2Config().inputs_to_logits_ratio == 320


@pytest.mark.parametrize("output_hidden_size", [32, 16])
def test_adapter(output_hidden_size, tmp_path):
    config = wav2vec2_config(add_adapter=True, output_hidden_size=output_hidden_size, num_adapter_layers=2)
    for head in ("Model", "ForCTC"):
        ref = reference_model("Wav2Vec2" + head, config, seed=0)
        ours, _ = load_ours_from_reference(ref, getattr(workbench, "Wav2Vec2" + head), tmp_path / head)
        assert_outputs_close(ref, ours, audio_batch())
        assert_reference_loads_ours(ours, ref, tmp_path / head)
    lengths = torch.tensor([400, 1000])
    assert torch.equal(ours._get_feat_extract_output_lengths(lengths), ref._get_feat_extract_output_lengths(lengths))
    labels = ctc_labels(lengths=(2, 1, 1))
    assert_close(ours(**audio_batch(), labels=labels).loss, ref(**audio_batch(), labels=labels).loss, "loss")


@pytest.mark.parametrize("min_masks", [0, 2])
@pytest.mark.parametrize("with_mask", [False, True])
def test_random_span_mask_draws_as_the_reference(with_mask, min_masks):
    from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices

    attention_mask = audio_batch()["attention_mask"][:, :40] if with_mask else None
    if with_mask:
        attention_mask[1, 30:] = 0
        attention_mask[2, 3:] = 0  # too short for a span
    for seed in range(5):
        np.random.seed(seed)
        expected = _compute_mask_indices((3, 40), 0.3, 4, attention_mask, min_masks)
        np.random.seed(seed)
        got = layers.random_span_mask((3, 40), 0.3, 4, attention_mask, min_masks)
        assert np.array_equal(got.numpy(), expected), seed


@pytest.mark.parametrize("variant", ["wav2vec2", "hubert", "data2vec-audio"])
def test_spec_augment_in_training(variant, tmp_path):
    """Training mode without dropout: the same NumPy seed masks the same frames and channels as the reference."""
    prefix, config = VARIANTS[variant]
    config = copy.deepcopy(config)
    settings = dict(hidden_dropout=0.0, activation_dropout=0.0, attention_dropout=0.0, layerdrop=0.0)
    settings.update(mask_time_prob=0.3, mask_feature_prob=0.2, mask_feature_length=3)
    for key, value in settings.items():
        setattr(config, key, value)
    ref = reference_model(prefix + "Model", config, seed=0).train()
    ours, _ = load_ours_from_reference(ref, getattr(workbench, prefix + "Model"), tmp_path)
    ours.train()
    for batch in (audio_batch(attention_mask=False), audio_batch()):
        np.random.seed(0)
        expected = ref(**batch).last_hidden_state
        np.random.seed(0)
        got = ours(**batch).last_hidden_state
        assert_close(got, expected, "last_hidden_state")
    given = torch.zeros(3, 14, dtype=torch.bool)
    given[:, 3:6] = True
    ref.eval(), ours.eval()
    assert_close(ours(**audio_batch(), mask_time_indices=given)[0], ref(**audio_batch(), mask_time_indices=given)[0])


# ------------------------------------------------------------------------------------------------
# Checkpoints: the weight norm's two spellings
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["wav2vec2", "hubert"])
def test_loads_weight_g_and_weight_v_checkpoints(variant, tmp_path, caplog):
    """Most Hub checkpoints name the weight norm's parts weight_g / weight_v: they load with nothing missing and no
    warning, and give the reference's outputs; saving writes the current reference's names."""
    prefix, config = VARIANTS[variant]
    ref = reference_model(prefix + "ForCTC", config, seed=0)
    ref.save_pretrained(tmp_path / "legacy")
    weights = load_file(tmp_path / "legacy" / "model.safetensors")
    renamed = {
        key.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v"
        ): value
        for key, value in weights.items()
    }
    assert sum("weight_g" in key or "weight_v" in key for key in renamed) == 2
    save_file(renamed, tmp_path / "legacy" / "model.safetensors", metadata={"format": "pt"})
    with caplog.at_level(logging.INFO):
        ours, info = getattr(workbench, prefix + "ForCTC").from_pretrained(
            tmp_path / "legacy", output_loading_info=True
        )
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert not [r for r in caplog.records if "newly initialised" in r.getMessage() or "not used" in r.getMessage()]
    assert_outputs_close(ref, ours, audio_batch())
    assert_reference_loads_ours(ours, ref, tmp_path)  # written as parametrizations.weight.original0/1


def test_bare_checkpoint_into_a_head(tmp_path):
    """A pre-trained encoder (bare model) under a new CTC head: only the head is new."""
    ref = reference_model("Wav2Vec2Model", wav2vec2_config(), seed=0)
    ref.save_pretrained(tmp_path)
    ours, info = workbench.Wav2Vec2ForCTC.from_pretrained(tmp_path, output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["lm_head.bias", "lm_head.weight"]
    assert torch.equal(
        ours.wav2vec2.encoder.layers[0].attention.q_proj.weight, ref.encoder.layers[0].attention.q_proj.weight
    )


_V4_SCRIPT = r"""
import json, sys, torch, transformers
folders, input_values = json.load(sys.stdin)
out = []
for folder in folders:
    model, info = transformers.AutoModelForCTC.from_pretrained(folder, output_loading_info=True)
    with torch.no_grad():
        logits = model.eval()(torch.tensor(input_values)).logits
    out.append({"class": type(model).__name__, "missing": info["missing_keys"], "logits": logits.tolist()})
json.dump(out, sys.stdout)
"""


def test_v4_loads_what_we_save(tmp_path):
    """The pipelines follow the reference v4.37: it loads our CTC checkpoints (weight norm included) as its classes,
    with nothing missing, and computes our logits."""
    from reference_v4 import VENV, _env, v4_unavailable

    if reason := v4_unavailable():
        pytest.skip(reason)
    presets = [
        "wav2vec2-tiny-random",
        "wav2vec2-stable-tiny-random",
        "hubert-tiny-random",
        "data2vec-audio-tiny-random",
    ]
    input_values = torch.randn(2, 1000)
    expected = []
    for preset in presets:
        model = workbench.AutoModelForCTC.from_config(tiny_config(preset, vocab_size=12)).eval()
        model.save_pretrained(tmp_path / preset)
        with torch.no_grad():
            expected.append({"class": model.architecture_name(), "missing": [], "logits": model(input_values).logits})
    result = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", _V4_SCRIPT],
        input=json.dumps([[str(tmp_path / preset) for preset in presets], input_values.tolist()]),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for want, got in zip(expected, json.loads(result.stdout)):
        assert got["class"] == want["class"] and got["missing"] == []
        assert_close(torch.tensor(got["logits"]), want["logits"], want["class"])


# ------------------------------------------------------------------------------------------------
# Presets, freezing, errors
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "preset",
    ["wav2vec2-tiny-random", "wav2vec2-stable-tiny-random", "hubert-tiny-random", "data2vec-audio-tiny-random"],
)
def test_tiny_presets(preset):
    config = tiny_config(preset)
    model = workbench.AutoModelForCTC.from_config(config).eval()
    audio = torch.randn(2, 16000)
    out = model(audio, output_attentions=True, output_hidden_states=True)
    assert out.logits.shape == (2, 248, config.vocab_size)  # 16000 samples -> 248 frames
    assert len(out.hidden_states) == 3 and out.attentions[0].shape == (2, 4, 248, 248)
    seen = []
    model.base_model.encoder.layers[1].attention.pattern_hook.register_forward_hook(lambda m, i, o: seen.append(o))
    model(audio)  # a hook on the attention pattern sees the eager path's probabilities
    torch.testing.assert_close(seen[0], out.attentions[1])


def test_freezing():
    model = workbench.HubertForSequenceClassification(tiny_config("hubert-tiny-random"))
    model.freeze_feature_encoder()
    assert not any(p.requires_grad for p in model.hubert.feature_extractor.parameters())
    assert all(p.requires_grad for p in model.hubert.encoder.parameters())
    model.freeze_base_model()
    assert [name for name, p in model.named_parameters() if p.requires_grad] == [
        "projector.weight",
        "projector.bias",
        "classifier.weight",
        "classifier.bias",
    ]


def test_errors():
    model = workbench.Wav2Vec2ForCTC(tiny_config("wav2vec2-tiny-random", vocab_size=12)).eval()
    with pytest.raises(ValueError, match=r"input_values\[None\]"):
        model(torch.randn(1000))
    with pytest.raises(TypeError, match="floating point"):
        model(torch.ones(1, 1000, dtype=torch.long))
    with pytest.raises(ValueError, match="fewer than the 148"):
        model(torch.randn(1, 100))
    mask = torch.ones(2, 1000, dtype=torch.long)
    mask[1, 50:] = 0
    with pytest.raises(ValueError, match="row 1 of the batch has 50 samples"):
        model(torch.randn(2, 1000), attention_mask=mask)
    with pytest.raises(ValueError, match="vocab_size=12"):
        model(torch.randn(1, 1000), labels=torch.tensor([[3, 12]]))
    with pytest.raises(ValueError, match="needs input_values"):
        model()
    with pytest.raises(NotImplementedError, match="MMS"):
        workbench.Wav2Vec2Model(tiny_config("wav2vec2-tiny-random", adapter_attn_dim=16))
    with pytest.raises(ValueError, match="same length"):
        workbench.Wav2Vec2Config(conv_dim=(32, 32), conv_stride=(4,), conv_kernel=(8, 8))
    assert model(torch.randn(1, 1000, dtype=torch.float64)).logits.dtype == torch.float32
