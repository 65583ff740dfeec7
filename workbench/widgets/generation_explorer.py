"""GenerationExplorer: step through generation one token at a time and see the choices.

    from workbench.widgets import GenerationExplorer

    explorer = GenerationExplorer(model, tokenizer, "Once upon a time")
    explorer                      # the top-k next tokens with their probabilities; click one to take it
    explorer.temperature = 0.7    # see the distribution sharpen (below 1) or flatten (above 1)
    explorer.top_p = 0.9          # nucleus sampling: the tail that top-p cuts is greyed out
    explorer.choose(2); explorer.step(); explorer.sample(); explorer.back()

It needs only the plain forward pass of a causal LM: ``model(input_ids).logits[:, -1]``, so any
``*ForCausalLM``/``*LMHeadModel`` works. The chart is inline SVG: no network.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..display import escape

__all__ = ["GenerationExplorer", "reshape_distribution"]

_CSS = """
.wbgen{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:13px;color:#222;background:#fff;
  padding:4px}
.wbgen .text{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;border:1px solid #eee;
  border-radius:4px;padding:6px;margin:4px 0}
.wbgen .text .gen{background:#d3f9d8;border-radius:2px}
.wbgen .note{color:#555;font-size:12px}
.wbgen svg text{font-family:inherit;font-size:12px}
"""


def reshape_distribution(logits, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0):
    """Next-token probabilities after temperature, top-k and top-p (the order ``generate`` applies them).

    Returns ``(raw, reshaped)``: softmax of the logits, and the sampling distribution (zero outside
    the kept set, renormalised). ``temperature`` must be > 0.
    """
    import torch

    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 (got {temperature}); use step() for greedy decoding.")
    logits = logits.float()
    raw = torch.softmax(logits, dim=-1)
    scaled = logits / temperature
    if top_k and top_k < scaled.numel():
        kth = torch.topk(scaled, top_k).values[-1]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    if top_p < 1.0:
        probs = torch.softmax(scaled, dim=-1)
        sorted_probs, order = torch.sort(probs, descending=True)
        cumulative = sorted_probs.cumsum(-1)
        remove = cumulative - sorted_probs >= top_p  # keep tokens until the mass before them reaches top_p
        remove[0] = False
        scaled = scaled.masked_fill(torch.zeros_like(remove).scatter(0, order, remove), float("-inf"))
    return raw, torch.softmax(scaled, dim=-1)


class GenerationExplorer(widgets.VBox):
    """Step through generation: top-k next tokens with probabilities; pick a branch; reshape with T / top-p.

    Properties: ``prompt``, ``top_k`` (tokens shown, also the top-k filter), ``temperature``, ``top_p``,
    ``seed``. Actions: ``choose(rank)`` takes the rank-th candidate, ``step()`` the most likely one,
    ``sample()`` draws from the reshaped distribution, ``back()`` undoes, ``reset(prompt)``.
    Results: ``text``, ``generated_text``, ``input_ids``, ``candidates`` and ``html``.
    """

    def __init__(
        self,
        model,
        tokenizer,
        prompt: str = "Once upon a time",
        *,
        top_k: int = 10,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int = 0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.model, self.tokenizer = model, tokenizer
        self._history: list[list[int]] = []
        self._buttons: list[widgets.Button] = []
        style = {"description_width": "initial"}
        self._prompt = widgets.Textarea(
            value=prompt,
            description="Prompt",
            continuous_update=False,
            layout=widgets.Layout(width="95%", height="56px"),
        )
        self._k = widgets.IntSlider(value=top_k, min=1, max=50, description="Top-k", continuous_update=False)
        self._t = widgets.FloatSlider(
            value=temperature,
            min=0.05,
            max=3.0,
            step=0.05,
            description="Temperature",
            style=style,
            continuous_update=False,
        )
        self._p = widgets.FloatSlider(
            value=top_p, min=0.05, max=1.0, step=0.05, description="Top-p", style=style, continuous_update=False
        )
        self._seed = widgets.IntText(value=seed, description="Seed", layout=widgets.Layout(width="140px"))
        self._step_b = widgets.Button(description="Step (most likely)")
        self._sample_b = widgets.Button(description="Sample")
        self._back_b = widgets.Button(description="Back", icon="undo")
        self._choices = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self._out = widgets.HTML()
        self._prompt.observe(lambda change: self.reset(change["new"]), names="value")
        for control in (self._k, self._t, self._p):
            control.observe(lambda change: self._render(), names="value")
        self._step_b.on_click(lambda _: self.step())
        self._sample_b.on_click(lambda _: self.sample())
        self._back_b.on_click(lambda _: self.back())
        self.children = [
            self._prompt,
            widgets.HBox([self._k, self._t, self._p], layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self._step_b, self._sample_b, self._back_b, self._seed]),
            widgets.HTML("<small>Take a branch: click a candidate</small>"),
            self._choices,
            self._out,
        ]
        self.reset(prompt)

    # ----- properties -----
    prompt = property(lambda self: self._prompt.value, lambda self, v: setattr(self._prompt, "value", v))
    top_k = property(lambda self: self._k.value, lambda self, v: setattr(self._k, "value", int(v)))
    temperature = property(lambda self: self._t.value, lambda self, v: setattr(self._t, "value", float(v)))
    top_p = property(lambda self: self._p.value, lambda self, v: setattr(self._p, "value", float(v)))
    seed = property(lambda self: self._seed.value, lambda self, v: setattr(self._seed, "value", int(v)))

    @property
    def text(self) -> str:
        return self.tokenizer.decode(self.input_ids)

    @property
    def generated_text(self) -> str:
        return self.tokenizer.decode(self.input_ids[self._prompt_length :])

    @property
    def html(self) -> str:
        return self._out.value

    # ----- model -----
    def _next_logits(self):
        import torch

        ids = self.input_ids
        limit = getattr(self.model.config, "n_positions", None) or getattr(
            self.model.config, "max_position_embeddings", None
        )
        if limit and len(ids) > limit:
            ids = ids[-limit:]
        with torch.no_grad():
            return self.model(torch.tensor([ids])).logits[0, -1]  # (vocab,)

    def _compute(self) -> None:
        import torch

        raw, reshaped = reshape_distribution(self._logits, self.temperature, self.top_k, self.top_p)
        self._reshaped = reshaped
        top = torch.topk(raw, min(self.top_k, raw.numel()))
        self.candidates = [
            {
                "rank": r,
                "id": int(i),
                "token": self.tokenizer.decode([int(i)]),
                "probability": float(raw[i]),
                "reshaped": float(reshaped[i]),
            }
            for r, i in enumerate(top.indices.tolist())
        ]

    # ----- actions -----
    def reset(self, prompt: str | None = None) -> None:
        if prompt is not None and prompt != self._prompt.value:
            self._prompt.value = prompt  # re-enters through the observer
            return
        text = self._prompt.value
        if not text.strip():
            raise ValueError("The prompt is empty: type a few words to continue.")
        ids = list(self.tokenizer(text)["input_ids"])
        self.input_ids = ids
        self._prompt_length = len(ids)
        self._history = []
        self._logits = self._next_logits()
        self._render()

    def _take(self, token_id: int) -> None:
        self._history.append(list(self.input_ids))
        self.input_ids = self.input_ids + [int(token_id)]
        self._logits = self._next_logits()
        self._render()

    def choose(self, rank: int) -> int:
        """Take the ``rank``-th most likely candidate (0 = the most likely); returns its token id."""
        if not 0 <= rank < len(self.candidates):
            raise ValueError(f"rank must be in 0..{len(self.candidates) - 1} (the candidates shown), not {rank}.")
        token_id = self.candidates[rank]["id"]
        self._take(token_id)
        return token_id

    def step(self) -> int:
        """Greedy: take the most likely token."""
        return self.choose(0)

    def sample(self) -> int:
        """Draw the next token from the reshaped distribution (seeded by ``seed`` and the step number)."""
        import torch

        generator = torch.Generator().manual_seed(self.seed * 100_003 + len(self.input_ids))
        token_id = int(torch.multinomial(self._reshaped, 1, generator=generator))
        self._take(token_id)
        return token_id

    def back(self) -> None:
        """Undo the last step."""
        if self._history:
            self.input_ids = self._history.pop()
            self._logits = self._next_logits()
            self._render()

    # ----- rendering -----
    def _render(self) -> None:
        self._compute()
        # One button per candidate rank, reused from render to render (no widgets pile up in the notebook).
        while len(self._buttons) < len(self.candidates):
            button = widgets.Button(layout=widgets.Layout(width="auto"))
            button.on_click(lambda _, rank=len(self._buttons): self.choose(rank))
            self._buttons.append(button)
        for button, c in zip(self._buttons, self.candidates):
            button.description = f"{c['token']!r} {c['reshaped']:.0%}"
            button.tooltip = f"id {c['id']}: p={c['probability']:.3f}, after T/top-k/top-p {c['reshaped']:.3f}"
        self._choices.children = self._buttons[: len(self.candidates)]
        self._out.value = self._html()

    def _html(self) -> str:
        prompt = self.tokenizer.decode(self.input_ids[: self._prompt_length])
        generated = self.generated_text
        row, label_w, bar_w = 22, 140, 300
        height = 30 + row * len(self.candidates)
        width = label_w + bar_w + 130
        parts = [
            f'<svg class="nexttoken" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
            f'<text x="{label_w}" y="14" fill="#555">grey: model probability · green: after temperature '
            f"{self.temperature:g}, top-k {self.top_k}, top-p {self.top_p:g}</text>",
        ]
        for n, c in enumerate(self.candidates):
            y = 24 + n * row
            cut = c["reshaped"] == 0.0
            parts.append(
                f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end"'
                + (' fill="#aaa" text-decoration="line-through"' if cut else "")
                + f">{escape(repr(c['token']))}</text>"
            )
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{bar_w * c["probability"]:.1f}" height="8" '
                f'fill="#adb5bd">'
                f"<title>p = {c['probability']:.4f}</title></rect>"
            )
            parts.append(
                f'<rect x="{label_w}" y="{y + 9}" width="{bar_w * c["reshaped"]:.1f}" height="8" '
                f'fill="#2f9e44"><title>after reshaping: {c["reshaped"]:.4f}</title></rect>'
            )
            parts.append(
                f'<text x="{label_w + bar_w + 8}" y="{y + 13}" fill="#333">{c["probability"]:.1%} → '
                f"{c['reshaped']:.1%}" + (" (cut)" if cut else "") + "</text>"
            )
        parts.append("</svg>")
        kept = int((self._reshaped > 0).sum())
        generated_count = len(self.input_ids) - self._prompt_length
        note = (
            f"{generated_count} token{'' if generated_count == 1 else 's'} generated · the reshaped "
            f"distribution keeps "
            f"{kept} of {self._reshaped.numel()} tokens"
        )
        return (
            f'<div class="wbgen"><style>{_CSS}</style><div class="text">{escape(prompt)}'
            f'<span class="gen">{escape(generated)}</span></div>{"".join(parts)}'
            f'<div class="note">{note}</div></div>'
        )

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        data, metadata = data if isinstance(data, tuple) else (data, {})
        data = dict(data or {})
        data["text/html"] = self._out.value
        return data, metadata

    def __repr__(self) -> str:
        return f"GenerationExplorer({len(self.input_ids)} tokens, top_k={self.top_k}, T={self.temperature:g})"
