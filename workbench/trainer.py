"""Trainer: the training loop of Hugging Face Transformers, in one readable file.

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

``train_sampling_strategy="group_by_length"`` (or ``group_by_length=True``) orders each epoch so
that a batch holds examples of similar lengths (``length_grouped_indices``): with dynamic padding
a batch is then padded to about its own length, not to the longest of a random draw, which saves
the compute spent on padding. Off by default, as in the reference, since it changes the data order.

Distributed: run the same script under ``torchrun --nproc_per_node N``. The Trainer sees
``WORLD_SIZE``, joins the process group (gloo on CPU, nccl on GPU), wraps the model in
DistributedDataParallel and shards each epoch with a DistributedSampler; only rank 0 logs to the
screen and writes files. ``state.num_input_tokens_seen`` and ``total_flos`` count the tokens of all ranks. Evaluation runs on the whole eval set on every rank (the same weights
give the same numbers, so every rank takes the same decisions, e.g. early stopping).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import json
import logging
import math
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import torch
from torch import nn

from .data_collator import DataCollatorWithPadding, default_data_collator
from .hub import atomic_write_text

logger = logging.getLogger(__name__)

PREFIX_CHECKPOINT_DIR = "checkpoint"
TRAINER_STATE_NAME = "trainer_state.json"
TRAINING_ARGS_NAME = "training_args.json"
OPTIMIZER_NAME = "optimizer.pt"
SCHEDULER_NAME = "scheduler.pt"
WEIGHTS_NAME = "model.safetensors"
_CHECKPOINT_RE = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")

STRATEGIES = ("no", "steps", "epoch")
SAMPLING_STRATEGIES = ("random", "group_by_length")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup", "polynomial", "cosine_with_restarts")
OPTIMIZERS = ("adamw_torch", "adamw_torch_fused", "sgd")
SUPPORTED_REPORT_TO = ("none",)


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite; training was stopped."""


# ================================================================================================
# TrainingArguments
# ================================================================================================


@dataclass
class TrainingArguments:
    """Everything that configures a training run; the names and defaults are the reference's."""

    output_dir: str | None = None  # checkpoints and the final model go here (default "trainer_output")
    overwrite_output_dir: bool = False
    do_train: bool = False
    do_eval: bool = False
    do_predict: bool = False
    # -- how long -----------------------------------------------------------------------------
    num_train_epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides num_train_epochs
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    # -- optimizer and schedule -------------------------------------------------------------------
    learning_rate: float = 5e-5
    weight_decay: float = 0.0  # AdamW decay; never applied to biases and LayerNorm weights
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    optim: str = "adamw_torch_fused"  # the reference's default on torch >= 2.8; "adamw_torch" is the for-each one
    max_grad_norm: float = 1.0  # gradient clipping; 0 disables it
    lr_scheduler_type: str = "linear"
    lr_scheduler_kwargs: dict | None = None
    warmup_steps: float = 0  # >= 1: a number of steps; < 1: a fraction of the training steps
    warmup_ratio: float | None = None  # older spelling of a fractional warmup_steps
    label_smoothing_factor: float = 0.0
    # -- logging, evaluation, saving -----------------------------------------------------------
    logging_strategy: str = "steps"
    logging_steps: float = 500  # < 1: a fraction of the training steps
    logging_first_step: bool = False
    logging_dir: str | None = None
    eval_strategy: str = "no"
    eval_steps: float | None = None  # default: logging_steps
    eval_delay: float = 0
    prediction_loss_only: bool = False
    save_strategy: str = "steps"
    save_steps: float = 500
    save_total_limit: int | None = None
    save_only_model: bool = False
    load_best_model_at_end: bool = False
    metric_for_best_model: str | None = None
    greater_is_better: bool | None = None
    report_to: str | list[str] | None = "none"
    run_name: str | None = None
    disable_tqdm: bool | None = None
    # -- reproducibility and hardware --------------------------------------------------------------
    seed: int = 42
    data_seed: int | None = None  # seed of the data order; default: seed
    bf16: bool = False  # bfloat16 autocast (works on CPU)
    fp16: bool = False  # float16 autocast, CUDA only
    gradient_checkpointing: bool = False  # recompute activations in the backward pass: less memory, more compute
    gradient_checkpointing_kwargs: dict | None = None  # for torch.utils.checkpoint, e.g. {"use_reentrant": False}
    use_cpu: bool = False
    dataloader_num_workers: int = 0
    dataloader_drop_last: bool = False
    dataloader_pin_memory: bool = True
    train_sampling_strategy: str = "random"  # "group_by_length": batches of similar lengths, so less padding
    length_column_name: str = "length"  # a dataset column of precomputed lengths (else len(input_ids) is used)
    group_by_length: bool = False  # older spelling of train_sampling_strategy="group_by_length"
    remove_unused_columns: bool = True
    label_names: list[str] | None = None
    include_for_metrics: list[str] = field(default_factory=list)
    resume_from_checkpoint: str | None = None
    ddp_backend: str | None = None  # default: nccl on GPU, gloo on CPU
    push_to_hub: bool = False
    # older name of eval_strategy, accepted as the reference accepted it
    evaluation_strategy: str | None = None

    def __post_init__(self) -> None:
        if self.output_dir is None:
            self.output_dir = "trainer_output"
        self.output_dir = os.fspath(self.output_dir)
        if self.evaluation_strategy is not None:
            self.eval_strategy = self.evaluation_strategy
            self.evaluation_strategy = None
        for name in ("eval_strategy", "save_strategy", "logging_strategy"):
            value = getattr(self, name)
            value = getattr(value, "value", value)  # enum members
            if value not in STRATEGIES:
                raise ValueError(f"{name}={value!r} is not one of {STRATEGIES}.")
            setattr(self, name, value)
        if self.eval_strategy == "steps" and not self.eval_steps:
            if self.logging_steps <= 0:
                raise ValueError(f"eval_strategy='steps' needs eval_steps (or logging_steps) > 0.")
            self.eval_steps = self.logging_steps
        scheduler = getattr(self.lr_scheduler_type, "value", self.lr_scheduler_type)
        if scheduler not in SCHEDULERS:
            raise ValueError(f"lr_scheduler_type={scheduler!r} is not one of {SCHEDULERS}.")
        self.lr_scheduler_type = scheduler
        if self.optim not in OPTIMIZERS:
            raise ValueError(f"optim={self.optim!r} is not supported; use one of {OPTIMIZERS}.")
        for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}.")
        if self.learning_rate < 0:
            raise ValueError(f"learning_rate must be >= 0, got {self.learning_rate}.")
        if self.max_steps <= 0 and self.num_train_epochs <= 0:
            raise ValueError("Set num_train_epochs > 0 or max_steps > 0: there is nothing to train otherwise.")
        if self.warmup_ratio is not None:
            if not 0 <= self.warmup_ratio < 1:
                raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}.")
            self.warmup_steps = self.warmup_ratio
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}.")
        if self.save_total_limit is not None and self.save_total_limit < 1:
            raise ValueError(f"save_total_limit must be >= 1 or None, got {self.save_total_limit}.")
        if self.load_best_model_at_end:
            if self.save_strategy == "no" or self.eval_strategy == "no":
                raise ValueError(
                    "load_best_model_at_end=True needs checkpoints to choose from: set eval_strategy and "
                    f"save_strategy (now {self.eval_strategy!r} and {self.save_strategy!r}) to 'steps' or 'epoch'."
                )
            if self.save_strategy != self.eval_strategy:
                raise ValueError(
                    "load_best_model_at_end=True needs save_strategy and eval_strategy to match, got "
                    f"save_strategy={self.save_strategy!r} and eval_strategy={self.eval_strategy!r}."
                )
            if self.save_strategy == "steps" and self.save_steps % self.eval_steps != 0:
                raise ValueError(
                    f"load_best_model_at_end=True needs save_steps ({self.save_steps}) to be a multiple of "
                    f"eval_steps ({self.eval_steps}), so that every checkpoint has been evaluated."
                )
            if self.metric_for_best_model is None:
                self.metric_for_best_model = "loss"
        if self.metric_for_best_model is not None and self.greater_is_better is None:
            self.greater_is_better = not self.metric_for_best_model.endswith("loss")
        if self.fp16 and not torch.cuda.is_available():
            raise ValueError("fp16=True needs a CUDA GPU; on a CPU use bf16=True (bfloat16 autocast) or neither.")
        if self.bf16 and self.fp16:
            raise ValueError("Choose one of bf16=True and fp16=True.")
        report_to = self.report_to
        if report_to is None or report_to == "all":
            report_to = "none"
        report_to = [report_to] if isinstance(report_to, str) else list(report_to)
        unsupported = [r for r in report_to if r not in SUPPORTED_REPORT_TO]
        if unsupported:
            raise ValueError(
                f"report_to={unsupported} is not supported: workbench works offline and logs to "
                "trainer.state.log_history, the progress display and callbacks (see TrainingMonitor). "
                "Use report_to='none'."
            )
        self.report_to = [] if report_to == ["none"] else report_to
        if self.push_to_hub:
            raise ValueError("push_to_hub=True is not supported; save with trainer.save_model() and upload "
                             "the folder with huggingface_hub.upload_folder.")
        if self.group_by_length:
            self.train_sampling_strategy = "group_by_length"
        if self.train_sampling_strategy not in SAMPLING_STRATEGIES:
            raise ValueError(f"train_sampling_strategy={self.train_sampling_strategy!r} is not one of "
                             f"{SAMPLING_STRATEGIES}.")
        self.group_by_length = self.train_sampling_strategy == "group_by_length"
        if self.dataloader_num_workers < 0:
            raise ValueError("dataloader_num_workers must be >= 0.")
        if self.label_names is not None and isinstance(self.label_names, str):
            self.label_names = [self.label_names]

    # -- derived values, as in the reference ----------------------------------------------------

    @property
    def world_size(self) -> int:
        return int(os.environ.get("WORLD_SIZE", "1"))

    @property
    def process_index(self) -> int:
        return int(os.environ.get("RANK", "0"))

    @property
    def local_process_index(self) -> int:
        return int(os.environ.get("LOCAL_RANK", "0"))

    @property
    def local_rank(self) -> int:
        return self.local_process_index if self.world_size > 1 else -1

    @property
    def should_save(self) -> bool:
        return self.process_index == 0

    @property
    def should_log(self) -> bool:
        return self.process_index == 0

    @property
    def device(self) -> torch.device:
        if torch.cuda.is_available() and not self.use_cpu:
            return torch.device("cuda", self.local_process_index if self.world_size > 1 else 0)
        return torch.device("cpu")

    @property
    def n_gpu(self) -> int:
        return 1 if self.device.type == "cuda" else 0

    @property
    def train_batch_size(self) -> int:
        return self.per_device_train_batch_size

    @property
    def eval_batch_size(self) -> int:
        return self.per_device_eval_batch_size

    def get_warmup_steps(self, num_training_steps: int) -> int:
        if self.warmup_steps >= 1:
            return int(self.warmup_steps)
        return math.ceil(num_training_steps * self.warmup_steps)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "evaluation_strategy"}

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str) + "\n"

    def __repr__(self) -> str:
        body = ",\n".join(f"  {k}={v!r}" for k, v in self.to_dict().items())
        return f"TrainingArguments(\n{body}\n)"


