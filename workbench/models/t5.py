"""T5 and its variants: an encoder-decoder Transformer with relative position buckets, in one file.

    input_ids (batch, src)                          decoder_input_ids (batch, tgt) = [start, y0, y1, ...]
      -> shared embedding                             -> shared embedding (the same table)
      -> num_layers x encoder block:                  -> num_decoder_layers x decoder block:
           x = x + SelfAttention(norm(x))                  x = x + SelfAttention(norm(x))      causal
           x = x + DenseReluDense(norm(x))                 x = x + EncDecAttention(norm(x), encoder states)
      -> final_layer_norm                                  x = x + DenseReluDense(norm(x))
      = encoder states (batch, src, d_model)          -> final_layer_norm -> lm_head          (batch, tgt, vocab)

What makes T5 different from BERT or BART:

- No position embeddings. Each attention score gets a learned bias that depends only on the distance
  key - query, grouped into buckets: one bucket per distance for short distances, log-spaced buckets
  further out, one last bucket for everything beyond ``relative_attention_max_distance``. The encoder's
  buckets are bidirectional (separate ones for keys before and after the query); the decoder's are
  causal. The bias table lives in the first layer of each stack and is shared by all its layers
  (UMT5: every layer has its own table).
- Attention is not scaled by 1/sqrt(head_dim) (the initialisation accounts for it).
- The layer norm is RMS norm: no mean subtraction, no bias, only a weight.
- Linear layers have no biases. The feed-forward is ``wo(relu(wi(x)))`` (T5) or, in the gated variants,
  ``wo(act(wi_0(x)) * wi_1(x))``.
- With the output head tied to the embedding (original T5), the decoder's output is multiplied by
  d_model ** -0.5 before the head.

The variants are config switches:

    model_type  config       checkpoints (for example)                          feed-forward   lm_head
    t5          T5Config     google-t5/t5-small ... t5-11b                      relu           tied, rescaled
    t5          T5Config     google/t5-v1_1-*, google/flan-t5-*, google/byt5-*,  gated-gelu     separate
                             google/madlad400-*-mt
    t5          T5Config     google/ul2, google/flan-ul2                        gated-silu     separate
    mt5         MT5Config    google/mt5-*                                       gated-gelu     separate
    umt5        UMT5Config   google/umt5-*                                      gated-gelu     separate
                             (a relative-position table in every layer)

``MT5ForConditionalGeneration``, ``UMT5Model``, ... are the T5 classes under their Hub names. Module names
are the Hub's state-dict keys (``encoder.block.0.layer.0.SelfAttention.q.weight``,
``decoder.block.1.layer.2.DenseReluDense.wi_0.weight``), so checkpoints load with no key map.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from .. import layers
from ..cache import EncoderDecoderCache, as_encoder_decoder_cache
from ..configuration import PretrainedConfig
from ..generation import GenerationMixin
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs, checkpointing_use_cache
from ..outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
    seq2seq_fields,
)

logger = logging.getLogger(__name__)


def parse_feed_forward_proj(feed_forward_proj: str) -> tuple[str, bool]:
    """``"relu"`` -> ("relu", False); ``"gated-gelu"`` -> ("gelu_new", True); ``"gated-silu"`` -> ("silu", True).

    ``gated-gelu`` means the tanh approximation of GELU (what T5 v1.1 was trained with), as in the reference.
    """
    parts = feed_forward_proj.split("-")
    if len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated"):
        raise ValueError(
            f"feed_forward_proj={feed_forward_proj!r} is not of the form 'ACT' or 'gated-ACT' "
            "(e.g. 'relu', 'gated-gelu', 'gated-silu')."
        )
    is_gated = len(parts) == 2
    act = "gelu_new" if feed_forward_proj == "gated-gelu" else parts[-1]
    layers.activation(act)  # raises a clear error for an unknown activation name
    return act, is_gated


class T5Config(PretrainedConfig):
    """config.json of T5 checkpoints; the defaults are google-t5/t5-small's."""

    model_type = "t5"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    attribute_map = {
        "hidden_size": "d_model",
        "num_attention_heads": "num_heads",
        "num_hidden_layers": "num_layers",
        "head_dim": "d_kv",
    }
    # UMT5 gives every layer its own relative-position table; T5 and mT5 share the first layer's.
    relative_bias_in_every_layer = False

    def __init__(
        self,
        vocab_size: int = 32128,
        d_model: int = 512,  # width of every token's vector
        d_kv: int = 64,  # width of one attention head (num_heads * d_kv need not equal d_model)
        d_ff: int = 2048,  # width of the feed-forward layer
        num_layers: int = 6,  # encoder blocks
        num_decoder_layers: int | None = None,  # decoder blocks; None: as many as the encoder
        num_heads: int = 8,
        relative_attention_num_buckets: int = 32,
        relative_attention_max_distance: int = 128,  # distances beyond this share the last bucket
        dropout_rate: float = 0.1,
        layer_norm_epsilon: float = 1e-6,
        initializer_factor: float = 1.0,  # scales every initial std (tests use other values)
        feed_forward_proj: str = "relu",  # "relu", "gated-gelu" (T5 v1.1, FLAN-T5, mT5), "gated-silu" (UL2)
        use_cache: bool = True,
        scale_decoder_outputs: bool | None = None,  # multiply by d_model**-0.5 before lm_head; None: when tied
        pad_token_id: int | None = 0,
        eos_token_id: int | None = 1,
        decoder_start_token_id: int | None = 0,  # T5 starts decoding from the pad token
        tie_word_embeddings: bool = True,  # lm_head shares the embedding (original T5; v1.1 and later: False)
        is_encoder_decoder: bool = True,
        **kwargs,
    ):
        # The reference writes these two derived keys into config.json; they are recomputed from
        # feed_forward_proj below, so a file that disagrees cannot make the model inconsistent.
        kwargs.pop("dense_act_fn", None)
        kwargs.pop("is_gated_act", None)
        super().__init__(
            pad_token_id=pad_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            is_encoder_decoder=is_encoder_decoder,
            **kwargs,
        )
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.d_kv = d_kv
        self.d_ff = d_ff
        self.num_layers = num_layers
        self.num_decoder_layers = num_layers if num_decoder_layers is None else num_decoder_layers
        self.num_heads = num_heads
        self.relative_attention_num_buckets = relative_attention_num_buckets
        self.relative_attention_max_distance = relative_attention_max_distance
        self.dropout_rate = dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_factor = initializer_factor
        self.feed_forward_proj = feed_forward_proj
        self.dense_act_fn, self.is_gated_act = parse_feed_forward_proj(feed_forward_proj)
        self.use_cache = use_cache
        self.decoder_start_token_id = decoder_start_token_id
        self.scale_decoder_outputs = tie_word_embeddings if scale_decoder_outputs is None else scale_decoder_outputs


