"""The LLaMA family: LLaMA 1/2/3, CodeLlama, OpenLlama, Mistral, Mixtral, Qwen2 and Qwen2-MoE in one file.

They share one architecture; the variants are config switches, not copies:

    input_ids (batch, seq)
      -> embed_tokens                                                  (batch, seq, hidden)
      -> num_hidden_layers x LlamaDecoderLayer:
           x = x + self_attn(input_layernorm(x))     RMSNorm, rotary q/k, grouped-query attention
           x = x + mlp(post_attention_layernorm(x))  SwiGLU: down(silu(gate(x)) * up(x))
      -> norm (RMSNorm) -> lm_head                                     (batch, seq, vocab)

    Mistral   sliding_window: a query sees only the last `sliding_window` keys
    Qwen2     bias on q/k/v (not on o); sliding window only on layers >= max_window_layers when enabled
    Mixtral   the MLP is a top-k mixture of experts (`block_sparse_moe`), default rope_theta 1e6
    Qwen2-MoE Qwen2's attention; the MLP (`mlp`) is a top-k mixture of small experts plus a shared expert that
              every token goes through, weighted by sigmoid(shared_expert_gate(x)). Which layers are sparse:
              every `decoder_sparse_step`-th, except `mlp_only_layers` (those keep a dense MLP). The top-k
              probabilities are renormalised to sum to 1 only with `norm_topk_prob` (Mixtral: always)
    rope_parameters / rope_scaling: rotary variants "default", "linear", "dynamic" (NTK), "llama3"

Module names are the Hub's state-dict keys (``model.layers.0.self_attn.q_proj.weight``,
``model.layers.0.block_sparse_moe.experts.3.w1.weight``, ``model.layers.0.mlp.shared_expert_gate.weight``), so
checkpoints load with no key map.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..cache import KVCache
from ..configuration import PretrainedConfig
from ..generation import GenerationMixin
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs


class LlamaConfig(PretrainedConfig):
    """config.json of LLaMA-style checkpoints. Each variant below changes only ``defaults``."""

    model_type = "llama"
    keys_to_ignore_at_inference = ["past_key_values"]  # the Trainer's evaluate/predict gather logits, not the cache
    default_theta = 10000.0
    defaults = dict(
        vocab_size=32000,
        hidden_size=4096,  # width of every token's vector
        intermediate_size=11008,  # width of the SwiGLU feed-forward
        num_hidden_layers=32,
        num_attention_heads=32,  # query heads
        num_key_value_heads=None,  # key/value heads (grouped-query attention); None: as many as query heads
        head_dim=None,  # None: hidden_size // num_attention_heads
        hidden_act="silu",
        max_position_embeddings=2048,  # the context the model was trained on
        initializer_range=0.02,
        rms_norm_eps=1e-6,
        use_cache=True,
        pad_token_id=None,
        bos_token_id=1,
        eos_token_id=2,
        pretraining_tp=1,
        tie_word_embeddings=False,
        attention_bias=False,  # bias on q/k/v/o projections
        attention_dropout=0.0,
        mlp_bias=False,
    )

    def __init__(self, **kwargs):
        values = {**type(self).defaults, **kwargs}
        # Rotary settings: v5 files carry `rope_parameters`; older ones `rope_theta` + `rope_scaling`.
        rope = values.pop("rope_parameters", None) or values.pop("rope_scaling", None)
        values.pop("rope_scaling", None)
        theta = values.pop("rope_theta", None)
        super().__init__(**values)  # fields the base class does not name become attributes
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            if self.hidden_size % self.num_attention_heads:
                raise ValueError(
                    f"hidden_size={self.hidden_size} is not a multiple of "
                    f"num_attention_heads={self.num_attention_heads}; set head_dim explicitly."
                )
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads={self.num_attention_heads} must be a multiple of "
                f"num_key_value_heads={self.num_key_value_heads} (each key/value head serves a group of query heads)."
            )
        theta = theta if theta is not None else type(self).default_theta
        self.rope_parameters = layers.standard_rope_parameters(rope, theta, self.max_position_embeddings)

    @property
    def rope_theta(self) -> float:
        return self.rope_parameters["rope_theta"]

    # Which projections carry a bias. LLaMA: all four or none (attention_bias); Qwen2 overrides.
    @property
    def qkv_bias(self) -> bool:
        return bool(getattr(self, "attention_bias", False))

    @property
    def o_bias(self) -> bool:
        return bool(getattr(self, "attention_bias", False))

    def sliding_window_of(self, layer_idx: int) -> int | None:
        """The attention window of one layer, or None for full (causal) attention."""
        window = getattr(self, "sliding_window", None)
        layer_types = getattr(self, "layer_types", None)
        if not window or (layer_types is not None and layer_types[layer_idx] != "sliding_attention"):
            return None  # (no window: None, or 0 as Qwen2-MoE's files write it)
        return window

    def is_sparse_layer(self, layer_idx: int) -> bool:
        """Whether a layer's feed-forward is a mixture of experts: in all layers of Mixtral, in none of LLaMA's."""
        return bool(getattr(self, "num_local_experts", None))


class MistralConfig(LlamaConfig):
    model_type = "mistral"
    defaults = {
        **LlamaConfig.defaults,
        "intermediate_size": 14336,
        "num_key_value_heads": 8,
        "max_position_embeddings": 4096 * 32,
        "sliding_window": 4096,  # each query sees at most this many keys (itself included)
    }
    for _key in ("attention_bias", "mlp_bias", "pretraining_tp"):  # keys the reference's file does not have
        defaults.pop(_key)
    del _key


class MixtralConfig(LlamaConfig):
    model_type = "mixtral"
    default_theta = 1e6
    attribute_map = {"num_experts": "num_local_experts"}
    defaults = {
        **MistralConfig.defaults,
        "rms_norm_eps": 1e-5,
        "sliding_window": None,
        "num_local_experts": 8,  # experts per layer
        "num_experts_per_tok": 2,  # each token is routed to this many experts (top-k)
        "output_router_logits": False,
        "router_aux_loss_coef": 0.001,
        "router_jitter_noise": 0.0,
    }


class Qwen2Config(LlamaConfig):
    model_type = "qwen2"
    defaults = {
        **LlamaConfig.defaults,
        "vocab_size": 151936,
        "intermediate_size": 22016,
        "num_key_value_heads": 32,
        "max_position_embeddings": 32768,
        "bos_token_id": None,
        "eos_token_id": None,
        "use_sliding_window": False,
        "sliding_window": 4096,
        "max_window_layers": 28,
        "layer_types": None,
    }
    for _key in ("attention_bias", "mlp_bias", "pretraining_tp"):  # keys the reference's file does not have
        defaults.pop(_key)
    del _key

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if not self.use_sliding_window:
            self.sliding_window = None
        if self.layer_types is None:
            self.layer_types = [
                "sliding_attention"
                if self.sliding_window is not None and i >= self.max_window_layers
                else "full_attention"
                for i in range(self.num_hidden_layers)
            ]

    qkv_bias = True  # Qwen2: q/k/v projections have a bias, the output projection does not
    o_bias = False


class Qwen2MoeConfig(LlamaConfig):
    model_type = "qwen2_moe"
    defaults = {
        **{k: v for k, v in LlamaConfig.defaults.items() if k not in ("attention_bias", "mlp_bias", "pretraining_tp")},
        "vocab_size": 151936,
        "hidden_size": 2048,
        "intermediate_size": 5632,  # width of the dense MLP of the layers that have one (mlp_only_layers)
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "num_key_value_heads": 16,
        "max_position_embeddings": 32768,
        "bos_token_id": None,
        "eos_token_id": None,
        "qkv_bias": True,  # bias on the q/k/v projections (never on o_proj)
        "use_sliding_window": False,
        "sliding_window": 4096,
        "max_window_layers": 28,
        "layer_types": None,
        "decoder_sparse_step": 1,  # every n-th layer is sparse (1: all of them)
        "mlp_only_layers": None,  # indices of layers that keep a dense MLP anyway
        "num_experts": 60,  # routed experts per sparse layer
        "num_experts_per_tok": 4,  # each token goes to this many of them (top-k)
        "moe_intermediate_size": 1408,  # width of each routed expert's SwiGLU
        "shared_expert_intermediate_size": 5632,  # width of the shared expert's SwiGLU
        "norm_topk_prob": False,  # renormalise the top-k router probabilities to sum to 1
        "output_router_logits": False,  # True (training with a load-balancing loss) is refused with labels
        "router_aux_loss_coef": 0.001,
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.mlp_only_layers is None:
            self.mlp_only_layers = []
        if not self.use_sliding_window:
            self.sliding_window = 0  # as the reference writes it
        if self.layer_types is None:  # the reference's rule: even layers below max_window_layers slide
            self.layer_types = [
                "sliding_attention"
                if self.use_sliding_window and i % 2 == 0 and i < self.max_window_layers
                else "full_attention"
                for i in range(self.num_hidden_layers)
            ]

    qkv_bias = True  # a config key here (the class attribute replaces LlamaConfig's property); o_proj: no bias
    o_bias = False

    def is_sparse_layer(self, layer_idx: int) -> bool:
        return (
            self.num_experts > 0
            and layer_idx not in self.mlp_only_layers
            and (layer_idx + 1) % self.decoder_sparse_step == 0
        )


# Tiny presets for tests and teaching: seconds to build and run on a CPU (``auto.tiny_config(name)`` builds one).
_TINY = dict(
    vocab_size=128,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
)
TINY_PRESETS = {
    "llama-tiny-random": dict(_TINY, model_type="llama"),
    "mistral-tiny-random": dict(_TINY, model_type="mistral", sliding_window=8),
    "mixtral-tiny-random": dict(_TINY, model_type="mixtral", intermediate_size=48, num_local_experts=4),
    "qwen2-tiny-random": dict(_TINY, model_type="qwen2"),
    "qwen2_moe-tiny-random": dict(
        _TINY,
        model_type="qwen2_moe",
        num_experts=4,
        num_experts_per_tok=2,
        moe_intermediate_size=16,
        shared_expert_intermediate_size=32,
    ),
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class LlamaRMSNorm(layers.RMSNorm):
    """x / sqrt(mean(x^2) + eps) * weight, computed in float32 (``layers.RMSNorm`` under the reference's name)."""


class LlamaAttention(nn.Module):
    def __init__(self, config: LlamaConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.sliding_window = config.sliding_window_of(layer_idx)
        self.dropout_prob = config.attention_dropout
        self.q_proj = nn.Linear(config.hidden_size, self.num_heads * self.head_dim, bias=config.qkv_bias)
        self.k_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=config.qkv_bias)
        self.v_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=config.qkv_bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, config.hidden_size, bias=config.o_bias)
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden, cos, sin, additive_mask, cache: KVCache | None, output_attentions: bool):
        batch, seq, _ = hidden.shape
        q = (
            self.q_proj(hidden).view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)
        )  # (batch, heads, seq, hd)
        k = (
            self.k_proj(hidden).view(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)
        )  # (batch, kv_heads, seq, hd)
        v = self.v_proj(hidden).view(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)
        q, k = layers.apply_rotary(q, k, cos, sin)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # (batch, kv_heads, past + seq, hd)
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
        return self.o_proj(
            layers.merge_heads(context)
        ), weights  # (batch, seq, hidden), (batch, heads, seq, past + seq)


