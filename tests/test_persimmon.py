"""Persimmon parity with the reference on tiny random configs: the per-head fused query_key_value, LayerNorm on
queries and keys, partial rotary, squared ReLU; left-padded logits/hidden states/attentions, the KV cache, greedy
and beam generation, the sequence-classification head, the text-generation pipeline, checkpoints both ways."""

import json

import pytest
import torch
from decoder_checks import check_generate, check_kv_cache, check_sequence_classification
from parity import (
    assert_fast_path_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    left_padded_batch,
    load_ours_from_reference,
)
from tiny_rotary_decoders import PERSIMMON, VOCAB, check_text_generation_pipeline, tiny_reference, varied_pair

import workbench


@pytest.mark.parametrize(
    "options",
    [
        {},  # persimmon-8b: qk_layernorm, half of each head rotates, relu^2
        {"qk_layernorm": False, "partial_rotary_factor": 0.25, "hidden_act": "gelu"},
        {"partial_rotary_factor": 1.0, "rope_theta": 25000.0, "tie_word_embeddings": True},
    ],
)
def test_lm_head_parity_left_padded(options, tmp_path):
    ref = tiny_reference(PERSIMMON, "PersimmonForCausalLM", **options)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    assert isinstance(ours, workbench.PersimmonForCausalLM)
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # logits, hidden states, attentions at real tokens
    assert_fast_path_matches(ours, batch, left_padded=True)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_base_model_and_config_round_trip(tmp_path):
    ref = tiny_reference(PERSIMMON, "PersimmonModel", rope_theta=25000.0)
    ours, folder = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, workbench.PersimmonModel)
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)
    ours.save_pretrained(tmp_path / "ours")
    mine = json.loads((tmp_path / "ours" / "config.json").read_text())
    theirs = json.loads((folder / "config.json").read_text())
    for key in ("rope_parameters", "qk_layernorm", "hidden_act", "intermediate_size", "layer_norm_eps"):
        assert mine[key] == theirs[key], key
    assert (ours.config.rope_theta, ours.config.partial_rotary_factor) == (25000.0, 0.5)


def test_relu_squared():
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0])
    torch.testing.assert_close(workbench.layers.activation("relu2")(x), torch.tensor([0.0, 0.0, 0.0, 0.25, 9.0]))


def test_kv_cache_matches_full_forward(tmp_path):
    _, ours = varied_pair(PERSIMMON, "PersimmonForCausalLM", tmp_path)
    check_kv_cache(ours)


def test_generate_matches_reference(tmp_path):
    check_generate(*varied_pair(PERSIMMON, "PersimmonForCausalLM", tmp_path))


def test_sequence_classification_parity(tmp_path):
    ref = tiny_reference(PERSIMMON, "PersimmonForSequenceClassification", pad_token_id=0, num_labels=3)
    check_sequence_classification(ref, workbench.PersimmonForSequenceClassification, tmp_path)


def test_text_generation_pipeline(tmp_path):
    check_text_generation_pipeline(PERSIMMON, "PersimmonForCausalLM", tmp_path)


def test_tiny_preset_and_errors():
    from workbench.models.auto import tiny_config

    model = workbench.AutoModelForCausalLM.from_config(tiny_config("persimmon-tiny-random"))
    assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)
    with pytest.raises(ValueError, match="not a multiple of num_attention_heads"):
        workbench.PersimmonConfig(hidden_size=30, num_attention_heads=4)
