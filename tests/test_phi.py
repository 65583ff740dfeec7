"""Phi parity with the reference on tiny random configs: the parallel attention+MLP block on one normalised input,
partial rotary, the query/key LayerNorm option, grouped-query attention, the LM head's bias; left-padded
logits/hidden states/attentions, the KV cache, greedy and beam generation, the sequence-classification head, the
text-generation pipeline, checkpoints both ways."""

import json

import pytest
import torch
from decoder_checks import check_generate, check_kv_cache, check_sequence_classification
from parity import (
    assert_fast_path_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    assert_same_checkpoint_files,
    left_padded_batch,
    load_ours_from_reference,
)
from tiny_rotary_decoders import PHI, VOCAB, check_text_generation_pipeline, tiny_reference, varied_pair

import workbench


@pytest.mark.parametrize(
    "options",
    [
        {},  # phi-1.5: half of each head rotates
        {"qk_layernorm": True, "num_key_value_heads": 2, "partial_rotary_factor": 0.25},
        {"partial_rotary_factor": 1.0, "hidden_act": "gelu", "tie_word_embeddings": True, "rope_theta": 500.0},
    ],
)
def test_lm_head_parity_left_padded(options, tmp_path):
    ref = tiny_reference(PHI, "PhiForCausalLM", **options)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    assert isinstance(ours, workbench.PhiForCausalLM)
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # logits, hidden states, attentions at real tokens
    assert_fast_path_matches(ours, batch, left_padded=True)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_lm_head_bias_in_the_checkpoint(tmp_path):
    """The LM head has its own bias, also when its weight is tied to the embeddings (then written once)."""
    ref = tiny_reference(PHI, "PhiForCausalLM", tie_word_embeddings=True)
    ours, folder = load_ours_from_reference(ref, workbench.PhiForCausalLM, tmp_path)
    assert ours.lm_head.weight is ours.model.embed_tokens.weight
    ours.save_pretrained(tmp_path / "ours")
    keys = assert_same_checkpoint_files(folder, tmp_path / "ours")
    assert "lm_head.bias" in keys and "lm_head.weight" not in keys


def test_base_model_and_config_round_trip(tmp_path):
    ref = tiny_reference(PHI, "PhiModel", qk_layernorm=True, partial_rotary_factor=0.25)
    ours, folder = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, workbench.PhiModel)
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)
    ours.save_pretrained(tmp_path / "ours")
    mine = json.loads((tmp_path / "ours" / "config.json").read_text())
    theirs = json.loads((folder / "config.json").read_text())
    for key in ("rope_parameters", "qk_layernorm", "num_key_value_heads", "resid_pdrop", "hidden_act"):
        assert mine[key] == theirs[key], key
    assert ours.config.partial_rotary_factor == 0.25


def test_kv_cache_matches_full_forward(tmp_path):
    _, ours = varied_pair(PHI, "PhiForCausalLM", tmp_path, qk_layernorm=True, num_key_value_heads=2)
    check_kv_cache(ours)


def test_generate_matches_reference(tmp_path):
    check_generate(*varied_pair(PHI, "PhiForCausalLM", tmp_path))


def test_sequence_classification_parity(tmp_path):
    ref = tiny_reference(PHI, "PhiForSequenceClassification", pad_token_id=0, num_labels=3)
    check_sequence_classification(ref, workbench.PhiForSequenceClassification, tmp_path)


def test_text_generation_pipeline(tmp_path):
    check_text_generation_pipeline(PHI, "PhiForCausalLM", tmp_path)


def test_tiny_preset_and_errors():
    from workbench.models.auto import tiny_config

    model = workbench.AutoModelForCausalLM.from_config(tiny_config("phi-tiny-random"))
    assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)
    with pytest.raises(ValueError, match="multiple of num_key_value_heads"):
        workbench.PhiConfig(hidden_size=32, num_attention_heads=4, num_key_value_heads=3)
    with pytest.raises(ValueError, match="turn pairs of channels, but 3 channels"):  # 8 * 0.4 = 3.2
        workbench.PhiModel(workbench.PhiConfig(**PHI[1], partial_rotary_factor=0.4))
