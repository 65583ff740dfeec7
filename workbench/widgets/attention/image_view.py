"""The image view: where one token of a vision transformer looks, drawn over the picture.

The token is [CLS] (what the image's summary reads) or a patch (outlined in cyan). The first row shows the
picture with its patch grid, the attention rollout through layers 0..L (Abnar & Zuidema 2020, computed by
``workbench.interpret.attention_rollout``) and the mean of layer L's heads (and the selected head, if one is);
the rows below show each head of layer L. Every map is a heat map over the patches drawn over the picture; a
caption says how much of the token's attention went to the patches at all (the rest is on [CLS] and the other
prefix tokens, which have no place in the picture).

    picture | rollout 0..L | mean of heads | (head h)
    head 0 | head 1 | head 2 | ...                         (all heads of layer L, when no head is selected)

Colours: each map is scaled to its own strongest patches (the 99th percentile of its weights once there are 64
patches or more: a ViT often pours its attention into one or two background patches, which would leave the rest
of the map black). The SVG (live widget, ``to_html``, ``to_svg``) and the PNG (``to_png``, the picture kept in
saved notebooks) draw the same panels at the same places, from ``_panels``.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np

from ...display import escape
from .shared import Selection, View

BIG, SMALL_MAX, GAP, CAPTION, TOP = 208, 112, 10, 32, 32  # sizes in pixels (CAPTION: the space under a panel)
HEADS_PER_ROW = 8
COLORMAP = "inferno"  # dark = little attention, bright yellow = the most
QUERY_COLOR = "#00e5ff"  # the outline of the query patch


@dataclass
class Panel:
    caption: str
    weights: np.ndarray | None  # the query token's weights over all tokens; None: the picture itself
    box: tuple[int, int, int, int]  # x, y, width, height in pixels


def color_scale(grid_map: np.ndarray) -> float:
    """The weight drawn brightest: the map's maximum, or its 99th percentile from 64 patches on."""
    peak = float(np.quantile(grid_map, 0.99)) if grid_map.size >= 64 else float(grid_map.max())
    return peak if peak > 0 else float(grid_map.max())


