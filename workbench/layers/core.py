"""The core of every attention layer: heads split and merged, the attention itself (fused and eager paths,
with a hook on the pattern), padding masks, the packed layout of training batches, and the causal masks and
positions of decoders."""

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


def split_fused_qkv_per_head(fused: torch.Tensor, num_heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A fused projection laid out head by head, [q k v] of head 0, then of head 1, ... (GPT-NeoX, Persimmon):
    (batch, seq, heads * 3 * head_dim) -> q, k, v, each (batch, heads, seq, head_dim)."""
    batch, seq, width = fused.shape
    per_head = fused.view(batch, seq, num_heads, width // num_heads)  # (batch, seq, heads, 3 * head_dim)
    q, k, v = per_head.transpose(1, 2).chunk(3, dim=-1)  # each (batch, heads, seq, head_dim)
    return q, k, v


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


def training_layout(
    attention_mask: torch.Tensor | None, additive_mask: torch.Tensor | None, packing: bool
) -> TokenLayout:
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


def soft_cap(x: torch.Tensor, cap: float) -> torch.Tensor:
    """cap * tanh(x / cap): close to x for |x| << cap, never beyond +-cap (Gemma 2's attention scores and logits)."""
    return torch.tanh(x / cap) * cap


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
    softcap: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled dot-product attention on (batch, heads, seq, head_dim) tensors.

    Two paths with the same numbers: PyTorch's fused ``scaled_dot_product_attention`` when the
    weights are not wanted, and the textbook softmax(QK^T / sqrt(d) + mask) V when they are (or when
    a hook is listening). Returns ``(context, weights)``; ``weights`` is ``None`` on the fused path.

    ``softcap`` (Gemma 2's attention logit soft-capping): the scores pass through softcap * tanh(s / softcap)
    before the mask, which bounds them to (-softcap, softcap). The fused kernel has no such step, so
    soft-capped attention always takes the textbook path.
    """
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    hooked = pattern_hook is not None and bool(pattern_hook._forward_hooks)
    if not return_weights and not hooked and softcap is None:
        if dropout == 0.0:
            key, value, additive_mask = drop_padded_keys(key, value, additive_mask)
        context = F.scaled_dot_product_attention(
            query, key, value, attn_mask=additive_mask, dropout_p=dropout, scale=scale
        )
        return context, None

    scores = torch.matmul(query, key.transpose(-1, -2)) * scale  # (batch, heads, q, k)
    if softcap is not None:
        scores = soft_cap(scores, softcap)
    if additive_mask is not None:
        scores = scores + additive_mask
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    if pattern_hook is not None:
        weights = pattern_hook(weights)
    probs = F.dropout(weights, p=dropout) if dropout > 0 else weights
    context = torch.matmul(probs, value)  # (batch, heads, q, head_dim)
    return context, weights


# ------------------------------------------------------------------------------------------------
# Decoder masks and positions
# ------------------------------------------------------------------------------------------------


def decoder_attention_mask(
    attention_mask: torch.Tensor | None,
    past_length: int,
    new_length: int,
    dtype: torch.dtype,
    device: torch.device,
    sliding_window: int | None = None,
) -> torch.Tensor | None:
    """The additive mask of a decoder's attention, (batch or 1, 1, new, past + new): 0 where a query may
    look, the dtype's minimum where it may not. ``None`` when nothing is masked (one new token, no padding).

    Query i (absolute index ``past_length + i``) sees key j when j <= its index (causal), j is not padding
    (``attention_mask`` covers cached and new tokens, 1 = token, 0 = padding), and, with a sliding window,
    j > index - window. Indices, not positions, as in the reference: left padding shifts both alike.
    """
    total = past_length + new_length
    if attention_mask is not None and attention_mask.shape[-1] != total:
        raise ValueError(
            f"attention_mask covers {attention_mask.shape[-1]} tokens, but the cache holds {past_length} and "
            f"{new_length} are new ({total} in all); pass the mask of the whole sequence so far."
        )
    windowed = sliding_window is not None and total > sliding_window
    if attention_mask is None and new_length == 1 and not windowed:
        return None
    query_index = torch.arange(past_length, total, device=device)[:, None]  # (new, 1)
    key_index = torch.arange(total, device=device)[None, :]  # (1, total)
    allowed = key_index <= query_index  # (new, total)
    if windowed:
        allowed = allowed & (key_index > query_index - sliding_window)
    allowed = allowed[None, None]  # (1, 1, new, total)
    if attention_mask is not None:
        padding = attention_mask[:, None, None, :].to(device=device, dtype=torch.bool)
        allowed = allowed & padding  # (batch, 1, new, total)
    return torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill_(~allowed, torch.finfo(dtype).min)


def positions_from_mask(attention_mask: torch.Tensor, new_length: int) -> torch.Tensor:
    """(batch, total) padding mask -> (batch, new) position ids of the last ``new_length`` tokens.

    Left padding shifts each row's positions so that its first real token is position 0 (padding gets
    position 1, as in the reference's generate; it is masked out anyway).
    """
    positions = attention_mask.long().cumsum(-1) - 1
    positions = positions.masked_fill(attention_mask == 0, 1)
    return positions[:, -new_length:]


def decoder_positions(
    attention_mask: torch.Tensor | None, past_length: int, new_length: int, device: torch.device
) -> torch.Tensor:
    """Position ids of a decoder's new tokens when the caller gave none: (batch, new) counted over the
    real tokens of the mask (left padding starts each row at 0), else (1, new) after the cached ones."""
    if attention_mask is not None:
        return positions_from_mask(attention_mask, new_length)
    return torch.arange(past_length, past_length + new_length, device=device)[None, :]


def check_decoder_length(past_length: int, new_length: int, max_positions: int, model_name: str) -> None:
    """A decoder with a position table (learned, or GPT-J's rotary table) has no positions past ``max_positions``:
    cached plus new tokens must fit in it."""
    if past_length + new_length > max_positions:
        raise ValueError(
            f"{model_name} has {max_positions} positions, but the cache holds {past_length} tokens and {new_length} "
            f"more were given ({past_length + new_length} in all). Shorten the prompt or generate fewer tokens."
        )
