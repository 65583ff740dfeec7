"""Whisper parity with the reference on tiny random configs: WhisperModel, WhisperForConditionalGeneration and
WhisperForAudioClassification (plain and with the weighted layer sum). Encoder, decoder and cross attentions,
hidden states, logits and losses; the SDPA path; the KV cache; gradients and SpecAugment in training;
checkpoints in both directions; the errors. Generation: tests/test_whisper_generation.py."""

import json

import numpy as np
import pytest
import torch
import transformers
from parity import (
    ATOL,
    RTOL,
    assert_close,
    assert_fast_path_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    load_ours_from_reference,
    padding_mask,
    reference_model,
    varied_weights,
)
from tiny_whisper import EOS, FRAMES, MEL_BINS, START, VOCAB, input_features, reference_config

import workbench
from workbench.models import whisper
from workbench.models.auto import tiny_config


def whisper_batch(seed: int = 0, padded_target: bool = True) -> dict:
    """Two clips' features and a decoder target (row 1 padded on the right when ``padded_target``)."""
    g = torch.Generator().manual_seed(seed + 1)
    decoder_ids = torch.randint(0, 50, (2, 7), generator=g)
    decoder_ids[:, 0] = START
    batch = {"input_features": input_features(2, seed), "decoder_input_ids": decoder_ids}
    if padded_target:
        batch["decoder_attention_mask"] = padding_mask(7, right=[0, 3])
    return batch


@pytest.fixture(scope="module")
def generation_pair(tmp_path_factory):
    ref = varied_weights(reference_model("WhisperForConditionalGeneration", reference_config(), seed=0))
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSpeechSeq2Seq, tmp_path_factory.mktemp("whisper"))
    return ref, ours


# ------------------------------------------------------------------------------------------------
# Forward parity and checkpoints
# ------------------------------------------------------------------------------------------------


def test_model_parity_and_checkpoints(tmp_path):
    ref = varied_weights(reference_model("WhisperModel", reference_config(), seed=0))
    ours, _ = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert type(ours) is workbench.WhisperModel
    for batch in (whisper_batch(padded_target=False), whisper_batch()):
        _, got = assert_outputs_close(ref, ours, batch)
        assert len(got.encoder_hidden_states) == 3 and got.cross_attentions[0].shape == (2, 4, 7, FRAMES // 2)
        assert_fast_path_matches(ours, batch)
    assert_reference_loads_ours(ours, ref, tmp_path, transformers.AutoModel)


def test_conditional_generation_parity_loss_and_checkpoints(generation_pair, tmp_path):
    ref, ours = generation_pair
    assert type(ours) is workbench.WhisperForConditionalGeneration
    batch = whisper_batch()
    assert_outputs_close(ref, ours, batch)
    assert_fast_path_matches(ours, batch)
    labels = batch["decoder_input_ids"][:, 1:].masked_fill(batch["decoder_attention_mask"][:, 1:] == 0, -100)
    with torch.no_grad():
        expected = ref(input_features=batch["input_features"], labels=labels)  # decoder inputs made from the labels
        got = ours(input_features=batch["input_features"], labels=labels)
    torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=RTOL)
    assert_close(got.logits, expected.logits, "logits from labels")
    assert "past_key_values" not in got  # training: no cache
    assert_reference_loads_ours(
        ours, ref, tmp_path, transformers.AutoModelForSpeechSeq2Seq
    )  # proj_out: tied, not written


@pytest.mark.parametrize("weighted", [False, True])
def test_audio_classification_parity_and_checkpoints(weighted, tmp_path):
    config = reference_config(num_labels=3, classifier_proj_size=12, use_weighted_layer_sum=weighted)
    ref = varied_weights(reference_model("WhisperForAudioClassification", config, seed=0))
    if weighted:
        with torch.no_grad():
            ref.layer_weights.copy_(torch.tensor([0.5, -1.0, 2.0]))  # a mix that is not the plain mean
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForAudioClassification, tmp_path)
    assert type(ours) is workbench.WhisperForAudioClassification
    features = input_features(2)
    assert_outputs_close(ref, ours, {"input_features": features})
    assert_fast_path_matches(ours, {"input_features": features})
    labels = torch.tensor([2, 0])
    with torch.no_grad():
        expected, got = ref(features, labels=labels), ours(features, labels=labels)
    torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=RTOL)
    assert ("hidden_states" in got) == weighted  # the weighted sum reads (and returns) every layer, as the reference
    assert_reference_loads_ours(ours, ref, tmp_path, transformers.AutoModelForAudioClassification)


