"""Math shared by the model families: attention, masks, activations, a tap for attention patterns.

Nothing here knows which architecture calls it. Each family file names its own modules (so that
state-dict keys match the Hub's) and calls these functions for the arithmetic.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class HookPoint(nn.Module):
    """An identity module: a named place where forward hooks can read or edit a tensor.

    The eager attention path passes its attention pattern through one, so
    ``layer.attention.self.pattern_hook.register_forward_hook(fn)`` sees ``(batch, heads, q, k)``
    probabilities without any change to the model (as TransformerLens' hook points do).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(batch, seq, heads * head_dim) -> (batch, heads, seq, head_dim)"""
    batch, seq, width = x.shape
    return x.view(batch, seq, num_heads, width // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(batch, heads, seq, head_dim) -> (batch, seq, heads * head_dim)"""
    batch, heads, seq, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, seq, heads * head_dim)


def padding_mask(attention_mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """(batch, k) of 1 = token, 0 = padding -> additive mask (batch, 1, 1, k): 0 or the dtype's minimum.

    Returns ``None`` when there is no padding at all, which lets attention skip the mask entirely.
    """
    if attention_mask is None or bool(attention_mask.all()):
        return None
    mask = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - mask) * torch.finfo(dtype).min


class TokenLayout:
    """Where the real tokens of a padded batch sit, so that per-token layers can skip the padding.

    Linear layers, activations, dropout and LayerNorm treat every position on its own, so they give
    the same numbers on the real tokens alone, packed as ``(tokens, ...)``. Only attention mixes
    positions; it unpacks to ``(batch, seq, ...)`` (zeros at padding) and packs its result again.
    A dynamically padded training batch is often close to half padding, so packing saves close to
    half of the work in the linear layers, forward and backward.

    ``TokenLayout(None)`` keeps the padding: ``pack`` and ``unpack`` return their input unchanged.
    """

    def __init__(self, attention_mask: torch.Tensor | None):
        self.shape = None if attention_mask is None else attention_mask.shape  # (batch, seq)
        self.index = None if attention_mask is None else attention_mask.reshape(-1).nonzero().squeeze(1)  # (tokens,)

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, seq, ...) -> (tokens, ...)"""
        if self.index is None:
            return x
        return x.reshape(-1, *x.shape[2:]).index_select(0, self.index)

    def unpack(self, x: torch.Tensor) -> torch.Tensor:
        """(tokens, ...) -> (batch, seq, ...), with zeros at the padding positions"""
        if self.index is None:
            return x
        padded = x.new_zeros(self.shape.numel(), *x.shape[1:]).index_copy(0, self.index, x)
        return padded.view(*self.shape, *x.shape[1:])


def training_layout(attention_mask: torch.Tensor | None, additive_mask: torch.Tensor | None, packing: bool) -> TokenLayout:
    """Pack the real tokens when ``packing`` (the model is training) and the batch has padding; else keep it.

    While training, nothing should read the padding positions: the losses skip them (labels -100), and
    the poolers read the first token, a real one with right padding (a left-padded batch would give
    them zeros here, the reference values computed for padding). At inference the encoders compute the
    padding positions as the reference does, so that every output, padding positions included, matches it.
    """
    return TokenLayout(attention_mask if packing and additive_mask is not None else None)


def drop_padded_keys(
    key: torch.Tensor, value: torch.Tensor, additive_mask: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Cut off the trailing key positions that the mask hides from every row and every query.

    Such keys get exactly zero attention weight, so leaving them out changes no number; it saves the
    attention work spent on padding (``padding="max_length"`` batches are mostly padding). Nothing is
    cut when some query sees no key at all (its softmax would change) or when nothing trails.
    """
    if additive_mask is None or not additive_mask.is_floating_point() or additive_mask.shape[-1] != key.shape[-2]:
        return key, value, additive_mask
    visible = additive_mask > torch.finfo(additive_mask.dtype).min  # broadcastable to (batch, heads, q, k)
    seen = visible.reshape(-1, visible.shape[-1]).any(dim=0)  # (k,): does anyone see key j?
    keep = int(seen.nonzero().max()) + 1 if bool(seen.any()) else 0
    if keep in (0, key.shape[-2]) or not bool(visible.any(dim=-1).all()):
        return key, value, additive_mask
    return key[..., :keep, :], value[..., :keep, :], additive_mask[..., :keep]  # (..., keep, head_dim), (..., keep)


def attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    additive_mask: torch.Tensor | None,
    *,
    dropout: float = 0.0,
    scale: float | None = None,
    return_weights: bool = False,
    pattern_hook: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled dot-product attention on (batch, heads, seq, head_dim) tensors.

    Two paths with the same numbers: PyTorch's fused ``scaled_dot_product_attention`` when the
    weights are not wanted, and the textbook softmax(QK^T / sqrt(d) + mask) V when they are (or when
    a hook is listening). Returns ``(context, weights)``; ``weights`` is ``None`` on the fused path.
    """
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    hooked = pattern_hook is not None and bool(pattern_hook._forward_hooks)
    if not return_weights and not hooked:
        if dropout == 0.0:
            key, value, additive_mask = drop_padded_keys(key, value, additive_mask)
        context = F.scaled_dot_product_attention(
            query, key, value, attn_mask=additive_mask, dropout_p=dropout, scale=scale
        )
        return context, None

    scores = torch.matmul(query, key.transpose(-1, -2)) * scale  # (batch, heads, q, k)
    if additive_mask is not None:
        scores = scores + additive_mask
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    if pattern_hook is not None:
        weights = pattern_hook(weights)
    probs = F.dropout(weights, p=dropout) if dropout > 0 else weights
    context = torch.matmul(probs, value)  # (batch, heads, q, head_dim)
    return context, weights


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """The tanh approximation of GELU used by GPT-2 and ALBERT."""
    return F.gelu(x, approximate="tanh")


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_new": gelu_new,
    "gelu_pytorch_tanh": gelu_new,
    "gelu_fast": gelu_new,
    "quick_gelu": quick_gelu,
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def activation(name: str):
    """Look an activation function up by the name a config.json uses (``hidden_act``)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"Unknown activation {name!r}; known: {', '.join(sorted(ACTIVATIONS))}.") from None


def init_weights(module: nn.Module, std: float) -> None:
    """BERT-style initialisation: normal(0, std) for linear and embedding weights, zero biases,
    LayerNorm at identity. Used for fresh models and for heads that a checkpoint lacks."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=std)
        if module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        if module.weight is not None:
            nn.init.ones_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
