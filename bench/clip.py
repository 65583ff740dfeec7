"""Benchmark: CLIP ViT-B/32 (openai/clip-vit-base-patch32's shape, random weights) and zero-shot image
classification, workbench vs the reference (the installed ``transformers``), in the same process, on the same
weights and the same photos.

    .venv/bin/python bench/clip.py                # 32 photos, 5 labels, best of 3 rounds
    .venv/bin/python bench/clip.py --quick        # 8 photos, 1 round
    .venv/bin/python bench/clip.py --threads 1

Rows: the image tower on a batch of photos (``get_image_features``), the text tower on the labels' sentences
(``get_text_features``), the whole model (``logits_per_image``), and ``pipeline("zero-shot-image-classification")``
on the photo files (each library's defaults: workbench batches 32 images, the reference runs one at a time). The
numbers must agree (1e-4) before a time counts. Ratios are reference time over workbench time (> 1: workbench is
faster), wall clock and process CPU time, best of the rounds, the libraries taking turns.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

LABELS = ["dress", "hat", "pants", "shoes", "t-shirt"]
TEMPLATE = "This is a photo of {}."


def timed(fn, rounds: int) -> tuple[float, float, object]:
    """Best wall and CPU seconds of ``rounds`` calls, and the last result."""
    best_wall = best_cpu = float("inf")
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        with torch.inference_mode():
            result = fn()
        best_wall, best_cpu = min(best_wall, time.perf_counter() - wall), min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=32, help="photos")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeats = 8, 1
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")

    import transformers

    import workbench
    from workbench import data

    transformers.logging.set_verbosity_error()
    photos = sorted(str(p) for p in data.path("images", "captioned").glob("*.jpg"))
    photos = (photos * (args.n // len(photos) + 1))[: args.n]
    folder = tempfile.mkdtemp(prefix="bench-clip-")
    torch.manual_seed(0)
    reference = transformers.CLIPModel(transformers.CLIPConfig()).eval()  # openai/clip-vit-base-patch32's shape
    reference.save_pretrained(folder)
    tokenizer_files = data.path("tokenizers", "clip-vit-base-patch32")
    workbench.AutoTokenizer.from_pretrained(tokenizer_files).save_pretrained(folder)
    workbench.CLIPImageProcessor().save_pretrained(folder)
    ours = workbench.CLIPModel.from_pretrained(folder)

    processor = workbench.AutoProcessor.from_pretrained(folder)
    inputs = processor(text=[TEMPLATE.format(x) for x in LABELS], images=photos, padding=True, return_tensors="pt")
    texts = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    pixels = inputs["pixel_values"]
    ours_pipe = workbench.pipeline("zero-shot-image-classification", model=folder)
    reference_pipe = transformers.pipeline("zero-shot-image-classification", model=folder)

    rows = {
        "image tower": (
            lambda: reference.get_image_features(pixel_values=pixels).pooler_output,
            lambda: ours.get_image_features(pixel_values=pixels),
        ),
        "text tower": (
            lambda: reference.get_text_features(**texts).pooler_output,
            lambda: ours.get_text_features(**texts),
        ),
        "whole model": (
            lambda: reference(**texts, pixel_values=pixels).logits_per_image,
            lambda: ours(**texts, pixel_values=pixels).logits_per_image,
        ),
        "pipeline": (
            lambda: [[x["score"] for x in answer] for answer in reference_pipe(photos, candidate_labels=LABELS)],
            lambda: [[x["score"] for x in answer] for answer in ours_pipe(photos, candidate_labels=LABELS)],
        ),
    }
    print(f"CLIP ViT-B/32 shape, random weights; {args.n} photos, {len(LABELS)} labels; {args.threads} threads")
    print(f"{'':14}{'reference s':>12}{'workbench s':>12}{'ratio':>8}{'CPU ratio':>11}")
    for name, (theirs, mine) in rows.items():
        timed(theirs, 1), timed(mine, 1)  # warm-up
        ref_wall, ref_cpu, expected = timed(theirs, args.repeats)
        our_wall, our_cpu, got = timed(mine, args.repeats)
        torch.testing.assert_close(torch.as_tensor(got), torch.as_tensor(expected), atol=1e-4, rtol=1e-4)
        print(f"{name:14}{ref_wall:12.3f}{our_wall:12.3f}{ref_wall / our_wall:8.2f}{ref_cpu / our_cpu:11.2f}")


if __name__ == "__main__":
    main()