class MT5Config(T5Config):
    """mT5 (101 languages, SentencePiece vocabulary of 250k); defaults are google/mt5-small's.

    mT5's head is never rescaled (as in the reference), whether or not it is tied."""

    model_type = "mt5"

    def __init__(
        self,
        vocab_size: int = 250112,
        d_ff: int = 1024,
        num_layers: int = 8,
        num_heads: int = 6,
        feed_forward_proj: str = "gated-gelu",
        scale_decoder_outputs: bool | None = False,
        **kwargs,
    ):
        super().__init__(
            vocab_size=vocab_size,
            d_ff=d_ff,
            num_layers=num_layers,
            num_heads=num_heads,
            feed_forward_proj=feed_forward_proj,
            scale_decoder_outputs=scale_decoder_outputs,
            **kwargs,
        )


class UMT5Config(T5Config):
    """UMT5 (mT5 retrained with UniMax sampling); defaults are google/umt5-small's. Every self-attention
    layer has its own relative-position table."""

    model_type = "umt5"
    relative_bias_in_every_layer = True

    def __init__(
        self,
        vocab_size: int = 256384,
        d_ff: int = 1024,
        num_layers: int = 8,
        num_heads: int = 6,
        feed_forward_proj: str = "gated-gelu",
        **kwargs,
    ):
        super().__init__(
            vocab_size=vocab_size,
            d_ff=d_ff,
            num_layers=num_layers,
            num_heads=num_heads,
            feed_forward_proj=feed_forward_proj,
            **kwargs,
        )