class LlamaMLP(nn.Module):
    """SwiGLU: down(act(gate(x)) * up(x))."""

    def __init__(self, config: LlamaConfig, intermediate_size: int | None = None):
        super().__init__()
        width = intermediate_size or config.intermediate_size
        bias = bool(getattr(config, "mlp_bias", False))
        self.gate_proj = nn.Linear(config.hidden_size, width, bias=bias)
        self.up_proj = nn.Linear(config.hidden_size, width, bias=bias)
        self.down_proj = nn.Linear(width, config.hidden_size, bias=bias)
        self.act = layers.activation(config.hidden_act)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.gate_proj(hidden)) * self.up_proj(hidden))


class MixtralBlockSparseTop2MLP(nn.Module):
    """One Mixtral expert: the same SwiGLU with the checkpoint's names (w1 = gate, w3 = up, w2 = down)."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.w1 = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.w2 = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.w3 = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.act = layers.activation(config.hidden_act)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.w2(self.act(self.w1(hidden)) * self.w3(hidden))


def route_to_experts(router_logits: torch.Tensor, top_k: int, normalize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(tokens, experts) router logits -> the k chosen experts of each token and their weights, (tokens, k) each:
    the k largest of softmax(logits) (in float32), renormalised to sum to 1 when ``normalize``."""
    router_probs = torch.softmax(router_logits.float(), dim=-1)  # (tokens, experts)
    top_probs, top_experts = torch.topk(router_probs, top_k, dim=-1)  # (tokens, k)
    if normalize:
        top_probs = top_probs / top_probs.sum(dim=-1, keepdim=True)
    return top_probs, top_experts


