"""The AttentionVisualizer widget: its controls, running the model, and export (HTML page, SVG, PNG).

The views themselves (head view, model view, heatmap, image view) are drawn by the modules of the same names;
the widget turns its controls into a ``Selection`` and hands it to the current view. The input is text (with a
tokenizer) or an image (with an image processor: the tokens are then [CLS] and the patches).
"""

from __future__ import annotations

import base64
import inspect
import io
from typing import Any, Sequence

import ipywidgets as widgets
import numpy as np

from ...display import escape
from .bertviz_bridge import bertviz_html
from .head_view import HeadView
from .heatmap import Heatmap
from .image_view import ImageView
from .model_view import ModelView
from .shared import ImageTokens, Selection, View, as_numpy, element_ids

# The views, in the order of their buttons: a new view is a View subclass in its own module, listed here.
VIEW_RENDERERS: dict[str, View] = {view.name: view for view in (ImageView(), HeadView(), ModelView(), Heatmap())}
VIEWS = {name: view.title for name, view in VIEW_RENDERERS.items()}
IMAGE_ONLY_VIEWS = ("image",)  # views that need an image input; the others draw any tokens, patches included
FILTERS = {"all": "All", "aa": "A → A", "ab": "A → B", "ba": "B → A", "bb": "B → B"}
KINDS = {"self": "Self-attention", "encoder": "Encoder", "decoder": "Decoder", "cross": "Cross (decoder → encoder)"}

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


def _takes_images(processor) -> bool:
    """An image processor (its model input is pixel_values), rather than a tokenizer."""
    return "pixel_values" in (getattr(processor, "model_input_names", None) or ())


