"""ELECTRA parity with the reference, every head (and the pre-training discriminator), on a tiny
random config whose embeddings are narrower than the encoder (so embeddings_project is used)."""

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
from workbench.models import electra

HEADS = [
    "ElectraModel",
    "ElectraForMaskedLM",
    "ElectraForSequenceClassification",
    "ElectraForTokenClassification",
    "ElectraForQuestionAnswering",
    "ElectraForMultipleChoice",
    "ElectraForPreTraining",
]


def tiny_config(**overrides):
    values = dict(
        vocab_size=99,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=2,
    )
    values.update(overrides)
    return transformers.ElectraConfig(**values)


@pytest.mark.parametrize("head", HEADS)
def test_electra_head_parity(head, tmp_path):
    ref = reference_model(head, tiny_config(num_labels=3 if "Token" in head or "Sequence" in head else 2))
    ours, _ = load_ours_from_reference(ref, getattr(electra, head), tmp_path)
    batch = padded_batch(99, choices=2 if "MultipleChoice" in head else None)
    assert_outputs_close(ref, ours, batch)
    assert_fast_path_matches(ours, batch)
    folder = assert_reference_loads_ours(ours, ref, tmp_path)
    assert json.loads((folder / "config.json").read_text())["model_type"] == "electra"


def test_equal_widths_have_no_projection(tmp_path):
    ref = reference_model("ElectraModel", tiny_config(embedding_size=32))
    ours, _ = load_ours_from_reference(ref, workbench.ElectraModel, tmp_path)
    assert not hasattr(ours, "embeddings_project")
    assert_outputs_close(ref, ours, padded_batch(99))


@pytest.mark.parametrize(
    "summary", [dict(summary_type="mean", summary_activation="tanh"), dict(summary_type="last", summary_use_proj=False)]
)
def test_multiple_choice_summary_options(summary, tmp_path):
    ref = reference_model("ElectraForMultipleChoice", tiny_config(**summary))
    ours, _ = load_ours_from_reference(ref, workbench.ElectraForMultipleChoice, tmp_path)
    assert_outputs_close(ref, ours, padded_batch(99, choices=3))


def test_losses_match_reference(tmp_path):
    batch = padded_batch(99)
    ref = reference_model("ElectraForPreTraining", tiny_config())
    ours, _ = load_ours_from_reference(ref, electra.ElectraForPreTraining, tmp_path / "disc")
    labels = torch.randint(0, 2, batch["input_ids"].shape)
    with torch.no_grad():
        torch.testing.assert_close(ours(**batch, labels=labels).loss, ref(**batch, labels=labels).loss)
        unmasked = {k: v for k, v in batch.items() if k != "attention_mask"}
        torch.testing.assert_close(ours(**unmasked, labels=labels).loss, ref(**unmasked, labels=labels).loss)
    ref = reference_model("ElectraForMaskedLM", tiny_config())
    ours, _ = load_ours_from_reference(ref, workbench.ElectraForMaskedLM, tmp_path / "gen")
    labels = torch.full_like(batch["input_ids"], -100)
    labels[:, 1] = batch["input_ids"][:, 1]
    with torch.no_grad():
        torch.testing.assert_close(ours(**batch, labels=labels).loss, ref(**batch, labels=labels).loss)


def test_auto_classes_dispatch(tmp_path):
    ref = reference_model("ElectraForPreTraining", tiny_config())
    ref.save_pretrained(tmp_path)
    assert type(workbench.AutoConfig.from_pretrained(tmp_path)) is workbench.ElectraConfig
    model, info = workbench.AutoModelForSequenceClassification.from_pretrained(
        tmp_path, num_labels=3, output_loading_info=True
    )
    assert type(model) is workbench.ElectraForSequenceClassification
    assert sorted(info["missing_keys"]) == [
        "classifier.dense.bias",
        "classifier.dense.weight",
        "classifier.out_proj.bias",
        "classifier.out_proj.weight",
    ]
    assert all(k.startswith("discriminator_predictions.") for k in info["unexpected_keys"])
    bare, info = workbench.AutoModel.from_pretrained(tmp_path, output_loading_info=True)
    assert type(bare) is workbench.ElectraModel and info["missing_keys"] == []
    for auto, cls in [
        (workbench.AutoModelForMaskedLM, workbench.ElectraForMaskedLM),
        (workbench.AutoModelForTokenClassification, workbench.ElectraForTokenClassification),
        (workbench.AutoModelForQuestionAnswering, workbench.ElectraForQuestionAnswering),
        (workbench.AutoModelForMultipleChoice, workbench.ElectraForMultipleChoice),
    ]:
        assert type(auto.from_pretrained(tmp_path)) is cls
    with torch.no_grad():
        batch = padded_batch(99)
        torch.testing.assert_close(model.electra(**batch).last_hidden_state, ref.electra(**batch).last_hidden_state)


def test_generator_head_is_tied_and_fresh_models_run():
    config = workbench.ElectraConfig(**tiny_config().to_diff_dict())
    model = workbench.ElectraForMaskedLM(config).eval()
    assert model.generator_lm_head.weight is model.electra.embeddings.word_embeddings.weight
    assert model.electra.embeddings_project.weight.std() < 0.05  # the family's initialisation, not PyTorch's default
    with torch.no_grad():
        out = model(**padded_batch(99), output_hidden_states=True, output_attentions=True)
    assert out.logits.shape == (3, 9, 99) and len(out.hidden_states) == 3 and out.attentions[0].shape == (3, 4, 9, 9)
    defaults = workbench.ElectraConfig()
    assert (defaults.embedding_size, defaults.hidden_size, defaults.num_attention_heads, defaults.pad_token_id) == (
        128,
        256,
        4,
        0,
    )


@pytest.mark.parametrize("head", HEADS)
def test_forward_arguments_in_the_reference_order(head):
    ours = list(inspect.signature(getattr(electra, head).forward).parameters)
    ref = list(inspect.signature(getattr(transformers, head).forward).parameters)
    assert [p for p in ours if p in ref] == [p for p in ref if p in ours]
