"""BERT parity with the reference, every head, on a tiny random config with a padded batch."""

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

HEADS = [
    "BertModel",
    "BertForMaskedLM",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertForQuestionAnswering",
    "BertForMultipleChoice",
]


def tiny_config(**overrides):
    values = dict(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=2,
    )
    values.update(overrides)
    return transformers.BertConfig(**values)


@pytest.mark.parametrize("head", HEADS)
def test_bert_head_parity(head, tmp_path):
    torch.manual_seed(0)
    ref = reference_model(head, tiny_config(num_labels=3 if "Token" in head or "Sequence" in head else 2))
    ours, _ = load_ours_from_reference(ref, getattr(workbench, head), tmp_path)
    batch = padded_batch(99, choices=2 if "MultipleChoice" in head else None)
    assert_outputs_close(ref, ours, batch)
    assert_fast_path_matches(ours, batch)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_losses_match_reference(tmp_path):
    ref = reference_model("BertForSequenceClassification", tiny_config(num_labels=3))
    ours, _ = load_ours_from_reference(ref, workbench.BertForSequenceClassification, tmp_path)
    batch = padded_batch(99)
    labels = torch.tensor([0, 2, 1])
    with torch.no_grad():
        torch.testing.assert_close(ours(**batch, labels=labels).loss, ref(**batch, labels=labels).loss)
    ref_tok = reference_model("BertForTokenClassification", tiny_config(num_labels=3))
    ours_tok, _ = load_ours_from_reference(ref_tok, workbench.BertForTokenClassification, tmp_path / "tok")
    labels = torch.randint(0, 3, batch["input_ids"].shape).masked_fill(batch["attention_mask"] == 0, -100)
    with torch.no_grad():
        torch.testing.assert_close(ours_tok(**batch, labels=labels).loss, ref_tok(**batch, labels=labels).loss)


def test_gelu_variants_and_options(tmp_path):
    ref = reference_model("BertModel", tiny_config(hidden_act="gelu_new", type_vocab_size=1, layer_norm_eps=1e-6))
    ours, _ = load_ours_from_reference(ref, workbench.BertModel, tmp_path)
    batch = padded_batch(99)
    batch.pop("token_type_ids")
    assert_outputs_close(ref, ours, batch)


def test_bare_checkpoint_into_task_model_reports_new_head(tmp_path, caplog):
    ref = reference_model("BertModel", tiny_config())
    ref.save_pretrained(tmp_path)
    model, info = workbench.AutoModelForSequenceClassification.from_pretrained(
        tmp_path, num_labels=4, output_loading_info=True
    )
    assert isinstance(model, workbench.BertForSequenceClassification)
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    assert model.config.num_labels == 4 and model.classifier.weight.shape == (4, 32)
    assert "newly initialised" in caplog.text
    # the encoder weights did load: same hidden states as the bare model
    batch = padded_batch(99)
    with torch.no_grad():
        torch.testing.assert_close(model.bert(**batch).last_hidden_state, ref(**batch).last_hidden_state)


def test_task_checkpoint_into_bare_model(tmp_path):
    ref = reference_model("BertForMaskedLM", tiny_config())
    ref.save_pretrained(tmp_path)
    model, info = workbench.AutoModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == ["pooler.dense.weight", "pooler.dense.bias"]
    assert all(k.startswith("cls.") for k in info["unexpected_keys"])


def test_untied_lm_head_round_trip(tmp_path):
    ref = reference_model("BertForMaskedLM", tiny_config(tie_word_embeddings=False))
    ours, _ = load_ours_from_reference(ref, workbench.BertForMaskedLM, tmp_path)
    assert ours.cls.predictions.decoder.weight is not ours.bert.embeddings.word_embeddings.weight
    assert_outputs_close(ref, ours, padded_batch(99))
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_tied_lm_head_shares_storage():
    model = workbench.BertForMaskedLM(workbench.BertConfig(**tiny_config().to_diff_dict()))
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert model.cls.predictions.decoder.bias is model.cls.predictions.bias


def test_return_dict_false_gives_tuples(tmp_path):
    ref = reference_model("BertForSequenceClassification", tiny_config())
    ours, _ = load_ours_from_reference(ref, workbench.BertForSequenceClassification, tmp_path)
    batch = padded_batch(99)
    with torch.no_grad():
        out = ours(**batch, return_dict=False)
        full = ours(**batch)
    assert isinstance(out, tuple) and len(out) == 1
    torch.testing.assert_close(out[0], full.logits)
    assert full[0] is full["logits"] is full.logits


def test_pattern_hook_sees_attention_probabilities():
    model = workbench.BertModel(workbench.BertConfig(**tiny_config().to_diff_dict())).eval()
    seen = []
    model.encoder.layer[1].attention.self.pattern_hook.register_forward_hook(lambda m, i, o: seen.append(o))
    batch = padded_batch(99)
    with torch.no_grad():
        out = model(**batch, output_attentions=True)
        model(**batch)  # the hook forces the eager path even when attentions are not requested
    assert len(seen) == 2
    torch.testing.assert_close(seen[0], out.attentions[1])
    torch.testing.assert_close(seen[0].sum(-1), torch.ones(3, 4, 9))


def test_decoder_configs_are_refused_not_silently_bidirectional():
    with pytest.raises(NotImplementedError, match="bidirectional encoder only"):
        workbench.BertModel(workbench.BertConfig(**tiny_config(is_decoder=True).to_diff_dict()))
