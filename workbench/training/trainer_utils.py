"""The Trainer's helpers that need no Trainer: what it returns, seeding and RNG state, checkpoint folders, batches.

- ``EvalPrediction`` (what ``compute_metrics`` receives) and the named tuples ``train``, ``predict`` and the
  evaluation loop return;
- ``set_seed`` and the RNG states saved in a checkpoint, so that a resumed run repeats the random draws;
- checkpoint folders (``output_dir/checkpoint-N/``): found, written into a hidden folder that is renamed into
  place (an interrupted save never leaves a half-written checkpoint), rotated, read back;
- processes under torchrun: joining the process group, sums over all ranks;
- batches: examples stripped of the keys the model does not take, and predictions gathered into numpy arrays.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

PREFIX_CHECKPOINT_DIR = "checkpoint"
TRAINER_STATE_NAME = "trainer_state.json"
TRAINING_ARGS_NAME = "training_args.json"
OPTIMIZER_NAME = "optimizer.pt"
SCHEDULER_NAME = "scheduler.pt"
WEIGHTS_NAME = "model.safetensors"
_CHECKPOINT_RE = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


# ================================================================================================
# What the Trainer returns
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


# ================================================================================================
# Seeding and RNG state
# ================================================================================================


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _rng_state() -> dict[str, Any]:
    numpy_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [
            numpy_state[0],
            torch.from_numpy(numpy_state[1].copy()),
            int(numpy_state[2]),
            int(numpy_state[3]),
            float(numpy_state[4]),
        ],
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


def _all_ranks_rng_states(world_size: int) -> list[dict[str, Any]]:
    """The RNG state of every process, in rank order (one process: its own)."""
    if world_size <= 1:
        return [_rng_state()]
    import torch.distributed as dist

    # tensors are sent as bytes: all_gather_object can't pickle tensor storages reliably
    rng_states = [None] * world_size
    dist.all_gather_object(rng_states, _tensors_to_bytes(_rng_state()))
    return [_bytes_to_tensors(r) for r in rng_states]


def _load_rng_state(checkpoint: str, rank: int | None) -> dict | None:
    """The RNG state a checkpoint saved for process ``rank`` (None: a single process), or None if it has none."""
    folder = Path(checkpoint)
    path = folder / ("rng_state.pth" if rank is None else f"rng_state_{rank}.pth")
    if not path.is_file():
        path = folder / "rng_state.pth"
    if not path.is_file():
        logger.warning("%s has no RNG state: the resumed run will not be bitwise reproducible.", checkpoint)
        return None
    return torch.load(path, weights_only=True)


# ================================================================================================
# Checkpoint folders
# ================================================================================================


def get_last_checkpoint(folder: str | os.PathLike) -> str | None:
    """The ``checkpoint-N`` folder with the largest N inside ``folder`` (None if there is none)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = [
        (int(m.group(1)), p)
        for p in folder.iterdir()
        if p.is_dir() and (m := _CHECKPOINT_RE.match(p.name)) and (p / TRAINER_STATE_NAME).is_file()
    ]
    return str(max(found)[1]) if found else None


