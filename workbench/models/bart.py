"""BART and its relatives: one encoder-decoder Transformer, five Hub families as config switches.

    model_type  config class     checkpoints (for example)                                  Hub class names
    bart        BartConfig       facebook/bart-large-cnn, BARThez, BARTpho, TAPEX, DistilBART  Bart*
    mbart       MBartConfig      facebook/mbart-large-cc25, facebook/mbart-large-50-*          MBart*
    marian      MarianConfig     Helsinki-NLP/opus-mt-*                                     MarianModel, MarianMTModel
    pegasus     PegasusConfig    google/pegasus-xsum, google/pegasus-cnn_dailymail          Pegasus*
    m2m_100     M2M100Config     facebook/m2m100_418M, facebook/nllb-200-distilled-600M     M2M100*

The architecture, the same in all of them:

    input_ids (batch, src)
      -> embed_tokens (x sqrt(d_model) when scale_embedding) + embed_positions     (batch, src, d_model)
      -> [layernorm_embedding]
      -> encoder_layers x EncoderLayer:  self-attention, feed-forward (fc1 -> activation -> fc2)
      -> [layer_norm]                                                 encoder states (batch, src, d_model)

    decoder_input_ids (batch, tgt)
      -> embed_tokens (shared with the encoder) + embed_positions, [layernorm_embedding]
      -> decoder_layers x DecoderLayer:  causal self-attention, cross-attention over the encoder states,
                                         feed-forward
      -> [layer_norm] -> lm_head (tied to embed_tokens) + [final_logits_bias]       (batch, tgt, vocab)

What the variants switch (``config.variant``, fixed per model_type; nothing of it goes to config.json):

              positions                                  layers                       layernorm_embedding  logits bias
    bart      learned, offset 2                          post-LN  x = norm(x + f(x))  yes                  yes
    mbart     learned, offset 2                          pre-LN   x = x + f(norm(x))  yes                  yes
    marian    sinusoidal table (sin | cos halves)        post-LN                      no                   yes
    pegasus   sinusoidal table (sin | cos halves)        pre-LN                       no                   yes
    m2m_100   fairseq sinusoids, counted from input_ids  pre-LN                       no                   no
    (logits bias: final_logits_bias)
    (pre-LN stacks end with a final layer_norm; fairseq positions skip padding and are computed on the fly)

and smaller ones:
- teacher forcing: the decoder reads the labels shifted right, after ``decoder_start_token_id``; mBART has
  no fixed start token and moves each row's last label token (the target-language code) to the front;
- BART and mBART called without decoder inputs read ``input_ids`` shifted right (their denoising
  pre-training task, used by fill-mask style calls ``model(input_ids)``); the others need decoder inputs;
- Marian and Pegasus multiply embeddings by ``sqrt(d_model)`` in the encoder/decoder rather than inside
  the embedding table (so their decoder scales ``decoder_inputs_embeds`` too);
- Marian alone may give the decoder a vocabulary of its own (``share_encoder_decoder_embeddings=False``).

Module names are the Hub's state-dict keys (``model.encoder.layers.0.self_attn.q_proj.weight``,
``model.decoder.layers.0.encoder_attn_layer_norm.weight``, ``lm_head.weight``, ``final_logits_bias``), so
checkpoints load with no key map. ``MarianMTModel``, ``PegasusForConditionalGeneration``, ... are the
same classes as ``BartForConditionalGeneration``; the config they read decides the variant, and
``architecture_name`` writes the variant's Hub class name into config.json.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
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
    Seq2SeqSequenceClassifierOutput,
    seq2seq_fields,
)

# ------------------------------------------------------------------------------------------------
# Variants and configs
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """The architectural differences between the five families (see the table in the module docstring)."""

    hub_prefix: str  # "MBart": the variant's name in messages (its classes' names are in models/auto.py)
    positions: str  # "learned" (offset 2), "sinusoidal" (a fixed sin | cos table) or "fairseq" (from the ids)
    pre_layer_norm: bool  # True: x + f(norm(x)) and a final layer_norm after the stack; False: norm(x + f(x))
    layernorm_embedding: bool = False  # a LayerNorm right after embeddings + positions
    final_logits_bias: bool = True  # a (1, vocab) buffer added to the logits
    scale_in_embedding: bool = True  # the embedding table multiplies by sqrt(d_model) itself (else the stacks do)
    denoises_input_ids: bool = False  # no decoder input given: the decoder reads input_ids shifted right
    wraps_language_id: bool = False  # mBART: the decoder starts with each row's last label token (a language code)
    saves_position_table: bool = False  # the sinusoidal table is in the state dict (Pegasus), else rebuilt
    has_classifier: bool = False  # the reference has {hub_prefix}ForSequenceClassification


VARIANTS = {
    "bart": Variant(
        "Bart", "learned", pre_layer_norm=False, layernorm_embedding=True, denoises_input_ids=True, has_classifier=True
    ),
    "mbart": Variant(
        "MBart",
        "learned",
        pre_layer_norm=True,
        layernorm_embedding=True,
        denoises_input_ids=True,
        wraps_language_id=True,
        has_classifier=True,
    ),
    "marian": Variant("Marian", "sinusoidal", pre_layer_norm=False, scale_in_embedding=False),
    "pegasus": Variant(
        "Pegasus", "sinusoidal", pre_layer_norm=True, scale_in_embedding=False, saves_position_table=True
    ),
    "m2m_100": Variant("M2M100", "fairseq", pre_layer_norm=True, final_logits_bias=False),
}


class BartConfig(PretrainedConfig):
    """config.json of the BART family. Each variant below changes ``defaults`` (the reference's keys and
    values for that model_type) and nothing else; the architecture follows ``model_type`` (``variant``)."""

    model_type = "bart"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    attribute_map = {
        "hidden_size": "d_model",
        "num_attention_heads": "encoder_attention_heads",
        "num_hidden_layers": "encoder_layers",
        "num_decoder_layers": "decoder_layers",
    }
    default_num_labels = 3  # BART's classification checkpoints (MNLI) have 3 labels; the others default to 2
    defaults = dict(
        vocab_size=50265,
        max_position_embeddings=1024,  # longest encoder input, and longest decoder output
        d_model=1024,  # width of every token's vector
        encoder_layers=12,
        encoder_ffn_dim=4096,  # feed-forward width
        encoder_attention_heads=16,
        decoder_layers=12,
        decoder_ffn_dim=4096,
        decoder_attention_heads=16,
        encoder_layerdrop=0.0,  # training: probability of skipping a whole layer
        decoder_layerdrop=0.0,
        activation_function="gelu",
        dropout=0.1,  # on embeddings, attention outputs and feed-forward outputs
        attention_dropout=0.0,  # on attention probabilities
        activation_dropout=0.0,  # inside the feed-forward, after the activation
        init_std=0.02,
        classifier_dropout=0.0,
        scale_embedding=False,  # multiply token embeddings by sqrt(d_model)
        use_cache=True,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        is_encoder_decoder=True,
        decoder_start_token_id=2,  # the decoder's first token (BART: </s>)
        forced_eos_token_id=2,  # generate: force </s> when max_length is reached
        is_decoder=False,
        tie_word_embeddings=True,  # lm_head and both embed_tokens share model.shared's weight
    )

    def __init__(self, **kwargs):
        values = {**type(self).defaults, **kwargs}
        if values.get("id2label") is None and values.get("num_labels") is None:
            values["num_labels"] = type(self).default_num_labels
        super().__init__(**values)  # fields the base class does not name become attributes
        for side in ("encoder", "decoder"):
            heads = getattr(self, f"{side}_attention_heads")
            if self.d_model % heads:
                raise ValueError(f"d_model={self.d_model} is not a multiple of {side}_attention_heads={heads}.")

    @property
    def variant(self) -> Variant:
        return VARIANTS[self.model_type]


class MBartConfig(BartConfig):
    """mBART (25 or 50 languages) and its fine-tuned translators; the decoder starts with a language code."""

    model_type = "mbart"
    default_num_labels = 2
    defaults = {**BartConfig.defaults, "decoder_start_token_id": None}


class MarianConfig(BartConfig):
    """Marian translation models (Helsinki-NLP/opus-mt-*). ``decoder_vocab_size`` and
    ``share_encoder_decoder_embeddings=False`` give the decoder a vocabulary of its own."""

    model_type = "marian"
    default_num_labels = 2
    defaults = {
        **BartConfig.defaults,
        "vocab_size": 58101,
        "decoder_vocab_size": None,
        "decoder_start_token_id": 58100,
        "pad_token_id": 58100,
        "eos_token_id": 0,
        "bos_token_id": None,
        "forced_eos_token_id": 0,
        "share_encoder_decoder_embeddings": True,
    }
    defaults.pop("classifier_dropout")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.decoder_vocab_size = self.decoder_vocab_size or self.vocab_size


class PegasusConfig(BartConfig):
    """PEGASUS summarisers (google/pegasus-*)."""

    model_type = "pegasus"
    default_num_labels = 2
    defaults = {
        **BartConfig.defaults,
        "decoder_start_token_id": 0,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "forced_eos_token_id": 1,
    }
    for _key in ("classifier_dropout", "bos_token_id"):  # keys the reference's file does not have
        defaults.pop(_key)
    del _key


class M2M100Config(BartConfig):
    """M2M-100 and NLLB translators (facebook/m2m100_*, facebook/nllb-200-*); the target language is
    forced as the first generated token (``forced_bos_token_id``)."""

    model_type = "m2m_100"
    default_num_labels = 2
    defaults = {
        **BartConfig.defaults,
        "vocab_size": 128112,
        "encoder_layerdrop": 0.05,
        "decoder_layerdrop": 0.05,
        "activation_function": "relu",
        "attention_dropout": 0.1,
        "scale_embedding": True,
    }
    for _key in ("classifier_dropout", "forced_eos_token_id", "is_decoder"):
        defaults.pop(_key)
    del _key


# Tiny presets for tests and teaching: seconds to build and run on a CPU.
_TINY = dict(
    vocab_size=128,
    d_model=32,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    max_position_embeddings=64,
)
TINY_PRESETS = {
    "bart-tiny-random": dict(_TINY, model_type="bart"),
    "mbart-tiny-random": dict(_TINY, model_type="mbart", scale_embedding=True),
    "marian-tiny-random": dict(
        _TINY, model_type="marian", pad_token_id=127, decoder_start_token_id=127, scale_embedding=True
    ),
    "pegasus-tiny-random": dict(_TINY, model_type="pegasus", scale_embedding=True),
    "m2m100-tiny-random": dict(_TINY, model_type="m2m_100"),
}


def decoder_input_ids_from_labels(config: BartConfig, labels: torch.Tensor) -> torch.Tensor:
    """Teacher forcing: the decoder reads the labels shifted one step right.

    BART, Marian, Pegasus, M2M-100: [decoder_start_token_id, y0, ..., y_{n-2}].
    mBART has no single start token: each row's last real token (the target-language code that ends
    mBART labels, ``... </s> ro_RO``) is moved to the front: [ro_RO, y0, ..., y_{n-2}].
    """
    if not config.variant.wraps_language_id:
        return layers.shift_tokens_right(labels, config.pad_token_id, config.decoder_start_token_id)
    if config.pad_token_id is None:
        raise ValueError("The config has no pad_token_id, needed to replace -100 in the labels.")
    tokens = labels.masked_fill(labels == -100, config.pad_token_id)
    last = tokens.ne(config.pad_token_id).sum(dim=1, keepdim=True) - 1  # (batch, 1): index of the last real token
    if bool((last < 0).any()):
        raise ValueError("A row of the labels is all padding; mBART starts the decoder with each row's last token.")
    return torch.cat([tokens.gather(1, last), tokens[:, :-1]], dim=1)  # (batch, tgt)


# ------------------------------------------------------------------------------------------------
# Embeddings
# ------------------------------------------------------------------------------------------------


class LearnedPositions(nn.Embedding):
    """BART's learned positions. The table has 2 extra rows at the start (a fairseq leftover): position p
    reads row p + 2, so ``max_position_embeddings`` positions need ``max_position_embeddings + 2`` rows."""

    offset = 2

    def __init__(self, max_positions: int, dim: int):
        super().__init__(max_positions + self.offset, dim)

    def forward(self, start: int, length: int) -> torch.Tensor:
        positions = torch.arange(start, start + length, device=self.weight.device) + self.offset  # (length,)
        return super().forward(positions)[None]  # (1, length, dim)


class SinusoidalPositions(nn.Module):
    """A fixed table of sinusoidal positions (Marian, Pegasus), position p = row p.

    It is a buffer, never trained. Pegasus checkpoints store it (``embed_positions.weight``), so it is
    kept in the state dict there; Marian's reference drops it on save, so here it is rebuilt instead.
    """

    def __init__(self, max_positions: int, dim: int, persistent: bool):
        super().__init__()
        self.register_buffer("weight", torch.empty(max_positions, dim), persistent=persistent)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if not self.weight.is_meta:
            with torch.no_grad():
                self.weight.copy_(layers.sinusoidal_table_halves(*self.weight.shape))

    def forward(self, start: int, length: int) -> torch.Tensor:
        return self.weight[start : start + length][None]  # (1, length, dim)


class FairseqPositions(nn.Module):
    """M2M-100/NLLB positions, fairseq style: sinusoids computed on the fly, no table, no length limit.

    Positions count the real tokens of ``input_ids`` and start at ``pad_token_id + 1``; a padding token gets
    position ``pad_token_id``, whose vector is zero:
        ids [a  b  c  <pad>]  (pad = 1)  ->  positions [2 3 4 1]  ->  vectors [s(2) s(3) s(4) 0]
    Each vector is [sin(p * f_0), ..., sin(p * f_{h-1}), cos(p * f_0), ..., cos(p * f_{h-1})] with
    h = dim // 2 and f_i = exp(-i * ln(10000) / (h - 1)) (and a zero column when dim is odd).
    """

    def __init__(self, dim: int, padding_idx: int):
        super().__init__()
        self.dim, self.padding_idx = dim, padding_idx

    def forward(self, input_ids: torch.Tensor | None, start: int, batch: int, length: int, device) -> torch.Tensor:
        if input_ids is not None:
            is_token = input_ids.ne(self.padding_idx).int()  # (batch, length)
            positions = (torch.cumsum(is_token, dim=1) + start) * is_token + self.padding_idx
        else:  # from embeddings, padding cannot be seen: number every token
            first = self.padding_idx + 1 + start
            positions = torch.arange(first, first + length, device=device)[None].expand(batch, length)
        vectors = layers.sinusoids_log_spaced(positions, self.dim)  # (batch, length, dim)
        return vectors.masked_fill((positions == self.padding_idx)[..., None], 0.0)  # (batch, length, dim)


def make_positions(config: BartConfig) -> nn.Module:
    kind = config.variant.positions
    if kind == "learned":
        return LearnedPositions(config.max_position_embeddings, config.d_model)
    if kind == "sinusoidal":
        return SinusoidalPositions(config.max_position_embeddings, config.d_model, config.variant.saves_position_table)
    return FairseqPositions(config.d_model, config.pad_token_id)


def position_limit(config: BartConfig) -> int | None:
    """Most positions a sequence may use (None: no limit, the positions are computed, not looked up)."""
    return None if config.variant.positions == "fairseq" else config.max_position_embeddings


# ------------------------------------------------------------------------------------------------
# Attention and layers
# ------------------------------------------------------------------------------------------------


class BartAttention(nn.Module):
    """Multi-head attention. Self-attention when ``encoder_states`` is None, else cross-attention: the
    queries come from the decoder, the keys and values from the encoder's output."""

    def __init__(self, config: BartConfig, num_heads: int, layer_idx: int):
        super().__init__()
        self.num_heads = num_heads
        self.layer_idx = layer_idx
        self.scale = (config.d_model // num_heads) ** -0.5
        self.dropout = config.attention_dropout
        self.k_proj = nn.Linear(config.d_model, config.d_model)
        self.v_proj = nn.Linear(config.d_model, config.d_model)
        self.q_proj = nn.Linear(config.d_model, config.d_model)
        self.out_proj = nn.Linear(config.d_model, config.d_model)
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(
        self,
        hidden,
        additive_mask,
        cache: EncoderDecoderCache | None,
        output_attentions: bool,
        encoder_states: torch.Tensor | None = None,
    ):
        q = layers.split_heads(self.q_proj(hidden), self.num_heads)  # (batch, heads, q, head_dim)
        if encoder_states is None:
            k = layers.split_heads(self.k_proj(hidden), self.num_heads)
            v = layers.split_heads(self.v_proj(hidden), self.num_heads)
            if cache is not None:
                k, v = cache.update(k, v, self.layer_idx)  # (batch, heads, past + q, head_dim)
        elif cache is not None and cache.is_filled(self.layer_idx):
            k, v = cache.cross(self.layer_idx)  # projected at the first decoding step
        else:
            k = layers.split_heads(self.k_proj(encoder_states), self.num_heads)  # (batch, heads, src, head_dim)
            v = layers.split_heads(self.v_proj(encoder_states), self.num_heads)
            if cache is not None:
                cache.set_cross(k, v, self.layer_idx)
        context, weights = layers.attention(
            q,
            k,
            v,
            additive_mask,
            dropout=self.dropout if self.training else 0.0,
            scale=self.scale,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return self.out_proj(layers.merge_heads(context)), weights  # (batch, q, d_model)


def residual(hidden: torch.Tensor, norm: nn.LayerNorm, sublayer, pre_layer_norm: bool, dropout: float, training: bool):
    """One sub-layer with its residual connection and LayerNorm, in either order:
    post-LN (BART, Marian) ``norm(x + f(x))``; pre-LN (mBART, Pegasus, M2M-100) ``x + f(norm(x))``.
    ``sublayer`` returns (output, extra); extra (attention weights or None) is passed back."""
    out, extra = sublayer(norm(hidden) if pre_layer_norm else hidden)
    hidden = hidden + F.dropout(out, p=dropout, training=training)
    return (hidden if pre_layer_norm else norm(hidden)), extra


class BartEncoderLayer(GradientCheckpointingLayer):
    def __init__(self, config: BartConfig, layer_idx: int):
        super().__init__()
        self.self_attn = BartAttention(config, config.encoder_attention_heads, layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.fc1 = nn.Linear(config.d_model, config.encoder_ffn_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.activation = layers.activation(config.activation_function)
        self.pre_layer_norm = config.variant.pre_layer_norm
        self.dropout, self.activation_dropout = config.dropout, config.activation_dropout

    def feed_forward(self, hidden: torch.Tensor):
        hidden = F.dropout(self.activation(self.fc1(hidden)), p=self.activation_dropout, training=self.training)
        return self.fc2(hidden), None

    def forward(self, hidden, additive_mask, output_attentions: bool):
        hidden, weights = residual(
            hidden,
            self.self_attn_layer_norm,
            lambda x: self.self_attn(x, additive_mask, None, output_attentions),
            self.pre_layer_norm,
            self.dropout,
            self.training,
        )
        hidden, _ = residual(
            hidden, self.final_layer_norm, self.feed_forward, self.pre_layer_norm, self.dropout, self.training
        )
        if hidden.dtype == torch.float16:  # keep float16 activations finite (inf would turn into NaN later)
            limit = torch.finfo(torch.float16).max - 1000
            hidden = hidden.clamp(-limit, limit)
        return hidden, weights


class BartDecoderLayer(GradientCheckpointingLayer):
    def __init__(self, config: BartConfig, layer_idx: int):
        super().__init__()
        self.self_attn = BartAttention(config, config.decoder_attention_heads, layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.encoder_attn = BartAttention(config, config.decoder_attention_heads, layer_idx)
        self.encoder_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.fc1 = nn.Linear(config.d_model, config.decoder_ffn_dim)
        self.fc2 = nn.Linear(config.decoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.activation = layers.activation(config.activation_function)
        self.pre_layer_norm = config.variant.pre_layer_norm
        self.dropout, self.activation_dropout = config.dropout, config.activation_dropout

    feed_forward = BartEncoderLayer.feed_forward

    def forward(self, hidden, self_mask, encoder_states, cross_mask, cache, output_attentions: bool):
        hidden, self_weights = residual(
            hidden,
            self.self_attn_layer_norm,
            lambda x: self.self_attn(x, self_mask, cache, output_attentions),
            self.pre_layer_norm,
            self.dropout,
            self.training,
        )
        cross_weights = None
        if encoder_states is not None:  # (a decoder used alone, as a language model, has no cross-attention)
            hidden, cross_weights = residual(
                hidden,
                self.encoder_attn_layer_norm,
                lambda x: self.encoder_attn(x, cross_mask, cache, output_attentions, encoder_states=encoder_states),
                self.pre_layer_norm,
                self.dropout,
                self.training,
            )
        hidden, _ = residual(
            hidden, self.final_layer_norm, self.feed_forward, self.pre_layer_norm, self.dropout, self.training
        )
        return hidden, self_weights, cross_weights


# ------------------------------------------------------------------------------------------------
# Encoder and decoder
# ------------------------------------------------------------------------------------------------


def embed_scale(config: BartConfig) -> float:
    return math.sqrt(config.d_model) if config.scale_embedding else 1.0


def token_embedding(config: BartConfig, vocab_size: int) -> layers.ScaledEmbedding:
    """An embedding table that scales inside (BART style) or not (Marian/Pegasus scale outside it)."""
    scale = embed_scale(config) if config.variant.scale_in_embedding else 1.0
    return layers.ScaledEmbedding(vocab_size, config.d_model, config.pad_token_id, scale)


class BartEncoder(nn.Module):
    """Token + position embeddings, then ``encoder_layers`` bidirectional layers. -> (batch, src, d_model)"""

    def __init__(self, config: BartConfig):
        super().__init__()
        self.config = config
        variant = config.variant
        self.embed_tokens = token_embedding(config, config.vocab_size)
        self.outside_scale = 1.0 if variant.scale_in_embedding else embed_scale(config)
        self.embed_positions = make_positions(config)
        self.layernorm_embedding = nn.LayerNorm(config.d_model) if variant.layernorm_embedding else None
        self.layers = nn.ModuleList(BartEncoderLayer(config, i) for i in range(config.encoder_layers))
        self.layer_norm = nn.LayerNorm(config.d_model) if variant.pre_layer_norm else None

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

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
        batch, seq = check_inputs(
            input_ids, inputs_embeds, position_limit(config), f"The {config.variant.hub_prefix} encoder"
        )
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids) * self.outside_scale  # (batch, src, d_model)
        if isinstance(self.embed_positions, FairseqPositions):
            positions = self.embed_positions(input_ids, 0, batch, seq, inputs_embeds.device)
        else:
            positions = self.embed_positions(0, seq)
        hidden = inputs_embeds + positions.to(inputs_embeds.dtype)
        if self.layernorm_embedding is not None:
            hidden = self.layernorm_embedding(hidden)
        hidden = F.dropout(hidden, p=config.dropout, training=self.training)
        additive_mask = layers.padding_mask(attention_mask, hidden.dtype)  # (batch, 1, 1, src) or None

        all_hidden = (hidden,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            if self.training and config.encoder_layerdrop > 0 and torch.rand([]) < config.encoder_layerdrop:
                continue  # LayerDrop: skip the whole layer
            hidden, weights = layer(hidden, additive_mask, output_attentions)
            if output_hidden_states:
                all_hidden += (hidden,)
            if output_attentions:
                all_attentions += (weights,)
        if self.layer_norm is not None:
            hidden = self.layer_norm(hidden)
            if output_hidden_states:
                all_hidden = all_hidden[:-1] + (hidden,)  # as the reference: the last entry is after layer_norm
        out = BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden, attentions=all_attentions)
        return out if (config.return_dict if return_dict is None else return_dict) else out.to_tuple()


class BartDecoder(nn.Module):
    """Causal self-attention over the target so far (with a KV cache), cross-attention over the encoder's
    states. -> (batch, tgt, d_model)"""

    def __init__(self, config: BartConfig):
        super().__init__()
        self.config = config
        variant = config.variant
        self.embed_tokens = token_embedding(config, getattr(config, "decoder_vocab_size", None) or config.vocab_size)
        self.outside_scale = 1.0 if variant.scale_in_embedding else embed_scale(config)
        self.embed_positions = make_positions(config)
        self.layernorm_embedding = nn.LayerNorm(config.d_model) if variant.layernorm_embedding else None
        self.layers = nn.ModuleList(BartDecoderLayer(config, i) for i in range(config.decoder_layers))
        self.layer_norm = nn.LayerNorm(config.d_model) if variant.pre_layer_norm else None

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        encoder_hidden_states=None,
        encoder_attention_mask=None,
        past_key_values=None,
        inputs_embeds=None,
        use_cache=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        config = self.config
        name = f"The {config.variant.hub_prefix} decoder (decoder_input_ids or decoder_inputs_embeds)"
        batch, seq = check_inputs(input_ids, inputs_embeds, None, name)
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        use_cache = checkpointing_use_cache(self, config.use_cache if use_cache is None else use_cache, past_key_values)
        cache = as_encoder_decoder_cache(past_key_values, len(self.layers), use_cache)
        past = cache.get_seq_length() if cache is not None else 0
        limit = position_limit(config)
        if limit is not None and past + seq > limit:
            raise ValueError(
                f"The decoder has {limit} positions (max_position_embeddings), but it was given {past + seq} tokens "
                f"({past} cached + {seq} new). Shorten the target (labels) or generate fewer tokens."
            )

        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)  # (batch, tgt, d_model)
        inputs_embeds = inputs_embeds * self.outside_scale  # Marian/Pegasus scale given embeddings too
        if isinstance(self.embed_positions, FairseqPositions):
            positions = self.embed_positions(input_ids, past, batch, seq, inputs_embeds.device)
        else:
            positions = self.embed_positions(past, seq)  # positions continue after the cached tokens
        hidden = inputs_embeds + positions.to(inputs_embeds.dtype)
        if self.layernorm_embedding is not None:
            hidden = self.layernorm_embedding(hidden)
        hidden = F.dropout(hidden, p=config.dropout, training=self.training)
        # (batch or 1, 1, tgt, past + tgt): causal, and padding where decoder_attention_mask has zeros
        self_mask = layers.decoder_attention_mask(attention_mask, past, seq, hidden.dtype, hidden.device)
        cross_mask = layers.padding_mask(encoder_attention_mask, hidden.dtype)  # (batch, 1, 1, src) or None

        all_hidden = (hidden,) if output_hidden_states else None
        all_self = () if output_attentions else None
        all_cross = () if output_attentions and encoder_hidden_states is not None else None
        for layer in self.layers:
            if self.training and config.decoder_layerdrop > 0 and torch.rand([]) < config.decoder_layerdrop:
                continue
            hidden, self_weights, cross_weights = layer(
                hidden, self_mask, encoder_hidden_states, cross_mask, cache, output_attentions
            )
            if output_hidden_states:
                all_hidden += (hidden,)
            if output_attentions:
                all_self += (self_weights,)
            if all_cross is not None:
                all_cross += (cross_weights,)
        if cache is not None:
            cache.advance(seq)
        if self.layer_norm is not None:
            hidden = self.layer_norm(hidden)
            if output_hidden_states:
                all_hidden = all_hidden[:-1] + (hidden,)
        out = BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden,
            past_key_values=cache if use_cache else None,
            hidden_states=all_hidden,
            attentions=all_self,
            cross_attentions=all_cross,
        )
        return out if (config.return_dict if return_dict is None else return_dict) else out.to_tuple()


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class BartPreTrainedModel(PreTrainedModel):
    config_class = BartConfig
    base_model_prefix = "model"

    def __init__(self, config: BartConfig):
        super().__init__(config)
        if not isinstance(config, BartConfig):
            raise TypeError(
                f"{type(self).__name__} needs a BartConfig (or MBart/Marian/Pegasus/M2M100Config), "
                f"got {type(config).__name__}."
            )
        # Keys of old checkpoints that nothing here holds: fairseq's version counters, and position tables
        # that are rebuilt rather than loaded (Marian's; M2M-100's, which has none).
        ignored = [r"(^|\.)(encoder|decoder)\.version$"]
        if config.variant.positions == "fairseq" or (
            config.variant.positions == "sinusoidal" and not config.variant.saves_position_table
        ):
            ignored.append(r"embed_positions\.(weight|weights|_float_tensor)$")
        self._ignored_checkpoint_keys = "|".join(ignored)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, SinusoidalPositions):
            module.reset_parameters()  # not random: the fixed table
        elif isinstance(module, (nn.Linear, nn.Embedding, nn.LayerNorm)):
            layers.init_weights(module, self.config.init_std)
        if getattr(module, "final_logits_bias", None) is not None:
            with torch.no_grad():
                module.final_logits_bias.zero_()

    def _embedding_ties(self, prefix: str) -> dict[str, str]:
        """Encoder and decoder read the shared table (``shared.weight``), except a Marian decoder with a
        vocabulary of its own."""
        if not getattr(self.config, "share_encoder_decoder_embeddings", True):
            return {}
        return {
            f"{prefix}encoder.embed_tokens.weight": f"{prefix}shared.weight",
            f"{prefix}decoder.embed_tokens.weight": f"{prefix}shared.weight",
        }


class BartModel(BartPreTrainedModel):
    """Encoder + decoder. Returns the decoder's ``last_hidden_state`` (batch, tgt, d_model) and the encoder's."""

    def __init__(self, config: BartConfig):
        super().__init__(config)
        self.shares_embeddings = getattr(config, "share_encoder_decoder_embeddings", True)
        if self.shares_embeddings:
            self.shared = token_embedding(config, config.vocab_size)
        self.encoder = BartEncoder(config)
        self.decoder = BartDecoder(config)
        self._tied_weights_keys = self._embedding_ties("")
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.shared if self.shares_embeddings else self.encoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        if not self.shares_embeddings:
            self.encoder.embed_tokens = value
            return
        self.shared = self.encoder.embed_tokens = self.decoder.embed_tokens = value

    def get_encoder(self) -> BartEncoder:
        return self.encoder

    def get_decoder(self) -> BartDecoder:
        return self.decoder

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs=None,
        past_key_values=None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        config = self.config
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            if not config.variant.denoises_input_ids:
                raise ValueError(
                    f"{type(self).__name__} ({config.model_type}) needs the decoder's input: pass decoder_input_ids "
                    "(or labels, from which the model makes them), or call model.generate(input_ids) to translate."
                )
            if input_ids is None:
                raise ValueError(
                    "Pass decoder_input_ids (or labels); without them BART denoises input_ids, "
                    "which were not given either."
                )
            # BART's pre-training task: reconstruct the input, reading it shifted right
            decoder_input_ids = decoder_input_ids_from_labels(config, input_ids)
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                inputs_embeds=inputs_embeds,
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
                return_dict=True,
            )
        elif not isinstance(encoder_outputs, BaseModelOutput):
            encoder_outputs = BaseModelOutput(*encoder_outputs)  # a tuple: (last state, hidden states, attentions)
        decoder_out = self.decoder(
            input_ids=decoder_input_ids,
            attention_mask=decoder_attention_mask,
            encoder_hidden_states=encoder_outputs[0],
            encoder_attention_mask=attention_mask,
            past_key_values=past_key_values,
            inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        out = Seq2SeqModelOutput(
            last_hidden_state=decoder_out.last_hidden_state, **seq2seq_fields(encoder_outputs, decoder_out)
        )
        return self.format_output(out, return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class BartForConditionalGeneration(GenerationMixin, BartPreTrainedModel):
    """The model plus the language-modelling head (tied to the token embeddings): logits (batch, tgt, vocab)."""

    def __init__(self, config: BartConfig):
        super().__init__(config)
        self.model = BartModel(config)
        target_vocab = self.model.decoder.embed_tokens.num_embeddings  # Marian's decoder_vocab_size when unshared
        if config.variant.final_logits_bias:
            # A learned-then-frozen bias per vocabulary entry (zero in most checkpoints, not in Marian's).
            self.register_buffer("final_logits_bias", torch.zeros(1, target_vocab))
        else:
            self.final_logits_bias = None
        self.lm_head = nn.Linear(config.d_model, target_vocab, bias=False)
        if self.model.shares_embeddings:
            self._tied_weights_keys = {**self._embedding_ties("model."), "lm_head.weight": "model.shared.weight"}
        elif config.tie_word_embeddings:
            self._tied_weights_keys = {"lm_head.weight": "model.decoder.embed_tokens.weight"}
        else:
            self._tied_weights_keys = {}
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def get_encoder(self) -> BartEncoder:
        return self.model.encoder

    def get_decoder(self) -> BartDecoder:
        return self.model.decoder

    def max_total_length(self) -> int | None:
        """Decoder positions: generation cannot go past them (None for M2M-100, whose positions are computed)."""
        return position_limit(self.config)

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return decoder_input_ids_from_labels(self.config, labels)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs=None,
        past_key_values=None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        if labels is not None:
            use_cache = False  # training: the whole target at once, nothing to keep
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = decoder_input_ids_from_labels(self.config, labels)
        base = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.lm_head(base.last_hidden_state)  # (batch, tgt, vocab)
        if self.final_logits_bias is not None:
            logits = logits + self.final_logits_bias.to(logits.dtype)
        loss = layers.seq2seq_lm_loss(logits, labels) if labels is not None else None
        out = Seq2SeqLMOutput(loss=loss, logits=logits, **{k: v for k, v in base.items() if k != "last_hidden_state"})
        return self.format_output(out, return_dict)


class BartClassificationHead(nn.Module):
    """dropout -> dense -> tanh -> dropout -> out_proj, on one vector per sequence."""

    def __init__(self, config: BartConfig):
        super().__init__()
        self.dense = nn.Linear(config.d_model, config.d_model)
        self.dropout = nn.Dropout(getattr(config, "classifier_dropout", 0.0) or 0.0)
        self.out_proj = nn.Linear(config.d_model, config.num_labels)

    def forward(self, sentence: torch.Tensor) -> torch.Tensor:
        x = self.dropout(torch.tanh(self.dense(self.dropout(sentence))))
        return self.out_proj(x)  # (batch, num_labels)


class BartForSequenceClassification(BartPreTrainedModel):
    """Classify a sequence (or a pair, e.g. MNLI, which zero-shot classification uses) from the decoder's
    state at the last </s> token of each row: logits (batch, num_labels)."""

    def __init__(self, config: BartConfig):
        super().__init__(config)
        if not config.variant.has_classifier:
            raise ValueError(
                f"model_type {config.model_type!r} has no sequence-classification head in the reference; "
                "BartForSequenceClassification takes bart and mbart checkpoints."
            )
        self.model = BartModel(config)
        self.classification_head = BartClassificationHead(config)
        self._tied_weights_keys = self._embedding_ties("model.")
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs=None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        if input_ids is None:
            raise ValueError(
                f"{type(self).__name__} needs input_ids (not inputs_embeds): it reads the state at the "
                "</s> tokens, which it finds in the ids."
            )
        if labels is not None:
            use_cache = False
        base = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        hidden = base.last_hidden_state  # (batch, seq, d_model)
        is_eos = input_ids.eq(self.config.eos_token_id)  # (batch, seq)
        eos_counts = is_eos.sum(dim=1)
        if bool((eos_counts != eos_counts[0]).any()):
            raise ValueError(
                f"All examples must have the same number of <eos> tokens (id {self.config.eos_token_id}); the rows "
                f"have {eos_counts.tolist()}. Tokenize every row the same way (the tokenizer adds one </s> per text, "
                "two for a pair)."
            )
        if int(eos_counts[0]) == 0:
            raise ValueError(
                f"The input has no <eos> token (id {self.config.eos_token_id}); the classifier reads the "
                "state at the last </s>. Tokenize with add_special_tokens=True."
            )
        sentence = hidden[is_eos].view(hidden.shape[0], -1, hidden.shape[-1])[:, -1]  # last </s>: (batch, d_model)
        logits = self.classification_head(sentence)
        loss = None
        if labels is not None:
            loss = layers.sequence_classification_loss(logits, labels.to(logits.device), self.config)
        out = Seq2SeqSequenceClassifierOutput(
            loss=loss, logits=logits, **{k: v for k, v in base.items() if k != "last_hidden_state"}
        )
        return self.format_output(out, return_dict)


# ------------------------------------------------------------------------------------------------
# The variants' Hub names: the same classes
# ------------------------------------------------------------------------------------------------

MBartModel = MarianModel = PegasusModel = M2M100Model = BartModel
MBartForConditionalGeneration = MarianMTModel = PegasusForConditionalGeneration = M2M100ForConditionalGeneration = (
    BartForConditionalGeneration
)
MBartForSequenceClassification = BartForSequenceClassification
