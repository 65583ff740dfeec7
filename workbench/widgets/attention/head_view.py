"""The head view: lines from each query token (left) to the key tokens (right) it attends to.

Line opacity is the attention weight, one colour per head. Hover a token to see only its lines. Long
inputs show a window of ``max_tokens`` tokens and at most ``max_lines`` lines (the strongest).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...display import escape
from .shared import Selection, View, element_ids, head_color, pretty_token


def _head_view_css(uid: str, q_idx: Sequence[int], k_idx: Sequence[int]) -> str:
    """Hover a query (left) token: show only its lines; hover a key (right) token: only lines to it."""
    rules = [f"#{uid}:has(.q{i}:hover) line:not(.q{i}){{visibility:hidden}}" for i in q_idx]
    rules += [f"#{uid}:has(.k{j}:hover) line:not(.k{j}){{visibility:hidden}}" for j in k_idx]
    return "\n".join(rules)


def _head_lines(
    attention: np.ndarray, heads: Sequence[int], q_idx, k_idx, min_weight: float, max_lines: int
) -> tuple[list[tuple[float, int, int, int]], list[str]]:
    """The lines to draw, (weight, head, query, key), weakest first: weight >= min_weight, at most max_lines."""
    qi, kj = np.asarray(q_idx, dtype=int), np.asarray(k_idx, dtype=int)
    candidates, notes = [], []
    below = 0
    for h in heads:
        block = attention[h][np.ix_(qi, kj)] if len(qi) and len(kj) else np.zeros((0, 0))
        keep = block >= min_weight
        below += int(block.size - keep.sum())
        rows, cols = np.nonzero(keep)
        for r, c in zip(rows.tolist(), cols.tolist()):
            candidates.append((float(block[r, c]), h, int(qi[r]), int(kj[c])))
    if below:
        notes.append(f"{below} lines with weight below {min_weight:g} are not drawn.")
    if len(candidates) > max_lines:
        candidates.sort(key=lambda t: -t[0])
        notes.append(f"Only the {max_lines} strongest of {len(candidates)} lines are drawn.")
        candidates = candidates[:max_lines]
    candidates.sort(key=lambda t: t[0])  # strongest on top
    return candidates, notes


def render_head_view(
    attention: np.ndarray,
    heads: Sequence[int],
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    q_idx: Sequence[int],
    k_idx: Sequence[int],
    *,
    min_weight: float = 0.02,
    max_lines: int = 3000,
    uid: str | None = None,
    xmlns: bool = False,
) -> tuple[str, list[str]]:
    """Lines from query tokens (left) to key tokens (right), opacity = weight, one colour per head.

    ``attention`` is (heads, q, k) for one layer; ``heads`` the head numbers to draw; ``q_idx``/``k_idx``
    the token positions to show. Returns (svg, notes about what was hidden).
    """
    uid = uid or f"wbav{next(element_ids)}"
    row, top = 20, 8
    max_chars = max(
        [len(pretty_token(q_tokens[i])) for i in q_idx] + [len(pretty_token(k_tokens[j])) for j in k_idx] + [4]
    )
    label_w = min(160, 12 + 7 * max_chars)
    gap = 180
    x_left, x_right = label_w, label_w + gap
    width = x_right + label_w
    height = top * 2 + row * max(len(q_idx), len(k_idx), 1)
    q_pos = {i: top + row * n + row / 2 for n, i in enumerate(q_idx)}
    k_pos = {j: top + row * n + row / 2 for n, j in enumerate(k_idx)}

    candidates, notes = _head_lines(attention, heads, q_idx, k_idx, min_weight, max_lines)

    parts = [
        f'<svg id="{uid}" class="headview"'
        + (' xmlns="http://www.w3.org/2000/svg"' if xmlns else "")
        + f' width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
    ]
    parts.append(f"<style>{_head_view_css(uid, q_idx, k_idx)}</style>")
    parts.append('<g class="lines" stroke-width="2">')
    tooltips = len(heads) == 1  # with many heads the lines overlap: tooltips would only add weight to the page
    for w, h, i, j in candidates:
        line = (
            f'<line class="q{i} k{j}" x1="{x_left + 4}" y1="{q_pos[i]:.1f}" x2="{x_right - 4}" '
            f'y2="{k_pos[j]:.1f}" stroke="{head_color(h)}" stroke-opacity="{min(1.0, w):.3f}"'
        )
        if tooltips:
            line += (
                f"><title>head {h}: {escape(pretty_token(q_tokens[i]))} → {escape(pretty_token(k_tokens[j]))} "
                f"{w:.3f}</title></line>"
            )
        else:
            line += "/>"
        parts.append(line)
    parts.append("</g>")
    for side, idx, pos, tokens, x, anchor in (
        ("q", q_idx, q_pos, q_tokens, x_left - 6, "end"),
        ("k", k_idx, k_pos, k_tokens, x_right + 6, "start"),
    ):
        for i in idx:
            rect_x = 0 if side == "q" else x_right
            parts.append(
                f'<g class="tok {side}{i}"><rect x="{rect_x}" y="{pos[i] - row / 2:.1f}" width="{label_w}" '
                f'height="{row}"/><text x="{x}" y="{pos[i] + 4:.1f}" text-anchor="{anchor}">'
                f"{escape(pretty_token(tokens[i]))}<title>position {i}</title></text></g>"
            )
    parts.append("</svg>")
    return "".join(parts), notes


def _window(sel: Selection) -> tuple[list[int], list[int], list[str]]:
    """The query and key positions inside the window of ``max_tokens`` tokens, and a note on what it hides."""
    start, end = sel.window, sel.window + sel.max_tokens
    q_idx = [i for i in sel.q_idx if start <= i < end]
    k_idx = [j for j in sel.k_idx if start <= j < end]
    notes = []
    n = len(sel.q_tokens)
    if n > sel.max_tokens:
        hidden = n - (min(end, n) - start)
        notes.append(
            f"Showing tokens {start}–{min(end, n) - 1} of {n}: {hidden} tokens "
            "outside the window are hidden (move “Window start”, or use the heatmap or model view, "
            "which show all of them)."
        )
    return q_idx, k_idx, notes


class HeadView(View):
    name, title = "head", "Head view"

    def svg(self, sel: Selection, static: bool = False) -> tuple[str, list[str]]:
        q_idx, k_idx, notes = _window(sel)
        svg, more = render_head_view(
            sel.attentions[sel.layer],
            sel.heads,
            sel.q_tokens,
            sel.k_tokens,
            q_idx,
            k_idx,
            min_weight=sel.min_weight,
            max_lines=sel.max_lines,
            uid=f"{sel.uid}h",
            xmlns=static,
        )
        if static:
            return svg, notes + more
        legend = "".join(f'<span><i style="background:{head_color(h)}"></i>h{h}</span>' for h in sel.heads)
        title = f"Layer {sel.layer}, {'all heads' if sel.head is None else f'head {sel.head}'}"
        body = (
            f"<div><b>{escape(title)}</b> · hover a token to see only its lines (left: attending from, right: "
            f'attended to)</div><div class="legend">{legend}</div>{svg}'
        )
        return body, notes + more

    def png(self, sel: Selection):
        from matplotlib.collections import LineCollection
        from matplotlib.colors import to_rgba
        from matplotlib.figure import Figure

        q_idx, k_idx, _ = _window(sel)
        lines, _ = _head_lines(sel.attentions[sel.layer], sel.heads, q_idx, k_idx, sel.min_weight, sel.max_lines)
        rows = max(len(q_idx), len(k_idx), 1)
        fig = Figure(figsize=(4.6, 0.6 + 0.22 * rows))
        ax = fig.add_axes((0.25, 0.02, 0.5, 0.9))
        q_y = {i: n for n, i in enumerate(q_idx)}
        k_y = {j: n for n, j in enumerate(k_idx)}
        ax.add_collection(
            LineCollection(
                [[(0, q_y[i]), (1, k_y[j])] for _, _, i, j in lines],
                linewidths=1.6,
                colors=[to_rgba(head_color(h), min(1.0, w)) for w, h, _, _ in lines],
            )
        )
        for i in q_idx:
            ax.text(-0.04, q_y[i], pretty_token(sel.q_tokens[i]), ha="right", va="center", fontsize=9)
        for j in k_idx:
            ax.text(1.04, k_y[j], pretty_token(sel.k_tokens[j]), ha="left", va="center", fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.axis("off")
        ax.set_title(f"Head view: {sel.label}", fontsize=10)
        return fig
