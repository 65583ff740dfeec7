"""Statistics for the BERTology notebook: how much each head attends to simple positions or tokens."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .shared import as_numpy, pretty_token


def head_statistics(
    attentions, tokens: Sequence[str], special_tokens: Sequence[str] = ("[CLS]", "[SEP]", "<s>", "</s>")
) -> dict[str, np.ndarray]:
    """Per-head attention statistics, each a (layers, heads) array averaged over query positions.

    ``previous``/``next``/``self``: attention to position i-1 / i+1 / i; one entry per special token
    present (e.g. ``"[CLS]"``, ``"[SEP]"``): attention mass on those tokens; ``punctuation``: mass
    on tokens made only of punctuation; ``entropy``: mean entropy of the attention rows (bits):
    low = focused on few tokens, high = spread out (a bag-of-words head).
    """
    att = as_numpy(attentions)  # (layers, heads, q, k)
    n = att.shape[-1]
    idx = np.arange(n)
    stats: dict[str, np.ndarray] = {}
    stats["previous"] = att[:, :, idx[1:], idx[1:] - 1].mean(-1)
    stats["next"] = att[:, :, idx[:-1], idx[:-1] + 1].mean(-1)
    stats["self"] = att[:, :, idx, idx].mean(-1)
    for special in special_tokens:
        cols = [j for j, t in enumerate(tokens) if t == special]
        if cols:
            stats[special] = att[:, :, :, cols].sum(-1).mean(-1)
    punct = [
        j
        for j, t in enumerate(tokens)
        if t
        and all(not ch.isalnum() for ch in pretty_token(t).strip())
        and pretty_token(t).strip()
        and t not in special_tokens
    ]
    if punct:
        stats["punctuation"] = att[:, :, :, punct].sum(-1).mean(-1)
    p = np.clip(att, 1e-12, 1.0)
    stats["entropy"] = (-(p * np.log2(p)).sum(-1)).mean(-1)
    return stats
