"""GPT-J and CodeGen: rotary positions on part of each head, and attention and MLP side by side in each block.

Covers checkpoints whose ``model_type`` is ``gptj`` (EleutherAI's GPT-J 6B and its fine-tunes) or ``codegen``
(Salesforce's CodeGen 350M-16B, mono/multi/nl). CodeGen is GPT-J's math with one fused q/k/v projection; the
variant is a config switch (``CodeGenConfig.qkv_shards``), not a copy.

    input_ids (batch, seq)
      -> wte (tokens; no position table)                                    (batch, seq, hidden)
      -> n_layer x GPTJBlock, a "parallel" block: one LayerNorm feeds both branches
           h = ln_1(x)
           x = x + attn(h) + mlp(h)      attn: q, k rotated by their positions on the first rotary_dim
                                               channels of each head, in the interleaved style (pairs of
                                               neighbouring channels); mlp: fc_in -> gelu_new -> fc_out
      -> ln_f -> lm_head (with a bias; untied by default)                   (batch, seq, vocab)

    GPT-J     q_proj, k_proj, v_proj: three projections
    CodeGen   qkv_proj: one projection whose output is laid out for the 4 model-parallel shards CodeGen was
              trained on: 4 blocks, each [q | v | k] for a quarter of the heads (note the order: v before k)
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..cache import KVCache
from ..configuration import PretrainedConfig
from ..generation import GenerationMixin
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs


class GPTJConfig(PretrainedConfig):
    model_type = "gptj"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    attribute_map = {
        "max_position_embeddings": "n_positions",
        "hidden_size": "n_embd",
        "num_attention_heads": "n_head",
        "num_hidden_layers": "n_layer",
    }
    qkv_shards: int | None = None  # GPT-J: separate q/k/v projections (CodeGen overrides)

    def __init__(
        self,
        vocab_size: int = 50400,
        n_positions: int = 2048,  # longest sequence (prompt + generated) the model handles
        n_embd: int = 4096,
        n_layer: int = 28,
        n_head: int = 16,
        rotary_dim: int | None = 64,  # channels of each head that rotary turns; None: all of them
        n_inner: int | None = None,  # feed-forward width; None: 4 * n_embd
        activation_function: str = "gelu_new",
        resid_pdrop: float = 0.0,
        embd_pdrop: float = 0.0,
        attn_pdrop: float = 0.0,
        layer_norm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        use_cache: bool = True,
        bos_token_id: int = 50256,
        eos_token_id: int = 50256,
        tie_word_embeddings: bool = False,
        **kwargs,
    ):
        super().__init__(
            bos_token_id=bos_token_id, eos_token_id=eos_token_id, tie_word_embeddings=tie_word_embeddings, **kwargs
        )
        self.vocab_size = vocab_size
        self.n_positions = n_positions
        self.n_embd = n_embd
        self.n_layer = n_layer
        self.n_head = n_head
        self.rotary_dim = rotary_dim
        self.n_inner = n_inner
        self.activation_function = activation_function
        self.resid_pdrop = resid_pdrop
        self.embd_pdrop = embd_pdrop
        self.attn_pdrop = attn_pdrop
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.use_cache = use_cache
        if n_embd % n_head:
            raise ValueError(f"n_embd={n_embd} is not a multiple of n_head={n_head}.")
        head_dim = n_embd // n_head
        if rotary_dim is not None and (rotary_dim % 2 or rotary_dim > head_dim):
            raise ValueError(
                f"rotary_dim={rotary_dim} must be even and at most the head size {head_dim} (n_embd / n_head): "
                "rotary turns pairs of a head's channels."
            )
        if self.qkv_shards and n_embd % self.qkv_shards:
            raise ValueError(f"n_embd={n_embd} must split into {self.qkv_shards} shards of the fused qkv_proj.")

    @property
    def rotated_channels(self) -> int:
        """How many channels of each head rotary turns."""
        return self.rotary_dim or self.n_embd // self.n_head


class CodeGenConfig(GPTJConfig):
    model_type = "codegen"
    qkv_shards = 4  # the fused qkv_proj is laid out for 4 model-parallel shards

    def __init__(self, n_ctx: int = 2048, **kwargs):  # n_ctx: unused, kept because CodeGen's files have it
        super().__init__(**kwargs)
        self.n_ctx = n_ctx


# Tiny presets for tests and teaching: seconds to build and run on a CPU.
_TINY = dict(vocab_size=128, n_positions=128, n_embd=32, n_layer=2, n_head=4, rotary_dim=4)
TINY_PRESETS = {
    "gptj-tiny-random": dict(_TINY, model_type="gptj"),
    "codegen-tiny-random": dict(_TINY, model_type="codegen"),
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class GPTJAttention(nn.Module):
    def __init__(self, config: GPTJConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.n_head
        self.qkv_shards = config.qkv_shards
        if self.qkv_shards:  # CodeGen
            self.qkv_proj = nn.Linear(config.n_embd, 3 * config.n_embd, bias=False)
        else:  # GPT-J
            self.q_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)
            self.k_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)
            self.v_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)
        self.out_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)
        self.attn_dropout_prob = config.attn_pdrop
        self.resid_dropout = nn.Dropout(config.resid_pdrop)
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def project(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(batch, seq, hidden) -> q, k, v, each (batch, heads, seq, head_dim)."""
        if not self.qkv_shards:
            return tuple(
                layers.split_heads(proj(hidden), self.num_heads) for proj in (self.q_proj, self.k_proj, self.v_proj)
            )
        batch, seq, width = hidden.shape
        shard_width = width // self.qkv_shards
        fused = self.qkv_proj(hidden).view(batch, seq, self.qkv_shards, 3 * shard_width)  # [q | v | k] per shard
        q, v, k = fused.split(shard_width, dim=-1)  # each (batch, seq, shards, shard_width)
        return tuple(layers.split_heads(x.reshape(batch, seq, width), self.num_heads) for x in (q, k, v))

    def forward(self, hidden, cos, sin, additive_mask, cache: KVCache | None, output_attentions: bool):
        q, k, v = self.project(hidden)  # (batch, heads, seq, head_dim)
        q, k = layers.apply_partial_rotary(q, k, cos, sin, interleaved=True)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # (batch, heads, past + seq, head_dim)
        context, weights = layers.attention(
            q,
            k,
            v,
            additive_mask,
            dropout=self.attn_dropout_prob if self.training else 0.0,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        out = self.out_proj(layers.merge_heads(context))  # (batch, seq, hidden)
        return self.resid_dropout(out), weights


class GPTJMLP(nn.Module):
    def __init__(self, config: GPTJConfig):
        super().__init__()
        inner = config.n_inner or 4 * config.n_embd
        self.fc_in = nn.Linear(config.n_embd, inner)
        self.fc_out = nn.Linear(inner, config.n_embd)
        self.act = layers.activation(config.activation_function)
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.fc_out(self.act(self.fc_in(hidden))))


