"""OPT, XGLM and BioGPT: fairseq's decoder-only Transformer, three Hub families as config switches.

    model_type  config class   checkpoints (for example)                                  Hub class names
    opt         OPTConfig      facebook/opt-125m ... facebook/opt-66b, facebook/opt-iml-*  OPT*
    xglm        XGLMConfig     facebook/xglm-564M, facebook/xglm-1.7B ... xglm-7.5B        XGLM*
    biogpt      BioGptConfig   microsoft/biogpt, microsoft/BioGPT-Large                    BioGpt*

The architecture, the same in all three:

    input_ids (batch, seq)
      -> embed_tokens (x sqrt(hidden_size) with scale_embedding)       (batch, seq, word_embed_proj_dim)
      -> [project_in]                                                  (batch, seq, hidden_size)
      -> + embed_positions (position p: row p + 2 of a table, or sinusoids of p + 2)
      -> [dropout]
      -> num_hidden_layers x OPTDecoderLayer, in one of two orders:
           pre-LN:   x = x + self_attn(self_attn_layer_norm(x))     causal self-attention
                     x = x + fc2(act(fc1(final_layer_norm(x))))     feed-forward
           post-LN:  x = self_attn_layer_norm(x + self_attn(x))
                     x = final_layer_norm(x + fc2(act(fc1(x))))
      -> [final norm] -> [project_out]                                 (batch, seq, word_embed_proj_dim)
      -> lm_head (tied to embed_tokens)                                (batch, seq, vocab)

What the variants switch (``config.variant``, fixed per model_type; nothing of it goes to config.json):

              positions                 embeddings        dropout on embeddings   final norm         LM head
    opt       learned table, offset 2   unscaled          no                      final_layer_norm   lm_head
    xglm      sinusoids, offset 2       x sqrt(d_model)   yes                     layer_norm         lm_head
    biogpt    learned table, offset 2   x sqrt(hidden)    yes                     layer_norm         output_projection

and OPT's own config switches (XGLM and BioGPT have fixed values, the class attributes of ``OPTConfig``):
- ``do_layer_norm_before=False``: post-LN layers and no final norm (facebook/opt-350m);
- ``word_embed_proj_dim`` < hidden_size: narrow token embeddings with ``project_in``/``project_out`` around the
  stack (opt-350m: 512 -> 1024 -> 512), so the tied LM head works at the narrow width;
- ``enable_bias``, ``layer_norm_elementwise_affine``: biases in the projections, weights in the LayerNorms.

The "offset 2" is a fairseq leftover: the tables have 2 extra rows at the start, position p reads row p + 2.
Positions count each row's real tokens (left padding does not move them): from ``attention_mask`` when no
``position_ids`` are given, as ``generate`` gives them.

Module names are the Hub's state-dict keys, so checkpoints load with no key map:

    opt      model.decoder.embed_tokens.weight, model.decoder.layers.0.self_attn.q_proj.weight, ..., lm_head.weight
    xglm     model.embed_tokens.weight, model.layers.0.fc1.weight, model.layer_norm.weight, lm_head.weight
    biogpt   biogpt.embed_positions.weight, biogpt.layers.0.fc1.weight, ..., output_projection.weight

OPT's bare model (``OPTModel``) holds the decoder stack one level down, at ``.decoder``; XGLM's and BioGPT's
bare models are the stack itself, so ``XGLMModel`` and ``BioGptModel`` are ``OPTDecoder``. The task heads
(``XGLMForCausalLM`` is ``OPTForCausalLM``, ...) read their config to name their parts, and
``architecture_name`` writes the variant's Hub class name into config.json.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import layers
from ..cache import KVCache
from ..configuration import PretrainedConfig
from ..generation import GenerationMixin
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs
from ..outputs import QuestionAnsweringModelOutput, TokenClassifierOutput

# ------------------------------------------------------------------------------------------------
# Variants and configs
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """The differences between the three families (see the table in the module docstring)."""

    hub_prefix: str  # "XGLM": the family's name in its Hub class names and in messages
    positions: str  # "learned" (a trained table) or "sinusoidal" (computed, no table, no length limit)
    base_name: str  # attribute of the bare model in the task models, and the prefix of their checkpoint keys
    nested_decoder: bool  # OPT: the bare model holds the stack at .decoder (keys model.decoder.*)
    final_norm_name: str  # the stack's last LayerNorm: "final_layer_norm" (OPT) or "layer_norm"
    lm_head_name: str  # "lm_head", or BioGPT's "output_projection"
    embedding_dropout: bool  # dropout on token + position embeddings (OPT has none there)

    @property
    def embed_tokens_key(self) -> str:
        """Where a task model keeps the token embeddings (the tied LM head's weight)."""
        return f"{self.base_name}.{'decoder.' if self.nested_decoder else ''}embed_tokens.weight"


VARIANTS = {
    "opt": Variant(
        "OPT",
        positions="learned",
        base_name="model",
        nested_decoder=True,
        final_norm_name="final_layer_norm",
        lm_head_name="lm_head",
        embedding_dropout=False,
    ),
    "xglm": Variant(
        "XGLM",
        positions="sinusoidal",
        base_name="model",
        nested_decoder=False,
        final_norm_name="layer_norm",
        lm_head_name="lm_head",
        embedding_dropout=True,
    ),
    "biogpt": Variant(
        "BioGpt",
        positions="learned",
        base_name="biogpt",
        nested_decoder=False,
        final_norm_name="layer_norm",
        lm_head_name="output_projection",
        embedding_dropout=True,
    ),
}
POSITION_OFFSET = 2  # position p is row p + 2 of the tables (fairseq reserved the first rows)


class OPTConfig(PretrainedConfig):
    """config.json of OPT checkpoints. XGLMConfig and BioGptConfig below change ``defaults`` (the reference's
    keys and values for their model_type) and ``attribute_map`` (their names for the same hyper-parameters);
    the modules read the names used here: hidden_size, ffn_dim, activation_function, dropout, ..."""

    model_type = "opt"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    attribute_map = {"initializer_range": "init_std"}
    defaults = dict(
        vocab_size=50272,
        hidden_size=768,  # width of every token's vector inside the stack
        num_hidden_layers=12,
        ffn_dim=3072,  # feed-forward width
        max_position_embeddings=2048,  # rows of the position table: the longest sequence
        do_layer_norm_before=True,  # pre-LN x + f(norm(x)); False: post-LN norm(x + f(x)) (opt-350m)
        _remove_final_layer_norm=False,  # pre-LN without the final norm: checkpoints fine-tuned before v4.20
        word_embed_proj_dim=None,  # width of the token embeddings; None: hidden_size (opt-350m: 512)
        dropout=0.1,  # on attention and feed-forward outputs
        attention_dropout=0.0,  # on attention probabilities
        num_attention_heads=12,
        activation_function="relu",
        layerdrop=0.0,  # training: probability of skipping a whole layer
        init_std=0.02,
        use_cache=True,
        pad_token_id=1,
        bos_token_id=2,
        eos_token_id=2,
        enable_bias=True,  # biases in the attention and feed-forward projections
        layer_norm_elementwise_affine=True,  # LayerNorms with a weight and a bias
        tie_word_embeddings=True,
    )

    # What the modules read where a family's config.json has no such key (class attributes: never saved).
    scale_embedding = False  # multiply token embeddings by sqrt(hidden_size) (XGLM, BioGPT: a key, True)
    activation_dropout = 0.0  # dropout after the feed-forward's activation (XGLM, BioGPT: a key)
    do_layer_norm_before = True  # (OPT: a key) XGLM and BioGPT are pre-LN
    _remove_final_layer_norm = False
    word_embed_proj_dim = None
    enable_bias = True
    layer_norm_elementwise_affine = True

    def __init__(self, **kwargs):
        values = {**type(self).defaults, **kwargs}
        super().__init__(**values)  # fields the base class does not name become attributes
        if "word_embed_proj_dim" in values and self.word_embed_proj_dim is None:
            self.word_embed_proj_dim = self.hidden_size  # written to config.json, as the reference does
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}."
            )
        if getattr(self, "add_cross_attention", False):
            raise ValueError(
                f"{self.variant.hub_prefix} with add_cross_attention=True (as the decoder of an encoder-decoder) is "
                "not implemented here; workbench runs these models as language models only."
            )

    @property
    def variant(self) -> Variant:
        return VARIANTS[self.model_type]

    @property
    def embedding_dim(self) -> int:
        """Width of the token embeddings, and of the tied LM head's input: OPT's word_embed_proj_dim."""
        return self.word_embed_proj_dim or self.hidden_size