# Tiny presets for tests and teaching: seconds to build and run on a CPU (``auto.tiny_config(name)`` builds one).
_TINY = dict(
    vocab_size=128,
    d_model=32,
    d_kv=8,
    d_ff=64,
    num_layers=2,
    num_heads=4,
    relative_attention_num_buckets=8,
    relative_attention_max_distance=16,
)
TINY_PRESETS = {
    "t5-tiny-random": dict(_TINY, model_type="t5"),
    "t5-v1_1-tiny-random": dict(_TINY, model_type="t5", feed_forward_proj="gated-gelu", tie_word_embeddings=False),
    "ul2-tiny-random": dict(_TINY, model_type="t5", feed_forward_proj="gated-silu", tie_word_embeddings=False),
    "mt5-tiny-random": dict(_TINY, model_type="mt5", tie_word_embeddings=False),
    "umt5-tiny-random": dict(_TINY, model_type="umt5", tie_word_embeddings=False),
}


# ------------------------------------------------------------------------------------------------
# Relative position buckets
# ------------------------------------------------------------------------------------------------


def relative_position_bucket(
    relative_position: torch.Tensor, bidirectional: bool, num_buckets: int, max_distance: int
) -> torch.Tensor:
    """Map ``key_position - query_position`` (any shape, integers) to a bucket in [0, num_buckets).

    Bidirectional (encoder): half of the buckets for keys before the query, half for keys after it.
    Causal (decoder): keys after the query are masked anyway, so they all share bucket 0 and every bucket
    serves keys before the query. Within each half, the first ``exact`` buckets hold one distance each
    (0, 1, 2, ...); the rest cover distances from ``exact`` to ``max_distance`` on a log scale, and all
    farther keys share the last bucket. With 32 buckets and max_distance 128, a key d tokens before the
    query lands in (the encoder adds 16 for keys after the query):

        encoder   d  0  1 ... 7   8-11  12-15  16-22  23-31  32-45  46-63  64-90  91 and beyond
                  ->  0  1 ... 7    8      9     10     11     12     13     14     15
        decoder   d  0 ... 15  16-18  19-20  21-23  ...  99-112  113 and beyond    (all 32 on one side)
                  ->  0 ... 15   16     17     18    ...    30      31
    """
    bucket = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        bucket = bucket + (relative_position > 0).long() * num_buckets  # keys after the query: upper half
        distance = relative_position.abs()
    else:
        distance = (-relative_position).clamp(min=0)  # how far back the key is; later keys count as 0
    exact = num_buckets // 2
    # distance >= exact: exact + (number of the remaining buckets) * log(distance / exact) / log(max_distance / exact)
    log_scale = torch.log(distance.float() / exact) / math.log(max_distance / exact) * (num_buckets - exact)
    far_bucket = (exact + log_scale.long()).clamp(max=num_buckets - 1)
    return bucket + torch.where(distance < exact, distance, far_bucket)


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


def _linear(in_features: int, out_features: int, init_std: float) -> nn.Linear:
    """A bias-free linear layer that remembers its initial std (used by ``_init_weights``)."""
    linear = nn.Linear(in_features, out_features, bias=False)
    linear.init_std = init_std
    return linear


def _clamp_for_float16(hidden: torch.Tensor) -> torch.Tensor:
    """Pull infinities back into float16's range: T5's activations grow large and overflow in float16
    (a known property of its checkpoints); other dtypes pass through untouched."""
    if hidden.dtype != torch.float16:
        return hidden
    limit = torch.finfo(torch.float16).max - (1000 if bool(torch.isinf(hidden).any()) else 0)
    return hidden.clamp(min=-limit, max=limit)


