"""DistilBERT parity with the reference, every head, on tiny random configs with a padded batch."""

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
from workbench.models import distilbert

HEADS = [
    "DistilBertModel",
    "DistilBertForMaskedLM",
    "DistilBertForSequenceClassification",
    "DistilBertForTokenClassification",
    "DistilBertForQuestionAnswering",
    "DistilBertForMultipleChoice",
]
NO_TYPES = ("token_type_ids",)  # the reference's forward has no token_type_ids argument


def tiny_config(**overrides):
    values = dict(vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64, num_labels=2)
    values.update(overrides)
    return transformers.DistilBertConfig(**values)


def num_labels_for(head):
    return 3 if "Token" in head or "Sequence" in head else 2


# Every head with learned positions; the sinusoidal table only changes the shared body, so two heads cover it.
CASES = [(head, False) for head in HEADS] + [("DistilBertModel", True), ("DistilBertForMaskedLM", True)]


@pytest.mark.parametrize("head,sinusoidal", CASES, ids=[f"{h}-{'sinusoidal' if s else 'learned'}" for h, s in CASES])
def test_distilbert_head_parity(head, sinusoidal, tmp_path):
    ref = reference_model(head, tiny_config(num_labels=num_labels_for(head), sinusoidal_pos_embds=sinusoidal))
    ours, _ = load_ours_from_reference(ref, getattr(workbench, head), tmp_path)
    batch = padded_batch(99, choices=2 if "MultipleChoice" in head else None)
    expected, got = assert_outputs_close(ref, ours, batch, drop=NO_TYPES)
    assert len(got.hidden_states) == 3 and len(got.attentions) == 2
    assert_fast_path_matches(ours, batch, drop=NO_TYPES)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_sinusoidal_table_matches_reference():
    config = tiny_config(sinusoidal_pos_embds=True)
    ref = reference_model("DistilBertModel", config)
    ours = workbench.DistilBertModel(workbench.DistilBertConfig(**config.to_diff_dict()))
    expected = ref.embeddings.position_embeddings.weight
    torch.testing.assert_close(ours.embeddings.position_embeddings.weight, expected, atol=0, rtol=0)
    assert expected[3, 0] == torch.sin(torch.tensor(3.0)) and expected[3, 1] == torch.cos(torch.tensor(3.0))


def test_losses_match_reference(tmp_path):
    batch = padded_batch(99)
    batch.pop("token_type_ids")
    cases = [
        ("DistilBertForSequenceClassification", 3, dict(labels=torch.tensor([0, 2, 1]))),
        (
            "DistilBertForMaskedLM",
            2,
            dict(labels=torch.randint(0, 99, (3, 9)).masked_fill(batch["attention_mask"] == 0, -100)),
        ),
        (
            "DistilBertForQuestionAnswering",
            2,
            dict(start_positions=torch.tensor([1, 3, 20]), end_positions=torch.tensor([2, 5, 4])),
        ),
    ]
    for head, num_labels, labels in cases:
        ref = reference_model(head, tiny_config(num_labels=num_labels))
        ours, _ = load_ours_from_reference(ref, getattr(workbench, head), tmp_path / head)
        with torch.no_grad():
            torch.testing.assert_close(ours(**batch, **labels).loss, ref(**batch, **labels).loss, msg=head)


def test_token_type_ids_are_ignored_as_in_the_reference(tmp_path):
    """A BERT-style tokenizer may emit token_type_ids; DistilBERT has no segment embeddings and,
    like the reference, gives the same answer with or without them."""
    ref = reference_model("DistilBertForQuestionAnswering", tiny_config())
    ours, _ = load_ours_from_reference(ref, workbench.DistilBertForQuestionAnswering, tmp_path)
    batch = padded_batch(99)
    with torch.no_grad():
        with_types = ours(**batch)
        without = ours(**{k: v for k, v in batch.items() if k != "token_type_ids"})
        expected = ref(**batch)
    torch.testing.assert_close(with_types.start_logits, without.start_logits, atol=0, rtol=0)
    torch.testing.assert_close(with_types.start_logits, expected.start_logits)