class XGLMConfig(OPTConfig):
    """XGLM, the multilingual GPT (facebook/xglm-*): sinusoidal positions, scaled embeddings, pre-LN."""

    model_type = "xglm"
    attribute_map = {
        "hidden_size": "d_model",
        "num_attention_heads": "attention_heads",
        "num_hidden_layers": "num_layers",
        "initializer_range": "init_std",
    }
    defaults = dict(
        vocab_size=256008,
        max_position_embeddings=2048,  # the trained context (the sinusoids themselves have no limit)
        d_model=1024,
        ffn_dim=4096,
        num_layers=24,
        attention_heads=16,
        activation_function="gelu",
        dropout=0.1,  # on embeddings, attention and feed-forward outputs
        attention_dropout=0.1,
        activation_dropout=0.0,
        layerdrop=0.0,
        init_std=0.02,
        scale_embedding=True,
        use_cache=True,
        decoder_start_token_id=2,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        add_cross_attention=False,
        tie_word_embeddings=True,
    )


class BioGptConfig(OPTConfig):
    """BioGPT, a GPT for biomedical text (microsoft/biogpt): learned positions, scaled embeddings, pre-LN."""

    model_type = "biogpt"
    attribute_map = {
        "ffn_dim": "intermediate_size",
        "activation_function": "hidden_act",
        "dropout": "hidden_dropout_prob",
        "attention_dropout": "attention_probs_dropout_prob",
    }
    defaults = dict(
        vocab_size=42384,
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        intermediate_size=4096,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,  # on embeddings, attention and feed-forward outputs
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=1024,
        initializer_range=0.02,
        layer_norm_eps=1e-12,  # kept for config.json; the reference's LayerNorms use eps 1e-5 (so do these)
        scale_embedding=True,
        use_cache=True,
        layerdrop=0.0,
        activation_dropout=0.0,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        tie_word_embeddings=True,
    )


