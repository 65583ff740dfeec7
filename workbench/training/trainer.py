"""Trainer: the training loop of Hugging Face Transformers.

    args = TrainingArguments("out", num_train_epochs=1, eval_strategy="epoch")
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val,
                      processing_class=tokenizer, compute_metrics=accuracy)
    trainer.train()               # or trainer.train(resume_from_checkpoint=True)
    trainer.evaluate()            # {"eval_loss": ..., "eval_accuracy": ..., ...}

The loop, per optimizer step (``gradient_accumulation_steps`` micro-batches)::

    on_step_begin -> forward + backward per micro-batch (on_substep_end between them)
    -> clip gradients -> on_pre_optimizer_step -> optimizer.step -> on_optimizer_step
    -> scheduler.step -> on_step_end -> log / evaluate / save (as TrainerControl says)

Callbacks steer the loop through ``TrainerControl`` flags, exactly as in the reference; the
default flow (when to log, evaluate and save) is itself a callback, ``DefaultFlowCallback``.

Checkpoints (``output_dir/checkpoint-N/``) hold the model (config.json + model.safetensors),
optimizer.pt, scheduler.pt, rng_state.pth and trainer_state.json, and are written into a hidden
folder that is renamed into place, so an interrupted save never leaves a half-written checkpoint.
Resuming restores all of it and skips the batches already seen: the data order of every epoch is
a pure function of (seed, epoch), and the RNG state at the save point is restored, so a run that
was stopped and resumed ends with the same weights, bit for bit (on CPU), as one that was not.

Distributed: run the same script under ``torchrun --nproc_per_node N``. The Trainer sees
``WORLD_SIZE``, joins the process group (gloo on CPU, nccl on GPU), wraps the model in
DistributedDataParallel and shards each epoch with a DistributedSampler; only rank 0 logs to the
screen and writes files. ``state.num_input_tokens_seen`` and ``total_flos`` count the tokens of all ranks.
Evaluation runs on the whole eval set on every rank (the same weights give the same numbers, so every rank
takes the same decisions, e.g. early stopping).

The parts it is built from live beside it: ``arguments.py`` (TrainingArguments), ``callbacks.py`` (state,
control, callbacks, progress displays), ``optimization.py`` (the optimizer, learning-rate schedules),
``samplers.py`` (the order of the examples, the DataLoaders) and ``trainer_utils.py`` (outputs, seeding,
checkpoint files, dataset checks, batch helpers).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..hub import atomic_write_text
from .arguments import TrainingArguments
from .callbacks import (
    CallbackHandler,
    DefaultFlowCallback,
    NotebookProgressCallback,
    PrinterCallback,
    ProgressCallback,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    _in_notebook,
)
from .data_collator import DataCollatorWithPadding, default_data_collator
from .optimization import create_optimizer, decay_parameter_names, get_scheduler
from .samplers import _example_lengths, epoch_dataloader
from .trainer_utils import (
    PREFIX_CHECKPOINT_DIR,
    TRAINER_STATE_NAME,
    TRAINING_ARGS_NAME,
    EvalLoopOutput,
    EvalPrediction,
    PredictionOutput,
    TrainOutput,
    _add_speed_metrics,
    _all_ranks_rng_states,
    _batch_size,
    _check_output_dir_writable,
    _flos_parameters,
    _is_hf_dataset,
    _join_process_group,
    _load_model_weights,
    _load_rng_state,
    _load_training_state,
    _nested_concat,
    _nested_numpy,
    _prepare_dataset,
    _RemoveColumnsCollator,
    _resolve_checkpoint,
    _rotate_checkpoints,
    _save_model_files,
    _save_training_state,
    _set_rng_state,
    _staged_folder,
    _sum_across_ranks,
    _to_python,
    get_last_checkpoint,
    set_seed,
)

logger = logging.getLogger(__name__)

# what a resumed run takes over from the checkpoint's trainer_state.json
_RESUMED_STATE_FIELDS = (
    "global_step",
    "epoch",
    "log_history",
    "best_metric",
    "best_global_step",
    "best_model_checkpoint",
    "total_flos",
    "num_input_tokens_seen",
)


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite; training was stopped."""


