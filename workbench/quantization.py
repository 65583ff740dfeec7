"""Int8 quantization of linear layers, the reference's way: ``TorchAoConfig`` and ``from_pretrained(...,
quantization_config=...)``.

Why it helps. Decoding one token at batch 1 multiplies a single activation row by every weight matrix of the
model: each weight is read from memory once and used for one multiply-add. The CPU waits on memory, not on
arithmetic, so tokens/s is roughly ``memory bandwidth / bytes of weights``. Storing the weights in int8 instead
of float32 reads a quarter of the bytes.

How. Each output channel (row ``W[o, :]`` of a linear weight) gets its own scale, the largest absolute value of
the row divided by 127, and the row is stored as ``round(W[o, :] / scale[o])`` in int8. A row of small weights
next to a row of large ones keeps its precision; the error per weight is at most half a step, ``scale / 2``.

    float32 W (out, in) ──► scale = |W|.max(row) / 127 ──► W_int8 = round(W / scale)   stored: int8 + scale

Two ways to use the int8 weights, the two ``quant_type``s of the reference's ``TorchAoConfig``:

    "int8_weight_only"                       "int8_dynamic_activation_int8_weight"
    x (float) ─► bfloat16 ─┐                 x (float) ──► per row: s_x = |x|.max / 127, x_int8 = round(x / s_x)
                           ├─► _weight_int8pack_mm                           │
    W_int8, scale ─────────┘  (widens W on the fly)  W_int8 ─► torch._int_mm(x_int8, W_int8ᵀ)  int32, exact
    y = x @ (W_int8 * scale)ᵀ + b                    y = int32 * s_x * scale + b
    activations: bfloat16 (8-bit mantissa)           activations: 8 bits per value, one scale per token

Weight-only suits decoders: one token at a time, memory-bound. Its kernel,
``torch.ops.aten._weight_int8pack_mm``, has a vectorised path for bfloat16 activations only (it widens them to
float32 inside, so this needs no native bfloat16 and is fast on AVX2 too); with float32 activations it runs 4x
(one row) to 30x (256 rows) slower than a float32 matmul, so the activations are rounded to bfloat16 for the
product, a relative error of ~3e-3, below the int8 weights' own ~1e-2. Measured on one core (AVX512 machine, and
the same with ATen and oneDNN limited to AVX2), a 3072 x 768 layer and one row: float32 0.3-0.6 ms, weight-only
0.16-0.19 ms, dynamic 0.06-0.37 ms; for 256 rows weight-only is no faster than float32, dynamic 2-4x faster.
The dynamic type rounds the activations to int8 too and runs an integer matmul: fast for one row and for many,
it suits encoders (sentence embeddings) and, where its quality is enough, decoders.

    >>> model = AutoModelForCausalLM.from_pretrained(path, quantization_config=TorchAoConfig("int8_weight_only"))
    >>> model.save_pretrained("gpt2-int8")          # int8 weights + scales; config.json keeps quantization_config
    >>> AutoModelForCausalLM.from_pretrained("gpt2-int8")   # quantized again, no float32 copy
    >>> quantize_dynamic(encoder)                   # in place: every linear layer dynamic int8

Checkpoint format (ours; the reference pickles torchao tensor subclasses instead, so the files do not load
across): ``<layer>.weight`` int8 of shape (out_features, in_features), ``<layer>.weight_scale`` float32 (out,),
``<layer>.bias`` float as before. GPT-2's ``Conv1D`` weights, stored (in, out), are transposed once when quantized.
The output embedding (the LM head, tied to the input embeddings) stays in float unless
``include_input_output_embeddings=True``, which unties it, as in the reference.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

QUANT_TYPES = ("int8_weight_only", "int8_dynamic_activation_int8_weight")


class TorchAoConfig:
    """What to quantize and how, with the reference's name and fields (no torchao needed).

    ``quant_type``: one of ``QUANT_TYPES``. ``modules_to_not_convert``: module names (or name prefixes) kept in
    float. ``include_input_output_embeddings``: also quantize the LM head (untying it from the input embeddings,
    which stay float: a lookup reads one row, not the whole matrix).
    """

    quant_method = "torchao"

    def __init__(
        self,
        quant_type: str,
        modules_to_not_convert: list[str] | None = None,
        include_input_output_embeddings: bool = False,
        untie_embedding_weights: bool = False,
        **quant_type_kwargs: Any,
    ):
        if not isinstance(quant_type, str) or quant_type not in QUANT_TYPES:
            raise ValueError(
                f"TorchAoConfig quant_type {quant_type!r} is not supported here; choose one of {QUANT_TYPES} "
                "(int4 and autoquant need torchao's kernels, which this workbench does not use)."
            )
        if quant_type_kwargs:
            raise ValueError(f"TorchAoConfig({quant_type!r}) takes no quant_type_kwargs, got {quant_type_kwargs}.")
        self.quant_type = quant_type
        self.modules_to_not_convert = list(modules_to_not_convert or [])
        self.include_input_output_embeddings = include_input_output_embeddings
        self.untie_embedding_weights = untie_embedding_weights or include_input_output_embeddings

    def to_dict(self) -> dict[str, Any]:
        """The ``quantization_config`` entry of config.json."""
        return {
            "quant_method": self.quant_method,
            "quant_type": self.quant_type,
            "modules_to_not_convert": self.modules_to_not_convert,
            "include_input_output_embeddings": self.include_input_output_embeddings,
            "untie_embedding_weights": self.untie_embedding_weights,
        }

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any]) -> TorchAoConfig:
        config_dict = dict(config_dict)
        method = config_dict.pop("quant_method", cls.quant_method)
        if method != cls.quant_method:
            raise ValueError(
                f"config.json asks for quant_method {method!r}; only {cls.quant_method!r} (int8, TorchAoConfig) is "
                "implemented here. Load the float checkpoint and quantize it with TorchAoConfig instead."
            )
        config_dict.pop("quant_type_kwargs", None)  # the reference writes {} here
        return cls(**config_dict)

    def __repr__(self) -> str:
        return f"TorchAoConfig({self.to_dict()})"


# -- the quantized layers -------------------------------------------------------------------------------------


def quantize_per_channel(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per output channel: ``weight`` (out, in) -> int8 (out, in) and float32 scales (out,)."""
    weight = weight.detach().float()
    scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127  # (out,); an all-zero row gets a tiny, harmless scale
    weight_int8 = torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8).contiguous()
    return weight_int8, scale


