"""Falcon: parallel attention + MLP blocks, multi-query or grouped-query attention, rotary positions or ALiBi.

Covers checkpoints whose ``model_type`` is ``falcon``: TII's Falcon-7B/40B/180B (and their -instruct
versions), Falcon-RW-1B/7B (ALiBi), Falcon2-11B and their fine-tunes. The variants are config switches:

    input_ids (batch, seq)
      -> word_embeddings                                                (batch, seq, hidden)
      -> num_hidden_layers x FalconDecoderLayer, parallel (parallel_attn or new_decoder_architecture):
           x = x + (mlp(ln_mlp(x)) + self_attention(ln_attn(x)))  two norms (num_ln_in_parallel_attn = 2),
                                                                   or one input_layernorm feeding both
         or sequential (parallel_attn = False, the old architecture only):
           x = x + self_attention(input_layernorm(x))
           x = x + mlp(post_attention_layernorm(x))
      -> ln_f -> lm_head (tied to word_embeddings)                      (batch, seq, vocab)

    attention: fused query_key_value; rotary on q and k (alibi = False), or an ALiBi bias on the scores
    mlp:       dense_h_to_4h -> gelu -> dense_4h_to_h (ffn_hidden_size wide)

Keys and values: new_decoder_architecture (Falcon-40B/180B) has ``num_kv_heads`` of them (grouped-query
attention); the old architecture has one (``multi_query``, Falcon-7B) or one per head.

Checkpoint layout: ``query_key_value`` projects to (kv_heads, queries per kv head + 2, head_dim): for each
key/value head, its group of queries, then its key, then its value. The three variants are this one layout
with 1 (multi-query), num_kv_heads (grouped) or num_attention_heads (one query per group) key/value heads.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import layers
from ..cache import KVCache
from ..configuration import PretrainedConfig
from ..generation import GenerationMixin
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs


class FalconConfig(PretrainedConfig):
    model_type = "falcon"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache

    def __init__(
        self,
        vocab_size: int = 65024,
        hidden_size: int = 4544,  # width of every token's vector (old files call it n_embed)
        num_hidden_layers: int = 32,
        num_attention_heads: int = 71,
        num_ln_in_parallel_attn: int | None = None,  # a parallel block's norms: 2 (attention, MLP) or 1 (shared);
        # None: 2 in the new decoder architecture, else 1
        layer_norm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        use_cache: bool = True,
        hidden_dropout: float = 0.0,  # on the block's output before the residual sum
        attention_dropout: float = 0.0,  # on the attention probabilities (and the sequential block's attention)
        num_kv_heads: int | None = None,  # key/value heads of the new decoder architecture; None: one per head
        alibi: bool = False,  # ALiBi biases instead of rotary positions (Falcon-RW)
        new_decoder_architecture: bool = False,  # Falcon-40B/180B: grouped-query attention, parallel block
        multi_query: bool = True,  # old architecture: one key/value head shared by all queries
        parallel_attn: bool = True,  # old architecture: attention and MLP read the same input, summed
        bias: bool = False,  # biases on the linear layers
        max_position_embeddings: int = 2048,  # the context the model was trained on
        bos_token_id: int = 11,
        eos_token_id: int = 11,
        ffn_hidden_size: int | None = None,  # None: 4 * hidden_size
        activation: str = "gelu",
        **kwargs,
    ):
        n_embed = kwargs.pop("n_embed", None)
        # Rotary settings: v5 files carry `rope_parameters`; older ones `rope_theta` + `rope_scaling`.
        rope = kwargs.pop("rope_parameters", None) or kwargs.pop("rope_scaling", None)
        kwargs.pop("rope_scaling", None)
        theta = kwargs.pop("rope_theta", 10000.0)
        kwargs.pop("num_key_value_heads", None)  # derived below from the switches
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size if n_embed is None else n_embed
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.use_cache = use_cache
        self.hidden_dropout = hidden_dropout
        self.attention_dropout = attention_dropout
        self.num_kv_heads = num_attention_heads if num_kv_heads is None else num_kv_heads
        self.alibi = alibi
        self.new_decoder_architecture = new_decoder_architecture
        self.multi_query = multi_query
        self.parallel_attn = parallel_attn
        self.bias = bias
        self.max_position_embeddings = max_position_embeddings
        self.ffn_hidden_size = 4 * self.hidden_size if ffn_hidden_size is None else ffn_hidden_size
        self.activation = activation
        if num_ln_in_parallel_attn is None and new_decoder_architecture:
            num_ln_in_parallel_attn = 2
        self.num_ln_in_parallel_attn = num_ln_in_parallel_attn
        self.rope_parameters = layers.standard_rope_parameters(rope, theta, max_position_embeddings)
        # The key/value heads the attention layers produce (and the KV cache stores), as the reference writes it
        self.num_key_value_heads = self.num_kv_heads if (new_decoder_architecture or not multi_query) else 1
        if self.hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={num_attention_heads}."
            )
        if num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads={num_attention_heads} must be a multiple of num_kv_heads={self.num_kv_heads} "
                "(each key/value head serves a group of query heads)."
            )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def rotary(self) -> bool:
        return not self.alibi

    @property
    def parallel_block(self) -> bool:
        """Attention and MLP side by side; the new decoder architecture always is (its parallel_attn is ignored)."""
        return self.new_decoder_architecture or self.parallel_attn


# Tiny presets for tests and teaching: seconds to build and run on a CPU (``auto.tiny_config(name)`` builds one).
_TINY = dict(model_type="falcon", vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
TINY_PRESETS = {
    "falcon-7b-tiny-random": dict(_TINY),  # multi-query, parallel block, one norm, rotary
    "falcon-40b-tiny-random": dict(_TINY, new_decoder_architecture=True, num_kv_heads=2),
    "falcon-rw-tiny-random": dict(_TINY, alibi=True, multi_query=False, parallel_attn=False, bias=True),
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class FalconAttention(nn.Module):
    def __init__(self, config: FalconConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.rotary = config.rotary
        width = (self.num_heads + 2 * self.num_kv_heads) * self.head_dim  # queries, plus a key and a value per group
        self.query_key_value = nn.Linear(config.hidden_size, width, bias=config.bias)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, bias=config.bias)
        self.dropout_prob = config.attention_dropout
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden, cos, sin, mask, cache: KVCache | None, output_attentions: bool):
        batch, seq, _ = hidden.shape
        groups = self.num_heads // self.num_kv_heads
        qkv = self.query_key_value(hidden).view(batch, seq, self.num_kv_heads, groups + 2, self.head_dim)
        q = qkv[:, :, :, :groups].reshape(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)
        k = qkv[:, :, :, -2].transpose(1, 2)  # (batch, kv_heads, seq, head_dim)
        v = qkv[:, :, :, -1].transpose(1, 2)  # (batch, kv_heads, seq, head_dim)
        if self.rotary:
            q, k = layers.apply_rotary(q, k, cos, sin)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # (batch, kv_heads, past + seq, head_dim)
        context, weights = layers.attention(
            q,  # (batch, heads, seq, head_dim)
            layers.repeat_kv(k, groups),
            layers.repeat_kv(v, groups),
            mask,  # with ALiBi, the bias too: (batch or 1, heads, seq, past + seq)
            dropout=self.dropout_prob if self.training else 0.0,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return self.dense(layers.merge_heads(context)), weights  # (batch, seq, hidden)


class FalconMLP(nn.Module):
    def __init__(self, config: FalconConfig):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(config.hidden_size, config.ffn_hidden_size, bias=config.bias)
        self.act = layers.activation(config.activation)
        self.dense_4h_to_h = nn.Linear(config.ffn_hidden_size, config.hidden_size, bias=config.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dense_4h_to_h(self.act(self.dense_h_to_4h(hidden)))


class FalconDecoderLayer(GradientCheckpointingLayer):
    def __init__(self, config: FalconConfig, layer_idx: int):
        super().__init__()
        self.parallel = config.parallel_block
        if self.parallel and config.num_ln_in_parallel_attn == 2:
            self.ln_attn = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)  # before attention
            self.ln_mlp = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)  # before the MLP
        else:
            self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        if not self.parallel:
            self.post_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.self_attention = FalconAttention(config, layer_idx)
        self.mlp = FalconMLP(config)
        self.attention_dropout = nn.Dropout(config.attention_dropout)
        self.hidden_dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, hidden, cos, sin, mask, cache, output_attentions):
        if hasattr(self, "ln_attn"):
            attention_in, mlp_in = self.ln_attn(hidden), self.ln_mlp(hidden)
        else:
            attention_in = mlp_in = self.input_layernorm(hidden)
        attended, weights = self.self_attention(attention_in, cos, sin, mask, cache, output_attentions)
        if self.parallel:
            return hidden + self.hidden_dropout(self.mlp(mlp_in) + attended), weights
        hidden = hidden + self.attention_dropout(attended)
        return hidden + self.hidden_dropout(self.mlp(self.post_attention_layernorm(hidden))), weights


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class FalconPreTrainedModel(PreTrainedModel):
    config_class = FalconConfig
    base_model_prefix = "transformer"


class FalconModel(FalconPreTrainedModel):
    """Embeddings + decoder layers + final LayerNorm. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    def __init__(self, config: FalconConfig):
        super().__init__(config)
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.h = nn.ModuleList(FalconDecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.ln_f = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        if config.rotary:
            self.rotary_emb = layers.RotaryEmbedding(
                config.rope_parameters, config.head_dim, config.max_position_embeddings
            )
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.word_embeddings = value

    def alibi_mask(self, causal_mask, attention_mask, total: int, dtype, device) -> torch.Tensor:
        """The causal mask with ALiBi's bias, (batch or 1, heads, new or 1, total), as Falcon-RW computes it:
        slope * key position rounded to bfloat16 (the original model's arithmetic), then divided by
        sqrt(head_dim) like the scores it is added to."""
        key_positions = layers.decoder_positions(attention_mask, 0, total, device)  # (batch or 1, total)
        slopes = layers.alibi_slopes(self.config.num_attention_heads).to(device, torch.bfloat16)
        bias = layers.alibi_bias(slopes, key_positions).to(dtype) / math.sqrt(self.config.head_dim)
        return layers.biased_mask(causal_mask, bias, dtype)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values=None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        config = self.config
        check_inputs(input_ids, inputs_embeds, None, type(self).__name__)
        run = self.decoder_pass(len(self.h), past_key_values, use_cache, output_attentions, output_hidden_states)
        past = run.past_length

        hidden = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds  # (batch, seq, hidden)
        seq = hidden.shape[1]
        dtype, device = hidden.dtype, hidden.device
        mask = layers.decoder_attention_mask(attention_mask, past, seq, dtype, device)
        cos = sin = None
        if config.alibi:
            mask = self.alibi_mask(mask, attention_mask, past + seq, dtype, device)
        else:
            if position_ids is None:  # left padding: count real tokens only
                position_ids = layers.decoder_positions(attention_mask, past, seq, device)
            cos, sin = self.rotary_emb(position_ids, dtype)  # (batch, seq, head_dim)

        run.record(hidden)
        for layer in self.h:
            hidden, weights = layer(hidden, cos, sin, mask, run.cache, run.output_attentions)
            run.record(hidden, weights)
        return self.format_output(run.finish(self.ln_f(hidden)), return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class FalconForCausalLM(GenerationMixin, FalconPreTrainedModel):
    """Falcon with its language-modelling head (tied to ``word_embeddings``): logits (batch, seq, vocab)."""

    _tied_weights_keys = {"lm_head.weight": "transformer.word_embeddings.weight"}

    def __init__(self, config: FalconConfig):
        super().__init__(config)
        self.transformer = FalconModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def context_window(self) -> int | None:
        """Longest sequence the model handles as trained (generate refuses longer prompts); none with ALiBi
        or dynamic rotary scaling, which are made to run past it."""
        if self.config.alibi or self.config.rope_parameters["rope_type"] == "dynamic":
            return None
        return self.config.max_position_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values=None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
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
            past_key_values=past_key_values,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        return self.causal_lm_output(base, labels, logits_to_keep, return_dict)


class FalconForSequenceClassification(FalconPreTrainedModel):
    """A linear ``score`` head read at each row's last non-padding token: logits (batch, num_labels)."""

    def __init__(self, config: FalconConfig):
        super().__init__(config)
        self.transformer = FalconModel(config)
        self.score = nn.Linear(config.hidden_size, config.num_labels, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values=None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        position_ids: torch.Tensor | None = None,
    ):
        base = self.run_base(
            input_ids=input_ids,
            past_key_values=past_key_values,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        return self.sequence_classification_output(base, input_ids, attention_mask, labels, return_dict)
