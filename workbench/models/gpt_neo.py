"""GPT-Neo: GPT-2's blocks with alternating global and local (sliding-window) attention and unscaled scores.

Covers checkpoints whose ``model_type`` is ``gpt_neo``: EleutherAI's GPT-Neo 125M, 1.3B and 2.7B and their
fine-tunes.

    input_ids (batch, seq)
      -> wte (tokens) + wpe (positions)                                  (batch, seq, hidden)
      -> num_layers x GPTNeoBlock:
           x = x + attn(ln_1(x))     causal self-attention (q_proj, k_proj, v_proj, out_proj); the scores q.k are
                                     NOT divided by sqrt(head_dim). A "global" layer sees every earlier token,
                                     a "local" one only the last window_size tokens (itself included).
           x = x + mlp(ln_2(x))      c_fc -> gelu_new -> c_proj
      -> ln_f -> lm_head (tied to wte)                                   (batch, seq, vocab)

Which layers are local: ``attention_types`` lists (pattern, repeats) pairs, e.g. ``[[["global", "local"], 12]]``
is the pair (global, local) twelve times, 24 layers in all; the config expands it into ``attention_layers``.

Checkpoint layout: the projections sit one level deeper than the block's ``attn``
(``transformer.h.0.attn.attention.q_proj.weight``), as in the Hub's files; ``GPTNeoAttention`` is that level.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..cache import KVCache
from ..configuration import PretrainedConfig
from ..generation import GenerationMixin
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs

ATTENTION_TYPES = ("global", "local")


class GPTNeoConfig(PretrainedConfig):
    model_type = "gpt_neo"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    attribute_map = {"num_attention_heads": "num_heads", "num_hidden_layers": "num_layers"}

    def __init__(
        self,
        vocab_size: int = 50257,
        max_position_embeddings: int = 2048,  # longest sequence (prompt + generated) the position table covers
        hidden_size: int = 2048,
        num_layers: int = 24,
        attention_types: list | None = None,  # [[pattern, repeats], ...]; None: [[["global", "local"], 12]]
        num_heads: int = 16,
        intermediate_size: int | None = None,  # feed-forward width; None: 4 * hidden_size
        window_size: int = 256,  # how many tokens (itself included) a query of a local layer sees
        activation_function: str = "gelu_new",
        resid_dropout: float = 0.0,
        embed_dropout: float = 0.0,
        attention_dropout: float = 0.0,
        classifier_dropout: float = 0.1,
        layer_norm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        use_cache: bool = True,
        bos_token_id: int = 50256,
        eos_token_id: int = 50256,
        **kwargs,
    ):
        kwargs.pop("attention_layers", None)  # written by the reference too, but always derived from attention_types
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.attention_types = [[["global", "local"], 12]] if attention_types is None else attention_types
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.window_size = window_size
        self.activation_function = activation_function
        self.resid_dropout = resid_dropout
        self.embed_dropout = embed_dropout
        self.attention_dropout = attention_dropout
        self.classifier_dropout = classifier_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.use_cache = use_cache
        self.attention_layers = [
            kind for pattern, repeats in self.attention_types for _ in range(repeats) for kind in pattern
        ]
        if len(self.attention_layers) != num_layers:
            raise ValueError(
                f"attention_types={self.attention_types} describes {len(self.attention_layers)} layers, but "
                f"num_layers={num_layers}; e.g. [[['global', 'local'], {num_layers // 2}]] alternates them."
            )
        unknown = sorted(set(self.attention_layers) - set(ATTENTION_TYPES))
        if unknown:
            raise ValueError(f"attention_types has {unknown}; a layer's attention is 'global' or 'local'.")
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size={hidden_size} is not a multiple of num_heads={num_heads}.")


# Tiny presets for tests and teaching: seconds to build and run on a CPU.
TINY_PRESETS = {
    "gpt-neo-tiny-random": dict(
        model_type="gpt_neo",
        vocab_size=128,
        max_position_embeddings=128,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        attention_types=[[["global", "local"], 1]],
        window_size=8,
    )
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class GPTNeoSelfAttention(nn.Module):
    def __init__(self, config: GPTNeoConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.attention_type = config.attention_layers[layer_idx]  # "global" or "local": which mask it gets
        self.num_heads = config.num_heads
        self.q_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.k_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.v_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.out_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=True)
        self.attn_dropout_prob = float(config.attention_dropout)
        self.resid_dropout = nn.Dropout(float(config.resid_dropout))
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden, additive_mask, cache: KVCache | None, output_attentions: bool):
        q = layers.split_heads(self.q_proj(hidden), self.num_heads)  # (batch, heads, seq, head_dim)
        k = layers.split_heads(self.k_proj(hidden), self.num_heads)
        v = layers.split_heads(self.v_proj(hidden), self.num_heads)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # (batch, heads, past + seq, head_dim)
        dtype = hidden.dtype
        if dtype in (torch.float16, torch.bfloat16):
            # unscaled scores overflow half precision easily: attend in float32, as the reference does
            q, k, v = q.float(), k.float(), v.float()
            additive_mask = additive_mask.float() if additive_mask is not None else None
        context, weights = layers.attention(
            q,
            k,
            v,
            additive_mask,
            dropout=self.attn_dropout_prob if self.training else 0.0,
            scale=1.0,  # GPT-Neo does not divide the scores by sqrt(head_dim)
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        out = self.out_proj(layers.merge_heads(context).to(dtype))  # (batch, seq, hidden)
        return self.resid_dropout(out), weights


class GPTNeoAttention(nn.Module):
    """The level the checkpoint keys have between a block and its projections (``attn.attention.q_proj``)."""

    def __init__(self, config: GPTNeoConfig, layer_idx: int):
        super().__init__()
        self.attention = GPTNeoSelfAttention(config, layer_idx)

    def forward(self, hidden, additive_mask, cache: KVCache | None, output_attentions: bool):
        return self.attention(hidden, additive_mask, cache, output_attentions)


class GPTNeoMLP(nn.Module):
    def __init__(self, config: GPTNeoConfig):
        super().__init__()
        inner = config.intermediate_size or 4 * config.hidden_size
        self.c_fc = nn.Linear(config.hidden_size, inner)
        self.c_proj = nn.Linear(inner, config.hidden_size)
        self.act = layers.activation(config.activation_function)
        self.dropout = nn.Dropout(float(config.resid_dropout))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(hidden))))


class GPTNeoBlock(GradientCheckpointingLayer):
    def __init__(self, config: GPTNeoConfig, layer_idx: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.attn = GPTNeoAttention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.mlp = GPTNeoMLP(config)

    def forward(self, hidden, additive_mask, cache, output_attentions):
        attended, weights = self.attn(self.ln_1(hidden), additive_mask, cache, output_attentions)
        hidden = hidden + attended
        hidden = hidden + self.mlp(self.ln_2(hidden))
        return hidden, weights


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class GPTNeoPreTrainedModel(PreTrainedModel):
    config_class = GPTNeoConfig
    base_model_prefix = "transformer"
    # GPT-Neo checkpoints saved in 2021 carry each layer's causal-mask buffers
    _ignored_checkpoint_keys = r"(^|\.)attn\.attention\.(bias|masked_bias)$"


class GPTNeoModel(GPTNeoPreTrainedModel):
    """Embeddings + blocks + final LayerNorm. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    def __init__(self, config: GPTNeoConfig):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.hidden_size)
        self.wpe = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.drop = nn.Dropout(float(config.embed_dropout))
        self.h = nn.ModuleList(GPTNeoBlock(config, i) for i in range(config.num_layers))
        self.ln_f = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
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
        max_positions = config.max_position_embeddings
        check_inputs(input_ids, inputs_embeds, max_positions, name)
        run = self.decoder_pass(len(self.h), past_key_values, use_cache, output_attentions, output_hidden_states)
        past = run.past_length

        if inputs_embeds is None:
            inputs_embeds = self.wte(input_ids)  # (batch, seq, hidden)
        seq = inputs_embeds.shape[1]
        layers.check_decoder_length(past, seq, max_positions, name)
        if position_ids is None:  # left padding: count real tokens only
            position_ids = layers.decoder_positions(attention_mask, past, seq, inputs_embeds.device)
        hidden = inputs_embeds + self.wpe(position_ids)
        if token_type_ids is not None:
            hidden = hidden + self.wte(token_type_ids)  # GPT-Neo embeds segment ids with the token table
        hidden = self.drop(hidden)
        window = config.window_size
        masks = {  # additive masks (batch or 1, 1, seq, past + seq): all earlier tokens, or the last window_size
            "global": layers.decoder_attention_mask(attention_mask, past, seq, hidden.dtype, hidden.device),
            "local": layers.decoder_attention_mask(attention_mask, past, seq, hidden.dtype, hidden.device, window),
        }

        run.record(hidden)
        for block, attention_type in zip(self.h, config.attention_layers):
            hidden, weights = block(hidden, masks[attention_type], run.cache, run.output_attentions)
            run.record(hidden, weights)
        return self.format_output(run.finish(self.ln_f(hidden)), return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class GPTNeoForCausalLM(GenerationMixin, GPTNeoPreTrainedModel):
    """GPT-Neo with its language-modelling head (weights shared with ``wte``): logits (batch, seq, vocab)."""

    _tied_weights_keys = {"lm_head.weight": "transformer.wte.weight"}

    def __init__(self, config: GPTNeoConfig):
        super().__init__(config)
        self.transformer = GPTNeoModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def context_window(self) -> int:
        """Longest sequence, prompt plus generated tokens, the position table covers."""
        return self.config.max_position_embeddings

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


class GPTNeoForSequenceClassification(GPTNeoPreTrainedModel):
    """GPT-Neo read at each row's last non-padding token (``config.pad_token_id``): logits (batch, num_labels)."""

    def __init__(self, config: GPTNeoConfig):
        super().__init__(config)
        self.transformer = GPTNeoModel(config)
        self.score = nn.Linear(config.hidden_size, config.num_labels, bias=False)
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
