"""StableLM parity with the reference on tiny random configs: partial rotary, grouped-query attention, the
per-head query/key LayerNorms, the parallel-residual switch, qkv biases; left-padded logits/hidden states/
attentions, the KV cache, greedy and beam generation, the sequence-classification head, the text-generation
pipeline, checkpoints both ways."""

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
from tiny_rotary_decoders import STABLELM, VOCAB, check_text_generation_pipeline, tiny_reference, varied_pair

import workbench

STABLELM_2_12B = {"qk_layernorm": True, "use_parallel_residual": True}  # per-head q/k norms, one norm per layer


@pytest.mark.parametrize(
    "options",
    [
        {},  # StableLM-3B-4E1T: a quarter (here half) of each head rotates, sequential block
        {"use_qkv_bias": True, "partial_rotary_factor": 0.25, "num_key_value_heads": 4},  # StableLM 2 1.6B
        STABLELM_2_12B,
        {"qk_layernorm": True, "tie_word_embeddings": True, "rope_theta": 500.0},
    ],
)
def test_lm_head_parity_left_padded(options, tmp_path):
    ref = tiny_reference(STABLELM, "StableLmForCausalLM", **options)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    assert isinstance(ours, workbench.StableLmForCausalLM)
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # logits, hidden states, attentions at real tokens
    assert_fast_path_matches(ours, batch, left_padded=True)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_per_head_norms_in_the_checkpoint(tmp_path):
    """One LayerNorm (weight, no bias) per query head and per key/value head; no post-attention norm in the
    parallel block."""
    ref = tiny_reference(STABLELM, "StableLmForCausalLM", **STABLELM_2_12B)
    ours, folder = load_ours_from_reference(ref, workbench.StableLmForCausalLM, tmp_path)
    ours.save_pretrained(tmp_path / "ours")
    keys = assert_same_checkpoint_files(folder, tmp_path / "ours")
    assert "model.layers.0.self_attn.q_layernorm.norms.3.weight" in keys
    assert "model.layers.0.self_attn.k_layernorm.norms.1.weight" in keys
    assert not any("k_layernorm.norms.2" in k or "layernorm.norms.0.bias" in k for k in keys)
    assert not any("post_attention_layernorm" in k for k in keys)


def test_base_model_and_config_round_trip(tmp_path):
    ref = tiny_reference(STABLELM, "StableLmModel", **STABLELM_2_12B)
    ours, folder = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, workbench.StableLmModel)
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)
    ours.save_pretrained(tmp_path / "ours")
    mine = json.loads((tmp_path / "ours" / "config.json").read_text())
    theirs = json.loads((folder / "config.json").read_text())
    for key in ("rope_parameters", "qk_layernorm", "use_parallel_residual", "use_qkv_bias", "num_key_value_heads"):
        assert mine[key] == theirs[key], key


@pytest.mark.parametrize("options", [{}, STABLELM_2_12B])
def test_kv_cache_matches_full_forward(options, tmp_path):
    _, ours = varied_pair(STABLELM, "StableLmForCausalLM", tmp_path, **options)
    check_kv_cache(ours)


def test_generate_matches_reference(tmp_path):
    check_generate(*varied_pair(STABLELM, "StableLmForCausalLM", tmp_path, qk_layernorm=True))


def test_sequence_classification_parity(tmp_path):
    ref = tiny_reference(STABLELM, "StableLmForSequenceClassification", pad_token_id=0, num_labels=3)
    check_sequence_classification(ref, workbench.StableLmForSequenceClassification, tmp_path)


def test_text_generation_pipeline(tmp_path):
    check_text_generation_pipeline(STABLELM, "StableLmForCausalLM", tmp_path)


def test_tiny_presets_and_errors():
    from workbench.models.auto import tiny_config
    from workbench.models.stablelm import TINY_PRESETS

    for preset in TINY_PRESETS:
        model = workbench.AutoModelForCausalLM.from_config(tiny_config(preset))
        assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)
    with pytest.raises(ValueError, match="multiple of num_key_value_heads"):
        workbench.StableLmConfig(hidden_size=32, num_attention_heads=4, num_key_value_heads=3)
