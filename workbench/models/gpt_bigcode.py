"""GPTBigCode (StarCoder, SantaCoder): GPT-2's architecture with multi-query attention.

Covers checkpoints whose ``model_type`` is ``gpt_bigcode``: bigcode/starcoder, starcoderbase (1B-15B),
gpt_bigcode-santacoder, tiny_starcoder, WizardCoder and other fine-tunes.

    input_ids (batch, seq)
      -> wte (tokens) + wpe (positions)                                  (batch, seq, hidden)
      -> n_layer x GPTBigCodeBlock:
           x = x + attn(ln_1(x))     causal self-attention; one fused projection c_attn gives the queries of
                                     every head and, with multi_query, ONE key head and ONE value head that all
                                     query heads share
           x = x + mlp(ln_2(x))      c_fc -> gelu (tanh) -> c_proj
      -> ln_f -> lm_head (tied to wte)                                   (batch, seq, vocab)

Multi-query attention keeps a KV cache n_head times smaller than GPT-2's, which is what makes long code
completions cheap. The c_attn output layouts:

    multi_query=True    [q (n_embd) | k (head_dim) | v (head_dim)]
    multi_query=False   per head [q | k | v] (head_dim each), heads one after the other

Unlike GPT-2 the projections are ``nn.Linear`` (weights stored (out, in)), as in the Hub's files.
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


class GPTBigCodeConfig(PretrainedConfig):
    model_type = "gpt_bigcode"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    attribute_map = {
        "hidden_size": "n_embd",
        "max_position_embeddings": "n_positions",
        "num_attention_heads": "n_head",
        "num_hidden_layers": "n_layer",
    }

    def __init__(
        self,
        vocab_size: int = 50257,
        n_positions: int = 1024,  # longest sequence (prompt + generated) the position table covers
        n_embd: int = 768,
        n_layer: int = 12,
        n_head: int = 12,
        n_inner: int | None = None,  # feed-forward width; None: 4 * n_embd
        activation_function: str = "gelu_pytorch_tanh",
        resid_pdrop: float = 0.1,
        embd_pdrop: float = 0.1,
        attn_pdrop: float = 0.1,
        layer_norm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        scale_attn_weights: bool = True,  # divide scores by sqrt(head_dim)
        use_cache: bool = True,
        bos_token_id: int = 50256,
        eos_token_id: int = 50256,
        attention_softmax_in_fp32: bool = True,  # (the softmax here is always computed in float32)
        scale_attention_softmax_in_fp32: bool = True,
        multi_query: bool = True,  # one key/value head shared by all query heads
        add_cross_attention: bool = False,
        **kwargs,
    ):
        kwargs.pop("num_key_value_heads", None)  # written by the reference too, but always derived from multi_query
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
        if add_cross_attention:
            raise ValueError(
                "add_cross_attention=True (GPTBigCode as the decoder of an encoder-decoder) is not implemented in "
                "workbench; StarCoder-style checkpoints are decoder-only and have add_cross_attention=False."
            )
        if n_embd % n_head:
            raise ValueError(f"n_embd={n_embd} is not a multiple of n_head={n_head}.")
        self.vocab_size = vocab_size
        self.n_positions = n_positions
        self.n_embd = n_embd
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_inner = n_inner
        self.activation_function = activation_function
        self.resid_pdrop = resid_pdrop
        self.embd_pdrop = embd_pdrop
        self.attn_pdrop = attn_pdrop
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.scale_attn_weights = scale_attn_weights
        self.use_cache = use_cache
        self.attention_softmax_in_fp32 = attention_softmax_in_fp32
        self.scale_attention_softmax_in_fp32 = scale_attention_softmax_in_fp32
        self.multi_query = multi_query
        self.add_cross_attention = add_cross_attention
        self.num_key_value_heads = 1 if multi_query else n_head


# Tiny presets for tests and teaching: seconds to build and run on a CPU.
TINY_PRESETS = {
    "gpt-bigcode-tiny-random": dict(
        model_type="gpt_bigcode", vocab_size=128, n_positions=128, n_embd=32, n_layer=2, n_head=4
    )
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class GPTBigCodeAttention(nn.Module):
    def __init__(self, config: GPTBigCodeConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.n_head
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.n_embd // config.n_head
        self.multi_query = config.multi_query
        self.scale = 1.0 / math.sqrt(self.head_dim) if config.scale_attn_weights else 1.0
        self.c_attn = nn.Linear(config.n_embd, config.n_embd + 2 * self.num_kv_heads * self.head_dim)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.c_proj.residual = True
        self.attn_dropout_prob = config.attn_pdrop
        self.resid_dropout = nn.Dropout(config.resid_pdrop)
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def project(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(batch, seq, hidden) -> q (batch, heads, seq, head_dim), k and v (batch, kv_heads, seq, head_dim)."""
        fused = self.c_attn(hidden)
        if not self.multi_query:
            return layers.split_fused_qkv_per_head(fused, self.num_heads)  # per head [q | k | v]
        q, k, v = fused.split((hidden.shape[-1], self.head_dim, self.head_dim), dim=-1)
        return layers.split_heads(q, self.num_heads), k[:, None], v[:, None]  # k, v: (batch, 1, seq, head_dim)

    def forward(self, hidden, additive_mask, cache: KVCache | None, output_attentions: bool):
        q, k, v = self.project(hidden)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # (batch, kv_heads, past + seq, head_dim)
        groups = self.num_heads // self.num_kv_heads
        context, weights = layers.attention(
            q,
            layers.repeat_kv(k, groups),
            layers.repeat_kv(v, groups),
            additive_mask,
            dropout=self.attn_dropout_prob if self.training else 0.0,
            scale=self.scale,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        out = self.c_proj(layers.merge_heads(context))  # (batch, seq, hidden)
        return self.resid_dropout(out), weights


class GPTBigCodeMLP(nn.Module):
    def __init__(self, config: GPTBigCodeConfig):
        super().__init__()
        inner = config.n_inner or 4 * config.n_embd
        self.c_fc = nn.Linear(config.n_embd, inner)
        self.c_proj = nn.Linear(inner, config.n_embd)
        self.c_proj.residual = True
        self.act = layers.activation(config.activation_function)
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(hidden))))


