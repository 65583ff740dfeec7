"""What this machine's CPU does well: is bfloat16 arithmetic native here, or emulated and slow?

On CPUs with bfloat16 instructions (AVX512-BF16, AMX) a bfloat16 matrix multiplication is faster than a
float32 one; on CPUs without them (AVX2 only, as on many laptops) PyTorch emulates it and it runs around 100x
slower. ``torch.backends.cpu.get_cpu_capability()`` names the vector instruction set but not the bfloat16
extension, so this module measures: one small matrix multiplication in each dtype, once per process.

    >>> from workbench import hardware
    >>> hardware.bfloat16_is_fast()
    False
    >>> print(hardware.describe())
    CPU: AVX2 (2 threads); a bfloat16 matmul runs at 0.01x the float32 speed: bfloat16 is emulated here, keep float32
"""

from __future__ import annotations

import functools
import time

import torch


def _best_time(a: torch.Tensor, b: torch.Tensor, repeats: int = 5) -> float:
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return best


@functools.cache
def bfloat16_speedup() -> float:
    """How many times faster a 256 x 256 bfloat16 matmul runs than a float32 one on this CPU (below 1: slower)."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(256, 256, generator=generator)
    b = torch.randn(256, 256, generator=generator)
    return _best_time(a, b) / _best_time(a.bfloat16(), b.bfloat16())


def bfloat16_is_fast() -> bool:
    """True when bfloat16 matrix multiplications are at least as fast as float32 ones here."""
    return bfloat16_speedup() >= 1.0


def describe() -> str:
    """One line for notebooks and benchmarks: the CPU's instruction set and what bfloat16 costs on it."""
    speedup = bfloat16_speedup()
    verdict = "bfloat16 is native here" if speedup >= 1.0 else "bfloat16 is emulated here, keep float32"
    return (
        f"CPU: {torch.backends.cpu.get_cpu_capability()} ({torch.get_num_threads()} threads); a bfloat16 "
        f"matmul runs at {speedup:.2f}x the float32 speed: {verdict}"
    )