def mix_experts(
    tokens: torch.Tensor, experts: nn.ModuleList, top_probs: torch.Tensor, top_experts: torch.Tensor
) -> torch.Tensor:
    """sum over each token's chosen experts e of weight_e * expert_e(token): (tokens, hidden) -> (tokens, hidden).
    Each expert runs once, on the tokens that chose it."""
    out = torch.zeros_like(tokens)
    for e in top_experts.unique().tolist():  # only the experts some token chose
        token_idx, slot = torch.where(top_experts == e)
        expert_out = experts[e](tokens[token_idx]) * top_probs[token_idx, slot, None]
        out.index_add_(0, token_idx, expert_out.to(out.dtype))
    return out


class MixtralSparseMoeBlock(nn.Module):
    """Mixture of experts: a router picks the top-k experts per token and mixes their outputs.

    probs = softmax(gate(x)) over experts; keep the k largest, renormalise them to sum to 1;
    out = sum over the kept experts e of probs[e] * expert_e(x).
    """

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.top_k = config.num_experts_per_tok
        self.jitter_noise = config.router_jitter_noise
        self.gate = nn.Linear(config.hidden_size, config.num_local_experts, bias=False)  # the router
        self.experts = nn.ModuleList(MixtralBlockSparseTop2MLP(config) for _ in range(config.num_local_experts))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        batch, seq, width = hidden.shape
        if self.training and self.jitter_noise > 0:
            hidden = hidden * torch.empty_like(hidden).uniform_(1.0 - self.jitter_noise, 1.0 + self.jitter_noise)
        tokens = hidden.reshape(-1, width)  # (tokens, hidden)
        top_probs, top_experts = route_to_experts(self.gate(tokens), self.top_k, normalize=True)
        return mix_experts(tokens, self.experts, top_probs, top_experts).reshape(batch, seq, width)


