"""The Trainer's optimizer, and learning-rate schedules (the reference's formulas, as LambdaLR multipliers).

``create_optimizer`` builds what ``TrainingArguments.optim`` names (AdamW, fused where it can be, or SGD), with
weight decay on every parameter but biases and normalization weights (``decay_parameter_names``).

Each schedule is a function of the step that returns the factor the base learning rate is
multiplied by; ``get_scheduler(name, optimizer, ...)`` binds its settings and wraps it in a LambdaLR.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import torch
from torch import nn


def decay_parameter_names(model: nn.Module) -> list[str]:
    """Parameters that get weight decay: all but biases and normalization weights."""
    no_decay_modules = tuple(m for m in (nn.LayerNorm, nn.GroupNorm, getattr(nn, "RMSNorm", None)) if m)
    norm_params = {
        f"{module_name}.{name}" if module_name else name
        for module_name, module in model.named_modules()
        if isinstance(module, no_decay_modules)
        for name, _ in module.named_parameters(recurse=False)
    }
    return [
        name
        for name, _ in model.named_parameters()
        if name not in norm_params
        and not name.endswith("bias")
        and "layernorm" not in name.lower()
        and not re.search(r"(^|\.|_)norm($|\.)", name)
    ]


def create_optimizer(
    model: nn.Module, args: Any, decay: list[str], optimizer_cls_and_kwargs: tuple[type, dict] | None = None
) -> torch.optim.Optimizer:
    """The optimizer ``args.optim`` names (or ``optimizer_cls_and_kwargs``) over the trainable parameters, with
    ``args.weight_decay`` on the parameters named in ``decay`` and none on the others."""
    params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    decay = set(decay)
    groups = [
        {"params": [p for name, p in params if name in decay], "weight_decay": args.weight_decay},
        {"params": [p for name, p in params if name not in decay], "weight_decay": 0.0},
    ]
    if optimizer_cls_and_kwargs is not None:
        optimizer_cls, kwargs = optimizer_cls_and_kwargs
        return optimizer_cls(groups, **{"lr": args.learning_rate, **kwargs})
    if args.optim == "sgd":
        return torch.optim.SGD(groups, lr=args.learning_rate)
    fused = args.optim == "adamw_torch_fused" and all(
        p.is_floating_point() and p.device.type in ("cpu", "cuda") for _, p in params
    )
    betas = (args.adam_beta1, args.adam_beta2)
    return torch.optim.AdamW(groups, lr=args.learning_rate, betas=betas, eps=args.adam_epsilon, fused=fused or None)


SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup", "polynomial", "cosine_with_restarts")


def _constant(step):
    return 1.0


def _constant_with_warmup(step, *, num_warmup_steps):
    return step / max(1.0, num_warmup_steps) if step < num_warmup_steps else 1.0


def _linear(step, *, num_warmup_steps, num_training_steps):
    if step < num_warmup_steps:
        return step / max(1, num_warmup_steps)
    return max(0.0, (num_training_steps - step) / max(1, num_training_steps - num_warmup_steps))


def _cosine(step, *, num_warmup_steps, num_training_steps, num_cycles):
    if step < num_warmup_steps:
        return step / max(1, num_warmup_steps)
    progress = (step - num_warmup_steps) / max(1, num_training_steps - num_warmup_steps)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))


def _cosine_with_restarts(step, *, num_warmup_steps, num_training_steps, num_cycles):
    if step < num_warmup_steps:
        return step / max(1, num_warmup_steps)
    progress = (step - num_warmup_steps) / max(1, num_training_steps - num_warmup_steps)
    if progress >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(num_cycles) * progress) % 1.0))))


def _polynomial(step, *, num_warmup_steps, num_training_steps, lr_end, power, lr_init):
    if step < num_warmup_steps:
        return step / max(1, num_warmup_steps)
    if step > num_training_steps:
        return lr_end / lr_init
    decay_steps = num_training_steps - num_warmup_steps
    pct_remaining = 1 - (step - num_warmup_steps) / max(1, decay_steps)
    return ((lr_init - lr_end) * pct_remaining**power + lr_end) / lr_init


def get_scheduler(
    name: str,
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int = 0,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: dict | None = None,
):
    """A LambdaLR for schedule ``name`` (linear, cosine, constant, constant_with_warmup, polynomial)."""
    from torch.optim.lr_scheduler import LambdaLR

    kwargs = dict(scheduler_specific_kwargs or {})
    name = getattr(name, "value", name)
    if name == "constant":
        fn = _constant
    elif name == "constant_with_warmup":
        fn = functools.partial(_constant_with_warmup, num_warmup_steps=num_warmup_steps)
    else:
        if num_training_steps is None:
            raise ValueError(f"The {name!r} schedule needs num_training_steps.")
        if name == "linear":
            fn = functools.partial(_linear, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps)
        elif name in ("cosine", "cosine_with_restarts"):
            target = _cosine if name == "cosine" else _cosine_with_restarts
            fn = functools.partial(
                target,
                num_warmup_steps=num_warmup_steps,
                num_training_steps=num_training_steps,
                num_cycles=kwargs.get("num_cycles", 0.5 if name == "cosine" else 1),
            )
        elif name == "polynomial":
            lr_init = optimizer.defaults["lr"]
            lr_end = kwargs.get("lr_end", 1e-7)
            if lr_end > lr_init:
                raise ValueError(
                    f"polynomial schedule: lr_end ({lr_end}) must be smaller than the learning rate ({lr_init})."
                )
            fn = functools.partial(
                _polynomial,
                num_warmup_steps=num_warmup_steps,
                num_training_steps=num_training_steps,
                lr_end=lr_end,
                power=kwargs.get("power", 1.0),
                lr_init=lr_init,
            )
        else:
            raise ValueError(f"Unknown lr_scheduler_type {name!r}; use one of {SCHEDULERS}.")
    return LambdaLR(optimizer, fn)
