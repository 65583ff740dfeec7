"""The model view: a layers x heads grid of small attention maps; click one to zoom (pure CSS, no script).

Each thumbnail is one head's (q, k) matrix as a PNG image, pooled to a few dozen pixels a side for long
inputs; the zoom panel shows it larger, with the head's strongest links.
"""

from __future__ import annotations

import numpy as np

from ...display import escape
from .shared import Selection, View, color_max, element_ids, head_color, hex_rgb, png_data_uri, pool, pretty_token


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


def render_model_view(
    attention: np.ndarray,
    q_tokens,
    k_tokens,
    q_idx,
    k_idx,
    *,
    selected: tuple[int, int] | None = None,
    thumb: int = 56,
    thumb_pixels: int = 64,
    zoom_pixels: int = 128,
    uid: str | None = None,
    interactive: bool = True,
    xmlns: bool = False,
) -> tuple[str, list[str]]:
    """A layers x heads grid of heatmap thumbnails; click one to zoom (pure CSS, no script).

    ``attention`` is (layers, heads, q, k). With ``interactive=False`` a single static SVG is returned.
    """
    uid = uid or f"wbav{next(element_ids)}"
    notes: list[str] = []
    n_layers, n_heads = attention.shape[:2]
    qi, kj = np.asarray(q_idx, dtype=int), np.asarray(k_idx, dtype=int)
    images: dict[tuple[int, int], str] = {}
    zooms: dict[tuple[int, int], str] = {}
    pooled_note = False
    for layer in range(n_layers):
        for head in range(n_heads):
            sub = attention[layer, head][np.ix_(qi, kj)]
            small, fq, fk = pool(sub, thumb_pixels)
            pooled_note |= fq > 1 or fk > 1
            images[layer, head] = png_data_uri(small, head_color(head), color_max(small))
            if interactive:
                if max(sub.shape) <= thumb_pixels:
                    zooms[layer, head] = images[layer, head]
                else:
                    big = pool(sub, zoom_pixels)[0]
                    zooms[layer, head] = png_data_uri(big, head_color(head), color_max(big))
    if pooled_note:
        notes.append(
            f"{len(q_idx)}×{len(k_idx)} tokens: thumbnails are pooled to at most {thumb_pixels} pixels a "
            f"side (zoom: {zoom_pixels})."
        )
    label_w, label_h, pad = 28, 18, 4
    width = label_w + n_heads * (thumb + pad)
    height = label_h + n_layers * (thumb + pad)

    def grid_svg(ns: bool) -> str:
        out = [
            '<svg class="modelview"'
            + (' xmlns="http://www.w3.org/2000/svg"' if ns else "")
            + f' width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
        ]
        for head in range(n_heads):
            out.append(
                f'<text x="{label_w + head * (thumb + pad) + thumb / 2}" y="12" text-anchor="middle" '
                f'font-size="11" fill="{head_color(head)}">h{head}</text>'
            )
        for layer in range(n_layers):
            y = label_h + layer * (thumb + pad)
            out.append(
                f'<text x="{label_w - 4}" y="{y + thumb / 2 + 4}" text-anchor="end" font-size="11">L{layer}</text>'
            )
            for head in range(n_heads):
                x = label_w + head * (thumb + pad)
                out.append(
                    f'<image x="{x}" y="{y}" width="{thumb}" height="{thumb}" preserveAspectRatio="none" '
                    f'style="image-rendering:pixelated" href="{images[layer, head]}"/>'
                )
                stroke = "#000" if selected == (layer, head) else "#ccc"
                out.append(
                    f'<rect x="{x}" y="{y}" width="{thumb}" height="{thumb}" fill="none" stroke="{stroke}">'
                    f"<title>layer {layer}, head {head}</title></rect>"
                )
        out.append("</svg>")
        return "".join(out)

    if not interactive:
        return grid_svg(xmlns), notes

    # Interactive: hidden radio buttons + labels. Clicking a thumbnail (a <label>) checks its radio, and the
    # CSS sibling rules below show the matching zoom panel. The selected layer/head starts zoomed.
    css = [
        f"#{uid} .mvgrid{{display:grid;grid-template-columns:{label_w}px repeat({n_heads},{thumb}px);gap:{pad}px;"
        f"align-items:center}}",
        f"#{uid} .mvgrid label{{cursor:zoom-in;display:block;width:{thumb}px;height:{thumb}px;line-height:0}}",
        f"#{uid} .mvgrid label svg{{outline:1px solid #ccc}}",
        f"#{uid} .mvgrid .hd{{text-align:center;font-size:11px}}",
        f"#{uid} .mvgrid .ld{{text-align:right;font-size:11px}}",
        f"#{uid} .zoom{{display:none;margin-top:8px;padding:6px;border:1px solid #ddd;border-radius:4px}}",
        f"#{uid} .zoom label{{cursor:pointer;color:#555;margin-left:8px}}",
        f"#{uid} input.zr{{display:none}}",
    ]
    radios, cells, panels = [], [], []
    radios.append(
        f'<input type="radio" class="zr" name="{uid}" id="{uid}-none"' + ("" if selected else " checked") + ">"
    )
    cells.append(
        "<div></div>" + "".join(f'<div class="hd" style="color:{head_color(h)}">h{h}</div>' for h in range(n_heads))
    )
    for layer in range(n_layers):
        cells.append(f'<div class="ld">L{layer}</div>')
        for head in range(n_heads):
            rid = f"{uid}-z{layer}-{head}"
            checked = " checked" if selected == (layer, head) else ""
            radios.append(f'<input type="radio" class="zr" name="{uid}" id="{rid}"{checked}>')
            css.append(f"#{rid}:checked~.zooms>.z{layer}-{head}{{display:block}}")
            css.append(f"#{rid}:checked~.mvgrid .c{layer}-{head} svg{{outline:2px solid #000}}")
            cells.append(
                f'<label class="c{layer}-{head}" for="{rid}" '
                f'title="layer {layer}, head {head}: click to zoom">'
                f'<svg width="{thumb}" height="{thumb}"><image width="{thumb}" height="{thumb}" '
                f'preserveAspectRatio="none" style="image-rendering:pixelated" '
                f'href="{images[layer, head]}"/></svg></label>'
            )
            links = "; ".join(escape(s) for s in _top_links(attention[layer, head], q_tokens, k_tokens, q_idx, k_idx))
            panels.append(
                f'<div class="zoom z{layer}-{head}"><b>Layer {layer}, head {head}</b>'
                f'<label for="{uid}-none">✕ close</label><br>'
                f'<svg width="256" height="256"><image width="256" height="256" preserveAspectRatio="none" '
                f'style="image-rendering:pixelated" href="{zooms[layer, head]}"/></svg>'
                f'<div class="note">strongest: {links}</div></div>'
            )
    fragment = (
        f'<div id="{uid}" class="modelview"><style>{"".join(css)}</style>{"".join(radios)}'
        f'<div class="mvgrid">{"".join(cells)}</div><div class="zooms">{"".join(panels)}</div></div>'
    )
    return fragment, notes