def position_limit(config: OPTConfig) -> int | None:
    """Most positions a sequence may use (None: sinusoids are computed for any position)."""
    return config.max_position_embeddings if config.variant.positions == "learned" else None


# Tiny presets for tests and teaching: seconds to build and run on a CPU.
_TINY = dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=128)
TINY_PRESETS = {
    "opt-tiny-random": dict(_TINY, model_type="opt", ffn_dim=64),
    # opt-350m's shape: post-LN, and token embeddings narrower than the stack
    "opt-350m-style-tiny-random": dict(
        _TINY, model_type="opt", ffn_dim=64, do_layer_norm_before=False, word_embed_proj_dim=16
    ),
    "xglm-tiny-random": dict(
        model_type="xglm",
        vocab_size=128,
        d_model=32,
        num_layers=2,
        attention_heads=4,
        ffn_dim=64,
        max_position_embeddings=128,
    ),
    "biogpt-tiny-random": dict(_TINY, model_type="biogpt", intermediate_size=64),
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class OPTLearnedPositionalEmbedding(nn.Embedding):
    """A trained table of positions (OPT, BioGPT): position p reads row p + 2, so ``max_positions`` positions
    need ``max_positions + 2`` rows."""

    def __init__(self, max_positions: int, dim: int):
        super().__init__(max_positions + POSITION_OFFSET, dim)

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        return super().forward(position_ids + POSITION_OFFSET)  # (batch, seq, dim)


class XGLMSinusoidalPositionalEmbedding(nn.Module):
    """XGLM's positions: fixed sinusoids of p + 2, computed on the fly (no parameters, no length limit).

    Each vector is [sin(r * f_0), ..., sin(r * f_{h-1}), cos(r * f_0), ..., cos(r * f_{h-1})] for r = p + 2,
    h = dim // 2 and f_i = exp(-i * ln(10000) / (h - 1)); row ``pad_token_id`` of fairseq's table is zeros.
    """

    def __init__(self, dim: int, padding_idx: int | None):
        super().__init__()
        self.dim, self.padding_idx = dim, padding_idx

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        rows = position_ids + POSITION_OFFSET
        vectors = layers.sinusoids_log_spaced(rows, self.dim)  # (batch, seq, dim)
        if self.padding_idx is None:
            return vectors
        return vectors.masked_fill((rows == self.padding_idx)[..., None], 0.0)


def layer_norm(config: OPTConfig) -> nn.LayerNorm:
    return nn.LayerNorm(config.hidden_size, elementwise_affine=config.layer_norm_elementwise_affine)


class OPTAttention(nn.Module):
    """Causal multi-head self-attention with separate q, k, v projections."""

    def __init__(self, config: OPTConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.dropout = config.attention_dropout
        width, bias = config.hidden_size, config.enable_bias
        self.k_proj = nn.Linear(width, width, bias=bias)
        self.v_proj = nn.Linear(width, width, bias=bias)
        self.q_proj = nn.Linear(width, width, bias=bias)
        self.out_proj = nn.Linear(width, width, bias=bias)
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden, additive_mask, cache: KVCache | None, output_attentions: bool):
        q = layers.split_heads(self.q_proj(hidden), self.num_heads)  # (batch, heads, seq, head_dim)
        k = layers.split_heads(self.k_proj(hidden), self.num_heads)
        v = layers.split_heads(self.v_proj(hidden), self.num_heads)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # (batch, heads, past + seq, head_dim)
        context, weights = layers.attention(
            q,
            k,
            v,
            additive_mask,
            dropout=self.dropout if self.training else 0.0,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return self.out_proj(layers.merge_heads(context)), weights  # (batch, seq, hidden)


class OPTDecoderLayer(GradientCheckpointingLayer):
    def __init__(self, config: OPTConfig, layer_idx: int):
        super().__init__()
        self.self_attn = OPTAttention(config, layer_idx)
        self.self_attn_layer_norm = layer_norm(config)
        self.fc1 = nn.Linear(config.hidden_size, config.ffn_dim, bias=config.enable_bias)
        self.fc2 = nn.Linear(config.ffn_dim, config.hidden_size, bias=config.enable_bias)
        self.final_layer_norm = layer_norm(config)
        self.activation = layers.activation(config.activation_function)
        self.pre_layer_norm = config.do_layer_norm_before
        self.dropout, self.activation_dropout = config.dropout, config.activation_dropout

    def forward(self, hidden, additive_mask, cache, output_attentions: bool):
        # self-attention: pre-LN x + f(norm(x)), or post-LN norm(x + f(x))
        residual = hidden
        if self.pre_layer_norm:
            hidden = self.self_attn_layer_norm(hidden)
        attended, weights = self.self_attn(hidden, additive_mask, cache, output_attentions)
        hidden = residual + F.dropout(attended, p=self.dropout, training=self.training)
        if not self.pre_layer_norm:
            hidden = self.self_attn_layer_norm(hidden)

        # feed-forward, in the same order
        residual = hidden
        if self.pre_layer_norm:
            hidden = self.final_layer_norm(hidden)
        hidden = self.activation(self.fc1(hidden))  # (batch, seq, ffn_dim)
        hidden = F.dropout(hidden, p=self.activation_dropout, training=self.training)
        hidden = residual + F.dropout(self.fc2(hidden), p=self.dropout, training=self.training)
        if not self.pre_layer_norm:
            hidden = self.final_layer_norm(hidden)
        return hidden, weights


# ------------------------------------------------------------------------------------------------
# The decoder stack and the bare models
# ------------------------------------------------------------------------------------------------


class OPTPreTrainedModel(PreTrainedModel):
    config_class = OPTConfig
    base_model_prefix = "model"

    def __init__(self, config: OPTConfig):
        super().__init__(config)
        if not isinstance(config, OPTConfig):
            raise TypeError(
                f"{type(self).__name__} needs an OPTConfig (or XGLMConfig, BioGptConfig), got {type(config).__name__}."
            )

    def bare_model(self) -> PreTrainedModel:
        """A new bare model for a task head: OPTModel (the stack at .decoder) for OPT, the stack itself else."""
        return OPTModel(self.config) if self.config.variant.nested_decoder else OPTDecoder(self.config)


class OPTDecoder(OPTPreTrainedModel):
    """Embeddings + decoder layers + final norm: OPT's ``model.decoder``, and the bare model of XGLM and BioGPT
    (``XGLMModel``, ``BioGptModel``). Returns ``last_hidden_state`` (batch, seq, word_embed_proj_dim)."""

    def __init__(self, config: OPTConfig):
        super().__init__(config)
        variant = config.variant
        scale = math.sqrt(config.hidden_size) if config.scale_embedding else 1.0
        self.embed_tokens = layers.ScaledEmbedding(config.vocab_size, config.embedding_dim, config.pad_token_id, scale)
        if variant.positions == "learned":
            self.embed_positions = OPTLearnedPositionalEmbedding(config.max_position_embeddings, config.hidden_size)
        else:
            self.embed_positions = XGLMSinusoidalPositionalEmbedding(config.hidden_size, config.pad_token_id)
        narrow = config.embedding_dim != config.hidden_size  # opt-350m: 512-wide embeddings, a 1024-wide stack
        self.project_in = nn.Linear(config.embedding_dim, config.hidden_size, bias=False) if narrow else None
        self.project_out = nn.Linear(config.hidden_size, config.embedding_dim, bias=False) if narrow else None
        self.layers = nn.ModuleList(OPTDecoderLayer(config, i) for i in range(config.num_hidden_layers))
        has_final_norm = config.do_layer_norm_before and not config._remove_final_layer_norm
        # named as in the family's checkpoints: final_layer_norm (OPT) or layer_norm (XGLM, BioGPT)
        self.add_module(variant.final_norm_name, layer_norm(config) if has_final_norm else None)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    def architecture_name(self) -> str:
        """Saved on its own: XGLMModel or BioGptModel (OPT's stack alone is the reference's OPTDecoder)."""
        variant = self.config.variant
        return "OPTDecoder" if variant.nested_decoder else f"{variant.hub_prefix}Model"

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values=None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        config, variant = self.config, self.config.variant
        name = f"{variant.hub_prefix}Model"
        limit = position_limit(config)
        check_inputs(input_ids, inputs_embeds, limit, name)
        run = self.decoder_pass(len(self.layers), past_key_values, use_cache, output_attentions, output_hidden_states)
        past = run.past_length

        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)  # (batch, seq, word_embed_proj_dim), scaled if configured
        seq = inputs_embeds.shape[1]
        if limit is not None:  # XGLM's sinusoids have no limit
            layers.check_decoder_length(past, seq, limit, name)
        if position_ids is None:  # left padding: count real tokens only
            position_ids = layers.decoder_positions(attention_mask, past, seq, inputs_embeds.device)
        hidden = inputs_embeds if self.project_in is None else self.project_in(inputs_embeds)  # (batch, seq, hidden)
        hidden = hidden + self.embed_positions(position_ids).to(hidden.dtype)
        if variant.embedding_dropout:
            hidden = F.dropout(hidden, p=config.dropout, training=self.training)
        additive_mask = layers.decoder_attention_mask(attention_mask, past, seq, hidden.dtype, hidden.device)

        run.record(hidden)
        for layer in self.layers:
            if self.training and config.layerdrop > 0 and torch.rand([]) < config.layerdrop:
                continue  # LayerDrop: skip the whole layer
            hidden, weights = layer(hidden, additive_mask, run.cache, run.output_attentions)
            run.record(hidden, weights)
        final_norm = getattr(self, variant.final_norm_name)
        if final_norm is not None:
            hidden = final_norm(hidden)
        if self.project_out is not None:
            hidden = self.project_out(hidden)  # (batch, seq, word_embed_proj_dim)
        return self.format_output(run.finish(hidden), return_dict)  # hidden_states end with the stack's output


class OPTModel(OPTPreTrainedModel):
    """OPT's bare model: the decoder stack at ``.decoder`` (checkpoint keys ``decoder.*``)."""

    def __init__(self, config: OPTConfig):
        super().__init__(config)
        if not config.variant.nested_decoder:
            prefix = config.variant.hub_prefix
            raise ValueError(f"OPTModel is OPT's bare model; the bare model of {prefix} is {prefix}Model.")
        self.decoder = OPTDecoder(config)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.decoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.decoder.embed_tokens = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values=None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        return self.decoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=return_dict,
        )


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


