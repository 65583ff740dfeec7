"""The key/value cache of decoder models: what attention has already seen, kept between steps.

A decoder generating token t needs the keys and values of tokens 0..t-1 in every layer. Instead of
recomputing them, each attention layer writes its new keys/values into this cache and attends over
everything stored so far.

``KVCache`` keeps one preallocated buffer per layer, ``(batch, kv_heads, capacity, head_dim)``, and
a fill level ``length``. Writing a step is one in-place copy into the buffer; attention reads the view
``buffer[:, :, :length]``. ``generate`` sizes the buffers for prompt + new tokens up front, so decoding
allocates nothing per step. A cache created without a capacity (``model(ids, use_cache=True)``) grows by
doubling when it fills, like a Python list.

    out = model(ids, use_cache=True)                  # out.past_key_values: a KVCache holding len(ids)
    out = model(next_ids, past_key_values=out.past_key_values)   # attends to the cached tokens too
"""

from __future__ import annotations

import torch


class KVCache:
    """Per-layer key and value buffers of shape ``(batch, kv_heads, capacity, head_dim)``."""

    def __init__(self, num_layers: int, capacity: int | None = None):
        self.num_layers = num_layers
        self.capacity = capacity  # None: allocate on first write, sized to what is written, then double
        self.keys: list[torch.Tensor | None] = [None] * num_layers
        self.values: list[torch.Tensor | None] = [None] * num_layers
        self.length = 0  # tokens stored (the same in every layer once a forward pass is complete)

    # -- the interface models use -----------------------------------------------------------------

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.length

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``key``/``value`` (batch, kv_heads, new, head_dim) after the ``length`` cached tokens of
        ``layer_idx``; return all keys and values of that layer, (batch, kv_heads, length + new, head_dim).

        ``length`` itself advances only in ``advance`` (called by the model after its last layer), so
        every layer of one forward pass writes at the same offset.
        """
        start, new = self.length, key.shape[2]
        end = start + new
        buffer_k = self.keys[layer_idx]
        if buffer_k is None or buffer_k.shape[2] < end or buffer_k.shape[0] != key.shape[0]:
            buffer_k, buffer_v = self._grow(layer_idx, key, end)
        else:
            buffer_v = self.values[layer_idx]
        buffer_k[:, :, start:end] = key
        buffer_v[:, :, start:end] = value
        return buffer_k[:, :, :end], buffer_v[:, :, :end]

    def advance(self, new_tokens: int) -> None:
        self.length += new_tokens

    def _grow(self, layer_idx: int, like: torch.Tensor, needed: int) -> tuple[torch.Tensor, torch.Tensor]:
        old_k, old_v = self.keys[layer_idx], self.values[layer_idx]
        capacity = max(needed, self.capacity or 0)
        if old_k is not None and old_k.shape[0] == like.shape[0]:
            capacity = max(capacity, 2 * old_k.shape[2])
        batch, heads, _, head_dim = like.shape
        new_k = like.new_empty(batch, heads, capacity, head_dim)
        new_v = like.new_empty(batch, heads, capacity, head_dim)
        if old_k is not None and self.length and old_k.shape[0] == batch:
            new_k[:, :, : self.length] = old_k[:, :, : self.length]
            new_v[:, :, : self.length] = old_v[:, :, : self.length]
        self.keys[layer_idx], self.values[layer_idx] = new_k, new_v
        return new_k, new_v

    # -- what generation needs --------------------------------------------------------------------

    def reorder(self, batch_indices: torch.Tensor) -> None:
        """Beam search: row i of the cache becomes old row ``batch_indices[i]``."""
        for i in range(self.num_layers):
            if self.keys[i] is not None:
                self.keys[i] = self.keys[i].index_select(0, batch_indices.to(self.keys[i].device))
                self.values[i] = self.values[i].index_select(0, batch_indices.to(self.values[i].device))

    reorder_cache = reorder  # the reference's name

    def repeat_interleave(self, repeats: int) -> None:
        """Expand every row ``repeats`` times (one prompt, several sampled continuations)."""
        for i in range(self.num_layers):
            if self.keys[i] is not None:
                self.keys[i] = self.keys[i].repeat_interleave(repeats, dim=0)
                self.values[i] = self.values[i].repeat_interleave(repeats, dim=0)

    def crop(self, length: int) -> None:
        """Forget everything after the first ``length`` tokens."""
        self.length = min(self.length, length)

    # -- tuple-like access, as the reference's caches allow ---------------------------------------

    def __len__(self) -> int:
        return self.num_layers

    def __getitem__(self, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys[layer_idx] is None:
            raise IndexError(f"layer {layer_idx} of the cache is empty")
        return self.keys[layer_idx][:, :, : self.length], self.values[layer_idx][:, :, : self.length]

    def __iter__(self):
        for i in range(self.num_layers):
            yield self[i]

    def to_legacy_cache(self) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
        return tuple(self)

    @classmethod
    def from_legacy_cache(cls, past: tuple | list) -> "KVCache":
        """Build a cache from ``((key, value), ...)`` per layer, each (batch, kv_heads, seq, head_dim)."""
        cache = cls(len(past))
        for i, (k, v) in enumerate(past):
            cache.keys[i], cache.values[i] = k.clone(), v.clone()
        cache.length = past[0][0].shape[2] if len(past) else 0
        return cache

    def __repr__(self) -> str:
        return f"KVCache(layers={self.num_layers}, length={self.length})"


class EncoderDecoderCache:
    """The cache of an encoder-decoder model: the decoder's self-attention keys/values, which grow by
    one token per step, and the cross-attention keys/values, computed once from the encoder's output.

    Cross-attention projects the same encoder states at every step, so each decoder layer computes them
    on its first call and reads them back afterwards (``is_filled(layer)``). ``get_seq_length`` counts
    decoder tokens only: it gives the next token's position.

        out = model(input_ids, decoder_input_ids=start, use_cache=True)   # encoder + first decoder step
        out = model(encoder_outputs=..., decoder_input_ids=next_ids, past_key_values=out.past_key_values)
    """

    def __init__(self, self_attention_cache: KVCache, cross_attention_cache: KVCache):
        self.self_attention_cache = self_attention_cache
        self.cross_attention_cache = cross_attention_cache

    @classmethod
    def empty(cls, num_layers: int, capacity: int | None = None) -> "EncoderDecoderCache":
        return cls(KVCache(num_layers, capacity), KVCache(num_layers))

    # -- the interface decoder layers use ---------------------------------------------------------

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.self_attention_cache.length

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Self-attention: append this step's keys/values, return all of them (as ``KVCache.update``)."""
        return self.self_attention_cache.update(key, value, layer_idx)

    def is_filled(self, layer_idx: int) -> bool:
        """Has layer ``layer_idx`` stored its cross-attention keys/values yet?"""
        return self.cross_attention_cache.keys[layer_idx] is not None

    def set_cross(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int) -> None:
        """Store the cross-attention keys/values (batch, heads, source_len, head_dim) of one layer."""
        self.cross_attention_cache.keys[layer_idx] = key
        self.cross_attention_cache.values[layer_idx] = value
        self.cross_attention_cache.length = key.shape[2]

    def cross(self, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cross_attention_cache.keys[layer_idx], self.cross_attention_cache.values[layer_idx]

    def advance(self, new_tokens: int) -> None:
        self.self_attention_cache.advance(new_tokens)

    # -- what generation needs --------------------------------------------------------------------

    def reorder(self, batch_indices: torch.Tensor) -> None:
        """Beam search: reorder the decoder's rows. Beam search only moves rows among the beams of one
        input, whose cross-attention keys/values are identical, so those stay where they are."""
        self.self_attention_cache.reorder(batch_indices)

    reorder_cache = reorder

    def repeat_interleave(self, repeats: int) -> None:
        self.self_attention_cache.repeat_interleave(repeats)
        self.cross_attention_cache.repeat_interleave(repeats)

    def crop(self, length: int) -> None:
        self.self_attention_cache.crop(length)

    # -- tuple-like access: (self key, self value, cross key, cross value) per layer, as the reference's
    #    legacy format --------------------------------------------------------------------------------

    @property
    def num_layers(self) -> int:
        return self.self_attention_cache.num_layers

    def __len__(self) -> int:
        return self.num_layers

    def __getitem__(self, layer_idx: int) -> tuple[torch.Tensor, ...]:
        return (*self.self_attention_cache[layer_idx], *self.cross(layer_idx))

    def __iter__(self):
        for i in range(self.num_layers):
            yield self[i]

    def to_legacy_cache(self) -> tuple[tuple[torch.Tensor, ...], ...]:
        return tuple(self)

    @classmethod
    def from_legacy_cache(cls, past: tuple | list) -> "EncoderDecoderCache":
        cache = cls(KVCache.from_legacy_cache([layer[:2] for layer in past]), KVCache(len(past)))
        for i, layer in enumerate(past):
            if len(layer) == 4:
                cache.set_cross(layer[2], layer[3], i)
        return cache

    def __repr__(self) -> str:
        return (
            f"EncoderDecoderCache(layers={self.num_layers}, decoder_length={self.get_seq_length()}, "
            f"source_length={self.cross_attention_cache.length})"
        )


def as_encoder_decoder_cache(past_key_values, num_layers: int, use_cache: bool) -> EncoderDecoderCache | None:
    """Normalise ``past_key_values`` (None, an EncoderDecoderCache, or legacy 4-tuples) for a decoder pass."""
    if past_key_values is None:
        return EncoderDecoderCache.empty(num_layers) if use_cache else None
    if isinstance(past_key_values, EncoderDecoderCache):
        return past_key_values
    if isinstance(past_key_values, (tuple, list)):
        return EncoderDecoderCache.from_legacy_cache(past_key_values)
    raise TypeError(
        f"past_key_values of an encoder-decoder model must be an EncoderDecoderCache (as returned by a previous "
        f"call with use_cache=True) or a tuple of (self key, self value, cross key, cross value) per layer, "
        f"got {type(past_key_values).__name__}."
    )


def as_cache(past_key_values, num_layers: int, use_cache: bool) -> KVCache | None:
    """Normalise ``past_key_values`` (None, a KVCache, or legacy tuples) for a model's forward pass."""
    if past_key_values is None:
        return KVCache(num_layers) if use_cache else None
    if isinstance(past_key_values, KVCache):
        return past_key_values
    if isinstance(past_key_values, (tuple, list)):
        return KVCache.from_legacy_cache(past_key_values)
    raise TypeError(
        f"past_key_values must be a workbench KVCache (as returned by a previous call with use_cache=True) "
        f"or a tuple of (key, value) per layer, got {type(past_key_values).__name__}."
    )