class GPTJBlock(GradientCheckpointingLayer):
    """The parallel block: attention and MLP read the same normalised input, and both add to the residual."""

    def __init__(self, config: GPTJConfig, layer_idx: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPTJAttention(config, layer_idx)
        self.mlp = GPTJMLP(config)

    def forward(self, hidden, cos, sin, additive_mask, cache, output_attentions):
        normed = self.ln_1(hidden)
        attended, weights = self.attn(normed, cos, sin, additive_mask, cache, output_attentions)
        return attended + self.mlp(normed) + hidden, weights


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class GPTJPreTrainedModel(PreTrainedModel):
    config_class = GPTJConfig
    base_model_prefix = "transformer"
    # older GPT-J and CodeGen checkpoints carry each layer's causal-mask buffers
    _ignored_checkpoint_keys = r"(^|\.)attn\.(bias|masked_bias|causal_mask)$"


class GPTJModel(GPTJPreTrainedModel):
    """Embeddings + parallel blocks + final LayerNorm. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    def __init__(self, config: GPTJConfig):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList(GPTJBlock(config, i) for i in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        rope = {"rope_type": "default", "rope_theta": 10000.0}
        self.rotary_emb = layers.RotaryEmbedding(rope, config.rotated_channels, config.n_positions)
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

        hidden = self.wte(input_ids) if inputs_embeds is None else inputs_embeds  # (batch, seq, hidden)
        seq = hidden.shape[1]
        layers.check_decoder_length(past, seq, config.n_positions, name)
        if position_ids is None:  # left padding: count real tokens only
            position_ids = layers.decoder_positions(attention_mask, past, seq, hidden.device)
        cos, sin = self.rotary_emb(position_ids, hidden.dtype)  # (batch, seq, rotated channels)
        if token_type_ids is not None:
            hidden = hidden + self.wte(token_type_ids)  # GPT-J embeds segment ids with the token table
        hidden = self.drop(hidden)
        additive_mask = layers.decoder_attention_mask(attention_mask, past, seq, hidden.dtype, hidden.device)

        run.record(hidden)
        for block in self.h:
            hidden, weights = block(hidden, cos, sin, additive_mask, run.cache, run.output_attentions)
            run.record(hidden, weights)
        return self.format_output(run.finish(self.ln_f(hidden)), return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class GPTJForCausalLM(GenerationMixin, GPTJPreTrainedModel):
    """GPT-J (or CodeGen) with its language-modelling head, which has a bias: logits (batch, seq, vocab)."""

    _tied_weights_keys = {"lm_head.weight": "transformer.wte.weight"}  # only with tie_word_embeddings=True

    def __init__(self, config: GPTJConfig):
        super().__init__(config)
        self.transformer = GPTJModel(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def context_window(self) -> int:
        """Longest sequence, prompt plus generated tokens, the model handles (its rotary table's length)."""
        return self.config.n_positions

    max_total_length = context_window  # the reference has no rotary angles past it

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


class GPTJForSequenceClassification(GPTJPreTrainedModel):
    """GPT-J read at each row's last non-padding token (``config.pad_token_id``): logits (batch, num_labels)."""

    def __init__(self, config: GPTJConfig):
        super().__init__(config)
        self.transformer = GPTJModel(config)
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


# CodeGen is the same classes reading a CodeGenConfig (exported under its Hub names).
CodeGenModel = GPTJModel
CodeGenForCausalLM = GPTJForCausalLM
