"""Position information: rotary embeddings (and their scaled variants, interleaved and partial rotation),
sinusoidal tables, and ALiBi's linear biases."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# ------------------------------------------------------------------------------------------------
# Positions: rotary embeddings and sinusoidal tables
# ------------------------------------------------------------------------------------------------

ROPE_TYPES = ("default", "linear", "dynamic", "llama3", "longrope")


class RotaryEmbedding(nn.Module):
    """cos/sin tables of the rotary position embedding for given positions (no parameters).

    ``rope`` is a config's ``rope_parameters`` dict: ``rope_type``, ``rope_theta`` and the type's own keys;
    ``dim`` the number of rotated channels per head (all of them, or a part: ``partial_rotary_factor``).
    inv_freq[i] = 1 / theta^(2i / dim); the angle of position p in pair i is p * inv_freq[i].
    "linear" divides the frequencies by `factor` (positions squeezed into the trained range),
    "dynamic" raises theta once the sequence outgrows max_position_embeddings (NTK-aware),
    "llama3" scales low frequencies by `factor` and blends the middle band,
    "longrope" (Phi-3's "su") divides each frequency by its own factor: `short_factor` while the sequence fits
    in original_max_position_embeddings, `long_factor` beyond, and scales cos/sin by an attention factor.
    """

    def __init__(self, rope: dict, dim: int, max_positions: int):
        super().__init__()
        if dim % 2:
            raise ValueError(
                f"Rotary embeddings turn pairs of channels, but {dim} channels per head would rotate; set "
                "partial_rotary_factor (rotary_pct) so that head_dim * factor is an even number."
            )
        self.rope = dict(rope)
        self.dim = dim
        self.max_positions = max_positions
        self._inv_freq: dict[tuple, torch.Tensor] = {}  # (device, long?) -> float32 frequencies (made on first use)
        self.attention_scaling = 1.0  # cos and sin are multiplied by it (longrope only)
        if rope["rope_type"] == "longrope":
            for key in ("short_factor", "long_factor"):
                if len(rope[key]) != dim // 2:
                    raise ValueError(
                        f"rope_parameters[{key!r}] has {len(rope[key])} factors, but {dim} rotated channels per head "
                        f"have {dim // 2} frequencies; the config's rope_parameters do not fit its head size."
                    )
            factor = rope.get("factor") or max_positions / rope["original_max_position_embeddings"]
            default = math.sqrt(1 + math.log(factor) / math.log(rope["original_max_position_embeddings"]))
            self.attention_scaling = rope.get("attention_factor") or (default if factor > 1.0 else 1.0)

    def inv_freq(self, device: torch.device, seq_len: int = 0) -> torch.Tensor:
        kind = self.rope["rope_type"]
        if kind == "dynamic" and seq_len > self.max_positions:
            return self._compute(device, seq_len)  # depends on the length: recomputed (a few dozen numbers)
        long = kind == "longrope" and seq_len > self.rope["original_max_position_embeddings"]
        if (device, long) not in self._inv_freq:
            self._inv_freq[device, long] = self._compute(device, seq_len if long else 0)
        return self._inv_freq[device, long]

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
        elif kind == "longrope":
            long = seq_len > rope["original_max_position_embeddings"]
            factors = torch.tensor(rope["long_factor" if long else "short_factor"], dtype=torch.float32, device=device)
            inv_freq = 1.0 / (factors * base**exponents)  # (dim / 2,): one factor per frequency
        return inv_freq

    def forward(self, position_ids: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, seq) positions -> cos, sin of shape (batch, seq, dim)."""
        seq_len = int(position_ids.max()) + 1 if self.rope["rope_type"] in ("dynamic", "longrope") else 0
        inv_freq = self.inv_freq(position_ids.device, seq_len)
        freqs = position_ids[:, :, None].float() * inv_freq[None, None, :]  # (batch, seq, dim / 2)
        angles = torch.cat((freqs, freqs), dim=-1)  # (batch, seq, dim)
        cos, sin = angles.cos(), angles.sin()
        if self.attention_scaling != 1.0:
            cos, sin = cos * self.attention_scaling, sin * self.attention_scaling
        return cos.to(dtype), sin.to(dtype)


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
        "longrope": ("short_factor", "long_factor", "original_max_position_embeddings"),
    }
    missing = [k for k in needed.get(kind, ()) if k not in rope]
    if missing:
        raise ValueError(f"rope_type {kind!r} needs {missing} in rope_parameters (rope_scaling), got {rope}.")
    if kind == "llama3":
        rope.setdefault("original_max_position_embeddings", max_positions)
    return rope


