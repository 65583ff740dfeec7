"""Weight files on disk: reading a checkpoint's tensors lazily (safetensors, one file or a sharded index, or a
PyTorch ``.bin`` read with ``weights_only``), and cutting a state dict into shards for saving.

``modeling.PreTrainedModel`` loads through ``CheckpointReader`` (shapes and dtypes are read from the file headers
without loading a tensor; tensors come memory-mapped, one at a time) and saves with ``split_into_shards``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import torch

from . import hub

SAFE_WEIGHTS_NAME = "model.safetensors"
SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
TORCH_WEIGHTS_NAME = "pytorch_model.bin"
TORCH_WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json"


class CheckpointReader:
    """The tensors of a checkpoint, read lazily: safetensors (one file or a sharded index) or .bin."""

    def __init__(self, name_or_path: str, hub_kwargs: dict[str, Any]):
        self.name = name_or_path
        self.key_to_file: dict[str, str] = {}
        self._open: dict[str, Any] = {}
        for single, index in (
            (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME),
            (TORCH_WEIGHTS_NAME, TORCH_WEIGHTS_INDEX_NAME),
        ):
            path = hub.resolve_file(name_or_path, single, required=False, **hub_kwargs)
            if path:
                self._add_file(path)
                return
            index_path = hub.resolve_file(name_or_path, index, required=False, **hub_kwargs)
            if index_path:
                with open(index_path, encoding="utf-8") as f:
                    weight_map = json.load(f)["weight_map"]
                files = {
                    shard: hub.resolve_file(name_or_path, shard, **hub_kwargs)
                    for shard in sorted(set(weight_map.values()))
                }
                for key, shard in weight_map.items():
                    self.key_to_file[key] = files[shard]
                return
        raise hub.CheckpointNotFoundError(
            f"{name_or_path!r} has a config.json but no weights: none of {SAFE_WEIGHTS_NAME}, "
            f"{SAFE_WEIGHTS_INDEX_NAME}, {TORCH_WEIGHTS_NAME}, {TORCH_WEIGHTS_INDEX_NAME} was found."
        )

    def _add_file(self, path: str) -> None:
        for key in self._handle(path).keys():
            self.key_to_file[key] = path

    def _handle(self, path: str):
        if path not in self._open:
            if path.endswith(".safetensors"):
                from safetensors import SafetensorError, safe_open

                try:
                    self._open[path] = _SafetensorsFile(safe_open(path, framework="pt"))
                except (SafetensorError, OSError) as e:
                    raise OSError(
                        f"{path} is not a readable safetensors file ({e}). The download may be "
                        "incomplete or the file damaged: delete it and download it again."
                    ) from e
            else:
                self._open[path] = _BinFile(path)
        return self._open[path]

    def keys(self) -> list[str]:
        return list(self.key_to_file)

    def shape(self, key: str) -> tuple[int, ...]:
        return self._handle(self.key_to_file[key]).get_slice(key).shape

    def dtype(self, key: str) -> torch.dtype:
        return self._handle(self.key_to_file[key]).get_slice(key).dtype

    def tensor(self, key: str) -> torch.Tensor:
        from safetensors import SafetensorError

        try:
            return self._handle(self.key_to_file[key]).get_tensor(key)
        except SafetensorError as e:
            raise OSError(f"Could not read {key} from {self.key_to_file[key]} ({e}); the file is damaged.") from e


class _TensorInfo:
    """Shape and dtype of a stored tensor, read without loading it."""

    def __init__(self, shape, dtype: torch.dtype):
        self.shape = tuple(shape)
        self.dtype = dtype


class _SafetensorsFile:
    """A memory-mapped safetensors file with the same small interface as ``_BinFile``."""

    def __init__(self, handle):
        self.handle = handle

    def keys(self):
        return self.handle.keys()

    def get_tensor(self, key):
        return self.handle.get_tensor(key)

    def get_slice(self, key):
        stored = self.handle.get_slice(key)
        return _TensorInfo(stored.get_shape(), _SAFETENSORS_DTYPES[stored.get_dtype()])


_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


class _BinFile:
    """A PyTorch ``.bin`` state dict, read with ``weights_only=True``: tensors only, never pickled code."""

    def __init__(self, path: str):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception as e:  # torch raises UnpicklingError (or RuntimeError) for anything but tensors
            raise OSError(
                f"Refusing to load {path}: it is not a plain tensor state dict ({type(e).__name__}: "
                f"{str(e).splitlines()[0] if str(e) else ''}). Pickled .bin files can run code, so only "
                "weights_only loading is allowed; convert the checkpoint to safetensors."
            ) from e
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise OSError(f"Refusing to load {path}: it does not hold a dict of tensors.")
        self.state = state

    def keys(self):
        return self.state.keys()

    def get_tensor(self, key):
        return self.state[key]

    def get_slice(self, key):
        return _TensorInfo(self.state[key].shape, self.state[key].dtype)


def parse_size(size: int | str) -> int:
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]i?B)?\s*", size.upper().replace("IB", "iB"))
    if not match:
        raise ValueError(f"max_shard_size={size!r} is not a size such as '5GB', '200MB' or an int of bytes.")
    units = {None: 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
    return int(float(match.group(1)) * units[match.group(2)])


def split_into_shards(state_dict: dict[str, torch.Tensor], max_bytes: int) -> list[dict[str, torch.Tensor]]:
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, tensor in state_dict.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_bytes:
            shards.append({})
            size = 0
        shards[-1][key] = tensor
        size += nbytes
    return shards
