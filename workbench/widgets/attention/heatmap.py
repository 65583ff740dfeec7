"""The heatmap: one layer's attention matrix (one head, or the mean of all heads), queries by keys.

Up to ``max_cells`` tokens a side every weight is a rectangle with a tooltip; longer inputs become a raster
image pooled to a fixed size, with position labels every few tokens.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from ...display import escape
from .shared import MEAN_COLOR, Selection, View, color_max, head_color, png_data_uri, pool, pretty_token


def _nice_step(n: int, max_labels: float) -> int:
    """A label step (1, 2, 5, 10, 20, 50, ...) so that at most ``max_labels`` labels are written."""
    for step in itertools.chain.from_iterable((m, 2 * m, 5 * m) for m in (1, 10, 100, 1000)):
        if n / step <= max(1.0, max_labels):
            return step
    return max(1, n // 10)


def render_heatmap(
    matrix: np.ndarray,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    q_idx: Sequence[int],
    k_idx: Sequence[int],
    *,
    color: str = MEAN_COLOR,
    title: str = "",
    max_cells: int = 64,
    raster_size: int = 256,
    display_size: int = 512,
    xmlns: bool = False,
) -> tuple[str, list[str]]:
    """A (q, k) attention matrix: rows are queries (attending from), columns keys (attended to).

    Up to ``max_cells`` tokens a side: one SVG rectangle per weight, with token labels and tooltips.
    Longer: a raster image pooled to at most ``raster_size`` pixels a side, labels every few tokens.
    """
    notes: list[str] = []
    sub = matrix[np.ix_(np.asarray(q_idx, dtype=int), np.asarray(k_idx, dtype=int))]
    nq, nk = sub.shape
    vmax = float(np.nanmax(sub)) if sub.size else 0.0
    label_chars = max([len(pretty_token(t)) for t in list(q_tokens) + list(k_tokens)] + [3])
    small = nq <= max_cells and nk <= max_cells
    cell = max(8, min(26, 520 // max(nq, nk, 1))) if small else None
    size = (nk * cell, nq * cell) if small else (display_size, display_size * max(nq, 1) / max(nk, 1))
    left = min(130, 10 + 7 * label_chars)
    top = (min(130, 10 + 7 * label_chars) if small else 40) + (22 if title else 0)
    width, height = max(left + size[0] + 10, left + 470), top + size[1] + 24
    ns = ' xmlns="http://www.w3.org/2000/svg"' if xmlns else ""
    parts = [
        f'<svg class="heatmap"{ns} width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img">'
    ]
    if title:
        parts.append(f'<text x="{left}" y="16" font-weight="bold">{escape(title)}</text>')
    if small:
        parts.append(f'<g transform="translate({left},{top})">')
        for r, i in enumerate(q_idx):
            for c, j in enumerate(k_idx):
                w = float(sub[r, c])
                opacity = w / vmax if vmax > 0 else 0.0
                parts.append(
                    f'<rect x="{c * cell}" y="{r * cell}" width="{cell}" height="{cell}" fill="{color}" '
                    f'fill-opacity="{opacity:.3f}" stroke="#eee" stroke-width="0.5"><title>'
                    f"{escape(pretty_token(q_tokens[i]))} → {escape(pretty_token(k_tokens[j]))}: {w:.3f}"
                    f"</title></rect>"
                )
        font = max(8, min(12, cell - 2))
        for r, i in enumerate(q_idx):
            parts.append(
                f'<text x="-4" y="{r * cell + cell / 2 + font / 3:.1f}" text-anchor="end" '
                f'font-size="{font}">{escape(pretty_token(q_tokens[i]))}</text>'
            )
        for c, j in enumerate(k_idx):
            x = c * cell + cell / 2 + font / 3
            parts.append(
                f'<text transform="translate({x:.1f},-4) rotate(-90)" font-size="{font}">'
                f"{escape(pretty_token(k_tokens[j]))}</text>"
            )
        parts.append("</g>")
    else:
        pooled, fq, fk = pool(sub, raster_size)
        if fq > 1 or fk > 1:
            notes.append(
                f"The {nq}×{nk} matrix is drawn pooled to {pooled.shape[0]}×{pooled.shape[1]} "
                f"(each pixel averages {fq}×{fk} weights); show fewer tokens for labels and tooltips."
            )
        else:
            notes.append(
                f"{nq}×{nk} tokens: drawn as an image without token labels; show at most {max_cells} "
                "tokens for labels and tooltips."
            )
        vmax = color_max(pooled)
        uri = png_data_uri(pooled, color, vmax)
        parts.append(
            f'<image x="{left}" y="{top}" width="{size[0]}" height="{size[1]:.0f}" '
            f'preserveAspectRatio="none" style="image-rendering:pixelated" href="{uri}"/>'
        )
        step = _nice_step(nq, size[1] / 24)
        for r in range(0, nq, step):
            y = top + (r + 0.5) * size[1] / nq
            parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{q_idx[r]}</text>')
        step = _nice_step(nk, size[0] / 40)
        for c in range(0, nk, step):
            x = left + (c + 0.5) * size[0] / nk
            parts.append(f'<text x="{x:.1f}" y="{top - 4}" text-anchor="middle" font-size="10">{k_idx[c]}</text>')
    parts.append(
        f'<text x="{left}" y="{height - 6:.0f}" font-size="11" fill="#555">rows: query (attending '
        f"from) · columns: key (attended to) · darkest = {vmax:.2f}" + ("" if small else " or more") + "</text>"
    )
    parts.append("</svg>")
    return "".join(parts), notes


def _matrix_and_color(sel: Selection) -> tuple[np.ndarray, str]:
    """The (q, k) matrix of the selected head, or the mean of the layer's heads, and the colour to draw it in."""
    attention = sel.attentions[sel.layer]  # (heads, q, k)
    if sel.head is None:
        return attention.mean(0), MEAN_COLOR
    return attention[sel.head], head_color(sel.head)


