"""A tiny random BERT classifier, a learnable toy data set and a Trainer over them: the setup shared by
tests/test_trainer.py and tests/test_training_monitor.py (test files never import each other)."""

import torch

from workbench import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

VOCAB = 100


class TinyTokenizer:
    """Just what the collators need: a pad id and a padding side."""

    pad_token_id = 0
    padding_side = "right"


def tiny_model(seed=0, **overrides):
    torch.manual_seed(seed)
    values = dict(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=2,
    )
    values.update(overrides)
    return BertForSequenceClassification(BertConfig(**values))


def make_data(n=40, seed=1, with_labels=True):
    """Learnable toy task: the first token after [CLS] is 7 for label 1 and 8 for label 0."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        length = int(torch.randint(4, 12, (), generator=g))
        ids = torch.randint(10, VOCAB, (length,), generator=g).tolist()
        ids[0] = 7 if i % 2 else 8
        row = {"input_ids": [2] + ids + [3]}
        if with_labels:
            row["label"] = i % 2
        rows.append(row)
    return rows


def accuracy(eval_pred):
    logits, labels = eval_pred
    return {"accuracy": float((logits.argmax(-1) == labels).mean())}


def make_trainer(out, model=None, data=None, callbacks=(), eval_data=None, **kwargs):
    defaults = dict(
        num_train_epochs=2,
        per_device_train_batch_size=6,
        per_device_eval_batch_size=8,
        logging_steps=2,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        learning_rate=1e-3,
    )
    defaults.update(kwargs)
    return Trainer(
        model=model or tiny_model(),
        args=TrainingArguments(str(out), **defaults),
        train_dataset=data if data is not None else make_data(),
        eval_dataset=eval_data,
        processing_class=TinyTokenizer(),
        compute_metrics=accuracy,
        callbacks=list(callbacks),
    )