def require_head(config: OPTConfig, task: str, model_name: str) -> None:
    """Refuse a head the reference does not have for this family (XGLM has no classifier, ...)."""
    from .auto import MODEL_TYPES

    tasks = MODEL_TYPES[config.model_type].tasks
    if task not in tasks:
        raise ValueError(
            f"{model_name} is a {task} head, which the reference does not have for model_type "
            f"{config.model_type!r} (its heads: {', '.join(sorted(tasks))})."
        )


class OPTTaskModel(OPTPreTrainedModel):
    """Shared plumbing: the bare model lives at ``self.model`` (``self.biogpt`` for BioGPT)."""

    def __init__(self, config: OPTConfig):
        super().__init__(config)
        self.base_model_prefix = config.variant.base_name
        self.add_module(self.base_model_prefix, self.bare_model())


class OPTForCausalLM(GenerationMixin, OPTTaskModel):
    """The stack plus the language-modelling head (tied to the token embeddings): logits (batch, seq, vocab)."""

    def __init__(self, config: OPTConfig):
        super().__init__(config)
        variant = config.variant
        # lm_head, or BioGPT's output_projection
        self.add_module(variant.lm_head_name, nn.Linear(config.embedding_dim, config.vocab_size, bias=False))
        self._tied_weights_keys = {f"{variant.lm_head_name}.weight": variant.embed_tokens_key}
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return getattr(self, self.config.variant.lm_head_name)

    def context_window(self) -> int:
        """Longest sequence, prompt plus generated tokens, the model was trained on (generate refuses longer
        prompts)."""
        return self.config.max_position_embeddings

    def max_total_length(self) -> int | None:
        """A hard limit where positions are a table (OPT, BioGPT); XGLM's sinusoids go on past it."""
        return position_limit(self.config)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values=None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
    ):
        base = self.run_base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        return self.causal_lm_output(base, labels, logits_to_keep, return_dict)  # lm_head or output_projection


