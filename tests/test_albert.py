"""ALBERT parity with the reference, every head, on tiny random configs with a padded batch.

Two configs: a plain one (one group of one layer shared by every step, embedding_size != hidden_size)
and a grouped one (3 layer steps over 2 groups of 2 layers: steps 0-1 use group 0, step 2 group 1).
"""

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
from workbench.models import albert

HEADS = [
    "AlbertModel",
    "AlbertForMaskedLM",
    "AlbertForSequenceClassification",
    "AlbertForTokenClassification",
    "AlbertForQuestionAnswering",
    "AlbertForMultipleChoice",
    "AlbertForPreTraining",
]
CONFIGS = {
    "shared": dict(num_hidden_layers=2),
    "grouped": dict(num_hidden_layers=3, num_hidden_groups=2, inner_group_num=2),
}


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
    return transformers.AlbertConfig(**values)


def our_class(head):
    return getattr(albert, head)  # AlbertForPreTraining is exported by the module, not the package


# Every head on the shared layout; the grouped layout changes only the body, so the bare model, the
# tied MLM head, a pooled head and the pre-training model cover it.
CASES = [(head, "shared") for head in HEADS] + [
    (head, "grouped")
    for head in ("AlbertModel", "AlbertForMaskedLM", "AlbertForMultipleChoice", "AlbertForPreTraining")
]


@pytest.mark.parametrize("head,layout", CASES, ids=[f"{h}-{layout}" for h, layout in CASES])
def test_albert_head_parity(head, layout, tmp_path):
    num_labels = 3 if "Token" in head or "Sequence" in head else 2
    ref = reference_model(head, tiny_config(num_labels=num_labels, **CONFIGS[layout]))
    ours, _ = load_ours_from_reference(ref, our_class(head), tmp_path)
    batch = padded_batch(99, choices=2 if "MultipleChoice" in head else None)
    expected, got = assert_outputs_close(ref, ours, batch)
    # one attention map per layer application, shared weights or not; hidden states one more
    applications = ours.config.num_hidden_layers * ours.config.inner_group_num
    assert len(got.attentions) == applications and len(got.hidden_states) == applications + 1
    assert_fast_path_matches(ours, batch)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_layer_steps_reuse_group_weights():
    config = workbench.AlbertConfig(**albert.TINY_PRESETS["albert-tiny-groups"])
    model = workbench.AlbertModel(config)
    assert [model.encoder.group_of_step(i) for i in range(4)] == [0, 0, 1, 1]
    assert len(model.encoder.albert_layer_groups) == 2 and len(model.encoder.albert_layer_groups[0].albert_layers) == 2
    ref = transformers.AlbertModel(transformers.AlbertConfig(**albert.TINY_PRESETS["albert-tiny-groups"]))
    assert model.num_parameters() == ref.num_parameters()


def test_losses_match_reference(tmp_path):
    batch = padded_batch(99)
    mlm_labels = torch.randint(0, 99, (3, 9)).masked_fill(batch["attention_mask"] == 0, -100)
    cases = [
        ("AlbertForSequenceClassification", 3, dict(labels=torch.tensor([0, 2, 1]))),
        ("AlbertForMaskedLM", 2, dict(labels=mlm_labels)),
        ("AlbertForPreTraining", 2, dict(labels=mlm_labels, sentence_order_label=torch.tensor([0, 1, 1]))),
        ("AlbertForMultipleChoice", 2, None),
    ]
    for head, num_labels, labels in cases:
        ref = reference_model(head, tiny_config(num_labels=num_labels))
        ours, _ = load_ours_from_reference(ref, our_class(head), tmp_path / head)
        inputs = batch
        if labels is None:  # multiple choice
            inputs = padded_batch(99, choices=2)
            labels = dict(labels=torch.tensor([1, 0, 1]))
        with torch.no_grad():
            torch.testing.assert_close(ours(**inputs, **labels).loss, ref(**inputs, **labels).loss, msg=head)