def test_classifier_loads_the_encoder_of_a_speech_recognition_checkpoint(generation_pair, tmp_path):
    """A head on Whisper's encoder (the audio-classification guide): the encoder's weights come from the
    checkpoint, the decoder's are left out, the head is new; the reference does the same."""
    ref, ours = generation_pair
    folder = tmp_path / "asr"
    ours.save_pretrained(folder)
    classifier, info = workbench.WhisperForAudioClassification.from_pretrained(
        folder, num_labels=4, output_loading_info=True
    )
    reference_classifier = transformers.WhisperForAudioClassification.from_pretrained(folder, num_labels=4)
    assert sorted(info["missing_keys"]) == [
        "classifier.bias",
        "classifier.weight",
        "projector.bias",
        "projector.weight",
    ]
    assert all(key.startswith("model.decoder.") or key == "proj_out.weight" for key in info["unexpected_keys"])
    features = input_features(2)
    with torch.no_grad():
        expected = reference_classifier.encoder(features).last_hidden_state
        assert_close(classifier.encoder(features).last_hidden_state, expected, "encoder states")


def test_config_keys_defaults_and_sinusoids():
    expected = json.loads(transformers.WhisperConfig().to_json_string())
    got = json.loads(workbench.WhisperConfig().to_json_string())
    for key in ("transformers_version", "dtype"):
        expected.pop(key, None)
        got.pop(key, None)
    for key, value in expected.items():
        assert got.get(key) == value, (key, got.get(key), value)
    config = workbench.WhisperConfig()
    assert (config.hidden_size, config.num_hidden_layers, config.num_decoder_layers) == (384, 4, 4)
    # a fresh model's encoder positions are OpenAI's sinusoids (the reference's table), not random
    fresh = whisper.WhisperModel(tiny_config("whisper-tiny-random"))
    table = transformers.models.whisper.modeling_whisper.sinusoids(30, 32)
    torch.testing.assert_close(fresh.encoder.embed_positions.weight, table, atol=0, rtol=0)
    assert not fresh.encoder.embed_positions.weight.requires_grad
    preset = whisper.WhisperForConditionalGeneration(tiny_config("whisper-tiny-random"))
    out = preset(torch.randn(1, 16, 60), decoder_input_ids=torch.tensor([[51, 5]]))
    assert out.logits.shape == (1, 2, 128)


# ------------------------------------------------------------------------------------------------
# The KV cache, training
# ------------------------------------------------------------------------------------------------


def test_decoding_with_the_cache_equals_the_full_forward(generation_pair):
    _, ours = generation_pair
    batch = whisper_batch(padded_target=False)
    features, ids = batch["input_features"], batch["decoder_input_ids"]
    with torch.no_grad():
        full = ours(input_features=features, decoder_input_ids=ids).logits
        encoded = ours.get_encoder()(features)
        out = ours(encoder_outputs=encoded, decoder_input_ids=ids[:, :3], use_cache=True)
        steps = [out.logits]
        for t in range(3, ids.shape[1]):
            out = ours(
                encoder_outputs=encoded, decoder_input_ids=ids[:, t : t + 1], past_key_values=out.past_key_values
            )
            steps.append(out.logits)
    assert_close(torch.cat(steps, dim=1), full, "cached decoding")
    assert out.past_key_values.get_seq_length() == ids.shape[1]


def test_training_gradients_and_spec_augment_match_the_reference(tmp_path):
    """Training mode (dropout 0): the loss and every gradient; then SpecAugment's masks, drawn from NumPy's
    generator as the reference draws them, give the same loss."""
    config = reference_config(apply_spec_augment=True, mask_time_prob=0.3, mask_time_length=4, mask_feature_prob=0.3,
                              mask_feature_length=2)  # fmt: skip
    ref = varied_weights(reference_model("WhisperForConditionalGeneration", config, seed=0), std=0.2)
    ours, _ = load_ours_from_reference(ref, workbench.WhisperForConditionalGeneration, tmp_path)
    ref.train()
    ours.train()
    batch = whisper_batch()
    labels = batch["decoder_input_ids"][:, 1:]
    ref.config.apply_spec_augment = ours.config.apply_spec_augment = False
    expected = ref(input_features=batch["input_features"].clone(), labels=labels)
    got = ours(input_features=batch["input_features"], labels=labels)
    expected.loss.backward()
    got.loss.backward()
    torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=RTOL)
    reference_grads = dict(ref.named_parameters())
    for name, param in ours.named_parameters():
        if param.requires_grad:
            torch.testing.assert_close(param.grad, reference_grads[name].grad, atol=1e-4, rtol=1e-3, msg=name)
    ref.config.apply_spec_augment = ours.config.apply_spec_augment = True
    with torch.no_grad():
        np.random.seed(3)
        expected = ref(input_features=batch["input_features"].clone(), labels=labels).loss  # (it masks in place)
        np.random.seed(3)
        got = ours(input_features=batch["input_features"], labels=labels).loss
        plain = ours.eval()(input_features=batch["input_features"], labels=labels).loss
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=RTOL)
    assert not torch.isclose(got, plain)  # the masks did change the input


