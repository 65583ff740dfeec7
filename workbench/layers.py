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


# ------------------------------------------------------------------------------------------------
# Positions: rotary embeddings and sinusoidal tables
# ------------------------------------------------------------------------------------------------

ROPE_TYPES = ("default", "linear", "dynamic", "llama3")


class RotaryEmbedding(nn.Module):
    """cos/sin tables of the rotary position embedding for given positions (no parameters).

    ``rope`` is a config's ``rope_parameters`` dict: ``rope_type``, ``rope_theta`` and the type's own keys;
    ``dim`` the number of rotated channels per head (all of them, or a part: ``partial_rotary_factor``).
    inv_freq[i] = 1 / theta^(2i / dim); the angle of position p in pair i is p * inv_freq[i].
    "linear" divides the frequencies by `factor` (positions squeezed into the trained range),
    "dynamic" raises theta once the sequence outgrows max_position_embeddings (NTK-aware),
    "llama3" scales low frequencies by `factor` and blends the middle band.
    """

    def __init__(self, rope: dict, dim: int, max_positions: int):
        super().__init__()
        self.rope = dict(rope)
        self.dim = dim
        self.max_positions = max_positions
        self._inv_freq: dict[torch.device, torch.Tensor] = {}  # device -> float32 frequencies (made on first use)

    def inv_freq(self, device: torch.device, seq_len: int = 0) -> torch.Tensor:
        if self.rope["rope_type"] == "dynamic" and seq_len > self.max_positions:
            return self._compute(device, seq_len)  # depends on the length: recomputed (a few dozen numbers)
        if device not in self._inv_freq:
            self._inv_freq[device] = self._compute(device, 0)
        return self._inv_freq[device]

    def _compute(self, device: torch.device, seq_len: int) -> torch.Tensor:
        rope, dim, base = self.rope, self.dim, self.rope["rope_theta"]
        kind = rope["rope_type"]
        if kind == "dynamic" and seq_len:
            factor = rope["factor"]
            base = base * ((factor * seq_len / self.max_positions) - (factor - 1)) ** (dim / (dim - 2))
        exponents = torch.arange(0, dim, 2, dtype=torch.int64).to(device=device, dtype=torch.float) / dim
        inv_freq = 1.0 / (base**exponents)  # (dim / 2,)
        if kind == "linear":
            inv_freq = inv_freq / rope["factor"]
        elif kind == "llama3":
            factor, low, high = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
            old_context = rope["original_max_position_embeddings"]
            low_freq_wavelen, high_freq_wavelen = old_context / low, old_context / high
            wavelen = 2 * math.pi / inv_freq
            scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
            smooth = (old_context / wavelen - low) / (high - low)
            smoothed = (1 - smooth) * scaled / factor + smooth * scaled
            is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
            inv_freq = torch.where(is_medium, smoothed, scaled)
        return inv_freq

    def forward(self, position_ids: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, seq) positions -> cos, sin of shape (batch, seq, dim)."""
        seq_len = int(position_ids.max()) + 1 if self.rope["rope_type"] == "dynamic" else 0
        inv_freq = self.inv_freq(position_ids.device, seq_len)
        freqs = position_ids[:, :, None].float() * inv_freq[None, None, :]  # (batch, seq, dim / 2)
        angles = torch.cat((freqs, freqs), dim=-1)  # (batch, seq, dim)
        return angles.cos().to(dtype), angles.sin().to(dtype)


def standard_rope_parameters(rope: dict | None, theta: float, max_positions: int) -> dict:
    """A config's rotary settings in one shape: v5 files carry ``rope_parameters``, older ones ``rope_theta``
    and ``rope_scaling`` (with ``type`` for ``rope_type``). Checks that the type is known and complete."""
    rope = dict(rope or {})
    rope_type = rope.pop("type", None)
    rope.setdefault("rope_type", rope_type or "default")
    rope.setdefault("rope_theta", theta)
    kind = rope["rope_type"]
    if kind not in ROPE_TYPES:
        raise ValueError(f"rope_type {kind!r} is not implemented here; supported: {', '.join(ROPE_TYPES)}.")
    needed = {
        "linear": ("factor",),
        "dynamic": ("factor",),
        "llama3": ("factor", "low_freq_factor", "high_freq_factor"),
    }
    missing = [k for k in needed.get(kind, ()) if k not in rope]
    if missing:
        raise ValueError(f"rope_type {kind!r} needs {missing} in rope_parameters (rope_scaling), got {rope}.")
    if kind == "llama3":
        rope.setdefault("original_max_position_embeddings", max_positions)
    return rope


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    """Rotate (batch, heads, seq, head_dim) queries and keys by their positions' angles."""
    cos, sin = cos[:, None], sin[:, None]  # (batch, 1, seq, head_dim): the same for every head
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def repeat_kv(x: torch.Tensor, groups: int) -> torch.Tensor:
    """(batch, kv_heads, seq, head_dim) -> (batch, kv_heads * groups, seq, head_dim): each kv head serves a group."""
    if groups == 1:
        return x
    batch, kv_heads, seq, head_dim = x.shape
    return x[:, :, None].expand(batch, kv_heads, groups, seq, head_dim).reshape(batch, kv_heads * groups, seq, head_dim)


