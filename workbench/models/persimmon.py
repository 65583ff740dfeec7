"""Persimmon (Adept's persimmon-8b; Fuyu's language model): LayerNorm decoder with normalised queries and keys.

    input_ids (batch, seq)
      -> embed_tokens                                                    (batch, seq, hidden)
      -> num_hidden_layers x PersimmonDecoderLayer:
           x = x + self_attn(input_layernorm(x))
           x = x + mlp(post_attention_layernorm(x))     dense_h_to_4h -> relu^2 -> dense_4h_to_h
      -> final_layernorm -> lm_head                                      (batch, seq, vocab)

    self_attn  one fused projection ``query_key_value`` laid out head by head ([q k v] of head 0, then of head 1,
               ...; GPT-NeoX's layout); with qk_layernorm, a LayerNorm over each head's query and key
               (``q_layernorm``, ``k_layernorm``, shared by the heads); rotary positions on the first
               ``partial_rotary_factor`` (0.5) of each head's channels

Module names are the Hub's state-dict keys (``model.layers.0.self_attn.query_key_value.weight``), so checkpoints
load with no key map.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..cache import KVCache
from ..configuration import PretrainedConfig
from ..generation import GenerationMixin
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs


class PersimmonConfig(PretrainedConfig):
    """config.json of Persimmon checkpoints. Rotary settings: ``rope_parameters`` (v5), or the older top-level
    ``rope_theta``, ``partial_rotary_factor`` and ``rope_scaling``."""

    model_type = "persimmon"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    defaults = dict(
        vocab_size=262144,
        hidden_size=4096,  # width of every token's vector
        intermediate_size=16384,  # width of the MLP
        num_hidden_layers=36,
        num_attention_heads=64,
        hidden_act="relu2",  # squared ReLU
        max_position_embeddings=16384,  # the context the model was trained on
        initializer_range=0.02,
        layer_norm_eps=1e-5,
        use_cache=True,
        tie_word_embeddings=False,
        qk_layernorm=True,  # LayerNorm over each head's queries and keys before the rotation
        hidden_dropout=0.0,  # dropout on the MLP's output (training only)
        attention_dropout=0.0,  # dropout on the attention probabilities (training only)
        pad_token_id=None,
        bos_token_id=1,
        eos_token_id=2,
    )

    def __init__(self, **kwargs):
        values = {**type(self).defaults, **kwargs}
        rope = layers.rope_parameters_from(values, values["max_position_embeddings"], default_partial=0.5)
        super().__init__(**values)  # fields the base class does not name become attributes
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}."
            )
        self.rope_parameters = rope

    @property
    def rope_theta(self) -> float:
        return self.rope_parameters["rope_theta"]

    @property
    def partial_rotary_factor(self) -> float:
        return self.rope_parameters["partial_rotary_factor"]


# Tiny presets for tests and teaching: seconds to build and run on a CPU (``auto.tiny_config(name)`` builds one).
TINY_PRESETS = {
    "persimmon-tiny-random": dict(
        model_type="persimmon",
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=256,
    )
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class PersimmonAttention(nn.Module):
    def __init__(self, config: PersimmonConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        head_dim = config.hidden_size // config.num_attention_heads
        self.dropout_prob = config.attention_dropout
        self.query_key_value = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=True)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, bias=True)
        self.qk_layernorm = config.qk_layernorm
        if self.qk_layernorm:
            self.q_layernorm = nn.LayerNorm(head_dim, eps=config.layer_norm_eps)
            self.k_layernorm = nn.LayerNorm(head_dim, eps=config.layer_norm_eps)
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden, cos, sin, additive_mask, cache: KVCache | None, output_attentions: bool):
        q, k, v = layers.split_fused_qkv_per_head(
            self.query_key_value(hidden), self.num_heads
        )  # (batch, heads, seq, hd)
        if self.qk_layernorm:
            q, k = self.q_layernorm(q), self.k_layernorm(k)
        q, k = layers.apply_partial_rotary(q, k, cos, sin)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # (batch, heads, past + seq, head_dim)
        context, weights = layers.attention(
            q,
            k,
            v,
            additive_mask,
            dropout=self.dropout_prob if self.training else 0.0,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return self.dense(layers.merge_heads(context)), weights  # (batch, seq, hidden), (batch, heads, seq, k)


class PersimmonMLP(nn.Module):
    def __init__(self, config: PersimmonConfig):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(config.hidden_size, config.intermediate_size)
        self.dense_4h_to_h = nn.Linear(config.intermediate_size, config.hidden_size)
        self.act = layers.activation(config.hidden_act)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dense_4h_to_h(self.act(self.dense_h_to_4h(hidden)))


class PersimmonDecoderLayer(GradientCheckpointingLayer):
    def __init__(self, config: PersimmonConfig, layer_idx: int):
        super().__init__()
        self.self_attn = PersimmonAttention(config, layer_idx)
        self.mlp = PersimmonMLP(config)
        self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, hidden, cos, sin, additive_mask, cache, output_attentions):
        attended, weights = self.self_attn(
            self.input_layernorm(hidden), cos, sin, additive_mask, cache, output_attentions
        )
        hidden = hidden + attended
        hidden = self.dropout(self.mlp(self.post_attention_layernorm(hidden))) + hidden
        return hidden, weights


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class PersimmonPreTrainedModel(PreTrainedModel):
    config_class = PersimmonConfig
    base_model_prefix = "model"


class PersimmonModel(PersimmonPreTrainedModel):
    """Embeddings + decoder layers + final LayerNorm. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    def __init__(self, config: PersimmonConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.layers = nn.ModuleList(PersimmonDecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.final_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
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
        return self.format_output(run.finish(self.final_layernorm(hidden)), return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class PersimmonForCausalLM(GenerationMixin, PersimmonPreTrainedModel):
    """The model plus the language-modelling head: next-token logits (batch, seq, vocab)."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}  # tied only with tie_word_embeddings

    def __init__(self, config: PersimmonConfig):
        super().__init__(config)
        self.model = PersimmonModel(config)
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


class PersimmonForSequenceClassification(PersimmonPreTrainedModel):
    """Persimmon read at each row's last non-padding token (``config.pad_token_id``): logits (batch, num_labels)."""

    def __init__(self, config: PersimmonConfig):
        super().__init__(config)
        self.model = PersimmonModel(config)
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
