"""TrainingArguments: everything that configures a training run, with the reference's names and defaults.

    args = TrainingArguments("out", num_train_epochs=1, eval_strategy="epoch", learning_rate=2e-5)

The values are checked when the arguments are made (``__post_init__``), so a bad combination fails
here with a message that names the fix, not later in the middle of training.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import torch

from .optimization import SCHEDULERS

STRATEGIES = ("no", "steps", "epoch")
SAMPLING_STRATEGIES = ("random", "group_by_length")
OPTIMIZERS = ("adamw_torch", "adamw_torch_fused", "sgd")
SUPPORTED_REPORT_TO = ("none",)


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
                raise ValueError("eval_strategy='steps' needs eval_steps (or logging_steps) > 0.")
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
            raise ValueError(
                "push_to_hub=True is not supported; save with trainer.save_model() and upload "
                "the folder with huggingface_hub.upload_folder."
            )
        if self.group_by_length:
            self.train_sampling_strategy = "group_by_length"
        if self.train_sampling_strategy not in SAMPLING_STRATEGIES:
            raise ValueError(
                f"train_sampling_strategy={self.train_sampling_strategy!r} is not one of {SAMPLING_STRATEGIES}."
            )
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