class Int8Linear(nn.Module):
    """A linear layer whose weight is int8 per output channel; ``dynamic`` also rounds the activations to int8.

    ``weight`` and ``weight_scale`` are buffers (not trainable); the bias stays a float parameter.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool, dynamic: bool, dtype=torch.float32):
        super().__init__()
        self.in_features, self.out_features, self.dynamic = in_features, out_features, dynamic
        self.register_buffer("weight", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(out_features, dtype=torch.float32))
        self.bias = nn.Parameter(torch.zeros(out_features, dtype=dtype), requires_grad=False) if bias else None

    @classmethod
    def from_float(cls, weight: torch.Tensor, bias: torch.Tensor | None, dynamic: bool) -> Int8Linear:
        """Quantize a float weight of shape (out, in)."""
        out_features, in_features = weight.shape
        layer = cls(in_features, out_features, bias is not None, dynamic, dtype=weight.dtype)
        layer.weight, layer.weight_scale = quantize_per_channel(weight)
        if bias is not None:
            layer.bias = nn.Parameter(bias.detach().clone(), requires_grad=False)
        return layer

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A weight memory-mapped from a safetensors file can start at any byte; the int8 kernel reads it in
        # aligned vectors (and crashes otherwise), so the layer keeps its own copy.
        if prefix + "weight" in state_dict:
            state_dict[prefix + "weight"] = state_dict[prefix + "weight"].clone()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features)  # (batch * seq, in)
        if self.dynamic:
            rows = rows.float()
            row_scale = rows.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127  # (batch * seq, 1)
            rows_int8 = (rows / row_scale).round_().to(torch.int8)
            out = torch._int_mm(rows_int8, self.weight.t()).float()  # (batch * seq, out): exact int32 sums
            out.mul_(row_scale).mul_(
                self.weight_scale
            )  # in place: these element-wise passes cost as much as the matmul
        else:
            # bfloat16 activations: the kernel's vectorised path on every x86 CPU (it widens them to float32
            # inside, so no native bfloat16 is needed); with float32 activations it runs 4-30x slower than fp32.
            rows = rows.to(torch.bfloat16)
            out = torch.ops.aten._weight_int8pack_mm(rows, self.weight, self.weight_scale.to(torch.bfloat16))
        out = out.to(x.dtype)  # a new tensor in every branch, so the bias may go in place
        if self.bias is not None:
            out.add_(self.bias)
        return out.view(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        kind = "int8 weights and activations (dynamic)" if self.dynamic else "int8 weights only"
        return f"in_features={self.in_features}, out_features={self.out_features}, {kind}"


# -- converting a model ---------------------------------------------------------------------------------------


def _float_weight(module: nn.Module) -> torch.Tensor | None:
    """The (out, in) weight of a float linear layer, or None when ``module`` is not one.

    ``nn.Linear`` stores (out, in); a layer that is not an ``nn.Linear`` but has ``in_features``,
    ``out_features`` and a weight of shape (in, out) computes ``x @ W + b`` (GPT-2's Conv1D) and is transposed.
    """
    weight = getattr(module, "weight", None)
    if isinstance(module, Int8Linear) or not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        return None
    if isinstance(module, nn.Linear):
        return weight
    shape = (getattr(module, "in_features", None), getattr(module, "out_features", None))
    if tuple(weight.shape) == shape and type(module).forward is not nn.Linear.forward:
        return weight.t()
    return None


def _layers_to_convert(model: nn.Module, config: TorchAoConfig) -> list[str]:
    skip = list(config.modules_to_not_convert)
    get_output_embeddings = getattr(model, "get_output_embeddings", None)
    head = get_output_embeddings() if callable(get_output_embeddings) else None
    names = []
    for name, module in model.named_modules():
        if any(name == s or name.startswith(s + ".") or name.endswith("." + s) for s in skip):
            continue
        if module is head and head is not None and not config.include_input_output_embeddings:
            continue
        if _float_weight(module) is not None:
            names.append(name)
    return names


def _replace(model: nn.Module, name: str, layer: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, layer)


def replace_linear_layers(model: nn.Module, config: TorchAoConfig, on_meta: bool = False) -> int:
    """Swap the float linear layers of ``model`` for ``Int8Linear`` ones, in place; returns how many.

    ``on_meta``: the model was built on the meta device to receive a quantized checkpoint; the new layers are
    empty and the checkpoint fills them. Otherwise the float weights are quantized now.
    """
    if getattr(model, "peft_config", None):
        raise ValueError("This model holds peft adapter layers; merge them first (merge_and_unload), then quantize.")
    names = _layers_to_convert(model, config)
    if not names:
        raise ValueError(
            f"{type(model).__name__} has no linear layers to quantize (int8 quantization converts nn.Linear and "
            f"Conv1D layers; modules_to_not_convert={config.modules_to_not_convert}). Quantize a model that has "
            "them, or leave quantization_config out."
        )
    dynamic = config.quant_type == "int8_dynamic_activation_int8_weight"
    if config.untie_embedding_weights and hasattr(model, "config"):
        model.config.tie_word_embeddings = False  # the LM head gets its own (int8) weight; the embeddings stay float
    for name in names:
        module = model.get_submodule(name)
        weight = _float_weight(module)
        if on_meta:
            with torch.device("meta"):
                layer = Int8Linear(weight.shape[1], weight.shape[0], module.bias is not None, dynamic, weight.dtype)
        else:
            layer = Int8Linear.from_float(weight, module.bias, dynamic)
        _replace(model, name, layer)
    if hasattr(model, "config"):
        model.config.quantization_config = config.to_dict()
    return len(names)


def quantize_(model: nn.Module, config: TorchAoConfig) -> nn.Module:
    """Quantize ``model``'s linear layers in place (torchao's name) and return it."""
    if not isinstance(config, TorchAoConfig):
        raise TypeError(f"quantize_ takes a TorchAoConfig, got {type(config).__name__}.")
    with torch.no_grad():
        replace_linear_layers(model, config)
    return model


def quantize_dynamic(model: nn.Module, modules_to_not_convert: list[str] | None = None) -> nn.Module:
    """Dynamic int8 (weights and activations) for every linear layer of ``model``, in place: the encoder recipe.

    Unlike ``torch.ao.quantization.quantize_dynamic`` (deprecated) this keeps the model's class and its
    ``save_pretrained``; the LM head, if any, stays float.
    """
    return quantize_(model, TorchAoConfig("int8_dynamic_activation_int8_weight", modules_to_not_convert))


# -- hooks for PreTrainedModel.from_pretrained -----------------------------------------------------------------


def resolve_config(requested: Any, model_config: Any, keys: list[str], name: str) -> tuple[TorchAoConfig | None, bool]:
    """What from_pretrained quantizes: (the config to apply or None, whether checkpoint ``name`` is already int8).

    ``requested`` is the ``quantization_config`` argument; a ``quantization_config`` dict in config.json means the
    checkpoint was saved quantized. ``keys``: the checkpoint's tensor names.
    """
    stored = getattr(model_config, "quantization_config", None)
    if isinstance(requested, dict):
        requested = TorchAoConfig.from_dict(requested)
    if requested is not None and not isinstance(requested, TorchAoConfig):
        raise TypeError(f"quantization_config must be a TorchAoConfig here, got {type(requested).__name__}.")
    if stored is None:
        scales = [k for k in keys if k.endswith(".weight_scale")]
        if scales and requested is None:
            raise ValueError(
                f"The checkpoint {name!r} holds int8-quantized weights ({scales[0]}, ...), but its config has no "
                "quantization_config, so a float model cannot load them. Use the config.json saved with these "
                'weights, or pass quantization_config=TorchAoConfig("int8_weight_only") (the type they were saved '
                "with)."
            )
        return requested, bool(scales)
    stored = TorchAoConfig.from_dict(stored)
    if requested is not None and requested.to_dict() != stored.to_dict():
        raise ValueError(
            f"The checkpoint {name!r} is already quantized ({stored.to_dict()}); it cannot be loaded as "
            f"{requested.to_dict()}. Leave quantization_config out, or quantize the float checkpoint instead."
        )
    return stored, True
