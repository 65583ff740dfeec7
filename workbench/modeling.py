"""PreTrainedModel: loading and saving Hub checkpoints, and what every model shares (input checks,
gradient checkpointing, a decoder pass's bookkeeping, the task heads' plumbing).

Loading, in order:
1. read config.json (or take ``config=``), apply keyword overrides such as ``num_labels=3``;
2. build the model on the ``meta`` device (no memory, no random init);
3. open the safetensors file(s) memory-mapped and move each tensor, converted to the requested
   dtype one tensor at a time, into the model (``load_state_dict(assign=True)``);
4. initialise only what the checkpoint lacked (a new classification head), tie shared weights,
   and report missing and unexpected keys.
Saving writes config.json and safetensors (sharded above ``max_shard_size``) to a temporary folder
and moves the files into place, so an interrupted save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.utils.checkpoint
from torch import nn

from . import hub, layers, quantization
from .cache import KVCache, as_cache
from .configuration import PretrainedConfig
from .outputs import BaseModelOutputWithPast, CausalLMOutputWithPast, ModelOutput, SequenceClassifierOutputWithPast
from .peft_integration import PeftAdapterMixin, adapter_base
from .weight_files import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, CheckpointReader, parse_size, split_into_shards

logger = logging.getLogger(__name__)


# Keys that old checkpoints carry and no module here has a parameter for (buffers the reference
# used to save). They are dropped silently rather than reported as unexpected.
IGNORED_CHECKPOINT_KEYS = re.compile(r"(^|\.)position_ids$")


# ------------------------------------------------------------------------------------------------
# Input checks
# ------------------------------------------------------------------------------------------------


def check_inputs(input_ids, inputs_embeds, max_positions: int | None, model_name: str) -> tuple[int, int]:
    """Validate ``input_ids`` / ``inputs_embeds`` and return ``(batch, seq_len)``."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError(f"{model_name} needs exactly one of input_ids or inputs_embeds.")
    if input_ids is not None:
        if not isinstance(input_ids, torch.Tensor):
            raise TypeError(
                f"{model_name} takes input_ids as a torch.Tensor, got {type(input_ids).__name__}; "
                "call the tokenizer with return_tensors='pt'."
            )
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be (batch, seq_len), got shape {tuple(input_ids.shape)}.")
        if input_ids.is_floating_point():
            raise TypeError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}.")
        batch, seq_len = input_ids.shape
    else:
        batch, seq_len = inputs_embeds.shape[:2]
    if batch == 0 or seq_len == 0:
        raise ValueError(f"{model_name} got an empty batch (input shape {batch} x {seq_len}); pass at least one token.")
    if max_positions is not None and seq_len > max_positions:
        raise ValueError(
            f"The input has {seq_len} tokens but {model_name} has position embeddings for at most "
            f"{max_positions}. Truncate it: tokenizer(text, truncation=True, max_length={max_positions})."
        )
    return batch, seq_len


# ------------------------------------------------------------------------------------------------
# PreTrainedModel
# ------------------------------------------------------------------------------------------------


def _resolve_dtype(dtype: Any, config: PretrainedConfig, first_checkpoint_dtype: torch.dtype | None) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if dtype == "auto":
        if config.dtype:
            return getattr(torch, str(config.dtype).replace("torch.", ""))
        return first_checkpoint_dtype or torch.float32
    if isinstance(dtype, str):
        resolved = getattr(torch, dtype.replace("torch.", ""), None)
        if not isinstance(resolved, torch.dtype):
            raise ValueError(f"torch_dtype={dtype!r} is not a torch dtype (try 'float32', 'bfloat16', 'auto').")
        dtype = resolved
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"torch_dtype must be a floating point dtype or 'auto', got {dtype!r}.")
    return dtype


class GradientCheckpointingLayer(nn.Module):
    """A transformer block whose activations can be recomputed in the backward pass instead of stored.

    ``model.gradient_checkpointing_enable()`` turns this on for every block of a model. While training, a
    checkpointed block keeps only its inputs in the forward pass and runs once more in the backward pass to
    rebuild what the gradients need (``torch.utils.checkpoint``). The random state is restored for that
    second run, so dropout draws the same masks and the gradients are the ones computed without
    checkpointing. The trade: the activations of one block at a time instead of all of them, for about one
    more forward pass of compute.
    """

    gradient_checkpointing = False
    checkpoint_options: dict = {}  # extra arguments of torch.utils.checkpoint.checkpoint, e.g. use_reentrant

    def __call__(self, *args, **kwargs):
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            options = {"use_reentrant": False, **self.checkpoint_options}
            return torch.utils.checkpoint.checkpoint(super().__call__, *args, **options, **kwargs)
        return super().__call__(*args, **kwargs)