def test_config_aliases_and_round_trip(tmp_path):
    config = workbench.DistilBertConfig(**distilbert.TINY_PRESETS["distilbert-tiny-random"])
    assert (config.hidden_size, config.num_attention_heads, config.num_hidden_layers) == (32, 4, 2)
    config.hidden_size = 48
    assert config.dim == 48 and "hidden_size" not in config.to_dict()
    ref_config = tiny_config(seq_classif_dropout=0.3, qa_dropout=0.05, activation="relu")
    ref_config.save_pretrained(tmp_path)
    ours = workbench.AutoConfig.from_pretrained(tmp_path)
    assert isinstance(ours, workbench.DistilBertConfig)
    for key in (
        "dim",
        "n_layers",
        "n_heads",
        "hidden_dim",
        "seq_classif_dropout",
        "qa_dropout",
        "activation",
        "sinusoidal_pos_embds",
        "attention_dropout",
        "dropout",
    ):
        assert getattr(ours, key) == getattr(ref_config, key), key
    with pytest.raises(ValueError, match="multiple of n_heads"):
        workbench.DistilBertConfig(dim=30, n_heads=4)


def test_question_answering_needs_two_labels():
    with pytest.raises(ValueError, match="num_labels must be 2"):
        workbench.DistilBertForQuestionAnswering(
            workbench.DistilBertConfig(dim=32, n_layers=1, n_heads=4, num_labels=3)
        )


def test_auto_classes_dispatch(tmp_path):
    ref = reference_model("DistilBertModel", tiny_config())
    ref.save_pretrained(tmp_path)
    assert type(workbench.AutoModel.from_pretrained(tmp_path)) is workbench.DistilBertModel
    model, info = workbench.AutoModelForSequenceClassification.from_pretrained(
        tmp_path, num_labels=4, output_loading_info=True
    )
    assert isinstance(model, workbench.DistilBertForSequenceClassification)
    assert sorted(info["missing_keys"]) == [
        "classifier.bias",
        "classifier.weight",
        "pre_classifier.bias",
        "pre_classifier.weight",
    ]
    assert info["unexpected_keys"] == []
    batch = padded_batch(99)
    batch.pop("token_type_ids")
    with torch.no_grad():
        torch.testing.assert_close(model.distilbert(**batch).last_hidden_state, ref(**batch).last_hidden_state)


def test_tied_lm_head_and_untied_round_trip(tmp_path):
    model = workbench.DistilBertForMaskedLM(
        workbench.DistilBertConfig(**distilbert.TINY_PRESETS["distilbert-tiny-random"])
    )
    assert model.vocab_projector.weight is model.distilbert.embeddings.word_embeddings.weight
    ref = reference_model("DistilBertForMaskedLM", tiny_config(tie_word_embeddings=False))
    ours, _ = load_ours_from_reference(ref, workbench.DistilBertForMaskedLM, tmp_path)
    assert ours.vocab_projector.weight is not ours.distilbert.embeddings.word_embeddings.weight
    assert_outputs_close(ref, ours, padded_batch(99), drop=NO_TYPES)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_pattern_hook_and_return_tuple():
    model = workbench.DistilBertModel(
        workbench.DistilBertConfig(**distilbert.TINY_PRESETS["distilbert-tiny-random"])
    ).eval()
    seen = []
    model.transformer.layer[1].attention.pattern_hook.register_forward_hook(lambda m, i, o: seen.append(o))
    batch = padded_batch(1000)
    with torch.no_grad():
        out = model(**batch, output_attentions=True)
        as_tuple = model(**batch, return_dict=False)
    torch.testing.assert_close(seen[0], out.attentions[1])
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 1
    torch.testing.assert_close(as_tuple[0], out.last_hidden_state)
