"""LLaMA-family parity with the reference on tiny random configs: LLaMA, Mistral (sliding window),
Qwen2 (qkv bias, per-layer sliding window), Mixtral (top-k experts), Qwen2-MoE (top-k experts plus a gated shared
expert, sparse and dense layers); rotary scaling variants; tied heads; the sequence-classification head; Qwen2-MoE's
generation and text-generation pipeline (the other variants' generation: tests/test_generation.py)."""

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
)
from parity import (
    assert_fast_path_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    assert_same_checkpoint_files,
    left_padded_batch,
    load_ours_from_reference,
    reference_model,
    varied_weights,
)
from safetensors import safe_open
from tiny_configs import LLAMA, VOCAB

import workbench

FAMILIES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", {}),
    "mistral": ("MistralConfig", "MistralForCausalLM", {"sliding_window": 4}),
    "qwen2": (
        "Qwen2Config",
        "Qwen2ForCausalLM",
        {"use_sliding_window": True, "sliding_window": 4, "max_window_layers": 1},
    ),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", {"num_local_experts": 4, "num_experts_per_tok": 2}),
    "qwen2_moe": (
        "Qwen2MoeConfig",
        "Qwen2MoeForCausalLM",
        dict(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=16, shared_expert_intermediate_size=24),
    ),
}


def tiny_reference(family: str, class_name: str | None = None, **overrides):
    """The reference's model of ``family`` (its causal LM unless ``class_name`` says otherwise), tiny."""
    config_name, lm_class, extra = FAMILIES[family]
    config = getattr(transformers, config_name)(**{**LLAMA, **extra, **overrides})
    return reference_model(class_name or lm_class, config, seed=0)


def check_forward(ref, ours):
    """Outputs at real tokens of a left-padded batch (the reference gets position ids, ours derives them)."""
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)
    assert_fast_path_matches(ours, batch, left_padded=True)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_parity_left_padded(family, tmp_path):
    ref = tiny_reference(family)
    ours, _ = load_ours_from_reference(
        ref, workbench.AutoModelForCausalLM.model_class(workbench.AutoConfig.for_model(family)), tmp_path
    )
    assert type(ours.config).__name__ == FAMILIES[family][0]
    assert type(ours.config).model_type == family
    check_forward(ref, ours)
    assert_reference_loads_ours(ours, ref, tmp_path)


@pytest.mark.parametrize("family", FAMILIES)
def test_auto_classes_and_config_round_trip(family, tmp_path):
    ref = tiny_reference(family)
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
    ref = tiny_reference("mixtral")
    ours, folder = load_ours_from_reference(ref, workbench.MixtralForCausalLM, tmp_path)
    ours.save_pretrained(tmp_path / "ours")
    keys = assert_same_checkpoint_files(folder, tmp_path / "ours")
    assert "model.layers.0.block_sparse_moe.experts.3.w2.weight" in keys


@pytest.mark.parametrize(
    "rope",
    [
        {"rope_type": "linear", "factor": 2.0},
        {"rope_type": "dynamic", "factor": 2.0},
        {
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 4,
        },
    ],
)
def test_rope_scaling_parity(rope, tmp_path):
    # max_position_embeddings=6 < sequence length 9: dynamic NTK scaling is active
    ref = tiny_reference("llama", rope_parameters={"rope_theta": 500.0, **rope}, max_position_embeddings=6)
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
    ref = tiny_reference("llama", tie_word_embeddings=True, attention_bias=True, mlp_bias=True, head_dim=16)
    ours, folder = load_ours_from_reference(ref, workbench.LlamaForCausalLM, tmp_path)
    assert ours.lm_head.weight is ours.model.embed_tokens.weight
    assert ours.model.layers[0].self_attn.o_proj.bias is not None
    check_forward(ref, ours)
    with safe_open(folder / "model.safetensors", "pt") as f:
        assert "lm_head.weight" not in f.keys()
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_qwen2_bias_layout():
    config = workbench.Qwen2Config(**{**LLAMA, "use_sliding_window": True, "sliding_window": 4, "max_window_layers": 1})
    model = workbench.Qwen2ForCausalLM(config)
    attention = model.model.layers[0].self_attn
    assert attention.q_proj.bias is not None and attention.o_proj.bias is None
    assert config.layer_types == ["full_attention", "sliding_attention"]
    assert [layer.self_attn.sliding_window for layer in model.model.layers] == [None, 4]


