"""Image preprocessing speed: workbench's image processors vs the reference's PIL-backend ones, same process.

    .venv/bin/python bench/image_processing.py              # 64 photos, median of 5 rounds
    .venv/bin/python bench/image_processing.py --quick      # 16 photos, median of 3 rounds
    .venv/bin/python bench/image_processing.py -n 64 --repeats 9 --families dinov2 vit

Inputs: the first N photos of data/images/clothing (400 x 533 JPEGs, decoded before timing: both sides
get the same PIL images). Each family's processor is built with the settings of a real checkpoint, ours
and the reference's (``transformers.<Name>ImageProcessorPil``, the default processor of v4.37) alike, and
each call returns ``pixel_values`` as a torch tensor; the outputs must be identical (torch.equal).

Workbench runs twice: with one thread, and with ``--threads`` (default: torch's thread count), where the
photos of a batch are resized in parallel (PIL releases the GIL while it resizes). The reference has no
threads. Every variant runs once as warm-up, then the variants take turns for --repeats rounds (the order
reversed every other round); the table shows medians of the wall clock and of the process's CPU time.
Ratios are reference time over workbench time (> 1: workbench is faster). On a machine whose cores are
busy with other jobs, extra threads cannot help: compare the one-thread row, and the CPU-time column.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

# family -> (workbench / reference class name, the settings of a real checkpoint)
FAMILIES = {
    "dinov2": (
        "BitImageProcessor",
        {"size": {"shortest_edge": 256}, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]},
    ),
    "vit": ("ViTImageProcessor", {}),
    "convnext": ("ConvNextImageProcessor", {"size": 224, "resample": 3}),
    "deit": ("DeiTImageProcessor", {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}),
    "clip": ("CLIPImageProcessor", {}),
}


def load_photos(n: int):
    from PIL import Image

    from workbench import data

    paths = sorted(data.path("images", "clothing").glob("*/*.jpg"))[:n]
    photos = [Image.open(path) for path in paths]
    for photo in photos:
        photo.load()
    return photos


def race(variants: dict, repeats: int) -> dict[str, tuple[float, float]]:
    """(median wall seconds, median CPU seconds) per variant, taking turns after one warm-up call each."""
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


def with_threads(count: int, fn):
    def run():
        before = torch.get_num_threads()
        torch.set_num_threads(count)
        try:
            return fn()
        finally:
            torch.set_num_threads(before)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=64, help="number of photos (default 64)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="workbench's threads")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--quick", action="store_true", help="16 photos, 3 rounds")
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeats = 16, 3

    import transformers
    import transformers.utils.logging

    from workbench.processing import image_processing

    transformers.utils.logging.set_verbosity_error()
    photos = load_photos(args.n)
    print(
        f"{len(photos)} photos ({photos[0].width}x{photos[0].height} and alike), {args.repeats} rounds; "
        f"transformers {transformers.__version__}, torch {torch.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, workbench threads: 1 and {args.threads}"
    )
    header = f"{'family':<9} {'variant':<22} {'wall ms':>9} {'CPU ms':>9} {'ratio':>7} {'CPU ratio':>10}  identical"
    print(header)
    print("-" * len(header))
    for family in args.families:
        name, settings = FAMILIES[family]
        ours = getattr(image_processing, name)(**settings)
        ref = getattr(transformers, name + "Pil")(**settings)
        expected = ref(photos, return_tensors="pt")["pixel_values"]
        identical = torch.equal(
            with_threads(args.threads, lambda: ours(photos, return_tensors="pt"))()["pixel_values"], expected
        )
        variants = {
            "reference (PIL backend)": lambda: ref(photos, return_tensors="pt"),
            "workbench, 1 thread": with_threads(1, lambda: ours(photos, return_tensors="pt")),
            f"workbench, {args.threads} threads": with_threads(args.threads, lambda: ours(photos, return_tensors="pt")),
        }
        if args.threads == 1:
            del variants[f"workbench, {args.threads} threads"]
        times = race(variants, args.repeats)
        ref_wall, ref_cpu = times["reference (PIL backend)"]
        for variant, (wall, cpu) in times.items():
            ratio = f"{ref_wall / wall:6.2f}x" if variant.startswith("workbench") else ""
            cpu_ratio = f"{ref_cpu / cpu:9.2f}x" if variant.startswith("workbench") else ""
            same = str(identical) if variant.startswith("workbench") else ""
            print(f"{family:<9} {variant:<22} {wall * 1000:9.1f} {cpu * 1000:9.1f} {ratio:>7} {cpu_ratio:>10}  {same}")
        if not identical:
            raise SystemExit(f"{family}: workbench's pixel_values differ from the reference's")


if __name__ == "__main__":
    main()