def rope_parameters_from(
    values: dict,
    max_positions: int,
    *,
    default_partial: float = 1.0,
    default_theta: float = 10000.0,
    theta_key: str = "rope_theta",
    partial_key: str = "partial_rotary_factor",
) -> dict:
    """Take a config's rotary keys out of ``values`` (its config.json keys) and return its ``rope_parameters``.

    v5 files carry ``rope_parameters`` (with ``partial_rotary_factor``: the fraction of each head that rotates);
    older ones ``rope_scaling`` plus top-level keys for the base and the fraction: ``rope_theta`` and
    ``partial_rotary_factor`` (Phi, StableLM, Persimmon), ``rotary_emb_base`` and ``rotary_pct`` (GPT-NeoX).
    Values inside ``rope_parameters`` win over the top-level keys, as in the reference."""
    rope = dict(values.pop("rope_parameters", None) or values.pop("rope_scaling", None) or {})
    values.pop("rope_scaling", None)
    theta, partial = values.pop(theta_key, None), values.pop(partial_key, None)
    rope.setdefault("partial_rotary_factor", default_partial if partial is None else partial)
    return standard_rope_parameters(rope, default_theta if theta is None else theta, max_positions)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    """Rotate (batch, heads, seq, head_dim) queries and keys by their positions' angles."""
    cos, sin = cos[:, None], sin[:, None]  # (batch, 1, seq, head_dim): the same for every head
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


# Rotary variants: GPT-J's interleaved pairs, and rotation of only part of each head.
#   halves (LLaMA, GPT-NeoX):       channel i turns with channel i + dim/2, by the angle of frequency i
#   interleaved (GPT-J, CodeGen):   channel 2i turns with channel 2i + 1, by the angle of frequency i
# Both take the cos/sin that RotaryEmbedding returns (frequencies laid out in halves).


def rotate_every_two(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...): each channel pair turned by 90 degrees."""
    even, odd = x[..., 0::2], x[..., 1::2]  # (..., dim / 2) each
    return torch.stack((-odd, even), dim=-1).flatten(-2)  # (..., dim / 2, 2) -> (..., dim)


def apply_rotary_interleaved(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    """Rotate (batch, heads, seq, dim) queries and keys in GPT-J's style: the pairs are neighbouring channels."""
    half = cos.shape[-1] // 2
    cos = cos[:, None, :, :half].repeat_interleave(2, dim=-1)  # (batch, 1, seq, dim): cos f0, cos f0, cos f1, ...
    sin = sin[:, None, :, :half].repeat_interleave(2, dim=-1)
    return (q * cos) + (rotate_every_two(q) * sin), (k * cos) + (rotate_every_two(k) * sin)


def apply_partial_rotary(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, interleaved: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate only the first ``cos.shape[-1]`` channels of each head; the others carry no position and pass
    through unchanged (GPT-J's ``rotary_dim``; GPT-NeoX's ``rotary_pct``). ``interleaved``: GPT-J's pairing."""
    rotated = cos.shape[-1]
    rotate = apply_rotary_interleaved if interleaved else apply_rotary
    q_rot, k_rot = rotate(q[..., :rotated], k[..., :rotated], cos, sin)
    return torch.cat((q_rot, q[..., rotated:]), dim=-1), torch.cat((k_rot, k[..., rotated:]), dim=-1)


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
# Positions: ALiBi, attention with linear biases (BLOOM, MPT, Falcon's ALiBi variant)
# ------------------------------------------------------------------------------------------------


def alibi_slopes(num_heads: int, max_bias: float = 8.0) -> torch.Tensor:
    """(heads,) float32: head h's slope m_h; ALiBi (Press et al. 2021) lowers the score of query i on key j by
    m_h * (i - j), so each head forgets at its own rate and no position table is needed.

    For a power of two n: m_h = 2^(-max_bias * h / n), h = 1..n (2^-1 ... 2^-8 for 8 heads). Otherwise the heads
    take the slopes of the next power of two N at even h (the series of N / 2), then those at odd h, the ones in
    between, until there are n. BLOOM's and MPT's formulas for this give the same numbers up to float32 rounding;
    here each is 2^(...) computed in float64 and rounded once.
    """
    power = 2 ** math.ceil(math.log2(num_heads))  # the next power of two
    slopes = 2.0 ** (-max_bias * torch.arange(1, power + 1, dtype=torch.float64) / power)  # (power,)
    if power != num_heads:
        slopes = torch.cat([slopes[1::2], slopes[0::2]])[:num_heads]
    return slopes.float()


def alibi_bias(slopes: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
    """(heads,) slopes and (batch or 1, keys) key positions -> (batch or 1, heads, 1, keys): m_h * position_j.

    A softmax does not change when one constant is added to all the scores of a query, so m_h * j gives the same
    probabilities as -m_h * (i - j): one row of biases serves every query. Computed in the slopes' dtype.
    """
    return slopes[None, :, None, None] * key_positions[:, None, None, :]


def biased_mask(additive_mask: torch.Tensor | None, bias: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """An attention mask that also carries a position bias: the bias where the mask allows a key, the dtype's
    minimum where it does not (exactly: adding the two could overflow to -inf in float16).

    additive_mask (batch or 1, 1, q, k) of 0 / minimum, or None; bias (batch or 1, heads, 1 or q, k)
    -> (batch or 1, heads, q or 1, k)
    """
    bias = bias.to(dtype)
    if additive_mask is None:
        return bias
    return torch.where(additive_mask == torch.finfo(additive_mask.dtype).min, additive_mask, bias)