def _sorted_checkpoints(folder: str | os.PathLike) -> list[str]:
    folder = Path(folder)
    found = [(int(m.group(1)), str(p)) for p in folder.iterdir() if p.is_dir() and (m := _CHECKPOINT_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def _check_output_dir_writable(output_dir: str) -> None:
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as e:
        raise PermissionError(
            f"output_dir {str(out)!r} is not writable ({e.strerror or e}). Checkpoints and the final model are "
            "saved there: choose a folder you can write to, e.g. TrainingArguments(output_dir='my_run')."
        ) from e


def _resolve_checkpoint(resume_from_checkpoint, output_dir: str) -> str | None:
    """The checkpoint folder that ``train(resume_from_checkpoint=...)`` names (True: the last in output_dir)."""
    if resume_from_checkpoint is None or resume_from_checkpoint is False:
        return None
    if resume_from_checkpoint is True:
        last = get_last_checkpoint(output_dir)
        if last is None:
            raise ValueError(
                f"resume_from_checkpoint=True, but there is no checkpoint-N folder with a "
                f"{TRAINER_STATE_NAME} in output_dir {output_dir!r}."
            )
        return last
    path = os.fspath(resume_from_checkpoint)
    if not os.path.isfile(os.path.join(path, TRAINER_STATE_NAME)):
        raise ValueError(
            f"Can't resume from {path!r}: it is not a checkpoint folder (no {TRAINER_STATE_NAME}). "
            f"Pass a checkpoint-N folder from output_dir, or resume_from_checkpoint=True for the last one."
        )
    return path


@contextlib.contextmanager
def _staged_folder(final: Path):
    """A hidden folder beside ``final`` to write into; renamed to ``final`` once the writing is done, removed if
    it fails, so an interrupted save never leaves a half-written checkpoint."""
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}-saving-"))
    try:
        yield staging
        if final.exists():  # the same step saved twice: swap the new one in, then drop the old
            old = final.parent / f".{final.name}-old-{os.getpid()}"
            os.replace(final, old)
            os.replace(staging, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _save_model_files(model: nn.Module, processing_class: Any, folder: Path) -> None:
    """The model (config.json + model.safetensors) and the processing class's files, into ``folder``."""
    if hasattr(model, "save_pretrained"):
        model.save_pretrained(folder)
    else:
        from safetensors.torch import save_file

        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(_dedupe_shared(state), str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
    if processing_class is not None and hasattr(processing_class, "save_pretrained"):
        processing_class.save_pretrained(folder)


def _save_training_state(folder: Path, optimizer, lr_scheduler, rng_states: list[dict[str, Any]]) -> None:
    """What a resumed run needs besides the model: optimizer, scheduler, and every rank's RNG state."""
    torch.save(optimizer.state_dict(), folder / OPTIMIZER_NAME)
    torch.save(lr_scheduler.state_dict(), folder / SCHEDULER_NAME)
    for rank, rng in enumerate(rng_states):
        torch.save(rng, folder / ("rng_state.pth" if len(rng_states) == 1 else f"rng_state_{rank}.pth"))


def _load_training_state(checkpoint: str, optimizer, lr_scheduler, device: torch.device) -> None:
    """Load the optimizer and scheduler states of a checkpoint (the RNG state is restored later, at the save point)."""
    folder = Path(checkpoint)
    if (folder / OPTIMIZER_NAME).is_file():
        optimizer.load_state_dict(torch.load(folder / OPTIMIZER_NAME, map_location=device, weights_only=True))
    else:
        logger.warning("%s has no %s: the optimizer starts fresh.", checkpoint, OPTIMIZER_NAME)
    if (folder / SCHEDULER_NAME).is_file():
        lr_scheduler.load_state_dict(torch.load(folder / SCHEDULER_NAME, weights_only=True))


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


def _rotate_checkpoints(args, best_model_checkpoint: str | None) -> None:
    """Delete the oldest checkpoints beyond ``args.save_total_limit``, keeping the last and the best."""
    limit = args.save_total_limit
    if not limit or not args.should_save or not os.path.isdir(args.output_dir):
        return
    checkpoints = _sorted_checkpoints(args.output_dir)
    keep = {checkpoints[-1]} if checkpoints else set()
    if best_model_checkpoint is not None:
        keep |= {c for c in checkpoints if os.path.abspath(c) == os.path.abspath(best_model_checkpoint)}
    removable = [c for c in checkpoints if c not in keep]
    excess = len(checkpoints) - max(limit, len(keep))
    for path in removable[: max(0, excess)]:
        logger.info("Deleting older checkpoint %s (save_total_limit=%d)", path, limit)
        shutil.rmtree(path, ignore_errors=True)


def _load_model_weights(model: nn.Module, checkpoint: str) -> None:
    """Load the model weights of a checkpoint into ``model``; fail loudly if they do not match it."""
    from safetensors.torch import load_file

    folder = Path(checkpoint)
    files = sorted(folder.glob("model*.safetensors"))
    if not files:
        raise FileNotFoundError(f"The checkpoint {checkpoint!r} holds no model*.safetensors weights.")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(str(f)))
    expected = model.state_dict()
    if not any(k in expected for k in state):
        raise ValueError(f"The weights in {checkpoint!r} do not belong to {type(model).__name__} (no key matches).")
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = set(getattr(model, "_active_tie_aliases", lambda: set())())
    missing = [k for k in missing if k not in tied and not k.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(
            f"The checkpoint {checkpoint!r} does not match {type(model).__name__}: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}."
        )
    if hasattr(model, "tie_weights"):
        with contextlib.suppress(Exception):
            model.tie_weights()


# ================================================================================================
# Processes (torchrun)
# ================================================================================================


def _join_process_group(args) -> None:
    """Join the process group of the processes torchrun started: gloo on CPU, nccl on GPU."""
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = args.ddp_backend or ("nccl" if args.device.type == "cuda" else "gloo")
        if args.device.type == "cuda":
            torch.cuda.set_device(args.device)
        dist.init_process_group(backend=backend)


def _sum_across_ranks(value: float, args) -> float:
    """``value`` summed over all processes (``value`` itself in a single process)."""
    if args.world_size <= 1:
        return value
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64, device=args.device if args.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return t.item()


# ================================================================================================
# Datasets, batches, predictions, metrics
# ================================================================================================


def _is_hf_dataset(dataset: Any) -> bool:
    return hasattr(dataset, "column_names") and hasattr(dataset, "remove_columns") and hasattr(dataset, "features")


def _check_columns(columns: list[str], model_inputs: list[str], description: str, model: nn.Module) -> None:
    if not any(c in model_inputs for c in columns):
        hint = ""
        if any(c in ("text", "sentence", "sentence1", "question", "tokens") for c in columns):
            hint = (
                " It looks untokenized: map it through the tokenizer first, e.g. "
                "dataset.map(lambda b: tokenizer(b['text'], truncation=True), batched=True)."
            )
        raise ValueError(
            f"None of the columns of the {description} ({columns}) is an input of "
            f"{type(model).__name__}.forward, which takes {model_inputs}.{hint}"
        )


def _prepare_dataset(
    dataset: Any,
    description: str,
    model: nn.Module,
    model_inputs: list[str],
    keep: set[str],
    remove_unused_columns: bool,
) -> Any:
    """Check that ``dataset`` is a non-empty map-style dataset whose examples hold some of ``model_inputs``, and
    drop the columns of a datasets.Dataset that are not in ``keep`` (when ``remove_unused_columns``)."""
    if dataset is None:
        return None
    if isinstance(dataset, torch.utils.data.IterableDataset):
        raise TypeError(
            f"The {description} is an IterableDataset; the Trainer needs a map-style dataset "
            "(with __len__ and __getitem__), e.g. a datasets.Dataset or a list of dicts."
        )
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError(f"The {description} ({type(dataset).__name__}) needs __len__ and __getitem__.")
    if len(dataset) == 0:
        raise ValueError(f"The {description} is empty.")
    if not remove_unused_columns:
        return dataset
    if _is_hf_dataset(dataset):
        columns = list(dataset.column_names)
        _check_columns(columns, model_inputs, description, model)
        unused = [c for c in columns if c not in keep]
        if unused:
            logger.info(
                "The following columns of the %s are not used by %s and are removed: %s",
                description,
                type(model).__name__,
                unused,
            )
            dataset = dataset.remove_columns(unused)
    elif isinstance(dataset[0], dict):
        _check_columns(list(dataset[0]), model_inputs, description, model)
    return dataset


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
                logger.info(
                    "The %s has keys the model does not take; they are ignored: %s", self.describe, sorted(dropped)
                )
                self.warned = True
            features = [{k: v for k, v in f.items() if k in self.keep} for f in features]
        return self.collator(features)


def _batch_size(inputs: dict[str, Any]) -> int:
    for v in inputs.values():
        if isinstance(v, torch.Tensor) and v.dim() > 0:
            return int(v.shape[0])
    return 1


def _to_python(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return value


def _pad_and_concat(arrays: list[np.ndarray], padding_index: int = -100) -> np.ndarray:
    """Concatenate along the batch axis, padding other axes (e.g. sequence length) with ``padding_index``."""
    if all(a.shape[1:] == arrays[0].shape[1:] for a in arrays):
        return np.concatenate(arrays, axis=0)
    shape = (sum(a.shape[0] for a in arrays),) + tuple(
        max(a.shape[d] for a in arrays) for d in range(1, arrays[0].ndim)
    )
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


def _flos_parameters(model: nn.Module) -> int:
    """The parameter count in the reference's estimate total_flos = 6 * parameters * tokens (per token,
    2 flops per parameter forward and 4 backward); embedding tables are lookups, not matmuls, so they
    are left out, as in the reference."""
    if hasattr(model, "num_parameters"):
        return model.num_parameters(exclude_embeddings=True)
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    return sum(p.numel() for p in model.parameters() if id(p) not in embeddings)


def _add_speed_metrics(metrics, prefix, start, num_samples, num_steps):
    runtime = time.time() - start
    metrics[f"{prefix}_runtime"] = round(runtime, 4)
    metrics[f"{prefix}_samples_per_second"] = round(num_samples / runtime, 3) if runtime else float("inf")
    metrics[f"{prefix}_steps_per_second"] = round(num_steps / runtime, 3) if runtime else float("inf")
