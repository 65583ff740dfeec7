"""RoBERTa-family parity with the reference: every variant (roberta, xlm-roberta, camembert,
data2vec-text) x every head, on a tiny random config with a padded batch whose pad id (1) is the
position offset, so the padding-aware positions are exercised."""

import inspect
import json

import pytest
import torch
import transformers
from parity import (
    assert_fast_path_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    load_ours_from_reference,
    padded_batch,
    reference_model,
)

import workbench

# model_type -> class-name prefix in both libraries
VARIANTS = {
    "roberta": "Roberta",
    "xlm-roberta": "XLMRoberta",
    "camembert": "Camembert",
    "data2vec-text": "Data2VecText",
}
HEADS = [
    "Model",
    "ForMaskedLM",
    "ForSequenceClassification",
    "ForTokenClassification",
    "ForQuestionAnswering",
    "ForMultipleChoice",
]


def tiny_config(model_type="roberta", **overrides):
    values = dict(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=66,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        num_labels=2,
    )
    values.update(overrides)
    return getattr(transformers, VARIANTS[model_type] + "Config")(**values)


def roberta_batch(choices=None):
    batch = padded_batch(99, choices=choices)  # padding positions hold id 1 = pad_token_id
    batch.pop("token_type_ids")  # type_vocab_size = 1, as in the real checkpoints
    return batch


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("model_type", VARIANTS)
def test_head_parity(model_type, head, tmp_path):
    name = VARIANTS[model_type] + head
    ref = reference_model(name, tiny_config(model_type, num_labels=3 if "Token" in head or "Sequence" in head else 2))
    ours, _ = load_ours_from_reference(ref, getattr(workbench, name), tmp_path)
    assert type(ours).__name__ == "Roberta" + head  # the variants share the Roberta classes
    assert type(ours.config).model_type == model_type
    batch = roberta_batch(choices=2 if "MultipleChoice" in head else None)
    assert_outputs_close(ref, ours, batch)
    assert_fast_path_matches(ours, batch)
    folder = assert_reference_loads_ours(ours, ref, tmp_path)
    assert json.loads((folder / "config.json").read_text())["model_type"] == model_type


def test_base_model_attribute_follows_model_type():
    for model_type, prefix in [
        ("roberta", "roberta"),
        ("xlm-roberta", "roberta"),
        ("camembert", "roberta"),
        ("data2vec-text", "data2vec_text"),
    ]:
        config = getattr(workbench, VARIANTS[model_type] + "Config")(**tiny_config().to_diff_dict())
        model = workbench.RobertaForMaskedLM(config)
        assert model.base_model_prefix == prefix and isinstance(getattr(model, prefix), workbench.RobertaModel)
        assert model.lm_head.decoder.weight is getattr(model, prefix).embeddings.word_embeddings.weight
        assert model.lm_head.decoder.bias is model.lm_head.bias
        assert workbench.RobertaModel(config).base_model_prefix == prefix


def test_losses_match_reference(tmp_path):
    batch = roberta_batch()
    ref = reference_model("RobertaForMaskedLM", tiny_config())
    ours, _ = load_ours_from_reference(ref, workbench.RobertaForMaskedLM, tmp_path / "mlm")
    labels = torch.full_like(batch["input_ids"], -100)
    labels[:, 2] = batch["input_ids"][:, 2]
    with torch.no_grad():
        torch.testing.assert_close(ours(**batch, labels=labels).loss, ref(**batch, labels=labels).loss)
    ref = reference_model("Data2VecTextForSequenceClassification", tiny_config("data2vec-text", num_labels=3))
    ours, _ = load_ours_from_reference(ref, workbench.Data2VecTextForSequenceClassification, tmp_path / "cls")
    labels = torch.tensor([0, 2, 1])
    with torch.no_grad():
        torch.testing.assert_close(ours(**batch, labels=labels).loss, ref(**batch, labels=labels).loss)


@pytest.mark.parametrize("model_type", VARIANTS)
def test_auto_classes_dispatch(model_type, tmp_path):
    ref = reference_model(VARIANTS[model_type] + "ForMaskedLM", tiny_config(model_type))
    ref.save_pretrained(tmp_path)
    config = workbench.AutoConfig.from_pretrained(tmp_path)
    assert type(config) is getattr(workbench, VARIANTS[model_type] + "Config")
    model = workbench.AutoModelForMaskedLM.from_pretrained(tmp_path)
    assert type(model) is workbench.RobertaForMaskedLM and type(model.config) is type(config)
    bare, info = workbench.AutoModel.from_pretrained(tmp_path, output_loading_info=True)
    assert type(bare) is workbench.RobertaModel
    assert sorted(info["missing_keys"]) == ["pooler.dense.bias", "pooler.dense.weight"]
    assert all(k.startswith("lm_head.") for k in info["unexpected_keys"])  # the encoder's prefix was stripped
    classifier, info = workbench.AutoModelForSequenceClassification.from_pretrained(
        tmp_path, num_labels=4, output_loading_info=True
    )
    assert type(classifier) is workbench.RobertaForSequenceClassification
    assert all(k.startswith("classifier.") for k in info["missing_keys"]) and len(info["missing_keys"]) == 4
    with torch.no_grad():
        batch = roberta_batch()
        base = getattr(classifier, classifier.base_model_prefix)
        torch.testing.assert_close(base(**batch).last_hidden_state, bare(**batch).last_hidden_state)