# ================================================================================================
# State, control, callbacks
# ================================================================================================


@dataclass
class TrainerState:
    """What the Trainer knows about the run; saved as trainer_state.json in every checkpoint."""

    epoch: float = 0
    global_step: int = 0
    max_steps: int = 0
    logging_steps: int = 500
    eval_steps: int = 500
    save_steps: int = 500
    train_batch_size: int | None = None
    num_train_epochs: int = 0
    num_input_tokens_seen: int = 0
    total_flos: float = 0
    log_history: list[dict[str, float]] = field(default_factory=list)
    best_metric: float | None = None
    best_global_step: int | None = None
    best_model_checkpoint: str | None = None
    is_local_process_zero: bool = True
    is_world_process_zero: bool = True
    is_hyper_param_search: bool = False
    trial_name: str | None = None
    trial_params: dict | None = None
    stateful_callbacks: dict | None = None

    def save_to_json(self, json_path: str | os.PathLike) -> None:
        text = json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"
        with open(json_path, "w", encoding="utf-8") as f:
            f.write(text)

    @classmethod
    def load_from_json(cls, json_path: str | os.PathLike) -> "TrainerState":
        with open(json_path, encoding="utf-8") as f:
            data = json.load(f)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class TrainerControl:
    """Flags that callbacks set to steer the loop (all reset by the Trainer after it acts)."""

    should_training_stop: bool = False
    should_epoch_stop: bool = False
    should_save: bool = False
    should_evaluate: bool = False
    should_log: bool = False

    def _new_training(self):
        self.should_training_stop = False

    def _new_epoch(self):
        self.should_epoch_stop = False

    def _new_step(self):
        self.should_save = False
        self.should_evaluate = False
        self.should_log = False


CALLBACK_EVENTS = (
    "on_init_end", "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_step_begin",
    "on_pre_optimizer_step", "on_optimizer_step", "on_substep_end", "on_step_end", "on_evaluate",
    "on_predict", "on_save", "on_log", "on_prediction_step",
)


class TrainerCallback:
    """Base class: override the events you need. Each gets ``(args, state, control, **kwargs)``
    where kwargs hold model, processing_class, optimizer, lr_scheduler, train_dataloader,
    eval_dataloader, and for some events metrics or logs. Return nothing, or a TrainerControl."""

    def on_init_end(self, args, state, control, **kwargs): pass
    def on_train_begin(self, args, state, control, **kwargs): pass
    def on_train_end(self, args, state, control, **kwargs): pass
    def on_epoch_begin(self, args, state, control, **kwargs): pass
    def on_epoch_end(self, args, state, control, **kwargs): pass
    def on_step_begin(self, args, state, control, **kwargs): pass
    def on_pre_optimizer_step(self, args, state, control, **kwargs): pass
    def on_optimizer_step(self, args, state, control, **kwargs): pass
    def on_substep_end(self, args, state, control, **kwargs): pass
    def on_step_end(self, args, state, control, **kwargs): pass
    def on_evaluate(self, args, state, control, **kwargs): pass
    def on_predict(self, args, state, control, metrics, **kwargs): pass
    def on_save(self, args, state, control, **kwargs): pass
    def on_log(self, args, state, control, **kwargs): pass
    def on_prediction_step(self, args, state, control, **kwargs): pass


