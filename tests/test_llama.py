"""LLaMA-family parity with the reference on tiny random configs: LLaMA, Mistral (sliding window),
Qwen2 (qkv bias, per-layer sliding window), Mixtral (top-k experts); rotary scaling variants; tied heads."""

import json

import pytest
import torch
import transformers
from safetensors import safe_open

import workbench
from parity import assert_reference_loads_ours, load_ours_from_reference
from test_gpt2 import assert_decoder_close, left_padded_batch

VOCAB = 99
COMMON = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
              intermediate_size=48, max_position_embeddings=64, bos_token_id=1, eos_token_id=2)
FAMILIES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", {}),
    "mistral": ("MistralConfig", "MistralForCausalLM", {"sliding_window": 4}),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", {"use_sliding_window": True, "sliding_window": 4, "max_window_layers": 1}),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", {"num_local_experts": 4, "num_experts_per_tok": 2}),
}


def reference(family: str, **overrides):
    config_name, class_name, extra = FAMILIES[family]
    config = getattr(transformers, config_name)(**{**COMMON, **extra, **overrides})
    torch.manual_seed(0)
    return getattr(transformers, class_name)._from_config(config, attn_implementation="eager").eval()


def check_forward(ref, ours, seed=0):
    ids, mask, positions = left_padded_batch(seed)
    with torch.no_grad():
        expected = ref(ids, attention_mask=mask, position_ids=positions, output_attentions=True, output_hidden_states=True)
        got = ours(ids, attention_mask=mask, output_attentions=True, output_hidden_states=True)
        fast = ours(ids, attention_mask=mask)
    assert_decoder_close(expected, got, mask)
    torch.testing.assert_close(fast.logits[mask.bool()], got.logits[mask.bool()], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_parity_left_padded(family, tmp_path):
    ref = reference(family)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM.model_class(
        workbench.AutoConfig.for_model(family)), tmp_path)
    assert type(ours.config).__name__ == FAMILIES[family][0]
    assert type(ours.config).model_type == family
    check_forward(ref, ours)
    assert_reference_loads_ours(ours, ref, tmp_path)


@pytest.mark.parametrize("family", FAMILIES)
def test_auto_classes_and_config_round_trip(family, tmp_path):
    ref = reference(family)
    ref.save_pretrained(tmp_path)
    model = workbench.AutoModelForCausalLM.from_pretrained(tmp_path)
    assert isinstance(model, workbench.LlamaForCausalLM)
    base = workbench.AutoModel.from_pretrained(tmp_path)
    assert isinstance(base, workbench.LlamaModel)
    model.save_pretrained(tmp_path / "ours")
    ours_cfg = json.loads((tmp_path / "ours" / "config.json").read_text())
    theirs_cfg = json.loads((tmp_path / "config.json").read_text())
    assert ours_cfg["model_type"] == family
    for key in ("hidden_size", "num_key_value_heads", "rope_parameters", "sliding_window", "rms_norm_eps", "head_dim"):
        if theirs_cfg.get(key) is not None:  # (Mixtral's file keeps head_dim None; ours writes the value)
            assert ours_cfg[key] == theirs_cfg[key], key
    reloaded = getattr(transformers, FAMILIES[family][0]).from_pretrained(tmp_path / "ours")
    assert reloaded.num_key_value_heads == 2


def test_mixtral_checkpoint_uses_per_expert_keys(tmp_path):
    ref = reference("mixtral")
    ours, folder = load_ours_from_reference(ref, workbench.MixtralForCausalLM, tmp_path)
    ours.save_pretrained(tmp_path / "ours")
    with safe_open(folder / "model.safetensors", "pt") as theirs, safe_open(tmp_path / "ours" / "model.safetensors", "pt") as mine:
        assert sorted(theirs.keys()) == sorted(mine.keys())
        assert "model.layers.0.block_sparse_moe.experts.3.w2.weight" in mine.keys()
        for key in theirs.keys():
            assert torch.equal(theirs.get_tensor(key), mine.get_tensor(key)), key