class Heatmap(View):
    name, title = "heatmap", "Heatmap"

    def svg(self, sel: Selection, static: bool = False) -> tuple[str, list[str]]:
        matrix, color = _matrix_and_color(sel)
        title = f"Layer {sel.layer}, " + ("mean of all heads" if sel.head is None else f"head {sel.head}")
        return render_heatmap(
            matrix, sel.q_tokens, sel.k_tokens, sel.q_idx, sel.k_idx, color=color, title=title, xmlns=static
        )

    def png(self, sel: Selection):
        from matplotlib.colors import LinearSegmentedColormap
        from matplotlib.figure import Figure

        matrix, color = _matrix_and_color(sel)
        q_idx, k_idx = sel.q_idx, sel.k_idx
        matrix = matrix[np.ix_(q_idx, k_idx)]
        side = min(7.0, 1.5 + 0.28 * max(len(q_idx), len(k_idx)))
        fig = Figure(figsize=(side + 0.8, side))
        ax = fig.add_subplot()
        cmap = LinearSegmentedColormap.from_list("attn", ["#ffffff", color])
        if max(matrix.shape) > 128:
            matrix = pool(matrix, 128)[0]  # a picture, not data: keep the notebook small
        ax.imshow(matrix, cmap=cmap, vmin=0, vmax=color_max(matrix) or 1, interpolation="nearest")
        if max(len(q_idx), len(k_idx)) <= 64:
            ax.set_yticks(range(len(q_idx)), [pretty_token(sel.q_tokens[i]) for i in q_idx], fontsize=8)
            ax.set_xticks(range(len(k_idx)), [pretty_token(sel.k_tokens[j]) for j in k_idx], fontsize=8, rotation=90)
            ax.xaxis.tick_top()
        ax.set_title(
            f"Heatmap: {sel.label if sel.head is not None else f'layer {sel.layer}, mean of heads'}", fontsize=10
        )
        fig.tight_layout()
        return fig