class T5LayerNorm(nn.Module):
    """RMS norm: x / sqrt(mean(x^2) + eps) * weight; no mean subtraction and no bias. Computed in float32."""

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = hidden.to(torch.float32)
        variance = hidden.pow(2).mean(-1, keepdim=True)  # (batch, seq, 1)
        hidden = hidden * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden.to(self.weight.dtype)


class T5Attention(nn.Module):
    """Multi-head attention without the 1/sqrt(head_dim) scale; the relative-position bias (and the
    masks) come in as one additive tensor. Self-attention when ``key_value_states`` is None, else
    cross-attention over those (the encoder's) states."""

    def __init__(self, config: T5Config, has_relative_attention_bias: bool, is_decoder: bool, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.is_decoder = is_decoder
        self.num_heads = config.num_heads
        self.dropout_rate = config.dropout_rate
        self.num_buckets = config.relative_attention_num_buckets
        self.max_distance = config.relative_attention_max_distance
        inner = config.num_heads * config.d_kv
        factor = config.initializer_factor
        # Mesh TensorFlow's initialisation: the query std includes the missing 1/sqrt(d_kv) scale.
        self.q = _linear(config.d_model, inner, factor * (config.d_model * config.d_kv) ** -0.5)
        self.k = _linear(config.d_model, inner, factor * config.d_model**-0.5)
        self.v = _linear(config.d_model, inner, factor * config.d_model**-0.5)
        self.o = _linear(inner, config.d_model, factor * inner**-0.5)
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(self.num_buckets, config.num_heads)  # bucket -> bias per head
            self.relative_attention_bias.init_std = factor * config.d_model**-0.5
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def position_bias(self, query_length: int, key_length: int, past_length: int) -> torch.Tensor:
        """The learned bias of every (query, key) pair: (1, heads, query_length, key_length).

        Queries are the ``query_length`` tokens after ``past_length`` cached ones (decoding step by step),
        keys are all tokens 0..key_length-1."""
        device = self.relative_attention_bias.weight.device
        query_position = torch.arange(past_length, past_length + query_length, device=device)[:, None]  # (q, 1)
        key_position = torch.arange(key_length, device=device)[None, :]  # (1, k)
        buckets = relative_position_bucket(
            key_position - query_position,
            bidirectional=not self.is_decoder,
            num_buckets=self.num_buckets,
            max_distance=self.max_distance,
        )  # (q, k)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)[None]  # (q, k, heads) -> (1, heads, q, k)

    def forward(
        self,
        hidden,
        additive_mask,
        key_value_states=None,
        cache: EncoderDecoderCache | None = None,
        output_attentions: bool = False,
    ):
        query = layers.split_heads(self.q(hidden), self.num_heads)  # (batch, heads, q, d_kv)
        if key_value_states is None:  # self-attention: this step's keys after the cached ones
            key = layers.split_heads(self.k(hidden), self.num_heads)
            value = layers.split_heads(self.v(hidden), self.num_heads)
            if cache is not None:
                key, value = cache.update(key, value, self.layer_idx)  # (batch, heads, past + q, d_kv)
        elif cache is not None and cache.is_filled(self.layer_idx):  # cross-attention, encoder states seen before
            key, value = cache.cross(self.layer_idx)
        else:  # cross-attention, first step: project the encoder states, (batch, heads, src, d_kv)
            key = layers.split_heads(self.k(key_value_states), self.num_heads)
            value = layers.split_heads(self.v(key_value_states), self.num_heads)
            if cache is not None:
                cache.set_cross(key, value, self.layer_idx)
        context, weights = layers.attention(
            query,
            key,
            value,
            additive_mask,
            dropout=self.dropout_rate if self.training else 0.0,
            scale=1.0,  # T5 does not divide the scores by sqrt(d_kv)
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return self.o(layers.merge_heads(context)), weights  # (batch, q, d_model)


class T5LayerSelfAttention(nn.Module):
    def __init__(self, config: T5Config, has_relative_attention_bias: bool, is_decoder: bool, layer_idx: int):
        super().__init__()
        self.SelfAttention = T5Attention(config, has_relative_attention_bias, is_decoder, layer_idx)
        self.layer_norm = T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(self, hidden, additive_mask, cache, output_attentions):
        attended, weights = self.SelfAttention(
            self.layer_norm(hidden), additive_mask, cache=cache, output_attentions=output_attentions
        )
        return hidden + self.dropout(attended), weights


class T5LayerCrossAttention(nn.Module):
    def __init__(self, config: T5Config, layer_idx: int):
        super().__init__()
        self.EncDecAttention = T5Attention(
            config, has_relative_attention_bias=False, is_decoder=True, layer_idx=layer_idx
        )
        self.layer_norm = T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(self, hidden, encoder_states, additive_mask, cache, output_attentions):
        attended, weights = self.EncDecAttention(
            self.layer_norm(hidden),
            additive_mask,
            key_value_states=encoder_states,
            cache=cache,
            output_attentions=output_attentions,
        )
        return hidden + self.dropout(attended), weights


class T5DenseActDense(nn.Module):
    """wo(act(wi(x))): the original T5 feed-forward (act = relu)."""

    def __init__(self, config: T5Config):
        super().__init__()
        factor = config.initializer_factor
        self.wi = _linear(config.d_model, config.d_ff, factor * config.d_model**-0.5)
        self.wo = _linear(config.d_ff, config.d_model, factor * config.d_ff**-0.5)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.act = layers.activation(config.dense_act_fn)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.wo(self.dropout(self.act(self.wi(hidden))))  # (batch, seq, d_ff) -> (batch, seq, d_model)


class T5DenseGatedActDense(nn.Module):
    """wo(act(wi_0(x)) * wi_1(x)): the gated feed-forward of T5 v1.1, FLAN-T5, mT5 (gelu) and UL2 (silu)."""

    def __init__(self, config: T5Config):
        super().__init__()
        factor = config.initializer_factor
        self.wi_0 = _linear(config.d_model, config.d_ff, factor * config.d_model**-0.5)  # gate
        self.wi_1 = _linear(config.d_model, config.d_ff, factor * config.d_model**-0.5)  # value
        self.wo = _linear(config.d_ff, config.d_model, factor * config.d_ff**-0.5)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.act = layers.activation(config.dense_act_fn)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        gated = self.act(self.wi_0(hidden)) * self.wi_1(hidden)  # (batch, seq, d_ff)
        return self.wo(self.dropout(gated))  # (batch, seq, d_model)


class T5LayerFF(nn.Module):
    def __init__(self, config: T5Config):
        super().__init__()
        self.DenseReluDense = T5DenseGatedActDense(config) if config.is_gated_act else T5DenseActDense(config)
        self.layer_norm = T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.dropout(self.DenseReluDense(self.layer_norm(hidden)))


class T5Block(GradientCheckpointingLayer):
    """``layer``: [self-attention, (cross-attention in the decoder), feed-forward], each pre-norm + residual."""

    def __init__(self, config: T5Config, has_relative_attention_bias: bool, is_decoder: bool, layer_idx: int):
        super().__init__()
        self.is_decoder = is_decoder
        sublayers = [T5LayerSelfAttention(config, has_relative_attention_bias, is_decoder, layer_idx)]
        if is_decoder:
            sublayers.append(T5LayerCrossAttention(config, layer_idx))
        sublayers.append(T5LayerFF(config))
        self.layer = nn.ModuleList(sublayers)

    def forward(self, hidden, self_attention_mask, encoder_states, cross_attention_mask, cache, output_attentions):
        hidden, self_weights = self.layer[0](hidden, self_attention_mask, cache, output_attentions)
        hidden = _clamp_for_float16(hidden)
        cross_weights = None
        if self.is_decoder:
            hidden, cross_weights = self.layer[1](
                hidden, encoder_states, cross_attention_mask, cache, output_attentions
            )
            hidden = _clamp_for_float16(hidden)
        hidden = _clamp_for_float16(self.layer[-1](hidden))
        return hidden, self_weights, cross_weights


class T5Stack(nn.Module):
    """The encoder or the decoder: embeddings (the model's ``shared`` table), blocks, final norm.

    The relative-position bias is computed once per forward pass from the first block's table and
    added, with the padding (and causal) mask, to the scores of every block. UMT5 computes it per block.
    """

    def __init__(self, config: T5Config, embed_tokens: nn.Embedding, is_decoder: bool):
        super().__init__()
        self.is_decoder = is_decoder
        self.bias_in_every_layer = config.relative_bias_in_every_layer
        self.embed_tokens = embed_tokens  # the very module at the model's ``shared``: same weights, same keys
        num_layers = config.num_decoder_layers if is_decoder else config.num_layers
        self.block = nn.ModuleList(
            T5Block(
                config,
                has_relative_attention_bias=(i == 0 or self.bias_in_every_layer),
                is_decoder=is_decoder,
                layer_idx=i,
            )
            for i in range(num_layers)
        )
        self.final_layer_norm = T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        inputs_embeds=None,
        encoder_hidden_states=None,
        encoder_attention_mask=None,
        past_key_values: EncoderDecoderCache | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        return_dict: bool = True,
    ):
        name = "The T5 decoder" if self.is_decoder else "The T5 encoder"
        batch, seq = check_inputs(input_ids, inputs_embeds, None, name)
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)  # (batch, seq, d_model)
        hidden = self.dropout(inputs_embeds)
        dtype, device = hidden.dtype, hidden.device
        cache = past_key_values if self.is_decoder else None
        past = cache.get_seq_length() if cache is not None else 0

        if self.is_decoder:
            if encoder_hidden_states is None:
                raise ValueError(f"{name} needs encoder_hidden_states to attend to.")
            mask = layers.decoder_attention_mask(attention_mask, past, seq, dtype, device)  # causal + padding, or None
            cross_mask = layers.padding_mask(encoder_attention_mask, dtype)  # (batch, 1, 1, src) or None
        else:
            if attention_mask is not None and tuple(attention_mask.shape) != (batch, seq):
                raise ValueError(
                    f"attention_mask has shape {tuple(attention_mask.shape)} but the input is "
                    f"{batch} x {seq} tokens; pass the mask the tokenizer returned with the ids."
                )
            mask = layers.padding_mask(attention_mask, dtype)  # (batch, 1, 1, seq) or None
            cross_mask = None

        all_hidden = (hidden,) if output_hidden_states else None
        all_self, all_cross = ((), ()) if output_attentions else (None, None)
        for i, block in enumerate(self.block):
            if i == 0 or self.bias_in_every_layer:
                bias = block.layer[0].SelfAttention.position_bias(seq, past + seq, past)  # (1, heads, seq, past + seq)
                self_attention_mask = bias if mask is None else bias + mask  # (batch or 1, heads, seq, past + seq)
            hidden, self_weights, cross_weights = block(
                hidden, self_attention_mask, encoder_hidden_states, cross_mask, cache, output_attentions
            )
            if output_hidden_states:
                all_hidden += (hidden,)
            if output_attentions:
                all_self += (self_weights,)
                all_cross += (cross_weights,)
        if cache is not None:
            cache.advance(seq)
        hidden = self.dropout(self.final_layer_norm(hidden))
        if output_hidden_states:
            all_hidden = all_hidden[:-1] + (hidden,)  # as the reference: the last entry is after the final norm

        if self.is_decoder:
            out = BaseModelOutputWithPastAndCrossAttentions(
                last_hidden_state=hidden,
                past_key_values=cache,
                hidden_states=all_hidden,
                attentions=all_self,
                cross_attentions=all_cross,
            )
        else:
            out = BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden, attentions=all_self)
        return out if return_dict is not False else out.to_tuple()