class OPTForSequenceClassification(OPTTaskModel):
    """Classify a sequence from the state at its last real token (OPT, BioGPT): logits (batch, num_labels).

    That token is each row's last one that is not ``config.pad_token_id`` (left or right padding alike)."""

    def __init__(self, config: OPTConfig):
        require_head(config, "sequence-classification", type(self).__name__)
        super().__init__(config)
        self.score = nn.Linear(config.embedding_dim, config.num_labels, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values=None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        base = self.run_base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        return self.sequence_classification_output(base, input_ids, attention_mask, labels, return_dict)


class OPTForQuestionAnswering(OPTTaskModel):
    """Extractive question answering (OPT): start and end logits (batch, seq) of the answer span."""

    def __init__(self, config: OPTConfig):
        require_head(config, "question-answering", type(self).__name__)
        super().__init__(config)
        self.qa_outputs = nn.Linear(config.embedding_dim, 2)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        base = self.run_base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=False,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        start_logits, end_logits = layers.span_logits(self.qa_outputs(base.last_hidden_state))  # (batch, seq) each
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = layers.span_loss(start_logits, end_logits, start_positions, end_positions)
        return self.finish(
            QuestionAnsweringModelOutput, base, return_dict, loss=loss, start_logits=start_logits, end_logits=end_logits
        )


class BioGptForTokenClassification(OPTTaskModel):
    """A label per token (BioGPT): dropout -> classifier on every position, logits (batch, seq, num_labels)."""

    def __init__(self, config: OPTConfig):
        require_head(config, "token-classification", type(self).__name__)
        super().__init__(config)
        self.dropout = layers.classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        base = self.run_base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=False,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.classifier(self.dropout(base.last_hidden_state))  # (batch, seq, num_labels)
        loss = None
        if labels is not None:
            if attention_mask is not None:  # as the reference: padding positions never count
                labels = labels.masked_fill(attention_mask.to(labels.device) == 0, -100)
            loss = layers.token_classification_loss(logits, labels.to(logits.device))
        return self.finish(TokenClassifierOutput, base, return_dict, loss=loss, logits=logits)


# ------------------------------------------------------------------------------------------------
# The variants' Hub names: the same classes
# ------------------------------------------------------------------------------------------------

XGLMPreTrainedModel = BioGptPreTrainedModel = OPTPreTrainedModel
XGLMModel = BioGptModel = OPTDecoder
XGLMForCausalLM = BioGptForCausalLM = OPTForCausalLM
BioGptForSequenceClassification = OPTForSequenceClassification
