"""Gemma and Gemma 2 (Google) in one file: LLaMA's decoder with Gemma's own norms, embeddings and MLP.

    input_ids (batch, seq)
      -> embed_tokens * sqrt(hidden_size)                                (batch, seq, hidden)
      -> num_hidden_layers x GemmaDecoderLayer:
           Gemma:    x = x + self_attn(input_layernorm(x))
                     x = x + mlp(post_attention_layernorm(x))
           Gemma 2:  x = x + post_attention_layernorm(self_attn(input_layernorm(x)))
                     x = x + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(x)))
      -> norm -> lm_head (tied to the embeddings)                        (batch, seq, vocab)
      -> Gemma 2: logits = final_logit_softcapping * tanh(logits / final_logit_softcapping)

    norms       RMSNorm that scales by (1 + weight), in float32 (weights are stored centred on 0)
    attention   rotary q/k, grouped-query; head_dim is its own setting (256), not hidden_size / heads
    mlp         GeGLU: down_proj(gelu_tanh(gate_proj(x)) * up_proj(x))

Gemma 2's switches (config keys of its config.json):
    query_pre_attn_scalar     scores are q.k / sqrt(query_pre_attn_scalar) instead of / sqrt(head_dim)
    attn_logit_softcapping    scores -> cap * tanh(scores / cap) before the mask (always the eager path)
    layer_types               "sliding_attention" layers see the last ``sliding_window`` keys, the
                              others ("full_attention") all of them; by default they alternate, sliding first

Module names are the Hub's state-dict keys (``model.layers.0.pre_feedforward_layernorm.weight``), so
checkpoints load with no key map.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..cache import KVCache
from ..configuration import PretrainedConfig
from ..generation import GenerationMixin
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs


class GemmaConfig(PretrainedConfig):
    """config.json of Gemma checkpoints. ``Gemma2Config`` below changes the defaults and adds its switches."""

    model_type = "gemma"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    sandwich_norms = False  # Gemma 2: norms after attention and after the MLP too (see the module docstring)
    defaults = dict(
        vocab_size=256000,
        hidden_size=3072,  # width of every token's vector
        intermediate_size=24576,  # width of the GeGLU feed-forward
        num_hidden_layers=28,
        num_attention_heads=16,  # query heads
        num_key_value_heads=16,  # key/value heads (grouped-query attention; Gemma-2b: 1, multi-query)
        head_dim=256,  # channels per head, independent of hidden_size
        hidden_act="gelu_pytorch_tanh",  # "gelu" in the first releases' files meant this tanh approximation too
        max_position_embeddings=8192,
        initializer_range=0.02,
        rms_norm_eps=1e-6,
        use_cache=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
        tie_word_embeddings=True,
        attention_bias=False,  # bias on q/k/v/o projections
        attention_dropout=0.0,
        use_bidirectional_attention=None,  # True: every token sees every other (embedding models; not supported)
    )

    def __init__(self, **kwargs):
        values = {**type(self).defaults, **kwargs}
        # Rotary settings: v5 files carry `rope_parameters`; older ones `rope_theta` + `rope_scaling`.
        rope = values.pop("rope_parameters", None) or values.pop("rope_scaling", None)
        values.pop("rope_scaling", None)
        theta = values.pop("rope_theta", None)
        super().__init__(**values)  # fields the base class does not name become attributes
        if getattr(self, "hidden_act", None) == "gelu":  # as the reference: the tanh approximation was meant
            self.hidden_act = "gelu_pytorch_tanh"
        if self.use_bidirectional_attention:
            raise ValueError(
                f"This {self.model_type} config sets use_bidirectional_attention=True (an embedding model in which "
                "every token sees every other); workbench implements Gemma as a causal decoder only."
            )
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            if self.hidden_size % self.num_attention_heads:
                raise ValueError(
                    f"hidden_size={self.hidden_size} is not a multiple of "
                    f"num_attention_heads={self.num_attention_heads}; set head_dim explicitly."
                )
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads={self.num_attention_heads} must be a multiple of "
                f"num_key_value_heads={self.num_key_value_heads} (each key/value head serves a group of query heads)."
            )
        self.rope_parameters = layers.standard_rope_parameters(
            rope, 10000.0 if theta is None else theta, self.max_position_embeddings
        )

    @property
    def rope_theta(self) -> float:
        return self.rope_parameters["rope_theta"]

    @property
    def activation(self) -> str:
        """The MLP's activation: ``hidden_act`` here, ``hidden_activation`` in Gemma 2's files."""
        return self.hidden_act

    @property
    def attention_scale(self) -> float:
        """What q.k is multiplied by: 1 / sqrt(head_dim); Gemma 2: 1 / sqrt(query_pre_attn_scalar)."""
        return getattr(self, "query_pre_attn_scalar", self.head_dim) ** -0.5

    def sliding_window_of(self, layer_idx: int) -> int | None:
        """The attention window of one layer, or None for full (causal) attention."""
        layer_types = getattr(self, "layer_types", None)
        if layer_types is None or layer_types[layer_idx] != "sliding_attention":
            return None
        return self.sliding_window


class Gemma2Config(GemmaConfig):
    model_type = "gemma2"
    sandwich_norms = True
    defaults = {
        **{key: value for key, value in GemmaConfig.defaults.items() if key != "hidden_act"},
        "hidden_size": 2304,
        "intermediate_size": 9216,
        "num_hidden_layers": 26,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "hidden_activation": "gelu_pytorch_tanh",  # Gemma 2's name for hidden_act
        "query_pre_attn_scalar": 256,  # scores are q.k / sqrt(this)
        "sliding_window": 4096,  # keys a "sliding_attention" layer sees (itself included)
        "layer_types": None,  # per layer "sliding_attention" or "full_attention"; None: alternate, sliding first
        "final_logit_softcapping": 30.0,  # logits -> cap * tanh(logits / cap); None: off
        "attn_logit_softcapping": 50.0,  # attention scores likewise, before the mask; None: off
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.layer_types is None:
            self.layer_types = [
                "sliding_attention" if i % 2 == 0 else "full_attention" for i in range(self.num_hidden_layers)
            ]
        if len(self.layer_types) != self.num_hidden_layers:
            raise ValueError(
                f"layer_types lists {len(self.layer_types)} layers but num_hidden_layers={self.num_hidden_layers}; "
                "give one entry ('sliding_attention' or 'full_attention') per layer."
            )

    @property
    def activation(self) -> str:
        return self.hidden_activation


# Tiny presets for tests and teaching: seconds to build and run on a CPU (``auto.tiny_config(name)`` builds one).
_TINY = dict(
    vocab_size=128,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,  # 4 heads of 16 channels: wider than hidden_size, as in the real models
    max_position_embeddings=256,
)
TINY_PRESETS = {
    "gemma-tiny-random": dict(_TINY, model_type="gemma"),
    "gemma2-tiny-random": dict(_TINY, model_type="gemma2", sliding_window=8, query_pre_attn_scalar=16),
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class GemmaRMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * (1 + weight), all in float32, then back to the input's dtype.

    Unlike LLaMA's RMSNorm the weight is an offset from 1 (a fresh norm has weight 0), and the product is
    taken before rounding to the input's dtype (LLaMA rounds first, then scales).
    """

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(hidden_size))
        self.eps = eps

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = hidden.float()
        normed = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)  # (..., hidden)
        return (normed * (1.0 + self.weight.float())).to(hidden.dtype)