# ------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------


class T5PreTrainedModel(PreTrainedModel):
    config_class = T5Config
    base_model_prefix = "transformer"
    # architecture_name: T5ForConditionalGeneration reading an mT5 config saves as MT5ForConditionalGeneration
    # Old checkpoints carry a relative-position table on the first cross-attention, which never used it.
    _ignored_checkpoint_keys = r"^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$"
    # The stacks read tokens through the very module at ``shared``, so these keys name the same tensor:
    # never saved, never missing, and loaded into ``shared`` when a checkpoint has them.
    _embedding_aliases: tuple[str, ...] = ()

    def _init_weights(self, module: nn.Module) -> None:
        """Mesh TensorFlow's initialisation, as the reference: each linear layer and the relative-position
        tables carry their std (``init_std``); the shared embedding and a separate lm_head get std 1."""
        factor = self.config.initializer_factor
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=getattr(module, "init_std", factor))
        elif isinstance(module, T5LayerNorm):
            nn.init.constant_(module.weight, factor)

    def _active_tie_aliases(self) -> set[str]:
        return super()._active_tie_aliases() | set(self._embedding_aliases)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.shared = value
        for stack in (getattr(self, "encoder", None), getattr(self, "decoder", None)):
            if stack is not None:
                stack.embed_tokens = value

    def get_encoder(self) -> T5Stack:
        return self.encoder

    def _shift_right(self, labels: torch.Tensor) -> torch.Tensor:
        """labels (batch, tgt) -> decoder_input_ids: [decoder_start_token_id, y0, ..., y_{n-2}], -100 -> pad."""
        return layers.shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)


