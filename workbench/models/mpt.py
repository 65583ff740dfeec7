"""MPT (MosaicML Pretrained Transformer): a pre-norm decoder with ALiBi biases, no position table and no biases.

Covers checkpoints whose ``model_type`` is ``mpt``: MPT-7B/30B and their -instruct, -chat and -storywriter
versions, and models trained with MosaicML's llm-foundry.

    input_ids (batch, seq)
      -> wte                                                           (batch, seq, d_model)
      -> n_layers x MptBlock:
           x = x + attn(norm_1(x))      fused Wqkv (all queries, then keys, then values); scores + ALiBi bias
           x = x + ffn(norm_2(x))       up_proj -> gelu -> down_proj (expansion_ratio * d_model wide)
      -> norm_f -> lm_head (tied to wte), times logit_scale if set     (batch, seq, vocab)

ALiBi: head h adds -m_h * (distance to the key) to its scores (``layers.alibi_slopes`` with ``alibi_bias_max``),
so there is no position table; ``max_seq_len`` is still a hard limit, as in MosaicML's code and the reference.
With ``no_bias`` (every released MPT), no linear layer or LayerNorm has a bias.

Module names are the Hub's state-dict keys. Some config switches are read as MosaicML's code reads them, where
the reference ignores them: ``no_bias=False``, ``expansion_ratio``, ``alibi_bias_max``, ``logit_scale``,
``emb_pdrop``, ``resid_pdrop`` (the reference drops residuals with ``attn_pdrop``) and ``embedding_fraction``;
every released checkpoint has them at their defaults, where both agree. The switches not implemented here
(``attn_config``'s prefix_lm, qk_ln, attn_uses_sequence_id, multi-query attention, and learned positions
instead of ALiBi) raise an error rather than being ignored.
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

# attn_config: the attention's settings, a dict inside config.json
ATTENTION_DEFAULTS = dict(
    attn_type="multihead_attention",  # "multiquery_attention" is not implemented here
    attn_pdrop=0.0,  # dropout on the attention probabilities
    attn_impl="torch",  # MosaicML's kernel choice ("torch", "flash", "triton"); the same math
    clip_qkv=None,  # clamp q, k and v to [-clip_qkv, clip_qkv]
    softmax_scale=None,  # None: 1 / sqrt(head_dim)
    prefix_lm=False,
    qk_ln=False,
    attn_uses_sequence_id=False,
    alibi=True,
    alibi_bias_max=8,  # the slopes run from 2^(-alibi_bias_max / heads) down to 2^-alibi_bias_max
)
# switch -> the value that the code here implements (anything else raises a clear error)
ATTENTION_REQUIRED = dict(
    attn_type="multihead_attention", prefix_lm=False, qk_ln=False, attn_uses_sequence_id=False, alibi=True
)


class MptConfig(PretrainedConfig):
    model_type = "mpt"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    attribute_map = {"hidden_size": "d_model", "num_attention_heads": "n_heads", "num_hidden_layers": "n_layers"}

    def __init__(
        self,
        d_model: int = 2048,  # width of every token's vector
        n_heads: int = 16,
        n_layers: int = 24,
        expansion_ratio: int = 4,  # feed-forward width = expansion_ratio * d_model
        max_seq_len: int = 2048,  # longest sequence (prompt + generated)
        vocab_size: int = 50368,
        resid_pdrop: float = 0.0,  # dropout on the attention and feed-forward outputs
        layer_norm_epsilon: float = 1e-5,
        emb_pdrop: float = 0.0,  # dropout on the embeddings
        learned_pos_emb: bool = True,  # a position table, used only without ALiBi (not implemented here)
        attn_config: dict | None = None,
        init_device: str = "cpu",  # where MosaicML's code builds the weights; no effect here
        logit_scale: float | str | None = None,  # multiply the logits by this, or "inv_sqrt_d_model"
        no_bias: bool = True,  # no bias in any linear layer or LayerNorm
        embedding_fraction: float = 1.0,  # scale the embeddings' gradient by this (forward values unchanged)
        norm_type: str = "low_precision_layernorm",  # LayerNorm (in the weights' dtype)
        use_cache: bool = False,
        initializer_range: float = 0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.expansion_ratio = expansion_ratio
        self.max_seq_len = max_seq_len
        self.vocab_size = vocab_size
        self.resid_pdrop = resid_pdrop
        self.layer_norm_epsilon = layer_norm_epsilon
        self.emb_pdrop = emb_pdrop
        self.learned_pos_emb = learned_pos_emb
        self.attn_config = {**ATTENTION_DEFAULTS, **(attn_config or {})}
        self.init_device = init_device
        self.logit_scale = logit_scale
        self.no_bias = no_bias
        self.embedding_fraction = embedding_fraction
        self.norm_type = norm_type
        self.use_cache = use_cache
        self.initializer_range = initializer_range
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not a multiple of n_heads={n_heads}.")
        if isinstance(logit_scale, str) and logit_scale != "inv_sqrt_d_model":
            raise ValueError(f"logit_scale={logit_scale!r} is not a number, None or 'inv_sqrt_d_model'.")

    def check_supported(self) -> None:
        """Refuse the switches that the code here does not implement, rather than silently ignore them."""
        for key, supported in ATTENTION_REQUIRED.items():
            if self.attn_config.get(key) != supported:
                raise ValueError(
                    f"MPT with attn_config[{key!r}]={self.attn_config.get(key)!r} is not implemented here (only "
                    f"{supported!r}, as in MosaicML's released MPT checkpoints)."
                )


# Tiny presets for tests and teaching: seconds to build and run on a CPU (``auto.tiny_config(name)`` builds one).
TINY_PRESETS = {
    "mpt-tiny-random": dict(model_type="mpt", vocab_size=128, d_model=32, n_heads=4, n_layers=2, max_seq_len=128)
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class MptAttention(nn.Module):
    def __init__(self, config: MptConfig, layer_idx: int):
        super().__init__()
        attn = config.attn_config
        self.layer_idx = layer_idx
        self.num_heads = config.n_heads
        self.head_dim = config.d_model // config.n_heads
        self.clip_qkv = attn["clip_qkv"]
        self.scale = attn["softmax_scale"] or 1 / math.sqrt(self.head_dim)
        self.dropout_prob = attn["attn_pdrop"]
        self.Wqkv = nn.Linear(config.d_model, 3 * config.d_model, bias=not config.no_bias)
        self.out_proj = nn.Linear(config.d_model, config.d_model, bias=not config.no_bias)
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden, alibi_mask, cache: KVCache | None, output_attentions: bool):
        qkv = self.Wqkv(hidden)  # (batch, seq, 3 * d_model)
        if self.clip_qkv:
            qkv = qkv.clamp(min=-self.clip_qkv, max=self.clip_qkv)
        q, k, v = (layers.split_heads(x, self.num_heads) for x in qkv.chunk(3, dim=-1))  # (batch, heads, seq, hd)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # (batch, heads, past + seq, head_dim)
        context, weights = layers.attention(
            q,
            k,
            v,
            alibi_mask,  # (batch or 1, heads, seq, past + seq): the ALiBi bias, and the minimum where masked
            dropout=self.dropout_prob if self.training else 0.0,
            scale=self.scale,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return self.out_proj(layers.merge_heads(context)), weights  # (batch, seq, d_model)


class MptMLP(nn.Module):
    def __init__(self, config: MptConfig):
        super().__init__()
        width = config.expansion_ratio * config.d_model
        self.up_proj = nn.Linear(config.d_model, width, bias=not config.no_bias)
        self.act = nn.GELU(approximate="none")
        self.down_proj = nn.Linear(width, config.d_model, bias=not config.no_bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.up_proj(hidden)))


class MptBlock(GradientCheckpointingLayer):
    def __init__(self, config: MptConfig, layer_idx: int):
        super().__init__()
        self.norm_1 = nn.LayerNorm(config.d_model, eps=config.layer_norm_epsilon, bias=not config.no_bias)
        self.attn = MptAttention(config, layer_idx)
        self.norm_2 = nn.LayerNorm(config.d_model, eps=config.layer_norm_epsilon, bias=not config.no_bias)
        self.ffn = MptMLP(config)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden, alibi_mask, cache, output_attentions):
        attended, weights = self.attn(self.norm_1(hidden), alibi_mask, cache, output_attentions)
        hidden = hidden + self.resid_dropout(attended)
        return hidden + self.resid_dropout(self.ffn(self.norm_2(hidden))), weights


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class MptPreTrainedModel(PreTrainedModel):
    config_class = MptConfig
    base_model_prefix = "transformer"


class MptModel(MptPreTrainedModel):
    """Embeddings + blocks + final LayerNorm. Returns ``last_hidden_state`` (batch, seq, d_model)."""

    def __init__(self, config: MptConfig):
        config.check_supported()
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.d_model)
        self.emb_drop = nn.Dropout(config.emb_pdrop)
        self.blocks = nn.ModuleList(MptBlock(config, i) for i in range(config.n_layers))
        self.norm_f = nn.LayerNorm(config.d_model, eps=config.layer_norm_epsilon, bias=not config.no_bias)
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
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        position_ids: torch.Tensor | None = None,  # not used: ALiBi needs only the order of the keys
    ):
        config = self.config
        name = type(self).__name__
        check_inputs(input_ids, inputs_embeds, config.max_seq_len, name)
        run = self.decoder_pass(len(self.blocks), past_key_values, use_cache, output_attentions, output_hidden_states)
        past = run.past_length

        hidden = self.wte(input_ids) if inputs_embeds is None else inputs_embeds  # (batch, seq, d_model)
        seq = hidden.shape[1]
        layers.check_decoder_length(past, seq, config.max_seq_len, f"{name} with max_seq_len={config.max_seq_len}")
        total = past + seq
        if self.training:
            hidden = self.emb_drop(hidden)
            if config.embedding_fraction != 1:  # the same values; the gradient reaching wte is scaled
                hidden = hidden * config.embedding_fraction + hidden.detach() * (1 - config.embedding_fraction)
        dtype, device = hidden.dtype, hidden.device
        causal_mask = layers.decoder_attention_mask(attention_mask, past, seq, dtype, device)
        # Key j of `total` gets -m_h * (total - 1 - j): the distance to the newest token, as MosaicML writes it.
        key_offsets = torch.arange(1 - total, 1, device=device)[None, :]  # (1, total)
        slopes = layers.alibi_slopes(config.n_heads, config.attn_config["alibi_bias_max"]).to(device)
        alibi_mask = layers.biased_mask(causal_mask, layers.alibi_bias(slopes, key_offsets), dtype)

        run.record(hidden)
        for block in self.blocks:
            hidden, weights = block(hidden, alibi_mask, run.cache, run.output_attentions)
            run.record(hidden, weights)
        return self.format_output(run.finish(self.norm_f(hidden)), return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class MptForCausalLM(GenerationMixin, MptPreTrainedModel):
    """MPT with its language-modelling head (tied to ``wte``): logits (batch, seq, vocab)."""

    _tied_weights_keys = {"lm_head.weight": "transformer.wte.weight"}

    def __init__(self, config: MptConfig):
        super().__init__(config)
        self.transformer = MptModel(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        scale = config.logit_scale
        self.logit_scale = 1 / math.sqrt(config.d_model) if scale == "inv_sqrt_d_model" else scale
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def context_window(self) -> int:
        """Longest sequence, prompt plus generated tokens, the model takes (max_seq_len)."""
        return self.config.max_seq_len

    max_total_length = context_window  # a hard limit, as in MosaicML's code and the reference

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
        position_ids: torch.Tensor | None = None,  # not used: ALiBi needs only the order of the keys
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
        return self.causal_lm_output(base, labels, logits_to_keep, return_dict, logit_scale=self.logit_scale)


class MptForSequenceClassification(MptPreTrainedModel):
    """A linear ``score`` head read at each row's last non-padding token: logits (batch, num_labels)."""

    def __init__(self, config: MptConfig):
        super().__init__(config)
        self.transformer = MptModel(config)
        self.score = nn.Linear(config.d_model, config.num_labels, bias=False)
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
