"""GPT-NeoX (Pythia) and GPT-NeoX-Japanese parity with the reference on tiny random configs: partial rotary, the
parallel-residual switch, the per-head fused query_key_value, left-padded logits/hidden states/attentions, the KV
cache, greedy and beam generation, the sequence-classification head, the text-generation pipeline, and the Hub
checkpoint layout (embed_out, old mask buffers) both ways."""

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
from tiny_rotary_decoders import (
    GPT_NEOX,
    GPT_NEOX_JAPANESE,
    VOCAB,
    check_text_generation_pipeline,
    tiny_reference,
    varied_pair,
)

import workbench


@pytest.mark.parametrize(
    "family, class_name, options",
    [
        (GPT_NEOX, "GPTNeoXForCausalLM", {}),  # Pythia: parallel residual, biases, a part of each head rotates
        (GPT_NEOX, "GPTNeoXForCausalLM", {"use_parallel_residual": False, "attention_bias": False, "rotary_pct": 0.25}),
        (GPT_NEOX, "GPTNeoXForCausalLM", {"rotary_pct": 1.0, "tie_word_embeddings": True, "hidden_act": "gelu_new"}),
        (GPT_NEOX, "GPTNeoXForCausalLM", {"rotary_emb_base": 500.0, "rope_scaling": {"type": "linear", "factor": 2.0}}),
        (GPT_NEOX_JAPANESE, "GPTNeoXJapaneseForCausalLM", {}),
        (GPT_NEOX_JAPANESE, "GPTNeoXJapaneseForCausalLM", {"rotary_pct": 0.5, "tie_word_embeddings": False}),
    ],
)
def test_lm_head_parity_left_padded(family, class_name, options, tmp_path):
    ref = tiny_reference(family, class_name, **options)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    assert type(ours).__name__ == class_name
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # logits, hidden states, attentions at real tokens
    assert_fast_path_matches(ours, batch, left_padded=True)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_japanese_switches():
    """GPT-NeoX-Japanese: no biases but the last layer's attention output bias, a sequential block, no dropout on
    the embeddings, the MLP width from intermediate_multiple_size, the bare model under its own name."""
    config = workbench.GPTNeoXJapaneseConfig(**GPT_NEOX_JAPANESE[1])
    model = workbench.GPTNeoXJapaneseForCausalLM(config)
    first, last = model.gpt_neox_japanese.layers
    assert first.attention.dense_bias is None and last.attention.dense_bias.shape == (32,)
    assert first.attention.query_key_value.bias is None and first.mlp.dense_h_to_4h.bias is None
    assert first.mlp.dense_h_to_4h.out_features == 64 and not first.use_parallel_residual
    assert model.gpt_neox_japanese.emb_dropout.p == 0.0 and config.rotary_pct == 1.0
    assert model.embed_out.weight is model.gpt_neox_japanese.embed_in.weight  # tied by default
    assert "intermediate_size" not in json.loads(config.to_json_string())


def test_base_model_and_config_round_trip(tmp_path):
    ref = tiny_reference(GPT_NEOX, "GPTNeoXModel", rotary_emb_base=500.0)
    ours, folder = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, workbench.GPTNeoXModel)
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)
    ours.save_pretrained(tmp_path / "ours")
    mine = json.loads((tmp_path / "ours" / "config.json").read_text())
    theirs = json.loads((folder / "config.json").read_text())
    for key in ("rope_parameters", "use_parallel_residual", "attention_bias", "intermediate_size", "layer_norm_eps"):
        assert mine[key] == theirs[key], key
    # the v4 keys of Pythia's config.json are read too
    old = workbench.GPTNeoXConfig(rotary_pct=0.25, rotary_emb_base=10000, hidden_size=64, num_attention_heads=4)
    assert old.rope_parameters == {"rope_type": "default", "rope_theta": 10000, "partial_rotary_factor": 0.25}
    assert (old.rotary_pct, old.rotary_emb_base) == (0.25, 10000)


def test_hub_checkpoint_layout(tmp_path):
    """The Hub's keys (embed_out, not the reference v5's in-memory lm_head), and older checkpoints' per-layer
    buffers (causal mask, rotary frequencies), which are dropped silently; a bare model's checkpoint loads
    into the LM with only embed_out new."""
    from safetensors.torch import save_file

    ref = tiny_reference(GPT_NEOX, "GPTNeoXForCausalLM")
    ours, folder = load_ours_from_reference(ref, workbench.GPTNeoXForCausalLM, tmp_path)
    ours.save_pretrained(tmp_path / "ours")
    keys = assert_same_checkpoint_files(folder, tmp_path / "ours")
    assert "embed_out.weight" in keys and "gpt_neox.layers.0.attention.query_key_value.bias" in keys

    state = {k: v.contiguous() for k, v in ours.state_dict().items()}
    for i in range(2):
        state[f"gpt_neox.layers.{i}.attention.bias"] = torch.tril(torch.ones(1, 1, 64, 64, dtype=torch.bool))
        state[f"gpt_neox.layers.{i}.attention.masked_bias"] = torch.tensor(-1e9)
        state[f"gpt_neox.layers.{i}.attention.rotary_emb.inv_freq"] = torch.ones(2)
    old = tmp_path / "old"
    old.mkdir()
    save_file(state, old / "model.safetensors", metadata={"format": "pt"})
    ours.config.save_pretrained(old)
    _, info = workbench.GPTNeoXForCausalLM.from_pretrained(old, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []

    ours.gpt_neox.save_pretrained(tmp_path / "bare")
    _, info = workbench.AutoModelForCausalLM.from_pretrained(tmp_path / "bare", output_loading_info=True)
    assert info["missing_keys"] == ["embed_out.weight"] and info["unexpected_keys"] == []


@pytest.mark.parametrize("parallel", [True, False])
def test_kv_cache_matches_full_forward(parallel, tmp_path):
    _, ours = varied_pair(GPT_NEOX, "GPTNeoXForCausalLM", tmp_path, use_parallel_residual=parallel)
    check_kv_cache(ours)


@pytest.mark.parametrize(
    "family, class_name", [(GPT_NEOX, "GPTNeoXForCausalLM"), (GPT_NEOX_JAPANESE, "GPTNeoXJapaneseForCausalLM")]
)
def test_generate_matches_reference(family, class_name, tmp_path):
    check_generate(*varied_pair(family, class_name, tmp_path))


def test_sequence_classification_parity(tmp_path):
    ref = tiny_reference(GPT_NEOX, "GPTNeoXForSequenceClassification", pad_token_id=0, num_labels=3)
    check_sequence_classification(ref, workbench.GPTNeoXForSequenceClassification, tmp_path)


def test_text_generation_pipeline(tmp_path):
    check_text_generation_pipeline(GPT_NEOX, "GPTNeoXForCausalLM", tmp_path)


def test_tiny_presets_and_errors():
    from workbench.models.auto import tiny_config
    from workbench.models.gpt_neox import TINY_PRESETS

    for preset in TINY_PRESETS:
        model = workbench.AutoModelForCausalLM.from_config(tiny_config(preset))
        assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)
    with pytest.raises(ValueError, match="not a multiple of num_attention_heads"):
        workbench.GPTNeoXConfig(hidden_size=30, num_attention_heads=4)