class CallbackHandler(TrainerCallback):
    """Calls every callback, in order, for each event."""

    def __init__(self, callbacks, model, processing_class, optimizer, lr_scheduler):
        self.callbacks: list[TrainerCallback] = []
        for cb in callbacks:
            self.add_callback(cb)
        self.model = model
        self.processing_class = processing_class
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.train_dataloader = None
        self.eval_dataloader = None

    def add_callback(self, callback) -> None:
        cb = callback() if isinstance(callback, type) else callback
        if not isinstance(cb, TrainerCallback) and not any(hasattr(cb, e) for e in CALLBACK_EVENTS):
            raise TypeError(f"{cb!r} is not a TrainerCallback (it has none of the events {CALLBACK_EVENTS[:4]}...).")
        cb_class = type(cb)
        if any(type(c) is cb_class for c in self.callbacks) and cb_class in (DefaultFlowCallback, ProgressCallback,
                                                                             NotebookProgressCallback, PrinterCallback):
            logger.warning("You are adding a %s to the callbacks, but there already is one.", cb_class.__name__)
        self.callbacks.append(cb)

    def pop_callback(self, callback):
        for cb in self.callbacks:
            if (isinstance(callback, type) and type(cb) is callback) or cb is callback:
                self.callbacks.remove(cb)
                return cb
        return None

    def remove_callback(self, callback) -> None:
        self.pop_callback(callback)

    @property
    def callback_list(self) -> str:
        return "\n".join(type(cb).__name__ for cb in self.callbacks)

    def on_init_end(self, args, state, control):
        return self.call_event("on_init_end", args, state, control)

    def on_train_begin(self, args, state, control):
        control.should_training_stop = False
        return self.call_event("on_train_begin", args, state, control)

    def on_train_end(self, args, state, control):
        return self.call_event("on_train_end", args, state, control)

    def on_epoch_begin(self, args, state, control):
        control.should_epoch_stop = False
        return self.call_event("on_epoch_begin", args, state, control)

    def on_epoch_end(self, args, state, control):
        return self.call_event("on_epoch_end", args, state, control)

    def on_step_begin(self, args, state, control):
        control.should_log = False
        control.should_evaluate = False
        control.should_save = False
        return self.call_event("on_step_begin", args, state, control)

    def on_pre_optimizer_step(self, args, state, control):
        return self.call_event("on_pre_optimizer_step", args, state, control)

    def on_optimizer_step(self, args, state, control):
        return self.call_event("on_optimizer_step", args, state, control)

    def on_substep_end(self, args, state, control):
        return self.call_event("on_substep_end", args, state, control)

    def on_step_end(self, args, state, control):
        return self.call_event("on_step_end", args, state, control)

    def on_evaluate(self, args, state, control, metrics):
        control.should_evaluate = False
        return self.call_event("on_evaluate", args, state, control, metrics=metrics)

    def on_predict(self, args, state, control, metrics):
        return self.call_event("on_predict", args, state, control, metrics=metrics)

    def on_save(self, args, state, control):
        control.should_save = False
        return self.call_event("on_save", args, state, control)

    def on_log(self, args, state, control, logs):
        control.should_log = False
        return self.call_event("on_log", args, state, control, logs=logs)

    def on_prediction_step(self, args, state, control):
        return self.call_event("on_prediction_step", args, state, control)

    def call_event(self, event, args, state, control, **kwargs):
        for callback in self.callbacks:
            method = getattr(callback, event, None)
            if method is None:
                continue
            result = method(
                args, state, control,
                model=self.model, processing_class=self.processing_class, optimizer=self.optimizer,
                lr_scheduler=self.lr_scheduler, train_dataloader=self.train_dataloader,
                eval_dataloader=self.eval_dataloader, **kwargs,
            )
            if result is not None:
                control = result
        return control


class DefaultFlowCallback(TrainerCallback):
    """Decides when to log, evaluate and save from the TrainingArguments' strategies."""

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if step == 1 and args.logging_first_step:
            control.should_log = True
        if args.logging_strategy == "steps" and state.logging_steps > 0 and step % state.logging_steps == 0:
            control.should_log = True
        if (args.eval_strategy == "steps" and state.eval_steps > 0 and step % state.eval_steps == 0
                and args.eval_delay <= step):
            control.should_evaluate = True
        if args.save_strategy == "steps" and state.save_steps > 0 and step % state.save_steps == 0:
            control.should_save = True
        if step >= state.max_steps:
            control.should_training_stop = True
            if args.save_strategy == "steps":
                control.should_save = True
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        if args.logging_strategy == "epoch":
            control.should_log = True
        if args.eval_strategy == "epoch" and args.eval_delay <= state.epoch:
            control.should_evaluate = True
        if args.save_strategy == "epoch":
            control.should_save = True
        return control


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (where HTML and widgets display), False in a terminal."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:  # noqa: BLE001
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _format_logs(logs: dict[str, Any]) -> str:
    parts = []
    for k, v in logs.items():
        if isinstance(v, float):
            v = f"{v:.4g}" if k != "epoch" else f"{v:.2f}"
        parts.append(f"{k}={v}")
    return " ".join(parts)


class ProgressCallback(TrainerCallback):
    """A tqdm progress bar in a terminal, with each log printed under it."""

    def __init__(self):
        self.bar = None
        self.current = 0

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            try:
                from tqdm.std import tqdm
            except ImportError:  # pragma: no cover
                tqdm = None
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, dynamic_ncols=True,
                            desc="train", file=sys.stderr) if tqdm else None
            self.current = state.global_step

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.current)
            self.current = state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            line = _format_logs(logs)
            self.bar.write(line) if self.bar is not None else print(line)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class NotebookProgressCallback(TrainerCallback):
    """An HTML progress bar and a table of logs, updated in place in a notebook cell.

    It is plain HTML (not a widget), so a saved notebook shows the final state.
    """

    def __init__(self):
        self.handle = None
        self.rows: list[dict[str, Any]] = []
        self.start = None
        self.last_update = 0.0

    def _html(self, state) -> str:
        done, total = state.global_step, max(state.max_steps, 1)
        elapsed = time.time() - (self.start or time.time())
        eta = elapsed / max(done - self.first_step, 1) * (total - done) if done > self.first_step else float("nan")
        head = (f"<progress value='{done}' max='{total}' style='width:300px'></progress> "
                f"[{done}/{total} {_hms(elapsed)} &lt; {_hms(eta)}, epoch {state.epoch:.2f}/{state.num_train_epochs}]")
        if not self.rows:
            return f"<div>{head}</div>"
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        header = "".join(f"<th>{c}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{_cell(row.get(c, ''))}</td>" for c in columns) + "</tr>" for row in self.rows
        )
        return f"<div>{head}<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table></div>"

    def _update(self, state, force=False):
        if self.handle is None:
            return
        now = time.time()
        if force or now - self.last_update > 0.5:
            from IPython.display import HTML

            self.handle.update(HTML(self._html(state)))
            self.last_update = now

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            from IPython.display import HTML, display

            self.start, self.first_step, self.rows = time.time(), state.global_step, []
            self.handle = display(HTML(self._html(state)), display_id=True)

    def on_step_end(self, args, state, control, **kwargs):
        self._update(state)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and self.handle is not None:
            row = {"step": state.global_step}
            row.update({k: v for k, v in logs.items() if not k.endswith(("_runtime", "_per_second"))})
            self.rows.append(row)
            self._update(state, force=True)

    def on_train_end(self, args, state, control, **kwargs):
        self._update(state, force=True)
        self.handle = None