class Qwen2MoeSparseMoeBlock(nn.Module):
    """Qwen2-MoE's feed-forward: top-k routed experts plus a shared expert that sees every token.

    out = sum over the k chosen experts e of probs[e] * expert_e(x)
          + sigmoid(shared_expert_gate(x)) * shared_expert(x)
    Experts are SwiGLU MLPs of width moe_intermediate_size; the shared one has width shared_expert_intermediate_size.
    """

    def __init__(self, config: Qwen2MoeConfig):
        super().__init__()
        self.top_k = config.num_experts_per_tok
        self.normalize = config.norm_topk_prob
        self.gate = nn.Linear(config.hidden_size, config.num_experts, bias=False)  # the router
        self.experts = nn.ModuleList(
            LlamaMLP(config, intermediate_size=config.moe_intermediate_size) for _ in range(config.num_experts)
        )
        self.shared_expert = LlamaMLP(config, intermediate_size=config.shared_expert_intermediate_size)
        self.shared_expert_gate = nn.Linear(config.hidden_size, 1, bias=False)  # how much of it each token takes

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        batch, seq, width = hidden.shape
        tokens = hidden.reshape(-1, width)  # (tokens, hidden)
        top_probs, top_experts = route_to_experts(self.gate(tokens), self.top_k, self.normalize)
        top_probs = top_probs.to(tokens.dtype)  # the expert outputs are weighed in the model's dtype (Mixtral: float32)
        routed = mix_experts(tokens, self.experts, top_probs, top_experts)
        shared = torch.sigmoid(self.shared_expert_gate(tokens)) * self.shared_expert(tokens)  # (tokens, hidden)
        return (routed + shared).reshape(batch, seq, width)