class GPTBigCodeBlock(GradientCheckpointingLayer):
    def __init__(self, config: GPTBigCodeConfig, layer_idx: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPTBigCodeAttention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPTBigCodeMLP(config)

    def forward(self, hidden, additive_mask, cache, output_attentions):
        attended, weights = self.attn(self.ln_1(hidden), additive_mask, cache, output_attentions)
        hidden = hidden + attended
        hidden = hidden + self.mlp(self.ln_2(hidden))
        return hidden, weights


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class GPTBigCodePreTrainedModel(PreTrainedModel):
    config_class = GPTBigCodeConfig
    base_model_prefix = "transformer"

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if getattr(module, "residual", False):
            # GPT-2's scheme: projections into the residual stream get std / sqrt(2 * n_layer)
            std = self.config.initializer_range / math.sqrt(2 * self.config.n_layer)
            nn.init.normal_(module.weight, mean=0.0, std=std)


class GPTBigCodeModel(GPTBigCodePreTrainedModel):
    """Embeddings + blocks + final LayerNorm. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    def __init__(self, config: GPTBigCodeConfig):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList(GPTBigCodeBlock(config, i) for i in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.wte

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.wte = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values=None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        config = self.config
        name = type(self).__name__
        check_inputs(input_ids, inputs_embeds, config.n_positions, name)
        run = self.decoder_pass(len(self.h), past_key_values, use_cache, output_attentions, output_hidden_states)
        past = run.past_length

        if inputs_embeds is None:
            inputs_embeds = self.wte(input_ids)  # (batch, seq, hidden)
        seq = inputs_embeds.shape[1]
        layers.check_decoder_length(past, seq, config.n_positions, name)
        if position_ids is None:  # left padding: count real tokens only
            position_ids = layers.decoder_positions(attention_mask, past, seq, inputs_embeds.device)
        hidden = inputs_embeds + self.wpe(position_ids)
        if token_type_ids is not None:
            hidden = hidden + self.wte(token_type_ids)  # segment ids are embedded with the token table
        hidden = self.drop(hidden)
        additive_mask = layers.decoder_attention_mask(attention_mask, past, seq, hidden.dtype, hidden.device)

        run.record(hidden)
        for block in self.h:
            hidden, weights = block(hidden, additive_mask, run.cache, run.output_attentions)
            run.record(hidden, weights)
        return self.format_output(run.finish(self.ln_f(hidden)), return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class GPTBigCodeForCausalLM(GenerationMixin, GPTBigCodePreTrainedModel):
    """GPTBigCode with its language-modelling head (weights shared with ``wte``): logits (batch, seq, vocab)."""

    _tied_weights_keys = {"lm_head.weight": "transformer.wte.weight"}

    def __init__(self, config: GPTBigCodeConfig):
        super().__init__(config)
        self.transformer = GPTBigCodeModel(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def context_window(self) -> int:
        """Longest sequence, prompt plus generated tokens, the position table covers."""
        return self.config.n_positions

    max_total_length = context_window  # a hard limit: there are no positions past it

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values=None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
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
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        return self.causal_lm_output(base, labels, logits_to_keep, return_dict)


class GPTBigCodeForSequenceClassification(GPTBigCodePreTrainedModel):
    """GPTBigCode read at each row's last non-padding token (``config.pad_token_id``): logits (batch, num_labels)."""

    def __init__(self, config: GPTBigCodeConfig):
        super().__init__(config)
        self.transformer = GPTBigCodeModel(config)
        self.score = nn.Linear(config.n_embd, config.num_labels, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values=None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
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
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        return self.sequence_classification_output(base, input_ids, attention_mask, labels, return_dict)