class GemmaScaledEmbedding(layers.ScaledEmbedding):
    """Token embeddings times sqrt(hidden_size), the scale first rounded to the weights' dtype as the reference
    does (in bfloat16, Gemma-7b's sqrt(3072) = 55.43 is 55.5)."""

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        embeds = nn.Embedding.forward(self, input_ids)
        return embeds * embeds.new_tensor(self.scale)


class GemmaAttention(nn.Module):
    def __init__(self, config: GemmaConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.scale = config.attention_scale
        self.softcap = getattr(config, "attn_logit_softcapping", None)
        self.sliding_window = config.sliding_window_of(layer_idx)
        self.dropout_prob = config.attention_dropout
        bias = config.attention_bias
        self.q_proj = nn.Linear(config.hidden_size, self.num_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, config.hidden_size, bias=bias)
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden, cos, sin, additive_mask, cache: KVCache | None, output_attentions: bool):
        batch, seq, _ = hidden.shape
        q = self.q_proj(hidden).view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)  # (b, heads, seq, hd)
        k = self.k_proj(hidden).view(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)  # (b, kv, seq, hd)
        v = self.v_proj(hidden).view(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)
        q, k = layers.apply_rotary(q, k, cos, sin)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # (batch, kv_heads, past + seq, hd)
        groups = self.num_heads // self.num_kv_heads
        context, weights = layers.attention(
            q,
            layers.repeat_kv(k, groups),
            layers.repeat_kv(v, groups),
            additive_mask,
            dropout=self.dropout_prob if self.training else 0.0,
            scale=self.scale,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
            softcap=self.softcap,
        )
        out = self.o_proj(layers.merge_heads(context))  # (batch, seq, hidden)
        return out, weights  # weights: (batch, heads, seq, past + seq) or None


class GemmaMLP(nn.Module):
    """GeGLU: down_proj(act(gate_proj(x)) * up_proj(x)), act the tanh approximation of GELU."""

    def __init__(self, config: GemmaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.act = layers.activation(config.activation)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.gate_proj(hidden)) * self.up_proj(hidden))


