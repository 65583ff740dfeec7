"""Data set adapters for pipelines, as in the reference's ``transformers.pipelines.pt_utils``.

``pipe(KeyDataset(dataset, "text"))`` runs a pipeline over one column of a data set (a ``datasets.Dataset``, or
anything indexable whose items are dicts) and gives the answers one at a time as they are computed::

    from workbench.pipelines.pt_utils import KeyDataset

    for out in pipe(KeyDataset(dataset, "text"), batch_size=8):
        print(out)

``KeyPairDataset(dataset, "premise", "hypothesis")`` gives ``{"text": ..., "text_pair": ...}`` items, the input
of sentence-pair classification.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

__all__ = ["KeyDataset", "KeyPairDataset"]


class KeyDataset(Dataset):
    """The ``key`` field of every item of ``dataset``."""

    def __init__(self, dataset: Any, key: str):
        self.dataset = dataset
        self.key = key

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:
        return self.dataset[i][self.key]


class KeyPairDataset(Dataset):
    """The ``key1`` and ``key2`` fields of every item of ``dataset``, as a text pair."""

    def __init__(self, dataset: Any, key1: str, key2: str):
        self.dataset = dataset
        self.key1 = key1
        self.key2 = key2

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"text": self.dataset[i][self.key1], "text_pair": self.dataset[i][self.key2]}
