"""PEFT adapters on workbench models: LoRA and the other methods of the `peft` library that add small trainable
layers to a frozen model. The reference's name for this module is ``integrations/peft.py``.

The adapter math is peft's; workbench only gives it what it reads. Two ways in:

1. peft's own API, unchanged::

       model = AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=2)
       peft_model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=8))   # a peft.PeftModel
       Trainer(model=peft_model, ...).train()
       peft_model.save_pretrained(folder)            # adapter_config.json + adapter_model.safetensors
       merged = peft_model.merge_and_unload()        # the workbench model again, with W + BA in its weights

   What peft reads from a model, PreTrainedModel has: ``config.to_dict()`` with the Hub's ``model_type`` (peft's
   default target modules are keyed by it), the Hub's module names (``query``, ``q_proj``, ``c_attn``, ...),
   ``name_or_path`` (written into adapter_config.json as ``base_model_name_or_path``), ``get_input_embeddings``,
   ``is_gradient_checkpointing`` and, for causal LMs, ``prepare_inputs_for_generation``.

2. The reference's integrated API, ``PeftAdapterMixin`` below (a base class of every PreTrainedModel): the model
   carries its adapters itself::

       model.add_adapter(LoraConfig(...), adapter_name="default")   # new, trainable
       model.load_adapter(folder, adapter_name="other")             # saved (here or by the reference)
       model.set_adapter("other"); model.disable_adapters(); model.enable_adapters(); model.active_adapters()
       model.save_pretrained(folder)                                # writes the active adapter only
       AutoModelForCausalLM.from_pretrained(adapter_folder)         # the base model it names, plus the adapter

What LoRA does to one linear layer (W frozen; only A and B train; B starts at zero, so training starts from the
base model; merging adds B @ A * scaling to W)::

    x ──> W ─────────────────────────────────────────────────────────┐
    └───> dropout ──> A: (r, in) ──> B: (out, r) ──> * lora_alpha / r ──> + ──> y

The files are PEFT's format, which peft and the reference read and write alike: adapter_config.json (the
peft config) and adapter_model.safetensors, whose keys are the model's own parameter names with the prefix
``base_model.model.`` and without the adapter's name (``base_model.model.bert.encoder.layer.0.attention.self
.query.lora_A.weight``).

One workbench layer needs telling: GPT-2's ``Conv1D`` (weights stored transposed). peft recognises the
reference's Conv1D class by identity, so ``register_workbench_layers(lora_config)`` hands peft a LoRA layer for
ours (peft's own, with ``fan_in_fan_out``); the integrated API does this by itself. peft is imported only when an
adapter is used: ``import workbench`` stays light.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from . import hub

ADAPTER_CONFIG_NAME = "adapter_config.json"
ADAPTER_SAFE_WEIGHTS_NAME = "adapter_model.safetensors"
ADAPTER_WEIGHTS_NAME = "adapter_model.bin"
# what peft puts before a parameter name in adapter files (PeftModel.base_model.model is the wrapped model)
PEFT_KEY_PREFIX = "base_model.model."


def _require_peft():
    try:
        import peft
    except ImportError as e:
        raise ImportError("Adapters need the peft library: pip install peft") from e
    return peft


# ------------------------------------------------------------------------------------------------
# Finding adapters
# ------------------------------------------------------------------------------------------------


def adapter_base(name_or_path: str, hub_kwargs: dict[str, Any]) -> str | None:
    """The checkpoint an adapter builds on, or None when ``name_or_path`` holds no adapter_config.json.

    That is adapter_config.json's ``base_model_name_or_path``, or the folder itself when it also holds a
    config.json (a model saved together with its adapter), as in the reference.
    """
    try:
        config_file = hub.resolve_file(name_or_path, ADAPTER_CONFIG_NAME, required=False, **hub_kwargs)
    except hub.CheckpointNotFoundError:
        return None  # not found at all: the caller's own search for config.json says so, with the right file name
    if config_file is None:
        return None
    if os.path.isfile(os.path.join(os.fspath(name_or_path), "config.json")):
        return os.fspath(name_or_path)
    with open(config_file, encoding="utf-8") as f:
        base = json.load(f).get("base_model_name_or_path")
    if not base:
        raise ValueError(
            f"{config_file} names no base_model_name_or_path, so the model it adapts is unknown. Load the base "
            f"model yourself and add the adapter: model = AutoModelFor...from_pretrained(base); "
            f"model.load_adapter({os.fspath(name_or_path)!r})."
        )
    return base


def _read_adapter_weights(name_or_path: str, hub_kwargs: dict[str, Any]) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    path = hub.resolve_file(name_or_path, ADAPTER_SAFE_WEIGHTS_NAME, required=False, **hub_kwargs)
    if path is not None:
        return load_file(path)
    path = hub.resolve_file(name_or_path, ADAPTER_WEIGHTS_NAME, required=False, **hub_kwargs)
    if path is not None:
        return torch.load(path, map_location="cpu", weights_only=True)  # tensors only, never pickled code
    raise hub.CheckpointNotFoundError(
        f"{name_or_path!r} has an {ADAPTER_CONFIG_NAME} but no adapter weights ({ADAPTER_SAFE_WEIGHTS_NAME} or "
        f"{ADAPTER_WEIGHTS_NAME})."
    )


# ------------------------------------------------------------------------------------------------
# The workbench layers peft does not know
# ------------------------------------------------------------------------------------------------


def register_workbench_layers(peft_config):
    """Tell a LoraConfig how to adapt GPT-2's Conv1D (through peft's experimental custom-layer API); returns
    the config. Needed only with peft's own entry points on GPT-2 (``get_peft_model``,
    ``PeftModel.from_pretrained(model, folder, config=...)``); other configs are returned unchanged."""
    if hasattr(peft_config, "_register_custom_module"):
        peft_config._register_custom_module(_workbench_lora_layers())
    return peft_config


_LORA_LAYERS: dict = {}


def _workbench_lora_layers() -> dict:
    """workbench layer class -> the LoRA layer class that wraps it (built on first use, when peft is imported)."""
    if not _LORA_LAYERS:
        from peft.tuners.lora import Linear as LoraLinear

        from .models.gpt2 import Conv1D

        class LoraConv1D(LoraLinear):
            """peft's LoRA linear layer around a Conv1D: the same A and B, with the merged update transposed to
            the (in_features, out_features) layout of Conv1D's weight (``fan_in_fan_out``), exactly as peft
            adapts the reference's Conv1D, so adapter files are interchangeable."""

            def __init__(self, base_layer, adapter_name, config, **kwargs):
                config.fan_in_fan_out = True  # read by the LoRA layer as it builds itself
                super().__init__(base_layer, adapter_name, config=config, is_target_conv_1d_layer=True, **kwargs)

            def _get_in_out_features(self, module):
                return module.in_features, module.out_features

        _LORA_LAYERS[Conv1D] = LoraConv1D
    return _LORA_LAYERS


