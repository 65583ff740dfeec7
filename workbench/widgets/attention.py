"""AttentionVisualizer: see where every head of every layer looks, with no network and no CDN.

    from workbench import AutoModel, AutoTokenizer
    from workbench.widgets import AttentionVisualizer

    viz = AttentionVisualizer(model, tokenizer, "The cat sat on the mat.", "It was happy.")
    viz                      # head view; switch to the model view (layers x heads) or a heatmap
    viz.layer, viz.head = 2, 5
    viz.to_html()            # a standalone page of the current view

Everything is drawn here as inline SVG/HTML with a little CSS (hover a token to focus its lines,
click a thumbnail to zoom): nothing is fetched, so it works offline, in JupyterLab, Notebook 7,
VS Code and Colab, and in the standalone page from ``to_html()``. When the notebook is saved, a
static PNG image of the current view is stored next to the widget, so a static notebook page
(GitHub, nbviewer, a saved notebook opened without a kernel) still shows it; ``snapshot()`` /
``to_svg()`` / ``to_png()`` give static images on demand.

Long inputs (up to 512 tokens and more) stay responsive: the head view shows a window of
``max_tokens`` tokens and at most ``max_lines`` lines, heatmaps and thumbnails become raster
images pooled to a fixed size, and the note under the view says what was hidden.

``bertviz_html(...)`` / ``AttentionVisualizer.to_bertviz()`` feed the same attentions to bertviz's
``head_view``/``model_view`` for those who have bertviz and a network (its views load require.js,
d3 and jQuery from CDNs).
"""

from __future__ import annotations

import base64
import html
import inspect
import io
import itertools
import math
from typing import Any, Sequence

import ipywidgets as widgets
import numpy as np

__all__ = ["AttentionVisualizer", "head_statistics", "bertviz_html", "render_head_view", "render_heatmap",
           "render_model_view"]

# Per-head colours (the d3 category10 + a few more), cycled for models with many heads.
HEAD_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939", "#843c39", "#7b4173", "#3182bd")
MEAN_COLOR = "#08519c"  # heatmaps of the mean over heads
FILTERS = {"all": "All", "aa": "A → A", "ab": "A → B", "ba": "B → A", "bb": "B → B"}
VIEWS = {"head": "Head view", "model": "Model view", "heatmap": "Heatmap"}
KINDS = {"self": "Self-attention", "encoder": "Encoder", "decoder": "Decoder", "cross": "Cross (decoder → encoder)"}

_ids = itertools.count()


def head_color(head: int) -> str:
    return HEAD_COLORS[head % len(HEAD_COLORS)]


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def pretty_token(token: str) -> str:
    """Byte-level BPE and sentencepiece spell a leading space as 'Ġ' / '▁': show it as a space."""
    return token.replace("Ġ", " ").replace("▁", " ").replace("Ċ", "\\n").replace("ĉ", "\\t")


def _hex_rgb(color: str) -> np.ndarray:
    color = color.lstrip("#")
    return np.array([int(color[i:i + 2], 16) for i in (0, 2, 4)], dtype=np.float32)


def _pool(matrix: np.ndarray, limit: int) -> tuple[np.ndarray, int, int]:
    """Average-pool a (q, k) matrix into blocks so that neither side exceeds ``limit``."""
    q, k = matrix.shape
    fq, fk = max(1, math.ceil(q / limit)), max(1, math.ceil(k / limit))
    if fq == 1 and fk == 1:
        return matrix, 1, 1
    nq, nk = math.ceil(q / fq), math.ceil(k / fk)
    padded = np.full((nq * fq, nk * fk), np.nan, dtype=np.float32)
    padded[:q, :k] = matrix
    blocks = padded.reshape(nq, fq, nk, fk)  # (q blocks, fq, k blocks, fk)
    return np.nanmean(blocks, axis=(1, 3)), fq, fk


def _color_max(matrix: np.ndarray) -> float:
    """The weight drawn darkest: the maximum, or for big matrices the 99.5th percentile (a few huge
    weights, e.g. on [CLS], would otherwise leave everything else white)."""
    if matrix.size == 0:
        return 0.0
    if matrix.size <= 64 * 64:
        return float(np.nanmax(matrix))
    return float(np.nanquantile(matrix, 0.995))


def _png_data_uri(matrix: np.ndarray, color: str, vmax: float) -> str:
    """A (q, k) matrix as a PNG data URI, white -> ``color``; darkest = ``vmax``."""
    from PIL import Image

    scaled = np.clip(np.nan_to_num(matrix, nan=0.0) / vmax, 0.0, 1.0) if vmax > 0 else np.zeros_like(matrix)
    rgb = 255.0 - scaled[..., None] * (255.0 - _hex_rgb(color))  # (q, k, 3)
    buffer = io.BytesIO()
    Image.fromarray(rgb.round().astype(np.uint8), "RGB").save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# --------------------------------------------------------------------------------------------------
# Renderers: numpy in, an HTML fragment (inline <svg>, no scripts, no URLs) out.
# --------------------------------------------------------------------------------------------------

_BASE_CSS = """
.wbav{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:13px;color:#222;background:#fff;
  padding:6px;line-height:1.3}
.wbav svg text{font-family:inherit;font-size:12px;fill:#222}
.wbav .legend{display:flex;flex-wrap:wrap;gap:6px;margin:2px 0 6px 0}
.wbav .legend span{display:inline-flex;align-items:center;gap:3px;font-size:11px}
.wbav .legend i{display:inline-block;width:10px;height:10px;border-radius:2px}
.wbav .note{color:#555;font-size:12px;margin-top:4px}
.wbav .tok{cursor:pointer}
.wbav .tok rect{fill:transparent}
.wbav .tok:hover rect{fill:#fff3b0}
"""


def _head_view_css(uid: str, q_idx: Sequence[int], k_idx: Sequence[int]) -> str:
    """Hover a query (left) token: show only its lines; hover a key (right) token: only lines to it."""
    rules = [f"#{uid}:has(.q{i}:hover) line:not(.q{i}){{visibility:hidden}}" for i in q_idx]
    rules += [f"#{uid}:has(.k{j}:hover) line:not(.k{j}){{visibility:hidden}}" for j in k_idx]
    return "\n".join(rules)


