"""Gemma and Gemma 2 parity with the reference on tiny random configs: RMSNorm with (1 + weight), embeddings scaled by
sqrt(hidden), the GeGLU MLP, head_dim independent of hidden_size; Gemma 2's attention and final logit soft-capping,
alternating sliding/global layers, sandwich norms and query_pre_attn_scalar. Left-padded logits/hidden states/
attentions, the KV cache, greedy and beam generation, the sequence-classification head, the text-generation
pipeline, checkpoints both ways."""

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
    assert_gradient_checkpointing_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    left_padded_batch,
    load_ours_from_reference,
    varied_weights,
)
from tiny_rotary_decoders import VOCAB, tiny_reference, varied_pair

import workbench

_COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,  # 4 heads of 16 channels: 64 > hidden_size, as in the real models
    intermediate_size=48,
    max_position_embeddings=64,
)
GEMMA = ("GemmaConfig", _COMMON)
# small soft caps, so that the tanh bends the varied weights' scores and logits (the defaults are 50 and 30)
GEMMA2 = (
    "Gemma2Config",
    dict(_COMMON, sliding_window=4, query_pre_attn_scalar=12, attn_logit_softcapping=2.0, final_logit_softcapping=3.0),
)


def hub_class(family: tuple[str, dict], head: str) -> str:
    """The reference's class of ``family`` with ``head``: (Gemma2Config, ...), ForCausalLM -> Gemma2ForCausalLM."""
    return family[0].removesuffix("Config") + head


@pytest.mark.parametrize(
    "family, options",
    [
        (GEMMA, {}),
        (GEMMA, {"num_key_value_heads": 1, "rope_theta": 500.0, "tie_word_embeddings": False}),  # Gemma-2b's MQA
        (GEMMA2, {}),  # layers 0 sliding (window 4 < 9 tokens), 1 global
        (GEMMA2, {"attn_logit_softcapping": None, "layer_types": ["full_attention", "sliding_attention"]}),
    ],
    ids=["gemma", "gemma-multi-query", "gemma2", "gemma2-no-attention-softcap"],
)
def test_lm_head_parity_left_padded(family, options, tmp_path):
    ref = varied_weights(tiny_reference(family, hub_class(family, "ForCausalLM"), **options), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    assert isinstance(ours, workbench.GemmaForCausalLM) and type(ours.config).__name__ == family[0]
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # logits, hidden states, attentions at real tokens
    assert_fast_path_matches(ours, batch, left_padded=True)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_gemma2_switches():
    model = workbench.Gemma2ForCausalLM(workbench.Gemma2Config(**{**GEMMA2[1], "num_hidden_layers": 3}))
    assert model.config.layer_types == ["sliding_attention", "full_attention", "sliding_attention"]
    assert [layer.self_attn.sliding_window for layer in model.model.layers] == [4, None, 4]
    attention = model.model.layers[0].self_attn
    assert attention.scale == 12**-0.5 and attention.softcap == 2.0
    assert hasattr(model.model.layers[0], "pre_feedforward_layernorm")
    gemma = workbench.GemmaForCausalLM(workbench.GemmaConfig(**GEMMA[1]))
    assert gemma.model.layers[0].self_attn.scale == 16**-0.5 and gemma.model.layers[0].self_attn.softcap is None
    assert not hasattr(gemma.model.layers[0], "pre_feedforward_layernorm")
    assert gemma.lm_head.weight is gemma.model.embed_tokens.weight  # tied by default


@pytest.mark.parametrize("family", [GEMMA, GEMMA2], ids=["gemma", "gemma2"])
def test_base_model_and_config_round_trip(family, tmp_path):
    ref = tiny_reference(family, hub_class(family, "Model"))
    ours, folder = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, workbench.GemmaModel)
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)
    back = assert_reference_loads_ours(ours, ref, tmp_path)
    mine = json.loads((back / "config.json").read_text())
    theirs = json.loads((folder / "config.json").read_text())
    assert mine["model_type"] == theirs["model_type"]
    for key in theirs:
        if key != "transformers_version":
            assert mine[key] == theirs[key], key