@pytest.mark.parametrize("rope", [
    {"rope_type": "linear", "factor": 2.0},
    {"rope_type": "dynamic", "factor": 2.0},
    {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
     "original_max_position_embeddings": 4},
])
def test_rope_scaling_parity(rope, tmp_path):
    # max_position_embeddings=6 < sequence length 9: dynamic NTK scaling is active
    ref = reference("llama", rope_parameters={"rope_theta": 500.0, **rope}, max_position_embeddings=6)
    ours, _ = load_ours_from_reference(ref, workbench.LlamaForCausalLM, tmp_path)
    assert ours.config.rope_parameters["rope_type"] == rope["rope_type"]
    check_forward(ref, ours)


def test_legacy_rope_keys_are_read():
    config = workbench.LlamaConfig(rope_theta=500000.0, rope_scaling={"type": "linear", "factor": 4.0})
    assert config.rope_parameters == {"rope_type": "linear", "factor": 4.0, "rope_theta": 500000.0}
    assert config.rope_theta == 500000.0
    assert workbench.MixtralConfig().rope_theta == 1e6
    with pytest.raises(ValueError, match="rope_type 'yarnish' is not implemented"):
        workbench.LlamaConfig(rope_scaling={"rope_type": "yarnish", "factor": 2.0})
    with pytest.raises(ValueError, match="needs \\['factor'\\]"):
        workbench.LlamaConfig(rope_parameters={"rope_type": "linear"})


def test_tied_head_and_attention_bias(tmp_path):
    ref = reference("llama", tie_word_embeddings=True, attention_bias=True, mlp_bias=True, head_dim=16)
    ours, folder = load_ours_from_reference(ref, workbench.LlamaForCausalLM, tmp_path)
    assert ours.lm_head.weight is ours.model.embed_tokens.weight
    assert ours.model.layers[0].self_attn.o_proj.bias is not None
    check_forward(ref, ours)
    with safe_open(folder / "model.safetensors", "pt") as f:
        assert "lm_head.weight" not in f.keys()
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_qwen2_bias_layout():
    config = workbench.Qwen2Config(**{**COMMON, "use_sliding_window": True, "sliding_window": 4, "max_window_layers": 1})
    model = workbench.Qwen2ForCausalLM(config)
    attention = model.model.layers[0].self_attn
    assert attention.q_proj.bias is not None and attention.o_proj.bias is None
    assert config.layer_types == ["full_attention", "sliding_attention"]
    assert [layer.self_attn.sliding_window for layer in model.model.layers] == [None, 4]


@pytest.mark.parametrize("family", ["mistral", "mixtral"])
def test_kv_cache_matches_full_forward(family, tmp_path):
    ours, _ = load_ours_from_reference(reference(family), workbench.LlamaForCausalLM, tmp_path)
    ids, mask, _ = left_padded_batch()
    with torch.no_grad():
        full = ours(ids, attention_mask=mask).logits
        cache = ours(ids[:, :5], attention_mask=mask[:, :5], use_cache=True).past_key_values
        for t in range(5, ids.shape[1]):  # one token at a time, as in generation
            step = ours(ids[:, t:t + 1], attention_mask=mask[:, :t + 1], past_key_values=cache)
            torch.testing.assert_close(step.logits[:, 0], full[:, t], atol=1e-5, rtol=1e-4)


def test_left_padding_does_not_change_a_row(tmp_path):
    ours, _ = load_ours_from_reference(reference("llama"), workbench.LlamaForCausalLM, tmp_path)
    ids, mask, _ = left_padded_batch()
    with torch.no_grad():
        torch.testing.assert_close(ours(ids, attention_mask=mask).logits[2, 5:], ours(ids[2:, 5:]).logits[0],
                                   atol=1e-5, rtol=1e-4)


def test_tiny_presets_build_and_run():
    from workbench.models.llama import TINY_PRESETS, tiny_config

    for preset in TINY_PRESETS:
        model = workbench.LlamaForCausalLM(tiny_config(preset))
        assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)


def test_bad_config():
    with pytest.raises(ValueError, match="multiple of num_key_value_heads"):
        workbench.LlamaConfig(num_attention_heads=4, num_key_value_heads=3, hidden_size=32)