# The heads that peft's PeftModelForSequenceClassification (TokenClassification, QuestionAnswering) trains whole, as
# modules to save: a task head is usually new, and a random head cannot stay frozen.
TASK_HEADS = {
    "SEQ_CLS": ("classifier", "score", "pre_classifier"),
    "TOKEN_CLS": ("classifier", "score", "pre_classifier"),
    "QUESTION_ANS": ("qa_outputs",),
}


def _train_the_task_head(peft_config) -> None:
    """Add the task's head to ``modules_to_save``, as ``get_peft_model`` does, so that ``add_adapter`` trains it and
    the adapter file holds it (peft's ``PeftModel.from_pretrained`` expects it there for these task types)."""
    heads = TASK_HEADS.get(peft_config.task_type, ())
    if heads and hasattr(peft_config, "modules_to_save"):
        existing = list(peft_config.modules_to_save or [])
        peft_config.modules_to_save = existing + [name for name in heads if name not in existing]


def _expand_all_linear(model: torch.nn.Module, peft_config) -> None:
    """``target_modules="all-linear"``: every linear layer (GPT-2's Conv1D included) but the output layer, which
    peft leaves out on the reference's classes only: the output embeddings, or for sequence classification the
    head (``score`` or ``classifier``)."""
    if getattr(peft_config, "target_modules", None) != "all-linear":
        return
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if output is None and peft_config.task_type == "SEQ_CLS":
        output = getattr(model, "score", None) or getattr(model, "classifier", None)
    linear = (torch.nn.Linear, *_workbench_lora_layers())
    peft_config.target_modules = {
        name for name, module in model.named_modules() if isinstance(module, linear) and module is not output
    }


