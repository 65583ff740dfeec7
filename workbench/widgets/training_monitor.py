"""TrainingMonitor: a Trainer callback and an ipywidget in one.

    monitor = TrainingMonitor()
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val, callbacks=[monitor])
    trainer.train()          # the monitor shows itself in the cell and updates live

It shows the train and eval loss curves, the learning-rate curve, eval metrics, a progress bar with
ETA, step and epoch counters, and a Stop button that ends training cleanly after the current step,
with a checkpoint saved (the Trainer then returns normally; resume later with
``trainer.train(resume_from_checkpoint=True)``). ``monitor.history`` holds what it plotted.

Widget state is not kept when a notebook is saved, so at the end of training the monitor also
displays the final figure as a PNG and a text summary: static outputs that stay visible in the
saved notebook. In a terminal (no Jupyter kernel) it prints text lines instead.

While a cell runs, the Jupyter kernel handles widget messages only between cell executions, so the
Stop button's click reaches the monitor through :func:`_process_ui_events`, which the monitor calls
between training steps: it hands the pending button messages of this kernel to the widgets
(supported on ipykernel 6 and 7; where it cannot, interrupting the kernel still stops training).
"""

from __future__ import annotations

import io
import os
import time
from typing import Any

import ipywidgets as widgets

from ..display import clock
from ..training.callbacks import TrainerCallback, _in_notebook

_SKIP_METRIC_SUFFIXES = ("_runtime", "_samples_per_second", "_steps_per_second")


def _eval_metrics(logs: dict[str, Any]) -> dict[str, Any]:
    """The evaluation metrics of a log entry, without the timing ones (runtime, samples and steps per second)."""
    return {k: v for k, v in logs.items() if k.startswith("eval_") and not k.endswith(_SKIP_METRIC_SUFFIXES)}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value)


def _sparkline(values: list[float], width: int = 40) -> str:
    """A one-line text plot: ▁▂▃▄▅▆▇█, for the terminal."""
    if not values:
        return ""
    if len(values) > width:  # average into `width` buckets
        size = len(values) / width
        buckets = [values[int(i * size) : int((i + 1) * size)] for i in range(width)]
        values = [sum(bucket) / max(1, len(bucket)) for bucket in buckets]
    lo, hi = min(values), max(values)
    blocks = "▁▂▃▄▅▆▇█"
    span = (hi - lo) or 1.0
    return "".join(blocks[min(7, int((v - lo) / span * 7.999))] for v in values)