def test_gradient_checkpointing_gives_the_same_gradients(generation_pair):
    _, ours = generation_pair
    model = whisper.WhisperForConditionalGeneration(ours.config)
    model.load_state_dict(ours.state_dict())
    model.train()
    batch = whisper_batch()
    labels = batch["decoder_input_ids"][:, 1:]

    def gradients():
        model.zero_grad()
        model(input_features=batch["input_features"], labels=labels).loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    plain = gradients()
    model.gradient_checkpointing_enable()
    checkpointed = gradients()
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad, msg=name)


def test_freeze_encoder_and_attention_hook(generation_pair):
    _, ours = generation_pair
    model = whisper.WhisperForConditionalGeneration(ours.config)
    model.freeze_encoder()
    assert not any(p.requires_grad for p in model.model.encoder.parameters())
    assert all(p.requires_grad for p in model.model.decoder.parameters())
    seen = []
    hook = ours.model.decoder.layers[1].encoder_attn.pattern_hook.register_forward_hook(lambda m, i, o: seen.append(o))
    try:
        with torch.no_grad():
            expected = ours(**whisper_batch(), output_attentions=True).cross_attentions[1]
            ours(**whisper_batch())  # a listening hook sees the pattern on the fast path too
    finally:
        hook.remove()
    assert len(seen) == 2
    assert_close(seen[1], expected, "hooked cross-attention")


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def test_clear_errors_for_bad_input(generation_pair):
    _, ours = generation_pair
    ids = torch.tensor([[START, 5]])
    with pytest.raises(ValueError, match=r"\(batch, num_mel_bins=8, 60\).*chunk_length_s"):
        ours(input_features=torch.randn(1, MEL_BINS, 2 * FRAMES), decoder_input_ids=ids)  # "longer than 30 s"
    with pytest.raises(ValueError, match="num_mel_bins=8"):
        ours(input_features=torch.randn(1, 80, FRAMES), decoder_input_ids=ids)
    with pytest.raises(TypeError, match="float torch.Tensor"):
        ours(input_features=torch.zeros(1, MEL_BINS, FRAMES, dtype=torch.long), decoder_input_ids=ids)
    with pytest.raises(TypeError, match="return_tensors='pt'"):
        ours(input_features=np.zeros((1, MEL_BINS, FRAMES), dtype=np.float32), decoder_input_ids=ids)
    with pytest.raises(TypeError, match=r"features.to\(torch.float32\)"):
        ours(input_features=torch.randn(1, MEL_BINS, FRAMES, dtype=torch.float64), decoder_input_ids=ids)
    with pytest.raises(ValueError, match="NaN or infinite"):
        ours(input_features=input_features(1).index_fill(2, torch.tensor([7]), float("nan")), decoder_input_ids=ids)
    with pytest.raises(ValueError, match="empty batch"):
        ours(input_features=torch.zeros(0, MEL_BINS, FRAMES), decoder_input_ids=ids[:0])
    with pytest.raises(ValueError, match="needs input_features"):
        ours(decoder_input_ids=ids)
    with pytest.raises(ValueError, match=r"decoder_input_ids \(at least \[\[config.decoder_start_token_id\]\]"):
        ours(input_features=input_features(1))
    with pytest.raises(ValueError, match="40 positions"):
        ours(input_features=input_features(1), decoder_input_ids=torch.full((1, 41), 5))
    with pytest.raises(ValueError, match="max_target_positions"):
        ours(input_features=input_features(1), labels=torch.full((1, 41), 5))
    with pytest.raises(ValueError, match="multiple of encoder_attention_heads"):
        workbench.WhisperConfig(d_model=30, encoder_attention_heads=4)
    assert EOS in ours.config.begin_suppress_tokens and ours.config.vocab_size == VOCAB
