"""TrainingMonitor, headless: drive it through a real Trainer and through its callbacks, click its
Stop button, inspect its state; and one run in a real Jupyter kernel, where the click arrives while
the training cell is still running."""

import os
import queue
import time
from pathlib import Path

import pytest
from tiny_trainer import make_data, make_trainer

from workbench.training import (
    NotebookProgressCallback,
    ProgressCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)
from workbench.widgets import TrainingMonitor

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_is_a_widget_and_a_callback():
    import ipywidgets

    from workbench import TrainerCallback

    monitor = TrainingMonitor()
    assert isinstance(monitor, ipywidgets.VBox) and isinstance(monitor, TrainerCallback)
    assert monitor.mode == "text"  # no Jupyter kernel here: the terminal fallback
    with pytest.raises(ValueError, match="mode"):
        TrainingMonitor(mode="fancy")


def test_monitor_follows_a_training_run(tmp_path, capsys):
    monitor = TrainingMonitor()
    trainer = make_trainer(
        tmp_path,
        callbacks=[monitor],
        eval_data=make_data(8, seed=2),
        eval_strategy="epoch",
        num_train_epochs=2,
        logging_steps=2,
    )
    assert not any(
        isinstance(cb, (ProgressCallback, NotebookProgressCallback)) for cb in trainer.callback_handler.callbacks
    )
    trainer.train()
    logs = trainer.state.log_history
    assert [r["loss"] for r in monitor.history["train"]] == [h["loss"] for h in logs if "loss" in h]
    assert [r["step"] for r in monitor.history["eval"]] == [h["step"] for h in logs if "eval_loss" in h]
    assert {"eval_loss", "eval_accuracy", "epoch"} <= set(monitor.history["eval"][-1])
    steps, lrs = monitor.series("learning_rate")
    assert steps == list(range(2, 15, 2)) and lrs[-1] < lrs[0]
    assert monitor.progress.value == monitor.progress.max == trainer.state.max_steps
    assert monitor.summary["train_loss"] == pytest.approx(trainer.state.log_history[-1]["train_loss"])
    assert monitor.figure_png().startswith(PNG_MAGIC)
    out = capsys.readouterr().out
    assert "Training: 14 steps" in out and "eval @ step 7" in out and "Finished: step 14/14" in out


def test_stop_button_ends_training_with_a_checkpoint(tmp_path):
    monitor = TrainingMonitor(mode="widget", show_final_figure=False)
    monitor._shown = True  # as if displayed in a cell

    from workbench import TrainerCallback

    class ClickAt(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 3:
                monitor.stop_button.click()  # the click lands during step 4

    trainer = make_trainer(tmp_path, callbacks=[ClickAt(), monitor], save_strategy="no", num_train_epochs=3)
    result = trainer.train()  # returns normally
    assert result.global_step == 4 == monitor.stopped_at_step
    assert monitor.stop_button.disabled
    assert (tmp_path / "checkpoint-4" / "trainer_state.json").is_file()
    assert monitor.checkpoints == [str(tmp_path / "checkpoint-4")]
    assert "Stopped by request at step 4" in monitor.status.value
    assert bytes(monitor.plot.value).startswith(PNG_MAGIC)
    # and the run continues from there
    again = TrainingMonitor(mode="widget", show_final_figure=False)
    again._shown = True
    resumed = make_trainer(tmp_path, callbacks=[again], num_train_epochs=3)
    resumed.train(resume_from_checkpoint=True)
    assert resumed.state.global_step == resumed.state.max_steps
    assert [r["step"] for r in again.history["train"]][:2] == [
        2,
        4,
    ]  # the curve continues from the checkpoint's history


def test_driving_callbacks_directly():
    monitor = TrainingMonitor(mode="widget", show_final_figure=False, plot_interval=0)
    monitor._shown = True
    args = TrainingArguments("unused")
    state, control = TrainerState(max_steps=10, num_train_epochs=2), TrainerControl()
    monitor.on_train_begin(args, state, control)
    assert monitor.progress.max == 10 and not monitor.stop_button.disabled
    for step in range(1, 6):
        state.global_step, state.epoch = step, step / 5
        monitor.on_step_end(args, state, control)
        monitor.on_log(
            args, state, control, logs={"loss": 1.0 / step, "learning_rate": 1e-4 * (10 - step), "epoch": state.epoch}
        )
    monitor.on_log(
        args, state, control, logs={"eval_loss": 0.5, "eval_accuracy": 0.75, "eval_runtime": 0.1, "epoch": 1.0}
    )
    assert monitor.history["eval"] == [{"step": 5, "epoch": 1.0, "eval_loss": 0.5, "eval_accuracy": 0.75}]
    assert "accuracy" in monitor.metrics_table.value and "0.75" in monitor.metrics_table.value
    assert "step 5/10" in monitor.status.value and "ETA" in monitor.status.value
    assert monitor.progress.value == 5
    assert monitor.series("loss") == ([1, 2, 3, 4, 5], [1.0, 0.5, 1 / 3, 0.25, 0.2])
    monitor.request_stop()
    control = monitor.on_step_end(args, state, control)
    assert control.should_training_stop and control.should_save
    fig = monitor.figure()
    assert [ax.get_title() for ax in fig.axes] == ["loss", "learning rate", "eval metrics"]
    monitor.on_train_end(args, state, control)
    assert monitor.stop_button.disabled


@pytest.mark.timeout(90)
def test_stop_button_click_reaches_a_busy_kernel(tmp_path):
    """In Jupyter the training cell blocks the kernel; the click must still stop it, and the next
    cell, queued behind, must still run."""
    manager = pytest.importorskip("jupyter_client.manager")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    km, kc = manager.start_new_kernel(kernel_name="python3", env=env)
    code = f"""
from workbench.widgets import TrainingMonitor
from workbench.training import TrainerState, TrainerControl, TrainingArguments
import time
m = TrainingMonitor(mode="widget", plot_interval=100, show_final_figure=False)
args, st, ctl = TrainingArguments({str(tmp_path)!r}), TrainerState(max_steps=600, num_train_epochs=1), TrainerControl()
m.on_train_begin(args, st, ctl)
print("BUTTON", m.stop_button.model_id, flush=True)
for i in range(1, 601):
    st.global_step = i
    time.sleep(0.05)
    ctl = m.on_step_end(args, st, ctl)
    if ctl.should_training_stop:
        break
print("STOPPED AT", st.global_step, ctl.should_save, flush=True)
"""
    try:
        kc.execute(code)
        seen, deadline = [], time.time() + 60
        while time.time() < deadline and not any("NEXT CELL" in s for s in seen):
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            if msg["msg_type"] == "error":
                pytest.fail(f"kernel error: {msg['content']['evalue']}")
            if msg["msg_type"] != "stream":
                continue
            text = msg["content"]["text"]
            seen.append(text)
            if text.startswith("BUTTON"):
                time.sleep(0.5)
                kc.execute("print('NEXT CELL', flush=True)")  # queued behind the running cell
                click = {"comm_id": text.split()[1], "data": {"method": "custom", "content": {"event": "click"}}}
                kc.shell_channel.send(kc.session.msg("comm_msg", click))
        stopped = [s for s in seen if s.startswith("STOPPED AT")]
        assert stopped, seen
        step = int(stopped[0].split()[2])
        assert step < 200 and stopped[0].split()[3] == "True"
        assert any("NEXT CELL" in s for s in seen)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