def sinusoidal_table_interleaved(num_positions: int, dim: int) -> torch.Tensor:
    """(num_positions, dim): sin on even columns, cos on odd ones, angle pos / 10000^(2*(j//2)/dim), as in
    "Attention is all you need" (DistilBERT's optional table). Computed in float64, rounded once to float32."""
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (positions, 1)
    j = torch.arange(dim, dtype=torch.float64)[None, :]  # (1, dim)
    angles = pos / torch.pow(10000.0, 2 * torch.div(j, 2, rounding_mode="floor") / dim)  # (positions, dim)
    table = torch.empty(num_positions, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles[:, 0::2])
    table[:, 1::2] = torch.cos(angles[:, 1::2])
    return table.float()


def sinusoidal_table_halves(num_positions: int, dim: int) -> torch.Tensor:
    """(num_positions, dim): sin(p / 10000^(2i/dim)) in the first half of each row, cos of the same angles in
    the second half (not interleaved; Marian, Pegasus). Computed in float64, stored in float32."""
    position = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (n, 1)
    pair = torch.arange(dim) // 2  # column j belongs to frequency pair j // 2
    angle = position / torch.pow(10000.0, (2 * pair).double() / dim)  # (n, dim)
    half = (dim + 1) // 2
    table = torch.empty(num_positions, dim)
    table[:, :half] = torch.sin(angle[:, 0::2]).float()
    table[:, half:] = torch.cos(angle[:, 1::2]).float()
    return table


def sinusoids_log_spaced(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Positions (any shape) -> (..., dim) vectors [sin(p * f_0..f_{h-1}), cos(p * f_0..f_{h-1})] with
    h = dim // 2 and f_i = exp(-i * ln(10000) / (h - 1)), plus a zero column when dim is odd (tensor2tensor's
    timing signal: fairseq's M2M-100/NLLB positions, Whisper's encoder table)."""
    half = dim // 2
    frequencies = torch.exp(torch.arange(half, device=positions.device).float() * -(math.log(10000) / (half - 1)))
    angles = positions.float()[..., None] * frequencies  # (..., half)
    vectors = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)  # (..., 2 * half)
    return F.pad(vectors, (0, 1)) if dim % 2 else vectors


# ------------------------------------------------------------------------------------------------
# Norms
# ------------------------------------------------------------------------------------------------


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight, computed in float32 (LLaMA and the decoders after it): no mean
    subtraction, no bias. The normalised value returns to the input's dtype before the weight scales it."""

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        dtype = hidden.dtype
        hidden = hidden.to(torch.float32)
        variance = hidden.pow(2).mean(-1, keepdim=True)  # (..., 1)
        hidden = hidden * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden.to(dtype)


# ------------------------------------------------------------------------------------------------
# Task heads: logits and losses
# ------------------------------------------------------------------------------------------------


