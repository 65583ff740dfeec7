"""BLOOM: a decoder without position embeddings; ALiBi biases tell attention how far apart tokens are.

Covers checkpoints whose ``model_type`` is ``bloom``: BigScience's BLOOM (560m to 176b), BLOOMZ and their
fine-tunes.

    input_ids (batch, seq)
      -> word_embeddings -> word_embeddings_layernorm                   (batch, seq, hidden)
      -> n_layer x BloomBlock:
           x = r + self_attention(input_layernorm(x))     fused query_key_value; scores + ALiBi bias
           x = r + mlp(post_attention_layernorm(x))       dense_h_to_4h -> gelu (tanh) -> dense_4h_to_h
           (r, the residual, is the block's input, or its normalised input with
            apply_residual_connection_post_layernorm)
      -> ln_f -> lm_head (tied to word_embeddings)                      (batch, seq, vocab)

ALiBi: head h adds m_h * (position of the key) to its scores (``layers.alibi_slopes``), which by the softmax's
shift invariance is a penalty m_h * (distance to the key). Positions count real tokens only (from the attention
mask), so a left-padded row gives the numbers it gives unpadded. With no position table, there is no hard limit
on the length.

Checkpoint layout: ``query_key_value`` projects to (heads, 3, head_dim): each head's query, key and value side
by side (not all queries, then all keys, then all values). Module names are the Hub's state-dict keys.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..cache import KVCache
from ..configuration import PretrainedConfig
from ..generation import GenerationMixin
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs


class BloomConfig(PretrainedConfig):
    model_type = "bloom"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    attribute_map = {"num_hidden_layers": "n_layer", "num_attention_heads": "n_head"}

    def __init__(
        self,
        vocab_size: int = 250880,
        hidden_size: int = 64,  # width of every token's vector (old files call it n_embed)
        n_layer: int = 2,
        n_head: int = 8,
        layer_norm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        use_cache: bool = True,
        bos_token_id: int = 1,
        eos_token_id: int = 2,
        apply_residual_connection_post_layernorm: bool = False,  # residual = the normalised input, not the input
        hidden_dropout: float = 0.0,  # on the attention and MLP outputs, before the residual sum
        attention_dropout: float = 0.0,  # on the attention probabilities
        # Megatron tensor-parallel training: slow_but_exact computed the output projections slice by slice,
        # the same sum in another order; one matmul here.
        pretraining_tp: int = 1,
        slow_but_exact: bool = False,
        **kwargs,
    ):
        n_embed = kwargs.pop("n_embed", None)
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size if n_embed is None else n_embed
        self.n_layer = n_layer
        self.n_head = n_head
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.use_cache = use_cache
        self.apply_residual_connection_post_layernorm = apply_residual_connection_post_layernorm
        self.hidden_dropout = hidden_dropout
        self.attention_dropout = attention_dropout
        self.pretraining_tp = pretraining_tp
        self.slow_but_exact = slow_but_exact
        if self.hidden_size % n_head:
            raise ValueError(f"hidden_size={self.hidden_size} is not a multiple of n_head={n_head}.")


# Tiny presets for tests and teaching: seconds to build and run on a CPU (``auto.tiny_config(name)`` builds one).
TINY_PRESETS = {"bloom-tiny-random": dict(model_type="bloom", vocab_size=128, hidden_size=32, n_layer=2, n_head=4)}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


def bloom_gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU's tanh approximation with BLOOM's (Megatron's) rounded constant 0.79788456 for sqrt(2 / pi)."""
    return x * 0.5 * (1.0 + torch.tanh(0.79788456 * x * (1 + 0.044715 * x * x)))