class GemmaDecoderLayer(GradientCheckpointingLayer):
    def __init__(self, config: GemmaConfig, layer_idx: int):
        super().__init__()
        self.self_attn = GemmaAttention(config, layer_idx)
        self.mlp = GemmaMLP(config)
        self.input_layernorm = GemmaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        # Gemma: the norm before the MLP. Gemma 2: the norm of the attention's output (pre_feedforward_layernorm
        # is then the one before the MLP).
        self.post_attention_layernorm = GemmaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.sandwich_norms = config.sandwich_norms
        if self.sandwich_norms:
            self.pre_feedforward_layernorm = GemmaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
            self.post_feedforward_layernorm = GemmaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, hidden, cos, sin, additive_mask, cache, output_attentions):
        attended, weights = self.self_attn(
            self.input_layernorm(hidden), cos, sin, additive_mask, cache, output_attentions
        )
        if self.sandwich_norms:
            hidden = hidden + self.post_attention_layernorm(attended)
            hidden = hidden + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(hidden)))
        else:
            hidden = hidden + attended
            hidden = hidden + self.mlp(self.post_attention_layernorm(hidden))
        return hidden, weights


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class GemmaPreTrainedModel(PreTrainedModel):
    config_class = GemmaConfig
    base_model_prefix = "model"

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, GemmaRMSNorm):
            nn.init.zeros_(module.weight)  # (1 + 0): the identity scale


class GemmaModel(GemmaPreTrainedModel):
    """Embeddings + decoder layers + final norm. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    def __init__(self, config: GemmaConfig):
        super().__init__(config)
        self.embed_tokens = GemmaScaledEmbedding(
            config.vocab_size, config.hidden_size, config.pad_token_id, scale=config.hidden_size**0.5
        )
        self.layers = nn.ModuleList(GemmaDecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = GemmaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = layers.RotaryEmbedding(
            config.rope_parameters, config.head_dim, config.max_position_embeddings
        )
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

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
        check_inputs(input_ids, inputs_embeds, None, type(self).__name__)
        run = self.decoder_pass(len(self.layers), past_key_values, use_cache, output_attentions, output_hidden_states)
        past = run.past_length

        # (batch, seq, hidden); inputs_embeds are taken as given, not scaled (as in the reference)
        hidden = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        seq = hidden.shape[1]
        if position_ids is None:  # left padding: count real tokens only
            position_ids = layers.decoder_positions(attention_mask, past, seq, hidden.device)
        cos, sin = self.rotary_emb(position_ids, hidden.dtype)  # (batch, seq, head_dim)
        masks: dict = {}  # one additive mask per distinct window size (Gemma 2: sliding and full)

        run.record(hidden)
        for layer in self.layers:
            window = layer.self_attn.sliding_window
            if window not in masks:
                masks[window] = layers.decoder_attention_mask(
                    attention_mask, past, seq, hidden.dtype, hidden.device, window
                )
            hidden, weights = layer(hidden, cos, sin, masks[window], run.cache, run.output_attentions)
            run.record(hidden, weights)
        return self.format_output(run.finish(self.norm(hidden)), return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class GemmaForCausalLM(GenerationMixin, GemmaPreTrainedModel):
    """The model plus the language-modelling head: next-token logits (batch, seq, vocab), soft-capped in Gemma 2."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: GemmaConfig):
        super().__init__(config)
        self.model = GemmaModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def context_window(self) -> int | None:
        """Longest sequence the model handles as trained (generate refuses longer prompts)."""
        if self.config.rope_parameters["rope_type"] == "dynamic":
            return None  # dynamic NTK scaling is made to run past the trained context
        return self.config.max_position_embeddings

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
        soft_cap = getattr(self.config, "final_logit_softcapping", None)  # Gemma 2: cap * tanh(logits / cap)
        return self.causal_lm_output(base, labels, logits_to_keep, return_dict, soft_cap=soft_cap)


class GemmaForSequenceClassification(GemmaPreTrainedModel):
    """Gemma read at each row's last non-padding token (``config.pad_token_id``): logits (batch, num_labels).
    The scores are not soft-capped (only Gemma 2's language-modelling logits are)."""

    def __init__(self, config: GemmaConfig):
        super().__init__(config)
        self.model = GemmaModel(config)
        self.score = nn.Linear(config.hidden_size, config.num_labels, bias=False)
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


# Gemma 2 is the same classes reading its own config (exported under its Hub names).
Gemma2Model = GemmaModel
Gemma2ForCausalLM = GemmaForCausalLM
Gemma2ForSequenceClassification = GemmaForSequenceClassification