def test_regression_problem_type(tmp_path):
    ref = reference_model("AlbertForSequenceClassification", tiny_config(num_labels=1))
    ours, _ = load_ours_from_reference(ref, workbench.AlbertForSequenceClassification, tmp_path)
    batch, labels = padded_batch(99), torch.tensor([0.5, -1.0, 2.0])
    with torch.no_grad():
        torch.testing.assert_close(ours(**batch, labels=labels).loss, ref(**batch, labels=labels).loss)
    assert ours.config.problem_type == "regression"


def test_auto_classes_dispatch(tmp_path):
    ref = reference_model("AlbertForMaskedLM", tiny_config())
    ref.save_pretrained(tmp_path)
    model, info = workbench.AutoModel.from_pretrained(tmp_path, output_loading_info=True)
    assert type(model) is workbench.AlbertModel
    assert info["missing_keys"] == ["pooler.weight", "pooler.bias"]
    assert all(k.startswith("predictions.") for k in info["unexpected_keys"])
    assert type(workbench.AutoModelForMaskedLM.from_pretrained(tmp_path)) is workbench.AlbertForMaskedLM
    qa, info = workbench.AutoModelForQuestionAnswering.from_pretrained(tmp_path, output_loading_info=True)
    assert type(qa) is workbench.AlbertForQuestionAnswering
    assert sorted(info["missing_keys"]) == ["qa_outputs.bias", "qa_outputs.weight"]


def test_config_round_trip(tmp_path):
    ref_config = tiny_config(num_hidden_groups=2, inner_group_num=3, classifier_dropout_prob=0.3, hidden_act="gelu")
    ref_config.save_pretrained(tmp_path)
    ours = workbench.AutoConfig.from_pretrained(tmp_path)
    assert isinstance(ours, workbench.AlbertConfig)
    for key in (
        "embedding_size",
        "hidden_size",
        "num_hidden_groups",
        "inner_group_num",
        "classifier_dropout_prob",
        "hidden_act",
        "bos_token_id",
        "eos_token_id",
        "type_vocab_size",
    ):
        assert getattr(ours, key) == getattr(ref_config, key), key
    defaults = workbench.AlbertConfig()
    assert (defaults.hidden_act, defaults.embedding_size, defaults.hidden_dropout_prob) == ("gelu_new", 128, 0.0)
    with pytest.raises(ValueError, match="num_hidden_groups"):
        workbench.AlbertConfig(num_hidden_layers=2, num_hidden_groups=3, hidden_size=32, num_attention_heads=4)


def test_tied_and_untied_lm_head(tmp_path):
    model = workbench.AlbertForMaskedLM(workbench.AlbertConfig(**albert.TINY_PRESETS["albert-tiny-random"]))
    assert model.predictions.decoder.weight is model.albert.embeddings.word_embeddings.weight
    assert model.predictions.decoder.bias is model.predictions.bias
    ref = reference_model("AlbertForMaskedLM", tiny_config(tie_word_embeddings=False))
    ours, _ = load_ours_from_reference(ref, workbench.AlbertForMaskedLM, tmp_path)
    assert ours.predictions.decoder.weight is not ours.albert.embeddings.word_embeddings.weight
    assert ours.predictions.decoder.bias is not ours.predictions.bias  # untied heads keep their own bias (reference v5)
    assert_outputs_close(ref, ours, padded_batch(99))
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_pattern_hook_fires_once_per_application():
    model = workbench.AlbertModel(workbench.AlbertConfig(**albert.TINY_PRESETS["albert-tiny-random"])).eval()
    seen = []
    model.encoder.albert_layer_groups[0].albert_layers[0].attention.pattern_hook.register_forward_hook(
        lambda m, i, o: seen.append(o)
    )
    batch = padded_batch(1000)
    with torch.no_grad():
        out = model(**batch, output_attentions=True)
    assert len(seen) == 2  # one shared layer, applied at both steps
    for hooked, returned in zip(seen, out.attentions):
        torch.testing.assert_close(hooked, returned)