def test_positions_skip_padding_and_inputs_embeds_match_reference(tmp_path):
    ref = reference_model("RobertaModel", tiny_config())
    ours, _ = load_ours_from_reference(ref, workbench.RobertaModel, tmp_path)
    ids = torch.tensor([[0, 17, 42, 2]])
    left_padded = torch.tensor([[1, 1, 0, 17, 42, 2]])
    with torch.no_grad():
        plain = ours(ids).last_hidden_state
        padded = ours(left_padded, attention_mask=(left_padded != 1).long()).last_hidden_state
        torch.testing.assert_close(padded[:, 2:], plain)  # same positions for the real tokens wherever padding is
        embeds = ours.embeddings.word_embeddings(roberta_batch()["input_ids"])
        torch.testing.assert_close(
            ours(inputs_embeds=embeds).last_hidden_state, ref(inputs_embeds=embeds).last_hidden_state
        )
    positions = ours.embeddings.position_ids(left_padded, 6, left_padded.device)
    assert positions.tolist() == [[1, 1, 2, 3, 4, 5]]


def test_token_types_and_explicit_positions(tmp_path):
    ref = reference_model("RobertaForTokenClassification", tiny_config(type_vocab_size=2))
    ours, _ = load_ours_from_reference(ref, workbench.RobertaForTokenClassification, tmp_path)
    batch = padded_batch(99)  # with token_type_ids
    batch["position_ids"] = torch.arange(2, 11).expand(3, 9)
    assert_outputs_close(ref, ours, batch)


def test_too_long_input_names_the_limit():
    model = workbench.RobertaModel(workbench.RobertaConfig(**tiny_config().to_diff_dict()))  # 66 positions -> 64 tokens
    with torch.no_grad():
        model(torch.full((1, 64), 5))
        with pytest.raises(ValueError, match="at most 64"):
            model(torch.full((1, 65), 5))


def test_defaults_describe_the_real_checkpoints():
    config = workbench.RobertaConfig()
    assert (config.vocab_size, config.max_position_embeddings, config.type_vocab_size, config.pad_token_id) == (
        50265,
        514,
        1,
        1,
    )
    assert config.layer_norm_eps == 1e-5 and config.model_type == "roberta"
    assert workbench.XLMRobertaConfig().vocab_size == 250002 and workbench.CamembertConfig().vocab_size == 32005
    assert (
        workbench.Data2VecTextModel is workbench.RobertaModel
        and workbench.CamembertForMaskedLM is workbench.RobertaForMaskedLM
    )
    assert issubclass(workbench.XLMRobertaConfig, workbench.RobertaConfig)


def test_decoder_configs_are_refused():
    with pytest.raises(NotImplementedError, match="is_decoder"):
        workbench.RobertaModel(workbench.RobertaConfig(**{**tiny_config().to_diff_dict(), "is_decoder": True}))


@pytest.mark.parametrize("head", HEADS)
def test_forward_arguments_in_the_reference_order(head):
    """Positional calls mean the same as in the reference (RoBERTa's multiple choice orders them its own way)."""
    ours = list(inspect.signature(getattr(workbench, "Roberta" + head).forward).parameters)
    ref = list(inspect.signature(getattr(transformers, "Roberta" + head).forward).parameters)
    assert [p for p in ours if p in ref] == [p for p in ref if p in ours]


def test_untied_lm_head_round_trip(tmp_path):
    ref = reference_model("Data2VecTextForMaskedLM", tiny_config("data2vec-text", tie_word_embeddings=False))
    ours, _ = load_ours_from_reference(ref, workbench.Data2VecTextForMaskedLM, tmp_path)
    assert ours.lm_head.decoder.weight is not ours.data2vec_text.embeddings.word_embeddings.weight
    assert ours.lm_head.decoder.bias is not ours.lm_head.bias  # untied heads keep their own bias (reference v5)
    assert_outputs_close(ref, ours, roberta_batch())
    assert_reference_loads_ours(ours, ref, tmp_path)


@pytest.mark.parametrize(
    "model_type,expected", [("xlm-roberta", "XLMRobertaForMaskedLM"), ("data2vec-text", "Data2VecTextForMaskedLM")]
)
def test_saved_architectures_name_the_variant(model_type, expected, tmp_path):
    config = workbench.AutoConfig.for_model(
        model_type, vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37
    )
    workbench.AutoModelForMaskedLM.from_config(config).save_pretrained(tmp_path)
    import json

    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == [expected]
    assert type(transformers.AutoModelForMaskedLM.from_pretrained(tmp_path)).__name__ == expected