def checkpointable_blocks(module: nn.Module) -> list[GradientCheckpointingLayer]:
    return [m for m in module.modules() if isinstance(m, GradientCheckpointingLayer)]


def checkpointing_use_cache(module: nn.Module, use_cache: bool, past_key_values) -> bool:
    """A decoder's ``use_cache``, turned off while its checkpointed blocks train.

    Those blocks run twice (forward, then again in the backward pass), so they would write a KV cache twice.
    """
    checkpointing = (
        module.training
        and torch.is_grad_enabled()
        and any(block.gradient_checkpointing for block in checkpointable_blocks(module))
    )
    if not checkpointing:
        return use_cache
    if past_key_values is not None:
        raise ValueError(
            "past_key_values cannot be extended while training with gradient checkpointing (each block runs "
            "twice). Call model.eval() to decode with a cache, or model.gradient_checkpointing_disable()."
        )
    return False


class DecoderPass:
    """The bookkeeping of one forward pass through a decoder's blocks, the same in every decoder family.

    A bare decoder's forward gets one from ``PreTrainedModel.decoder_pass`` and keeps in its own file what is its
    own (embeddings, positions, masks, the loop over its blocks, the final norm):

        run = self.decoder_pass(len(self.layers), past_key_values, use_cache, output_attentions, output_hidden_states)
        hidden = self.embed_tokens(input_ids)     # positions continue after the run.past_length cached tokens
        run.record(hidden)                        # hidden_states[0]: the blocks' input
        for layer in self.layers:
            hidden, weights = layer(hidden, ..., run.cache, run.output_attentions)
            run.record(hidden, weights)           # hidden_states[i + 1], attentions[i]
        return self.format_output(run.finish(self.norm(hidden)), return_dict)

    ``finish`` moves the cache past the new tokens and, as the reference does, puts the final norm's output in
    place of the last block's in ``hidden_states``.
    """

    def __init__(self, cache: KVCache | None, use_cache: bool, output_attentions: bool, output_hidden_states: bool):
        self.cache = cache  # the KV cache the blocks read and extend; None: no cache
        self.use_cache = use_cache  # whether the output returns the cache
        self.output_attentions = output_attentions  # the blocks return their attention weights (the eager path)
        self.past_length = cache.length if cache is not None else 0  # tokens already in the cache
        self.hidden_states: list[torch.Tensor] | None = [] if output_hidden_states else None
        self.attentions: list[torch.Tensor] | None = [] if output_attentions else None

    def record(self, hidden: torch.Tensor, weights: torch.Tensor | None = None) -> None:
        """Keep a block's output ``hidden`` (batch, seq, hidden) and its attention ``weights`` (batch, heads, seq,
        past + seq) where they were asked for. The first call, without weights, records the blocks' input."""
        if self.hidden_states is not None:
            self.hidden_states.append(hidden)
        if self.attentions is not None and weights is not None:
            self.attentions.append(weights)

    def finish(self, final_hidden: torch.Tensor) -> BaseModelOutputWithPast:
        """The bare model's output, given the stack's last state after the final norm: (batch, seq, hidden)."""
        if self.cache is not None:
            self.cache.advance(final_hidden.shape[1])  # the cache now counts this pass's tokens too
        hidden_states = None
        if self.hidden_states is not None:
            hidden_states = tuple(self.hidden_states[:-1]) + (final_hidden,)
        return BaseModelOutputWithPast(
            last_hidden_state=final_hidden,
            past_key_values=self.cache if self.use_cache else None,
            hidden_states=hidden_states,
            attentions=tuple(self.attentions) if self.attentions is not None else None,
        )


