"""BLOOM parity with the reference on tiny random configs: ALiBi (slopes for any head count) on left-padded
batches, the post-LayerNorm residual switch, the KV cache (and the 4.x BLOOM cache layout), greedy and beam
generation, the sequence-classification head, the text-generation pipeline, and checkpoints both ways."""

import json

import pytest
import torch
import transformers
from decoder_checks import (
    GPT2_TOKENIZER_IDS,
    check_generate,
    check_kv_cache,
    check_left_padding_does_not_change_a_row,
    check_sequence_classification,
    check_text_generation_pipeline,
    check_training_loss,
)
from parity import (
    ATOL,
    RTOL,
    assert_fast_path_matches,
    assert_gradient_checkpointing_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    left_padded_batch,
    load_ours_from_reference,
    reference_model,
    varied_weights,
)
from transformers.models.bloom.modeling_bloom import _get_alibi_slopes

import workbench
from workbench import layers

VOCAB = 99
BLOOM = dict(vocab_size=VOCAB, hidden_size=32, n_layer=2, n_head=4, bos_token_id=1, eos_token_id=2)


def tiny_reference(class_name="BloomForCausalLM", **overrides):
    return reference_model(class_name, transformers.BloomConfig(**{**BLOOM, **overrides}), seed=0)


def test_alibi_slopes_match_the_reference_for_any_head_count():
    """Powers of two and the interleaved series of the others (6, 12, 20, 71 heads...)."""
    for heads in range(1, 80):
        torch.testing.assert_close(layers.alibi_slopes(heads), _get_alibi_slopes(heads, "cpu"), rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"n_head": 6, "hidden_size": 48},  # not a power of two: the slopes' second series
        {"apply_residual_connection_post_layernorm": True},
    ],
)
def test_lm_head_parity_left_padded(options, tmp_path):
    ref = varied_weights(tiny_reference(**options), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    assert isinstance(ours, workbench.BloomForCausalLM)
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # logits, hidden states, attentions
    assert_fast_path_matches(ours, batch, left_padded=True)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_base_model_and_config_round_trip(tmp_path):
    ref = tiny_reference("BloomModel")
    ours, folder = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, workbench.BloomModel)
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)
    ours.save_pretrained(tmp_path / "ours")
    mine = json.loads((tmp_path / "ours" / "config.json").read_text())
    theirs = json.loads((folder / "config.json").read_text())
    for key in ("hidden_size", "n_layer", "n_head", "apply_residual_connection_post_layernorm", "layer_norm_epsilon"):
        assert mine[key] == theirs[key], key
    assert ours.config.num_attention_heads == 4 and ours.config.num_hidden_layers == 2
    assert workbench.BloomConfig(n_embed=48, n_head=4).hidden_size == 48  # the key of the original Hub files


def test_left_padding_does_not_change_a_row(tmp_path):
    """ALiBi counts positions from the mask: a left-padded row gives the logits it gives alone."""
    ours, _ = load_ours_from_reference(varied_weights(tiny_reference(), std=0.3), workbench.BloomForCausalLM, tmp_path)
    check_left_padding_does_not_change_a_row(ours)


def test_kv_cache_matches_full_forward(tmp_path):
    ours, _ = load_ours_from_reference(varied_weights(tiny_reference(), std=0.3), workbench.BloomForCausalLM, tmp_path)
    check_kv_cache(ours, prompt_length=3)


def test_legacy_bloom_cache_layout(tmp_path):
    """transformers 4.x handed BLOOM caches around as keys (batch * heads, head_dim, seq) and values
    (batch * heads, seq, head_dim); such tuples continue a sequence as the standard layout does."""
    ours, _ = load_ours_from_reference(varied_weights(tiny_reference(), std=0.3), workbench.BloomForCausalLM, tmp_path)
    ids = left_padded_batch(VOCAB, left_pads=(0, 0))["input_ids"]
    with torch.no_grad():
        full = ours(ids).logits
        standard = ours(ids[:, :6], use_cache=True).past_key_values
        legacy = tuple(
            (k.reshape(-1, *k.shape[2:]).transpose(1, 2), v.reshape(-1, *v.shape[2:])) for k, v in standard
        )  # keys (batch * heads, head_dim, 6), values (batch * heads, 6, head_dim)
        step = ours(ids[:, 6:], past_key_values=legacy).logits
    torch.testing.assert_close(step, full[:, 6:], atol=ATOL, rtol=RTOL)


def test_generate_matches_reference(tmp_path):
    ref = varied_weights(tiny_reference(), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.BloomForCausalLM, tmp_path)
    check_generate(ref, ours)


def test_sequence_classification_parity(tmp_path):
    ref = varied_weights(tiny_reference("BloomForSequenceClassification", pad_token_id=0, num_labels=3), std=0.3)
    check_sequence_classification(ref, workbench.BloomForSequenceClassification, tmp_path)


def test_training_loss_and_gradient_checkpointing(tmp_path):
    ref = tiny_reference(hidden_dropout=0.1, attention_dropout=0.1)
    ours, _ = load_ours_from_reference(ref, workbench.BloomForCausalLM, tmp_path)
    assert_gradient_checkpointing_matches(ours, check_training_loss(ref, ours))


def test_text_generation_pipeline(tmp_path):
    check_text_generation_pipeline(varied_weights(tiny_reference(**GPT2_TOKENIZER_IDS), std=0.3), tmp_path)


def test_no_length_limit_and_tiny_preset():
    from workbench.models.auto import tiny_config

    model = workbench.AutoModelForCausalLM.from_config(tiny_config("bloom-tiny-random")).eval()
    assert model.context_window() is None  # no position table
    with torch.no_grad():
        assert model(torch.ones(1, 300, dtype=torch.long)).logits.shape == (1, 300, 128)


def test_errors():
    with pytest.raises(ValueError, match="not a multiple of n_head"):
        workbench.BloomConfig(hidden_size=30, n_head=4)
    model = workbench.BloomForCausalLM(workbench.BloomConfig(**BLOOM)).eval()
    cache = model(torch.ones(1, 4, dtype=torch.long), use_cache=True).past_key_values
    with pytest.raises(ValueError, match="pass the mask of the whole sequence"):
        model(torch.ones(1, 1, dtype=torch.long), attention_mask=torch.ones(1, 1), past_key_values=cache)