def keep_logits(hidden: torch.Tensor, logits_to_keep: int | torch.Tensor) -> torch.Tensor:
    """The positions an LM head runs on: all (0), the last N (int N), or given indices."""
    if isinstance(logits_to_keep, int):
        return hidden if logits_to_keep == 0 else hidden[:, -logits_to_keep:]
    return hidden[:, logits_to_keep]


def span_logits(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Question answering: (batch, seq, 2) -> start (batch, seq), end (batch, seq)"""
    start, end = logits.split(1, dim=-1)
    return start.squeeze(-1).contiguous(), end.squeeze(-1).contiguous()


def flatten_choices(*tensors):
    """Multiple choice: (batch, num_choices, seq[, hidden]) -> (batch * num_choices, seq[, hidden]); None stays None."""
    return [t.reshape(-1, *t.shape[2:]) if t is not None else None for t in tensors]


def classifier_dropout(config) -> nn.Dropout:
    """The dropout before a classifier: ``config.classifier_dropout``, else the hidden layers' dropout."""
    p = getattr(config, "classifier_dropout", None)
    return nn.Dropout(config.hidden_dropout_prob if p is None else p)


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy: position t predicts labels[t + 1]; label -100 is ignored."""
    vocab = logits.shape[-1]
    shifted = F.pad(labels, (0, 1), value=-100)[:, 1:].to(logits.device)
    return F.cross_entropy(logits.float().reshape(-1, vocab), shifted.reshape(-1), ignore_index=-100)


def seq2seq_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the decoder's logits (batch, tgt, vocab) against labels (batch, tgt); -100 ignored.
    Unlike a causal LM there is no shift here: the decoder's inputs were already shifted right."""
    vocab = logits.shape[-1]
    return F.cross_entropy(logits.float().reshape(-1, vocab), labels.to(logits.device).reshape(-1), ignore_index=-100)


def sequence_classification_loss(logits: torch.Tensor, labels: torch.Tensor, config) -> torch.Tensor:
    """Regression (MSE), single-label (cross-entropy) or multi-label (BCE), chosen as the reference does
    (and written to ``config.problem_type`` the first time, as the reference does)."""
    num_labels = logits.shape[-1]
    if config.problem_type is None:
        if num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    if config.problem_type == "regression":
        if num_labels == 1:
            return F.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
        return F.mse_loss(logits, labels.to(logits.dtype))
    if config.problem_type == "single_label_classification":
        return F.cross_entropy(logits.view(-1, num_labels), labels.view(-1))
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


def token_classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over tokens; label -100 marks tokens to ignore (padding, sub-words)."""
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)


def span_loss(start_logits, end_logits, start_positions, end_positions) -> torch.Tensor:
    """Mean of the start and end cross-entropies; positions outside the sequence are ignored."""
    seq_len = start_logits.shape[1]
    start_positions = start_positions.view(-1).clamp(0, seq_len)
    end_positions = end_positions.view(-1).clamp(0, seq_len)
    start = F.cross_entropy(start_logits, start_positions, ignore_index=seq_len)
    end = F.cross_entropy(end_logits, end_positions, ignore_index=seq_len)
    return (start + end) / 2


def shift_tokens_right(
    labels: torch.Tensor, pad_token_id: int | None, decoder_start_token_id: int | None
) -> torch.Tensor:
    """Teacher forcing for encoder-decoders: the decoder reads the target shifted one step right.

    labels (batch, tgt) -> decoder_input_ids (batch, tgt): [start, y0, y1, ..., y_{n-2}], with the
    loss's ignore value -100 replaced by the pad id (the decoder cannot embed -100).
    """
    if decoder_start_token_id is None:
        raise ValueError(
            "The config has no decoder_start_token_id, which the decoder needs to read the labels "
            "(set config.decoder_start_token_id, usually the pad or eos id)."
        )
    if pad_token_id is None:
        raise ValueError("The config has no pad_token_id, needed to replace -100 in the labels.")
    shifted = labels.new_full(labels.shape, decoder_start_token_id)
    shifted[:, 1:] = labels[:, :-1]
    return shifted.masked_fill(shifted == -100, pad_token_id)


# ------------------------------------------------------------------------------------------------
# Activations and initialisation
# ------------------------------------------------------------------------------------------------


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
