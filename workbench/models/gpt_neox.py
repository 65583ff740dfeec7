"""GPT-NeoX: EleutherAI's decoder (GPT-NeoX-20B, Pythia, Dolly v2, RedPajama-INCITE, ...) and GPT-NeoX-Japanese.

    input_ids (batch, seq)
      -> embed_in                                                        (batch, seq, hidden)
      -> num_hidden_layers x GPTNeoXLayer, with a = attention(input_layernorm(x)):
           use_parallel_residual (GPT-NeoX-20B, Pythia): both branches read the layer's input
             x = x + a + mlp(post_attention_layernorm(x))
           otherwise (sequential, as GPT-2):
             x = x + a
             x = x + mlp(post_attention_layernorm(x))
      -> final_layer_norm -> embed_out                                   (batch, seq, vocab)

    attention  one fused projection ``query_key_value`` laid out head by head ([q k v] of head 0, then of head 1,
               ...); rotary positions on the first ``rotary_pct`` of each head's channels (Pythia: a quarter),
               the other channels carry no position
    mlp        dense_h_to_4h -> gelu -> dense_4h_to_h

GPT-NeoX-Japanese (abeja) is the same math with its switches fixed: sequential residual, no bias in the
attention and MLP projections except one added after the last layer's attention output (``dense_bias``), the
MLP width ``hidden_size * intermediate_multiple_size``, no dropout on the embeddings, every channel rotated by
default (``rotary_pct`` 1.0), the bare model named ``gpt_neox_japanese``. Its tokenizer (a sub-word vocabulary
with emoji handling) is not implemented here.

Module names are the Hub's state-dict keys (``gpt_neox.layers.0.attention.query_key_value.weight``,
``embed_out.weight``), so checkpoints load with no key map.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..cache import KVCache
from ..configuration import PretrainedConfig
from ..generation import GenerationMixin
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs


class GPTNeoXConfig(PretrainedConfig):
    """config.json of GPT-NeoX checkpoints. Rotary settings: v5 files carry ``rope_parameters``
    (``partial_rotary_factor``, ``rope_theta``); older ones ``rotary_pct`` and ``rotary_emb_base``."""

    model_type = "gpt_neox"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    defaults = dict(
        vocab_size=50432,
        hidden_size=6144,  # width of every token's vector
        num_hidden_layers=44,
        num_attention_heads=64,
        intermediate_size=24576,  # width of the MLP
        hidden_act="gelu",
        attention_dropout=0.0,  # dropout on the attention probabilities (training only)
        hidden_dropout=0.0,  # dropout on the embeddings and on each branch's output (training only)
        classifier_dropout=0.1,  # (kept for the reference's token-classification head)
        max_position_embeddings=2048,  # the context the model was trained on
        initializer_range=0.02,
        layer_norm_eps=1e-5,
        use_cache=True,
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=None,
        tie_word_embeddings=False,  # embed_out has its own weight
        use_parallel_residual=True,  # x + attn(ln1(x)) + mlp(ln2(x)) instead of two residual steps
        attention_bias=True,  # bias on query_key_value and dense
        is_decoder=False,
    )
    default_rotary_pct = 0.25  # fraction of each head's channels that rotate
    # What GPT-NeoX-Japanese changes (fixed by the architecture, not config.json keys):
    mlp_bias = True  # bias on dense_h_to_4h and dense_4h_to_h
    last_layer_dense_bias = False  # a bias added to the last layer's attention output only
    embedding_dropout = True  # hidden_dropout on the embeddings

    def __init__(self, **kwargs):
        values = {**type(self).defaults, **kwargs}
        rope = layers.rope_parameters_from(
            values,
            values["max_position_embeddings"],
            default_partial=type(self).default_rotary_pct,
            theta_key="rotary_emb_base",
            partial_key="rotary_pct",
        )
        super().__init__(**values)  # fields the base class does not name become attributes
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}."
            )
        self.rope_parameters = rope

    @property
    def rotary_pct(self) -> float:
        return self.rope_parameters["partial_rotary_factor"]

    @property
    def rotary_emb_base(self) -> float:
        return self.rope_parameters["rope_theta"]


class GPTNeoXJapaneseConfig(GPTNeoXConfig):
    model_type = "gpt_neox_japanese"
    defaults = dict(
        vocab_size=32000,
        hidden_size=2560,
        num_hidden_layers=32,
        num_attention_heads=32,
        intermediate_multiple_size=4,  # MLP width = hidden_size * this
        hidden_act="gelu",
        max_position_embeddings=2048,
        initializer_range=0.02,
        layer_norm_eps=1e-5,
        use_cache=True,
        bos_token_id=31996,
        eos_token_id=31999,
        attention_dropout=0.1,
        hidden_dropout=0.0,
        is_decoder=False,
        pad_token_id=None,
        tie_word_embeddings=True,
    )
    default_rotary_pct = 1.0
    use_parallel_residual = False
    attention_bias = False
    mlp_bias = False
    last_layer_dense_bias = True
    embedding_dropout = False

    @property
    def intermediate_size(self) -> int:
        return self.hidden_size * self.intermediate_multiple_size


# Tiny presets for tests and teaching: seconds to build and run on a CPU (``auto.tiny_config(name)`` builds one).
_TINY = dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=256)
TINY_PRESETS = {
    "gpt-neox-tiny-random": dict(_TINY, model_type="gpt_neox", intermediate_size=64, rotary_pct=0.5),
    "gpt-neox-japanese-tiny-random": dict(_TINY, model_type="gpt_neox_japanese", intermediate_multiple_size=2),
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class GPTNeoXAttention(nn.Module):
    def __init__(self, config: GPTNeoXConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.dropout_prob = config.attention_dropout
        self.query_key_value = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=config.attention_bias)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, bias=config.attention_bias)
        self.dense_bias = None
        if config.last_layer_dense_bias and layer_idx == config.num_hidden_layers - 1:
            self.dense_bias = nn.Parameter(torch.zeros(config.hidden_size))
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden, cos, sin, additive_mask, cache: KVCache | None, output_attentions: bool):
        q, k, v = layers.split_fused_qkv_per_head(
            self.query_key_value(hidden), self.num_heads
        )  # (batch, heads, seq, hd)
        q, k = layers.apply_partial_rotary(q, k, cos, sin)  # the first rotary_pct of the channels turn
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
        out = self.dense(layers.merge_heads(context))  # (batch, seq, hidden)
        if self.dense_bias is not None:
            out = out + self.dense_bias
        return out, weights


class GPTNeoXMLP(nn.Module):
    def __init__(self, config: GPTNeoXConfig):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(config.hidden_size, config.intermediate_size, bias=config.mlp_bias)
        self.dense_4h_to_h = nn.Linear(config.intermediate_size, config.hidden_size, bias=config.mlp_bias)
        self.act = layers.activation(config.hidden_act)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dense_4h_to_h(self.act(self.dense_h_to_4h(hidden)))


class GPTNeoXLayer(GradientCheckpointingLayer):
    def __init__(self, config: GPTNeoXConfig, layer_idx: int):
        super().__init__()
        self.use_parallel_residual = config.use_parallel_residual
        self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_attention_dropout = nn.Dropout(config.hidden_dropout)
        self.post_mlp_dropout = nn.Dropout(config.hidden_dropout)
        self.attention = GPTNeoXAttention(config, layer_idx)
        self.mlp = GPTNeoXMLP(config)

    def forward(self, hidden, cos, sin, additive_mask, cache, output_attentions):
        attended, weights = self.attention(
            self.input_layernorm(hidden), cos, sin, additive_mask, cache, output_attentions
        )
        attended = self.post_attention_dropout(attended)
        if self.use_parallel_residual:  # the MLP reads the layer's input, not the attention's result
            fed = self.post_mlp_dropout(self.mlp(self.post_attention_layernorm(hidden)))
            return fed + attended + hidden, weights
        hidden = attended + hidden
        return self.post_mlp_dropout(self.mlp(self.post_attention_layernorm(hidden))) + hidden, weights


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class GPTNeoXPreTrainedModel(PreTrainedModel):
    config_class = GPTNeoXConfig
    base_model_prefix = "gpt_neox"
    # buffers that older checkpoints saved in every layer (causal mask, rotary frequencies)
    _ignored_checkpoint_keys = r"\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)$"


class GPTNeoXModel(GPTNeoXPreTrainedModel):
    """Embeddings + layers + final LayerNorm. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    def __init__(self, config: GPTNeoXConfig):
        super().__init__(config)
        self.embed_in = nn.Embedding(config.vocab_size, config.hidden_size)
        self.emb_dropout = nn.Dropout(config.hidden_dropout if config.embedding_dropout else 0.0)
        self.layers = nn.ModuleList(GPTNeoXLayer(config, i) for i in range(config.num_hidden_layers))
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        head_size = config.hidden_size // config.num_attention_heads
        rotated = int(head_size * config.rotary_pct)  # channels per head that rotate
        self.rotary_emb = layers.RotaryEmbedding(config.rope_parameters, rotated, config.max_position_embeddings)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_in

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_in = value

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

        hidden = self.embed_in(input_ids) if inputs_embeds is None else inputs_embeds  # (batch, seq, hidden)
        seq = hidden.shape[1]
        if position_ids is None:  # left padding: count real tokens only
            position_ids = layers.decoder_positions(attention_mask, past, seq, hidden.device)
        cos, sin = self.rotary_emb(position_ids, hidden.dtype)  # (batch, seq, rotated channels)
        additive_mask = layers.decoder_attention_mask(attention_mask, past, seq, hidden.dtype, hidden.device)
        if self.training:
            hidden = self.emb_dropout(hidden)

        run.record(hidden)
        for layer in self.layers:
            hidden, weights = layer(hidden, cos, sin, additive_mask, run.cache, run.output_attentions)
            run.record(hidden, weights)
        return self.format_output(run.finish(self.final_layer_norm(hidden)), return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class GPTNeoXForCausalLM(GenerationMixin, GPTNeoXPreTrainedModel):
    """The model plus the language-modelling head ``embed_out``: next-token logits (batch, seq, vocab)."""

    _tied_weights_keys = {"embed_out.weight": "gpt_neox.embed_in.weight"}  # tied only with tie_word_embeddings

    def __init__(self, config: GPTNeoXConfig):
        super().__init__(config)
        self.add_module(self.base_model_prefix, GPTNeoXModel(config))  # "gpt_neox" (or "gpt_neox_japanese")
        self.embed_out = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.embed_out

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


class GPTNeoXForSequenceClassification(GPTNeoXPreTrainedModel):
    """GPT-NeoX read at each row's last non-padding token (``config.pad_token_id``): logits (batch, num_labels)."""

    def __init__(self, config: GPTNeoXConfig):
        super().__init__(config)
        self.gpt_neox = GPTNeoXModel(config)
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


# GPT-NeoX-Japanese: the same classes reading a GPTNeoXJapaneseConfig, the bare model under its own name.


class GPTNeoXJapaneseModel(GPTNeoXModel):
    config_class = GPTNeoXJapaneseConfig
    base_model_prefix = "gpt_neox_japanese"


class GPTNeoXJapaneseForCausalLM(GPTNeoXForCausalLM):
    config_class = GPTNeoXJapaneseConfig
    base_model_prefix = "gpt_neox_japanese"
    _tied_weights_keys = {"embed_out.weight": "gpt_neox_japanese.embed_in.weight"}