class PrinterCallback(TrainerCallback):
    """Prints the logs (used when the progress bar is disabled)."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            print(_format_logs(logs))


def _hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60:02d}:{seconds % 60:02d}"


def _cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


class EarlyStoppingCallback(TrainerCallback):
    """Stops training when ``metric_for_best_model`` has not improved for ``early_stopping_patience``
    evaluations (by more than ``early_stopping_threshold``)."""

    def __init__(self, early_stopping_patience: int = 1, early_stopping_threshold: float | None = 0.0):
        self.early_stopping_patience = early_stopping_patience
        self.early_stopping_threshold = early_stopping_threshold or 0.0
        self.early_stopping_patience_counter = 0

    def check_metric_value(self, args, state, control, metric_value):
        better = (lambda a, b: a > b) if args.greater_is_better else (lambda a, b: a < b)
        if state.best_metric is None or (
            better(metric_value, state.best_metric) and abs(metric_value - state.best_metric) > self.early_stopping_threshold
        ):
            self.early_stopping_patience_counter = 0
        else:
            self.early_stopping_patience_counter += 1

    def on_train_begin(self, args, state, control, **kwargs):
        if args.metric_for_best_model is None:
            raise ValueError("EarlyStoppingCallback needs TrainingArguments(metric_for_best_model=...), e.g. 'eval_loss'.")
        if args.eval_strategy == "no":
            raise ValueError("EarlyStoppingCallback needs evaluations: set eval_strategy='steps' or 'epoch'.")
        if not args.load_best_model_at_end:
            logger.warning("EarlyStoppingCallback without load_best_model_at_end=True: the model at the end is the "
                           "last one, not the best one.")

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        name = args.metric_for_best_model
        if not name.startswith("eval_"):
            name = f"eval_{name}"
        value = (metrics or {}).get(name)
        if value is None:
            logger.warning("Early stopping needs the metric %s, which the evaluation did not return (it returned %s); "
                           "early stopping is disabled.", name, sorted(metrics or {}))
            return
        self.check_metric_value(args, state, control, value)
        if self.early_stopping_patience_counter >= self.early_stopping_patience:
            control.should_training_stop = True

    def state(self) -> dict:
        return {
            "args": {"early_stopping_patience": self.early_stopping_patience,
                     "early_stopping_threshold": self.early_stopping_threshold},
            "attributes": {"early_stopping_patience_counter": self.early_stopping_patience_counter},
        }


# ================================================================================================
# Learning-rate schedules (the reference's formulas, as LambdaLR multipliers)
# ================================================================================================


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


def get_scheduler(name: str, optimizer: torch.optim.Optimizer, num_warmup_steps: int = 0,
                  num_training_steps: int | None = None, scheduler_specific_kwargs: dict | None = None):
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
            fn = functools.partial(target, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps,
                                   num_cycles=kwargs.get("num_cycles", 0.5 if name == "cosine" else 1))
        elif name == "polynomial":
            lr_init = optimizer.defaults["lr"]
            lr_end = kwargs.get("lr_end", 1e-7)
            if lr_end > lr_init:
                raise ValueError(f"polynomial schedule: lr_end ({lr_end}) must be smaller than the learning rate ({lr_init}).")
            fn = functools.partial(_polynomial, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps,
                                   lr_end=lr_end, power=kwargs.get("power", 1.0), lr_init=lr_init)
        else:
            raise ValueError(f"Unknown lr_scheduler_type {name!r}; use one of {SCHEDULERS}.")
    return LambdaLR(optimizer, fn)


# ================================================================================================
# Small helpers
# ================================================================================================


class EvalPrediction:
    """What compute_metrics receives: ``predictions`` (logits) and ``label_ids``, as numpy arrays.
    Unpacks like a tuple: ``logits, labels = eval_pred``."""

    def __init__(self, predictions, label_ids, inputs=None, losses=None):
        self.predictions = predictions
        self.label_ids = label_ids
        self.inputs = inputs
        self.losses = losses
        self.elements = (predictions, label_ids) + tuple(x for x in (inputs, losses) if x is not None)

    def __iter__(self):
        return iter(self.elements)

    def __getitem__(self, index):
        return self.elements[index]

    def __len__(self):
        return len(self.elements)


class TrainOutput(NamedTuple):
    global_step: int
    training_loss: float
    metrics: dict[str, float]


class PredictionOutput(NamedTuple):
    predictions: Any
    label_ids: Any
    metrics: dict[str, float] | None


class EvalLoopOutput(NamedTuple):
    predictions: Any
    label_ids: Any
    metrics: dict[str, float] | None
    num_samples: int


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def get_last_checkpoint(folder: str | os.PathLike) -> str | None:
    """The ``checkpoint-N`` folder with the largest N inside ``folder`` (None if there is none)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := _CHECKPOINT_RE.match(p.name))
             and (p / TRAINER_STATE_NAME).is_file()]
    return str(max(found)[1]) if found else None


