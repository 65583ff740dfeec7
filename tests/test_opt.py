"""OPT, XGLM and BioGPT (workbench/models/opt.py) against the reference on tiny random configs: left-padded
logits, hidden states and attentions (pre-LN and opt-350m's post-LN with projected embeddings, no biases),
the KV cache, greedy and beam generation, the sequence-classification, question-answering and
token-classification heads, the text-generation pipeline, and the Hub checkpoint layouts both ways."""

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
    assert_close,
    assert_fast_path_matches,
    assert_generate_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    generate_position_ids,
    left_padded_batch,
    load_ours_from_reference,
    reference_model,
    varied_weights,
)

import workbench

VOCAB = 99
SPECIALS = dict(bos_token_id=1, eos_token_id=2, pad_token_id=0)  # pad 0: the pad id of left_padded_batch
OPT = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    ffn_dim=48,
    max_position_embeddings=64,
    **SPECIALS,
)
XGLM = dict(
    vocab_size=VOCAB, d_model=32, num_layers=2, attention_heads=4, ffn_dim=48, max_position_embeddings=64, **SPECIALS
)
BIOGPT = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=48,
    max_position_embeddings=64,
    **SPECIALS,
)
FAMILIES = {  # name -> (reference config class, Hub class prefix, values)
    "opt": ("OPTConfig", "OPT", OPT),
    "xglm": ("XGLMConfig", "XGLM", XGLM),
    "biogpt": ("BioGptConfig", "BioGpt", BIOGPT),
}
# OPT's switches: opt-350m's post-LN stack with 16-wide embeddings projected in and out; no biases, no
# LayerNorm weights, no final norm (checkpoints fine-tuned before transformers 4.20), and an untied LM head
OPT_VARIANTS = {
    "opt-350m-style": dict(do_layer_norm_before=False, word_embed_proj_dim=16, activation_function="gelu"),
    "no-bias-no-affine-untied": dict(
        enable_bias=False, layer_norm_elementwise_affine=False, _remove_final_layer_norm=True, tie_word_embeddings=False
    ),
}


def tiny_reference(family: str, head: str = "ForCausalLM", **overrides):
    config_name, prefix, values = FAMILIES[family]
    return reference_model(prefix + head, getattr(transformers, config_name)(**{**values, **overrides}), seed=0)


def causal_pair(family, tmp_path, **overrides):
    """A reference LM with varied weights and ours loaded from its save. Without a final norm the logits grow
    large (float32 rounding of 1e-5 at |logit| ~ 100), so those weights vary less."""
    std = 0.25 if overrides.get("_remove_final_layer_norm") else 0.5
    ref = varied_weights(tiny_reference(family, **overrides), std=std)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    return ref, ours


CAUSAL_CASES = [(family, {}) for family in FAMILIES] + [("opt", values) for values in OPT_VARIANTS.values()]


@pytest.mark.parametrize("family, overrides", CAUSAL_CASES, ids=[*FAMILIES, *(f"opt-{name}" for name in OPT_VARIANTS)])
def test_lm_head_parity_left_padded(family, overrides, tmp_path):
    ref, ours = causal_pair(family, tmp_path, **overrides)
    assert isinstance(ours, getattr(workbench, FAMILIES[family][1] + "ForCausalLM"))
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # logits, hidden states, attentions at real tokens
    assert_fast_path_matches(ours, batch, left_padded=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    with torch.no_grad():
        expected = ref(**batch, labels=labels, position_ids=generate_position_ids(batch["attention_mask"])).loss
        assert_close(ours(**batch, labels=labels).loss, expected, "loss")
    assert_reference_loads_ours(ours, ref, tmp_path)  # same keys and tensors (tied LM head not written)


@pytest.mark.parametrize("family", FAMILIES)
def test_base_model_parity_and_config_round_trip(family, tmp_path):
    ref = varied_weights(tiny_reference(family, "Model"))
    ours, folder = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, getattr(workbench, FAMILIES[family][1] + "Model"))
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB), left_padded=True)
    assert_reference_loads_ours(ours, ref, tmp_path)  # config.json names XGLMModel, BioGptModel, OPTModel
    mine = json.loads((tmp_path / "from_workbench" / "config.json").read_text())
    theirs = json.loads((folder / "config.json").read_text())  # (the reference leaves out keys at their default)
    assert set(mine) <= set(ref.config.to_dict()), set(mine) - set(ref.config.to_dict())  # no OPT key in XGLM's
    for key, value in FAMILIES[family][2].items():
        assert mine[key] == theirs[key] == value, key
    assert mine["model_type"] == family
    lm, info = workbench.AutoModelForCausalLM.from_pretrained(folder, output_loading_info=True)  # a bare checkpoint
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []  # (the LM head is tied to the embeddings)