class ModelView(View):
    name, title = "model", "Model view"

    def svg(self, sel: Selection, static: bool = False) -> tuple[str, list[str]]:
        selected = (sel.layer, sel.head) if sel.head is not None else None
        fragment, notes = render_model_view(
            sel.attentions,
            sel.q_tokens,
            sel.k_tokens,
            sel.q_idx,
            sel.k_idx,
            selected=selected,
            uid=f"{sel.uid}m",
            interactive=not static,
            xmlns=static,
        )
        if static:
            return fragment, notes
        intro = (
            "<div><b>All layers × heads</b> · rows: layers, columns: heads · each thumbnail is one head's "
            "attention matrix (rows attend to columns) · click one to zoom</div>"
        )
        return intro + fragment, notes

    def png(self, sel: Selection):
        from matplotlib.figure import Figure

        att, q_idx, k_idx = sel.attentions, sel.q_idx, sel.k_idx
        n_layers, n_heads = att.shape[:2]
        cell = 48
        mosaic = np.full((n_layers * (cell + 4), n_heads * (cell + 4), 3), 0.8, dtype=np.float32)  # grey gaps
        for l_ in range(n_layers):
            for h_ in range(n_heads):
                sub = pool(att[l_, h_][np.ix_(q_idx, k_idx)], cell)[0]
                vmax = color_max(sub) or 1.0
                # nearest-neighbour upscale to cell x cell
                rows_ = np.arange(cell) * sub.shape[0] // cell
                cols_ = np.arange(cell) * sub.shape[1] // cell
                scaled = np.clip(np.nan_to_num(sub[np.ix_(rows_, cols_)]) / vmax, 0, 1)[..., None]
                rgb = 1 - scaled * (1 - hex_rgb(head_color(h_)) / 255.0)
                y, x = l_ * (cell + 4), h_ * (cell + 4)
                mosaic[y : y + cell, x : x + cell] = rgb
                if (l_, h_) == (sel.layer, sel.head):
                    mosaic[y : y + cell, x : x + 2] = mosaic[y : y + cell, x + cell - 2 : x + cell] = 0
                    mosaic[y : y + 2, x : x + cell] = mosaic[y + cell - 2 : y + cell, x : x + cell] = 0
        fig = Figure(figsize=(1.0 + 0.62 * n_heads, 0.8 + 0.62 * n_layers))
        ax = fig.add_subplot()
        ax.imshow(mosaic, interpolation="nearest")
        ax.set_xticks(
            [h_ * (cell + 4) + cell / 2 for h_ in range(n_heads)], [f"h{h_}" for h_ in range(n_heads)], fontsize=8
        )
        ax.set_yticks(
            [l_ * (cell + 4) + cell / 2 for l_ in range(n_layers)], [f"L{l_}" for l_ in range(n_layers)], fontsize=8
        )
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title("Model view: layers × heads (rows attend to columns)", fontsize=10)
        fig.tight_layout()
        return fig
