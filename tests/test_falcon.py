"""Falcon parity with the reference on tiny random configs: the old decoder architecture (multi-query or one
key/value head per query, parallel or sequential block), the new one (grouped-query attention, one or two norms),
rotary (and its scaling) or ALiBi on left-padded batches, the KV cache, greedy and beam generation, the
sequence-classification head, the text-generation pipeline, and checkpoints both ways."""

import json

import pytest
import torch
import transformers
from decoder_checks import (
    GPT2_TOKENIZER_IDS,
    check_generate,
    check_kv_cache,
    check_sequence_classification,
    check_text_generation_pipeline,
    check_training_loss,
)
from parity import (
    assert_close,
    assert_fast_path_matches,
    assert_gradient_checkpointing_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    left_padded_batch,
    load_ours_from_reference,
    reference_model,
    varied_weights,
)

import workbench

VOCAB = 99
FALCON = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=64,
    bos_token_id=1,
    eos_token_id=2,
)
VARIANTS = {
    "falcon-7b": {},  # old architecture: multi-query, parallel block, one norm, rotary
    "falcon-40b": {"new_decoder_architecture": True, "num_kv_heads": 2},  # grouped-query, two norms
    "falcon2-11b": {"new_decoder_architecture": True, "num_kv_heads": 2, "num_ln_in_parallel_attn": 1},
    "falcon-rw": {"alibi": True, "multi_query": False, "parallel_attn": False, "bias": True},  # sequential, ALiBi
    "one-kv-head-per-query": {"multi_query": False, "activation": "relu", "ffn_hidden_size": 48},
    "alibi-multi-query-6-heads": {"alibi": True, "num_attention_heads": 6, "hidden_size": 48},
}


def tiny_reference(class_name="FalconForCausalLM", **overrides):
    return reference_model(class_name, transformers.FalconConfig(**{**FALCON, **overrides}), seed=0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_lm_head_parity_left_padded(variant, tmp_path):
    ref = varied_weights(tiny_reference(**VARIANTS[variant]), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    assert isinstance(ours, workbench.FalconForCausalLM)
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # logits, hidden states, attentions
    assert_fast_path_matches(ours, batch, left_padded=True)
    assert_reference_loads_ours(ours, ref, tmp_path)


@pytest.mark.parametrize(
    "rope",
    [{"rope_type": "linear", "factor": 2.0}, {"rope_type": "dynamic", "factor": 2.0}],
    ids=lambda r: r["rope_type"],
)
def test_rope_scaling_parity(rope, tmp_path):
    # max_position_embeddings=6 < sequence length 9: dynamic NTK scaling is active
    ref = tiny_reference(rope_parameters={"rope_theta": 500.0, **rope}, max_position_embeddings=6)
    ours, _ = load_ours_from_reference(ref, workbench.FalconForCausalLM, tmp_path)
    assert ours.config.rope_parameters["rope_type"] == rope["rope_type"]
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)


def test_alibi_in_bfloat16_arithmetic_on_long_inputs(tmp_path):
    """Falcon-RW rounds slope * position to bfloat16, as the original model did: past 256 tokens that rounding
    changes the logits (by about 1 here), so the parity of 400 tokens with 12 heads (slopes 2^(-k/2)) checks it."""
    ref = varied_weights(
        tiny_reference(alibi=True, multi_query=False, num_attention_heads=12, hidden_size=48, num_hidden_layers=1),
        std=0.3,
    )
    ours, _ = load_ours_from_reference(ref, workbench.FalconForCausalLM, tmp_path)
    ids = torch.randint(3, VOCAB, (1, 400), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert_close(ours(ids).logits, ref(ids).logits, "logits")


def test_base_model_and_config_round_trip(tmp_path):
    ref = tiny_reference("FalconModel", new_decoder_architecture=True, num_kv_heads=2)
    ours, folder = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, workbench.FalconModel)
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)
    ours.save_pretrained(tmp_path / "ours")
    mine = json.loads((tmp_path / "ours" / "config.json").read_text())
    theirs = json.loads((folder / "config.json").read_text())
    for key in ("num_kv_heads", "num_key_value_heads", "num_ln_in_parallel_attn", "ffn_hidden_size", "rope_parameters"):
        assert mine[key] == theirs[key], key
    legacy = workbench.FalconConfig(n_embed=48, num_attention_heads=4, rope_theta=500.0, rope_scaling=None)
    assert legacy.hidden_size == 48 and legacy.rope_parameters == {"rope_type": "default", "rope_theta": 500.0}
    assert workbench.FalconConfig(multi_query=True).num_key_value_heads == 1


