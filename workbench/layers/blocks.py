"""Small modules and functions that every family uses: scaled token embeddings, RMSNorm, activations by their
config names, and the default weight initialisation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# ------------------------------------------------------------------------------------------------
# Token embeddings
# ------------------------------------------------------------------------------------------------


class ScaledEmbedding(nn.Embedding):
    """Token embeddings multiplied by ``scale`` (sqrt(hidden) in fairseq's models: XGLM, BioGPT, BART with
    scale_embedding), else 1. The scaling is inside the table's forward, as in the reference, so that
    ``get_input_embeddings()(ids)`` gives exactly the ``inputs_embeds`` the model computes from ``ids``."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None, scale: float = 1.0):
        super().__init__(num_embeddings, embedding_dim, padding_idx)
        self.scale = scale

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        embeds = super().forward(input_ids)
        return embeds * self.scale if self.scale != 1.0 else embeds

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, scale={self.scale:g}"


# ------------------------------------------------------------------------------------------------
# Norms
# ------------------------------------------------------------------------------------------------


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight, computed in float32 (LLaMA and the decoders after it): no mean
    subtraction, no bias. The normalised value returns to the input's dtype before the weight scales it."""

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        dtype = hidden.dtype
        hidden = hidden.to(torch.float32)
        variance = hidden.pow(2).mean(-1, keepdim=True)  # (..., 1)
        hidden = hidden * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden.to(dtype)


# ------------------------------------------------------------------------------------------------
# Activations and initialisation
# ------------------------------------------------------------------------------------------------


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """The tanh approximation of GELU used by GPT-2 and ALBERT."""
    return F.gelu(x, approximate="tanh")


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_new": gelu_new,
    "gelu_pytorch_tanh": gelu_new,
    "gelu_fast": gelu_new,
    "quick_gelu": quick_gelu,
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu2": lambda x: torch.square(F.relu(x)),  # squared ReLU (Primer; Persimmon)
}


def activation(name: str):
    """Look an activation function up by the name a config.json uses (``hidden_act``)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"Unknown activation {name!r}; known: {', '.join(sorted(ACTIVATIONS))}.") from None


def init_weights(module: nn.Module, std: float) -> None:
    """BERT-style initialisation: normal(0, std) for linear and embedding weights, zero biases,
    LayerNorm at identity. Used for fresh models and for heads that a checkpoint lacks."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=std)
        if module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        if module.weight is not None:
            nn.init.ones_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
