"""Phi (Microsoft's phi-1, phi-1.5 and phi-2): attention and MLP side by side on one normalised input.

    input_ids (batch, seq)
      -> embed_tokens                                                    (batch, seq, hidden)
      -> num_hidden_layers x PhiDecoderLayer:
           h = input_layernorm(x)
           x = x + self_attn(h) + mlp(h)        the parallel block: both branches read the same h
      -> final_layernorm -> lm_head (with a bias)                        (batch, seq, vocab)

    self_attn  q_proj, k_proj, v_proj with biases (grouped-query with num_key_value_heads), then ``dense``;
               with qk_layernorm, one LayerNorm over each head's queries and one over its keys (shared by the
               heads); rotary positions on the first ``partial_rotary_factor`` of each head's channels
               (phi-2: 0.4, phi-1/1.5: 0.5)
    mlp        fc1 -> gelu_new -> fc2

Module names are the Hub's state-dict keys of the transformers-format Phi checkpoints
(``model.layers.0.self_attn.dense.weight``; microsoft/phi-2 and phi-1_5 on the Hub use them), so checkpoints
load with no key map. The original "phi-msft" layout (``layers.1.mixer.Wqkv``) is not read.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..cache import KVCache
from ..configuration import PretrainedConfig
from ..generation import GenerationMixin
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs


class PhiConfig(PretrainedConfig):
    """config.json of Phi checkpoints. Rotary settings: ``rope_parameters`` (v5), or the older top-level
    ``rope_theta``, ``partial_rotary_factor`` and ``rope_scaling``."""

    model_type = "phi"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    defaults = dict(
        vocab_size=51200,
        hidden_size=2048,  # width of every token's vector
        intermediate_size=8192,  # width of the MLP
        num_hidden_layers=24,
        num_attention_heads=32,  # query heads
        num_key_value_heads=None,  # key/value heads (grouped-query attention); None: as many as query heads
        resid_pdrop=0.0,  # dropout on each branch's output (training only)
        embd_pdrop=0.0,  # dropout on the embeddings (training only)
        attention_dropout=0.0,  # dropout on the attention probabilities (training only)
        hidden_act="gelu_new",
        max_position_embeddings=2048,  # the context the model was trained on
        initializer_range=0.02,
        layer_norm_eps=1e-5,
        use_cache=True,
        tie_word_embeddings=False,
        qk_layernorm=False,  # LayerNorm over each head's queries and keys before the rotation
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=None,
    )

    def __init__(self, **kwargs):
        values = {**type(self).defaults, **kwargs}
        rope = layers.rope_parameters_from(values, values["max_position_embeddings"], default_partial=0.5)
        super().__init__(**values)  # fields the base class does not name become attributes
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
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
TINY_PRESETS = {
    "phi-tiny-random": dict(
        model_type="phi",
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=256,
        partial_rotary_factor=0.5,
    )
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class PhiAttention(nn.Module):
    def __init__(self, config: PhiConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.dropout_prob = config.attention_dropout
        width, kv_width = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        self.q_proj = nn.Linear(config.hidden_size, width, bias=True)
        self.k_proj = nn.Linear(config.hidden_size, kv_width, bias=True)
        self.v_proj = nn.Linear(config.hidden_size, kv_width, bias=True)
        self.dense = nn.Linear(width, config.hidden_size, bias=True)
        self.qk_layernorm = config.qk_layernorm
        if self.qk_layernorm:
            self.q_layernorm = nn.LayerNorm(self.head_dim, eps=config.layer_norm_eps)
            self.k_layernorm = nn.LayerNorm(self.head_dim, eps=config.layer_norm_eps)
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
        return self.dense(layers.merge_heads(context)), weights  # (batch, seq, hidden), (batch, heads, seq, k)


class PhiMLP(nn.Module):
    def __init__(self, config: PhiConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)
        self.activation_fn = layers.activation(config.hidden_act)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_fn(self.fc1(hidden)))


class PhiDecoderLayer(GradientCheckpointingLayer):
    def __init__(self, config: PhiConfig, layer_idx: int):
        super().__init__()
        self.self_attn = PhiAttention(config, layer_idx)
        self.mlp = PhiMLP(config)
        self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden, cos, sin, additive_mask, cache, output_attentions):
        normed = self.input_layernorm(hidden)
        attended, weights = self.self_attn(normed, cos, sin, additive_mask, cache, output_attentions)
        fed = self.mlp(normed)  # the parallel block: the MLP reads the same normalised input as the attention
        return self.resid_dropout(attended) + self.resid_dropout(fed) + hidden, weights


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class PhiPreTrainedModel(PreTrainedModel):
    config_class = PhiConfig
    base_model_prefix = "model"


class PhiModel(PhiPreTrainedModel):
    """Embeddings + decoder layers + final LayerNorm. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    def __init__(self, config: PhiConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.embed_dropout = nn.Dropout(config.embd_pdrop)
        self.layers = nn.ModuleList(PhiDecoderLayer(config, i) for i in range(config.num_hidden_layers))
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
        if self.training:
            hidden = self.embed_dropout(hidden)

        run.record(hidden)
        for layer in self.layers:
            hidden, weights = layer(hidden, cos, sin, additive_mask, run.cache, run.output_attentions)
            run.record(hidden, weights)
        return self.format_output(run.finish(self.final_layernorm(hidden)), return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class PhiForCausalLM(GenerationMixin, PhiPreTrainedModel):
    """The model plus the language-modelling head (with a bias): next-token logits (batch, seq, vocab)."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}  # tied only with tie_word_embeddings

    def __init__(self, config: PhiConfig):
        super().__init__(config)
        self.model = PhiModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=True)
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


class PhiForSequenceClassification(PhiPreTrainedModel):
    """Phi read at each row's last non-padding token (``config.pad_token_id``): logits (batch, num_labels)."""

    def __init__(self, config: PhiConfig):
        super().__init__(config)
        self.model = PhiModel(config)
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