@pytest.mark.parametrize("family", ["mistral", "mixtral", "qwen2_moe"])
def test_kv_cache_matches_full_forward(family, tmp_path):
    ours, _ = load_ours_from_reference(tiny_reference(family), workbench.LlamaForCausalLM, tmp_path)
    check_kv_cache(ours, prompt_length=5)


@pytest.mark.parametrize(
    "options",
    [
        {"norm_topk_prob": True, "decoder_sparse_step": 2},  # layers 1 sparse (renormalised top-k); 0 and 2 dense
        {"mlp_only_layers": [1], "use_sliding_window": True, "sliding_window": 4, "max_window_layers": 2},
    ],
    ids=["sparse-step-2-normalised", "mlp-only-layer-and-sliding-window"],
)
def test_qwen2_moe_sparse_and_dense_layers(options, tmp_path):
    ref = varied_weights(tiny_reference("qwen2_moe", num_hidden_layers=3, **options), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    sparse = [type(layer.mlp).__name__ == "Qwen2MoeSparseMoeBlock" for layer in ours.model.layers]
    assert sparse == [type(layer.mlp).__name__ == "Qwen2MoeSparseMoeBlock" for layer in ref.model.layers]
    assert sparse == ([False, True, False] if "decoder_sparse_step" in options else [True, False, True])
    assert [layer.self_attn.sliding_window for layer in ours.model.layers] == [
        4 if kind == "sliding_attention" else None for kind in ref.config.layer_types
    ]
    check_forward(ref, ours)
    folder = assert_reference_loads_ours(ours, ref, tmp_path)
    with safe_open(folder / "model.safetensors", "pt") as f:  # the Hub's layout: one module per expert
        first_sparse = sparse.index(True)
        assert f"model.layers.{first_sparse}.mlp.experts.3.down_proj.weight" in f.keys()
        assert f"model.layers.{first_sparse}.mlp.shared_expert_gate.weight" in f.keys()


def test_qwen2_moe_generate_matches_reference(tmp_path):
    ref = varied_weights(tiny_reference("qwen2_moe"), std=0.3)  # varied, so that generated tokens vary
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    check_generate(ref, ours)


def test_qwen2_moe_text_generation_pipeline(tmp_path):
    check_text_generation_pipeline(tiny_reference("qwen2_moe", **GPT2_TOKENIZER_IDS), tmp_path)


def test_router_aux_loss_is_refused_with_labels(tmp_path):
    """The reference adds a load-balancing loss when output_router_logits is set; we say we do not."""
    config = workbench.Qwen2MoeConfig(**LLAMA, **FAMILIES["qwen2_moe"][2], output_router_logits=True)
    model = workbench.Qwen2MoeForCausalLM(config)
    ids = torch.tensor([[3, 4, 5]])
    assert model(ids).logits.shape == (1, 3, VOCAB)  # inference is unaffected
    with pytest.raises(ValueError, match="output_router_logits"):
        model(ids, labels=ids)


@pytest.mark.parametrize("family", FAMILIES)
def test_sequence_classification_parity(family, tmp_path):
    class_name = FAMILIES[family][1].replace("ForCausalLM", "ForSequenceClassification")
    ref = tiny_reference(family, class_name, num_labels=3, pad_token_id=0)
    check_sequence_classification(ref, workbench.LlamaForSequenceClassification, tmp_path)


def test_left_padding_does_not_change_a_row(tmp_path):
    ours, _ = load_ours_from_reference(tiny_reference("llama"), workbench.LlamaForCausalLM, tmp_path)
    check_left_padding_does_not_change_a_row(ours)


def test_tiny_presets_build_and_run():
    from workbench.models.auto import tiny_config
    from workbench.models.llama import TINY_PRESETS

    for preset in TINY_PRESETS:
        model = workbench.LlamaForCausalLM(tiny_config(preset))
        assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)


def test_bad_config():
    with pytest.raises(ValueError, match="multiple of num_key_value_heads"):
        workbench.LlamaConfig(num_attention_heads=4, num_key_value_heads=3, hidden_size=32)
