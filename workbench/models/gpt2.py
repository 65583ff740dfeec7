"""GPT-2: a stack of causal self-attention blocks with learned positions, and its language-model head.

Covers checkpoints whose ``model_type`` is ``gpt2``: GPT-2 (all sizes), DistilGPT2, DialoGPT,
Megatron-GPT2 (converted), CPM, GPT-Sw3 and the tiny GPTs the workbench trains itself.

    input_ids (batch, seq)
      -> wte (tokens) + wpe (positions)                                  (batch, seq, hidden)
      -> n_layer x GPT2Block:
           x = x + attn(ln_1(x))        causal self-attention, fused q/k/v projection (c_attn)
           x = x + mlp(ln_2(x))         c_fc -> gelu_new -> c_proj
      -> ln_f -> lm_head (tied to wte)                                   (batch, seq, vocab)

Checkpoint layout: GPT-2's projections are ``Conv1D`` layers whose weights are stored transposed,
(in_features, out_features). ``Conv1D`` below keeps exactly that layout and computes ``x @ W + b``, so
Hub checkpoints load, and save back, tensor for tensor with no key map or transposes.
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


class GPT2Config(PretrainedConfig):
    model_type = "gpt2"
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
        n_embd: int = 768,  # width of every token's vector
        n_layer: int = 12,
        n_head: int = 12,
        n_inner: int | None = None,  # feed-forward width; None: 4 * n_embd
        activation_function: str = "gelu_new",
        resid_pdrop: float = 0.1,
        embd_pdrop: float = 0.1,
        attn_pdrop: float = 0.1,
        layer_norm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        scale_attn_weights: bool = True,  # divide scores by sqrt(head_dim)
        scale_attn_by_inverse_layer_idx: bool = False,  # also divide by (layer index + 1) (Mistral-GPT2)
        reorder_and_upcast_attn: bool = False,  # compute scores in float32 (same numbers in float32)
        use_cache: bool = True,
        bos_token_id: int = 50256,
        eos_token_id: int = 50256,
        **kwargs,
    ):
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
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
        self.scale_attn_by_inverse_layer_idx = scale_attn_by_inverse_layer_idx
        self.reorder_and_upcast_attn = reorder_and_upcast_attn
        self.use_cache = use_cache
        if n_embd % n_head:
            raise ValueError(f"n_embd={n_embd} is not a multiple of n_head={n_head}.")


# Tiny presets for tests and teaching: seconds to build and run on a CPU.
TINY_PRESETS = {
    "gpt2-tiny-random": dict(model_type="gpt2", vocab_size=128, n_positions=128, n_embd=32, n_layer=2, n_head=4)
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class Conv1D(nn.Module):
    """A linear layer with its weight stored (in_features, out_features), as GPT-2 checkpoints do: x @ W + b."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = torch.addmm(self.bias, x.reshape(-1, self.in_features), self.weight)  # (batch * seq, out)
        return flat.view(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features} (weight stored transposed)"


class GPT2Attention(nn.Module):
    def __init__(self, config: GPT2Config, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.n_head
        self.head_dim = config.n_embd // config.n_head
        scale = 1.0 / math.sqrt(self.head_dim) if config.scale_attn_weights else 1.0
        if config.scale_attn_by_inverse_layer_idx:
            scale /= layer_idx + 1
        self.scale = scale
        self.c_attn = Conv1D(config.n_embd, 3 * config.n_embd)  # q, k and v in one projection
        self.c_proj = Conv1D(config.n_embd, config.n_embd)
        self.c_proj.residual = True
        self.attn_dropout_prob = config.attn_pdrop
        self.resid_dropout = nn.Dropout(config.resid_pdrop)
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden, additive_mask, cache: KVCache | None, output_attentions: bool):
        batch, seq, _ = hidden.shape
        qkv = self.c_attn(hidden).view(batch, seq, 3, self.num_heads, self.head_dim)  # (batch, seq, 3, heads, hd)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (batch, heads, seq, head_dim)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # (batch, heads, past + seq, head_dim)
        context, weights = layers.attention(
            q,
            k,
            v,
            additive_mask,
            dropout=self.attn_dropout_prob if self.training else 0.0,
            scale=self.scale,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        out = self.c_proj(layers.merge_heads(context))  # (batch, seq, hidden)
        return (self.resid_dropout(out) if self.training else out), weights


class GPT2MLP(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        inner = config.n_inner or 4 * config.n_embd
        self.c_fc = Conv1D(config.n_embd, inner)
        self.c_proj = Conv1D(inner, config.n_embd)
        self.c_proj.residual = True
        self.act = layers.activation(config.activation_function)
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        out = self.c_proj(self.act(self.c_fc(hidden)))
        return self.dropout(out) if self.training else out  # (dropout is skipped, not run as a no-op, in eval)


class GPT2Block(GradientCheckpointingLayer):
    def __init__(self, config: GPT2Config, layer_idx: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(config)

    def forward(self, hidden, additive_mask, cache, output_attentions):
        attended, weights = self.attn(self.ln_1(hidden), additive_mask, cache, output_attentions)
        hidden = hidden + attended
        hidden = hidden + self.mlp(self.ln_2(hidden))
        return hidden, weights


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class GPT2PreTrainedModel(PreTrainedModel):
    config_class = GPT2Config
    base_model_prefix = "transformer"
    # Hub checkpoints of GPT-2 (e.g. openai-community/gpt2) carry each layer's causal-mask buffer
    _ignored_checkpoint_keys = r"(^|\.)attn\.(masked_)?bias$"

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, Conv1D):
            # GPT-2's scheme: projections into the residual stream get std / sqrt(2 * n_layer)
            scale = 1 / math.sqrt(2 * self.config.n_layer) if getattr(module, "residual", False) else 1.0
            nn.init.normal_(module.weight, mean=0.0, std=std * scale)
            nn.init.zeros_(module.bias)
        else:
            super()._init_weights(module)


class GPT2Model(GPT2PreTrainedModel):
    """Embeddings + blocks + final LayerNorm. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList(GPT2Block(config, i) for i in range(config.n_layer))
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
            hidden = hidden + self.wte(token_type_ids)  # GPT-2 embeds segment ids with the token table
        if self.training:
            hidden = self.drop(hidden)
        additive_mask = layers.decoder_attention_mask(attention_mask, past, seq, hidden.dtype, hidden.device)

        run.record(hidden)
        for block in self.h:
            hidden, weights = block(hidden, additive_mask, run.cache, run.output_attentions)
            run.record(hidden, weights)
        return self.format_output(run.finish(self.ln_f(hidden)), return_dict)


class GPT2LMHeadModel(GenerationMixin, GPT2PreTrainedModel):
    """GPT-2 with its language-modelling head (weights shared with ``wte``): logits (batch, seq, vocab)."""

    _tied_weights_keys = {"lm_head.weight": "transformer.wte.weight"}

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.transformer = GPT2Model(config)
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
