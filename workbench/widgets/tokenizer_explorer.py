"""TokenizerExplorer: type text, see its tokens, ids, offsets and special tokens; compare two tokenizers.

    from workbench import AutoTokenizer
    from workbench.widgets import TokenizerExplorer

    TokenizerExplorer(AutoTokenizer.from_pretrained("sentence-transformers/all-MiniLM-L6-v2"),
                      "Tokenizers split text into pieces.", compare=gpt2_tokenizer)

Each token is a coloured chip (special tokens are grey and dashed); the text above is underlined in
the same colours through the offsets, so you see which characters became which token. Everything is
inline HTML: no network, no scripts.
"""

from __future__ import annotations

import os
from typing import Any

import ipywidgets as widgets

from ..display import escape

__all__ = ["TokenizerExplorer", "render_tokens"]

# Light chip colours, cycled token by token (readable with dark text).
CHIP_COLORS = ("#ffd8a8", "#b2f2bb", "#a5d8ff", "#ffc9c9", "#d0bfff", "#fff3bf", "#99e9f2", "#fcc2d7")
SPECIAL_COLOR = "#e9ecef"

_CSS = """
.wbtok{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:13px;color:#222;background:#fff;
  padding:4px 6px}
.wbtok .panels{display:flex;flex-wrap:wrap;gap:16px}
.wbtok .panel{flex:1 1 320px;min-width:280px}
.wbtok h4{margin:4px 0;font-size:14px}
.wbtok .count{color:#555;font-weight:normal;font-size:12px}
.wbtok .src{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;line-height:1.9;
  border:1px solid #eee;border-radius:4px;padding:4px 6px;margin:4px 0}
.wbtok .src span{border-radius:2px}
.wbtok .chips{display:flex;flex-wrap:wrap;gap:3px;margin:4px 0}
.wbtok .chip{display:inline-flex;flex-direction:column;align-items:center;border-radius:4px;padding:1px 5px;
  font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;border:1px solid rgba(0,0,0,.08)}
.wbtok .chip.special{border:1px dashed #868e96;color:#495057}
.wbtok .chip small{font-size:10px;color:#555}
.wbtok table{border-collapse:collapse;font-size:12px;margin-top:4px}
.wbtok td,.wbtok th{border-bottom:1px solid #eee;padding:1px 8px;text-align:left;
  font-family:ui-monospace,Menlo,monospace}
.wbtok .legend{color:#555;font-size:12px}
"""


def _show(token: str) -> str:
    """Make invisible characters visible: spaces as '·', and the BPE/sentencepiece space markers kept."""
    return token.replace(" ", "·").replace("\n", "\\n").replace("\t", "\\t") or "∅"


def tokenizer_name(tokenizer) -> str:
    """A short display name: the Hub id, or a local folder's last component (never a machine path)."""
    name = str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__)
    if os.path.sep in name and os.path.exists(name):
        name = os.path.basename(os.path.normpath(name))
    return name


