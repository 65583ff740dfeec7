"""Fine-tune a sequence classifier on a .tsv file (columns ``sentence`` and ``label``) with the Trainer.

The command-line flags carry the names of the ``TrainingArguments`` fields they set, as in the
Transformers example scripts (``run_glue.py``). By default it fine-tunes the packaged
all-MiniLM-L6-v2 on Rotten Tomatoes from the data folder (``workbench.data``, ``$WORKBENCH_DATA_DIR``):

    python examples/train_text_classification.py --output_dir out --max_train_samples 256 --max_steps 20

The same command runs data-parallel under torchrun; the Trainer sets up DDP (gloo on a CPU):

    torchrun --nproc_per_node 2 examples/train_text_classification.py --output_dir out ...

``--per_device_train_batch_size`` is per process, so the global batch is that times the number of
processes. At the end the output folder holds the model and tokenizer, ``trainer_state.json`` (the
loss history), ``train_results.json``, ``eval_results.json`` and ``all_results.json``; rank 0 prints the
final metrics as one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys

import numpy as np
import torch

from workbench import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments, data

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    g = p.add_argument_group("model and data")
    g.add_argument("--model_name_or_path", default=DEFAULT_MODEL, help="Hub id or local checkpoint folder")
    g.add_argument(
        "--train_file",
        default="$WORKBENCH_DATA_DIR/rotten_tomatoes/train.tsv",
        help="tsv with sentence and label columns",
    )
    g.add_argument(
        "--validation_file",
        default="$WORKBENCH_DATA_DIR/rotten_tomatoes/validation.tsv",
        help="tsv with sentence and label columns; '' to skip evaluation",
    )
    g.add_argument("--max_length", type=int, default=64, help="truncate sentences to this many tokens")
    g.add_argument("--max_train_samples", type=int, default=None, help="keep a shuffled subset of the training rows")
    g.add_argument("--max_eval_samples", type=int, default=None, help="keep the first N validation rows")
    g.add_argument(
        "--class_names",
        default=None,
        help="comma-separated names of labels 0, 1, ... (e.g. negative,positive), saved in config.json",
    )
    g.add_argument(
        "--disable_dropout",
        action="store_true",
        help="set the dropout probabilities to 0 (makes DDP and one process give the same weights)",
    )
    t = p.add_argument_group("TrainingArguments")
    t.add_argument("--output_dir", required=True)
    t.add_argument("--num_train_epochs", type=float, default=1.0)
    t.add_argument("--max_steps", type=int, default=-1, help="> 0 overrides --num_train_epochs")
    t.add_argument("--per_device_train_batch_size", type=int, default=16)
    t.add_argument("--per_device_eval_batch_size", type=int, default=64)
    t.add_argument("--gradient_accumulation_steps", type=int, default=1)
    t.add_argument("--learning_rate", type=float, default=5e-5)
    t.add_argument("--weight_decay", type=float, default=0.0)
    t.add_argument("--lr_scheduler_type", default="linear")
    t.add_argument("--warmup_steps", type=float, default=0, help=">= 1: steps; < 1: fraction of the steps")
    t.add_argument("--logging_steps", type=float, default=10)
    t.add_argument("--eval_strategy", default="no", choices=["no", "steps", "epoch"])
    t.add_argument("--eval_steps", type=float, default=None)
    t.add_argument("--save_strategy", default="no", choices=["no", "steps", "epoch"])
    t.add_argument("--save_steps", type=float, default=500)
    t.add_argument("--seed", type=int, default=42)
    t.add_argument("--optim", default="adamw_torch")
    t.add_argument("--report_to", default="none")
    t.add_argument("--disable_tqdm", action="store_true")
    for action in t._group_actions:
        if action.help is None:
            action.help = f"TrainingArguments.{action.dest}"
    args = p.parse_args(argv)
    data_dir = str(data.data_dir())
    args.train_file = args.train_file.replace("$WORKBENCH_DATA_DIR", data_dir)
    args.validation_file = args.validation_file.replace("$WORKBENCH_DATA_DIR", data_dir)
    return args


def read_tsv(path: str) -> dict[str, list]:
    """Read a GLUE-style tsv (header ``sentence\\tlabel``, no quoting)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or not {"sentence", "label"} <= set(rows[0]):
        sys.exit(f"{path}: expected a tsv with a header 'sentence<TAB>label'")
    return {"sentence": [r["sentence"].strip() for r in rows], "label": [int(r["label"]) for r in rows]}