def test_opt_350m_layout(tmp_path):
    """Post-LN: no final norm; 16-wide embeddings and LM head around a 32-wide stack."""
    ref, ours = causal_pair("opt", tmp_path, **OPT_VARIANTS["opt-350m-style"])
    decoder = ours.model.decoder
    assert decoder.final_layer_norm is None
    assert decoder.embed_tokens.weight.shape == (VOCAB, 16) and decoder.project_in.weight.shape == (32, 16)
    assert ours.lm_head.weight is decoder.embed_tokens.weight
    with torch.no_grad():
        hidden = ours(**left_padded_batch(VOCAB), output_hidden_states=True).hidden_states
    assert [h.shape[-1] for h in hidden] == [32, 32, 16]  # the last entry is after project_out, as the reference


@pytest.mark.parametrize("family", FAMILIES)
def test_kv_cache_matches_full_forward(family, tmp_path):
    _, ours = causal_pair(family, tmp_path)
    check_kv_cache(ours, prompt_length=5)
    check_left_padding_does_not_change_a_row(ours)


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_matches_reference(family, tmp_path):
    ref = varied_weights(tiny_reference(family), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    check_generate(ref, ours)
    ids = left_padded_batch(VOCAB, left_pads=(0, 2, 4), seq=7, seed=3)["input_ids"][:1]  # check_generate's row 0
    assert_generate_matches(ref, ours, ids, max_new_tokens=6, do_sample=False, eos_token_id=None)  # no padding


@pytest.mark.parametrize("family", ["opt", "biogpt"])
def test_sequence_classification_parity(family, tmp_path):
    ref = varied_weights(tiny_reference(family, "ForSequenceClassification", num_labels=3))
    ours_class = getattr(workbench, FAMILIES[family][1] + "ForSequenceClassification")
    check_sequence_classification(ref, ours_class, tmp_path)


def test_question_answering_parity_opt(tmp_path):
    ref = varied_weights(tiny_reference("opt", "ForQuestionAnswering", **OPT_VARIANTS["opt-350m-style"]))
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForQuestionAnswering, tmp_path)
    assert isinstance(ours, workbench.OPTForQuestionAnswering)
    ids = left_padded_batch(VOCAB, left_pads=(0, 0, 0))["input_ids"]
    spans = dict(start_positions=torch.tensor([1, 3, 0]), end_positions=torch.tensor([2, 5, 20]))
    with torch.no_grad():
        expected, got = ref(ids, **spans), ours(ids, **spans)
    for key in ("start_logits", "end_logits", "loss"):
        assert_close(got[key], expected[key], key)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_token_classification_parity_biogpt(tmp_path):
    ref = varied_weights(tiny_reference("biogpt", "ForTokenClassification", num_labels=5))
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForTokenClassification, tmp_path)
    assert isinstance(ours, workbench.BioGptForTokenClassification)
    batch = {k: v.flip(-1) for k, v in left_padded_batch(VOCAB).items()}  # right-padded
    labels = torch.randint(0, 5, batch["input_ids"].shape)  # labels at pads too: the mask drops them
    with torch.no_grad():
        expected, got = ref(**batch, labels=labels), ours(**batch, labels=labels)
    real = batch["attention_mask"].bool()
    assert_close(got.logits[real], expected.logits[real], "logits")
    assert_close(got.loss, expected.loss, "loss")
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_heads_only_where_the_reference_has_them():
    with pytest.raises(ValueError, match="does not have for model_type 'xglm'"):
        workbench.OPTForSequenceClassification(workbench.XGLMConfig(**XGLM))
    with pytest.raises(ValueError, match="question-answering head.*'biogpt'"):
        workbench.OPTForQuestionAnswering(workbench.BioGptConfig(**BIOGPT))
    with pytest.raises(ValueError, match="sequence-classification head, which model_type 'xglm' does not have"):
        workbench.AutoModelForSequenceClassification.from_config(workbench.XGLMConfig(**XGLM))
    with pytest.raises(ValueError, match="the bare model of XGLM is XGLMModel"):
        workbench.OPTModel(workbench.XGLMConfig(**XGLM))