class TrainingMonitor(TrainerCallback, widgets.VBox):
    """Live training curves, metrics, progress with ETA and a Stop button (see the module docstring).

    Args:
        mode: "widget" (Jupyter), "text" (terminal) or "auto" (widget inside a Jupyter kernel).
        plot_interval: at least this many seconds between two redraws of the live figure.
        show_final_figure: display the final figure as a static PNG at the end (widget mode).
        figsize: size of the figure in inches.
    """

    # the Trainer leaves out its own progress bar when a callback says this
    replaces_progress_display = True

    def __init__(
        self,
        mode: str = "auto",
        plot_interval: float = 2.0,
        show_final_figure: bool = True,
        figsize: tuple[float, float] = (10.0, 3.0),
        **kwargs: Any,
    ):
        if mode not in ("auto", "widget", "text"):
            raise ValueError(f"mode must be 'auto', 'widget' or 'text', got {mode!r}.")
        self.mode = ("widget" if _in_notebook() else "text") if mode == "auto" else mode
        self.plot_interval = plot_interval
        self.show_final_figure = show_final_figure
        self.figsize = figsize

        self.progress = widgets.IntProgress(
            value=0, min=0, max=1, description="Step", layout=widgets.Layout(width="45%")
        )
        self.status = widgets.HTML("Waiting for training to start.")
        self.stop_button = widgets.Button(
            description="Stop",
            icon="stop",
            button_style="danger",
            tooltip="End training after the current step and save a checkpoint",
            disabled=True,
        )
        self.stop_button.on_click(lambda _button: self.request_stop())
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.metrics_table = widgets.HTML("")
        super().__init__(
            children=[widgets.HBox([self.progress, self.stop_button]), self.status, self.plot, self.metrics_table],
            **kwargs,
        )
        self.stop_requested = False
        self.stopped_at_step: int | None = None
        self.checkpoints: list[str] = []
        self.summary: dict[str, Any] = {}
        self.history: dict[str, list[dict[str, Any]]] = {"train": [], "eval": []}
        self._shown = False
        self._start = None
        self._first_step = 0
        self._max_steps = 0
        self._num_epochs = 0
        self._last_plot = 0.0
        self._last_status = 0.0
        self._last_poll = 0.0

    # -- display ------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        done = f"step {self.progress.value}/{self._max_steps}" if self._max_steps else "not started"
        return (
            f"<TrainingMonitor: {done}, {len(self.history['train'])} train logs, "
            f"{len(self.history['eval'])} evaluations>"
        )

    def _repr_mimebundle_(self, **kwargs):
        self._shown = True
        return super()._repr_mimebundle_(**kwargs)

    def _show(self) -> None:
        if self.mode == "widget" and not self._shown:
            from IPython.display import display

            display(self)
            self._shown = True

    # -- what the user drives -------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask training to end after the current step (what the Stop button does)."""
        self.stop_requested = True
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping..."
        self.status.value = "Stop requested: training ends after this step, with a checkpoint saved."

    # -- history helpers ----------------------------------------------------------------------------

    def series(self, key: str, split: str | None = None) -> tuple[list[int], list[float]]:
        """(steps, values) of one plotted quantity, e.g. series("loss"), series("eval_loss")."""
        split = split or ("eval" if key.startswith("eval_") else "train")
        rows = [r for r in self.history[split] if r.get(key) is not None]
        return [r["step"] for r in rows], [r[key] for r in rows]

    def _eval_metric_names(self) -> list[str]:
        names: dict[str, None] = {}
        for row in self.history["eval"]:
            for k in row:
                if k.startswith("eval_") and k != "eval_loss" and isinstance(row[k], (int, float)):
                    names[k] = None
        return list(names)

    # -- figure -------------------------------------------------------------------------------------

    def figure(self):
        """A matplotlib Figure of the curves so far (no pyplot: nothing opens a window)."""
        from matplotlib.figure import Figure

        metric_names = self._eval_metric_names()
        panels = 3 if metric_names else 2
        fig = Figure(figsize=self.figsize, dpi=90, layout="constrained")
        axes = fig.subplots(1, panels)
        ax = axes[0]
        steps, loss = self.series("loss")
        if steps:
            ax.plot(steps, loss, label="train", color="tab:blue")
        steps, eval_loss = self.series("eval_loss")
        if steps:
            ax.plot(steps, eval_loss, "o-", label="eval", color="tab:orange")
        ax.set_title("loss")
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(loc="best", fontsize="small")
        ax = axes[1]
        steps, lr = self.series("learning_rate")
        if steps:
            ax.plot(steps, lr, color="tab:green")
        ax.set_title("learning rate")
        ax.set_xlabel("step")
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        if metric_names:
            ax = axes[2]
            for name in metric_names:
                steps, values = self.series(name)
                ax.plot(steps, values, "o-", label=name[len("eval_") :])
            ax.set_title("eval metrics")
            ax.set_xlabel("step")
            ax.legend(loc="best", fontsize="small")
        for ax in axes:
            if self._max_steps:
                ax.set_xlim(0, self._max_steps)
            ax.grid(alpha=0.3)
        return fig

    def figure_png(self) -> bytes:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = self.figure()
        buffer = io.BytesIO()
        FigureCanvasAgg(fig).print_png(buffer)
        return buffer.getvalue()

    def save_figure(self, path: str | os.PathLike) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(self.figure()).print_figure(os.fspath(path))

    def _redraw(self, force: bool = False) -> None:
        if self.mode != "widget":
            return
        now = time.time()
        if force or now - self._last_plot >= self.plot_interval:
            self.plot.value = self.figure_png()
            self._last_plot = now

    def _metrics_html(self) -> str:
        if not self.history["eval"]:
            return ""
        columns = ["step", "epoch"] + [
            k for k in dict.fromkeys(k for r in self.history["eval"] for k in r) if k not in ("step", "epoch")
        ]
        head = "".join(f"<th style='padding:0 8px'>{c.removeprefix('eval_')}</th>" for c in columns)
        rows = "".join(
            "<tr>" + "".join(f"<td style='padding:0 8px'>{_fmt(r.get(c, ''))}</td>" for c in columns) + "</tr>"
            for r in self.history["eval"]
        )
        return f"<b>Evaluation</b><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

    # -- status line ----------------------------------------------------------------------------------

    def eta_seconds(self, global_step: int) -> float:
        done = global_step - self._first_step
        if self._start is None or done <= 0:
            return float("nan")
        return (time.time() - self._start) / done * max(0, self._max_steps - global_step)

    def status_text(self, state) -> str:
        elapsed = time.time() - self._start if self._start else 0.0
        text = (
            f"step {state.global_step}/{self._max_steps} · epoch {state.epoch:.2f}/{self._num_epochs} · "
            f"elapsed {clock(elapsed)} · ETA {clock(self.eta_seconds(state.global_step))}"
        )
        _, loss = self.series("loss")
        if loss:
            text += f" · loss {loss[-1]:.4f}"
        return text

    # -- callback events ------------------------------------------------------------------------------

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.time()
        self._first_step = state.global_step
        self._max_steps = state.max_steps
        self._num_epochs = state.num_train_epochs
        self.stop_requested = False
        self.stopped_at_step = None
        self.summary = {}
        # a resumed run starts from the checkpoint's history, so the curves continue
        self.history = {"train": [], "eval": []}
        for entry in state.log_history:
            self._record(entry, entry.get("step", 0))
        self.progress.max = max(1, state.max_steps)
        self.progress.value = state.global_step
        self.stop_button.disabled = False
        self.stop_button.description = "Stop"
        if not state.is_world_process_zero:
            return
        self._show()
        if self.mode == "widget":
            self.status.value = self.status_text(state)
            self._redraw(force=True)
        else:
            print(
                f"Training: {state.max_steps} steps, {state.num_train_epochs} epoch(s)"
                + (f", resuming at step {state.global_step}" if state.global_step else ""),
                flush=True,
            )

    def on_step_end(self, args, state, control, **kwargs):
        self.progress.value = min(state.global_step, self.progress.max)
        now = time.time()
        if self.mode == "widget" and now - self._last_status > 0.25:
            self.status.value = self.status_text(state)
            self._last_status = now
        if self.mode == "widget" and now - self._last_poll > 0.2:
            self._last_poll = now
            _process_ui_events()
        if self.stop_requested and self.stopped_at_step is None:
            control.should_training_stop = True
            control.should_save = True  # the Trainer saves checkpoint-N before it returns
            self.stopped_at_step = state.global_step
        return control

    def _record(self, logs: dict[str, Any], step: int) -> None:
        if "loss" in logs:
            row = {"step": step, "epoch": logs.get("epoch"), "loss": logs["loss"]}
            for key in ("learning_rate", "grad_norm"):
                if key in logs:
                    row[key] = logs[key]
            self.history["train"].append(row)
        elif any(k.startswith("eval_") for k in logs):
            row = {"step": step, "epoch": logs.get("epoch")}
            row.update(_eval_metrics(logs))
            self.history["eval"].append(row)
        elif "train_runtime" in logs:
            self.summary = dict(logs)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs:
            return
        self._record(logs, state.global_step)
        if not state.is_world_process_zero:
            return
        if self.mode == "widget":
            self.status.value = self.status_text(state)
            self.metrics_table.value = self._metrics_html()
            self._redraw(force="eval_loss" in logs)
        elif "loss" in logs:
            print(f"[{self.status_text(state)}] lr {_fmt(logs.get('learning_rate', float('nan')))}", flush=True)
        elif any(k.startswith("eval_") for k in logs):
            shown = ", ".join(f"{k}={_fmt(v)}" for k, v in _eval_metrics(logs).items())
            print(f"  eval @ step {state.global_step}: {shown}", flush=True)

    def on_save(self, args, state, control, **kwargs):
        self.checkpoints.append(os.path.join(args.output_dir, f"checkpoint-{state.global_step}"))

    def on_train_end(self, args, state, control, **kwargs):
        self.stop_button.disabled = True
        self.progress.value = min(state.global_step, self.progress.max)
        if not state.is_world_process_zero:
            return
        text = self.final_text(state)
        if self.mode == "widget":
            self.status.value = text.replace("\n", "<br>")
            self.metrics_table.value = self._metrics_html()
            self._redraw(force=True)
            if self.show_final_figure:
                from IPython.display import Image, display

                # static outputs: they stay visible in a saved notebook, unlike the widget's state
                display(Image(data=bytes(self.plot.value) if self.plot.value else self.figure_png(), format="png"))
                print(text, flush=True)
        else:
            print(text, flush=True)

    def final_text(self, state) -> str:
        elapsed = time.time() - self._start if self._start else 0.0
        lines = []
        if self.stopped_at_step is not None:
            where = f" (checkpoint-{self.stopped_at_step} saved)" if self.checkpoints else ""
            lines.append(f"Stopped by request at step {state.global_step}/{self._max_steps}{where}.")
        else:
            lines.append(f"Finished: step {state.global_step}/{self._max_steps}, epoch {state.epoch:.2f}.")
        lines[-1] += f" Time {clock(elapsed)}."
        _, loss = self.series("loss")
        if loss:
            lines.append(f"train loss {loss[0]:.4f} -> {loss[-1]:.4f}  {_sparkline(loss)}")
        if self.history["eval"]:
            last = self.history["eval"][-1]
            lines.append(
                "last eval: "
                + ", ".join(f"{k.removeprefix('eval_')}={_fmt(v)}" for k, v in last.items() if k.startswith("eval_"))
            )
        return "\n".join(lines)


