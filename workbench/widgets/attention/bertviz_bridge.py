"""The bertviz bridge: the same attentions in bertviz's own views (which load their scripts from CDNs)."""

from __future__ import annotations

from typing import Any

import numpy as np


def bertviz_html(
    attention=None, tokens=None, view: str = "head", sentence_b_start: int | None = None, **kwargs: Any
) -> str:
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
        raise ImportError(
            "bertviz is not installed: `pip install bertviz`, or use AttentionVisualizer, which needs nothing else."
        ) from error
    functions = {"head": bertviz.head_view, "model": bertviz.model_view}
    if view not in functions:
        raise ValueError(f"view must be 'head' or 'model', not {view!r}.")
    import torch

    def tensors(value):
        return (
            None
            if value is None
            else tuple(
                torch.as_tensor(np.asarray(a.detach().float().cpu() if hasattr(a, "detach") else a, dtype=np.float32))
                for a in value
            )
        )

    attention = tensors(attention)
    for key in ("encoder_attention", "decoder_attention", "cross_attention"):
        if key in kwargs:
            kwargs[key] = tensors(kwargs[key])
    result = functions[view](
        attention=attention, tokens=tokens, sentence_b_start=sentence_b_start, html_action="return", **kwargs
    )
    return getattr(result, "data", result)