class LlamaDecoderLayer(GradientCheckpointingLayer):
    def __init__(self, config: LlamaConfig, layer_idx: int):
        super().__init__()
        self.self_attn = LlamaAttention(config, layer_idx)
        if not config.is_sparse_layer(layer_idx):
            self.mlp = LlamaMLP(config)
        elif isinstance(config, Qwen2MoeConfig):
            self.mlp = Qwen2MoeSparseMoeBlock(config)
        else:
            self.block_sparse_moe = MixtralSparseMoeBlock(config)
        self.input_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, hidden, cos, sin, additive_mask, cache, output_attentions):
        attended, weights = self.self_attn(
            self.input_layernorm(hidden), cos, sin, additive_mask, cache, output_attentions
        )
        hidden = hidden + attended
        feed_forward = self.block_sparse_moe if hasattr(self, "block_sparse_moe") else self.mlp
        hidden = hidden + feed_forward(self.post_attention_layernorm(hidden))
        return hidden, weights


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class LlamaPreTrainedModel(PreTrainedModel):
    config_class = LlamaConfig
    base_model_prefix = "model"

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, LlamaRMSNorm):
            nn.init.ones_(module.weight)


class LlamaModel(LlamaPreTrainedModel):
    """Embeddings + decoder layers + final norm. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.layers = nn.ModuleList(LlamaDecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        rotated = int(config.head_dim * config.rope_parameters.get("partial_rotary_factor", 1.0))  # channels per head
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
        cos, sin = self.rotary_emb(position_ids, hidden.dtype)  # (batch, seq, head_dim)
        masks: dict = {}  # one additive mask per distinct window size

        run.record(hidden)
        for layer in self.layers:
            window = layer.self_attn.sliding_window
            if window not in masks:
                masks[window] = layers.decoder_attention_mask(
                    attention_mask, past, seq, hidden.dtype, hidden.device, window
                )
            hidden, weights = layer(hidden, cos, sin, masks[window], run.cache, run.output_attentions)
            run.record(hidden, weights)
        return self.format_output(run.finish(self.norm(hidden)), return_dict)


class LlamaForCausalLM(GenerationMixin, LlamaPreTrainedModel):
    """The model plus the language-modelling head: next-token logits (batch, seq, vocab)."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.model = LlamaModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
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
        if labels is not None and getattr(self.config, "output_router_logits", False):
            raise ValueError(
                "config.output_router_logits=True asks for the mixture of experts' load-balancing loss to be added to "
                "the training loss, which workbench does not implement (the loss would differ from the reference's). "
                "Set model.config.output_router_logits = False to train on the language-modelling loss alone."
            )
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


class LlamaForSequenceClassification(LlamaPreTrainedModel):
    """The model read at each row's last non-padding token (``config.pad_token_id``): logits (batch, num_labels)."""

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.model = LlamaModel(config)
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


# The variants are the same classes reading their own config (exported under their Hub names).
MistralModel = MixtralModel = Qwen2Model = Qwen2MoeModel = LlamaModel
MistralForCausalLM = MixtralForCausalLM = Qwen2ForCausalLM = Qwen2MoeForCausalLM = LlamaForCausalLM
MistralForSequenceClassification = MixtralForSequenceClassification = LlamaForSequenceClassification
Qwen2ForSequenceClassification = Qwen2MoeForSequenceClassification = LlamaForSequenceClassification
