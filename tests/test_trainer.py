"""Trainer: training, evaluation, callbacks, checkpoints and exact resume, schedules, bad inputs.

Everything runs on a tiny random BERT (2 layers, hidden 32) and a few dozen synthetic examples.
"""

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_trainer import VOCAB, TinyTokenizer, make_data, make_trainer, tiny_model

import workbench
from workbench import (
    BertConfig,
    BertForSequenceClassification,
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from workbench.training import TrainingDivergedError, get_scheduler
from workbench.training.callbacks import CALLBACK_EVENTS


class StopAt(TrainerCallback):
    """Interrupts training after step k, saving a checkpoint (as the monitor's Stop button does)."""

    def __init__(self, k):
        self.k = k

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.k:
            control.should_training_stop = True
            control.should_save = True


class Recorder(TrainerCallback):
    def __init__(self):
        self.events = []

    def __getattribute__(self, name):
        if name in CALLBACK_EVENTS:
            return lambda args, state, control, **kw: self.events.append(name)
        return super().__getattribute__(name)


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    different = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not different, f"weights differ: {different[:5]}"


# ------------------------------------------------------------------------------------------------
# training, evaluation, prediction
# ------------------------------------------------------------------------------------------------


def test_train_evaluate_predict(tmp_path):
    data = make_data(48)
    trainer = make_trainer(
        tmp_path,
        data=data,
        eval_data=make_data(16, seed=2),
        num_train_epochs=4,
        eval_strategy="epoch",
        learning_rate=5e-3,
    )
    before = trainer.evaluate()["eval_loss"]
    out = trainer.train()
    assert out.global_step == 4 * math.ceil(48 / 6) == trainer.state.global_step
    assert {"train_runtime", "train_samples_per_second", "train_loss"} <= set(out.metrics)
    history = trainer.state.log_history
    train_logs = [h for h in history if "loss" in h]
    assert len(train_logs) == out.global_step // 2
    assert all({"loss", "learning_rate", "grad_norm", "epoch", "step"} <= set(h) for h in train_logs)
    eval_logs = [h for h in history if "eval_accuracy" in h]
    assert [h["epoch"] for h in eval_logs][-4:] == pytest.approx([1, 2, 3, 4])
    metrics = trainer.evaluate()
    assert metrics["eval_loss"] < before
    assert metrics["epoch"] == pytest.approx(4.0)
    pred = trainer.predict(make_data(10, seed=3))
    assert pred.predictions.shape == (10, 2) and pred.label_ids.shape == (10,)
    assert "test_accuracy" in pred.metrics and "test_loss" in pred.metrics
    # linear schedule down to 0
    assert train_logs[-1]["learning_rate"] == pytest.approx(0.0)


def test_hf_dataset_unused_columns_dropped_and_label_renamed(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = make_data(12)
    ds = datasets.Dataset.from_list([{**r, "text": "some words", "idx": i} for i, r in enumerate(rows)])
    trainer = make_trainer(tmp_path, data=ds, eval_data=ds, max_steps=2)
    trainer.train()
    assert "eval_accuracy" in trainer.evaluate()


def test_gradient_accumulation_matches_bigger_batch(tmp_path):
    """2 x 4 accumulated equals one batch of 8 (no dropout, equal-length rows)."""
    rows = [
        {"input_ids": r["input_ids"][:6] + [0] * (6 - len(r["input_ids"][:6])), "label": r["label"]}
        for r in make_data(16)
    ]
    common = dict(num_train_epochs=1, max_grad_norm=0.0)
    no_drop = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    a = make_trainer(tmp_path / "a", model=tiny_model(**no_drop), data=rows, per_device_train_batch_size=8, **common)
    b = make_trainer(
        tmp_path / "b",
        model=tiny_model(**no_drop),
        data=rows,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
        **common,
    )
    a.train(), b.train()
    assert a.state.global_step == b.state.global_step == 2
    for (n, p), q in zip(a.model.named_parameters(), b.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5, msg=n)


# ------------------------------------------------------------------------------------------------
# group_by_length
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, batch_size", [(1000, 8), (37, 4), (5, 16)])
def test_length_grouped_indices_match_reference(n, batch_size):
    pt_utils = pytest.importorskip("transformers.trainer_pt_utils")
    from workbench.training import length_grouped_indices

    lengths = torch.randint(1, 60, (n,), generator=torch.Generator().manual_seed(n)).tolist()
    ours = length_grouped_indices(lengths, batch_size, torch.Generator().manual_seed(7))
    ref = pt_utils.get_length_grouped_indices(lengths, batch_size, generator=torch.Generator().manual_seed(7))
    assert ours == ref
    assert sorted(ours) == list(range(n))
    assert lengths[ours[0]] == max(lengths)


def padded_tokens(loader):
    return sum(batch["input_ids"].numel() for batch in loader)


def test_group_by_length_batches(tmp_path):
    data = make_data(240, seed=4)
    grouped = make_trainer(tmp_path, data=data, group_by_length=True, per_device_train_batch_size=4)
    assert grouped.args.train_sampling_strategy == "group_by_length"
    random_order = make_trainer(tmp_path, data=data, per_device_train_batch_size=4)
    epoch0 = [b["input_ids"] for b in grouped.get_train_dataloader(epoch=0)]
    seen = [row[row > 0].tolist() for batch in epoch0 for row in batch]
    assert sorted(map(tuple, seen)) == sorted(tuple(r["input_ids"]) for r in data)  # each example once
    # far less padding than the batches of a random order
    real_tokens = sum(len(r["input_ids"]) for r in data)
    grouped_padding = sum(batch.numel() for batch in epoch0) - real_tokens
    random_padding = padded_tokens(random_order.get_train_dataloader(epoch=0)) - real_tokens
    assert grouped_padding < 0.2 * random_padding
    # the order is a function of (seed, epoch): the same again, another one next epoch
    again = [b["input_ids"] for b in grouped.get_train_dataloader(epoch=0)]
    assert all(torch.equal(a, b) for a, b in zip(epoch0, again))
    epoch1 = [b["input_ids"] for b in grouped.get_train_dataloader(epoch=1)]
    assert not all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(epoch0, epoch1))
    grouped.train()
    assert grouped.state.global_step == 2 * 60


def test_group_by_length_shards_across_ranks():
    """Under DDP, rank 0 and rank 1 together take one single-process batch per step (the same global order)."""
    from workbench.training.samplers import _EpochBatchSampler

    lengths = torch.randint(1, 60, (45,), generator=torch.Generator().manual_seed(0)).tolist()
    common = dict(shuffle=True, seed=3, epoch=2, drop_last=False, lengths=lengths, group_size=8)
    single = list(_EpochBatchSampler(45, 8, num_replicas=1, rank=0, **common))
    ranks = [list(_EpochBatchSampler(45, 4, num_replicas=2, rank=r, **common)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == len(single) == 6
    for step, batch in enumerate(single[:-1]):
        assert sorted(ranks[0][step] + ranks[1][step]) == sorted(batch)
    # 45 examples on 2 ranks: the order is padded to 46 with its first example, as a DistributedSampler does
    together = [i for r in ranks for b in r for i in b]
    assert len(together) == 46 and set(together) == set(range(45))


def test_group_by_length_lengths(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = make_data(12)
    ds = datasets.Dataset.from_list([{**r, "length": 100 - i} for i, r in enumerate(rows)])
    trainer = make_trainer(tmp_path, data=ds, train_sampling_strategy="group_by_length")
    assert trainer._example_lengths(ds) == [100 - i for i in range(12)]  # the column, not len(input_ids)
    trainer.train()  # the length column is not a model input: it is dropped from the batches
    trainer = make_trainer(tmp_path, data=ds, group_by_length=True, length_column_name="n_tokens")
    assert trainer._example_lengths(ds) == [len(r["input_ids"]) for r in rows]
    trainer = make_trainer(
        tmp_path, data=[{"ids": [1, 2, 3], "label": 0}] * 4, group_by_length=True, remove_unused_columns=False
    )
    with pytest.raises(ValueError, match="group_by_length.*'length' column.*'input_ids'"):
        trainer.train()


def test_bf16_autocast_on_cpu(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=2, bf16=True)
    trainer.train()
    assert trainer.model.dtype == torch.float32  # autocast, the weights stay fp32
    assert math.isfinite(trainer.state.log_history[-1]["train_loss"])


# ------------------------------------------------------------------------------------------------
# callbacks
# ------------------------------------------------------------------------------------------------


def test_callback_event_order(tmp_path):
    rec = Recorder()
    trainer = make_trainer(
        tmp_path,
        data=make_data(8),
        callbacks=[rec],
        num_train_epochs=1,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        logging_steps=1,
        eval_strategy="epoch",
        save_strategy="epoch",
        eval_data=make_data(4),
    )
    trainer.train()
    step = ["on_step_begin", "on_substep_end", "on_pre_optimizer_step", "on_optimizer_step", "on_step_end", "on_log"]
    expected = (
        ["on_init_end", "on_train_begin", "on_epoch_begin"]
        + step
        + step
        + ["on_epoch_end", "on_prediction_step", "on_log", "on_evaluate", "on_save", "on_log", "on_train_end"]
    )
    assert rec.events == expected


def test_callbacks_add_pop_remove(tmp_path):
    trainer = make_trainer(tmp_path)
    rec = Recorder()
    trainer.add_callback(rec)
    assert trainer.pop_callback(Recorder) is rec
    trainer.add_callback(EarlyStoppingCallback)
    trainer.remove_callback(EarlyStoppingCallback)
    assert "EarlyStoppingCallback" not in trainer.callback_handler.callback_list
    with pytest.raises(TypeError, match="not a TrainerCallback"):
        trainer.add_callback(object())


def test_early_stopping(tmp_path):
    scores = iter([0.5, 0.6, 0.55, 0.55, 0.54, 0.9, 0.9, 0.9])

    def metric(_):
        return {"score": next(scores)}

    trainer = make_trainer(
        tmp_path,
        data=make_data(24),
        eval_data=make_data(4),
        num_train_epochs=8,
        per_device_train_batch_size=6,
        eval_strategy="epoch",
        save_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model="score",
        callbacks=[EarlyStoppingCallback(early_stopping_patience=2)],
    )
    trainer.compute_metrics = metric
    trainer.train()
    evals = [h["eval_score"] for h in trainer.state.log_history if "eval_score" in h]
    assert evals == [0.5, 0.6, 0.55, 0.55]  # two evaluations without improvement, then stop
    assert trainer.state.epoch == pytest.approx(4.0)
    assert trainer.state.best_metric == 0.6
    assert trainer.state.best_model_checkpoint.endswith("checkpoint-8")


def test_early_stopping_needs_metric(tmp_path):
    trainer = make_trainer(tmp_path, callbacks=[EarlyStoppingCallback()], eval_strategy="epoch", eval_data=make_data(4))
    with pytest.raises(ValueError, match="metric_for_best_model"):
        trainer.train()


# ------------------------------------------------------------------------------------------------
# checkpoints, limits, best model, exact resume
# ------------------------------------------------------------------------------------------------


def test_checkpoint_contents_and_save_total_limit(tmp_path):
    trainer = make_trainer(tmp_path, save_strategy="steps", save_steps=2, save_total_limit=2, max_steps=7)
    trainer.train()
    names = sorted(os.listdir(tmp_path))
    # step 7 is the end of training (saved too); only the 2 newest remain; no staging folders left
    assert names == ["checkpoint-6", "checkpoint-7"]
    ckpt = tmp_path / "checkpoint-7"
    assert {
        "config.json",
        "model.safetensors",
        "optimizer.pt",
        "scheduler.pt",
        "rng_state.pth",
        "trainer_state.json",
        "training_args.json",
    } <= set(os.listdir(ckpt))
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert state["global_step"] == 7 and state["max_steps"] == 7 and state["log_history"]
    # the checkpoint is a normal Hub-format model folder
    reloaded = BertForSequenceClassification.from_pretrained(ckpt)
    assert_same_weights(reloaded, trainer.model)


def test_load_best_model_at_end_keeps_best_checkpoint(tmp_path):
    scores = iter([0.2, 0.9, 0.3, 0.1])
    trainer = make_trainer(
        tmp_path,
        data=make_data(24),
        eval_data=make_data(4),
        num_train_epochs=4,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,
        load_best_model_at_end=True,
        metric_for_best_model="score",
    )
    trainer.compute_metrics = lambda _: {"score": next(scores)}
    trainer.train()
    assert trainer.state.best_metric == 0.9
    best = Path(trainer.state.best_model_checkpoint)
    assert best.name == "checkpoint-8"
    assert sorted(os.listdir(tmp_path)) == ["checkpoint-16", "checkpoint-8"]  # best kept, beyond the limit of 1
    assert_same_weights(trainer.model, BertForSequenceClassification.from_pretrained(best))


def test_load_best_model_defaults_to_eval_loss(tmp_path):
    args = TrainingArguments(str(tmp_path), eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True)
    assert args.metric_for_best_model == "loss" and args.greater_is_better is False


@pytest.mark.parametrize("accum, stop_at, sampling", [(1, 5, "random"), (2, 4, "random"), (1, 7, "group_by_length")])
def test_exact_resume_mid_epoch_is_bitwise_equal(tmp_path, accum, stop_at, sampling):
    """Stopped at step k (mid-epoch, dropout on) and resumed == never stopped, bit for bit."""
    common = dict(
        num_train_epochs=2,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=accum,
        warmup_steps=2,
        weight_decay=0.01,
        train_sampling_strategy=sampling,
    )
    full = make_trainer(tmp_path / "full", **common)
    full.train()
    part = make_trainer(tmp_path / "part", callbacks=[StopAt(stop_at)], **common)
    part.train()
    assert part.state.global_step == stop_at and 0 < part.state.epoch < 1
    resumed = make_trainer(
        tmp_path / "part", model=tiny_model(seed=123), **common
    )  # other init: weights must come from the checkpoint
    resumed.train(resume_from_checkpoint=True)
    assert resumed.state.global_step == full.state.global_step
    assert_same_weights(full.model, resumed.model)


def test_resume_bad_paths(tmp_path):
    trainer = make_trainer(tmp_path / "out")
    with pytest.raises(ValueError, match="no checkpoint"):
        trainer.train(resume_from_checkpoint=True)
    with pytest.raises(ValueError, match="not a checkpoint folder"):
        trainer.train(resume_from_checkpoint=str(tmp_path))


def test_interrupted_save_leaves_previous_checkpoint(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, save_strategy="steps", save_steps=2, max_steps=4)
    calls = {"n": 0}
    real = torch.save

    def flaky_save(obj, path, *a, **k):
        if str(path).endswith("optimizer.pt"):
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError("disk full")
        return real(obj, path, *a, **k)

    monkeypatch.setattr(torch, "save", flaky_save)
    with pytest.raises(OSError, match="disk full"):
        trainer.train()
    assert sorted(os.listdir(tmp_path)) == ["checkpoint-2"]
    assert (tmp_path / "checkpoint-2" / "trainer_state.json").is_file()


def test_save_model(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=1)
    trainer.train()
    trainer.save_model(str(tmp_path / "final"))
    assert_same_weights(trainer.model, BertForSequenceClassification.from_pretrained(tmp_path / "final"))


# ------------------------------------------------------------------------------------------------
# schedules (against the reference's formulas)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["linear", "cosine", "constant", "constant_with_warmup", "polynomial"])
def test_scheduler_matches_reference(name):
    import transformers

    def lrs(factory):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        sched = factory(name, opt, num_warmup_steps=3, num_training_steps=10)
        out = []
        for _ in range(12):
            out.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
        return out

    assert lrs(get_scheduler) == pytest.approx(lrs(transformers.get_scheduler), abs=1e-12)


def test_warmup_ratio_and_fraction():
    args = TrainingArguments("x", warmup_ratio=0.1)
    assert args.get_warmup_steps(95) == 10
    assert TrainingArguments("x", warmup_steps=5).get_warmup_steps(95) == 5


# ------------------------------------------------------------------------------------------------
# bad inputs
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(eval_strategy="sometimes"), "eval_strategy"),
        (dict(lr_scheduler_type="triangle"), "lr_scheduler_type"),
        (dict(load_best_model_at_end=True), "load_best_model_at_end"),
        (dict(load_best_model_at_end=True, eval_strategy="steps", save_strategy="epoch"), "match"),
        (dict(report_to="wandb"), "report_to"),
        (dict(fp16=True), "fp16"),
        (dict(per_device_train_batch_size=0), "per_device_train_batch_size"),
        (dict(num_train_epochs=0), "nothing to train"),
        (dict(train_sampling_strategy="by_topic"), "train_sampling_strategy"),
    ],
)
def test_bad_training_arguments(kwargs, match):
    if kwargs.get("fp16") and torch.cuda.is_available():
        pytest.skip("fp16 is valid with a GPU")
    with pytest.raises(ValueError, match=match):
        TrainingArguments("x", **kwargs)


def test_dataset_without_labels(tmp_path):
    trainer = make_trainer(tmp_path, data=make_data(12, with_labels=False))
    with pytest.raises(ValueError, match="did not return a loss.*labels"):
        trainer.train()


def test_wrong_column_names(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([{"text": "a film", "label": 1}, {"text": "dull", "label": 0}])
    trainer = make_trainer(tmp_path, data=ds)
    with pytest.raises(ValueError, match=r"None of the columns .*\['text', 'label'\].*tokenize"):
        trainer.train()
    trainer = make_trainer(tmp_path, data=[{"ids": [1, 2, 3], "label": 0}])
    with pytest.raises(ValueError, match="input_ids"):
        trainer.train()


def test_nan_loss_stops_with_clear_message(tmp_path):
    model = tiny_model()
    with torch.no_grad():
        model.classifier.weight[0, 0] = float("nan")
    rec = Recorder()
    trainer = make_trainer(tmp_path, model=model, callbacks=[rec])
    with pytest.raises(TrainingDivergedError, match=r"loss became nan at step 1 .*learning_rate"):
        trainer.train()
    assert rec.events[-1] == "on_train_end"


def test_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    trainer = make_trainer(blocker / "out", save_strategy="steps", save_steps=2)
    with pytest.raises(PermissionError, match="not writable"):
        trainer.train()


def test_empty_and_iterable_datasets(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        make_trainer(tmp_path, data=[]).train()

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            yield from make_data(4)

    with pytest.raises(TypeError, match="IterableDataset"):
        make_trainer(tmp_path, data=Stream()).train()


def test_missing_model_and_eval_dataset(tmp_path):
    with pytest.raises(ValueError, match="needs a model"):
        Trainer(args=TrainingArguments(str(tmp_path)))
    trainer = make_trainer(tmp_path)
    with pytest.raises(ValueError, match="eval_dataset"):
        trainer.evaluate()
    trainer = make_trainer(tmp_path, eval_strategy="steps", eval_steps=1)
    with pytest.raises(ValueError, match="eval_dataset"):
        trainer.train()


# ------------------------------------------------------------------------------------------------
# distributed: torchrun with 2 gloo processes == one process with the same global batch
# ------------------------------------------------------------------------------------------------


DDP_SCRIPT = Path(__file__).with_name("ddp_train_script.py")
DDP_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def torchrun_two_processes(*script_args: str, timeout: float) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node 2 tests/ddp_train_script.py ARGS`` in a process group of its own, so that a hang
    (a rank waiting for the other) kills every process of it after ``timeout`` s and fails the test, not CI."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(DDP_SCRIPT),
        *script_args,
    ]
    with subprocess.Popen(
        command, env=DDP_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(f"torchrun hung for {timeout} s and was killed:\n{stdout[-3000:]}{stderr[-3000:]}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.mark.timeout(180)
def test_ddp_two_processes_match_single_process(tmp_path):
    ddp = torchrun_two_processes(str(tmp_path / "ddp"), "4", "every_rank", timeout=170)
    assert ddp.returncode == 0, ddp.stdout[-3000:] + ddp.stderr[-3000:]
    single = subprocess.run(
        [sys.executable, str(DDP_SCRIPT), str(tmp_path / "single"), "8"],
        env=DDP_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert single.returncode == 0, single.stdout[-3000:] + single.stderr[-3000:]
    from safetensors.torch import load_file

    a = load_file(str(tmp_path / "ddp" / "final" / "model.safetensors"))
    b = load_file(str(tmp_path / "single" / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4, msg=k)
    ddp_state = json.loads((tmp_path / "ddp" / "checkpoint-6" / "trainer_state.json").read_text())
    single_state = json.loads((tmp_path / "single" / "checkpoint-6" / "trainer_state.json").read_text())
    assert ddp_state["global_step"] == single_state["global_step"] == 6
    ddp_losses = [h["loss"] for h in ddp_state["log_history"] if "loss" in h]
    single_losses = [h["loss"] for h in single_state["log_history"] if "loss" in h]
    np.testing.assert_allclose(ddp_losses, single_losses, rtol=1e-4)
    # tokens and flos count every rank: 2 epochs x 24 rows x 10 tokens, in both runs
    assert ddp_state["num_input_tokens_seen"] == single_state["num_input_tokens_seen"] == 2 * 24 * 10
    assert ddp_state["total_flos"] == single_state["total_flos"] > 0
    # rank 0 alone wrote files: one checkpoint folder, no stray staging folders
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == ["checkpoint-6", "final"]


@pytest.mark.timeout(120)
def test_ddp_save_model_called_on_rank_zero_only(tmp_path):
    """``if trainer.is_world_process_zero(): trainer.save_model()`` (the other call pattern, every rank calling it,
    is the test above): rank 0 writes and waits for no other rank, as in the reference."""
    ddp = torchrun_two_processes(str(tmp_path), "4", "rank_zero", timeout=110)
    assert ddp.returncode == 0, ddp.stdout[-3000:] + ddp.stderr[-3000:]
    assert "world size 2 steps 6" in ddp.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-6", "final"]
    saved = BertForSequenceClassification.from_pretrained(tmp_path / "final")
    checkpoint = BertForSequenceClassification.from_pretrained(tmp_path / "checkpoint-6")
    for (name, a), (_, b) in zip(saved.state_dict().items(), checkpoint.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert (tmp_path / "final" / "training_args.json").is_file()


# ------------------------------------------------------------------------------------------------
# progress displays
# ------------------------------------------------------------------------------------------------


def test_terminal_progress_display(tmp_path, capsys):
    from workbench.training import ProgressCallback

    trainer = make_trainer(tmp_path, max_steps=4, disable_tqdm=False)
    assert any(isinstance(cb, ProgressCallback) for cb in trainer.callback_handler.callbacks)
    trainer.train()
    captured = capsys.readouterr()
    assert "4/4" in captured.err  # the bar
    assert "loss=" in captured.out and "train_runtime=" in captured.out  # the logs, printed under it


def test_notebook_progress_html():
    from workbench.training import NotebookProgressCallback, TrainerState

    cb = NotebookProgressCallback()
    cb.start, cb.first_step = 0.0, 0
    cb.rows = [{"step": 5, "loss": 0.5, "learning_rate": 1e-4}, {"step": 10, "eval_loss": 0.4, "eval_accuracy": 0.8}]
    html = cb._html(TrainerState(global_step=10, max_steps=20, epoch=0.5, num_train_epochs=1))
    assert "<progress value='10' max='20'" in html and "eval_accuracy" in html and "0.8000" in html


def test_token_classification_predict_pads_across_batches(tmp_path):
    """Batches of different lengths: logits and labels are concatenated, padded with -100."""
    from workbench import BertForTokenClassification, DataCollatorForTokenClassification

    torch.manual_seed(0)
    model = BertForTokenClassification(
        BertConfig(
            vocab_size=VOCAB,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=4,
            intermediate_size=37,
            num_labels=3,
        )
    )
    rows = [{"input_ids": list(range(10, 10 + n)), "labels": [i % 3 for i in range(n)]} for n in (3, 9, 4, 5)]
    args = TrainingArguments(str(tmp_path), per_device_eval_batch_size=2, report_to="none", disable_tqdm=True)
    trainer = Trainer(model=model, args=args, data_collator=DataCollatorForTokenClassification(TinyTokenizer()))
    out = trainer.predict(rows)
    assert out.predictions.shape == (4, 9, 3) and out.label_ids.shape == (4, 9)
    assert (out.label_ids[0, 3:] == -100).all() and (out.label_ids[2, 5:] == -100).all()
    assert out.label_ids[1].tolist() == [i % 3 for i in range(9)]
    assert math.isfinite(out.metrics["test_loss"])


def test_eval_dataset_dict_prefixes(tmp_path):
    trainer = make_trainer(tmp_path, eval_data={"a": make_data(4), "b": make_data(6, seed=5)})
    metrics = trainer.evaluate(trainer.eval_dataset)
    assert {"eval_a_loss", "eval_a_accuracy", "eval_b_loss", "eval_b_accuracy"} <= set(metrics)


def test_second_train_call_gets_a_fresh_schedule(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=3, logging_steps=1)
    trainer.train()
    trainer.train()
    lrs = [h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h]
    assert lrs[0] == pytest.approx(1e-3 * 2 / 3) and lrs[-1] == 0.0


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_evaluate_causal_lm_ignores_the_kv_cache(family, tmp_path):
    if family == "gpt2":
        model = workbench.GPT2LMHeadModel(
            workbench.GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50, n_positions=32)
        )
    else:
        model = workbench.LlamaForCausalLM(
            workbench.LlamaConfig(
                num_hidden_layers=1,
                num_attention_heads=2,
                num_key_value_heads=1,
                hidden_size=16,
                intermediate_size=32,
                vocab_size=50,
            )
        )
    rows = [{"input_ids": list(range(1, 9)), "labels": list(range(1, 9))} for _ in range(4)]
    trainer = workbench.Trainer(
        model=model,
        args=workbench.TrainingArguments(
            output_dir=str(tmp_path), per_device_eval_batch_size=2, report_to="none", disable_tqdm=True
        ),
        eval_dataset=rows,
    )
    metrics = trainer.evaluate()
    assert "eval_loss" in metrics
    assert trainer.predict(rows).predictions.shape == (4, 8, 50)
