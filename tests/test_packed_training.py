"""Training skips padding: the encoders run their per-token layers on the real tokens only.

In training mode (``model.train()``) on a padded batch, BERT, RoBERTa, ELECTRA, ALBERT and DistilBERT
pack the real tokens into ``(tokens, hidden)`` for the linear layers, LayerNorms and dropout, and
unpack only for attention (``layers.TokenLayout``). These tests check that this changes no number a
training step uses: with dropout off, the loss, the logits and hidden states at real tokens, and
every parameter's gradient equal the reference's, which computes the padding positions too.
Question answering keeps the padding: its span loss softmaxes over every position, padding included.
"""

from __future__ import annotations

import pytest
import torch
import transformers
from parity import ATOL, RTOL, load_ours_from_reference, padded_batch, reference_model

import workbench
from workbench import layers

NO_DROPOUT = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
SMALL = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    **NO_DROPOUT,
)

CONFIGS = {
    "bert": lambda: transformers.BertConfig(**SMALL),
    "roberta": lambda: transformers.RobertaConfig(**SMALL, pad_token_id=1),
    "electra": lambda: transformers.ElectraConfig(**SMALL, embedding_size=16, summary_last_dropout=0.0),
    "albert": lambda: transformers.AlbertConfig(
        **SMALL, embedding_size=16, num_hidden_groups=1, inner_group_num=2, classifier_dropout_prob=0.0
    ),
    "distilbert": lambda: transformers.DistilBertConfig(
        vocab_size=99,
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=37,
        max_position_embeddings=64,
        dropout=0.0,
        attention_dropout=0.0,
        seq_classif_dropout=0.0,
        qa_dropout=0.0,
    ),
}
PREFIX = {"bert": "Bert", "roberta": "Roberta", "electra": "Electra", "albert": "Albert", "distilbert": "DistilBert"}
HEADS = [
    "ForSequenceClassification",
    "ForTokenClassification",
    "ForMaskedLM",
    "ForMultipleChoice",
    "ForQuestionAnswering",
]


def labelled_batch(head: str, family: str, left_padding: bool = False) -> dict:
    batch = padded_batch(vocab_size=99)
    if head == "ForMultipleChoice":  # (batch, 2 choices, seq), with different choices
        second = padded_batch(vocab_size=99, seed=1)
        batch = {key: torch.stack([batch[key], second[key]], dim=1) for key in batch}
    if family == "distilbert":
        del batch["token_type_ids"]
    if left_padding:  # flip every row: padding first, as decoder-style tokenizers pad
        batch = {k: v.flip(1) for k, v in batch.items()}
    mask = batch["attention_mask"]
    g = torch.Generator().manual_seed(1)
    if head in ("ForSequenceClassification", "ForMultipleChoice"):
        batch["labels"] = torch.tensor([0, 1, 0])
    elif head == "ForQuestionAnswering":
        batch["start_positions"], batch["end_positions"] = torch.tensor([1, 2, 0]), torch.tensor([3, 5, 2])
    else:  # token-level labels, -100 at padding as the collators write them
        labels = torch.randint(0, 2 if head == "ForTokenClassification" else 99, mask.shape, generator=g)
        batch["labels"] = labels.masked_fill(mask == 0, -100)
    return batch


