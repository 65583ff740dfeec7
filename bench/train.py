#!/usr/bin/env python
"""Fine-tuning speed: workbench's Trainer vs the reference (transformers) Trainer, same run.

    .venv/bin/python bench/train.py                       # 256 reviews, batch 16, 1 epoch, 2 rounds
    .venv/bin/python bench/train.py --samples 1000 --threads 2

Both sides fine-tune all-MiniLM-L6-v2 for sentiment on the same Rotten Tomatoes subset: the same
token ids (tokenized once), the same starting weights (the reference model gets workbench's freshly
initialised head), the same hyperparameters (AdamW, linear schedule with warmup, clipping, dropout on,
dynamic padding, seed), on the same CPU threads, in the same process. A short untimed run of each
trainer comes first (the first run in a process pays one-time costs). Each round runs both trainers,
alternating which goes first; the best round of each side is reported, as training samples per
second of wall time around ``trainer.train()`` (everything the user waits for) and per second of
this process's CPU time, with the ratios, and the lowest and highest ratio of a single round. CPU time is
steadier than wall time on a shared machine only with ``--threads 1``: with more threads, a thread waiting
for a descheduled one spins, and its spinning counts as CPU time too.

Each trainer runs twice per round: with the default random order and with
``train_sampling_strategy="group_by_length"`` (batches of similar lengths, so less padding; off by
default in both libraries). The table compares like with like (default vs default, grouped vs
grouped), and, as a separate row, workbench grouped vs the reference's default.

``--load N`` starts N competing processes (each a busy Python loop, one core's worth of work) for the
whole benchmark, as other users' programs on a shared machine would; ``--threads`` sets torch's
intra-op threads. bench/notes_trainer_load_sensitivity.md has what these show.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = "sentence-transformers/all-MiniLM-L6-v2"


def read_subset(n: int, max_length: int, tokenizer) -> list[dict]:
    data = Path(os.environ.get("WORKBENCH_DATA_DIR", REPO.parent / "shared" / "data"))
    with open(data / "rotten_tomatoes" / "train.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[:n]
    enc = tokenizer([r["sentence"].strip() for r in rows], truncation=True, max_length=max_length)
    return [
        {
            "input_ids": enc["input_ids"][i],
            "attention_mask": enc["attention_mask"][i],
            "token_type_ids": enc["token_type_ids"][i],
            "label": int(r["label"]),
        }
        for i, r in enumerate(rows)
    ]


SAMPLING = ("random", "group_by_length")


def training_arguments(module, output_dir: str, args, sampling: str) -> object:
    return module.TrainingArguments(
        output_dir=output_dir,
        num_train_epochs=1,
        per_device_train_batch_size=args.batch_size,
        learning_rate=1e-4,
        warmup_steps=0.1,
        weight_decay=0.01,
        lr_scheduler_type="linear",
        max_grad_norm=1.0,
        logging_steps=10_000,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=42,
        dataloader_num_workers=0,
        use_cpu=True,
        train_sampling_strategy=sampling,
    )


def run(name: str, module, model, data, args, sampling: str, quiet: bool = False) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as out:
        trainer = module.Trainer(
            model=model,
            args=training_arguments(module, out, args, sampling),
            train_dataset=data,
            data_collator=module.DataCollatorWithPadding(args.tokenizer),
        )
        start, cpu_start = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):  # the trainers' own progress lines
            trainer.train()
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    rate, cpu_rate = len(data) / seconds, len(data) / cpu_seconds
    if quiet:
        return rate, cpu_rate
    print(
        f"  {name:10} {sampling:16} {seconds:7.2f} s wall  {rate:7.2f} samples/s | {cpu_seconds:7.2f} s CPU  "
        f"{cpu_rate:7.2f} samples/CPU-s  (final loss {trainer.state.log_history[-1]['train_loss']:.4f})",
        flush=True,
    )
    return rate, cpu_rate


def start_competing_load(processes: int) -> list[subprocess.Popen]:
    """``processes`` busy loops (one core's worth of work each), standing for other users' programs."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--sampling", choices=("both",) + SAMPLING, default="both", help="which data orders to run")
    parser.add_argument("--load", type=int, default=0, help="competing busy processes during the runs")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        torch.set_num_threads(args.threads)

    import transformers

    import workbench

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    import logging

    logging.getLogger("workbench").setLevel(logging.ERROR)
    tokenizer = workbench.AutoTokenizer.from_pretrained(CHECKPOINT)
    args.tokenizer = tokenizer
    data = read_subset(args.samples, args.max_length, tokenizer)
    folder = workbench.hub.resolve_file(CHECKPOINT, "config.json")
    folder = str(Path(folder).parent)

    torch.manual_seed(0)
    head = workbench.AutoModelForSequenceClassification.from_pretrained(CHECKPOINT, num_labels=2).classifier
    head = head.state_dict()

    def ours():
        model = workbench.AutoModelForSequenceClassification.from_pretrained(CHECKPOINT, num_labels=2)
        model.classifier.load_state_dict(head)
        return model

    def reference():
        model = transformers.AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
        model.classifier.load_state_dict(head)
        return model

    print(
        f"fine-tune {CHECKPOINT}: {len(data)} reviews, batch {args.batch_size}, max_length {args.max_length}, "
        f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} threads, "
        f"{args.load} competing processes, {platform.processor() or platform.machine()}"
    )
    load_average = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if args.load or load_average + torch.get_num_threads() > (os.cpu_count() or 1):
        print(
            f"busy machine (load average {load_average:.1f} on {os.cpu_count()} cores): with more torch threads than "
            "free cores, every parallel op waits for a descheduled thread and times swing several-fold; --threads 1 "
            "(or OMP_WAIT_POLICY=PASSIVE) keeps the ratio steady (bench/notes_trainer_load_sensitivity.md)"
        )
    samplings = SAMPLING if args.sampling == "both" else (args.sampling,)
    order = [("workbench", workbench, ours), ("reference", transformers, reference)]
    for name, module, build in order:  # untimed: the first run in a process pays one-time costs (page faults, pools)
        run(name, module, build(), data[: 2 * args.batch_size], args, "random", quiet=True)
    rates = {(name, sampling): [] for name in ("workbench", "reference") for sampling in samplings}
    load = start_competing_load(args.load)
    try:
        for r in range(args.rounds):
            print(f"round {r + 1}")
            for name, module, build in order if r % 2 == 0 else order[::-1]:
                for sampling in samplings:
                    rates[name, sampling].append(run(name, module, build(), data, args, sampling))
    finally:
        for process in load:
            process.kill()
            process.wait()
    rows = [
        ("default order, both", ("workbench", "random"), ("reference", "random")),
        ("group_by_length, both", ("workbench", "group_by_length"), ("reference", "group_by_length")),
        ("workbench group_by_length vs reference default", ("workbench", "group_by_length"), ("reference", "random")),
    ]
    rows = [row for row in rows if row[1] in rates and row[2] in rates]
    print(
        f"\nbest of {args.rounds} rounds, samples/s (wall) and samples/CPU-s; ratio = workbench / reference "
        "(target >= 1.3x); each round's wall ratio, lowest to highest, shows how much the load moved it"
    )
    print(f"{'':48} {'workbench':>19} {'reference':>19} {'ratio wall':>11} {'ratio CPU':>10} {'rounds (wall)':>15}")
    for label, ours_key, ref_key in rows:
        (wb, wb_cpu), (ref, ref_cpu) = (tuple(map(max, zip(*rates[key]))) for key in (ours_key, ref_key))
        per_round = sorted(a[0] / b[0] for a, b in zip(rates[ours_key], rates[ref_key]))
        print(
            f"{label:48} {wb:8.2f} / {wb_cpu:8.2f} {ref:8.2f} / {ref_cpu:8.2f} {wb / ref:10.2f}x "
            f"{wb_cpu / ref_cpu:9.2f}x {per_round[0]:7.2f}-{per_round[-1]:.2f}x"
        )


if __name__ == "__main__":
    main()
