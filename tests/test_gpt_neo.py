"""GPT-Neo parity with the reference on tiny random configs: global and local (windowed) layers with unscaled
scores on left-padded batches, the KV cache across the window, greedy and beam generation, the
sequence-classification head, the text-generation pipeline, and the Hub checkpoint layout both ways."""

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
NEO = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_layers=2,
    num_heads=4,
    attention_types=[[["global", "local"], 1]],  # layer 0 global, layer 1 local
    window_size=4,
    max_position_embeddings=64,
    bos_token_id=1,
    eos_token_id=2,
)


def tiny_reference(class_name="GPTNeoForCausalLM", **overrides):
    return reference_model(class_name, transformers.GPTNeoConfig(**{**NEO, **overrides}), seed=0)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"attention_types": [[["local"], 2]], "window_size": 3, "intermediate_size": 48},
        {"attention_types": [[["global"], 2]], "activation_function": "gelu"},
    ],
)
def test_lm_head_parity_left_padded(options, tmp_path):
    ref = tiny_reference(**options)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    assert isinstance(ours, workbench.GPTNeoForCausalLM)
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # logits, hidden states, attentions
    assert_fast_path_matches(ours, batch, left_padded=True)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_base_model_and_config_round_trip(tmp_path):
    ref = tiny_reference("GPTNeoModel")
    ours, folder = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, workbench.GPTNeoModel)
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)
    ours.save_pretrained(tmp_path / "ours")
    mine = json.loads((tmp_path / "ours" / "config.json").read_text())
    theirs = json.loads((folder / "config.json").read_text())
    for key in ("attention_types", "attention_layers", "window_size", "num_heads", "num_layers", "hidden_size"):
        assert mine[key] == theirs[key], key
    assert ours.config.num_attention_heads == 4 and ours.config.num_hidden_layers == 2


def test_local_layers_see_only_their_window():
    model = workbench.GPTNeoForCausalLM(workbench.GPTNeoConfig(**NEO)).eval()
    with torch.no_grad():
        global_layer, local_layer = model(torch.arange(3, 12)[None], output_attentions=True).attentions
    assert bool((global_layer[0, :, 8] > 0).all())  # the last query sees all 9 tokens
    assert bool((local_layer[0, :, 8, :5] == 0).all()) and bool((local_layer[0, :, 8, 5:] > 0).all())  # only 4


def test_kv_cache_matches_full_forward(tmp_path):
    """Token by token past the local window, on a left-padded batch (compared at real tokens)."""
    ours, _ = load_ours_from_reference(varied_weights(tiny_reference(), std=0.3), workbench.GPTNeoForCausalLM, tmp_path)
    check_kv_cache(ours, prompt_length=3)


def test_generate_matches_reference(tmp_path):
    ref = varied_weights(tiny_reference(), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.GPTNeoForCausalLM, tmp_path)
    check_generate(ref, ours)


def test_sequence_classification_parity(tmp_path):
    ref = tiny_reference("GPTNeoForSequenceClassification", pad_token_id=0, num_labels=3)
    check_sequence_classification(ref, workbench.GPTNeoForSequenceClassification, tmp_path)


def test_text_generation_pipeline(tmp_path):
    check_text_generation_pipeline(tiny_reference(**GPT2_TOKENIZER_IDS), tmp_path)


def test_hub_checkpoint_with_mask_buffers(tmp_path):
    """Checkpoints saved in 2021 carry each layer's causal-mask buffers; they are dropped silently."""
    from safetensors.torch import save_file

    ref = tiny_reference()
    state = {k: v.contiguous() for k, v in ref.state_dict().items() if k != "lm_head.weight"}
    for i in range(2):
        state[f"transformer.h.{i}.attn.attention.bias"] = torch.tril(torch.ones(1, 1, 64, 64, dtype=torch.bool))
        state[f"transformer.h.{i}.attn.attention.masked_bias"] = torch.tensor(-1e9)
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    ref.config.save_pretrained(tmp_path)
    ours, info = workbench.GPTNeoForCausalLM.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []


def test_errors():
    with pytest.raises(ValueError, match="describes 4 layers, but num_layers=2"):
        workbench.GPTNeoConfig(**{**NEO, "attention_types": [[["global", "local"], 2]]})
    with pytest.raises(ValueError, match="'global' or 'local'"):
        workbench.GPTNeoConfig(**{**NEO, "attention_types": [[["global", "sparse"], 1]]})
    model = workbench.GPTNeoForCausalLM(workbench.GPTNeoConfig(**{**NEO, "max_position_embeddings": 16})).eval()
    with pytest.raises(ValueError, match="position embeddings for at most 16"):
        model(torch.ones(1, 17, dtype=torch.long))
    cache = model(torch.ones(1, 10, dtype=torch.long), use_cache=True).past_key_values
    with pytest.raises(ValueError, match="16 positions.*cache holds 10"):
        model(torch.ones(1, 7, dtype=torch.long), past_key_values=cache)


def test_tiny_preset():
    from workbench.models.auto import tiny_config

    model = workbench.AutoModelForCausalLM.from_config(tiny_config("gpt-neo-tiny-random"))
    assert model.config.attention_layers == ["global", "local"]
    assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)