class Trainer:
    """Train, evaluate and predict with a PyTorch model the way the reference Trainer does."""

    def __init__(
        self,
        model: nn.Module | None = None,
        args: TrainingArguments | None = None,
        data_collator: Callable | None = None,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        processing_class: Any = None,
        model_init: Callable[[], nn.Module] | None = None,
        compute_loss_func: Callable | None = None,
        compute_metrics: Callable[[EvalPrediction], dict] | None = None,
        callbacks: list[TrainerCallback] | None = None,
        optimizers: tuple[Any, Any] = (None, None),
        optimizer_cls_and_kwargs: tuple[type, dict] | None = None,
        preprocess_logits_for_metrics: Callable | None = None,
        tokenizer: Any = None,
    ):
        if args is None:
            args = TrainingArguments()
        if not isinstance(args, TrainingArguments):
            raise TypeError(f"args must be a TrainingArguments, got {type(args).__name__}.")
        self.args = args
        set_seed(args.seed)
        if model is None and model_init is None:
            raise ValueError("Trainer needs a model (or a model_init function that builds one).")
        if model is not None and model_init is not None:
            raise ValueError("Pass model or model_init, not both.")
        self.model_init = model_init
        if model is None:
            model = model_init()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        if processing_class is None:
            processing_class = tokenizer
        self.processing_class = processing_class
        self.tokenizer = processing_class  # older name
        self.train_dataset = train_dataset
        self.eval_dataset = eval_dataset
        self.compute_metrics = compute_metrics
        self.compute_loss_func = compute_loss_func
        self.preprocess_logits_for_metrics = preprocess_logits_for_metrics
        if data_collator is None:
            pad_id = getattr(processing_class, "pad_token_id", None)
            data_collator = DataCollatorWithPadding(processing_class) if pad_id is not None else default_data_collator
        self.data_collator = data_collator
        self.optimizer, self.lr_scheduler = optimizers
        if optimizer_cls_and_kwargs is not None and self.optimizer is not None:
            raise ValueError("Pass optimizers=(optimizer, scheduler) or optimizer_cls_and_kwargs, not both.")
        self.optimizer_cls_and_kwargs = optimizer_cls_and_kwargs
        if self.optimizer is not None and self.lr_scheduler is not None and self.args.world_size > 1:
            logger.info("Using the optimizer and scheduler you passed.")

        # distributed setup (torchrun sets WORLD_SIZE, RANK, LOCAL_RANK)
        self.is_distributed = args.world_size > 1
        if self.is_distributed:
            _join_process_group(args)
        self.model = model.to(args.device)
        self.model_wrapped = self.model
        self._signature_columns = self._model_input_names(self.model)
        self.label_names = args.label_names if args.label_names is not None else self._default_label_names(self.model)

        callbacks = list(callbacks or [])
        defaults: list[Any] = [DefaultFlowCallback]
        replaces_progress = any(getattr(cb, "replaces_progress_display", False) for cb in callbacks)
        if not replaces_progress:
            if args.disable_tqdm:
                defaults.append(PrinterCallback)
            else:
                defaults.append(NotebookProgressCallback if _in_notebook() else ProgressCallback)
        self.callback_handler = CallbackHandler(
            defaults + callbacks, self.model, self.processing_class, self.optimizer, self.lr_scheduler
        )
        self.state = TrainerState(
            is_local_process_zero=args.local_process_index == 0, is_world_process_zero=args.process_index == 0
        )
        self.control = TrainerControl()
        self._total_loss_scalar = 0.0
        self._globalstep_last_logged = 0
        self.control = self.callback_handler.on_init_end(self.args, self.state, self.control)

    # -- callbacks --------------------------------------------------------------------------------

    def add_callback(self, callback) -> None:
        self.callback_handler.add_callback(callback)

    def pop_callback(self, callback):
        return self.callback_handler.pop_callback(callback)

    def remove_callback(self, callback) -> None:
        self.callback_handler.remove_callback(callback)

    def is_world_process_zero(self) -> bool:
        return self.args.process_index == 0

    def is_local_process_zero(self) -> bool:
        return self.args.local_process_index == 0

    # -- distributed ------------------------------------------------------------------------------

    def _barrier(self) -> None:
        if self.is_distributed:
            import torch.distributed as dist

            dist.barrier()

    def _wrap_model(self) -> nn.Module:
        if not self.is_distributed:
            return self.model
        from torch.nn.parallel import DistributedDataParallel

        if isinstance(self.model_wrapped, DistributedDataParallel):
            return self.model_wrapped
        device_ids = [self.args.device.index] if self.args.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=device_ids)

    def _mean_across_ranks(self, value: float) -> float:
        return _sum_across_ranks(value, self.args) / self.args.world_size

    # -- data -------------------------------------------------------------------------------------

    @staticmethod
    def _model_input_names(model: nn.Module) -> list[str]:
        params = inspect.signature(model.forward).parameters
        return [n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def _default_label_names(self, model: nn.Module) -> list[str]:
        names = self._signature_columns
        if "start_positions" in names and "end_positions" in names:
            return ["start_positions", "end_positions"]
        return [n for n in names if "label" in n] or ["labels"]

    def _columns_to_keep(self) -> set[str]:
        return set(self._signature_columns) | set(self.label_names) | {"label", "label_ids", "labels"}

    def _prepare_dataset(self, dataset: Any, description: str) -> Any:
        """Drop the columns of a datasets.Dataset that the model does not take; check that some remain."""
        model_inputs = [n for n in self._signature_columns if n not in self.label_names]
        return _prepare_dataset(
            dataset, description, self.model, model_inputs, self._columns_to_keep(), self.args.remove_unused_columns
        )

    def _collator_for(self, dataset: Any, description: str) -> Callable:
        collator = self.data_collator
        if self.args.remove_unused_columns and not _is_hf_dataset(dataset):
            collator = _RemoveColumnsCollator(collator, self._columns_to_keep(), description)
        return collator

    def _dataloader(self, dataset, description: str, training: bool, **epoch_and_order):
        batch_size = self.args.per_device_train_batch_size if training else self.args.per_device_eval_batch_size
        collate_fn = self._collator_for(dataset, description)
        return epoch_dataloader(dataset, batch_size, collate_fn, self.args, training=training, **epoch_and_order)

    def get_train_dataloader(self, epoch: int = 0, skip: int = 0):
        if self.train_dataset is None:
            raise ValueError("Trainer.train() needs a train_dataset.")
        if getattr(self, "_train_dataset_prepared", None) is None:
            self._train_dataset_prepared = self._prepare_dataset(self.train_dataset, "training dataset")
            grouped = self.args.train_sampling_strategy == "group_by_length"
            self._train_lengths = self._example_lengths(self.train_dataset) if grouped else None
        return self._dataloader(
            self._train_dataset_prepared,
            "training dataset",
            training=True,
            epoch=epoch,
            skip=skip,
            lengths=self._train_lengths,
        )

    def _example_lengths(self, dataset) -> list[int]:
        names = getattr(self.processing_class, "model_input_names", None) or ["input_ids"]
        return _example_lengths(dataset, self.args.length_column_name, names[0])

    def get_eval_dataloader(self, eval_dataset=None):
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if dataset is None:
            raise ValueError("Trainer.evaluate() needs an eval_dataset (pass it to Trainer or to evaluate).")
        dataset = self._prepare_dataset(dataset, "evaluation dataset")
        return self._dataloader(dataset, "evaluation dataset", training=False)

    def get_test_dataloader(self, test_dataset):
        return self._dataloader(self._prepare_dataset(test_dataset, "test dataset"), "test dataset", training=False)

    def _prepare_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(inputs, dict):
            raise TypeError(f"The data collator must return a dict of tensors, got {type(inputs).__name__}.")
        device = self.args.device
        return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}

    # -- optimizer and schedule ---------------------------------------------------------------------

    def get_decay_parameter_names(self, model: nn.Module) -> list[str]:
        """Parameters that get weight decay: all but biases and normalization weights."""
        return decay_parameter_names(model)

    def create_optimizer(self) -> torch.optim.Optimizer:
        if self.optimizer is None:
            decay = self.get_decay_parameter_names(self.model)
            self.optimizer = create_optimizer(self.model, self.args, decay, self.optimizer_cls_and_kwargs)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        if self.lr_scheduler is None:
            self._created_lr_scheduler = True
            self.lr_scheduler = get_scheduler(
                self.args.lr_scheduler_type,
                optimizer or self.optimizer,
                num_warmup_steps=self.args.get_warmup_steps(num_training_steps),
                num_training_steps=num_training_steps,
                scheduler_specific_kwargs=self.args.lr_scheduler_kwargs,
            )
        return self.lr_scheduler

    def create_optimizer_and_scheduler(self, num_training_steps: int) -> None:
        self.create_optimizer()
        self.create_scheduler(num_training_steps, self.optimizer)

    def _get_learning_rate(self) -> float:
        return float(self.lr_scheduler.get_last_lr()[0])

    # -- loss ---------------------------------------------------------------------------------------

    def _autocast(self):
        if self.args.bf16:
            return torch.autocast(device_type=self.args.device.type, dtype=torch.bfloat16)
        if self.args.fp16:
            return torch.autocast(device_type="cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The model's loss on ``inputs`` (or ``compute_loss_func(outputs, labels)`` when given)."""
        labels = None
        if self.compute_loss_func is not None and "labels" in inputs:
            inputs = dict(inputs)
            labels = inputs.pop("labels")
        with self._autocast():
            outputs = model(**inputs)
        if labels is not None:
            loss = self.compute_loss_func(outputs, labels, num_items_in_batch=num_items_in_batch)
        else:
            loss = (
                outputs.get("loss")
                if isinstance(outputs, dict)
                else (outputs[0] if isinstance(outputs, (tuple, list)) else None)
            )
            if loss is None:
                raise ValueError(
                    f"The model did not return a loss from the batch with keys {sorted(inputs)}. A model computes its "
                    f"loss only when the batch holds its labels ({self.label_names}): add a 'labels' (or 'label') "
                    "column to the dataset, or set TrainingArguments(label_names=[...]) to the name of yours."
                )
        if (
            self.args.label_smoothing_factor
            and labels is None
            and isinstance(outputs, dict)
            and "logits" in outputs
            and "labels" in inputs
        ):
            loss = nn.functional.cross_entropy(
                outputs["logits"].float().flatten(0, -2),
                inputs["labels"].flatten(),
                ignore_index=-100,
                label_smoothing=self.args.label_smoothing_factor,
            )
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model, inputs, num_items_in_batch=None) -> torch.Tensor:
        model.train()
        inputs = self._prepare_inputs(inputs)
        loss = self.compute_loss(model, inputs, num_items_in_batch=num_items_in_batch)
        return loss

    # -- training -----------------------------------------------------------------------------------

    def train(self, resume_from_checkpoint: str | bool | None = None, trial=None, ignore_keys_for_eval=None, **kwargs):
        """Train; returns TrainOutput(global_step, training_loss, metrics)."""
        if kwargs:
            raise TypeError(f"train() got unexpected keyword arguments {sorted(kwargs)}.")
        args = self.args
        if resume_from_checkpoint is None:
            resume_from_checkpoint = args.resume_from_checkpoint
        checkpoint = _resolve_checkpoint(resume_from_checkpoint, args.output_dir)
        if args.save_strategy != "no" or args.load_best_model_at_end:
            _check_output_dir_writable(args.output_dir)

        self._train_dataset_prepared = None  # prepare (drop columns, check) the dataset as it is now
        train_dataloader = self.get_train_dataloader()
        len_dataloader = len(train_dataloader)
        if len_dataloader == 0:
            raise ValueError(
                f"The training dataset ({len(self._train_dataset_prepared)} examples) gives no batch of "
                f"{args.per_device_train_batch_size} with dataloader_drop_last=True."
            )
        accum = args.gradient_accumulation_steps
        updates_per_epoch = max(1, math.ceil(len_dataloader / accum))
        if args.max_steps > 0:
            max_steps = args.max_steps
            num_train_epochs = math.ceil(max_steps / updates_per_epoch)
        else:
            max_steps = math.ceil(args.num_train_epochs * updates_per_epoch)
            num_train_epochs = math.ceil(args.num_train_epochs)

        self.state = TrainerState(
            is_local_process_zero=self.is_local_process_zero(), is_world_process_zero=self.is_world_process_zero()
        )
        self.state.max_steps = max_steps
        self.state.num_train_epochs = num_train_epochs
        self.state.train_batch_size = args.per_device_train_batch_size
        for name in ("logging_steps", "eval_steps", "save_steps"):
            value = getattr(args, name)
            if value is not None:
                setattr(self.state, name, math.ceil(max_steps * value) if value < 1 else int(value))

        if getattr(self, "_created_lr_scheduler", False):
            self.lr_scheduler = None  # a schedule we made last time was for that run's length: make a new one
            self._created_lr_scheduler = False
        self.create_optimizer_and_scheduler(max_steps)
        if args.gradient_checkpointing:
            if not hasattr(self.model, "gradient_checkpointing_enable"):
                raise ValueError(
                    f"gradient_checkpointing=True needs a workbench model; {type(self.model).__name__} "
                    "has no gradient_checkpointing_enable()."
                )
            self.model.gradient_checkpointing_enable(args.gradient_checkpointing_kwargs)
        model = self.model_wrapped = self._wrap_model()

        epochs_trained, steps_to_skip = 0, 0
        rng_to_restore = None
        if checkpoint is not None:
            self._load_from_checkpoint(checkpoint)
            saved = TrainerState.load_from_json(os.path.join(checkpoint, TRAINER_STATE_NAME))
            if saved.max_steps != max_steps:
                logger.warning("The checkpoint is of a %d-step run, this one has %d.", saved.max_steps, max_steps)
            for name in _RESUMED_STATE_FIELDS:
                setattr(self.state, name, getattr(saved, name))
            self._restore_callback_states(saved.stateful_callbacks)
            epochs_trained = self.state.global_step // updates_per_epoch
            steps_to_skip = (self.state.global_step % updates_per_epoch) * accum
            rng_to_restore = _load_rng_state(checkpoint, self.args.process_index if self.is_distributed else None)

        self.callback_handler.model = self.model
        self.callback_handler.optimizer = self.optimizer
        self.callback_handler.lr_scheduler = self.lr_scheduler
        self.callback_handler.train_dataloader = train_dataloader

        self._total_loss_scalar = 0.0
        self._globalstep_last_logged = self.state.global_step
        tr_loss = torch.zeros((), device=args.device)
        grad_norm: torch.Tensor | None = None
        flos_params = _flos_parameters(self.model)
        start_time = time.time()
        start_step = self.state.global_step
        self.control = self.callback_handler.on_train_begin(args, self.state, self.control)
        self.optimizer.zero_grad(set_to_none=True)
        self.model.zero_grad(set_to_none=True)

        for epoch in range(epochs_trained, num_train_epochs):
            skip = steps_to_skip if epoch == epochs_trained else 0
            loader = train_dataloader if (epoch == 0 and skip == 0) else self.get_train_dataloader(epoch, skip)
            self.callback_handler.train_dataloader = loader
            self.control = self.callback_handler.on_epoch_begin(args, self.state, self.control)
            iterator = iter(loader)
            if rng_to_restore is not None:
                _set_rng_state(rng_to_restore)
                rng_to_restore = None
            step = skip - 1  # index of the last micro-batch done in this epoch
            first_update = skip // accum
            for update in range(first_update, updates_per_epoch):
                group_size = min(accum, len_dataloader - update * accum)
                batches = [next(iterator) for _ in range(group_size)]
                self.control = self.callback_handler.on_step_begin(args, self.state, self.control)
                step_tokens = 0
                for i, inputs in enumerate(batches):
                    step += 1
                    sync = i == group_size - 1 or not self.is_distributed
                    context = contextlib.nullcontext() if sync else model.no_sync()
                    with context:
                        loss = self.training_step(model, inputs) / group_size
                        if not torch.isfinite(loss.detach()):
                            self._diverged(loss, epoch + (step + 1) / len_dataloader)
                        loss.backward()
                    tr_loss += loss.detach()
                    if "input_ids" in inputs and hasattr(inputs["input_ids"], "numel"):
                        step_tokens += inputs["input_ids"].numel()
                    if i < group_size - 1:
                        self.control = self.callback_handler.on_substep_end(args, self.state, self.control)
                self.state.num_input_tokens_seen += int(_sum_across_ranks(step_tokens, args))  # all ranks' tokens
                self.state.total_flos = float(6 * flos_params * self.state.num_input_tokens_seen)
                if args.max_grad_norm and args.max_grad_norm > 0:
                    # kept a tensor: reading it (a wait for the GPU) happens only when it is logged
                    grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), args.max_grad_norm)
                self.control = self.callback_handler.on_pre_optimizer_step(args, self.state, self.control)
                self.optimizer.step()
                self.control = self.callback_handler.on_optimizer_step(args, self.state, self.control)
                self.lr_scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.state.global_step += 1
                self.state.epoch = epoch + (step + 1) / len_dataloader
                self.control = self.callback_handler.on_step_end(args, self.state, self.control)
                tr_loss = self._maybe_log_save_evaluate(tr_loss, grad_norm, ignore_keys_for_eval)
                if self.control.should_epoch_stop or self.control.should_training_stop:
                    break
            self.control = self.callback_handler.on_epoch_end(args, self.state, self.control)
            tr_loss = self._maybe_log_save_evaluate(tr_loss, grad_norm, ignore_keys_for_eval)
            if self.control.should_training_stop:
                break

        if args.load_best_model_at_end and self.state.best_model_checkpoint is not None:
            self._barrier()
            self._load_from_checkpoint(self.state.best_model_checkpoint, weights_only=True)

        self._total_loss_scalar += self._mean_across_ranks(tr_loss.item())
        steps_done = max(self.state.global_step - start_step, 1)
        train_loss = self._total_loss_scalar / steps_done
        runtime = time.time() - start_time
        samples = steps_done * args.per_device_train_batch_size * accum * args.world_size
        metrics = {
            "train_runtime": round(runtime, 4),
            "train_samples_per_second": round(samples / runtime, 3),
            "train_steps_per_second": round(steps_done / runtime, 3),
            "total_flos": self.state.total_flos,
            "train_loss": train_loss,
        }
        self.log(metrics)
        _rotate_checkpoints(self.args, self.state.best_model_checkpoint)
        self.control = self.callback_handler.on_train_end(args, self.state, self.control)
        return TrainOutput(self.state.global_step, train_loss, metrics)

    def _diverged(self, loss: torch.Tensor, epoch: float) -> None:
        step = self.state.global_step + 1
        self.control.should_training_stop = True
        self.state.log_history.append({"loss": float(loss.item()), "epoch": epoch, "step": step})
        self.callback_handler.on_train_end(self.args, self.state, self.control)
        last = get_last_checkpoint(self.args.output_dir) if os.path.isdir(self.args.output_dir) else None
        raise TrainingDivergedError(
            f"The training loss became {loss.item()} at step {step} (epoch {epoch:.2f}), so training was stopped. "
            f"Lower the learning_rate (it is {self._get_learning_rate():.3g}), keep gradient clipping on "
            f"(max_grad_norm > 0), and check the inputs and labels for invalid values (NaN, out-of-range labels)."
            + (f" The last good checkpoint is {last}." if last else "")
        )

    def _maybe_log_save_evaluate(self, tr_loss: torch.Tensor, grad_norm, ignore_keys_for_eval):
        if self.control.should_log and self.state.global_step > self._globalstep_last_logged:
            tr_loss_scalar = self._mean_across_ranks(tr_loss.item())
            tr_loss = torch.zeros((), device=self.args.device)
            logs: dict[str, float] = {"loss": tr_loss_scalar / (self.state.global_step - self._globalstep_last_logged)}
            if grad_norm is not None:
                logs["grad_norm"] = grad_norm
            logs["learning_rate"] = self._get_learning_rate()
            self._total_loss_scalar += tr_loss_scalar
            self._globalstep_last_logged = self.state.global_step
            self.log(logs)
        if self.control.should_evaluate:
            metrics = self._evaluate_during_training(ignore_keys_for_eval)
            self._determine_best_metric(metrics)
        if self.control.should_save:
            self._save_checkpoint()
            self.control = self.callback_handler.on_save(self.args, self.state, self.control)
        return tr_loss

    def _evaluate_during_training(self, ignore_keys):
        if self.eval_dataset is None:
            raise ValueError(
                f"eval_strategy={self.args.eval_strategy!r} needs an eval_dataset; pass one to the Trainer."
            )
        return self.evaluate(self.eval_dataset, ignore_keys=ignore_keys)  # a dict: each set, as eval_<name>_...

    def _determine_best_metric(self, metrics: dict[str, float]) -> None:
        name = self.args.metric_for_best_model
        if name is None:
            return
        key = name if name.startswith("eval_") else f"eval_{name}"
        if key not in metrics:
            raise KeyError(
                f"metric_for_best_model={name!r}: the evaluation returned no {key!r}; it returned "
                f"{sorted(metrics)}. Use one of those (compute_metrics adds its keys with an 'eval_' prefix)."
            )
        value = metrics[key]
        better = (lambda a, b: a > b) if self.args.greater_is_better else (lambda a, b: a < b)
        if self.state.best_metric is None or better(value, self.state.best_metric):
            self.state.best_metric = value
            self.state.best_global_step = self.state.global_step

    # -- checkpoints ------------------------------------------------------------------------------

    def _save_checkpoint(self) -> str:
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        output_dir = Path(self.args.output_dir)
        final = output_dir / name
        rng_states = _all_ranks_rng_states(self.args.world_size)
        if self.args.should_save:
            if self.state.best_global_step == self.state.global_step:
                self.state.best_model_checkpoint = str(final)
            self.state.stateful_callbacks = {
                type(cb).__name__: cb.state()
                for cb in self.callback_handler.callbacks
                if callable(getattr(cb, "state", None))
            }
            self.state.stateful_callbacks["TrainerControl"] = dataclasses.asdict(self.control)
            output_dir.mkdir(parents=True, exist_ok=True)
            with _staged_folder(final) as staging:
                _save_model_files(self.model, self.processing_class, staging)
                if not self.args.save_only_model:
                    _save_training_state(staging, self.optimizer, self.lr_scheduler, rng_states)
                self.state.save_to_json(staging / TRAINER_STATE_NAME)
                (staging / TRAINING_ARGS_NAME).write_text(self.args.to_json_string(), encoding="utf-8")
            _rotate_checkpoints(self.args, self.state.best_model_checkpoint)
        elif self.state.best_global_step == self.state.global_step:
            self.state.best_model_checkpoint = str(final)
        self._barrier()
        return str(final)

    def _load_from_checkpoint(self, checkpoint: str, weights_only: bool = False) -> None:
        """Load the model weights (and, unless weights_only, optimizer and scheduler) of a checkpoint."""
        _load_model_weights(self.model, checkpoint)
        if not weights_only:
            _load_training_state(checkpoint, self.optimizer, self.lr_scheduler, self.args.device)

    def _restore_callback_states(self, saved: dict | None) -> None:
        if not saved:
            return
        for cb in self.callback_handler.callbacks:
            entry = saved.get(type(cb).__name__)
            if entry and callable(getattr(cb, "state", None)):
                for key, value in entry.get("attributes", {}).items():
                    setattr(cb, key, value)

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Save the model (config.json + model.safetensors) and the processing class, on rank 0 only.

        Under torchrun it waits for no other process (as in the reference), so it may be called on every rank
        or inside ``if trainer.is_world_process_zero():``.
        """
        if not self.args.should_save:
            return
        output_dir = Path(output_dir or self.args.output_dir)
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise PermissionError(f"Can't save the model to {str(output_dir)!r}: {e.strerror or e}.") from e
        _save_model_files(self.model, self.processing_class, output_dir)
        atomic_write_text(output_dir / TRAINING_ARGS_NAME, self.args.to_json_string())

    def save_state(self) -> None:
        self._write_json(TRAINER_STATE_NAME, dataclasses.asdict(self.state))

    def _write_json(self, name: str, value: dict) -> None:
        """``output_dir/name``, written (atomically) by rank 0 alone."""
        if self.args.should_save:
            Path(self.args.output_dir).mkdir(parents=True, exist_ok=True)
            atomic_write_text(Path(self.args.output_dir) / name, json.dumps(value, indent=2, sort_keys=True) + "\n")

    # -- logging ----------------------------------------------------------------------------------

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        for k, v in logs.items():
            logs[k] = _to_python(v)
        if self.state.epoch is not None:
            logs["epoch"] = self.state.epoch  # added to the caller's dict too, as the reference does
        self.state.log_history.append({**logs, "step": self.state.global_step})
        self.control = self.callback_handler.on_log(self.args, self.state, self.control, logs)

    def log_metrics(self, split: str, metrics: dict[str, float]) -> None:
        if not self.is_world_process_zero():
            return
        print(f"***** {split} metrics *****")
        width = max(len(k) for k in metrics) if metrics else 0
        for key in sorted(metrics):
            print(f"  {key:<{width}} = {metrics[key]}")

    def save_metrics(self, split: str, metrics: dict[str, float]) -> None:
        self._write_json(f"{split}_results.json", metrics)

    # -- evaluation and prediction ------------------------------------------------------------------

    def evaluate(self, eval_dataset=None, ignore_keys: list[str] | None = None, metric_key_prefix: str = "eval"):
        """Loss (and compute_metrics) on the eval set; logged, and returned as {"eval_loss": ...}."""
        if isinstance(eval_dataset, dict):
            metrics = {}
            for name, ds in eval_dataset.items():
                metrics.update(self.evaluate(ds, ignore_keys, f"{metric_key_prefix}_{name}"))
            return metrics
        dataloader = self.get_eval_dataloader(eval_dataset)
        self.callback_handler.eval_dataloader = dataloader
        start = time.time()
        output = self.evaluation_loop(
            dataloader, "Evaluation", ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix
        )
        _add_speed_metrics(output.metrics, metric_key_prefix, start, output.num_samples, len(dataloader))
        self.log(output.metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, output.metrics)
        return output.metrics

    def predict(self, test_dataset, ignore_keys: list[str] | None = None, metric_key_prefix: str = "test"):
        """Predictions (logits), label_ids (if the data has labels) and metrics, as numpy arrays."""
        dataloader = self.get_test_dataloader(test_dataset)
        start = time.time()
        output = self.evaluation_loop(
            dataloader,
            "Prediction",
            prediction_loss_only=False,
            ignore_keys=ignore_keys,
            metric_key_prefix=metric_key_prefix,
        )
        _add_speed_metrics(output.metrics, metric_key_prefix, start, output.num_samples, len(dataloader))
        self.control = self.callback_handler.on_predict(self.args, self.state, self.control, output.metrics)
        return PredictionOutput(output.predictions, output.label_ids, output.metrics)

    def evaluation_loop(
        self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"
    ) -> EvalLoopOutput:
        prediction_loss_only = self.args.prediction_loss_only if prediction_loss_only is None else prediction_loss_only
        model = self.model
        model.eval()
        preds, labels = [], []
        total_loss, num_samples, loss_samples = 0.0, 0, 0
        for inputs in dataloader:
            batch_size = _batch_size(inputs)
            loss, logits, batch_labels = self.prediction_step(model, inputs, prediction_loss_only, ignore_keys)
            num_samples += batch_size
            if loss is not None:
                total_loss += float(loss) * batch_size
                loss_samples += batch_size
            if logits is not None:
                if self.preprocess_logits_for_metrics is not None:
                    logits = self.preprocess_logits_for_metrics(logits, batch_labels)
                preds.append(_nested_numpy(logits))
            if batch_labels is not None:
                labels.append(_nested_numpy(batch_labels))
            self.control = self.callback_handler.on_prediction_step(self.args, self.state, self.control)
        all_preds = _nested_concat(preds) if preds else None
        all_labels = _nested_concat(labels) if labels else None
        metrics: dict[str, float] = {}
        if self.compute_metrics is not None and all_preds is not None and all_labels is not None:
            metrics = dict(self.compute_metrics(EvalPrediction(predictions=all_preds, label_ids=all_labels)) or {})
        if loss_samples:
            metrics["loss"] = total_loss / loss_samples
        metrics = {
            (k if k.startswith(f"{metric_key_prefix}_") else f"{metric_key_prefix}_{k}"): _to_python(v)
            for k, v in metrics.items()
        }
        return EvalLoopOutput(all_preds, all_labels, metrics, num_samples)

    def prediction_step(self, model, inputs, prediction_loss_only: bool, ignore_keys: list[str] | None = None):
        """(loss, logits, labels) for one batch, without gradients."""
        inputs = self._prepare_inputs(inputs)
        has_labels = bool(self.label_names) and all(inputs.get(n) is not None for n in self.label_names)
        labels = None
        if has_labels:
            labels = tuple(inputs[n] for n in self.label_names)
            labels = labels[0] if len(labels) == 1 else labels
        if ignore_keys is None:
            ignore_keys = list(getattr(getattr(model, "config", None), "keys_to_ignore_at_inference", []) or [])
        with torch.no_grad():
            if has_labels or self.compute_loss_func is not None and "labels" in inputs:
                loss, outputs = self.compute_loss(model, inputs, return_outputs=True)
                loss = loss.detach().float().mean()
            else:
                loss = None
                with self._autocast():
                    outputs = model(**inputs)
        if prediction_loss_only:
            return loss, None, None
        if isinstance(outputs, dict):
            logits = tuple(v for k, v in outputs.items() if k not in ignore_keys + ["loss"])
        else:
            logits = tuple(outputs[1:] if loss is not None else outputs)
        logits = logits[0] if len(logits) == 1 else (logits or None)
        return loss, logits, labels