def real_positions(tensor: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch, seq, ...) -> (tokens, ...): the values at real tokens only."""
    return tensor[mask.bool()]


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("family", list(CONFIGS))
def test_training_step_matches_reference(family, head, tmp_path):
    ref = reference_model(PREFIX[family] + head, CONFIGS[family]())
    ours, _ = load_ours_from_reference(ref, getattr(workbench, PREFIX[family] + head), tmp_path)
    ref.train(), ours.train()
    # One head with left padding: packing handles any mask, not only trailing padding.
    batch = labelled_batch(head, family, left_padding=head == "ForTokenClassification")
    mask = batch["attention_mask"].reshape(-1, 9)  # (rows, seq): multiple choice runs a row per choice

    expected = ref(**batch, output_hidden_states=True)
    got = ours(**batch, output_hidden_states=True)
    torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=RTOL)
    for ref_hidden, our_hidden in zip(expected.hidden_states[1:], got.hidden_states[1:], strict=True):
        if head == "ForQuestionAnswering":  # not packed: every position as the reference computes it
            torch.testing.assert_close(our_hidden, ref_hidden, atol=ATOL, rtol=RTOL)
            continue
        torch.testing.assert_close(
            real_positions(our_hidden, mask), real_positions(ref_hidden, mask), atol=ATOL, rtol=RTOL
        )
        assert not our_hidden[mask == 0].any(), "packed layers leave zeros at padding positions"
    expected.loss.backward()
    got.loss.backward()
    ref_grads = {name: p.grad for name, p in ref.named_parameters() if p.grad is not None}
    our_grads = {name: p.grad for name, p in ours.named_parameters() if p.grad is not None}
    assert our_grads, "no gradients"
    for name, grad in our_grads.items():
        torch.testing.assert_close(grad, ref_grads[name], atol=1e-5, rtol=1e-3, msg=lambda m: f"{name}: {m}")


def test_electra_multiple_choice_summaries_that_read_padding_keep_it(tmp_path):
    config = CONFIGS["electra"]()
    config.summary_type = "mean"  # averages every position, padding included, in the reference too
    ref = reference_model("ElectraForMultipleChoice", config)
    ours, _ = load_ours_from_reference(ref, workbench.ElectraForMultipleChoice, tmp_path)
    ref.train(), ours.train()
    batch = labelled_batch("ForMultipleChoice", "electra")
    got, expected = ours(**batch), ref(**batch)
    torch.testing.assert_close(got.logits, expected.logits, atol=1e-6, rtol=RTOL)  # freshly initialised: about 1e-3
    torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=RTOL)


def rows_seen_by_first_query(model, batch) -> tuple:
    """The shape of the input that layer 0's query projection receives."""
    shapes = []
    query = next(m for name, m in model.named_modules() if name.endswith(("query", "q_lin")))
    handle = query.register_forward_hook(lambda module, args, out: shapes.append(tuple(args[0].shape)))
    model(**batch)
    handle.remove()
    return shapes[0]


@pytest.mark.parametrize("family", list(CONFIGS))
def test_only_training_on_padded_batches_packs(family):
    model = getattr(workbench, PREFIX[family] + "ForSequenceClassification")(
        getattr(workbench, PREFIX[family] + "Config")(**CONFIGS[family]().to_dict())
    )
    batch = labelled_batch("ForSequenceClassification", family)
    tokens = int(batch["attention_mask"].sum())
    model.train()
    assert rows_seen_by_first_query(model, batch) == (tokens, 32)
    full = {**batch, "attention_mask": torch.ones_like(batch["attention_mask"])}
    assert rows_seen_by_first_query(model, full) == (3, 9, 32)  # nothing to skip
    model.eval()
    assert rows_seen_by_first_query(model, batch) == (3, 9, 32)  # inference computes padding as the reference does

    qa = getattr(workbench, PREFIX[family] + "ForQuestionAnswering")(model.config).train()
    assert rows_seen_by_first_query(qa, labelled_batch("ForQuestionAnswering", family)) == (3, 9, 32)


def test_token_layout_packs_any_mask_and_back():
    mask = torch.tensor([[1, 1, 0, 0], [0, 1, 1, 1], [1, 0, 1, 0]])
    x = torch.randn(3, 4, 5, requires_grad=True)
    layout = layers.TokenLayout(mask)
    packed = layout.pack(x)
    assert packed.shape == (7, 5)
    torch.testing.assert_close(packed, x[mask.bool()])
    unpacked = layout.unpack(packed)
    assert unpacked.shape == (3, 4, 5)
    torch.testing.assert_close(unpacked, x * mask[..., None])
    unpacked.sum().backward()
    torch.testing.assert_close(x.grad, mask[..., None].float().expand(3, 4, 5))

    keep = layers.TokenLayout(None)
    assert keep.pack(x) is x and keep.unpack(x) is x


def test_training_layout_packs_only_padded_training_batches():
    mask = torch.tensor([[1, 1, 0]])
    additive = layers.padding_mask(mask, torch.float32)
    assert layers.training_layout(mask, additive, packing=True).index.tolist() == [0, 1]
    assert layers.training_layout(mask, additive, packing=False).index is None
    full = torch.ones(1, 3, dtype=torch.long)
    assert layers.training_layout(full, layers.padding_mask(full, torch.float32), packing=True).index is None
    assert layers.training_layout(None, None, packing=True).index is None


def test_base_model_switch_turns_packing_off():
    model = workbench.BertForSequenceClassification(workbench.BertConfig(**CONFIGS["bert"]().to_dict())).train()
    assert model.base_model is model.bert
    model.base_model.skip_padding_in_training = False
    assert rows_seen_by_first_query(model, labelled_batch("ForSequenceClassification", "bert")) == (3, 9, 32)