# ------------------------------------------------------------------------------------------------
# The integrated API
# ------------------------------------------------------------------------------------------------


class PeftAdapterMixin:
    """Adapters carried by the model itself: the reference's ``PeftAdapterMixin`` (non-prompt methods: LoRA, IA³,
    LoHa, ...). ``peft_config`` (adapter name -> config) is set by peft when the first adapter goes in."""

    _hf_peft_config_loaded = False

    def add_adapter(self, adapter_config, adapter_name: str | None = None) -> None:
        """Add a new, freshly initialised adapter for training, and make it the active one. Only the adapter's
        weights (and ``modules_to_save``) are trainable afterwards; with ``task_type="SEQ_CLS"``, ``"TOKEN_CLS"`` or
        ``"QUESTION_ANS"`` the task head is one of them, as with ``get_peft_model`` (the reference leaves it frozen)."""
        peft = _require_peft()
        from peft.functional import inject_adapter_in_model

        adapter_name = adapter_name or "default"
        if not isinstance(adapter_config, peft.PeftConfig):
            raise TypeError(f"adapter_config must be a peft config (e.g. LoraConfig), got {type(adapter_config)}.")
        self._check_new_adapter_name(adapter_name)
        adapter_config.base_model_name_or_path = self.__dict__.get("name_or_path") or None
        _expand_all_linear(self, adapter_config)
        _train_the_task_head(adapter_config)
        inject_adapter_in_model(register_workbench_layers(adapter_config), self, adapter_name)
        self._hf_peft_config_loaded = True
        self.set_adapter(adapter_name)
        if self.is_gradient_checkpointing:  # enabled before: see enable_input_require_grads
            self.enable_input_require_grads()

    def load_adapter(
        self,
        peft_model_id: str | os.PathLike | None = None,
        adapter_name: str | None = None,
        *,
        peft_config=None,
        adapter_state_dict: dict[str, torch.Tensor] | None = None,
        is_trainable: bool = False,
        **hub_kwargs: Any,
    ) -> None:
        """Load a saved adapter (a folder or Hub id with adapter_config.json and adapter_model.safetensors, or
        ``peft_config`` with ``adapter_state_dict``) and add it under ``adapter_name`` ("default"). It is frozen
        for inference unless ``is_trainable=True``; ``set_adapter`` makes it the active one."""
        peft = _require_peft()
        from peft.functional import inject_adapter_in_model, set_peft_model_state_dict

        adapter_name = adapter_name or "default"
        self._check_new_adapter_name(adapter_name)
        unknown = set(hub_kwargs) - set(hub.HUB_KWARGS)
        if unknown:
            raise TypeError(f"load_adapter got unexpected arguments {sorted(unknown)}.")
        if peft_model_id is None and (peft_config is None or adapter_state_dict is None):
            raise ValueError("load_adapter needs a folder or Hub id, or both peft_config= and adapter_state_dict=.")
        if peft_model_id is not None:
            peft_model_id = os.fspath(peft_model_id)
            if peft_config is None:
                config_file = hub.resolve_file(peft_model_id, ADAPTER_CONFIG_NAME, required=False, **hub_kwargs)
                if config_file is None:
                    raise hub.CheckpointNotFoundError(
                        f"{peft_model_id!r} holds no {ADAPTER_CONFIG_NAME}, so it is not a PEFT adapter. A full "
                        "model loads with from_pretrained."
                    )
                peft_config = peft.PeftConfig.from_pretrained(os.path.dirname(config_file))
            if adapter_state_dict is None:
                adapter_state_dict = _read_adapter_weights(peft_model_id, hub_kwargs)
        peft_config.inference_mode = not is_trainable
        inject_adapter_in_model(register_workbench_layers(peft_config), self, adapter_name)
        self._hf_peft_config_loaded = True

        state = {key.removeprefix(PEFT_KEY_PREFIX): tensor for key, tensor in adapter_state_dict.items()}
        result = set_peft_model_state_dict(self, state, adapter_name=adapter_name)
        missing = [key for key in result.missing_keys if adapter_name in key.split(".")]
        if result.unexpected_keys or missing:
            raise ValueError(
                f"The adapter {peft_model_id or 'state dict'} does not fit {type(self).__name__}: "
                f"unexpected keys {result.unexpected_keys[:5]}, missing {missing[:5]}. It was trained on another "
                "architecture or size; check adapter_config.json's base_model_name_or_path."
            )

    def _check_new_adapter_name(self, adapter_name: str) -> None:
        if self._hf_peft_config_loaded and adapter_name in self.peft_config:
            raise ValueError(
                f"The model already has an adapter named {adapter_name!r} (it has {list(self.peft_config)}); "
                "pass another adapter_name=."
            )

    def _adapter_modules(self) -> list:
        """The modules peft put in: adapted layers, and the wrappers of ``modules_to_save``."""
        if not self._hf_peft_config_loaded:
            raise ValueError("The model has no adapter: add one with add_adapter(config) or load_adapter(folder).")
        from peft.tuners.tuners_utils import BaseTunerLayer
        from peft.utils import AuxiliaryTrainingWrapper

        return [m for m in self.modules() if isinstance(m, (BaseTunerLayer, AuxiliaryTrainingWrapper))]

    def set_adapter(self, adapter_name: str | list[str]) -> None:
        """Make ``adapter_name`` (or several, whose updates add up) the active adapter(s); the others are off. An
        adapter loaded for inference stays frozen."""
        from peft.functional import set_adapter

        self._adapter_modules()
        names = [adapter_name] if isinstance(adapter_name, str) else list(adapter_name)
        unknown = [name for name in names if name not in self.peft_config]
        if unknown:
            raise ValueError(f"No adapter named {unknown}; the model has {list(self.peft_config)}.")
        inference = all(self.peft_config[name].inference_mode for name in names)
        set_adapter(self, adapter_name, inference_mode=inference)

    def disable_adapters(self) -> None:
        """Run the base model alone (the adapters stay in place; ``enable_adapters`` turns them back on)."""
        for module in self._adapter_modules():
            module.enable_adapters(False)

    def enable_adapters(self) -> None:
        for module in self._adapter_modules():
            module.enable_adapters(True)

    def active_adapters(self) -> list[str]:
        """The names of the adapters in use."""
        active = self._adapter_modules()[0].active_adapter
        return [active] if isinstance(active, str) else list(active)

    def get_adapter_state_dict(self, adapter_name: str | None = None, state_dict: dict | None = None) -> dict:
        """The weights of one adapter (the active one by default), with names as in adapter files but without the
        ``base_model.model.`` prefix."""
        from peft.functional import get_peft_model_state_dict

        adapter_name = adapter_name or self.active_adapters()[0]
        return get_peft_model_state_dict(self, state_dict=state_dict, adapter_name=adapter_name)

    def _save_adapter(self, save_directory: Path) -> None:
        """What ``save_pretrained`` writes for a model with adapters: the active adapter in PEFT's format (staged in
        a temporary folder and moved into place, so an interrupted save leaves the previous files intact)."""
        from safetensors.torch import save_file

        active = self.active_adapters()
        if len(active) > 1:
            raise ValueError(
                f"Several adapters are active ({active}); save them one at a time: model.set_adapter(name), then "
                "model.save_pretrained(folder)."
            )
        state = {
            PEFT_KEY_PREFIX + key: t.detach().contiguous().cpu() for key, t in self.get_adapter_state_dict().items()
        }
        staging = Path(tempfile.mkdtemp(dir=save_directory, prefix=".saving-"))
        try:
            save_file(state, staging / ADAPTER_SAFE_WEIGHTS_NAME, metadata={"format": "pt"})
            self.peft_config[active[0]].save_pretrained(staging)
            for name in (ADAPTER_SAFE_WEIGHTS_NAME, ADAPTER_CONFIG_NAME):
                os.replace(staging / name, save_directory / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
