"""GPTBigCode (StarCoder) parity with the reference on tiny random configs: multi-query attention (one shared
key/value head) and the multi-head layout of c_attn, left-padded batches, the KV cache, greedy and beam
generation, the sequence-classification head, the text-generation pipeline, checkpoints both ways."""

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
)
from parity import (
    assert_fast_path_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    left_padded_batch,
    load_ours_from_reference,
    reference_model,
    varied_weights,
)

import workbench

VOCAB = 99
BIGCODE = dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=1, eos_token_id=2)


def tiny_reference(class_name="GPTBigCodeForCausalLM", **overrides):
    return reference_model(class_name, transformers.GPTBigCodeConfig(**{**BIGCODE, **overrides}), seed=0)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"multi_query": False, "n_inner": 48},
        {"scale_attn_weights": False, "activation_function": "gelu", "tie_word_embeddings": False},
    ],
)
def test_lm_head_parity_left_padded(options, tmp_path):
    ref = tiny_reference(**options)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    assert isinstance(ours, workbench.GPTBigCodeForCausalLM)
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # logits, hidden states, attentions
    assert_fast_path_matches(ours, batch, left_padded=True)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_base_model_and_config_round_trip(tmp_path):
    ref = tiny_reference("GPTBigCodeModel")
    ours, folder = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, workbench.GPTBigCodeModel)
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)
    ours.save_pretrained(tmp_path / "ours")
    mine = json.loads((tmp_path / "ours" / "config.json").read_text())
    theirs = json.loads((folder / "config.json").read_text())
    for key in ("multi_query", "num_key_value_heads", "n_embd", "n_head", "activation_function", "architectures"):
        assert mine[key] == theirs[key], key


@pytest.mark.parametrize("multi_query", [True, False])
def test_kv_cache_matches_full_forward(multi_query, tmp_path):
    ref = varied_weights(tiny_reference(multi_query=multi_query), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.GPTBigCodeForCausalLM, tmp_path)
    _, cache = check_kv_cache(ours, prompt_length=5)
    heads = 1 if multi_query else 4
    assert cache[0][0].shape == (3, heads, 9, 8)  # multi-query: one key head in the cache, whatever n_head


def test_generate_matches_reference(tmp_path):
    ref = varied_weights(tiny_reference(), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.GPTBigCodeForCausalLM, tmp_path)
    check_generate(ref, ours)


def test_sequence_classification_parity(tmp_path):
    ref = tiny_reference("GPTBigCodeForSequenceClassification", pad_token_id=0, num_labels=3)
    check_sequence_classification(ref, workbench.GPTBigCodeForSequenceClassification, tmp_path)


def test_sequence_classification_of_right_padded_inputs_embeds(tmp_path):
    """With inputs_embeds the pad ids are unknown: the attention mask says where each row ends."""
    ref = tiny_reference("GPTBigCodeForSequenceClassification", pad_token_id=0, num_labels=2)
    ours, _ = load_ours_from_reference(ref, workbench.GPTBigCodeForSequenceClassification, tmp_path)
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    with torch.no_grad():
        by_ids = ours(ids, attention_mask=(ids != 0).long()).logits
        by_embeds = ours(inputs_embeds=ours.transformer.wte(ids), attention_mask=(ids != 0).long()).logits
    torch.testing.assert_close(by_embeds, by_ids)


def test_text_generation_pipeline(tmp_path):
    ref = tiny_reference(**GPT2_TOKENIZER_IDS)
    check_text_generation_pipeline(ref, tmp_path, prompts=("def fib(n):", "import numpy as np\nx ="))


def test_errors():
    with pytest.raises(ValueError, match="add_cross_attention=True"):
        workbench.GPTBigCodeConfig(**BIGCODE, add_cross_attention=True)
    model = workbench.GPTBigCodeForCausalLM(workbench.GPTBigCodeConfig(**{**BIGCODE, "n_positions": 16})).eval()
    with pytest.raises(ValueError, match="position embeddings for at most 16"):
        model(torch.ones(1, 17, dtype=torch.long))
    cache = model(torch.ones(1, 10, dtype=torch.long), use_cache=True).past_key_values
    with pytest.raises(ValueError, match="16 positions.*cache holds 10"):
        model(torch.ones(1, 7, dtype=torch.long), past_key_values=cache)


def test_tiny_preset():
    from workbench.models.auto import tiny_config

    model = workbench.AutoModelForCausalLM.from_config(tiny_config("gpt-bigcode-tiny-random"))
    assert model.transformer.h[0].attn.c_attn.out_features == 32 + 2 * 8  # queries + one key and one value head
    assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)