def test_legacy_activation_name():
    """The first Gemma files say hidden_act "gelu" and mean the tanh approximation; so does the reference."""
    assert workbench.GemmaConfig(hidden_act="gelu").hidden_act == "gelu_pytorch_tanh"
    assert transformers.GemmaConfig(hidden_act="gelu").hidden_act == "gelu_pytorch_tanh"
    assert workbench.Gemma2Config(hidden_activation="gelu").activation == "gelu"  # Gemma 2 keeps its exact name


def test_embedding_scale_rounds_to_the_dtype(tmp_path):
    """In bfloat16 the reference multiplies by sqrt(hidden) rounded to bfloat16 (sqrt(32) = 5.657 -> 5.656)."""
    ref = tiny_reference(GEMMA, "GemmaModel")
    ours, _ = load_ours_from_reference(ref, workbench.GemmaModel, tmp_path)
    ids = left_padded_batch(VOCAB)["input_ids"]
    with torch.no_grad():
        expected = ref.to(torch.bfloat16).embed_tokens(ids)
        got = ours.to(torch.bfloat16).embed_tokens(ids)
    assert torch.equal(got, expected)


@pytest.mark.parametrize("family", [GEMMA, GEMMA2], ids=["gemma", "gemma2"])
def test_kv_cache_matches_full_forward(family, tmp_path):
    _, ours = varied_pair(family, hub_class(family, "ForCausalLM"), tmp_path)
    check_kv_cache(ours)


@pytest.mark.parametrize("family", [GEMMA, GEMMA2], ids=["gemma", "gemma2"])
def test_generate_matches_reference(family, tmp_path):
    """7-token prompts and 8 new tokens: Gemma 2's window of 4 slides all the way."""
    check_generate(*varied_pair(family, hub_class(family, "ForCausalLM"), tmp_path))


@pytest.mark.parametrize("family", [GEMMA, GEMMA2], ids=["gemma", "gemma2"])
def test_sequence_classification_parity(family, tmp_path):
    ref = tiny_reference(family, hub_class(family, "ForSequenceClassification"), num_labels=3)
    check_sequence_classification(ref, workbench.GemmaForSequenceClassification, tmp_path)


@pytest.mark.parametrize("family", [GEMMA, GEMMA2], ids=["gemma", "gemma2"])
def test_text_generation_pipeline(family, tmp_path):
    check_text_generation_pipeline(
        tiny_reference(family, hub_class(family, "ForCausalLM"), **GPT2_TOKENIZER_IDS), tmp_path
    )


def test_gradient_checkpointing_replays_attention_dropout():
    """Training Gemma 2 (soft-capped attention: the eager path, with dropout) gives the same loss and gradients with
    checkpointed blocks."""
    torch.manual_seed(0)
    model = workbench.Gemma2ForCausalLM(workbench.Gemma2Config(**GEMMA2[1], attention_dropout=0.1))
    batch = left_padded_batch(VOCAB)
    batch["labels"] = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    assert_gradient_checkpointing_matches(model, batch)


def test_tiny_presets_and_errors():
    from workbench.models.auto import tiny_config
    from workbench.models.gemma import TINY_PRESETS

    for preset in TINY_PRESETS:
        model = workbench.AutoModelForCausalLM.from_config(tiny_config(preset))
        assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)
    with pytest.raises(ValueError, match="multiple of num_key_value_heads"):
        workbench.GemmaConfig(num_attention_heads=4, num_key_value_heads=3)
    with pytest.raises(ValueError, match="use_bidirectional_attention"):
        workbench.GemmaConfig(use_bidirectional_attention=True)
    with pytest.raises(ValueError, match="layer_types lists 1 layers"):
        workbench.Gemma2Config(num_hidden_layers=2, layer_types=["full_attention"])
