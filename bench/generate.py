"""Greedy generation speed and memory: workbench vs the reference (transformers), same weights, same process.

    .venv/bin/python bench/generate.py                 # 128 new tokens, median of 3 rounds, fp32 and bf16
    .venv/bin/python bench/generate.py --quick         # 32 new tokens, 2 rounds (smoke run)
    .venv/bin/python bench/generate.py --threads 1     # pin torch's thread count (default: torch's choice)
    python bench/generate.py --device cuda --dtypes float32,bfloat16   # on a GPU (memory columns: CPU RSS only)

Model: GPT-2-124M-shaped (GPT2Config() defaults: 12 layers, 768 wide, 50257 vocab), random weights
(seed 0), built by the reference, saved, and loaded by workbench from that folder: identical tensors.
Task: batch 1, a 32-token prompt, greedy, exactly N new tokens (eos disabled in both, so neither stops
early); fp32 and bf16. The two produce the same tokens in fp32 (checked). Each variant runs once as
warm-up, then the implementations take turns (ref, ours, ref, ours, ...) for --repeats rounds so that
load from other processes hits both alike; the table shows the median tokens/s.

What dominates: a decoding step of a 124M model at batch 1 is ~61 matrix-vector products that read
every weight once (~500 MB in fp32). Run alone (--threads 1) both implementations spend ~90% of the
step there and differ only in the remaining per-step overhead. With several threads on a machine that
other processes also load, every extra parallel region (the reference re-concatenates its KV cache
in every layer at every step) can stall on a descheduled thread, and the ratio grows; report both.

Memory: peak resident set size (psutil RSS, sampled every millisecond in a thread) during one generate
call, above the RSS just before it (after malloc_trim) -- the working memory of generation (KV cache,
activations, allocator churn), not the weights; and tracemalloc's peak of Python-level allocations in
the same call. Allocations shorter than the sampling interval can be missed; weights are the same
tensors in both and are not counted.

Int8 rows (``--quant``, workbench only; quantization.py): the fp32 workbench model quantized in memory, each mode
timed in turns with the reference's fp32 model. Columns: tokens/s and the ratio to the reference's fp32 by
wall time and by CPU time (process time, all threads: on a loaded machine use --threads 1 and read the CPU-time
ratio); the share of greedy tokens equal to workbench fp32's (and the first position that differs); and the
fraction of the memory-bandwidth limit, ``bytes of weights read per token x tokens/s / copy bandwidth`` (the
bandwidth measured here by copying 256 MB; weights counted once; embedding tables only where the LM head
reads them). Modes: ``int8_weight_only`` (LM head float, as the reference's default), ``+lm_head``
(include_input_output_embeddings=True: the 154 MB head in int8 too), ``int8_dynamic+lm_head``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402
import torch  # noqa: E402


class PeakRSS:
    """Peak RSS above the starting RSS while the block runs (sampled in a thread)."""

    def __init__(self, interval: float = 0.001):
        self.interval, self.process = interval, psutil.Process()

    def __enter__(self):
        _malloc_trim()  # hand freed heap pages back first, so that the baseline is not inflated by old garbage
        self.start = self.peak = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
        self.extra_mib = (self.peak - self.start) / 2**20


def _malloc_trim() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def build_models(folder: Path):
    import transformers

    import workbench

    torch.manual_seed(0)
    ref = transformers.GPT2LMHeadModel(transformers.GPT2Config()).eval()
    ref.save_pretrained(folder)
    ours = workbench.GPT2LMHeadModel.from_pretrained(folder).eval()
    for model in (ref, ours):
        model.generation_config.eos_token_id = None  # never stop early: exactly N new tokens
        model.generation_config.pad_token_id = 0
    return ref, ours


def run(model, prompt, new_tokens):
    with torch.inference_mode():
        return model.generate(
            prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens, do_sample=False, pad_token_id=0
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--quant", default=",".join(QUANT_MODES), help="int8 modes to time ('' for none)")
    args = parser.parse_args()
    if args.quick:
        args.new_tokens, args.repeats = 32, 2
    if args.threads:
        torch.set_num_threads(args.threads)

    import transformers

    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"{platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"GPT-2-124M shape, random weights; batch 1, {args.prompt_tokens}-token prompt, "
        f"{args.new_tokens} new tokens, greedy"
    )
    with tempfile.TemporaryDirectory() as tmp:
        ref, ours = build_models(Path(tmp))
    prompt = torch.randint(0, 50257, (1, args.prompt_tokens), generator=torch.Generator().manual_seed(1)).to(
        args.device
    )
    print(f"device {args.device}")

    header = (
        f"{'dtype':<9} {'reference tok/s':>16} {'workbench tok/s':>16} {'ratio':>7}   "
        f"{'peak RSS +MiB ref / ours':>25}   {'tracemalloc MiB ref / ours':>27}   same tokens"
    )
    print()
    print(header, flush=True)
    for dtype_name in args.dtypes.split(","):
        dtype = getattr(torch, dtype_name)
        ref.to(args.device, dtype)
        ours.to(args.device, dtype)
        out_ref, out_ours = run(ref, prompt, args.new_tokens), run(ours, prompt, args.new_tokens)  # warm-up
        assert out_ref.shape == out_ours.shape == (1, args.prompt_tokens + args.new_tokens), (
            out_ref.shape,
            out_ours.shape,
        )
        same = torch.equal(out_ref, out_ours)
        if dtype == torch.float32 and not same:
            print("WARNING: fp32 outputs differ between reference and workbench")
        times = {"reference": [], "workbench": []}
        for _ in range(args.repeats):
            for name, model in (("reference", ref), ("workbench", ours)):
                start = time.perf_counter()
                run(model, prompt, args.new_tokens)
                if prompt.is_cuda:
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - start)
        memory = {}
        for name, model in (("reference", ref), ("workbench", ours)):
            tracemalloc.start()
            with PeakRSS() as rss:
                run(model, prompt, args.new_tokens)
            python_peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            memory[name] = (rss.extra_mib, python_peak)
        speed = {name: args.new_tokens / statistics.median(t) for name, t in times.items()}
        ratio = speed["workbench"] / speed["reference"]
        print(
            f"{dtype_name:<9} {speed['reference']:>16.1f} {speed['workbench']:>16.1f} {ratio:>6.2f}x   "
            f"{memory['reference'][0]:>11.1f} / {memory['workbench'][0]:<11.1f}   "
            f"{memory['reference'][1]:>13.2f} / {memory['workbench'][1]:<11.2f}   {same}",
            flush=True,
        )
        print(
            "          seconds per run: "
            + "; ".join(f"{name} {', '.join(f'{t:.2f}' for t in runs)}" for name, runs in times.items()),
            flush=True,
        )
    if args.quant and args.device == "cpu":
        quant_rows(ref, ours, prompt, args)


QUANT_MODES = {
    "int8_weight_only": ("int8_weight_only", False),
    "int8_weight_only+lm_head": ("int8_weight_only", True),
    "int8_dynamic+lm_head": ("int8_dynamic_activation_int8_weight", True),
}


def copy_bandwidth(megabytes: int = 256) -> float:
    """Bytes per second of a large tensor copy (read + write counted), best of 5."""
    source = torch.ones(megabytes * 2**20 // 4)
    target = torch.empty_like(source)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        target.copy_(source)
        best = min(best, time.perf_counter() - start)
    return 2 * source.numel() * 4 / best


def bytes_read_per_token(model) -> int:
    """Bytes of the weights one decoding step reads: each tensor once; an embedding table only if the LM head
    reads it (a lookup reads one row)."""
    from torch import nn

    head = model.get_output_embeddings()
    head_weight = head.weight if head is not None else None
    lookups = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding) and m.weight is not head_weight}
    tensors = {id(t): t for t in [*model.parameters(), *model.buffers()] if id(t) not in lookups}
    return sum(t.numel() * t.element_size() for t in tensors.values())


def timed(model, prompt, new_tokens) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run(model, prompt, new_tokens)
    return time.perf_counter() - wall, time.process_time() - cpu


def quant_rows(ref, ours, prompt, args) -> None:
    """The int8 rows (see the module docstring)."""
    import copy

    from workbench.quantization import TorchAoConfig, quantize_

    bandwidth = copy_bandwidth()
    ref.to(torch.float32)
    ours.to(torch.float32)
    fp32_tokens = run(ours, prompt, args.new_tokens)[0, args.prompt_tokens :]
    print(f"\nint8 modes (workbench), copy bandwidth {bandwidth / 1e9:.1f} GB/s, load {os.getloadavg()[0]:.1f}")
    print(
        f"{'mode':<26} {'MB/token':>9} {'tok/s':>7} {'vs ref fp32 (wall)':>19} {'(cpu)':>7} "
        f"{'% of bw limit':>14} {'same tokens':>12} {'first diff':>11}"
    )
    models = {"workbench fp32": ours}
    for mode in args.quant.split(","):
        quant_type, head = QUANT_MODES[mode]
        config = TorchAoConfig(quant_type, include_input_output_embeddings=head)
        models[mode] = quantize_(copy.deepcopy(ours), config)
    for name, model in models.items():
        tokens = run(model, prompt, args.new_tokens)[0, args.prompt_tokens :]  # warm-up and quality
        same = (tokens == fp32_tokens).float().mean().item()
        differ = (tokens != fp32_tokens).nonzero()
        first_diff = str(differ[0].item()) if len(differ) else "-"
        times = {"ref": [], "ours": []}
        for _ in range(args.repeats):
            times["ref"].append(timed(ref, prompt, args.new_tokens))
            times["ours"].append(timed(model, prompt, args.new_tokens))
        wall = {k: statistics.median(t[0] for t in v) for k, v in times.items()}
        cpu = {k: statistics.median(t[1] for t in v) for k, v in times.items()}
        per_token = bytes_read_per_token(model)
        speed = args.new_tokens / wall["ours"]
        print(
            f"{name:<26} {per_token / 1e6:>9.0f} {speed:>7.1f} {wall['ref'] / wall['ours']:>18.2f}x "
            f"{cpu['ref'] / cpu['ours']:>6.2f}x {100 * per_token * speed / bandwidth:>13.0f}% "
            f"{same:>12.2f} {first_diff:>11}",
            flush=True,
        )


if __name__ == "__main__":
    main()
