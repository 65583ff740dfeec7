"""GPT-J and CodeGen (one file, gptj.py) parity with the reference on tiny random configs: interleaved rotary on
part of each head, the parallel block, CodeGen's fused qkv_proj, left-padded batches, the KV cache, greedy and
beam generation, GPT-J's sequence-classification head, the text-generation pipeline, checkpoints both ways."""

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
from workbench import layers

VOCAB = 99
GPTJ = dict(
    vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, rotary_dim=4, n_positions=64, bos_token_id=1, eos_token_id=2
)
FAMILIES = {  # model_type -> (reference config, reference LM class, our LM class)
    "gptj": ("GPTJConfig", "GPTJForCausalLM", "GPTJForCausalLM"),
    "codegen": ("CodeGenConfig", "CodeGenForCausalLM", "CodeGenForCausalLM"),
}


def tiny_reference(family="gptj", class_name=None, **overrides):
    config_name, lm_class, _ = FAMILIES[family]
    config = getattr(transformers, config_name)(**{**GPTJ, **overrides})
    return reference_model(class_name or lm_class, config, seed=0)


@pytest.mark.parametrize(
    "family, options",
    [
        ("gptj", {}),
        ("gptj", {"rotary_dim": 8, "n_inner": 48, "tie_word_embeddings": True}),  # every channel rotates; tied head
        ("codegen", {}),
        ("codegen", {"n_head": 8, "rotary_dim": 2, "activation_function": "gelu"}),  # 2 heads per qkv shard
    ],
)
def test_lm_head_parity_left_padded(family, options, tmp_path):
    ref = tiny_reference(family, **options)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    assert isinstance(ours, getattr(workbench, FAMILIES[family][2])) and ours.config.model_type == family
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # logits, hidden states, attentions
    assert_fast_path_matches(ours, batch, left_padded=True)
    assert_reference_loads_ours(ours, ref, tmp_path)  # also: config.json names CodeGenForCausalLM for CodeGen


@pytest.mark.parametrize("family", FAMILIES)
def test_base_model_and_config_round_trip(family, tmp_path):
    ref = tiny_reference(family, class_name="GPTJModel" if family == "gptj" else "CodeGenModel")
    ours, folder = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, workbench.GPTJModel)
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)
    ours.save_pretrained(tmp_path / "ours")
    mine = json.loads((tmp_path / "ours" / "config.json").read_text())
    theirs = json.loads((folder / "config.json").read_text())
    for key in ("model_type", "rotary_dim", "n_embd", "n_head", "n_positions", "tie_word_embeddings", "architectures"):
        assert mine[key] == theirs[key], key
    assert ("n_ctx" in mine) == (family == "codegen")


def test_interleaved_rotary_pairs_neighbouring_channels():
    """Channels (0, 1) turn together by position * inv_freq[0], (2, 3) by position * inv_freq[1]; the channels
    past rotary_dim do not turn."""
    rotary = layers.RotaryEmbedding({"rope_type": "default", "rope_theta": 10000.0}, 4, 16)
    cos, sin = rotary(torch.tensor([[3]]), torch.float32)  # position 3
    q = torch.tensor([1.0, 0.0, 1.0, 0.0, 5.0, 6.0])[None, None, None]  # (1, 1, 1, 6): 4 rotated + 2 passed
    turned, _ = layers.apply_partial_rotary(q, q, cos, sin, interleaved=True)
    angles = torch.tensor([3.0, 3.0 / 100.0])  # inv_freq = 1 / 10000^(0/4), 1 / 10000^(2/4)
    expected = torch.stack((angles.cos(), angles.sin()), dim=-1).flatten()  # unit vectors turned by each angle
    torch.testing.assert_close(turned[0, 0, 0], torch.cat((expected, torch.tensor([5.0, 6.0]))))


@pytest.mark.parametrize("family", FAMILIES)
def test_kv_cache_matches_full_forward(family, tmp_path):
    ours, _ = load_ours_from_reference(
        varied_weights(tiny_reference(family), std=0.3), workbench.GPTJForCausalLM, tmp_path
    )
    check_kv_cache(ours, prompt_length=5)


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_matches_reference(family, tmp_path):
    ref = varied_weights(tiny_reference(family), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    check_generate(ref, ours)


def test_sequence_classification_parity(tmp_path):
    ref = tiny_reference(class_name="GPTJForSequenceClassification", pad_token_id=0, num_labels=3)
    check_sequence_classification(ref, workbench.GPTJForSequenceClassification, tmp_path)


def test_codegen_has_no_classification_head():
    config = workbench.AutoConfig.for_model("codegen", **GPTJ)
    with pytest.raises(ValueError, match="sequence-classification head"):
        workbench.AutoModelForSequenceClassification.from_config(config)


@pytest.mark.parametrize("family", FAMILIES)
def test_text_generation_pipeline(family, tmp_path):
    ref = tiny_reference(family, **GPT2_TOKENIZER_IDS)
    check_text_generation_pipeline(ref, tmp_path, prompts=("def hello_world():", "The quick brown fox jumps over"))


def test_hub_checkpoint_with_mask_buffers(tmp_path):
    """Older GPT-J checkpoints carry attn.bias / attn.masked_bias, CodeGen's attn.causal_mask: dropped silently."""
    from safetensors.torch import save_file

    ref = tiny_reference("codegen")
    state = {k: v.contiguous() for k, v in ref.state_dict().items()}
    for i in range(2):
        state[f"transformer.h.{i}.attn.causal_mask"] = torch.tril(torch.ones(1, 1, 64, 64, dtype=torch.bool))
        state[f"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e9)
        state[f"transformer.h.{i}.attn.bias"] = torch.tril(torch.ones(1, 1, 64, 64, dtype=torch.bool))
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    ref.config.save_pretrained(tmp_path)
    ours, info = workbench.CodeGenForCausalLM.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []


def test_errors():
    with pytest.raises(ValueError, match="rotary_dim=3 must be even"):
        workbench.GPTJConfig(**{**GPTJ, "rotary_dim": 3})
    with pytest.raises(ValueError, match="at most the head size 8"):
        workbench.CodeGenConfig(**{**GPTJ, "rotary_dim": 16})
    model = workbench.GPTJForCausalLM(workbench.GPTJConfig(**{**GPTJ, "n_positions": 16})).eval()
    with pytest.raises(ValueError, match="position embeddings for at most 16"):
        model(torch.ones(1, 17, dtype=torch.long))
    cache = model(torch.ones(1, 10, dtype=torch.long), use_cache=True).past_key_values
    with pytest.raises(ValueError, match="16 positions.*cache holds 10"):
        model(torch.ones(1, 7, dtype=torch.long), past_key_values=cache)


def test_rotary_dim_none_rotates_the_whole_head():
    """rotary_dim=None (v4 configs allowed it; v5 refuses it): every channel of each head turns."""
    torch.manual_seed(0)
    whole = workbench.GPTJForCausalLM(workbench.GPTJConfig(**{**GPTJ, "rotary_dim": 8})).eval()
    unset = workbench.GPTJForCausalLM(workbench.GPTJConfig(**{**GPTJ, "rotary_dim": None})).eval()
    unset.load_state_dict(whole.state_dict())
    ids = left_padded_batch(VOCAB)["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(unset(ids).logits, whole(ids).logits)


def test_tiny_presets():
    from workbench.models.auto import tiny_config

    for preset, config_class in (("gptj-tiny-random", "GPTJConfig"), ("codegen-tiny-random", "CodeGenConfig")):
        model = workbench.AutoModelForCausalLM.from_config(tiny_config(preset))
        assert type(model.config).__name__ == config_class
        assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)