class T5EncoderDecoder(T5PreTrainedModel):
    """What T5Model and T5ForConditionalGeneration share: the embedding, both stacks, and running them."""

    _embedding_aliases = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")

    def __init__(self, config: T5Config):
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, self.shared, is_decoder=False)
        self.decoder = T5Stack(config, self.shared, is_decoder=True)

    def get_decoder(self) -> T5Stack:
        return self.decoder

    def _encode_and_decode(
        self,
        input_ids,
        attention_mask,
        decoder_input_ids,
        decoder_attention_mask,
        encoder_outputs,
        past_key_values,
        inputs_embeds,
        decoder_inputs_embeds,
        use_cache,
        output_attentions,
        output_hidden_states,
    ) -> tuple[BaseModelOutput, BaseModelOutputWithPastAndCrossAttentions]:
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            raise ValueError(
                f"{type(self).__name__} needs the decoder's inputs: pass decoder_input_ids (starting with "
                f"decoder_start_token_id={config.decoder_start_token_id}), or labels, from which they are made by "
                "shifting right (ForConditionalGeneration only), or call model.generate(input_ids) to produce text."
            )
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                inputs_embeds=inputs_embeds,
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
            )
        elif not isinstance(
            encoder_outputs, BaseModelOutput
        ):  # a tuple: (last_hidden_state, hidden_states?, attentions?)
            encoder_outputs = BaseModelOutput(*encoder_outputs)
        use_cache = checkpointing_use_cache(self, use_cache, past_key_values)
        cache = as_encoder_decoder_cache(past_key_values, config.num_decoder_layers, use_cache)
        decoder_outputs = self.decoder(
            input_ids=decoder_input_ids,
            attention_mask=decoder_attention_mask,
            inputs_embeds=decoder_inputs_embeds,
            encoder_hidden_states=encoder_outputs.last_hidden_state,
            encoder_attention_mask=attention_mask,
            past_key_values=cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        if not use_cache:
            decoder_outputs.pop("past_key_values", None)
        return encoder_outputs, decoder_outputs


class T5Model(T5EncoderDecoder):
    """Encoder + decoder, no head: ``last_hidden_state`` is the decoder's (batch, tgt, d_model)."""

    def __init__(self, config: T5Config):
        super().__init__(config)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        encoder_outputs=None,
        past_key_values=None,
        inputs_embeds=None,
        decoder_inputs_embeds=None,
        use_cache=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        use_cache = self.config.use_cache if use_cache is None else use_cache
        encoder_outputs, decoder_outputs = self._encode_and_decode(
            input_ids,
            attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs,
            past_key_values,
            inputs_embeds,
            decoder_inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
        )
        out = Seq2SeqModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state, **seq2seq_fields(encoder_outputs, decoder_outputs)
        )
        return self.format_output(out, return_dict)