class PreTrainedModel(PeftAdapterMixin, nn.Module):
    """Base class of every model: config handling, weight init, tying, from/save_pretrained; PEFT adapters
    (``add_adapter``, ``load_adapter``, ...) come from ``PeftAdapterMixin`` (peft_integration.py)."""

    config_class: type[PretrainedConfig] = PretrainedConfig
    # Attribute name of the bare model inside task models ("bert" in BertForMaskedLM), which is also
    # the prefix of its keys in checkpoints saved from task models.
    base_model_prefix: str = ""
    # Checkpoint key of a weight that shares storage with another -> the key it is tied to. Ties to the input
    # embeddings follow ``config.tie_word_embeddings`` (as do other ties of the same head, such as an MLM
    # decoder's bias); other ties always hold.
    _tied_weights_keys: dict[str, str] = {}
    # Regex of checkpoint keys a family drops silently (buffers old checkpoints saved, e.g. GPT-2's
    # causal-mask "attn.bias"); None: only the shared IGNORED_CHECKPOINT_KEYS.
    _ignored_checkpoint_keys: str | None = None

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        if not isinstance(config, PretrainedConfig):
            raise TypeError(f"{type(self).__name__} needs a PretrainedConfig, got {type(config).__name__}.")
        self.config = config
        self.name_or_path = config._name_or_path  # peft saves it as the adapter's base_model_name_or_path

    # -- construction helpers used by the families ------------------------------------------------

    def post_init(self) -> None:
        """Initialise all weights (skipped on the meta device, where from_pretrained builds) and tie."""
        if not any(p.is_meta for p in self.parameters()):
            self.apply(self._init_weights)
        self.tie_weights()

    def _init_weights(self, module: nn.Module) -> None:
        layers.init_weights(module, getattr(self.config, "initializer_range", 0.02))

    # -- gradient checkpointing (see GradientCheckpointingLayer) -----------------------------------

    @property
    def supports_gradient_checkpointing(self) -> bool:
        return bool(checkpointable_blocks(self))

    @property
    def is_gradient_checkpointing(self) -> bool:
        return any(block.gradient_checkpointing for block in checkpointable_blocks(self))

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict | None = None) -> None:
        """Recompute each block's activations in the backward pass instead of keeping them (while training).

        ``gradient_checkpointing_kwargs`` go to ``torch.utils.checkpoint.checkpoint``; the default is
        ``{"use_reentrant": False}``. Decoders do not fill a KV cache while checkpointing in training.
        """
        blocks = checkpointable_blocks(self)
        if not blocks:
            raise ValueError(f"{type(self).__name__} has no transformer blocks to checkpoint.")
        options = dict(gradient_checkpointing_kwargs or {})
        unknown = set(options) - {"use_reentrant", "preserve_rng_state", "context_fn", "determinism_check", "debug"}
        if unknown:
            raise ValueError(
                f"Unknown gradient_checkpointing_kwargs {sorted(unknown)}; torch.utils.checkpoint.checkpoint "
                "takes use_reentrant, preserve_rng_state, context_fn, determinism_check and debug."
            )
        for block in blocks:
            block.gradient_checkpointing = True
            block.checkpoint_options = options
        if getattr(self, "peft_config", None):  # adapters (set by peft): only weights above the embeddings train
            self.enable_input_require_grads()

    def gradient_checkpointing_disable(self) -> None:
        for block in checkpointable_blocks(self):
            block.gradient_checkpointing = False

    def enable_input_require_grads(self) -> None:
        """Make the input embeddings' output require gradients even when the embeddings are frozen (adapters):
        reentrant checkpointing (``use_reentrant=True``) gives no gradients inside a block whose inputs need none,
        so the adapters would silently stay as they are. peft calls this when it wraps a checkpointing model."""

        def require_grads(module, inputs, output) -> None:
            output.requires_grad_(True)

        if getattr(self, "_input_require_grads_hook", None) is None:
            self._input_require_grads_hook = self.get_input_embeddings().register_forward_hook(require_grads)

    def disable_input_require_grads(self) -> None:
        if getattr(self, "_input_require_grads_hook", None) is not None:
            self._input_require_grads_hook.remove()
            self._input_require_grads_hook = None

    @property
    def base_model(self) -> nn.Module:
        """The bare model inside a task model (``model.bert``); the model itself when it is the bare one."""
        return getattr(self, self.base_model_prefix, self)

    def get_input_embeddings(self) -> nn.Module:
        base = self.base_model
        if base is self:
            raise NotImplementedError(f"{type(self).__name__} does not define get_input_embeddings")
        return base.get_input_embeddings()

    def tie_weights(self) -> None:
        for alias, source in self._active_ties().items():
            module_name, _, param_name = alias.rpartition(".")
            setattr(self.get_submodule(module_name), param_name, self.get_parameter(source))

    def _active_ties(self) -> dict[str, str]:
        """The ties that hold for this config: all of them with ``tie_word_embeddings``; else only those of modules
        that do not reuse the word embeddings (an untied LM head keeps its own weight and its own bias, as in the
        reference)."""
        if self.config.tie_word_embeddings or not self._tied_weights_keys:
            return dict(self._tied_weights_keys)
        input_embedding = self.get_input_embeddings().weight
        embedding_heads = {
            alias.rpartition(".")[0]
            for alias, source in self._tied_weights_keys.items()
            if self.get_parameter(source) is input_embedding
        }
        return {a: s for a, s in self._tied_weights_keys.items() if a.rpartition(".")[0] not in embedding_heads}

    # -- outputs ---------------------------------------------------------------------------------

    def format_output(self, out: ModelOutput, return_dict: bool | None):
        """``out`` itself, or its tuple when ``return_dict`` (else ``config.return_dict``) is False."""
        use_dict = self.config.return_dict if return_dict is None else return_dict
        return out if use_dict else out.to_tuple()

    def run_base(self, **inputs):
        """A task head's first step: run the bare model (``self.base_model``) on ``inputs``, outputs as a dict."""
        return self.base_model(**inputs, return_dict=True)

    def finish(self, output_class: type[ModelOutput], base_out: ModelOutput, return_dict: bool | None, **fields):
        """Wrap a task head's results with the bare model's hidden states and attentions."""
        out = output_class(hidden_states=base_out.hidden_states, attentions=base_out.attentions, **fields)
        return self.format_output(out, return_dict)

    def decoder_pass(
        self,
        num_layers: int,
        past_key_values,
        use_cache: bool | None,
        output_attentions: bool | None,
        output_hidden_states: bool | None,
    ) -> DecoderPass:
        """The start of a bare decoder's forward through its ``num_layers`` blocks (see ``DecoderPass``): the output
        flags a call leaves None read from the config, and the KV cache: ``past_key_values`` (a KVCache, or legacy
        tuples), a new one with ``use_cache``, none while checkpointed blocks train (``checkpointing_use_cache``)."""
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        use_cache = getattr(config, "use_cache", True) if use_cache is None else use_cache
        use_cache = checkpointing_use_cache(self, use_cache, past_key_values)
        cache = as_cache(past_key_values, num_layers, use_cache)
        return DecoderPass(cache, use_cache, output_attentions, output_hidden_states)

    # The two heads every decoder family has. Each family keeps its own forward (its signature mirrors the
    # reference's: the Trainer and generate() read it, and a misspelt keyword raises TypeError) and its run_base
    # call; what follows is the same in all of them.

    def causal_lm_output(
        self,
        base: ModelOutput,
        labels: torch.Tensor | None,
        logits_to_keep: int | torch.Tensor,
        return_dict: bool | None,
        logit_scale: float | None = None,
        soft_cap: float | None = None,
    ):
        """A causal LM's head after ``run_base``: the output embeddings (``lm_head``) on the kept positions
        (``logits_to_keep``: the last n, or these indices; 0 keeps all), multiplied by ``logit_scale`` where a
        family scales its logits (MPT), soft-capped to (-soft_cap, soft_cap) where a family caps them (Gemma 2:
        soft_cap * tanh(logits / soft_cap)), the next-token loss when there are ``labels``, and the bare model's
        cache, hidden states and attentions."""
        hidden = layers.keep_logits(base.last_hidden_state, logits_to_keep)  # (batch, kept, hidden)
        logits = self.get_output_embeddings()(hidden)  # (batch, kept, vocab)
        if logit_scale is not None:
            logits = logits * logit_scale
        if soft_cap is not None:
            logits = layers.soft_cap(logits, soft_cap)
        loss = layers.causal_lm_loss(logits, labels) if labels is not None else None
        return self.finish(
            CausalLMOutputWithPast, base, return_dict, loss=loss, logits=logits, past_key_values=base.past_key_values
        )

    def sequence_classification_output(
        self,
        base: ModelOutput,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        labels: torch.Tensor | None,
        return_dict: bool | None,
    ):
        """A decoder's sequence-classification head after ``run_base``: the linear ``self.score`` on each row's
        last real token (the last that is not ``config.pad_token_id``; without a pad id, one row at a time, as the
        reference), the loss ``labels`` call for (regression, single- or multi-label), and the bare model's cache,
        hidden states and attentions."""
        name = type(self).__name__
        last = layers.pool_last_token(base.last_hidden_state, input_ids, attention_mask, self.config.pad_token_id, name)
        logits = self.score(last)  # (batch, hidden) -> (batch, num_labels)
        loss = None
        if labels is not None:
            loss = layers.sequence_classification_loss(logits, labels.to(logits.device), self.config)
        return self.finish(
            SequenceClassifierOutputWithPast,
            base,
            return_dict,
            loss=loss,
            logits=logits,
            past_key_values=base.past_key_values,
        )

    def architecture_name(self) -> str:
        """The class name written to config.json's ``architectures``. Variants share classes (MarianMTModel is
        BartForConditionalGeneration reading a MarianConfig), so the name is the registry's for the config's
        ``model_type`` and this class's task: the class's own name unless the config is a variant's."""
        from .models.auto import MODEL_TYPES

        name = type(self).__name__
        family, variant = MODEL_TYPES.get(self.config_class.model_type), MODEL_TYPES.get(self.config.model_type)
        if family is None or variant is None:
            return name
        task = next((task for task, class_name in family.tasks.items() if class_name == name), None)
        return variant.tasks.get(task, name)

    # -- properties -------------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(p.dtype for p in self.parameters() if p.is_floating_point())

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        seen, total = set(), 0
        embeddings = {id(m.weight) for m in self.modules() if isinstance(m, nn.Embedding)}
        for p in self.parameters():  # parameters() already skips tied duplicates
            if (
                id(p) in seen
                or (only_trainable and not p.requires_grad)
                or (exclude_embeddings and id(p) in embeddings)
            ):
                continue
            seen.add(id(p))
            total += p.numel()
        return total

    @classmethod
    def from_config(cls, config: PretrainedConfig, *, torch_dtype: Any = None, dtype: Any = None) -> "PreTrainedModel":
        """A freshly initialised model (random weights) for ``config``."""
        target = _resolve_dtype(dtype if dtype is not None else torch_dtype, config, None)
        model = cls(config)
        return model.to(target)

    def prepare_inputs_for_generation(self, input_ids: torch.Tensor, **kwargs: Any) -> dict[str, Any]:
        """One generation step's model inputs, the reference's hook. peft's PeftModelForCausalLM keeps a reference
        to it (and swaps it in during its generate); workbench's generate() builds each step itself."""
        return {"input_ids": input_ids, **kwargs}

    # -- loading ----------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *model_args: Any,
        config: PretrainedConfig | None = None,
        torch_dtype: Any = None,
        dtype: Any = None,
        ignore_mismatched_sizes: bool = False,
        output_loading_info: bool = False,
        device_map: Any = None,
        adapter_name: str | None = None,
        quantization_config: Any = None,
        **kwargs: Any,
    ):
        """Load a checkpoint (local folder or Hub id) into this class.

        Keyword arguments that are not loading options override config keys (``num_labels=3``). A PEFT adapter
        (a folder or Hub id with adapter_config.json) loads the base model it names, then the adapter, frozen,
        under ``adapter_name`` ("default"). ``quantization_config=TorchAoConfig("int8_weight_only")`` quantizes
        the linear layers (quantization.py); a checkpoint saved quantized loads quantized from its config.json.
        """
        if model_args:
            raise TypeError("from_pretrained takes the checkpoint name and keyword arguments only.")
        name = os.fspath(pretrained_model_name_or_path)
        hub_kwargs = hub.pop_hub_kwargs(kwargs)
        adapter, base = name, adapter_base(name, hub_kwargs)
        name = base or name
        if isinstance(config, (str, os.PathLike)):  # a folder, a Hub id or a config.json file
            config = _config_for(cls, os.fspath(config), hub_kwargs, kwargs)
        elif config is None:
            config = _config_for(cls, name, hub_kwargs, kwargs)
        else:
            for key, value in kwargs.items():
                setattr(config, key, value)
        reader = CheckpointReader(name, hub_kwargs)
        keys = reader.keys()
        first_float = next((reader.dtype(k) for k in keys if reader.dtype(k).is_floating_point), None)
        target_dtype = _resolve_dtype(dtype if dtype is not None else torch_dtype, config, first_float)

        quantization_config, saved_quantized = quantization.resolve_config(quantization_config, config, keys, name)

        with torch.device("meta"):
            model = cls(config)
        model.name_or_path = name
        if saved_quantized:  # int8 weights on disk: empty int8 layers, filled by the checkpoint
            quantization.replace_linear_layers(model, quantization_config, on_meta=True)
        info = model._load_checkpoint(reader, target_dtype, ignore_mismatched_sizes, name)
        model.eval()
        if quantization_config is not None and not saved_quantized:
            quantization.quantize_(model, quantization_config)
        if base is not None:
            model.load_adapter(adapter, adapter_name, **hub_kwargs)
        if device_map not in (None, "cpu"):
            model.to(device_map if device_map != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
        return (model, info) if output_loading_info else model

    def _checkpoint_to_model_key(self, key: str, model_keys: set[str]) -> str:
        """Map one checkpoint key to this model's naming (prefix added/removed, legacy names)."""
        key = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key))
        prefix = self.base_model_prefix + "."
        if key in model_keys:
            return key
        if prefix + key in model_keys:
            return prefix + key  # a bare model's checkpoint loaded into a task model
        if key.startswith(prefix) and key[len(prefix) :] in model_keys:
            return key[len(prefix) :]  # a task model's checkpoint loaded into the bare model
        return key

    def _load_checkpoint(
        self, reader: CheckpointReader, dtype: torch.dtype, ignore_mismatched_sizes: bool, name: str
    ) -> dict:
        expected = dict(self.state_dict(keep_vars=True))
        tied_aliases = self._active_tie_aliases()
        state: dict[str, torch.Tensor] = {}
        unexpected, mismatched = [], []
        for ckpt_key in reader.keys():
            if IGNORED_CHECKPOINT_KEYS.search(ckpt_key) or (
                self._ignored_checkpoint_keys and re.search(self._ignored_checkpoint_keys, ckpt_key)
            ):
                continue
            key = self._checkpoint_to_model_key(ckpt_key, expected.keys())
            if key not in expected:
                unexpected.append(ckpt_key)
                continue
            want = tuple(expected[key].shape)
            have = reader.shape(ckpt_key)
            if have != want:
                if ignore_mismatched_sizes:
                    mismatched.append((key, have, want))
                    continue
                raise ValueError(
                    f"The checkpoint {name!r} has {ckpt_key} of shape {have}, but the model built from its "
                    f"config expects {want}. The config does not match the weights (e.g. a different "
                    "vocab_size, hidden_size or num_labels); fix config.json, or pass "
                    "ignore_mismatched_sizes=True to re-initialise such weights."
                )
            tensor = reader.tensor(ckpt_key)
            state[key] = tensor.to(dtype) if tensor.is_floating_point() else tensor
        missing = [k for k in expected if k not in state and k not in tied_aliases]

        self.load_state_dict(state, strict=False, assign=True)
        # What the checkpoint lacked (or had at the wrong size) is still on the meta device:
        # give it real memory and the family's initialisation. Zeros first: a tensor the family's
        # initialisation does not touch (a bare bias such as BERT's MLM-head bias) starts at zero,
        # as in the reference, never as uninitialised memory. The module's tensors that did load
        # (a weight whose bias was missing) are put back after the module-wide initialisation.
        for module in self.modules():
            own = list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False))
            if any(t.is_meta for _, t in own):
                loaded = {attr: t.detach() for attr, t in own if not t.is_meta}  # their data, before to_empty
                module.to_empty(device="cpu", recurse=False)
                with torch.no_grad():
                    for attr, _ in own:
                        getattr(module, attr).zero_()
                    self._init_weights(module)
                    for attr, tensor in loaded.items():
                        getattr(module, attr).copy_(tensor)
                module.to(dtype)
        self.tie_weights()
        still_meta = [n for n, p in self.named_parameters() if p.is_meta]
        if still_meta:
            raise RuntimeError(f"{type(self).__name__} left parameters uninitialised: {still_meta}")

        if missing or mismatched:
            newly = missing + [k for k, _, _ in mismatched]
            logger.warning(
                "Some weights of %s were not in the checkpoint %s and are newly initialised: %s. "
                "Train this model on a downstream task before using it for predictions.",
                type(self).__name__,
                name,
                newly,
            )
        if unexpected:
            logger.info(
                "Some weights of the checkpoint %s were not used by %s: %s (expected when the checkpoint "
                "was trained for another task or with another architecture).",
                name,
                type(self).__name__,
                unexpected,
            )
        return {"missing_keys": missing, "unexpected_keys": unexpected, "mismatched_keys": mismatched, "error_msgs": []}

    def _active_tie_aliases(self) -> set[str]:
        return set(self._active_ties())

    # -- saving -----------------------------------------------------------------------------------

    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        *,
        max_shard_size: int | str = "5GB",
        safe_serialization: bool = True,
        state_dict: dict[str, torch.Tensor] | None = None,
        **kwargs: Any,
    ) -> None:
        """Write config.json and model.safetensors (or shards plus an index) into ``save_directory``; a model with
        adapters (``add_adapter``, ``load_adapter``) writes its active adapter instead, in PEFT's format."""
        from safetensors.torch import save_file

        if not safe_serialization:
            raise ValueError("Only safetensors is written (safe_serialization=True); .bin files can carry code.")
        if kwargs.get("push_to_hub"):
            raise ValueError("push_to_hub is not done by save_pretrained here; use huggingface_hub.upload_folder.")
        save_directory = Path(save_directory)
        if save_directory.exists() and not save_directory.is_dir():
            raise NotADirectoryError(f"{save_directory} is a file; save_pretrained needs a folder.")
        save_directory.mkdir(parents=True, exist_ok=True)
        if self._hf_peft_config_loaded:
            return self._save_adapter(save_directory)
        if getattr(self, "peft_config", None):
            raise ValueError(
                f"This {type(self).__name__} holds the adapter layers of a peft.PeftModel, so its weights are not a "
                "checkpoint. Save the adapter with peft_model.save_pretrained(folder), or the merged model with "
                "peft_model.merge_and_unload().save_pretrained(folder)."
            )

        if state_dict is None:
            aliases = self._active_tie_aliases()
            state_dict = {k: v for k, v in self.state_dict().items() if k not in aliases}
        state_dict = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}

        shards = split_into_shards(state_dict, parse_size(max_shard_size))
        self.config.architectures = [self.architecture_name()]
        self.config.dtype = str(self.dtype).replace("torch.", "")

        staging = Path(tempfile.mkdtemp(dir=save_directory, prefix=".saving-"))
        try:
            written = []
            if len(shards) == 1:
                save_file(shards[0], staging / SAFE_WEIGHTS_NAME, metadata={"format": "pt"})
                written.append(SAFE_WEIGHTS_NAME)
            else:
                weight_map = {}
                for i, shard in enumerate(shards, start=1):
                    shard_name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
                    save_file(shard, staging / shard_name, metadata={"format": "pt"})
                    weight_map.update({k: shard_name for k in shard})
                    written.append(shard_name)
                total = sum(t.numel() * t.element_size() for t in state_dict.values())
                index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
                (staging / SAFE_WEIGHTS_INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n")
                written.append(SAFE_WEIGHTS_INDEX_NAME)
            (staging / "config.json").write_text(self.config.to_json_string())
            written.append("config.json")
            # Everything is on disk: now swap it in, and remove weight files of an older save.
            stale = {p.name for p in save_directory.glob("model*.safetensors*")} - set(written)
            for file_name in written:
                os.replace(staging / file_name, save_directory / file_name)
            for file_name in stale:
                (save_directory / file_name).unlink(missing_ok=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _config_for(cls: type[PreTrainedModel], name: str, hub_kwargs: dict, overrides: dict) -> PretrainedConfig:
    """The config of checkpoint ``name`` for model class ``cls``.

    A family's variants share model classes (XLM-RoBERTa runs on the RoBERTa classes), so the
    config class comes from the file's ``model_type`` when that type is a variant of ``cls``'s family.
    """
    from .configuration import load_config_dict
    from .models.auto import MODEL_TYPES, config_class_for

    config_dict = load_config_dict(name, **hub_kwargs)
    config_class = cls.config_class
    model_type = config_dict.get("model_type")
    if model_type in MODEL_TYPES and issubclass(config_class_for(model_type), cls.config_class):
        config_class = config_class_for(model_type)
    config = config_class.from_dict(config_dict, **overrides)
    config._name_or_path = name
    return config
