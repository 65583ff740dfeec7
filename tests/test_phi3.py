"""Phi-3 parity with the reference on tiny random configs: the fused qkv_proj and gate_up_proj, RMSNorm, partial
rotary, the sliding window, LongRoPE ("su") with its short and long factors; left-padded logits/hidden states/
attentions, the KV cache, greedy and beam generation (also across the LongRoPE boundary, where the reference
recomputes the sequence), the sequence-classification head, the text-generation pipeline, checkpoints both ways."""

import json
import math

import pytest
import torch
from decoder_checks import check_generate, check_kv_cache, check_sequence_classification
from parity import (
    assert_fast_path_matches,
    assert_generate_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    left_padded_batch,
    load_ours_from_reference,
)
from tiny_rotary_decoders import PHI3, VOCAB, check_text_generation_pipeline, tiny_reference, varied_pair

import workbench


def longrope(original: int) -> dict:
    """LongRoPE settings for 8-channel heads (4 frequencies), as Phi-3-mini-128k's config.json writes them."""
    return dict(
        original_max_position_embeddings=original,
        rope_scaling={"type": "su", "short_factor": [1.0, 1.5, 2.0, 8.0], "long_factor": [3.0, 5.0, 9.0, 20.0]},
    )


@pytest.mark.parametrize(
    "options",
    [
        {},  # Phi-3-mini-4k without its sliding window
        {"sliding_window": 4, "num_key_value_heads": 4},
        {"partial_rotary_factor": 0.5, "tie_word_embeddings": True, "rope_theta": 500.0},  # Phi-4-mini's switches
        longrope(original=16),  # the sequence (9) fits: short factors
        longrope(original=6),  # the sequence outgrows the original context: long factors everywhere
    ],
    ids=["default", "sliding-window", "partial-rotary", "longrope-short", "longrope-long"],
)
def test_lm_head_parity_left_padded(options, tmp_path):
    ref = tiny_reference(PHI3, "Phi3ForCausalLM", **options)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    assert isinstance(ours, workbench.Phi3ForCausalLM)
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # logits, hidden states, attentions at real tokens
    assert_fast_path_matches(ours, batch, left_padded=True)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_longrope_settings():
    config = workbench.Phi3Config(**PHI3[1], **longrope(original=16))  # max_position_embeddings 64
    rope = config.rope_parameters
    assert rope["rope_type"] == "longrope" and rope["original_max_position_embeddings"] == 16
    model = workbench.Phi3Model(config)
    # factor = max_position_embeddings / original = 4: cos and sin scaled by sqrt(1 + ln 4 / ln 16)
    assert model.rotary_emb.attention_scaling == pytest.approx(math.sqrt(1 + math.log(4) / math.log(16)))
    with pytest.raises(ValueError, match=r"\['short_factor'\] has 3 factors"):
        bad = longrope(original=16)
        bad["rope_scaling"]["short_factor"] = [1.0, 1.0, 1.0]
        workbench.Phi3Model(workbench.Phi3Config(**PHI3[1], **bad))
    with pytest.raises(ValueError, match="'default' or 'longrope'"):
        workbench.Phi3Config(rope_scaling={"rope_type": "linear", "factor": 2.0})


def test_base_model_and_config_round_trip(tmp_path):
    ref = tiny_reference(PHI3, "Phi3Model", sliding_window=4, max_position_embeddings=64, **longrope(original=16))
    ours, folder = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, workbench.Phi3Model)
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)
    ours.save_pretrained(tmp_path / "ours")
    mine = json.loads((tmp_path / "ours" / "config.json").read_text())
    theirs = json.loads((folder / "config.json").read_text())
    theirs["rope_parameters"].pop("type")  # the reference keeps the old key "su" beside rope_type "longrope"
    for key in ("rope_parameters", "sliding_window", "original_max_position_embeddings", "num_key_value_heads"):
        assert mine[key] == theirs[key], key


@pytest.mark.parametrize("options", [{}, {"sliding_window": 4}])
def test_kv_cache_matches_full_forward(options, tmp_path):
    _, ours = varied_pair(PHI3, "Phi3ForCausalLM", tmp_path, **options)
    check_kv_cache(ours)


def test_generate_matches_reference(tmp_path):
    check_generate(*varied_pair(PHI3, "Phi3ForCausalLM", tmp_path, sliding_window=5))


@pytest.mark.parametrize("settings", [{}, {"num_beams": 3, "num_return_sequences": 2}, {"use_cache": False}])
def test_generate_across_the_longrope_boundary(settings, tmp_path):
    """7-token prompts, 8 new tokens, original context 10: the reference's generate recomputes the sequence with
    the long factors at the step that outgrows 10 tokens; so does ours (its cache keeps the ids)."""
    ref, ours = varied_pair(PHI3, "Phi3ForCausalLM", tmp_path, **longrope(original=10))
    batch = left_padded_batch(VOCAB, left_pads=(0, 2, 4), seq=7, seed=3)
    assert_generate_matches(
        ref,
        ours,
        batch["input_ids"],
        attention_mask=batch["attention_mask"],
        pad_token_id=0,
        max_new_tokens=8,
        do_sample=False,
        eos_token_id=None,
        **settings,
    )


def test_sequence_classification_parity(tmp_path):
    ref = tiny_reference(PHI3, "Phi3ForSequenceClassification", num_labels=3)
    check_sequence_classification(ref, workbench.Phi3ForSequenceClassification, tmp_path)


def test_text_generation_pipeline(tmp_path):
    check_text_generation_pipeline(PHI3, "Phi3ForCausalLM", tmp_path, pad_token_id=None)


def test_tiny_presets_and_errors():
    from workbench.models.auto import tiny_config
    from workbench.models.phi3 import TINY_PRESETS

    for preset in TINY_PRESETS:
        model = workbench.AutoModelForCausalLM.from_config(tiny_config(preset))
        assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)
    with pytest.raises(ValueError, match="multiple of num_key_value_heads"):
        workbench.Phi3Config(hidden_size=32, num_attention_heads=4, num_key_value_heads=3)