class T5ForConditionalGeneration(GenerationMixin, T5EncoderDecoder):
    """T5 with its language-model head: logits (batch, tgt, vocab) for every decoder position.

    model(input_ids, attention_mask=mask, labels=labels).loss          # training: teacher forcing
    model.generate(input_ids, attention_mask=mask, max_new_tokens=20)  # inference
    """

    _tied_weights_keys = {"lm_head.weight": "shared.weight"}  # only when config.tie_word_embeddings

    def __init__(self, config: T5Config):
        super().__init__(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """What DataCollatorForSeq2Seq calls to add decoder_input_ids to a batch: the labels shifted right."""
        return self._shift_right(labels)

    def _load_checkpoint(self, reader, dtype, ignore_mismatched_sizes, name):
        # A checkpoint whose config says "tied" can still hold a separate head: the reference (5.x) writes
        # tie_word_embeddings=true for every T5 and keeps lm_head.weight when it differs from the embedding
        # (a FLAN-T5 loaded and saved again). Tying would silently replace that head, so keep it.
        has_both = {"lm_head.weight", "shared.weight"} <= set(reader.keys())
        if (
            self.config.tie_word_embeddings
            and has_both
            and not torch.equal(reader.tensor("lm_head.weight"), reader.tensor("shared.weight"))
        ):
            logger.info(
                "%s holds an lm_head.weight of its own although its config says tied; keeping it "
                "separate (tie_word_embeddings=False).",
                name,
            )
            self.config.tie_word_embeddings = False
        return super()._load_checkpoint(reader, dtype, ignore_mismatched_sizes, name)

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        encoder_outputs=None,
        past_key_values=None,
        inputs_embeds=None,
        decoder_inputs_embeds=None,
        labels=None,
        use_cache=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        if labels is not None:
            use_cache = False  # training: the whole target at once, nothing to keep
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = self._shift_right(labels)  # (batch, tgt)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        encoder_outputs, decoder_outputs = self._encode_and_decode(
            input_ids,
            attention_mask,
            decoder_input_ids,
            decoder_attention_mask,
            encoder_outputs,
            past_key_values,
            inputs_embeds,
            decoder_inputs_embeds,
            use_cache,
            output_attentions,
            output_hidden_states,
        )
        hidden = decoder_outputs.last_hidden_state  # (batch, tgt, d_model)
        if self.config.scale_decoder_outputs:
            hidden = hidden * self.config.d_model**-0.5  # Mesh TF's rescale before the tied (std 1) embedding
        logits = self.lm_head(hidden)  # (batch, tgt, vocab)
        loss = layers.seq2seq_lm_loss(logits, labels) if labels is not None else None
        out = Seq2SeqLMOutput(loss=loss, logits=logits, **seq2seq_fields(encoder_outputs, decoder_outputs))
        return self.format_output(out, return_dict)


class T5EncoderModel(T5PreTrainedModel):
    """The encoder alone (e.g. for embeddings or as a text encoder): ``last_hidden_state`` (batch, src, d_model).
    Loads the encoder half of a full checkpoint; the decoder's and the head's weights are skipped."""

    _embedding_aliases = ("encoder.embed_tokens.weight",)
    _ignored_checkpoint_keys = r"^(decoder|lm_head)\."

    def __init__(self, config: T5Config):
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, self.shared, is_decoder=False)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        inputs_embeds=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        config = self.config
        out = self.encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_attentions=config.output_attentions if output_attentions is None else output_attentions,
            output_hidden_states=config.output_hidden_states if output_hidden_states is None else output_hidden_states,
        )
        return self.format_output(out, return_dict)


# ------------------------------------------------------------------------------------------------
# The variants' Hub names: the same classes, reading MT5Config / UMT5Config
# ------------------------------------------------------------------------------------------------

MT5Model = UMT5Model = T5Model
MT5ForConditionalGeneration = UMT5ForConditionalGeneration = T5ForConditionalGeneration
MT5EncoderModel = UMT5EncoderModel = T5EncoderModel
