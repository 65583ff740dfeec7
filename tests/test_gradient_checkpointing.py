"""Gradient checkpointing: the same gradients as without it, fewer stored activations, every family.

``model.gradient_checkpointing_enable()`` makes each transformer block (``GradientCheckpointingLayer``)
keep only its inputs while training and run again in the backward pass. The checks: the loss and every
gradient equal a run without checkpointing (dropout on: the random state is replayed), the blocks really
run twice, the activations autograd keeps shrink, decoders keep no KV cache meanwhile, and the Trainer's
``gradient_checkpointing=True`` ends with the same weights.
"""

from __future__ import annotations

import pytest
import torch

import workbench
from workbench.models import bart
from workbench.models.auto import tiny_config

BERT = dict(vocab_size=99, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37)


def build(family: str):
    """A tiny task model with dropout on, and a batch with labels (padding included)."""
    torch.manual_seed(0)
    ids = torch.randint(5, 99, (3, 10))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    if family == "bert":
        model = workbench.BertForSequenceClassification(workbench.BertConfig(**BERT))
        return model, {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([0, 1, 1])}
    if family == "albert":
        config = workbench.AlbertConfig(**BERT, embedding_size=16, hidden_dropout_prob=0.1)
        return workbench.AlbertForMaskedLM(config), {"input_ids": ids, "attention_mask": mask, "labels": ids}
    if family == "distilbert":
        config = workbench.DistilBertConfig(vocab_size=99, dim=32, n_layers=3, n_heads=4, hidden_dim=37)
        model = workbench.DistilBertForTokenClassification(config)
        return model, {"input_ids": ids, "attention_mask": mask, "labels": ids % 2}
    if family == "gpt2":
        config = workbench.GPT2Config(vocab_size=99, n_positions=32, n_embd=32, n_layer=3, n_head=4)
        return workbench.GPT2LMHeadModel(config), {"input_ids": ids, "labels": ids}
    if family == "llama":
        model = workbench.LlamaForCausalLM(tiny_config("llama-tiny-random", vocab_size=99, attention_dropout=0.1))
        return model, {"input_ids": ids, "labels": ids}
    if family == "t5":
        model = workbench.T5ForConditionalGeneration(tiny_config("t5-tiny-random", vocab_size=99, dropout_rate=0.1))
        return model, {"input_ids": ids, "attention_mask": mask, "labels": ids[:, :6]}
    config = bart.BartConfig(**bart.TINY_PRESETS["bart-tiny-random"], dropout=0.1)
    config.vocab_size = 99
    return workbench.BartForConditionalGeneration(config), {
        "input_ids": ids,
        "attention_mask": mask,
        "labels": ids[:, :6],
    }


FAMILIES = ["bert", "albert", "distilbert", "gpt2", "llama", "t5", "bart"]


def loss_and_gradients(model, batch, seed: int = 1):
    torch.manual_seed(seed)
    model.zero_grad()
    loss = model(**batch).loss
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def saved_activation_bytes(model, batch) -> int:
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def keep(tensor):
        if tensor.untyped_storage().data_ptr() not in parameters:
            saved[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        model(**batch).loss.backward()
    model.zero_grad()
    return sum(saved.values())


@pytest.mark.parametrize("family", FAMILIES)
def test_same_gradients_less_memory(family):
    model, batch = build(family)
    model.train()
    assert model.supports_gradient_checkpointing and not model.is_gradient_checkpointing
    plain_loss, plain_grads = loss_and_gradients(model, batch)
    plain_bytes = saved_activation_bytes(model, batch)

    blocks = [m for m in model.modules() if isinstance(m, workbench.modeling.GradientCheckpointingLayer)]
    calls = []
    next(blocks[0].children()).register_forward_hook(lambda *_: calls.append(1))
    loss_and_gradients(model, batch)
    runs_without = len(calls)  # ALBERT applies its one shared layer several times

    model.gradient_checkpointing_enable()
    assert model.is_gradient_checkpointing
    calls.clear()
    loss, grads = loss_and_gradients(model, batch)
    assert len(calls) == 2 * runs_without, (
        "a checkpointed block runs in the forward pass and again in the backward pass"
    )
    torch.testing.assert_close(loss, plain_loss, atol=1e-6, rtol=1e-6)  # decoders skip the KV cache: last-bit changes
    assert grads.keys() == plain_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, plain_grads[name], atol=1e-7, rtol=1e-5, msg=lambda m: f"{name}: {m}")
    assert saved_activation_bytes(model, batch) < 0.7 * plain_bytes

    model.eval()  # inference never recomputes
    calls.clear()
    with torch.no_grad():
        model(**batch)
    assert len(calls) == runs_without
    model.gradient_checkpointing_disable()
    assert not model.is_gradient_checkpointing


@pytest.mark.parametrize("family", ["gpt2", "llama", "t5", "bart"])
def test_decoders_keep_no_cache_while_checkpointing(family):
    model, batch = build(family)
    model.train()
    assert model(**batch).past_key_values is not None or family in ("t5", "bart")  # labels: seq2seq keeps none
    model.gradient_checkpointing_enable()
    batch = {key: value for key, value in batch.items() if key != "labels"}
    if family in ("t5", "bart"):
        batch["decoder_input_ids"] = batch["input_ids"][:, :4]
    assert model(**batch, use_cache=True).past_key_values is None
    cache = model.eval()(**batch, use_cache=True).past_key_values
    assert cache is not None  # inference caches as before
    with pytest.raises(ValueError, match="gradient checkpointing"):
        model.train()(**batch, past_key_values=cache)


def test_bad_checkpoint_options_are_refused():
    model, _ = build("bert")
    with pytest.raises(ValueError, match="use_reentrant"):
        model.gradient_checkpointing_enable({"use_reentrnat": False})


def test_reentrant_variant_gives_the_same_gradients():
    model, batch = build("bert")
    model.train()
    _, plain = loss_and_gradients(model, batch)
    model.gradient_checkpointing_enable({"use_reentrant": True})
    _, checkpointed = loss_and_gradients(model, batch)
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad, atol=1e-7, rtol=1e-5)


def test_trainer_gradient_checkpointing_ends_with_the_same_weights(tmp_path):
    from workbench import Trainer, TrainingArguments

    torch.manual_seed(0)
    rows = []
    for length in torch.randint(4, 11, (24,)).tolist():  # padded to 10 tokens, labels from the length
        ids = torch.randint(5, 99, (10,)).masked_fill(torch.arange(10) >= length, 0)
        rows.append({"input_ids": ids, "attention_mask": (ids != 0).long(), "labels": length % 2})

    def train(checkpointing: bool) -> dict:
        model, _ = build("bert")
        args = TrainingArguments(
            output_dir=str(tmp_path / str(checkpointing)),
            max_steps=4,
            per_device_train_batch_size=8,
            learning_rate=1e-3,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            gradient_checkpointing=checkpointing,
            logging_steps=1,
        )
        trainer = Trainer(model=model, args=args, train_dataset=rows)
        trainer.train()
        assert model.is_gradient_checkpointing == checkpointing
        return {name: p.detach().clone() for name, p in model.named_parameters()}

    plain, checkpointed = train(False), train(True)
    for name, weight in plain.items():
        torch.testing.assert_close(checkpointed[name], weight, atol=1e-6, rtol=1e-5)