def heatmap_overlay(picture: np.ndarray, grid_map: np.ndarray, size: tuple[int, int], alpha: float = 0.65):
    """``picture`` (height, width, 3) uint8 resized to ``size`` (width, height), with ``grid_map`` (rows, cols)
    drawn over it: each patch coloured by its weight (``color_scale`` is the brightest), blended at ``alpha``.
    Returns a (height, width, 3) uint8 array."""
    from matplotlib import colormaps
    from PIL import Image

    width, height = size
    photo = np.asarray(Image.fromarray(picture).resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    scale = color_scale(grid_map)
    scaled = np.clip(grid_map / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(grid_map)
    # nearest-neighbour upscale: every patch stays a block, as the model saw it
    rows = np.arange(height) * grid_map.shape[0] // height
    cols = np.arange(width) * grid_map.shape[1] // width
    colors = colormaps[COLORMAP](scaled[np.ix_(rows, cols)])[..., :3] * 255.0  # (height, width, 3)
    return (photo * (1.0 - alpha) + colors * alpha).round().astype(np.uint8)


def _panels(sel: Selection) -> tuple[int, int, list[Panel]]:
    """The drawing's width and height, and its panels in place."""
    import torch

    from ...interpret import attention_rollout

    attention = sel.attentions[sel.layer][:, sel.query]  # (heads, tokens): what the query token reads, per head
    below = torch.from_numpy(np.ascontiguousarray(sel.attentions[: sel.layer + 1, None]))  # (L+1, 1, heads, q, k)
    rollout = attention_rollout(below)[0, sel.query].numpy()  # (tokens,)
    span = "layer 0" if sel.layer == 0 else f"layers 0–{sel.layer}"
    big = [("picture", None), (f"rollout, {span}", rollout), (f"mean of {len(attention)} heads", attention.mean(0))]
    heads = [(f"head {h}", attention[h]) for h in sel.heads]
    if sel.head is not None:
        big, heads = big + heads, []

    aspect = sel.image.picture.shape[0] / sel.image.picture.shape[1]
    width = len(big) * BIG + (len(big) - 1) * GAP
    panels = [Panel(c, w, (n * (BIG + GAP), TOP, BIG, round(BIG * aspect))) for n, (c, w) in enumerate(big)]
    y = TOP + round(BIG * aspect) + CAPTION
    if heads:
        per_row = min(len(heads), HEADS_PER_ROW)
        size = min(SMALL_MAX, (width - (per_row - 1) * GAP) // per_row)
        height = round(size * aspect)
        for n, (caption, weights) in enumerate(heads):
            row, col = divmod(n, per_row)
            panels.append(Panel(caption, weights, (col * (size + GAP), y + row * (height + CAPTION), size, height)))
        y += -(-len(heads) // per_row) * (height + CAPTION)
    return width, y, panels


def _grid_map(weights: np.ndarray, sel: Selection) -> tuple[np.ndarray, float]:
    """Weights over all tokens -> the patches' weights (rows, cols), and their sum (the share on the picture)."""
    patches = weights[sel.image.num_prefix :]
    return patches.reshape(sel.image.grid), float(patches.sum())  # (rows, cols)


def _query_name(sel: Selection) -> str:
    patch = sel.image.patch(sel.query)
    return sel.image.names[sel.query] if patch is None else f"patch ({patch[0]}, {patch[1]})"


def _title(sel: Selection) -> str:
    return f"Layer {sel.layer} · attention from {_query_name(sel)}"


def _describe(panel: Panel, sel: Selection) -> tuple[np.ndarray, str, str]:
    """A panel's pixels at its size, the caption's second line and the tooltip."""
    from PIL import Image

    (rows, cols), picture = sel.image.grid, sel.image.picture
    size = panel.box[2:]
    if panel.weights is None:
        pixels = np.asarray(Image.fromarray(picture).resize(size, Image.Resampling.BILINEAR))
        patch_pixels = picture.shape[0] // rows
        return pixels, f"{rows}×{cols} patches", f"what the model saw: {rows}×{cols} patches of {patch_pixels} pixels"
    grid_map, share = _grid_map(panel.weights, sel)
    r, c = np.unravel_index(int(grid_map.argmax()), grid_map.shape)
    tooltip = (
        f"{panel.caption}: {share:.0%} of the attention of {_query_name(sel)} is on the patches; the strongest "
        f"patch is ({r}, {c}), {grid_map[r, c]:.3f}"
    )
    return heatmap_overlay(picture, grid_map, size), f"{share:.0%} on patches", tooltip


def _jpeg_uri(pixels: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _legend_svg(width: int, uid: str) -> str:
    """A colour bar at the top right, from no attention to the map's strongest patches."""
    from matplotlib import colormaps

    cmap = colormaps[COLORMAP]
    stops = "".join(
        f'<stop offset="{t:.2f}" stop-color="#{"".join(f"{round(v * 255):02x}" for v in cmap(t)[:3])}"/>'
        for t in np.linspace(0, 1, 6)
    )
    x = width - 240
    return (
        f'<defs><linearGradient id="{uid}grad">{stops}</linearGradient></defs>'
        f'<text x="{x - 6}" y="16" font-size="11" text-anchor="end" fill="#555">none</text>'
        f'<rect x="{x}" y="6" width="120" height="12" fill="url(#{uid}grad)"/>'
        f'<text x="{x + 126}" y="16" font-size="11" fill="#555">strongest</text>'
    )


def render_image_view(sel: Selection, xmlns: bool = False) -> tuple[str, list[str]]:
    """The panels as one SVG (the pictures are JPEG data URIs: nothing is fetched) and notes."""
    if sel.image is None:
        raise ValueError("The image view needs an image input: AttentionVisualizer(model, image_processor, image).")
    width, height, panels = _panels(sel)
    (rows, cols), patch = sel.image.grid, sel.image.patch(sel.query)
    ns = ' xmlns="http://www.w3.org/2000/svg"' if xmlns else ""
    parts = [
        f'<svg class="imageview" id="{sel.uid}i"{ns} width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">',
        f'<text x="0" y="16" font-weight="bold" font-size="13">{escape(_title(sel))}</text>',
        _legend_svg(width, f"{sel.uid}i"),
    ]
    for panel in panels:
        x, y, w, h = panel.box
        pixels, detail, tooltip = _describe(panel, sel)
        font = 12 if w >= 150 else 11
        parts.append(
            f'<g class="panel"><title>{escape(tooltip)}</title>'
            f'<image x="{x}" y="{y}" width="{w}" height="{h}" href="{_jpeg_uri(pixels)}"/>'
        )
        if panel.weights is None:  # the patch grid on the picture
            lines = "".join(f"M{x + w * c / cols:.1f} {y}v{h}" for c in range(1, cols))
            lines += "".join(f"M{x} {y + h * r / rows:.1f}h{w}" for r in range(1, rows))
            parts.append(f'<path d="{lines}" stroke="#fff" stroke-opacity="0.35" stroke-width="0.6" fill="none"/>')
        if patch is not None:
            pw, ph = w / cols, h / rows
            parts.append(
                f'<rect x="{x + patch[1] * pw:.1f}" y="{y + patch[0] * ph:.1f}" width="{pw:.1f}" height="{ph:.1f}" '
                f'fill="none" stroke="{QUERY_COLOR}" stroke-width="2"/>'
            )
        parts.append(
            f'<text x="{x}" y="{y + h + 13}" font-size="{font}">{escape(panel.caption)}</text>'
            f'<text x="{x}" y="{y + h + 26}" font-size="{font - 1}" fill="#666">{escape(detail)}</text></g>'
        )
    parts.append("</svg>")
    notes = [
        "Each map is scaled to its own strongest patches (bright yellow). Attention on [CLS] and the other prefix "
        "tokens has no place in the picture: the captions say how much went to the patches."
    ]
    if patch is not None:
        notes.append(f"The query, {_query_name(sel)}, is outlined in cyan.")
    return "".join(parts), notes


class ImageView(View):
    name, title = "image", "Image"

    def svg(self, sel: Selection, static: bool = False) -> tuple[str, list[str]]:
        return render_image_view(sel, xmlns=static)

    def png(self, sel: Selection):
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        width, height, panels = _panels(sel)
        ppi = 100  # the SVG's pixels per inch of the figure: fonts in points are pixels * 72 / ppi
        fig = Figure(figsize=(width / ppi, height / ppi))
        fig.text(0, 1 - 16 / height, _title(sel), fontsize=13 * 72 / ppi, fontweight="bold")
        (rows, cols), patch = sel.image.grid, sel.image.patch(sel.query)
        for panel in panels:
            x, y, w, h = panel.box
            pixels, detail, _ = _describe(panel, sel)
            ax = fig.add_axes((x / width, 1 - (y + h) / height, w / width, h / height))
            ax.imshow(pixels, interpolation="nearest")
            ax.set_axis_off()
            if panel.weights is None:
                for c in range(1, cols):
                    ax.axvline(c * w / cols - 0.5, color="white", alpha=0.35, linewidth=0.4)
                for r in range(1, rows):
                    ax.axhline(r * h / rows - 0.5, color="white", alpha=0.35, linewidth=0.4)
            if patch is not None:
                pw, ph = w / cols, h / rows
                ax.add_patch(
                    Rectangle((patch[1] * pw - 0.5, patch[0] * ph - 0.5), pw, ph, fill=False, ec=QUERY_COLOR, lw=1.5)
                )
            font = (12 if w >= 150 else 11) * 72 / ppi
            fig.text(x / width, 1 - (y + h + 13) / height, panel.caption, fontsize=font)
            fig.text(x / width, 1 - (y + h + 26) / height, detail, fontsize=font - 0.7, color="#666")
        return fig
