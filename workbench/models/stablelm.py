"""StableLM (Stability AI: StableLM-3B-4E1T, StableLM 2 1.6B/12B, StableLM Zephyr, Stable Code 3B).

A LLaMA-like decoder with LayerNorm instead of RMSNorm and rotary positions on part of each head:

    input_ids (batch, seq)
      -> embed_tokens                                                    (batch, seq, hidden)
      -> num_hidden_layers x StableLmDecoderLayer, with h = input_layernorm(x):
           sequential (default):      x = x + self_attn(h);  x = x + mlp(post_attention_layernorm(x))
           use_parallel_residual:     x = x + self_attn(h) + mlp(h)     (StableLM 2 12B; one norm per layer)
      -> norm (LayerNorm) -> lm_head                                     (batch, seq, vocab)

    self_attn  q_proj, k_proj, v_proj (bias with use_qkv_bias), grouped-query attention (num_key_value_heads);
               with qk_layernorm, every head has its own LayerNorm (no bias) over its queries and keys
               (``q_layernorm.norms.<head>``); rotary positions on the first ``partial_rotary_factor`` (0.25)
               of each head's channels; o_proj without bias
    mlp        SwiGLU: down_proj(silu(gate_proj(x)) * up_proj(x)), no biases

Module names are the Hub's state-dict keys (``model.layers.0.self_attn.q_layernorm.norms.3.weight``), so
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


class StableLmConfig(PretrainedConfig):
    """config.json of StableLM checkpoints. Rotary settings: ``rope_parameters`` (v5), or the older top-level
    ``rope_theta``, ``partial_rotary_factor`` and ``rope_scaling``."""

    model_type = "stablelm"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    defaults = dict(
        vocab_size=50304,
        intermediate_size=6912,  # width of the SwiGLU feed-forward
        hidden_size=2560,  # width of every token's vector
        num_hidden_layers=32,
        num_attention_heads=32,  # query heads
        num_key_value_heads=32,  # key/value heads (grouped-query attention)
        hidden_act="silu",
        max_position_embeddings=4096,  # the context the model was trained on
        initializer_range=0.02,
        layer_norm_eps=1e-5,
        use_cache=True,
        tie_word_embeddings=False,
        use_qkv_bias=False,  # bias on q_proj, k_proj and v_proj
        qk_layernorm=False,  # a LayerNorm per head over queries and keys (StableLM 2 12B)
        use_parallel_residual=False,  # x + attn(ln(x)) + mlp(ln(x)) with one norm per layer
        hidden_dropout=0.0,  # dropout on the MLP's output (training only)
        attention_dropout=0.0,  # dropout on the attention probabilities (training only)
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=None,
    )

    def __init__(self, **kwargs):
        values = {**type(self).defaults, **kwargs}
        rope = layers.rope_parameters_from(values, values["max_position_embeddings"], default_partial=0.25)
        super().__init__(**values)  # fields the base class does not name become attributes
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}."
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads={self.num_attention_heads} must be a multiple of "
                f"num_key_value_heads={self.num_key_value_heads} (each key/value head serves a group of query heads)."
            )
        self.rope_parameters = rope

    @property
    def rope_theta(self) -> float:
        return self.rope_parameters["rope_theta"]

    @property
    def partial_rotary_factor(self) -> float:
        return self.rope_parameters["partial_rotary_factor"]


# Tiny presets for tests and teaching: seconds to build and run on a CPU (``auto.tiny_config(name)`` builds one).
_TINY = dict(
    model_type="stablelm",
    vocab_size=128,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
)
TINY_PRESETS = {
    "stablelm-tiny-random": _TINY,
    "stablelm-2-12b-tiny-random": dict(_TINY, qk_layernorm=True, use_parallel_residual=True),
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class StableLmLayerNormPerHead(nn.Module):
    """One LayerNorm (no bias) per head over its (batch, heads, seq, head_dim) channels: ``norms.<head>``."""

    def __init__(self, head_dim: int, num_heads: int, eps: float):
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(head_dim, eps=eps, bias=False) for _ in range(num_heads))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        per_head = hidden.split(1, dim=1)  # heads x (batch, 1, seq, head_dim)
        return torch.cat([norm(head) for norm, head in zip(self.norms, per_head)], dim=1)


class StableLmAttention(nn.Module):
    def __init__(self, config: StableLmConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.dropout_prob = config.attention_dropout
        width, kv_width = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        self.q_proj = nn.Linear(config.hidden_size, width, bias=config.use_qkv_bias)
        self.k_proj = nn.Linear(config.hidden_size, kv_width, bias=config.use_qkv_bias)
        self.v_proj = nn.Linear(config.hidden_size, kv_width, bias=config.use_qkv_bias)
        self.o_proj = nn.Linear(width, config.hidden_size, bias=False)
        self.qk_layernorm = config.qk_layernorm
        if self.qk_layernorm:
            self.q_layernorm = StableLmLayerNormPerHead(self.head_dim, self.num_heads, config.layer_norm_eps)
            self.k_layernorm = StableLmLayerNormPerHead(self.head_dim, self.num_kv_heads, config.layer_norm_eps)
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden, cos, sin, additive_mask, cache: KVCache | None, output_attentions: bool):
        batch, seq, _ = hidden.shape
        q = (
            self.q_proj(hidden).view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)
        )  # (batch, heads, seq, hd)
        k = (
            self.k_proj(hidden).view(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)
        )  # (batch, kv, seq, hd)
        v = self.v_proj(hidden).view(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)
        if self.qk_layernorm:
            q, k = self.q_layernorm(q), self.k_layernorm(k)
        q, k = layers.apply_partial_rotary(q, k, cos, sin)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # (batch, kv_heads, past + seq, head_dim)
        groups = self.num_heads // self.num_kv_heads
        context, weights = layers.attention(
            q,
            layers.repeat_kv(k, groups),
            layers.repeat_kv(v, groups),
            additive_mask,
            dropout=self.dropout_prob if self.training else 0.0,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return self.o_proj(layers.merge_heads(context)), weights  # (batch, seq, hidden), (batch, heads, seq, k)


class StableLmMLP(nn.Module):
    """SwiGLU: down(act(gate(x)) * up(x)), no biases."""

    def __init__(self, config: StableLmConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.act = layers.activation(config.hidden_act)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.gate_proj(hidden)) * self.up_proj(hidden))


class StableLmDecoderLayer(GradientCheckpointingLayer):
    def __init__(self, config: StableLmConfig, layer_idx: int):
        super().__init__()
        self.use_parallel_residual = config.use_parallel_residual
        self.self_attn = StableLmAttention(config, layer_idx)
        self.mlp = StableLmMLP(config)
        self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        if not self.use_parallel_residual:  # the parallel block normalises once, for both branches
            self.post_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, hidden, cos, sin, additive_mask, cache, output_attentions):
        normed = self.input_layernorm(hidden)
        attended, weights = self.self_attn(normed, cos, sin, additive_mask, cache, output_attentions)
        if self.use_parallel_residual:  # both branches read the same normalised input
            return hidden + attended + self.dropout(self.mlp(normed)), weights
        hidden = hidden + attended
        return hidden + self.dropout(self.mlp(self.post_attention_layernorm(hidden))), weights


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class StableLmPreTrainedModel(PreTrainedModel):
    config_class = StableLmConfig
    base_model_prefix = "model"


class StableLmModel(StableLmPreTrainedModel):
    """Embeddings + decoder layers + final LayerNorm. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    def __init__(self, config: StableLmConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.layers = nn.ModuleList(StableLmDecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        head_dim = config.hidden_size // config.num_attention_heads
        rotated = int(head_dim * config.partial_rotary_factor)  # channels per head that rotate
        self.rotary_emb = layers.RotaryEmbedding(config.rope_parameters, rotated, config.max_position_embeddings)
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

        hidden = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds  # (batch, seq, hidden)
        seq = hidden.shape[1]
        if position_ids is None:  # left padding: count real tokens only
            position_ids = layers.decoder_positions(attention_mask, past, seq, hidden.device)
        cos, sin = self.rotary_emb(position_ids, hidden.dtype)  # (batch, seq, rotated channels)
        additive_mask = layers.decoder_attention_mask(attention_mask, past, seq, hidden.dtype, hidden.device)

        run.record(hidden)
        for layer in self.layers:
            hidden, weights = layer(hidden, cos, sin, additive_mask, run.cache, run.output_attentions)
            run.record(hidden, weights)
        return self.format_output(run.finish(self.norm(hidden)), return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class StableLmForCausalLM(GenerationMixin, StableLmPreTrainedModel):
    """The model plus the language-modelling head: next-token logits (batch, seq, vocab)."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}  # tied only with tie_word_embeddings

    def __init__(self, config: StableLmConfig):
        super().__init__(config)
        self.model = StableLmModel(config)
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
        return self.causal_lm_output(base, labels, logits_to_keep, return_dict)


class StableLmForSequenceClassification(StableLmPreTrainedModel):
    """StableLM read at each row's last non-padding token (``config.pad_token_id``): logits (batch, num_labels)."""

    def __init__(self, config: StableLmConfig):
        super().__init__(config)
        self.model = StableLmModel(config)
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