def _image_tokens(image, num_tokens: int, grid: tuple[int, int] | None) -> ImageTokens:
    """The ImageTokens of a picture whose attentions have ``num_tokens`` tokens: with ``grid`` given, or a square
    grid after one or two prefix tokens ([CLS], DeiT's distillation token)."""
    picture = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
    if picture.dtype != np.uint8:
        picture = (np.clip(picture, 0.0, 1.0) * 255.0).round().astype(np.uint8)  # floats in [0, 1]
    if picture.ndim != 3 or picture.shape[-1] != 3:
        raise ValueError(f"image= must be an RGB picture, (height, width, 3); got shape {picture.shape}.")
    if grid is None:
        sides = [(prefix, round((num_tokens - prefix) ** 0.5)) for prefix in (1, 2, 0) if num_tokens > prefix]
        grid = next(((side, side) for prefix, side in sides if side * side == num_tokens - prefix), None)
        if grid is None:
            raise ValueError(
                f"{num_tokens} tokens are not a square grid of patches after [CLS]: pass grid=(rows, cols)."
            )
    prefix = num_tokens - grid[0] * grid[1]
    if not 0 <= prefix <= 8:
        raise ValueError(f"A {grid[0]}x{grid[1]} grid of patches does not fit {num_tokens} tokens.")
    return ImageTokens(picture, tuple(grid), prefix)


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
    """Interactive attention views of one input: head view, model view (layers x heads), heatmap; for an image,
    the image view (heat maps over the picture, and attention rollout).

    ``AttentionVisualizer(model, tokenizer, text, text_pair=None, target=None)`` runs the model once with
    ``output_attentions=True``. ``target`` is the decoder text of an encoder-decoder model (then the
    encoder, decoder and cross attentions can all be shown). ``AttentionVisualizer(model, image_processor,
    image)`` does the same for a vision transformer (ViT, DeiT, DINOv2, BEiT; the image is a path, a PIL image or
    an array). ``AttentionVisualizer.from_attentions`` takes attentions you already have (same arguments as
    ``bertviz.head_view``; ``image=`` for a picture's).

    Properties (also the controls): ``view`` ("image", "head", "model", "heatmap"), ``layer``, ``head`` (an int,
    or None for all heads), ``filter`` ("all", "aa", "ab", "ba", "bb": sentence A/B -> A/B),
    ``kind`` ("self", or "encoder"/"decoder"/"cross"), ``window`` (first token of the head-view window),
    ``min_weight``, ``query`` (the image view's token: 0 is [CLS]; set a patch as ``(row, col)``). ``html`` is
    the current view, ``to_html()`` a standalone page, ``to_svg()`` a static image.
    """

    def __init__(
        self,
        model=None,
        tokenizer=None,
        text: str | None = None,
        text_pair: str | None = None,
        target: str | None = None,
        *,
        view: str | None = None,
        layer: int = 0,
        head: int | None = None,
        query: int | str | tuple[int, int] | None = None,
        max_tokens: int = 48,
        max_lines: int = 3000,
        min_weight: float = 0.02,
        max_length: int | None = None,
        _data: dict | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.max_tokens, self.max_lines = int(max_tokens), int(max_lines)
        self.truncated_from: int | None = None
        if _data is None:
            if model is None or tokenizer is None:
                raise ValueError(
                    "AttentionVisualizer needs a model and a tokenizer (or an image processor, for an image), or "
                    "use AttentionVisualizer.from_attentions(attentions, tokens)."
                )
            if _takes_images(tokenizer):
                _data = self._run_image_model(model, tokenizer, text)
            else:
                _data = self._run_model(model, tokenizer, text, text_pair, target, max_length)
        self._kinds: dict[str, tuple[np.ndarray, list[str], list[str]]] = _data["kinds"]
        self.sentence_b_start: int | None = _data.get("sentence_b_start")
        self._image: ImageTokens | None = _data.get("image")
        self._extra_notes: list[str] = _data.get("notes", [])
        self._uid = f"wbav{next(element_ids)}"

        first = next(iter(self._kinds.values()))[0]
        style = {"description_width": "initial"}
        views = [(title, name) for name, title in VIEWS.items() if self._image or name not in IMAGE_ONLY_VIEWS]
        view = view or views[0][1]
        if view not in VIEWS:
            raise ValueError(f"view must be one of {[name for _, name in views]}, not {view!r}.")
        if view not in (name for _, name in views):
            raise ValueError(f"view={view!r} needs an image input: AttentionVisualizer(model, image_processor, image).")
        self._view_w = widgets.ToggleButtons(options=views, value=view, style={"button_width": "110px"})
        self._kind_w = widgets.Dropdown(
            options=[(KINDS[k], k) for k in self._kinds],
            description="Attention",
            style=style,
            layout=widgets.Layout(width="300px"),
        )
        self._layer_w = widgets.IntSlider(
            value=0,
            min=0,
            max=first.shape[0] - 1,
            description="Layer",
            continuous_update=False,
            layout=widgets.Layout(width="260px"),
        )
        self._head_w = widgets.Dropdown(description="Head", layout=widgets.Layout(width="180px"))
        self._filter_w = widgets.Dropdown(
            options=[(v, k) for k, v in FILTERS.items()],
            value="all",
            description="Sentences",
            style=style,
            layout=widgets.Layout(width="200px"),
        )
        self._window_w = widgets.IntSlider(
            value=0,
            min=0,
            max=0,
            description="Window start",
            style=style,
            continuous_update=False,
            layout=widgets.Layout(width="340px"),
        )
        self._weight_w = widgets.FloatSlider(
            value=min_weight,
            min=0.0,
            max=0.5,
            step=0.01,
            description="Min weight",
            style=style,
            continuous_update=False,
            readout_format=".2f",
            layout=widgets.Layout(width="280px"),
        )
        self._query_w = widgets.Dropdown(
            options=self._query_options(), description="From", layout=widgets.Layout(width="200px")
        )
        self._out = widgets.HTML()
        self._note = widgets.HTML()
        self._update_head_options()
        self._update_window_range()
        self._layer_w.value = layer
        if head is not None:
            self._head_w.value = head
        if query is not None:
            self.query = query
        self._kind_w.layout.display = None if len(self._kinds) > 1 else "none"
        self._update_visibility()
        for control in (
            self._view_w,
            self._layer_w,
            self._head_w,
            self._filter_w,
            self._window_w,
            self._weight_w,
            self._query_w,
        ):
            control.observe(self._on_change, names="value")
        self._kind_w.observe(self._on_kind, names="value")
        self.children = [
            self._view_w,
            widgets.HBox(
                [self._kind_w, self._layer_w, self._head_w, self._query_w, self._filter_w],
                layout=widgets.Layout(flex_flow="row wrap"),
            ),
            widgets.HBox([self._weight_w, self._window_w], layout=widgets.Layout(flex_flow="row wrap")),
            self._out,
            self._note,
        ]
        self._render()

    # ----- construction -----
    @classmethod
    def from_attentions(
        cls,
        attention=None,
        tokens: Sequence[str] | None = None,
        sentence_b_start: int | None = None,
        *,
        encoder_attention=None,
        decoder_attention=None,
        cross_attention=None,
        encoder_tokens: Sequence[str] | None = None,
        decoder_tokens: Sequence[str] | None = None,
        image=None,
        grid: tuple[int, int] | None = None,
        **kwargs: Any,
    ) -> "AttentionVisualizer":
        """From attentions you already have; the arguments are bertviz's (``head_view``/``model_view``).

        For a vision transformer's attentions pass ``image=`` (the picture the model saw: a PIL image or an
        (height, width, 3) array, e.g. ``workbench.interpret.pixel_values_to_image(pixel_values[0], processor)``)
        and, unless the patch grid is square, ``grid=(rows, cols)``; the tokens are then named for you."""
        kinds: dict[str, tuple[np.ndarray, list[str], list[str]]] = {}
        image_tokens = None
        if attention is not None and image is not None:
            attention = as_numpy(attention)
            image_tokens = _image_tokens(image, attention.shape[-1], grid)
            tokens = image_tokens.names if tokens is None else tokens
        if attention is not None:
            if tokens is None:
                raise ValueError("Pass tokens= with attention= (tokenizer.convert_ids_to_tokens(input_ids[0])).")
            kinds["self"] = (as_numpy(attention), list(tokens), list(tokens))
        if encoder_attention is not None:
            kinds["encoder"] = (as_numpy(encoder_attention), list(encoder_tokens), list(encoder_tokens))
        if decoder_attention is not None:
            kinds["decoder"] = (as_numpy(decoder_attention), list(decoder_tokens), list(decoder_tokens))
        if cross_attention is not None:
            kinds["cross"] = (as_numpy(cross_attention), list(decoder_tokens), list(encoder_tokens))
        if not kinds:
            raise ValueError("Pass attention= and tokens= (or encoder_/decoder_/cross_attention= with their tokens).")
        for name, (att, qt, kt) in kinds.items():
            if att.shape[2] != len(qt) or att.shape[3] != len(kt):
                raise ValueError(
                    f"{name} attention has shape (q, k) = {att.shape[2:]} but there are {len(qt)} query "
                    f"and {len(kt)} key tokens: pass the tokens of the same input."
                )
        return cls(_data={"kinds": kinds, "sentence_b_start": sentence_b_start, "image": image_tokens}, **kwargs)

    def _run_image_model(self, model, image_processor, image) -> dict:
        """Prepare one image with the processor, run the model once, and keep the picture it saw."""
        import torch

        from ...interpret import patch_grid, pixel_values_to_image

        if image is None or isinstance(image, (list, tuple)):
            raise ValueError(
                "Pass one image (a path, a PIL image or an array) to look at: AttentionVisualizer(model, "
                "image_processor, 'photo.jpg')."
            )
        name = type(model).__name__
        if "output_attentions" not in inspect.signature(model.forward).parameters:
            raise ValueError(
                f"{name} has no attention to show: the image view needs a vision transformer (ViT, DeiT, DINOv2, "
                "BEiT, data2vec-vision). Convolutional networks (ConvNeXT, ResNet) have none."
            )
        pixel_values = image_processor(image, return_tensors="pt")["pixel_values"]  # (1, channels, height, width)
        if pixel_values.shape[0] != 1:
            raise ValueError(f"Pass one image, not a batch of {pixel_values.shape[0]}.")
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                outputs = model(pixel_values=pixel_values, output_attentions=True)
        finally:
            model.train(was_training)
        attentions = getattr(outputs, "attentions", None)
        if not attentions:
            raise ValueError(f"{name} returned no attentions with output_attentions=True.")
        grid = patch_grid(model.config, pixel_values)
        tokens = attentions[0].shape[-1]
        if any(a.shape != attentions[0].shape for a in attentions) or not 0 <= tokens - grid[0] * grid[1] <= 8:
            raise ValueError(
                f"{name} attends within local windows (Swin: {tokens} tokens per window, shifted every other "
                "layer, merged between stages), not over the whole image, so its attention has no map over the "
                "picture here. Use a global vision transformer: ViT, DeiT, DINOv2, BEiT or data2vec-vision."
            )
        image_tokens = ImageTokens(
            pixel_values_to_image(pixel_values[0], image_processor), grid, tokens - grid[0] * grid[1]
        )
        notes = []
        logits, labels = getattr(outputs, "logits", None), getattr(model.config, "id2label", None)
        if logits is not None and labels and logits.dim() == 2:
            probabilities = logits[0].float().softmax(-1)
            best = int(probabilities.argmax())
            notes.append(f"The model predicts {labels[best]!r} ({probabilities[best]:.0%}).")
        names = image_tokens.names
        return {"kinds": {"self": (as_numpy(attentions), names, names)}, "image": image_tokens, "notes": notes}

    def _run_model(self, model, tokenizer, text, text_pair, target, max_length) -> dict:
        import torch

        if text is not None and not isinstance(text, str):
            raise ValueError(
                f"{type(tokenizer).__name__} reads text, and a {type(text).__name__} was given: for an image, pass "
                "the model's image processor instead, AttentionVisualizer(model, image_processor, image)."
            )
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                "text is empty: pass a sentence to look at, e.g. AttentionVisualizer(model, tokenizer, "
                "'The cat sat on the mat.')."
            )
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
            kinds = {
                "encoder": (as_numpy(outputs.encoder_attentions), tokens, tokens),
                "decoder": (as_numpy(outputs.decoder_attentions), dec_tokens, dec_tokens),
                "cross": (as_numpy(outputs.cross_attentions), dec_tokens, tokens),
            }
        else:
            attentions = getattr(outputs, "attentions", None)
            if not attentions:
                raise ValueError(f"{type(model).__name__} returned no attentions with output_attentions=True.")
            kinds = {"self": (as_numpy(attentions), tokens, tokens)}
        return {"kinds": kinds, "sentence_b_start": sentence_b_start}

    # ----- properties (each sets its control, which re-renders) -----
    @property
    def view(self) -> str:
        return self._view_w.value

    @view.setter
    def view(self, value: str) -> None:
        offered = [name for _, name in self._view_w.options]
        if value not in offered:
            needs = " (it needs an image input)" if value in IMAGE_ONLY_VIEWS else ""
            raise ValueError(f"view must be one of {offered}, not {value!r}{needs}.")
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
    def query(self) -> int:
        """The image view's token (its position): 0 is [CLS]; set a patch as ``(row, col)`` or by its position."""
        return self._query_w.value

    @query.setter
    def query(self, value: int | str | tuple[int, int]) -> None:
        if self._image is None:
            raise ValueError("query is the image view's token: it needs an image input.")
        names = self._image.names
        if isinstance(value, tuple):
            value = self._image.token(*value)
        elif isinstance(value, str):
            labels = {label: i for label, i in self._query_w.options} | {name: i for i, name in enumerate(names)}
            if value not in labels:
                raise ValueError(f"query {value!r} is not a token here: use {names[0]!r} or a patch as (row, col).")
            value = labels[value]
        if not 0 <= int(value) < len(names):
            raise ValueError(
                f"query must be a token position in 0..{len(names) - 1} or a patch (row, col), not {value}."
            )
        self._query_w.value = int(value)

    @property
    def image(self) -> ImageTokens | None:
        """For an image input: the picture the model saw (``image.picture``), its patch grid and prefix tokens."""
        return self._image

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

    def _update_visibility(self) -> None:
        """Show the controls that change the current view."""
        on_image = self._view_w.value in IMAGE_ONLY_VIEWS
        many_tokens = len(self._kinds[self._kind_w.value][1]) > self.max_tokens
        self._query_w.layout.display = None if on_image else "none"
        self._filter_w.layout.display = None if self.sentence_b_start is not None and not on_image else "none"
        self._window_w.layout.display = None if many_tokens and not on_image else "none"
        self._weight_w.layout.display = "none" if on_image else None

    def _query_options(self) -> list[tuple[str, int]]:
        if self._image is None:
            return [("[CLS]", 0)]
        names, patch = self._image.names, self._image.patch
        return [(name if patch(i) is None else "patch ({}, {})".format(*patch(i)), i) for i, name in enumerate(names)]

    def _on_kind(self, change) -> None:
        with self.hold_trait_notifications():
            att = self._kinds[change["new"]][0]
            self._layer_w.max = att.shape[0] - 1
            self._update_head_options()
            self._update_window_range()
            self._update_visibility()
            self._filter_w.disabled = change["new"] in ("decoder", "cross")
        self._render()

    def _on_change(self, change) -> None:
        if change["owner"] is self._view_w:
            self._update_visibility()
        self._render()

    def _selection(self) -> tuple[Selection, list[str]]:
        """What the view draws: the current kind's attentions, the positions the sentence filter keeps (before
        the head view's window) and the settings; and notes about the input."""
        att, q_tokens, k_tokens = self._kinds[self.kind]
        q_all, k_all = list(range(len(q_tokens))), list(range(len(k_tokens)))
        notes = list(self._extra_notes)
        b = self.sentence_b_start
        if b is not None and self.filter != "all" and self.kind in ("self", "encoder"):
            a_side, b_side = q_all[:b], q_all[b:]
            q_all = a_side if self.filter[0] == "a" else b_side
            k_all = k_all[:b] if self.filter[1] == "a" else k_all[b:]
            notes.append(
                f"Showing {FILTERS[self.filter]}: sentence A is positions 0–{b - 1}, B is {b}–{len(q_tokens) - 1}."
            )
        if self.truncated_from:
            notes.append(
                f"The input had {self.truncated_from} tokens; it was truncated to {len(q_tokens)} (the "
                "model's maximum)."
            )
        selection = Selection(
            att,
            q_tokens,
            k_tokens,
            q_all,
            k_all,
            layer=self.layer,
            head=self.head,
            window=self.window,
            max_tokens=self.max_tokens,
            max_lines=self.max_lines,
            min_weight=self.min_weight,
            uid=self._uid,
            image=self._image,
            query=self.query,
        )
        return selection, notes

    def _render_view(self, static: bool = False) -> tuple[str, list[str]]:
        selection, notes = self._selection()
        body, more = VIEW_RENDERERS[self.view].svg(selection, static)
        return body, notes + more

    def _render(self) -> None:
        body, notes = self._render_view()
        self._notes = notes
        note_html = "".join(f"<div>{escape(n)}</div>" for n in notes)
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

        selection, _ = self._selection()
        fig = VIEW_RENDERERS[self.view].png(selection)
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
            "" if self.head is None else f" · head {self.head}"
        )
        if self.view in IMAGE_ONLY_VIEWS:
            title += f" · from {self._query_w.label}"
        notes = "".join(f"<div>{escape(n)}</div>" for n in self._notes)
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>body{{margin:16px;background:#fff}}</style></head><body>"
            f'{self._out.value}<div class="wbav"><div class="note">{notes}</div></div></body></html>\n'
        )

    def save_html(self, path) -> None:
        from pathlib import Path

        Path(path).write_text(self.to_html(), encoding="utf-8")

    def to_bertviz(self, view: str = "head") -> str:
        """The same attentions in bertviz's own HTML (needs a network: bertviz loads its scripts from CDNs)."""
        if "self" in self._kinds:
            att, tokens, _ = self._kinds["self"]
            return bertviz_html([a[None] for a in att], tokens, view=view, sentence_b_start=self.sentence_b_start)
        enc, dec, cross = (self._kinds.get(k) for k in ("encoder", "decoder", "cross"))
        return bertviz_html(
            view=view,
            encoder_attention=[a[None] for a in enc[0]],
            decoder_attention=[a[None] for a in dec[0]],
            cross_attention=[a[None] for a in cross[0]],
            encoder_tokens=enc[1],
            decoder_tokens=dec[1],
        )

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
        if self._image is not None:
            rows, cols = self._image.grid
            return (
                f"AttentionVisualizer(image, {self._image.num_prefix} + {rows}×{cols} patch tokens, {att.shape[0]} "
                f"layers × {att.shape[1]} heads, view={self.view!r}, layer={self.layer}, head={self.head}, "
                f"query={self._query_w.label!r})"
            )
        return (
            f"AttentionVisualizer({len(q_tokens)} tokens, {att.shape[0]} layers × {att.shape[1]} heads, "
            f"view={self.view!r}, layer={self.layer}, head={self.head})"
        )