@pytest.mark.parametrize("variant", ["falcon-40b", "falcon-rw"])
def test_kv_cache_matches_full_forward(variant, tmp_path):
    ref = varied_weights(tiny_reference(**VARIANTS[variant]), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.FalconForCausalLM, tmp_path)
    _, cache = check_kv_cache(ours, prompt_length=3)
    assert cache[0][0].shape[1] == ours.config.num_key_value_heads  # the cache holds the key/value heads only


@pytest.mark.parametrize("variant", ["falcon-7b", "falcon-40b", "falcon-rw"])
def test_generate_matches_reference(variant, tmp_path):
    ref = varied_weights(tiny_reference(**VARIANTS[variant]), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.FalconForCausalLM, tmp_path)
    check_generate(ref, ours)


@pytest.mark.parametrize("variant", ["falcon-7b", "falcon-rw"])
def test_sequence_classification_parity(variant, tmp_path):
    ref = tiny_reference("FalconForSequenceClassification", pad_token_id=0, num_labels=3, **VARIANTS[variant])
    check_sequence_classification(varied_weights(ref, std=0.3), workbench.FalconForSequenceClassification, tmp_path)


@pytest.mark.parametrize("variant", ["falcon-40b", "falcon-rw"])
def test_training_loss_and_gradient_checkpointing(variant, tmp_path):
    ref = tiny_reference(hidden_dropout=0.1, attention_dropout=0.1, **VARIANTS[variant])
    ours, _ = load_ours_from_reference(ref, workbench.FalconForCausalLM, tmp_path)
    assert_gradient_checkpointing_matches(ours, check_training_loss(ref, ours))


def test_text_generation_pipeline(tmp_path):
    ref = tiny_reference(**VARIANTS["falcon-40b"], **GPT2_TOKENIZER_IDS)
    check_text_generation_pipeline(varied_weights(ref, std=0.3), tmp_path)


def test_new_decoder_architecture_ignores_parallel_attn(tmp_path):
    """As the reference documents (its code fails on this combination): the new architecture is always parallel."""
    config = workbench.FalconConfig(**FALCON, **VARIANTS["falcon-40b"])
    model = workbench.FalconForCausalLM(config).eval()
    model.save_pretrained(tmp_path)
    sequential = workbench.FalconForCausalLM.from_pretrained(tmp_path, parallel_attn=False)
    assert not hasattr(sequential.transformer.h[0], "post_attention_layernorm")
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        torch.testing.assert_close(sequential(ids).logits, model(ids).logits)


def test_tiny_presets_and_context_window():
    from workbench.models.auto import tiny_config
    from workbench.models.falcon import TINY_PRESETS

    for preset in TINY_PRESETS:
        model = workbench.AutoModelForCausalLM.from_config(tiny_config(preset)).eval()
        with torch.no_grad():
            assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)
        assert model.context_window() == (None if model.config.alibi else 2048)


def test_errors():
    with pytest.raises(ValueError, match="not a multiple of num_attention_heads"):
        workbench.FalconConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match="multiple of num_kv_heads=3"):
        workbench.FalconConfig(hidden_size=32, num_attention_heads=4, num_kv_heads=3, new_decoder_architecture=True)
    model = workbench.FalconForCausalLM(workbench.FalconConfig(**{**FALCON, "max_position_embeddings": 8})).eval()
    with pytest.raises(ValueError, match="context window of 8"):
        model.generate(torch.ones(1, 9, dtype=torch.long), max_new_tokens=1)