def _head_lines(attention: np.ndarray, heads: Sequence[int], q_idx, k_idx, min_weight: float, max_lines: int
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


def render_head_view(attention: np.ndarray, heads: Sequence[int], q_tokens: Sequence[str], k_tokens: Sequence[str],
                     q_idx: Sequence[int], k_idx: Sequence[int], *, min_weight: float = 0.02, max_lines: int = 3000,
                     uid: str | None = None, xmlns: bool = False) -> tuple[str, list[str]]:
    """Lines from query tokens (left) to key tokens (right), opacity = weight, one colour per head.

    ``attention`` is (heads, q, k) for one layer; ``heads`` the head numbers to draw; ``q_idx``/``k_idx``
    the token positions to show. Returns (svg, notes about what was hidden).
    """
    uid = uid or f"wbav{next(_ids)}"
    row, top = 20, 8
    max_chars = max([len(pretty_token(q_tokens[i])) for i in q_idx] + [len(pretty_token(k_tokens[j])) for j in k_idx]
                    + [4])
    label_w = min(160, 12 + 7 * max_chars)
    gap = 180
    x_left, x_right = label_w, label_w + gap
    width = x_right + label_w
    height = top * 2 + row * max(len(q_idx), len(k_idx), 1)
    q_pos = {i: top + row * n + row / 2 for n, i in enumerate(q_idx)}
    k_pos = {j: top + row * n + row / 2 for n, j in enumerate(k_idx)}

    candidates, notes = _head_lines(attention, heads, q_idx, k_idx, min_weight, max_lines)

    parts = [f'<svg id="{uid}" class="headview"' + (' xmlns="http://www.w3.org/2000/svg"' if xmlns else "")
             + f' width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    parts.append(f"<style>{_head_view_css(uid, q_idx, k_idx)}</style>")
    parts.append('<g class="lines" stroke-width="2">')
    tooltips = len(heads) == 1  # with many heads the lines overlap: tooltips would only add weight to the page
    for w, h, i, j in candidates:
        line = (f'<line class="q{i} k{j}" x1="{x_left + 4}" y1="{q_pos[i]:.1f}" x2="{x_right - 4}" '
                f'y2="{k_pos[j]:.1f}" stroke="{head_color(h)}" stroke-opacity="{min(1.0, w):.3f}"')
        if tooltips:
            line += (f"><title>head {h}: {_esc(pretty_token(q_tokens[i]))} → {_esc(pretty_token(k_tokens[j]))} "
                     f"{w:.3f}</title></line>")
        else:
            line += "/>"
        parts.append(line)
    parts.append("</g>")
    for side, idx, pos, tokens, x, anchor in (("q", q_idx, q_pos, q_tokens, x_left - 6, "end"),
                                               ("k", k_idx, k_pos, k_tokens, x_right + 6, "start")):
        for i in idx:
            rect_x = 0 if side == "q" else x_right
            parts.append(f'<g class="tok {side}{i}"><rect x="{rect_x}" y="{pos[i] - row / 2:.1f}" width="{label_w}" '
                         f'height="{row}"/><text x="{x}" y="{pos[i] + 4:.1f}" text-anchor="{anchor}">'
                         f"{_esc(pretty_token(tokens[i]))}<title>position {i}</title></text></g>")
    parts.append("</svg>")
    return "".join(parts), notes


def render_heatmap(matrix: np.ndarray, q_tokens: Sequence[str], k_tokens: Sequence[str], q_idx: Sequence[int],
                   k_idx: Sequence[int], *, color: str = MEAN_COLOR, title: str = "", max_cells: int = 64,
                   raster_size: int = 256, display_size: int = 512, xmlns: bool = False) -> tuple[str, list[str]]:
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
    parts = [f'<svg class="heatmap"{ns} width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" role="img">']
    if title:
        parts.append(f'<text x="{left}" y="16" font-weight="bold">{_esc(title)}</text>')
    if small:
        parts.append(f'<g transform="translate({left},{top})">')
        for r, i in enumerate(q_idx):
            for c, j in enumerate(k_idx):
                w = float(sub[r, c])
                opacity = w / vmax if vmax > 0 else 0.0
                parts.append(f'<rect x="{c * cell}" y="{r * cell}" width="{cell}" height="{cell}" fill="{color}" '
                             f'fill-opacity="{opacity:.3f}" stroke="#eee" stroke-width="0.5"><title>'
                             f'{_esc(pretty_token(q_tokens[i]))} → {_esc(pretty_token(k_tokens[j]))}: {w:.3f}'
                             f"</title></rect>")
        font = max(8, min(12, cell - 2))
        for r, i in enumerate(q_idx):
            parts.append(f'<text x="-4" y="{r * cell + cell / 2 + font / 3:.1f}" text-anchor="end" '
                         f'font-size="{font}">{_esc(pretty_token(q_tokens[i]))}</text>')
        for c, j in enumerate(k_idx):
            x = c * cell + cell / 2 + font / 3
            parts.append(f'<text transform="translate({x:.1f},-4) rotate(-90)" font-size="{font}">'
                         f"{_esc(pretty_token(k_tokens[j]))}</text>")
        parts.append("</g>")
    else:
        pooled, fq, fk = _pool(sub, raster_size)
        if fq > 1 or fk > 1:
            notes.append(f"The {nq}×{nk} matrix is drawn pooled to {pooled.shape[0]}×{pooled.shape[1]} "
                         f"(each pixel averages {fq}×{fk} weights); show fewer tokens for labels and tooltips.")
        else:
            notes.append(f"{nq}×{nk} tokens: drawn as an image without token labels; show at most {max_cells} "
                         "tokens for labels and tooltips.")
        vmax = _color_max(pooled)
        uri = _png_data_uri(pooled, color, vmax)
        parts.append(f'<image x="{left}" y="{top}" width="{size[0]}" height="{size[1]:.0f}" '
                     f'preserveAspectRatio="none" style="image-rendering:pixelated" href="{uri}"/>')
        step = _nice_step(nq, size[1] / 24)
        for r in range(0, nq, step):
            y = top + (r + 0.5) * size[1] / nq
            parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{q_idx[r]}</text>')
        step = _nice_step(nk, size[0] / 40)
        for c in range(0, nk, step):
            x = left + (c + 0.5) * size[0] / nk
            parts.append(f'<text x="{x:.1f}" y="{top - 4}" text-anchor="middle" font-size="10">{k_idx[c]}</text>')
    parts.append(f'<text x="{left}" y="{height - 6:.0f}" font-size="11" fill="#555">rows: query (attending '
                 f"from) · columns: key (attended to) · darkest = {vmax:.2f}" + ("" if small else " or more")
                 + "</text>")
    parts.append("</svg>")
    return "".join(parts), notes


def _nice_step(n: int, max_labels: float) -> int:
    """A label step (1, 2, 5, 10, 20, 50, ...) so that at most ``max_labels`` labels are written."""
    for step in itertools.chain.from_iterable((m, 2 * m, 5 * m) for m in (1, 10, 100, 1000)):
        if n / step <= max(1.0, max_labels):
            return step
    return max(1, n // 10)


def _top_links(matrix: np.ndarray, q_tokens, k_tokens, q_idx, k_idx, n: int = 5) -> list[str]:
    sub = matrix[np.ix_(np.asarray(q_idx, dtype=int), np.asarray(k_idx, dtype=int))]
    flat_sub = sub.ravel()
    n = min(n, flat_sub.size)
    top = np.argpartition(-flat_sub, n - 1)[:n]
    order = top[np.argsort(-flat_sub[top])]
    links = []
    for flat in order.tolist():
        r, c = divmod(flat, sub.shape[1])
        links.append(f"{pretty_token(q_tokens[q_idx[r]])} → {pretty_token(k_tokens[k_idx[c]])} {sub[r, c]:.2f}")
    return links


def render_model_view(attention: np.ndarray, q_tokens, k_tokens, q_idx, k_idx, *,
                      selected: tuple[int, int] | None = None,
                      thumb: int = 56, thumb_pixels: int = 64, zoom_pixels: int = 128, uid: str | None = None,
                      interactive: bool = True, xmlns: bool = False) -> tuple[str, list[str]]:
    """A layers x heads grid of heatmap thumbnails; click one to zoom (pure CSS, no script).

    ``attention`` is (layers, heads, q, k). With ``interactive=False`` a single static SVG is returned.
    """
    uid = uid or f"wbav{next(_ids)}"
    notes: list[str] = []
    n_layers, n_heads = attention.shape[:2]
    qi, kj = np.asarray(q_idx, dtype=int), np.asarray(k_idx, dtype=int)
    images: dict[tuple[int, int], str] = {}
    zooms: dict[tuple[int, int], str] = {}
    pooled_note = False
    for layer in range(n_layers):
        for head in range(n_heads):
            sub = attention[layer, head][np.ix_(qi, kj)]
            small, fq, fk = _pool(sub, thumb_pixels)
            pooled_note |= fq > 1 or fk > 1
            images[layer, head] = _png_data_uri(small, head_color(head), _color_max(small))
            if interactive:
                if max(sub.shape) <= thumb_pixels:
                    zooms[layer, head] = images[layer, head]
                else:
                    big = _pool(sub, zoom_pixels)[0]
                    zooms[layer, head] = _png_data_uri(big, head_color(head), _color_max(big))
    if pooled_note:
        notes.append(f"{len(q_idx)}×{len(k_idx)} tokens: thumbnails are pooled to at most {thumb_pixels} pixels a "
                     f"side (zoom: {zoom_pixels}).")
    label_w, label_h, pad = 28, 18, 4
    width = label_w + n_heads * (thumb + pad)
    height = label_h + n_layers * (thumb + pad)

    def grid_svg(ns: bool) -> str:
        out = [f'<svg class="modelview"' + (' xmlns="http://www.w3.org/2000/svg"' if ns else "")
               + f' width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
        for head in range(n_heads):
            out.append(f'<text x="{label_w + head * (thumb + pad) + thumb / 2}" y="12" text-anchor="middle" '
                       f'font-size="11" fill="{head_color(head)}">h{head}</text>')
        for layer in range(n_layers):
            y = label_h + layer * (thumb + pad)
            out.append(f'<text x="{label_w - 4}" y="{y + thumb / 2 + 4}" text-anchor="end" font-size="11">'
                       f"L{layer}</text>")
            for head in range(n_heads):
                x = label_w + head * (thumb + pad)
                out.append(f'<image x="{x}" y="{y}" width="{thumb}" height="{thumb}" preserveAspectRatio="none" '
                           f'style="image-rendering:pixelated" href="{images[layer, head]}"/>')
                stroke = "#000" if selected == (layer, head) else "#ccc"
                out.append(f'<rect x="{x}" y="{y}" width="{thumb}" height="{thumb}" fill="none" stroke="{stroke}">'
                           f"<title>layer {layer}, head {head}</title></rect>")
        out.append("</svg>")
        return "".join(out)

    if not interactive:
        return grid_svg(xmlns), notes

    # Interactive: hidden radio buttons + labels. Clicking a thumbnail (a <label>) checks its radio, and the
    # CSS sibling rules below show the matching zoom panel. The selected layer/head starts zoomed.
    css = [f"#{uid} .mvgrid{{display:grid;grid-template-columns:{label_w}px repeat({n_heads},{thumb}px);gap:{pad}px;"
           f"align-items:center}}",
           f"#{uid} .mvgrid label{{cursor:zoom-in;display:block;width:{thumb}px;height:{thumb}px;line-height:0}}",
           f"#{uid} .mvgrid label svg{{outline:1px solid #ccc}}",
           f"#{uid} .mvgrid .hd{{text-align:center;font-size:11px}}",
           f"#{uid} .mvgrid .ld{{text-align:right;font-size:11px}}",
           f"#{uid} .zoom{{display:none;margin-top:8px;padding:6px;border:1px solid #ddd;border-radius:4px}}",
           f"#{uid} .zoom label{{cursor:pointer;color:#555;margin-left:8px}}",
           f"#{uid} input.zr{{display:none}}"]
    radios, cells, panels = [], [], []
    radios.append(f'<input type="radio" class="zr" name="{uid}" id="{uid}-none"'
                  + ("" if selected else " checked") + ">")
    cells.append("<div></div>" + "".join(f'<div class="hd" style="color:{head_color(h)}">h{h}</div>'
                                          for h in range(n_heads)))
    for layer in range(n_layers):
        cells.append(f'<div class="ld">L{layer}</div>')
        for head in range(n_heads):
            rid = f"{uid}-z{layer}-{head}"
            checked = " checked" if selected == (layer, head) else ""
            radios.append(f'<input type="radio" class="zr" name="{uid}" id="{rid}"{checked}>')
            css.append(f"#{rid}:checked~.zooms>.z{layer}-{head}{{display:block}}")
            css.append(f"#{rid}:checked~.mvgrid .c{layer}-{head} svg{{outline:2px solid #000}}")
            cells.append(f'<label class="c{layer}-{head}" for="{rid}" '
                         f'title="layer {layer}, head {head}: click to zoom">'
                         f'<svg width="{thumb}" height="{thumb}"><image width="{thumb}" height="{thumb}" '
                         f'preserveAspectRatio="none" style="image-rendering:pixelated" '
                         f'href="{images[layer, head]}"/></svg></label>')
            links = "; ".join(_esc(s) for s in _top_links(attention[layer, head], q_tokens, k_tokens, q_idx, k_idx))
            panels.append(f'<div class="zoom z{layer}-{head}"><b>Layer {layer}, head {head}</b>'
                          f'<label for="{uid}-none">✕ close</label><br>'
                          f'<svg width="256" height="256"><image width="256" height="256" preserveAspectRatio="none" '
                          f'style="image-rendering:pixelated" href="{zooms[layer, head]}"/></svg>'
                          f'<div class="note">strongest: {links}</div></div>')
    fragment = (f'<div id="{uid}" class="modelview"><style>{"".join(css)}</style>{"".join(radios)}'
                f'<div class="mvgrid">{"".join(cells)}</div><div class="zooms">{"".join(panels)}</div></div>')
    return fragment, notes


# --------------------------------------------------------------------------------------------------
# Statistics for the BERTology notebook: how much each head attends to simple positions or tokens.
# --------------------------------------------------------------------------------------------------

def head_statistics(attentions, tokens: Sequence[str], special_tokens: Sequence[str] = ("[CLS]", "[SEP]", "<s>", "</s>")
                    ) -> dict[str, np.ndarray]:
    """Per-head attention statistics, each a (layers, heads) array averaged over query positions.

    ``previous``/``next``/``self``: attention to position i-1 / i+1 / i; one entry per special token
    present (e.g. ``"[CLS]"``, ``"[SEP]"``): attention mass on those tokens; ``punctuation``: mass
    on tokens made only of punctuation; ``entropy``: mean entropy of the attention rows (bits):
    low = focused on few tokens, high = spread out (a bag-of-words head).
    """
    att = _as_numpy(attentions)  # (layers, heads, q, k)
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
    punct = [j for j, t in enumerate(tokens) if t and all(not ch.isalnum() for ch in pretty_token(t).strip())
             and pretty_token(t).strip() and t not in special_tokens]
    if punct:
        stats["punctuation"] = att[:, :, :, punct].sum(-1).mean(-1)
    p = np.clip(att, 1e-12, 1.0)
    stats["entropy"] = (-(p * np.log2(p)).sum(-1)).mean(-1)
    return stats


# --------------------------------------------------------------------------------------------------
# bertviz bridge
# --------------------------------------------------------------------------------------------------

def _as_numpy(attentions) -> np.ndarray:
    """A tuple of (batch, heads, q, k) tensors (one per layer), or an array, -> (layers, heads, q, k) float32."""
    if isinstance(attentions, np.ndarray):
        array = attentions
    else:
        layers = []
        for a in attentions:
            a = a.detach().float().cpu().numpy() if hasattr(a, "detach") else np.asarray(a, dtype=np.float32)
            layers.append(a[0] if a.ndim == 4 else a)
        if not layers:
            raise ValueError("No attentions: the model returned an empty tuple (did it run with "
                             "output_attentions=True?).")
        array = np.stack(layers)
    if array.ndim == 5:
        array = array[:, 0]
    if array.ndim != 4:
        raise ValueError(f"Attentions must be (layers, heads, q, k) or a tuple of (batch, heads, q, k); got shape "
                         f"{array.shape}.")
    return array.astype(np.float32, copy=False)


def bertviz_html(attention=None, tokens=None, view: str = "head", sentence_b_start: int | None = None,
                 **kwargs: Any) -> str:
    """Feed workbench attentions to bertviz unchanged and return its HTML (``html_action='return'``).

    ``attention``: ``outputs.attentions`` (a tuple of (batch, heads, q, k) tensors); ``tokens``: from
    ``tokenizer.convert_ids_to_tokens``; ``view``: "head" or "model". Encoder-decoders pass
    ``encoder_attention=``, ``decoder_attention=``, ``cross_attention=``, ``encoder_tokens=``,
    ``decoder_tokens=`` as bertviz expects. Note that bertviz's page loads require.js, d3 and jQuery
    from CDNs: it needs a network and a front end with require.js (classic Notebook, Colab).
    """
    try:
        import bertviz
    except ImportError as error:  # pragma: no cover - bertviz is a dependency, but optional for users
        raise ImportError("bertviz is not installed: `pip install bertviz`, or use AttentionVisualizer, which "
                          "needs nothing else.") from error
    functions = {"head": bertviz.head_view, "model": bertviz.model_view}
    if view not in functions:
        raise ValueError(f"view must be 'head' or 'model', not {view!r}.")
    import torch

    def tensors(value):
        return None if value is None else tuple(torch.as_tensor(np.asarray(a.detach().float().cpu() if hasattr(
            a, "detach") else a, dtype=np.float32)) for a in value)

    attention = tensors(attention)
    for key in ("encoder_attention", "decoder_attention", "cross_attention"):
        if key in kwargs:
            kwargs[key] = tensors(kwargs[key])
    result = functions[view](attention=attention, tokens=tokens, sentence_b_start=sentence_b_start,
                             html_action="return", **kwargs)
    return getattr(result, "data", result)


# --------------------------------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------------------------------

def _count_tokens(tokenizer, text: str, text_pair: str | None) -> int:
    """Tokens in the untruncated input, without the tokenizer's "longer than the maximum" warning."""
    import logging

    logger = logging.getLogger(type(tokenizer).__module__)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        encoded = tokenizer(text, text_pair) if text_pair is not None else tokenizer(text)
    finally:
        logger.setLevel(level)
    return len(encoded["input_ids"])


class Snapshot:
    """A static SVG image (``display(snapshot)`` shows it; ``snapshot.data`` is the SVG text)."""

    def __init__(self, data: str):
        self.data = data

    def _repr_svg_(self) -> str:
        return self.data

    def __repr__(self) -> str:
        return f"<Snapshot: SVG image, {len(self.data)} characters>"


class AttentionVisualizer(widgets.VBox):
    """Interactive attention views of one input: head view, model view (layers x heads), heatmap.

    ``AttentionVisualizer(model, tokenizer, text, text_pair=None, target=None)`` runs the model once with
    ``output_attentions=True``. ``target`` is the decoder text of an encoder-decoder model (then the
    encoder, decoder and cross attentions can all be shown). ``AttentionVisualizer.from_attentions``
    takes attentions you already have (same arguments as ``bertviz.head_view``).

    Properties (also the controls): ``view`` ("head", "model", "heatmap"), ``layer``, ``head`` (an int,
    or None for all heads), ``filter`` ("all", "aa", "ab", "ba", "bb": sentence A/B -> A/B),
    ``kind`` ("self", or "encoder"/"decoder"/"cross"), ``window`` (first token of the head-view window),
    ``min_weight``. ``html`` is the current view, ``to_html()`` a standalone page, ``to_svg()`` a
    static image.
    """

    def __init__(self, model=None, tokenizer=None, text: str | None = None, text_pair: str | None = None,
                 target: str | None = None, *, view: str = "head", layer: int = 0, head: int | None = None,
                 max_tokens: int = 48, max_lines: int = 3000, min_weight: float = 0.02, max_length: int | None = None,
                 _data: dict | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.max_tokens, self.max_lines = int(max_tokens), int(max_lines)
        self.truncated_from: int | None = None
        if _data is None:
            if model is None or tokenizer is None:
                raise ValueError("AttentionVisualizer needs a model and a tokenizer (or use "
                                 "AttentionVisualizer.from_attentions(attentions, tokens)).")
            _data = self._run_model(model, tokenizer, text, text_pair, target, max_length)
        self._kinds: dict[str, tuple[np.ndarray, list[str], list[str]]] = _data["kinds"]
        self.sentence_b_start: int | None = _data.get("sentence_b_start")
        self._uid = f"wbav{next(_ids)}"

        first = next(iter(self._kinds.values()))[0]
        style = {"description_width": "initial"}
        self._view_w = widgets.ToggleButtons(options=[(v, k) for k, v in VIEWS.items()], value=view,
                                             style={"button_width": "110px"})
        self._kind_w = widgets.Dropdown(options=[(KINDS[k], k) for k in self._kinds], description="Attention",
                                        style=style, layout=widgets.Layout(width="300px"))
        self._layer_w = widgets.IntSlider(value=0, min=0, max=first.shape[0] - 1, description="Layer",
                                          continuous_update=False, layout=widgets.Layout(width="260px"))
        self._head_w = widgets.Dropdown(description="Head", layout=widgets.Layout(width="180px"))
        self._filter_w = widgets.Dropdown(options=[(v, k) for k, v in FILTERS.items()], value="all",
                                          description="Sentences", style=style, layout=widgets.Layout(width="200px"))
        self._window_w = widgets.IntSlider(value=0, min=0, max=0, description="Window start", style=style,
                                           continuous_update=False, layout=widgets.Layout(width="340px"))
        self._weight_w = widgets.FloatSlider(value=min_weight, min=0.0, max=0.5, step=0.01, description="Min weight",
                                             style=style, continuous_update=False, readout_format=".2f",
                                             layout=widgets.Layout(width="280px"))
        self._out = widgets.HTML()
        self._note = widgets.HTML()
        self._update_head_options()
        self._update_window_range()
        self._layer_w.value = layer
        if head is not None:
            self._head_w.value = head
        self._kind_w.layout.display = None if len(self._kinds) > 1 else "none"
        self._filter_w.layout.display = None if self.sentence_b_start is not None else "none"
        for control in (self._view_w, self._layer_w, self._head_w, self._filter_w, self._window_w, self._weight_w):
            control.observe(self._on_change, names="value")
        self._kind_w.observe(self._on_kind, names="value")
        self.children = [
            self._view_w,
            widgets.HBox([self._kind_w, self._layer_w, self._head_w, self._filter_w],
                         layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self._weight_w, self._window_w], layout=widgets.Layout(flex_flow="row wrap")),
            self._out, self._note]
        self._render()

    # ----- construction -----
    @classmethod
    def from_attentions(cls, attention=None, tokens: Sequence[str] | None = None, sentence_b_start: int | None = None,
                        *, encoder_attention=None, decoder_attention=None, cross_attention=None,
                        encoder_tokens: Sequence[str] | None = None, decoder_tokens: Sequence[str] | None = None,
                        **kwargs: Any) -> "AttentionVisualizer":
        """From attentions you already have; the arguments are bertviz's (``head_view``/``model_view``)."""
        kinds: dict[str, tuple[np.ndarray, list[str], list[str]]] = {}
        if attention is not None:
            if tokens is None:
                raise ValueError("Pass tokens= with attention= (tokenizer.convert_ids_to_tokens(input_ids[0])).")
            kinds["self"] = (_as_numpy(attention), list(tokens), list(tokens))
        if encoder_attention is not None:
            kinds["encoder"] = (_as_numpy(encoder_attention), list(encoder_tokens), list(encoder_tokens))
        if decoder_attention is not None:
            kinds["decoder"] = (_as_numpy(decoder_attention), list(decoder_tokens), list(decoder_tokens))
        if cross_attention is not None:
            kinds["cross"] = (_as_numpy(cross_attention), list(decoder_tokens), list(encoder_tokens))
        if not kinds:
            raise ValueError("Pass attention= and tokens= (or encoder_/decoder_/cross_attention= with their tokens).")
        for name, (att, qt, kt) in kinds.items():
            if att.shape[2] != len(qt) or att.shape[3] != len(kt):
                raise ValueError(f"{name} attention has shape (q, k) = {att.shape[2:]} but there are {len(qt)} query "
                                 f"and {len(kt)} key tokens: pass the tokens of the same input.")
        return cls(_data={"kinds": kinds, "sentence_b_start": sentence_b_start}, **kwargs)

    def _run_model(self, model, tokenizer, text, text_pair, target, max_length) -> dict:
        import torch

        if not isinstance(text, str) or not text.strip():
            raise ValueError("text is empty: pass a sentence to look at, e.g. AttentionVisualizer(model, tokenizer, "
                             "'The cat sat on the mat.').")
        config = getattr(model, "config", None)
        limit = max_length or getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        n_full = _count_tokens(tokenizer, text, text_pair)
        kwargs = {"return_tensors": "pt"}
        if limit and n_full > limit:
            kwargs.update(truncation=True, max_length=int(limit))
            self.truncated_from = n_full
        enc = tokenizer(text, text_pair, **kwargs) if text_pair is not None else tokenizer(text, **kwargs)
        accepted = set(inspect.signature(model.forward).parameters)
        inputs = {k: v for k, v in enc.items() if k in accepted and k != "offset_mapping"}
        ids = enc["input_ids"][0].tolist()
        tokens = list(tokenizer.convert_ids_to_tokens(ids))
        is_enc_dec = bool(getattr(config, "is_encoder_decoder", False))
        if is_enc_dec:
            if not target:
                raise ValueError("This is an encoder-decoder model: pass target='...' (the decoder text) as well.")
            # teacher forcing, as in training: the decoder reads the target shifted right behind its start token
            labels = tokenizer(target, return_tensors="pt")["input_ids"]
            shift = getattr(model, "prepare_decoder_input_ids_from_labels", None)
            decoder_ids = shift(labels) if shift is not None else labels
            inputs["decoder_input_ids"] = decoder_ids
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                outputs = model(**inputs, output_attentions=True)
        finally:
            model.train(was_training)
        sentence_b_start = None
        if text_pair is not None:
            sequence_ids = enc.sequence_ids(0) if hasattr(enc, "sequence_ids") else None
            if sequence_ids is not None and 1 in sequence_ids:
                sentence_b_start = sequence_ids.index(1)
            else:
                sentence_b_start = len(tokenizer(text)["input_ids"])
        if is_enc_dec:
            dec_tokens = list(tokenizer.convert_ids_to_tokens(decoder_ids[0].tolist()))
            kinds = {"encoder": (_as_numpy(outputs.encoder_attentions), tokens, tokens),
                     "decoder": (_as_numpy(outputs.decoder_attentions), dec_tokens, dec_tokens),
                     "cross": (_as_numpy(outputs.cross_attentions), dec_tokens, tokens)}
        else:
            attentions = getattr(outputs, "attentions", None)
            if not attentions:
                raise ValueError(f"{type(model).__name__} returned no attentions with output_attentions=True.")
            kinds = {"self": (_as_numpy(attentions), tokens, tokens)}
        return {"kinds": kinds, "sentence_b_start": sentence_b_start}

    # ----- properties (each sets its control, which re-renders) -----
    @property
    def view(self) -> str:
        return self._view_w.value

    @view.setter
    def view(self, value: str) -> None:
        if value not in VIEWS:
            raise ValueError(f"view must be one of {list(VIEWS)}, not {value!r}.")
        self._view_w.value = value

    @property
    def layer(self) -> int:
        return self._layer_w.value

    @layer.setter
    def layer(self, value: int) -> None:
        n = self._layer_w.max + 1
        if not 0 <= value < n:
            raise ValueError(f"layer must be in 0..{n - 1}, not {value}.")
        self._layer_w.value = value

    @property
    def head(self) -> int | None:
        return None if self._head_w.value == -1 else self._head_w.value

    @head.setter
    def head(self, value: int | None) -> None:
        n = self.num_heads
        if value is not None and not 0 <= value < n:
            raise ValueError(f"head must be None (all heads) or in 0..{n - 1}, not {value}.")
        self._head_w.value = -1 if value is None else value

    @property
    def filter(self) -> str:
        return self._filter_w.value

    @filter.setter
    def filter(self, value: str) -> None:
        if value not in FILTERS:
            raise ValueError(f"filter must be one of {list(FILTERS)}, not {value!r}.")
        if value != "all" and self.sentence_b_start is None:
            raise ValueError("Sentence filters need a sentence pair: pass text_pair=... (or sentence_b_start=).")
        self._filter_w.value = value

    @property
    def kind(self) -> str:
        return self._kind_w.value

    @kind.setter
    def kind(self, value: str) -> None:
        if value not in self._kinds:
            raise ValueError(f"kind must be one of {list(self._kinds)}, not {value!r}.")
        self._kind_w.value = value

    @property
    def window(self) -> int:
        return self._window_w.value

    @window.setter
    def window(self, value: int) -> None:
        self._window_w.value = max(0, min(int(value), self._window_w.max))

    @property
    def min_weight(self) -> float:
        return self._weight_w.value

    @min_weight.setter
    def min_weight(self, value: float) -> None:
        self._weight_w.value = float(value)

    @property
    def attentions(self) -> np.ndarray:
        """The current kind's attentions, (layers, heads, q, k)."""
        return self._kinds[self.kind][0]

    @property
    def tokens(self) -> list[str]:
        """The current kind's query tokens (for cross attention: the decoder's)."""
        return self._kinds[self.kind][1]

    @property
    def key_tokens(self) -> list[str]:
        return self._kinds[self.kind][2]

    @property
    def num_layers(self) -> int:
        return self.attentions.shape[0]

    @property
    def num_heads(self) -> int:
        return self.attentions.shape[1]

    @property
    def html(self) -> str:
        """The current view as an HTML fragment (what the widget shows)."""
        return self._out.value

    @property
    def notes(self) -> list[str]:
        return list(self._notes)

    # ----- rendering -----
    def _update_head_options(self) -> None:
        heads = self._kinds[self._kind_w.value][0].shape[1]
        current = self._head_w.value if self._head_w.options else -1
        self._head_w.options = [("all heads", -1)] + [(f"head {h}", h) for h in range(heads)]
        self._head_w.value = current if current is not None and current < heads else -1

    def _update_window_range(self) -> None:
        n = len(self._kinds[self._kind_w.value][1])
        self._window_w.max = max(0, n - self.max_tokens)
        self._window_w.step = max(1, self.max_tokens // 4)
        self._window_w.layout.display = None if n > self.max_tokens else "none"

    def _on_kind(self, change) -> None:
        with self.hold_trait_notifications():
            att = self._kinds[change["new"]][0]
            self._layer_w.max = att.shape[0] - 1
            self._update_head_options()
            self._update_window_range()
            self._filter_w.disabled = change["new"] in ("decoder", "cross")
        self._render()

    def _on_change(self, change) -> None:
        self._render()

    def _selection(self) -> tuple[list[int], list[int], list[str]]:
        """Query and key positions after the sentence filter (before windowing), and notes."""
        _, q_tokens, k_tokens = self._kinds[self.kind]
        q_all, k_all = list(range(len(q_tokens))), list(range(len(k_tokens)))
        notes = []
        b = self.sentence_b_start
        if b is not None and self.filter != "all" and self.kind in ("self", "encoder"):
            a_side, b_side = q_all[:b], q_all[b:]
            q_all = a_side if self.filter[0] == "a" else b_side
            k_all = (k_all[:b] if self.filter[1] == "a" else k_all[b:])
            notes.append(f"Showing {FILTERS[self.filter]}: sentence A is positions 0–{b - 1}, "
                         f"B is {b}–{len(q_tokens) - 1}.")
        return q_all, k_all, notes

    def _heads(self) -> list[int]:
        return list(range(self.num_heads)) if self.head is None else [self.head]

    def _render_view(self, static: bool = False) -> tuple[str, list[str]]:
        att, q_tokens, k_tokens = self._kinds[self.kind]
        q_all, k_all, notes = self._selection()
        if self.truncated_from:
            notes.append(f"The input had {self.truncated_from} tokens; it was truncated to {len(q_tokens)} (the "
                         "model's maximum).")
        layer = self.layer
        if self.view == "head":
            start, end = self.window, self.window + self.max_tokens
            q_idx = [i for i in q_all if start <= i < end]
            k_idx = [j for j in k_all if start <= j < end]
            if len(q_tokens) > self.max_tokens:
                hidden = len(q_tokens) - (min(end, len(q_tokens)) - start)
                notes.append(f"Showing tokens {start}–{min(end, len(q_tokens)) - 1} of {len(q_tokens)}: "
                             f"{hidden} tokens "
                             "outside the window are hidden (move “Window start”, or use the heatmap or model view, "
                             "which show all of them).")
            heads = self._heads()
            svg, more = render_head_view(att[layer], heads, q_tokens, k_tokens, q_idx, k_idx,
                                         min_weight=self.min_weight, max_lines=self.max_lines,
                                         uid=f"{self._uid}h", xmlns=static)
            legend = "".join(f'<span><i style="background:{head_color(h)}"></i>h{h}</span>' for h in heads)
            title = f"Layer {layer}, {'all heads' if self.head is None else f'head {self.head}'}"
            if static:
                return svg, notes + more
            body = (f"<div><b>{_esc(title)}</b> · hover a token to see only its lines (left: attending from, right: "
                    f"attended to)</div><div class=\"legend\">{legend}</div>{svg}")
            return body, notes + more
        if self.view == "heatmap":
            matrix = att[layer].mean(0) if self.head is None else att[layer, self.head]
            color = MEAN_COLOR if self.head is None else head_color(self.head)
            title = f"Layer {layer}, " + ("mean of all heads" if self.head is None else f"head {self.head}")
            svg, more = render_heatmap(matrix, q_tokens, k_tokens, q_all, k_all, color=color, title=title,
                                       xmlns=static)
            return svg, notes + more
        selected = (layer, self.head) if self.head is not None else None
        fragment, more = render_model_view(att, q_tokens, k_tokens, q_all, k_all, selected=selected,
                                           uid=f"{self._uid}m", interactive=not static, xmlns=static)
        if static:
            return fragment, notes + more
        intro = ("<div><b>All layers × heads</b> · rows: layers, columns: heads · each thumbnail is one head's "
                 "attention matrix (rows attend to columns) · click one to zoom</div>")
        return intro + fragment, notes + more

    def _render(self) -> None:
        body, notes = self._render_view()
        self._notes = notes
        note_html = "".join(f"<div>{_esc(n)}</div>" for n in notes)
        self._out.value = f'<div class="wbav"><style>{_BASE_CSS}</style>{body}</div>'
        self._note.value = f'<div class="wbav"><div class="note">{note_html}</div></div>' if notes else ""

    # ----- export -----
    def to_svg(self) -> str:
        """A static SVG image of the current view (no interactivity; standalone, with its namespace)."""
        svg, _ = self._render_view(static=True)
        # no stylesheet travels with a standalone image: give it the font the page view uses
        return svg.replace("<svg ", '<svg font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" ', 1)

    def to_png(self, dpi: int = 80) -> bytes:
        """A static PNG image of the current view, drawn with matplotlib (no interactivity)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.colors import LinearSegmentedColormap, to_rgba
        from matplotlib.figure import Figure

        att, q_tokens, k_tokens = self._kinds[self.kind]
        q_all, k_all, _ = self._selection()
        layer, head = self.layer, self.head
        label = f"layer {layer}, " + ("all heads" if head is None else f"head {head}")
        if self.view == "head":
            start, end = self.window, self.window + self.max_tokens
            q_idx = [i for i in q_all if start <= i < end]
            k_idx = [j for j in k_all if start <= j < end]
            lines, _ = _head_lines(att[layer], self._heads(), q_idx, k_idx, self.min_weight, self.max_lines)
            rows = max(len(q_idx), len(k_idx), 1)
            fig = Figure(figsize=(4.6, 0.6 + 0.22 * rows))
            ax = fig.add_axes((0.25, 0.02, 0.5, 0.9))
            q_y = {i: n for n, i in enumerate(q_idx)}
            k_y = {j: n for n, j in enumerate(k_idx)}
            from matplotlib.collections import LineCollection

            ax.add_collection(LineCollection([[(0, q_y[i]), (1, k_y[j])] for _, _, i, j in lines], linewidths=1.6,
                                             colors=[to_rgba(head_color(h), min(1.0, w)) for w, h, _, _ in lines]))
            for i in q_idx:
                ax.text(-0.04, q_y[i], pretty_token(q_tokens[i]), ha="right", va="center", fontsize=9)
            for j in k_idx:
                ax.text(1.04, k_y[j], pretty_token(k_tokens[j]), ha="left", va="center", fontsize=9)
            ax.set_xlim(0, 1)
            ax.set_ylim(rows - 0.5, -0.5)
            ax.axis("off")
            ax.set_title(f"Head view: {label}", fontsize=10)
        elif self.view == "heatmap":
            matrix = (att[layer].mean(0) if head is None else att[layer, head])[np.ix_(q_all, k_all)]
            color = MEAN_COLOR if head is None else head_color(head)
            side = min(7.0, 1.5 + 0.28 * max(len(q_all), len(k_all)))
            fig = Figure(figsize=(side + 0.8, side))
            ax = fig.add_subplot()
            cmap = LinearSegmentedColormap.from_list("attn", ["#ffffff", color])
            if max(matrix.shape) > 128:
                matrix = _pool(matrix, 128)[0]  # a picture, not data: keep the notebook small
            ax.imshow(matrix, cmap=cmap, vmin=0, vmax=_color_max(matrix) or 1, interpolation="nearest")
            if max(len(q_all), len(k_all)) <= 64:
                ax.set_yticks(range(len(q_all)), [pretty_token(q_tokens[i]) for i in q_all], fontsize=8)
                ax.set_xticks(range(len(k_all)), [pretty_token(k_tokens[j]) for j in k_all], fontsize=8, rotation=90)
                ax.xaxis.tick_top()
            ax.set_title(f"Heatmap: {label if head is not None else f'layer {layer}, mean of heads'}", fontsize=10)
            fig.tight_layout()
        else:
            n_layers, n_heads = att.shape[:2]
            cell = 48
            mosaic = np.full((n_layers * (cell + 4), n_heads * (cell + 4), 3), 0.8, dtype=np.float32)  # grey gaps
            for l_ in range(n_layers):
                for h_ in range(n_heads):
                    sub = _pool(att[l_, h_][np.ix_(q_all, k_all)], cell)[0]
                    vmax = _color_max(sub) or 1.0
                    # nearest-neighbour upscale to cell x cell
                    rows_ = (np.arange(cell) * sub.shape[0] // cell)
                    cols_ = (np.arange(cell) * sub.shape[1] // cell)
                    scaled = np.clip(np.nan_to_num(sub[np.ix_(rows_, cols_)]) / vmax, 0, 1)[..., None]
                    rgb = 1 - scaled * (1 - _hex_rgb(head_color(h_)) / 255.0)
                    y, x = l_ * (cell + 4), h_ * (cell + 4)
                    mosaic[y:y + cell, x:x + cell] = rgb
                    if (l_, h_) == (layer, head):
                        mosaic[y:y + cell, x:x + 2] = mosaic[y:y + cell, x + cell - 2:x + cell] = 0
                        mosaic[y:y + 2, x:x + cell] = mosaic[y + cell - 2:y + cell, x:x + cell] = 0
            fig = Figure(figsize=(1.0 + 0.62 * n_heads, 0.8 + 0.62 * n_layers))
            ax = fig.add_subplot()
            ax.imshow(mosaic, interpolation="nearest")
            ax.set_xticks([h_ * (cell + 4) + cell / 2 for h_ in range(n_heads)], [f"h{h_}" for h_ in range(n_heads)],
                          fontsize=8)
            ax.set_yticks([l_ * (cell + 4) + cell / 2 for l_ in range(n_layers)], [f"L{l_}" for l_ in range(n_layers)],
                          fontsize=8)
            ax.tick_params(length=0)
            for spine in ax.spines.values():
                spine.set_visible(False)
            ax.set_title("Model view: layers × heads (rows attend to columns)", fontsize=10)
            fig.tight_layout()
        buffer = io.BytesIO()
        FigureCanvasAgg(fig)
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
        return buffer.getvalue()

    def snapshot(self) -> "Snapshot":
        """The current view as a static SVG image to display: it stays visible on any static notebook page."""
        return Snapshot(self.to_svg())

    def to_html(self, title: str | None = None) -> str:
        """A standalone HTML page of the current view: open it in any browser, offline."""
        title = title or f"Attention · {VIEWS[self.view]} · layer {self.layer}" + (
            "" if self.head is None else f" · head {self.head}")
        notes = "".join(f"<div>{_esc(n)}</div>" for n in self._notes)
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{_esc(title)}</title><style>body{{margin:16px;background:#fff}}</style></head><body>"
                f"{self._out.value}<div class=\"wbav\"><div class=\"note\">{notes}</div></div></body></html>\n")

    def save_html(self, path) -> None:
        from pathlib import Path

        Path(path).write_text(self.to_html(), encoding="utf-8")

    def to_bertviz(self, view: str = "head") -> str:
        """The same attentions in bertviz's own HTML (needs a network: bertviz loads its scripts from CDNs)."""
        if "self" in self._kinds:
            att, tokens, _ = self._kinds["self"]
            return bertviz_html([a[None] for a in att], tokens, view=view, sentence_b_start=self.sentence_b_start)
        enc, dec, cross = (self._kinds.get(k) for k in ("encoder", "decoder", "cross"))
        return bertviz_html(view=view, encoder_attention=[a[None] for a in enc[0]],
                            decoder_attention=[a[None] for a in dec[0]], cross_attention=[a[None] for a in cross[0]],
                            encoder_tokens=enc[1], decoder_tokens=dec[1])

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus a static PNG of the current view for pages without widgets (GitHub, nbviewer
        without widget state, a saved notebook opened without a kernel)."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            data, metadata = bundle
        else:
            data, metadata = bundle, {}
        data = dict(data or {})
        try:
            # PNG rather than SVG: JupyterLab shows no SVG from a saved notebook that is not yet trusted
            data["image/png"] = base64.b64encode(self.to_png()).decode("ascii")
        except Exception:  # never let the snapshot break the display of the widget
            pass
        return data, metadata

    def __repr__(self) -> str:
        att, q_tokens, _ = self._kinds[self.kind]
        return (f"AttentionVisualizer({len(q_tokens)} tokens, {att.shape[0]} layers × {att.shape[1]} heads, "
                f"view={self.view!r}, layer={self.layer}, head={self.head})")
