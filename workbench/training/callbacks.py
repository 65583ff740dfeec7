"""What the Trainer knows and how callbacks steer it: state, control flags, callbacks, progress displays.

``TrainerState`` is what the Trainer knows about the run (saved as trainer_state.json in every checkpoint);
callbacks get it at each event of the loop and steer the loop by setting ``TrainerControl`` flags, exactly
as in the reference. The default flow (when to log, evaluate and save) is itself a callback,
``DefaultFlowCallback``; the progress displays (a tqdm bar in a terminal, an HTML table in a notebook, or
plain printed logs) and ``EarlyStoppingCallback`` are callbacks too.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ..display import clock

logger = logging.getLogger(__name__)


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
    "on_init_end",
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_step_begin",
    "on_pre_optimizer_step",
    "on_optimizer_step",
    "on_substep_end",
    "on_step_end",
    "on_evaluate",
    "on_predict",
    "on_save",
    "on_log",
    "on_prediction_step",
)


class TrainerCallback:
    """Base class: override the events you need. Each gets ``(args, state, control, **kwargs)``
    where kwargs hold model, processing_class, optimizer, lr_scheduler, train_dataloader,
    eval_dataloader, and for some events metrics or logs. Return nothing, or a TrainerControl."""

    def on_init_end(self, args, state, control, **kwargs):
        pass

    def on_train_begin(self, args, state, control, **kwargs):
        pass

    def on_train_end(self, args, state, control, **kwargs):
        pass

    def on_epoch_begin(self, args, state, control, **kwargs):
        pass

    def on_epoch_end(self, args, state, control, **kwargs):
        pass

    def on_step_begin(self, args, state, control, **kwargs):
        pass

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        pass

    def on_optimizer_step(self, args, state, control, **kwargs):
        pass

    def on_substep_end(self, args, state, control, **kwargs):
        pass

    def on_step_end(self, args, state, control, **kwargs):
        pass

    def on_evaluate(self, args, state, control, **kwargs):
        pass

    def on_predict(self, args, state, control, metrics, **kwargs):
        pass

    def on_save(self, args, state, control, **kwargs):
        pass

    def on_log(self, args, state, control, **kwargs):
        pass

    def on_prediction_step(self, args, state, control, **kwargs):
        pass


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
        if any(type(c) is cb_class for c in self.callbacks) and cb_class in (
            DefaultFlowCallback,
            ProgressCallback,
            NotebookProgressCallback,
            PrinterCallback,
        ):
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
                args,
                state,
                control,
                model=self.model,
                processing_class=self.processing_class,
                optimizer=self.optimizer,
                lr_scheduler=self.lr_scheduler,
                train_dataloader=self.train_dataloader,
                eval_dataloader=self.eval_dataloader,
                **kwargs,
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
        if (
            args.eval_strategy == "steps"
            and state.eval_steps > 0
            and step % state.eval_steps == 0
            and args.eval_delay <= step
        ):
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
            self.bar = (
                tqdm(
                    total=state.max_steps, initial=state.global_step, dynamic_ncols=True, desc="train", file=sys.stderr
                )
                if tqdm
                else None
            )
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
        head = (
            f"<progress value='{done}' max='{total}' style='width:300px'></progress> "
            f"[{done}/{total} {clock(elapsed)} &lt; {clock(eta, unknown='?')}, "
            f"epoch {state.epoch:.2f}/{state.num_train_epochs}]"
        )
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
            better(metric_value, state.best_metric)
            and abs(metric_value - state.best_metric) > self.early_stopping_threshold
        ):
            self.early_stopping_patience_counter = 0
        else:
            self.early_stopping_patience_counter += 1

    def on_train_begin(self, args, state, control, **kwargs):
        if args.metric_for_best_model is None:
            raise ValueError(
                "EarlyStoppingCallback needs TrainingArguments(metric_for_best_model=...), e.g. 'eval_loss'."
            )
        if args.eval_strategy == "no":
            raise ValueError("EarlyStoppingCallback needs evaluations: set eval_strategy='steps' or 'epoch'.")
        if not args.load_best_model_at_end:
            logger.warning(
                "EarlyStoppingCallback without load_best_model_at_end=True: the model at the end is the "
                "last one, not the best one."
            )

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        name = args.metric_for_best_model
        if not name.startswith("eval_"):
            name = f"eval_{name}"
        value = (metrics or {}).get(name)
        if value is None:
            logger.warning(
                "Early stopping needs the metric %s, which the evaluation did not return (it returned %s); "
                "early stopping is disabled.",
                name,
                sorted(metrics or {}),
            )
            return
        self.check_metric_value(args, state, control, value)
        if self.early_stopping_patience_counter >= self.early_stopping_patience:
            control.should_training_stop = True

    def state(self) -> dict:
        return {
            "args": {
                "early_stopping_patience": self.early_stopping_patience,
                "early_stopping_threshold": self.early_stopping_threshold,
            },
            "attributes": {"early_stopping_patience_counter": self.early_stopping_patience_counter},
        }