def encode(tokenizer, text: str, add_special_tokens: bool = True) -> dict[str, list]:
    """ids, tokens, offsets and a special-token flag per token."""
    enc = tokenizer(text, add_special_tokens=add_special_tokens, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    offsets = [tuple(o) for o in enc.get("offset_mapping", [(0, 0)] * len(ids))]
    special_ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    special = [i in special_ids for i in ids]
    return {"ids": ids, "tokens": list(tokenizer.convert_ids_to_tokens(ids)), "offsets": offsets, "special": special}


def render_tokens(name: str, text: str, encoded: dict[str, list], show_ids: bool = True, table: bool = True) -> str:
    """One tokenizer's panel: the text coloured by token, the token chips, a table of ids and offsets."""
    ids, tokens, offsets, special = encoded["ids"], encoded["tokens"], encoded["offsets"], encoded["special"]
    # Colour each character with its token's colour (the first token that covers it).
    owner = [-1] * len(text)
    for n, (start, end) in enumerate(offsets):
        if special[n]:
            continue
        for c in range(max(0, start), min(end, len(text))):
            if owner[c] == -1:
                owner[c] = n
    src, c = [], 0
    while c < len(text):
        n, start = owner[c], c
        while c < len(text) and owner[c] == n:
            c += 1
        piece = escape(text[start:c])
        if n == -1:
            src.append(piece)
        else:
            src.append(
                f'<span style="background:{CHIP_COLORS[n % len(CHIP_COLORS)]}" title="token {n}: '
                f'{escape(tokens[n])} (id {ids[n]})">{piece}</span>'
            )
    chips = []
    for n, (token, token_id) in enumerate(zip(tokens, ids)):
        color = SPECIAL_COLOR if special[n] else CHIP_COLORS[n % len(CHIP_COLORS)]
        cls = "chip special" if special[n] else "chip"
        start, end = offsets[n]
        where = "special token" if special[n] else f"characters {start}–{end}: {text[start:end]!r}"
        id_line = f"<small>{token_id}</small>" if show_ids else ""
        chips.append(
            f'<span class="{cls}" style="background:{color}" title="{escape(where)}">'
            f"{escape(_show(token))}{id_line}</span>"
        )
    parts = [
        f'<div class="panel"><h4>{escape(name)} <span class="count">· {len(ids)} tokens · '
        f"{sum(special)} special · {len(text)} characters</span></h4>",
        f'<div class="src">{"".join(src) or "&nbsp;"}</div>',
        f'<div class="chips">{"".join(chips)}</div>',
    ]
    if table:
        rows = "".join(
            f"<tr><td>{n}</td><td>{escape(_show(t))}</td><td>{i}</td><td>{o[0]}–{o[1]}</td>"
            f"<td>{'special' if s else escape(repr(text[o[0] : o[1]]))}</td></tr>"
            for n, (t, i, o, s) in enumerate(zip(tokens, ids, offsets, special))
        )
        parts.append(
            f"<details><summary>table: token, id, offsets</summary><table><tr><th>#</th><th>token</th>"
            f"<th>id</th><th>offsets</th><th>text</th></tr>{rows}</table></details>"
        )
    parts.append("</div>")
    return "".join(parts)


class TokenizerExplorer(widgets.VBox):
    """Text in, coloured tokens out: ids, offsets and special tokens, for one tokenizer or two side by side.

    ``tokenizer`` (and ``compare``) may be tokenizer objects or names/paths for ``AutoTokenizer``.
    Properties: ``text``, ``add_special_tokens``, ``show_ids``; results: ``tokens``, ``ids``, ``offsets``
    (of the first tokenizer), ``encodings`` (one dict per tokenizer) and ``html``.
    """

    def __init__(
        self,
        tokenizer,
        text: str = "Tokenizers split text into pieces: unbelievable!",
        *,
        compare=None,
        add_special_tokens: bool = True,
        show_ids: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.tokenizers = [self._load(tokenizer)] + ([self._load(compare)] if compare is not None else [])
        self._text = widgets.Textarea(
            value=text,
            placeholder="Type some text",
            description="Text",
            continuous_update=False,
            layout=widgets.Layout(width="95%", height="70px"),
        )
        self._special = widgets.Checkbox(value=add_special_tokens, description="Add special tokens", indent=False)
        self._ids = widgets.Checkbox(value=show_ids, description="Show ids", indent=False)
        self._out = widgets.HTML()
        for control in (self._text, self._special, self._ids):
            control.observe(lambda change: self._render(), names="value")
        self.children = [self._text, widgets.HBox([self._special, self._ids]), self._out]
        self._render()

    @staticmethod
    def _load(tokenizer):
        if isinstance(tokenizer, (str, os.PathLike)):
            from ..processing import AutoTokenizer

            return AutoTokenizer.from_pretrained(tokenizer)
        if not callable(tokenizer) or not hasattr(tokenizer, "convert_ids_to_tokens"):
            raise TypeError(f"Expected a tokenizer (or its name/path), got {type(tokenizer).__name__}.")
        return tokenizer

    # ----- properties -----
    @property
    def text(self) -> str:
        return self._text.value

    @text.setter
    def text(self, value: str) -> None:
        self._text.value = value

    @property
    def add_special_tokens(self) -> bool:
        return self._special.value

    @add_special_tokens.setter
    def add_special_tokens(self, value: bool) -> None:
        self._special.value = bool(value)

    @property
    def show_ids(self) -> bool:
        return self._ids.value

    @show_ids.setter
    def show_ids(self, value: bool) -> None:
        self._ids.value = bool(value)

    @property
    def tokens(self) -> list[str]:
        return self.encodings[0]["tokens"]

    @property
    def ids(self) -> list[int]:
        return self.encodings[0]["ids"]

    @property
    def offsets(self) -> list[tuple[int, int]]:
        return self.encodings[0]["offsets"]

    @property
    def html(self) -> str:
        return self._out.value

    # ----- rendering -----
    def _render(self) -> None:
        text = self.text
        self.encodings = [encode(t, text, self.add_special_tokens) for t in self.tokenizers]
        panels = "".join(
            render_tokens(tokenizer_name(t), text, e, show_ids=self.show_ids)
            for t, e in zip(self.tokenizers, self.encodings)
        )
        legend = (
            '<div class="legend">Each colour is one token; the text is coloured through the offsets. '
            "Grey dashed chips are special tokens; · is a space; Ġ and ▁ mark a token that starts with a "
            "space, ## one that continues a word.</div>"
        )
        self._out.value = f'<div class="wbtok"><style>{_CSS}</style>{legend}<div class="panels">{panels}</div></div>'

    def to_html(self) -> str:
        """A standalone HTML page of the current view."""
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Tokens</title></head>'
            f"<body>{self._out.value}</body></html>\n"
        )

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus the rendered tokens as HTML for pages that cannot run widgets."""
        data = super()._repr_mimebundle_(**kwargs)
        data, metadata = data if isinstance(data, tuple) else (data, {})
        data = dict(data or {})
        data["text/html"] = self._out.value
        return data, metadata

    def __repr__(self) -> str:
        names = " vs ".join(tokenizer_name(t) for t in self.tokenizers)
        return f"TokenizerExplorer({names}: {len(self.ids)} tokens)"