def main(argv=None) -> dict:
    a = parse_args(argv)
    torch.manual_seed(a.seed)

    # 1. data: lists of dicts are a dataset for the Trainer; no padding here (the collator pads per batch)
    train = read_tsv(a.train_file)
    order = np.random.default_rng(a.seed).permutation(len(train["label"]))
    if a.max_train_samples is not None:
        order = order[: a.max_train_samples]
    tokenizer = AutoTokenizer.from_pretrained(a.model_name_or_path)

    def encode(data, indices):
        enc = tokenizer([data["sentence"][i] for i in indices], truncation=True, max_length=a.max_length)
        return [
            {
                "input_ids": enc["input_ids"][j],
                "attention_mask": enc["attention_mask"][j],
                **({"token_type_ids": enc["token_type_ids"][j]} if "token_type_ids" in enc else {}),
                "label": data["label"][i],
            }
            for j, i in enumerate(indices)
        ]

    train_dataset = encode(train, order.tolist())
    eval_dataset = None
    if a.validation_file:
        validation = read_tsv(a.validation_file)
        n = (
            len(validation["label"])
            if a.max_eval_samples is None
            else min(a.max_eval_samples, len(validation["label"]))
        )
        eval_dataset = encode(validation, list(range(n)))
    num_labels = len(set(train["label"]))

    # 2. model: the pretrained encoder with a new classification head
    config_kwargs = {"num_labels": num_labels}
    if a.class_names:
        names = [n.strip() for n in a.class_names.split(",")]
        if len(names) != num_labels:
            sys.exit(f"--class_names has {len(names)} names but the training data has {num_labels} labels")
        config_kwargs.update(id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
    if a.disable_dropout:
        config_kwargs.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    config = AutoConfig.from_pretrained(a.model_name_or_path, **config_kwargs)
    model = AutoModelForSequenceClassification.from_pretrained(a.model_name_or_path, config=config)

    # 3. the Trainer
    args = TrainingArguments(
        output_dir=a.output_dir,
        num_train_epochs=a.num_train_epochs,
        max_steps=a.max_steps,
        per_device_train_batch_size=a.per_device_train_batch_size,
        per_device_eval_batch_size=a.per_device_eval_batch_size,
        gradient_accumulation_steps=a.gradient_accumulation_steps,
        learning_rate=a.learning_rate,
        weight_decay=a.weight_decay,
        lr_scheduler_type=a.lr_scheduler_type,
        warmup_steps=a.warmup_steps,
        logging_steps=a.logging_steps,
        eval_strategy=a.eval_strategy if eval_dataset is not None else "no",
        eval_steps=a.eval_steps,
        save_strategy=a.save_strategy,
        save_steps=a.save_steps,
        seed=a.seed,
        optim=a.optim,
        report_to=a.report_to,
        disable_tqdm=a.disable_tqdm,
    )

    def compute_metrics(eval_pred):
        logits, labels = eval_pred
        return {"accuracy": float((logits.argmax(-1) == labels).mean())}

    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
    )

    # 4. train, save, evaluate, report
    result = trainer.train()
    trainer.save_model()
    trainer.save_state()
    metrics = {**result.metrics, "train_samples": len(train_dataset), "world_size": args.world_size}
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)
    if eval_dataset is not None:
        eval_metrics = trainer.evaluate()
        eval_metrics["eval_samples"] = len(eval_dataset)
        trainer.log_metrics("eval", eval_metrics)
        trainer.save_metrics("eval", eval_metrics)
        metrics.update(eval_metrics)
    trainer.save_metrics("all", metrics)
    if trainer.is_world_process_zero():
        print(json.dumps(metrics, sort_keys=True))
    return metrics


if __name__ == "__main__":
    main()
