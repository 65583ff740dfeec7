"""What every attention view is given and draws with.

``Selection`` is what a view draws (one kind of attention, the tokens the sentence filter keeps, the
widget's settings; for an image, the picture and its patch grid); ``View`` is what a view provides: ``svg`` for
the live widget and the standalone page, ``png`` (a matplotlib figure) for ``to_png`` and the picture kept in
saved notebooks. The helpers below (attentions as arrays, head colours, token labels, pooling, PNG data URIs) are
shared by the views.
"""

from __future__ import annotations

import abc
import base64
import io
import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Per-head colours (the d3 category10 + a few more), cycled for models with many heads.
HEAD_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#ad494a",
    "#637939",
    "#843c39",
    "#7b4173",
    "#3182bd",
)
MEAN_COLOR = "#08519c"  # heatmaps of the mean over heads

element_ids = itertools.count()  # numbers the ids of rendered elements, unique within a page


@dataclass
class ImageTokens:
    """An image's tokens: the picture the model saw, and its patches' layout.

    A vision transformer reads ``num_prefix`` tokens ([CLS], DeiT's distillation token) and then the patches, row
    by row: token ``num_prefix + row * cols + col`` is the patch at (row, col).
    """

    picture: np.ndarray  # (height, width, 3) uint8: the image after the processor's resize and crop
    grid: tuple[int, int]  # (rows, cols) of patches
    num_prefix: int  # tokens before the patches

    @property
    def names(self) -> list[str]:
        """A name per token, as the other views label them: [CLS], [DIST], then (row,col) per patch."""
        prefix = ["[CLS]", "[DIST]"] + [f"[T{i}]" for i in range(2, self.num_prefix)]
        rows, cols = self.grid
        patches = [f"({r},{c})" for r in range(rows) for c in range(cols)]
        return prefix[: self.num_prefix] + patches

    def patch(self, token: int) -> tuple[int, int] | None:
        """(row, col) of a patch token; None for a prefix token."""
        if token < self.num_prefix:
            return None
        return divmod(token - self.num_prefix, self.grid[1])

    def token(self, row: int, col: int) -> int:
        rows, cols = self.grid
        if not (0 <= row < rows and 0 <= col < cols):
            raise ValueError(f"Patch ({row}, {col}) is outside the {rows}x{cols} grid of this image.")
        return self.num_prefix + row * cols + col


@dataclass
class Selection:
    """What a view draws: one kind of attention, the token positions the sentence filter keeps, the settings."""

    attentions: np.ndarray  # (layers, heads, q, k)
    q_tokens: list[str]  # every query token (attending from)
    k_tokens: list[str]  # every key token (attended to)
    q_idx: list[int]  # the query positions to show (after the sentence filter)
    k_idx: list[int]  # the key positions to show
    layer: int
    head: int | None  # None: all heads
    window: int  # first token of the head view's window
    max_tokens: int  # tokens in the head view's window
    max_lines: int
    min_weight: float
    uid: str  # the widget's element id: ids inside its views start with it
    image: ImageTokens | None = None  # the picture, when the input is an image
    query: int = 0  # the image view's token whose attention is drawn over the picture ([CLS] or a patch)

    @property
    def heads(self) -> list[int]:
        """The heads to draw: the selected one, or all."""
        return list(range(self.attentions.shape[1])) if self.head is None else [self.head]

    @property
    def label(self) -> str:
        return f"layer {self.layer}, " + ("all heads" if self.head is None else f"head {self.head}")


class View(abc.ABC):
    """One way to draw a Selection. A new view subclasses this and is listed in ``widget.VIEW_RENDERERS``."""

    name: str  # the widget's ``view`` value
    title: str  # its button

    @abc.abstractmethod
    def svg(self, sel: Selection, static: bool = False) -> tuple[str, list[str]]:
        """An HTML fragment (inline SVG, no scripts, no URLs) and notes about what was hidden. ``static``: one
        standalone SVG image with its namespace, no interactivity (``to_svg``)."""

    @abc.abstractmethod
    def png(self, sel: Selection) -> "Figure":
        """The same picture as a matplotlib figure (no interactivity)."""


def head_color(head: int) -> str:
    return HEAD_COLORS[head % len(HEAD_COLORS)]


def pretty_token(token: str) -> str:
    """Byte-level BPE and sentencepiece spell a leading space as 'Ġ' / '▁': show it as a space."""
    return token.replace("Ġ", " ").replace("▁", " ").replace("Ċ", "\\n").replace("ĉ", "\\t")


def as_numpy(attentions) -> np.ndarray:
    """A tuple of (batch, heads, q, k) tensors (one per layer), or an array, -> (layers, heads, q, k) float32."""
    if isinstance(attentions, np.ndarray):
        array = attentions
    else:
        layers = []
        for a in attentions:
            a = a.detach().float().cpu().numpy() if hasattr(a, "detach") else np.asarray(a, dtype=np.float32)
            layers.append(a[0] if a.ndim == 4 else a)
        if not layers:
            raise ValueError(
                "No attentions: the model returned an empty tuple (did it run with output_attentions=True?)."
            )
        array = np.stack(layers)
    if array.ndim == 5:
        array = array[:, 0]
    if array.ndim != 4:
        raise ValueError(
            f"Attentions must be (layers, heads, q, k) or a tuple of (batch, heads, q, k); got shape {array.shape}."
        )
    return array.astype(np.float32, copy=False)


def hex_rgb(color: str) -> np.ndarray:
    color = color.lstrip("#")
    return np.array([int(color[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float32)


def pool(matrix: np.ndarray, limit: int) -> tuple[np.ndarray, int, int]:
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


def color_max(matrix: np.ndarray) -> float:
    """The weight drawn darkest: the maximum, or for big matrices the 99.5th percentile (a few huge
    weights, e.g. on [CLS], would otherwise leave everything else white)."""
    if matrix.size == 0:
        return 0.0
    if matrix.size <= 64 * 64:
        return float(np.nanmax(matrix))
    return float(np.nanquantile(matrix, 0.995))


def png_data_uri(matrix: np.ndarray, color: str, vmax: float) -> str:
    """A (q, k) matrix as a PNG data URI, white -> ``color``; darkest = ``vmax``."""
    from PIL import Image

    scaled = np.clip(np.nan_to_num(matrix, nan=0.0) / vmax, 0.0, 1.0) if vmax > 0 else np.zeros_like(matrix)
    rgb = 255.0 - scaled[..., None] * (255.0 - hex_rgb(color))  # (q, k, 3)
    buffer = io.BytesIO()
    Image.fromarray(rgb.round().astype(np.uint8), "RGB").save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