def _sorted_checkpoints(folder: str | os.PathLike) -> list[str]:
    folder = Path(folder)
    found = [(int(m.group(1)), str(p)) for p in folder.iterdir() if p.is_dir() and (m := _CHECKPOINT_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def _rng_state() -> dict[str, Any]:
    numpy_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [numpy_state[0], torch.from_numpy(numpy_state[1].copy()), int(numpy_state[2]), int(numpy_state[3]),
                  float(numpy_state[4])],
        "cpu": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    python_state = state["python"]
    random.setstate((python_state[0], tuple(python_state[1]), python_state[2]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy(), pos, has_gauss, cached))
    torch.set_rng_state(state["cpu"])
    if torch.cuda.is_available() and "cuda" in state:
        with contextlib.suppress(Exception):
            torch.cuda.set_rng_state_all(state["cuda"])


def _tensors_to_bytes(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return ("__tensor__", str(value.dtype).replace("torch.", ""), value.cpu().contiguous().numpy().tobytes())
    if isinstance(value, dict):
        return {k: _tensors_to_bytes(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_tensors_to_bytes(v) for v in value)
    return value


def _bytes_to_tensors(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "__tensor__":
        return torch.frombuffer(bytearray(value[2]), dtype=getattr(torch, value[1])).clone()
    if isinstance(value, dict):
        return {k: _bytes_to_tensors(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_bytes_to_tensors(v) for v in value)
    return value


def _to_python(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return value


def _is_hf_dataset(dataset: Any) -> bool:
    return hasattr(dataset, "column_names") and hasattr(dataset, "remove_columns") and hasattr(dataset, "features")


def _pad_and_concat(arrays: list[np.ndarray], padding_index: int = -100) -> np.ndarray:
    """Concatenate along the batch axis, padding other axes (e.g. sequence length) with ``padding_index``."""
    if all(a.shape[1:] == arrays[0].shape[1:] for a in arrays):
        return np.concatenate(arrays, axis=0)
    shape = (sum(a.shape[0] for a in arrays),) + tuple(max(a.shape[d] for a in arrays) for d in range(1, arrays[0].ndim))
    out = np.full(shape, padding_index, dtype=arrays[0].dtype)
    row = 0
    for a in arrays:
        out[(slice(row, row + a.shape[0]),) + tuple(slice(0, s) for s in a.shape[1:])] = a
        row += a.shape[0]
    return out


def _nested_numpy(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return type(value)(_nested_numpy(v) for v in value)
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16 or value.dtype == torch.float16:
            value = value.float()
        return value.numpy()
    return value


def _nested_concat(chunks: list[Any]) -> Any:
    first = chunks[0]
    if isinstance(first, (tuple, list)):
        return type(first)(_nested_concat([c[i] for c in chunks]) for i in range(len(first)))
    return _pad_and_concat(chunks)


class _RemoveColumnsCollator:
    """Wraps a collator: drops the keys of each example that the model's forward does not take."""

    def __init__(self, collator: Callable, keep: set[str], describe: str):
        self.collator = collator
        self.keep = keep
        self.describe = describe
        self.warned = False

    def __call__(self, features: list[Any]):
        if features and isinstance(features[0], dict):
            dropped = set(features[0]) - self.keep
            if dropped and not self.warned:
                logger.info("The %s has keys the model does not take; they are ignored: %s", self.describe, sorted(dropped))
                self.warned = True
            features = [{k: v for k, v in f.items() if k in self.keep} for f in features]
        return self.collator(features)


def length_grouped_indices(lengths: list[int], batch_size: int, generator: torch.Generator) -> list[int]:
    """A random order of the examples in which every run of ``batch_size`` has similar lengths.

    Shuffle, cut the order into mega-batches of 50 batches (fewer on a small dataset: at least four
    mega-batches), sort each mega-batch by length, longest first, and swap the longest example of all
    to the very front, so that the biggest batch (the one most likely to run out of memory) comes first.
    A batch then pads to a length close to its own examples' instead of the longest of a random draw;
    the mega-batches keep the order random enough for training. The order is the reference's.
    """
    batches_per_megabatch = max(1, min(len(lengths) // (batch_size * 4), 50))
    megabatch_size = batches_per_megabatch * batch_size
    shuffled = torch.randperm(len(lengths), generator=generator).tolist()
    megabatches = [sorted(shuffled[start:start + megabatch_size], key=lengths.__getitem__, reverse=True)
                   for start in range(0, len(shuffled), megabatch_size)]
    longest = max(range(len(megabatches)), key=lambda m: lengths[megabatches[m][0]])
    megabatches[0][0], megabatches[longest][0] = megabatches[longest][0], megabatches[0][0]
    return [index for megabatch in megabatches for index in megabatch]


class _EpochBatchSampler:
    """Index batches of one epoch on one rank, the first ``skip`` batches left out (when resuming).

    The epoch's order is a pure function of (seed, epoch): a DistributedSampler's shuffle, or, given
    the examples' ``lengths``, ``length_grouped_indices`` in runs of ``group_size`` (one optimizer
    step of all ranks). Either order is padded by repeating its start to a multiple of the number of
    ranks, and rank r takes every ``num_replicas``-th index from r on, as a DistributedSampler does.
    """

    def __init__(self, dataset_len: int, batch_size: int, *, shuffle: bool, seed: int, epoch: int,
                 num_replicas: int, rank: int, drop_last: bool, skip: int = 0,
                 lengths: list[int] | None = None, group_size: int | None = None):
        from torch.utils.data import DistributedSampler

        class _Sized:
            def __len__(self):
                return dataset_len

        self.sampler = DistributedSampler(_Sized(), num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                                          drop_last=False)
        self.sampler.set_epoch(epoch)
        self.lengths = lengths
        self.group_size = group_size or batch_size
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.skip = skip

    def _rank_indices(self) -> list[int]:
        if self.lengths is None:
            return list(self.sampler)
        generator = torch.Generator()
        generator.manual_seed(self.sampler.seed + self.sampler.epoch)
        order = length_grouped_indices(self.lengths, self.group_size, generator)
        replicas = self.sampler.num_replicas
        total = len(self.sampler) * replicas
        order = (order * math.ceil(total / len(order)))[:total]
        return order[self.sampler.rank::replicas]

    def _full_len(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __len__(self) -> int:
        return max(0, self._full_len() - self.skip)

    def __iter__(self):
        indices = self._rank_indices()
        for b in range(self.skip, self._full_len()):
            yield indices[b * self.batch_size:(b + 1) * self.batch_size]


# ================================================================================================
# Trainer
# ================================================================================================


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
        self._setup_distributed()
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
        self.callback_handler = CallbackHandler(defaults + callbacks, self.model, self.processing_class,
                                                self.optimizer, self.lr_scheduler)
        self.state = TrainerState(is_local_process_zero=args.local_process_index == 0,
                                  is_world_process_zero=args.process_index == 0)
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

    def _setup_distributed(self) -> None:
        self.is_distributed = self.args.world_size > 1
        if not self.is_distributed:
            return
        import torch.distributed as dist

        if not dist.is_initialized():
            backend = self.args.ddp_backend or ("nccl" if self.args.device.type == "cuda" else "gloo")
            if self.args.device.type == "cuda":
                torch.cuda.set_device(self.args.device)
            dist.init_process_group(backend=backend)

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

    def _sum_across_ranks(self, value: float) -> float:
        """``value`` summed over all processes (``value`` itself in a single process)."""
        if not self.is_distributed:
            return value
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64, device=self.args.device if self.args.device.type == "cuda" else "cpu")
        dist.all_reduce(t)
        return t.item()

    def _mean_across_ranks(self, value: float) -> float:
        return self._sum_across_ranks(value) / self.args.world_size

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
        if dataset is None:
            return None
        if isinstance(dataset, torch.utils.data.IterableDataset):
            raise TypeError(f"The {description} is an IterableDataset; the Trainer needs a map-style dataset "
                            "(with __len__ and __getitem__), e.g. a datasets.Dataset or a list of dicts.")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"The {description} ({type(dataset).__name__}) needs __len__ and __getitem__.")
        if len(dataset) == 0:
            raise ValueError(f"The {description} is empty.")
        keep = self._columns_to_keep()
        model_inputs = [n for n in self._signature_columns if n not in self.label_names]
        if _is_hf_dataset(dataset):
            columns = list(dataset.column_names)
            if self.args.remove_unused_columns:
                self._check_columns(columns, model_inputs, description)
                unused = [c for c in columns if c not in keep]
                if unused:
                    logger.info("The following columns of the %s are not used by %s and are removed: %s",
                                description, type(self.model).__name__, unused)
                    dataset = dataset.remove_columns(unused)
        else:
            first = dataset[0]
            if isinstance(first, dict) and self.args.remove_unused_columns:
                self._check_columns(list(first), model_inputs, description)
        return dataset

    def _check_columns(self, columns: list[str], model_inputs: list[str], description: str) -> None:
        if not any(c in model_inputs for c in columns):
            hint = ""
            if any(c in ("text", "sentence", "sentence1", "question", "tokens") for c in columns):
                hint = (" It looks untokenized: map it through the tokenizer first, e.g. "
                        "dataset.map(lambda b: tokenizer(b['text'], truncation=True), batched=True).")
            raise ValueError(
                f"None of the columns of the {description} ({columns}) is an input of "
                f"{type(self.model).__name__}.forward, which takes {model_inputs}.{hint}"
            )

    def _collator_for(self, dataset: Any, description: str) -> Callable:
        collator = self.data_collator
        if self.args.remove_unused_columns and not _is_hf_dataset(dataset):
            collator = _RemoveColumnsCollator(collator, self._columns_to_keep(), description)
        return collator

    def _dataloader(self, dataset, batch_size, *, shuffle, epoch=0, skip=0, description="dataset",
                    num_replicas=None, rank=None, lengths=None):
        from torch.utils.data import DataLoader

        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        num_replicas = num_replicas if num_replicas is not None else self.args.world_size
        batch_sampler = _EpochBatchSampler(
            len(dataset), batch_size, shuffle=shuffle, seed=seed, epoch=epoch, num_replicas=num_replicas,
            rank=rank if rank is not None else self.args.process_index,
            drop_last=self.args.dataloader_drop_last and shuffle, skip=skip,
            lengths=lengths, group_size=batch_size * self.args.gradient_accumulation_steps * num_replicas,
        )
        generator = torch.Generator()
        generator.manual_seed(seed + epoch)  # worker seeds: a function of (seed, epoch), not of the global RNG
        return DataLoader(dataset, batch_sampler=batch_sampler, collate_fn=self._collator_for(dataset, description),
                          num_workers=self.args.dataloader_num_workers, generator=generator,
                          pin_memory=self.args.dataloader_pin_memory and self.args.device.type == "cuda")

    def get_train_dataloader(self, epoch: int = 0, skip: int = 0):
        if self.train_dataset is None:
            raise ValueError("Trainer.train() needs a train_dataset.")
        if getattr(self, "_train_dataset_prepared", None) is None:
            self._train_dataset_prepared = self._prepare_dataset(self.train_dataset, "training dataset")
            grouped = self.args.train_sampling_strategy == "group_by_length"
            self._train_lengths = self._example_lengths(self.train_dataset) if grouped else None
        return self._dataloader(self._train_dataset_prepared, self.args.per_device_train_batch_size, shuffle=True,
                                epoch=epoch, skip=skip, description="training dataset", lengths=self._train_lengths)

    def _example_lengths(self, dataset) -> list[int]:
        """Each example's length for group_by_length: the ``length_column_name`` column of a
        datasets.Dataset when it has one, else the length of the model's main input (input_ids)."""
        column = self.args.length_column_name
        if _is_hf_dataset(dataset) and column in dataset.column_names:
            return [int(n) for n in dataset[column]]
        names = getattr(self.processing_class, "model_input_names", None) or ["input_ids"]
        name = names[0]
        first = dataset[0]
        if not isinstance(first, Mapping) or name not in first:
            found = sorted(first) if isinstance(first, Mapping) else type(first).__name__
            raise ValueError(
                f"train_sampling_strategy='group_by_length' needs each example's length: give the dataset a "
                f"{column!r} column (TrainingArguments.length_column_name) or a {name!r} field; its examples have {found}."
            )
        values = dataset[name] if _is_hf_dataset(dataset) else (dataset[i][name] for i in range(len(dataset)))
        return [len(v) for v in values]

    def get_eval_dataloader(self, eval_dataset=None):
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if dataset is None:
            raise ValueError("Trainer.evaluate() needs an eval_dataset (pass it to Trainer or to evaluate).")
        dataset = self._prepare_dataset(dataset, "evaluation dataset")
        return self._dataloader(dataset, self.args.per_device_eval_batch_size, shuffle=False,
                                description="evaluation dataset", num_replicas=1, rank=0)

    def get_test_dataloader(self, test_dataset):
        dataset = self._prepare_dataset(test_dataset, "test dataset")
        return self._dataloader(dataset, self.args.per_device_eval_batch_size, shuffle=False,
                                description="test dataset", num_replicas=1, rank=0)

    def _prepare_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(inputs, dict):
            raise TypeError(f"The data collator must return a dict of tensors, got {type(inputs).__name__}.")
        device = self.args.device
        return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}

    # -- optimizer and schedule ---------------------------------------------------------------------

    def get_decay_parameter_names(self, model: nn.Module) -> list[str]:
        """Parameters that get weight decay: all but biases and normalization weights."""
        no_decay_modules = tuple(m for m in (nn.LayerNorm, nn.GroupNorm, getattr(nn, "RMSNorm", None)) if m)
        norm_params = {f"{mn}.{pn}" if mn else pn for mn, m in model.named_modules() if isinstance(m, no_decay_modules)
                       for pn, _ in m.named_parameters(recurse=False)}
        return [n for n, _ in model.named_parameters()
                if n not in norm_params and not n.endswith("bias") and "layernorm" not in n.lower()
                and not re.search(r"(^|\.|_)norm($|\.)", n)]

    def create_optimizer(self) -> torch.optim.Optimizer:
        if self.optimizer is not None:
            return self.optimizer
        decay = set(self.get_decay_parameter_names(self.model))
        params = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        groups = [
            {"params": [p for n, p in params if n in decay], "weight_decay": self.args.weight_decay},
            {"params": [p for n, p in params if n not in decay], "weight_decay": 0.0},
        ]
        if self.optimizer_cls_and_kwargs is not None:
            optimizer_cls, kwargs = self.optimizer_cls_and_kwargs
            self.optimizer = optimizer_cls(groups, **{"lr": self.args.learning_rate, **kwargs})
        elif self.args.optim == "sgd":
            self.optimizer = torch.optim.SGD(groups, lr=self.args.learning_rate)
        else:
            fused = self.args.optim == "adamw_torch_fused" and all(
                p.is_floating_point() and p.device.type in ("cpu", "cuda") for _, p in params)
            self.optimizer = torch.optim.AdamW(groups, lr=self.args.learning_rate,
                                               betas=(self.args.adam_beta1, self.args.adam_beta2),
                                               eps=self.args.adam_epsilon, fused=fused or None)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        if self.lr_scheduler is None:
            self._created_lr_scheduler = True
            self.lr_scheduler = get_scheduler(self.args.lr_scheduler_type, optimizer or self.optimizer,
                                              num_warmup_steps=self.args.get_warmup_steps(num_training_steps),
                                              num_training_steps=num_training_steps,
                                              scheduler_specific_kwargs=self.args.lr_scheduler_kwargs)
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
            loss = outputs.get("loss") if isinstance(outputs, dict) else (outputs[0] if isinstance(outputs, (tuple, list)) else None)
            if loss is None:
                raise ValueError(
                    f"The model did not return a loss from the batch with keys {sorted(inputs)}. A model computes its "
                    f"loss only when the batch holds its labels ({self.label_names}): add a 'labels' (or 'label') "
                    "column to the dataset, or set TrainingArguments(label_names=[...]) to the name of yours."
                )
        if self.args.label_smoothing_factor and labels is None and isinstance(outputs, dict) and "logits" in outputs \
                and "labels" in inputs:
            loss = nn.functional.cross_entropy(outputs["logits"].float().flatten(0, -2), inputs["labels"].flatten(),
                                               ignore_index=-100, label_smoothing=self.args.label_smoothing_factor)
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model, inputs, num_items_in_batch=None) -> torch.Tensor:
        model.train()
        inputs = self._prepare_inputs(inputs)
        loss = self.compute_loss(model, inputs, num_items_in_batch=num_items_in_batch)
        return loss

    # -- training -----------------------------------------------------------------------------------

    def _check_output_dir_writable(self) -> None:
        out = Path(self.args.output_dir)
        try:
            out.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
                pass
        except OSError as e:
            raise PermissionError(
                f"output_dir {str(out)!r} is not writable ({e.strerror or e}). Checkpoints and the final model are "
                "saved there: choose a folder you can write to, e.g. TrainingArguments(output_dir='my_run')."
            ) from e

    def _resolve_checkpoint(self, resume_from_checkpoint) -> str | None:
        if resume_from_checkpoint is None or resume_from_checkpoint is False:
            return None
        if resume_from_checkpoint is True:
            last = get_last_checkpoint(self.args.output_dir)
            if last is None:
                raise ValueError(f"resume_from_checkpoint=True, but there is no checkpoint-N folder with a "
                                 f"{TRAINER_STATE_NAME} in output_dir {self.args.output_dir!r}.")
            return last
        path = os.fspath(resume_from_checkpoint)
        if not os.path.isfile(os.path.join(path, TRAINER_STATE_NAME)):
            raise ValueError(f"Can't resume from {path!r}: it is not a checkpoint folder (no {TRAINER_STATE_NAME}). "
                             f"Pass a checkpoint-N folder from output_dir, or resume_from_checkpoint=True for the last one.")
        return path

    def train(self, resume_from_checkpoint: str | bool | None = None, trial=None, ignore_keys_for_eval=None, **kwargs):
        """Train; returns TrainOutput(global_step, training_loss, metrics)."""
        if kwargs:
            raise TypeError(f"train() got unexpected keyword arguments {sorted(kwargs)}.")
        args = self.args
        if resume_from_checkpoint is None:
            resume_from_checkpoint = args.resume_from_checkpoint
        checkpoint = self._resolve_checkpoint(resume_from_checkpoint)
        if args.save_strategy != "no" or args.load_best_model_at_end:
            self._check_output_dir_writable()

        self._train_dataset_prepared = None  # prepare (drop columns, check) the dataset as it is now
        train_dataloader = self.get_train_dataloader()
        len_dataloader = len(train_dataloader)
        if len_dataloader == 0:
            raise ValueError(f"The training dataset ({len(self._train_dataset_prepared)} examples) gives no batch of "
                             f"{args.per_device_train_batch_size} with dataloader_drop_last=True.")
        accum = args.gradient_accumulation_steps
        updates_per_epoch = max(1, math.ceil(len_dataloader / accum))
        if args.max_steps > 0:
            max_steps = args.max_steps
            num_train_epochs = math.ceil(max_steps / updates_per_epoch)
        else:
            max_steps = math.ceil(args.num_train_epochs * updates_per_epoch)
            num_train_epochs = math.ceil(args.num_train_epochs)

        self.state = TrainerState(is_local_process_zero=self.is_local_process_zero(),
                                  is_world_process_zero=self.is_world_process_zero())
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
                raise ValueError(f"gradient_checkpointing=True needs a workbench model; {type(self.model).__name__} "
                                 "has no gradient_checkpointing_enable().")
            self.model.gradient_checkpointing_enable(args.gradient_checkpointing_kwargs)
        model = self.model_wrapped = self._wrap_model()

        epochs_trained, steps_to_skip = 0, 0
        rng_to_restore = None
        if checkpoint is not None:
            self._load_from_checkpoint(checkpoint)
            saved = TrainerState.load_from_json(os.path.join(checkpoint, TRAINER_STATE_NAME))
            if saved.max_steps != max_steps:
                logger.warning("The checkpoint was made for %d steps, this run has %d: the schedule will differ.",
                               saved.max_steps, max_steps)
            for name in ("global_step", "epoch", "log_history", "best_metric", "best_global_step",
                         "best_model_checkpoint", "total_flos", "num_input_tokens_seen"):
                setattr(self.state, name, getattr(saved, name))
            self._restore_callback_states(saved.stateful_callbacks)
            epochs_trained = self.state.global_step // updates_per_epoch
            steps_to_skip = (self.state.global_step % updates_per_epoch) * accum
            rng_to_restore = self._load_rng_state(checkpoint)

        self.callback_handler.model = self.model
        self.callback_handler.optimizer = self.optimizer
        self.callback_handler.lr_scheduler = self.lr_scheduler
        self.callback_handler.train_dataloader = train_dataloader

        self._total_loss_scalar = 0.0
        self._globalstep_last_logged = self.state.global_step
        tr_loss = torch.zeros((), device=args.device)
        grad_norm: torch.Tensor | None = None
        flos_params = self._flos_parameters()
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
                self.state.num_input_tokens_seen += int(self._sum_across_ranks(step_tokens))  # all ranks' tokens
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
        self._rotate_checkpoints()
        self.control = self.callback_handler.on_train_end(args, self.state, self.control)
        return TrainOutput(self.state.global_step, train_loss, metrics)

    def _flos_parameters(self) -> int:
        """The parameter count in the reference's estimate total_flos = 6 * parameters * tokens (per token,
        2 flops per parameter forward and 4 backward); embedding tables are lookups, not matmuls, so they
        are left out, as in the reference."""
        if hasattr(self.model, "num_parameters"):
            return self.model.num_parameters(exclude_embeddings=True)
        embeddings = {id(m.weight) for m in self.model.modules() if isinstance(m, nn.Embedding)}
        return sum(p.numel() for p in self.model.parameters() if id(p) not in embeddings)

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
        if isinstance(self.eval_dataset, dict):
            metrics = {}
            for name, dataset in self.eval_dataset.items():
                metrics.update(self.evaluate(dataset, ignore_keys=ignore_keys, metric_key_prefix=f"eval_{name}"))
            return metrics
        if self.eval_dataset is None:
            raise ValueError(f"eval_strategy={self.args.eval_strategy!r} needs an eval_dataset; pass one to the Trainer.")
        return self.evaluate(ignore_keys=ignore_keys)

    def _determine_best_metric(self, metrics: dict[str, float]) -> None:
        name = self.args.metric_for_best_model
        if name is None:
            return
        key = name if name.startswith("eval_") else f"eval_{name}"
        if key not in metrics:
            raise KeyError(f"metric_for_best_model={name!r}: the evaluation returned no {key!r}; it returned "
                           f"{sorted(metrics)}. Use one of those (compute_metrics adds its keys with an 'eval_' prefix).")
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
        rng_states = [_rng_state()]
        if self.is_distributed:
            import torch.distributed as dist

            # tensors are sent as bytes: all_gather_object can't pickle tensor storages reliably
            rng_states = [None] * self.args.world_size
            dist.all_gather_object(rng_states, _tensors_to_bytes(_rng_state()))
            rng_states = [_bytes_to_tensors(r) for r in rng_states]
        if self.args.should_save:
            if self.state.best_global_step == self.state.global_step:
                self.state.best_model_checkpoint = str(final)
            self.state.stateful_callbacks = {type(cb).__name__: cb.state() for cb in self.callback_handler.callbacks
                                             if callable(getattr(cb, "state", None))}
            self.state.stateful_callbacks["TrainerControl"] = dataclasses.asdict(self.control)
            output_dir.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=output_dir, prefix=f".{name}-saving-"))
            try:
                self._save_model_files(staging)
                if not self.args.save_only_model:
                    torch.save(self.optimizer.state_dict(), staging / OPTIMIZER_NAME)
                    torch.save(self.lr_scheduler.state_dict(), staging / SCHEDULER_NAME)
                    for rank, rng in enumerate(rng_states):
                        torch.save(rng, staging / ("rng_state.pth" if len(rng_states) == 1 else f"rng_state_{rank}.pth"))
                self.state.save_to_json(staging / TRAINER_STATE_NAME)
                (staging / TRAINING_ARGS_NAME).write_text(self.args.to_json_string(), encoding="utf-8")
                if final.exists():  # the same step saved twice: swap the new one in, then drop the old
                    old = output_dir / f".{name}-old-{os.getpid()}"
                    os.replace(final, old)
                    os.replace(staging, final)
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    os.replace(staging, final)
            finally:
                if staging.exists():
                    shutil.rmtree(staging, ignore_errors=True)
            self._rotate_checkpoints()
        elif self.state.best_global_step == self.state.global_step:
            self.state.best_model_checkpoint = str(final)
        self._barrier()
        return str(final)

    def _save_model_files(self, folder: Path) -> None:
        model = self.model
        if hasattr(model, "save_pretrained"):
            model.save_pretrained(folder)
        else:
            from safetensors.torch import save_file

            state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
            save_file(_dedupe_shared(state), str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
        if self.processing_class is not None and hasattr(self.processing_class, "save_pretrained"):
            self.processing_class.save_pretrained(folder)

    def _rotate_checkpoints(self) -> None:
        limit = self.args.save_total_limit
        if not limit or not self.args.should_save or not os.path.isdir(self.args.output_dir):
            return
        checkpoints = _sorted_checkpoints(self.args.output_dir)
        best = self.state.best_model_checkpoint
        keep = {checkpoints[-1]} if checkpoints else set()
        if best is not None:
            keep |= {c for c in checkpoints if os.path.abspath(c) == os.path.abspath(best)}
        removable = [c for c in checkpoints if c not in keep]
        excess = len(checkpoints) - max(limit, len(keep))
        for path in removable[:max(0, excess)]:
            logger.info("Deleting older checkpoint %s (save_total_limit=%d)", path, limit)
            shutil.rmtree(path, ignore_errors=True)

    def _load_from_checkpoint(self, checkpoint: str, weights_only: bool = False) -> None:
        """Load the model weights (and, unless weights_only, optimizer and scheduler) of a checkpoint."""
        from safetensors.torch import load_file

        folder = Path(checkpoint)
        files = sorted(folder.glob("model*.safetensors"))
        if not files:
            raise FileNotFoundError(f"The checkpoint {checkpoint!r} holds no model*.safetensors weights.")
        state: dict[str, torch.Tensor] = {}
        for f in files:
            state.update(load_file(str(f)))
        target = self.model
        expected = target.state_dict()
        if not any(k in expected for k in state):
            raise ValueError(f"The weights in {checkpoint!r} do not belong to {type(target).__name__} (no key matches).")
        missing, unexpected = target.load_state_dict(state, strict=False)
        tied = set(getattr(target, "_active_tie_aliases", lambda: set())())
        missing = [k for k in missing if k not in tied and not k.endswith("position_ids")]
        if missing or unexpected:
            raise ValueError(f"The checkpoint {checkpoint!r} does not match {type(target).__name__}: "
                             f"missing {missing[:5]}, unexpected {unexpected[:5]}.")
        if hasattr(target, "tie_weights"):
            with contextlib.suppress(Exception):
                target.tie_weights()
        if weights_only:
            return
        opt_path, sched_path = folder / OPTIMIZER_NAME, folder / SCHEDULER_NAME
        if opt_path.is_file():
            self.optimizer.load_state_dict(torch.load(opt_path, map_location=self.args.device, weights_only=True))
        else:
            logger.warning("%s has no %s: the optimizer starts fresh.", checkpoint, OPTIMIZER_NAME)
        if sched_path.is_file():
            self.lr_scheduler.load_state_dict(torch.load(sched_path, weights_only=True))

    def _load_rng_state(self, checkpoint: str) -> dict | None:
        folder = Path(checkpoint)
        path = folder / ("rng_state.pth" if not self.is_distributed else f"rng_state_{self.args.process_index}.pth")
        if not path.is_file():
            path = folder / "rng_state.pth"
        if not path.is_file():
            logger.warning("%s has no RNG state: the resumed run will not be bitwise reproducible.", checkpoint)
            return None
        return torch.load(path, weights_only=True)

    def _restore_callback_states(self, saved: dict | None) -> None:
        if not saved:
            return
        for cb in self.callback_handler.callbacks:
            entry = saved.get(type(cb).__name__)
            if entry and callable(getattr(cb, "state", None)):
                for key, value in entry.get("attributes", {}).items():
                    setattr(cb, key, value)

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Save the model (config.json + model.safetensors) and the processing class, on rank 0 only."""
        output_dir = Path(output_dir or self.args.output_dir)
        if self.args.should_save:
            try:
                output_dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise PermissionError(f"Can't save the model to {str(output_dir)!r}: {e.strerror or e}.") from e
            self._save_model_files(output_dir)
            atomic_write_text(output_dir / TRAINING_ARGS_NAME, self.args.to_json_string())
        self._barrier()

    def save_state(self) -> None:
        if self.args.should_save:
            Path(self.args.output_dir).mkdir(parents=True, exist_ok=True)
            atomic_write_text(Path(self.args.output_dir) / TRAINER_STATE_NAME,
                         json.dumps(dataclasses.asdict(self.state), indent=2, sort_keys=True) + "\n")

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
        if self.is_world_process_zero():
            Path(self.args.output_dir).mkdir(parents=True, exist_ok=True)
            atomic_write_text(Path(self.args.output_dir) / f"{split}_results.json", json.dumps(metrics, indent=2, sort_keys=True) + "\n")

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
        output = self.evaluation_loop(dataloader, "Evaluation", prediction_loss_only=None,
                                      ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
        self._add_speed_metrics(output.metrics, metric_key_prefix, start, output.num_samples, len(dataloader))
        self.log(output.metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, output.metrics)
        return output.metrics

    def predict(self, test_dataset, ignore_keys: list[str] | None = None, metric_key_prefix: str = "test"):
        """Predictions (logits), label_ids (if the data has labels) and metrics, as numpy arrays."""
        dataloader = self.get_test_dataloader(test_dataset)
        start = time.time()
        output = self.evaluation_loop(dataloader, "Prediction", prediction_loss_only=False,
                                      ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
        self._add_speed_metrics(output.metrics, metric_key_prefix, start, output.num_samples, len(dataloader))
        self.control = self.callback_handler.on_predict(self.args, self.state, self.control, output.metrics)
        return PredictionOutput(output.predictions, output.label_ids, output.metrics)

    @staticmethod
    def _add_speed_metrics(metrics, prefix, start, num_samples, num_steps):
        runtime = time.time() - start
        metrics[f"{prefix}_runtime"] = round(runtime, 4)
        metrics[f"{prefix}_samples_per_second"] = round(num_samples / runtime, 3) if runtime else float("inf")
        metrics[f"{prefix}_steps_per_second"] = round(num_steps / runtime, 3) if runtime else float("inf")

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix="eval") -> EvalLoopOutput:
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
        metrics = {(k if k.startswith(f"{metric_key_prefix}_") else f"{metric_key_prefix}_{k}"): _to_python(v)
                   for k, v in metrics.items()}
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


def _batch_size(inputs: dict[str, Any]) -> int:
    for v in inputs.values():
        if isinstance(v, torch.Tensor) and v.dim() > 0:
            return int(v.shape[0])
    return 1


def _dedupe_shared(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """safetensors refuses tensors that share memory: keep the first name of each shared storage."""
    seen, out = set(), {}
    for k, v in state.items():
        key = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape))
        if key in seen:
            continue
        seen.add(key)
        out[k] = v
    return out