class BloomAttention(nn.Module):
    def __init__(self, config: BloomConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.n_head
        self.head_dim = config.hidden_size // config.n_head
        self.query_key_value = nn.Linear(config.hidden_size, 3 * config.hidden_size)  # (heads, 3, head_dim) layout
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_prob = config.attention_dropout
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden, alibi_mask, cache: KVCache | None, output_attentions: bool):
        batch, seq, _ = hidden.shape
        qkv = self.query_key_value(hidden).view(batch, seq, self.num_heads, 3, self.head_dim)
        q, k, v = qkv.permute(3, 0, 2, 1, 4).unbind(0)  # each (batch, heads, seq, head_dim)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # (batch, heads, past + seq, head_dim)
        context, weights = layers.attention(
            q,
            k,
            v,
            alibi_mask,  # (batch or 1, heads, seq, past + seq): the ALiBi bias, and the minimum where masked
            dropout=self.dropout_prob if self.training else 0.0,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return self.dense(layers.merge_heads(context)), weights  # (batch, seq, hidden)


class BloomMLP(nn.Module):
    def __init__(self, config: BloomConfig):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(config.hidden_size, 4 * config.hidden_size)
        self.dense_4h_to_h = nn.Linear(4 * config.hidden_size, config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dense_4h_to_h(bloom_gelu(self.dense_h_to_4h(hidden)))


class BloomBlock(GradientCheckpointingLayer):
    def __init__(self, config: BloomConfig, layer_idx: int):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.self_attention = BloomAttention(config, layer_idx)
        self.post_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.mlp = BloomMLP(config)
        self.residual_after_norm = config.apply_residual_connection_post_layernorm
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, hidden, alibi_mask, cache, output_attentions):
        normed = self.input_layernorm(hidden)
        residual = normed if self.residual_after_norm else hidden
        attended, weights = self.self_attention(normed, alibi_mask, cache, output_attentions)
        hidden = residual + self.dropout(attended)
        normed = self.post_attention_layernorm(hidden)
        residual = normed if self.residual_after_norm else hidden
        return residual + self.dropout(self.mlp(normed)), weights


def bloom_cache_to_standard(past: tuple | list, num_heads: int) -> tuple:
    """Legacy BLOOM caches (transformers 4.x) kept keys as (batch * heads, head_dim, seq) and values as
    (batch * heads, seq, head_dim); -> ((key, value), ...) per layer, each (batch, heads, seq, head_dim)."""
    standard = []
    for key, value in past:
        batch_heads, head_dim, seq = key.shape
        batch = batch_heads // num_heads
        key = key.view(batch, num_heads, head_dim, seq).transpose(2, 3)  # (batch, heads, seq, head_dim)
        standard.append((key, value.view(batch, num_heads, seq, head_dim)))
    return tuple(standard)


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class BloomPreTrainedModel(PreTrainedModel):
    config_class = BloomConfig
    base_model_prefix = "transformer"


class BloomModel(BloomPreTrainedModel):
    """Embeddings (+ LayerNorm) + blocks + final LayerNorm. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    def __init__(self, config: BloomConfig):
        super().__init__(config)
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.word_embeddings_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.h = nn.ModuleList(BloomBlock(config, i) for i in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values=None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        position_ids: torch.Tensor | None = None,  # not used: ALiBi counts positions from attention_mask
    ):
        config = self.config
        check_inputs(input_ids, inputs_embeds, None, type(self).__name__)
        if isinstance(past_key_values, (tuple, list)) and past_key_values and past_key_values[0][0].dim() == 3:
            past_key_values = bloom_cache_to_standard(past_key_values, config.n_head)
        run = self.decoder_pass(len(self.h), past_key_values, use_cache, output_attentions, output_hidden_states)
        past = run.past_length

        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # (batch, seq, hidden)
        seq = inputs_embeds.shape[1]
        hidden = self.word_embeddings_layernorm(inputs_embeds)
        dtype, device = hidden.dtype, hidden.device
        causal_mask = layers.decoder_attention_mask(attention_mask, past, seq, dtype, device)
        key_positions = layers.decoder_positions(attention_mask, 0, past + seq, device)  # (batch or 1, past + seq)
        alibi = layers.alibi_bias(layers.alibi_slopes(config.n_head).to(device), key_positions)
        alibi_mask = layers.biased_mask(causal_mask, alibi, dtype)  # (batch or 1, heads, seq or 1, past + seq)

        run.record(hidden)
        for block in self.h:
            hidden, weights = block(hidden, alibi_mask, run.cache, run.output_attentions)
            run.record(hidden, weights)
        return self.format_output(run.finish(self.ln_f(hidden)), return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class BloomForCausalLM(GenerationMixin, BloomPreTrainedModel):
    """BLOOM with its language-modelling head (weights shared with ``word_embeddings``): logits (batch, seq, vocab)."""

    _tied_weights_keys = {"lm_head.weight": "transformer.word_embeddings.weight"}

    def __init__(self, config: BloomConfig):
        super().__init__(config)
        self.transformer = BloomModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def context_window(self) -> None:
        """No limit: ALiBi has no position table (quality beyond the trained 2048 tokens is another matter)."""
        return None

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
        logits_to_keep: int | torch.Tensor = 0,
        position_ids: torch.Tensor | None = None,  # not used: ALiBi counts positions from attention_mask
    ):
        base = self.run_base(
            input_ids=input_ids,
            past_key_values=past_key_values,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        return self.causal_lm_output(base, labels, logits_to_keep, return_dict)


class BloomForSequenceClassification(BloomPreTrainedModel):
    """A linear ``score`` head read at each row's last non-padding token: logits (batch, num_labels)."""

    def __init__(self, config: BloomConfig):
        super().__init__(config)
        self.transformer = BloomModel(config)
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
    ):
        base = self.run_base(
            input_ids=input_ids,
            past_key_values=past_key_values,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        return self.sequence_classification_output(base, input_ids, attention_mask, labels, return_dict)
