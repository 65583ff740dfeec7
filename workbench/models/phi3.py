"""Phi-3 (Microsoft's Phi-3 mini/medium, Phi-3.5-mini, Phi-4-mini): LLaMA's block with fused projections.

    input_ids (batch, seq)
      -> embed_tokens                                                    (batch, seq, hidden)
      -> num_hidden_layers x Phi3DecoderLayer:
           x = x + self_attn(input_layernorm(x))       RMSNorm, rotary q/k, grouped-query attention
           x = x + mlp(post_attention_layernorm(x))    SwiGLU: down_proj(silu(gate) * up)
      -> norm (RMSNorm) -> lm_head                                       (batch, seq, vocab)

    qkv_proj      one projection for queries, keys and values, laid out [all q | all k | all v]
                  (hidden -> (heads + 2 * kv_heads) * head_dim)
    gate_up_proj  one projection for SwiGLU's two inputs, laid out [gate | up] (hidden -> 2 * intermediate)
    rotary        on the first ``partial_rotary_factor`` of each head's channels (Phi-4-mini: 0.75; else all);
                  ``rope_type`` "longrope" (the 128k models; "su" in older config files) rescales each frequency
                  by ``short_factor`` while the sequence fits in ``original_max_position_embeddings`` and by
                  ``long_factor`` beyond, and scales cos/sin by sqrt(1 + ln(factor) / ln(original length))
    sliding_window  when set, a query sees only the last ``sliding_window`` keys

Generation across the LongRoPE boundary: when a sequence grows past ``original_max_position_embeddings`` while
generating, the reference recomputes the whole sequence once with the long factors (its cache was built with the
short ones). ``Phi3ForCausalLM`` does the same by keeping the sequence's ids in its generation cache
(``Phi3LongRopeCache``).

Module names are the Hub's state-dict keys (``model.layers.0.self_attn.qkv_proj.weight``), so checkpoints load
with no key map.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..cache import KVCache
from ..configuration import PretrainedConfig
from ..generation import GenerationMixin
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs


class Phi3Config(PretrainedConfig):
    """config.json of Phi-3 checkpoints. Rotary settings: ``rope_parameters`` (v5), or the older ``rope_theta``,
    ``partial_rotary_factor`` and ``rope_scaling`` (whose types "su" and "yarn" both mean LongRoPE here)."""

    model_type = "phi3"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    defaults = dict(
        vocab_size=32064,
        hidden_size=3072,  # width of every token's vector
        intermediate_size=8192,  # width of the SwiGLU feed-forward
        num_hidden_layers=32,
        num_attention_heads=32,  # query heads
        num_key_value_heads=None,  # key/value heads (grouped-query attention); None: as many as query heads
        resid_pdrop=0.0,  # dropout on each branch's output (training only)
        embd_pdrop=0.0,  # (unused by the model, as in the reference)
        attention_dropout=0.0,  # dropout on the attention probabilities (training only)
        hidden_act="silu",
        max_position_embeddings=4096,  # the longest context (with LongRoPE: the extended one)
        original_max_position_embeddings=4096,  # the context of pre-training (LongRoPE's switch point)
        initializer_range=0.02,
        rms_norm_eps=1e-5,
        use_cache=True,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=32000,
        pad_token_id=32000,
        sliding_window=None,  # each query sees at most this many keys (itself included); None: all
    )

    def __init__(self, **kwargs):
        values = {**type(self).defaults, **kwargs}
        rope = dict(values.pop("rope_parameters", None) or values.pop("rope_scaling", None) or {})
        values.pop("rope_scaling", None)
        if rope.get("rope_type", rope.get("type")) in ("longrope", "su", "yarn"):  # (older names of LongRoPE)
            rope["rope_type"] = "longrope"
            rope.setdefault("original_max_position_embeddings", values["original_max_position_embeddings"])
        values["rope_parameters"] = rope
        rope = layers.rope_parameters_from(values, values["max_position_embeddings"])
        if rope["rope_type"] not in ("default", "longrope"):
            raise ValueError(f"Phi-3 uses rope_type 'default' or 'longrope' (\"su\"), got {rope['rope_type']!r}.")
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
_TINY = dict(
    model_type="phi3",
    vocab_size=128,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    original_max_position_embeddings=256,
    pad_token_id=0,
    eos_token_id=2,
)
TINY_PRESETS = {
    "phi3-tiny-random": _TINY,
    "phi3-longrope-tiny-random": dict(
        _TINY,
        original_max_position_embeddings=64,
        rope_scaling={"type": "longrope", "short_factor": [1.0, 1.1, 1.3, 1.6], "long_factor": [1.0, 2.0, 4.0, 8.0]},
    ),
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class Phi3RMSNorm(layers.RMSNorm):
    """x / sqrt(mean(x^2) + eps) * weight, computed in float32 (``layers.RMSNorm`` under the reference's name)."""


class Phi3Attention(nn.Module):
    def __init__(self, config: Phi3Config, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.dropout_prob = config.attention_dropout
        width, kv_width = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        self.qkv_proj = nn.Linear(config.hidden_size, width + 2 * kv_width, bias=False)
        self.o_proj = nn.Linear(width, config.hidden_size, bias=False)
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden, cos, sin, additive_mask, cache: KVCache | None, output_attentions: bool):
        batch, seq, _ = hidden.shape
        width, kv_width = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        q, k, v = self.qkv_proj(hidden).split([width, kv_width, kv_width], dim=-1)  # [all q | all k | all v]
        q = q.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)  # (batch, heads, seq, head_dim)
        k = k.view(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)  # (batch, kv_heads, seq, head_dim)
        v = v.view(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)
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