@pytest.mark.parametrize("family", FAMILIES)
def test_text_generation_pipeline(family, tmp_path):
    ref = varied_weights(tiny_reference(family, **GPT2_TOKENIZER_IDS))
    generator = check_text_generation_pipeline(ref, tmp_path)
    assert generator.model.config.model_type == family


def test_xglm_sinusoids_go_past_max_position_embeddings(tmp_path):
    """XGLM computes its positions (the reference grows its table): no limit at max_position_embeddings."""
    ref, ours = causal_pair("xglm", tmp_path, max_position_embeddings=6)
    assert_outputs_close(ref, ours, left_padded_batch(VOCAB, seq=12), left_padded=True)
    assert ours.max_total_length() is None and ours.context_window() == 6


def test_position_table_limit():
    model = workbench.BioGptForCausalLM(workbench.BioGptConfig(**{**BIOGPT, "max_position_embeddings": 16})).eval()
    assert model.max_total_length() == 16
    with pytest.raises(ValueError, match="position embeddings for at most 16"):
        model(torch.ones(1, 17, dtype=torch.long))
    cache = model(torch.ones(1, 10, dtype=torch.long), use_cache=True).past_key_values
    with pytest.raises(ValueError, match="16 positions.*cache holds 10"):
        model(torch.ones(1, 7, dtype=torch.long), past_key_values=cache)


@pytest.mark.parametrize("family", ["xglm", "biogpt"])
def test_scaled_embeddings_as_inputs_embeds(family):
    """The scaling is inside the embedding table: get_input_embeddings()(ids) are the inputs_embeds of ids."""
    model = workbench.AutoModelForCausalLM.from_config(workbench.AutoConfig.for_model(family, **FAMILIES[family][2]))
    model.eval()
    ids = left_padded_batch(VOCAB, left_pads=(0,))["input_ids"]
    assert model.get_input_embeddings().scale == 32**0.5
    with torch.no_grad():
        assert_close(model(inputs_embeds=model.get_input_embeddings()(ids)).logits, model(ids).logits)


def test_config_checks_and_aliases():
    config = workbench.XGLMConfig(**XGLM)
    assert (config.hidden_size, config.num_attention_heads, config.num_hidden_layers) == (32, 4, 2)
    assert config.do_layer_norm_before and config.embedding_dim == 32 and "do_layer_norm_before" not in config.to_dict()
    biogpt = workbench.BioGptConfig(**BIOGPT)
    assert (biogpt.ffn_dim, biogpt.activation_function, biogpt.dropout) == (48, "gelu", 0.1)
    assert workbench.OPTConfig(hidden_size=64, num_attention_heads=4).word_embed_proj_dim == 64  # as the reference
    with pytest.raises(ValueError, match="not a multiple of num_attention_heads"):
        workbench.OPTConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match="add_cross_attention=True"):
        workbench.XGLMConfig(add_cross_attention=True)


def test_tiny_presets_build_and_run():
    from workbench.models.auto import tiny_config
    from workbench.models.opt import TINY_PRESETS

    for preset in TINY_PRESETS:
        model = workbench.AutoModelForCausalLM.from_config(tiny_config(preset)).eval()
        assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128), preset