def _process_ui_events() -> None:
    """Let pending widget messages (the Stop button's click) through while a cell is running.

    A running cell blocks the kernel's main loop, so the frontend's messages wait in the kernel's
    shell queue. Here the comm messages among them are handed to their widgets; every other
    message goes back in order. Best effort: does nothing outside ipykernel or when the kernel's
    layout is unknown.
    """
    try:
        from IPython import get_ipython

        ip = get_ipython()
        kernel = getattr(ip, "kernel", None)
        if kernel is None:
            return
        _drain_comm_messages(kernel)
    except Exception:  # noqa: BLE001 - never let the UI poll break training
        return


def _drain_comm_messages(kernel) -> None:
    import zmq

    thread = getattr(kernel, "shell_channel_thread", None)
    manager = getattr(thread, "manager", None) if thread is not None else None
    if manager is not None:
        # ipykernel 7: the shell channel thread forwards main-shell messages through an inproc
        # pair; its receiving end belongs to this (the main) thread, so reading it here is safe.
        socket = manager.get_shell_channel_to_subshell_pair(None).to_socket

        def requeue(frames):
            kernel.io_loop.add_callback(kernel.shell_main, None, frames)
    elif hasattr(kernel, "schedule_dispatch") and getattr(kernel, "shell_stream", None) is not None:
        socket = kernel.shell_stream.socket  # ipykernel 6

        def requeue(frames):
            kernel.schedule_dispatch(kernel.dispatch_shell, frames)
    else:
        return
    session = kernel.session
    comm_manager = getattr(kernel, "comm_manager", None)
    if comm_manager is None:
        import comm as comm_module

        comm_manager = comm_module.get_comm_manager()
    while True:
        try:
            frames = socket.recv_multipart(flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            break
        idents, msg_frames = session.feed_identities(frames, copy=False)
        # peek at the header without authenticating it (the session refuses a message it has seen
        # twice, so only messages handled here are fully deserialized, signature checked)
        header = session.unpack(_frame_bytes(msg_frames[1]))
        if header.get("msg_type") == "comm_msg":
            comm_manager.comm_msg(None, idents, session.deserialize(msg_frames, content=True, copy=False))
        else:
            # anything else (the next cell's execute_request, ...) runs when this cell is done, in order
            requeue(frames)


def _frame_bytes(frame) -> bytes:
    return frame.bytes if hasattr(frame, "bytes") else bytes(frame)