class Phi3MLP(nn.Module):
    """SwiGLU with one fused input projection: down(act(gate) * up), where [gate | up] = gate_up_proj(x)."""

    def __init__(self, config: Phi3Config):
        super().__init__()
        self.gate_up_proj = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.activation_fn = layers.activation(config.hidden_act)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(hidden).chunk(2, dim=-1)  # each (batch, seq, intermediate)
        return self.down_proj(up * self.activation_fn(gate))


class Phi3DecoderLayer(GradientCheckpointingLayer):
    def __init__(self, config: Phi3Config, layer_idx: int):
        super().__init__()
        self.self_attn = Phi3Attention(config, layer_idx)
        self.mlp = Phi3MLP(config)
        self.input_layernorm = Phi3RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = Phi3RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.resid_attn_dropout = nn.Dropout(config.resid_pdrop)
        self.resid_mlp_dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden, cos, sin, additive_mask, cache, output_attentions):
        attended, weights = self.self_attn(
            self.input_layernorm(hidden), cos, sin, additive_mask, cache, output_attentions
        )
        hidden = hidden + self.resid_attn_dropout(attended)
        hidden = hidden + self.resid_mlp_dropout(self.mlp(self.post_attention_layernorm(hidden)))
        return hidden, weights


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class Phi3PreTrainedModel(PreTrainedModel):
    config_class = Phi3Config
    base_model_prefix = "model"

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, Phi3RMSNorm):
            nn.init.ones_(module.weight)


class Phi3Model(Phi3PreTrainedModel):
    """Embeddings + decoder layers + final RMSNorm. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    def __init__(self, config: Phi3Config):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.layers = nn.ModuleList(Phi3DecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = Phi3RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
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
        config = self.config
        run = self.decoder_pass(len(self.layers), past_key_values, use_cache, output_attentions, output_hidden_states)
        past = run.past_length

        hidden = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds  # (batch, seq, hidden)
        seq = hidden.shape[1]
        if position_ids is None:  # left padding: count real tokens only
            position_ids = layers.decoder_positions(attention_mask, past, seq, hidden.device)
        cos, sin = self.rotary_emb(position_ids, hidden.dtype)  # (batch, seq, rotated channels)
        additive_mask = layers.decoder_attention_mask(
            attention_mask, past, seq, hidden.dtype, hidden.device, config.sliding_window
        )

        run.record(hidden)
        for layer in self.layers:
            hidden, weights = layer(hidden, cos, sin, additive_mask, run.cache, run.output_attentions)
            run.record(hidden, weights)
        return self.format_output(run.finish(self.norm(hidden)), return_dict)


# ------------------------------------------------------------------------------------------------
# Generation across the LongRoPE boundary
# ------------------------------------------------------------------------------------------------


class Phi3LongRopeCache(KVCache):
    """The KV cache ``generate`` uses with LongRoPE: the keys and values, and the ids of the tokens they hold.

    The ids let ``Phi3ForCausalLM`` recompute the whole sequence when it outgrows the short factors (see
    ``Phi3ForCausalLM.forward``). Beam search reorders rows and contrastive search crops: the ids follow.
    """

    def __init__(self, num_layers: int, capacity: int | None = None):
        super().__init__(num_layers, capacity)
        self.ids: torch.Tensor | None = None  # (batch, >= length): row i's cached tokens are ids[i, :length]

    def reorder(self, batch_indices: torch.Tensor) -> None:
        super().reorder(batch_indices)
        if self.ids is not None:
            self.ids = self.ids.index_select(0, batch_indices.to(self.ids.device))

    reorder_cache = reorder

    def repeat_interleave(self, repeats: int) -> None:
        super().repeat_interleave(repeats)
        if self.ids is not None:
            self.ids = self.ids.repeat_interleave(repeats, dim=0)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class Phi3ForCausalLM(GenerationMixin, Phi3PreTrainedModel):
    """The model plus the language-modelling head: next-token logits (batch, seq, vocab)."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}  # tied only with tie_word_embeddings

    def __init__(self, config: Phi3Config):
        super().__init__(config)
        self.model = Phi3Model(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def context_window(self) -> int:
        """Longest sequence the model handles as trained (generate refuses longer prompts)."""
        return self.config.max_position_embeddings

    def _new_cache(self, capacity: int) -> KVCache:
        """generate's cache: with LongRoPE, one that also keeps the ids (to recompute at the boundary)."""
        if self.config.rope_parameters["rope_type"] == "longrope":
            return Phi3LongRopeCache(self.config.num_hidden_layers, capacity)
        return super()._new_cache(capacity)

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
        if isinstance(past_key_values, Phi3LongRopeCache) and input_ids is not None:
            # generate's cache. At the step where the sequence first outgrows original_max_position_embeddings, its
            # cached keys were rotated with the short factors: as the reference's generate does, run the whole
            # sequence again (long factors everywhere) into the emptied cache.
            cache, past, new = past_key_values, past_key_values.length, input_ids.shape[1]
            seen = torch.cat([cache.ids[:, :past], input_ids], dim=1) if past else input_ids  # (batch, past + new)
            cache.ids = seen
            if 0 < past <= self.config.rope_parameters["original_max_position_embeddings"] < past + new:
                cache.crop(0)
                input_ids, position_ids = seen, None  # positions counted again from the mask
                if isinstance(logits_to_keep, int) and logits_to_keep == 0:
                    logits_to_keep = new  # the logits of the new tokens, as without the recomputation
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


class Phi3ForSequenceClassification(Phi3PreTrainedModel):
    """Phi-3 read at each row's last non-padding token (``config.pad_token_id``): logits (batch, num_labels)."""

    def __init__(self, config: Phi3Config):
        super().__init__(config)
        self.model = Phi3Model(config)
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
