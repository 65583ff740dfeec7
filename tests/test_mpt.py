"""MPT parity with the reference on tiny random configs: ALiBi (slopes for any head count and alibi_bias_max),
clip_qkv and softmax_scale on left-padded batches, the KV cache, greedy and beam generation, the
sequence-classification head, the text-generation pipeline, checkpoints both ways (no biases anywhere), and the
switches the reference ignores (honoured here as in MosaicML's code) or that are not implemented (refused)."""

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
    assert_fast_path_matches,
    assert_gradient_checkpointing_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    left_padded_batch,
    load_ours_from_reference,
    reference_model,
    varied_weights,
)
from transformers.models.mpt.modeling_mpt import build_mpt_alibi_tensor

import workbench
from workbench import layers

VOCAB = 99
MPT = dict(vocab_size=VOCAB, d_model=32, n_layers=2, n_heads=4, max_seq_len=64, bos_token_id=1, eos_token_id=2)


def tiny_reference(class_name="MptForCausalLM", **overrides):
    return reference_model(class_name, transformers.MptConfig(**{**MPT, **overrides}), seed=0)


@pytest.mark.parametrize("max_bias", [8, 4, 6])
def test_alibi_slopes_match_the_reference_for_any_head_count(max_bias):
    for heads in range(1, 80):
        expected = -build_mpt_alibi_tensor(heads, 2, alibi_bias_max=max_bias)[:, 0, 0]  # (heads,): the slopes
        torch.testing.assert_close(layers.alibi_slopes(heads, max_bias), expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"n_heads": 6, "d_model": 48},  # not a power of two: the slopes' second series
        {"attn_config": {"clip_qkv": 0.5, "softmax_scale": 0.3}},
    ],
)
def test_lm_head_parity_left_padded(options, tmp_path):
    ref = varied_weights(tiny_reference(**options), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    assert isinstance(ours, workbench.MptForCausalLM)
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # logits, hidden states, attentions
    assert_fast_path_matches(ours, batch, left_padded=True)
    folder = assert_reference_loads_ours(ours, ref, tmp_path)
    assert not [key for key in ours.state_dict() if key.endswith(".bias")]  # no_bias: none anywhere
    assert json.loads((folder / "config.json").read_text())["attn_config"]["alibi_bias_max"] == 8


def test_base_model(tmp_path):
    ref = tiny_reference("MptModel")
    ours, _ = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, workbench.MptModel)
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)
    assert ours.config.hidden_size == 32 and ours.config.num_attention_heads == 4


def test_left_padding_does_not_change_a_row(tmp_path):
    ours, _ = load_ours_from_reference(varied_weights(tiny_reference(), std=0.3), workbench.MptForCausalLM, tmp_path)
    check_left_padding_does_not_change_a_row(ours)


def test_kv_cache_matches_full_forward(tmp_path):
    ours, _ = load_ours_from_reference(varied_weights(tiny_reference(), std=0.3), workbench.MptForCausalLM, tmp_path)
    check_kv_cache(ours, prompt_length=3)


def test_generate_matches_reference(tmp_path):
    ref = varied_weights(tiny_reference(), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.MptForCausalLM, tmp_path)
    check_generate(ref, ours)


def test_sequence_classification_parity(tmp_path):
    ref = varied_weights(tiny_reference("MptForSequenceClassification", pad_token_id=0, num_labels=3), std=0.3)
    check_sequence_classification(ref, workbench.MptForSequenceClassification, tmp_path)


def test_training_loss_and_gradient_checkpointing(tmp_path):
    ref = tiny_reference()
    ours, _ = load_ours_from_reference(ref, workbench.MptForCausalLM, tmp_path)
    batch = check_training_loss(ref, ours)
    for option, value in (("resid_pdrop", 0.1), ("emb_pdrop", 0.1), ("embedding_fraction", 0.5)):
        setattr(ours.config, option, value)
    ours.config.attn_config["attn_pdrop"] = 0.1
    ours = workbench.MptForCausalLM.from_pretrained(tmp_path / "from_reference", config=ours.config)
    assert_gradient_checkpointing_matches(ours, batch)


def test_text_generation_pipeline(tmp_path):
    check_text_generation_pipeline(varied_weights(tiny_reference(**GPT2_TOKENIZER_IDS), std=0.3), tmp_path)


def test_switches_the_reference_ignores(tmp_path):
    """MosaicML's code honours these; the reference builds the default model whatever they say."""
    config = workbench.MptConfig(
        **MPT, no_bias=False, expansion_ratio=2, logit_scale="inv_sqrt_d_model", attn_config={"alibi_bias_max": 4}
    )
    model = workbench.MptForCausalLM(config).eval()
    block = model.transformer.blocks[0]
    assert block.attn.Wqkv.bias is not None and block.norm_1.bias is not None and block.ffn.up_proj.out_features == 64
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        scaled = model(ids).logits
        model.logit_scale = None
        torch.testing.assert_close(scaled, model(ids).logits / 32**0.5)
        weights = model(ids, output_attentions=True).attentions[0]  # ALiBi's slopes from alibi_bias_max=4
    model.save_pretrained(tmp_path)
    reloaded, info = workbench.MptForCausalLM.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert reloaded.config.attn_config["alibi_bias_max"] == 4
    default_bias_max = workbench.MptForCausalLM.from_pretrained(tmp_path, attn_config={"alibi_bias_max": 8})
    with torch.no_grad():
        torch.testing.assert_close(reloaded(ids, output_attentions=True).attentions[0], weights)
        assert not torch.allclose(default_bias_max(ids, output_attentions=True).attentions[0], weights)


def test_limits_and_unsupported_switches():
    model = workbench.MptForCausalLM(workbench.MptConfig(**{**MPT, "max_seq_len": 16})).eval()
    assert model.context_window() == model.max_total_length() == 16
    with pytest.raises(ValueError, match="at most 16"):
        model(torch.ones(1, 17, dtype=torch.long))
    cache = model(torch.ones(1, 10, dtype=torch.long), use_cache=True).past_key_values
    with pytest.raises(ValueError, match="max_seq_len=16.*cache holds 10"):
        model(torch.ones(1, 7, dtype=torch.long), past_key_values=cache)
    with pytest.raises(ValueError, match="max_new_tokens=6"):
        model.generate(torch.ones(1, 10, dtype=torch.long), max_new_tokens=7)
    for switch in ({"qk_ln": True}, {"alibi": False}, {"attn_type": "multiquery_attention"}, {"prefix_lm": True}):
        with pytest.raises(ValueError, match="not implemented here"):
            workbench.MptForCausalLM(workbench.MptConfig(**MPT, attn_config=switch))
    with pytest.raises(ValueError, match="logit_scale"):
        workbench.MptConfig(**MPT, logit_scale="sqrt")


def test_tiny_preset():
    from workbench.models.auto import tiny_config

    model = workbench.AutoModelForCausalLM.from_config(tiny_config("mpt-tiny-random")).eval()
    with torch.no_grad():
        assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)
