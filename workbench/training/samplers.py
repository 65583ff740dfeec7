"""The order in which the Trainer reads its examples, epoch by epoch and rank by rank, and the DataLoader that
reads them in that order (``epoch_dataloader``).

``train_sampling_strategy="group_by_length"`` (or ``group_by_length=True``) orders each epoch so
that a batch holds examples of similar lengths (``length_grouped_indices``): with dynamic padding
a batch is then padded to about its own length, not to the longest of a random draw, which saves
the compute spent on padding. Off by default, as in the reference, since it changes the data order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from .trainer_utils import _is_hf_dataset


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
    megabatches = [
        sorted(shuffled[start : start + megabatch_size], key=lengths.__getitem__, reverse=True)
        for start in range(0, len(shuffled), megabatch_size)
    ]
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

    def __init__(
        self,
        dataset_len: int,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int,
        epoch: int,
        num_replicas: int,
        rank: int,
        drop_last: bool,
        skip: int = 0,
        lengths: list[int] | None = None,
        group_size: int | None = None,
    ):
        from torch.utils.data import DistributedSampler

        class _Sized:
            def __len__(self):
                return dataset_len

        self.sampler = DistributedSampler(
            _Sized(), num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=False
        )
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
        return order[self.sampler.rank :: replicas]

    def _full_len(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __len__(self) -> int:
        return max(0, self._full_len() - self.skip)

    def __iter__(self):
        indices = self._rank_indices()
        for b in range(self.skip, self._full_len()):
            yield indices[b * self.batch_size : (b + 1) * self.batch_size]


def _example_lengths(dataset: Any, column: str, name: str) -> list[int]:
    """Each example's length for group_by_length: the ``length_column_name`` column of a
    datasets.Dataset when it has one, else the length of the model's main input (``name``: input_ids)."""
    if _is_hf_dataset(dataset) and column in dataset.column_names:
        return [int(n) for n in dataset[column]]
    first = dataset[0]
    if not isinstance(first, Mapping) or name not in first:
        found = sorted(first) if isinstance(first, Mapping) else type(first).__name__
        raise ValueError(
            f"train_sampling_strategy='group_by_length' needs each example's length: give the dataset a "
            f"{column!r} column (TrainingArguments.length_column_name) or a {name!r} field; its examples have {found}."
        )
    values = dataset[name] if _is_hf_dataset(dataset) else (dataset[i][name] for i in range(len(dataset)))
    return [len(v) for v in values]


def epoch_dataloader(
    dataset: Any,
    batch_size: int,
    collate_fn: Any,
    args: Any,
    *,
    training: bool,
    epoch: int = 0,
    skip: int = 0,
    lengths: list[int] | None = None,
) -> torch.utils.data.DataLoader:
    """The DataLoader of one epoch. Training: this rank's share of the epoch's shuffled order (grouped by
    ``lengths`` when given), the first ``skip`` batches left out. Evaluation: the whole dataset, in order, on
    every rank. The orders and the workers' seeds are functions of (seed, epoch), not of the global RNG."""
    seed = args.data_seed if args.data_seed is not None else args.seed
    num_replicas, rank = (args.world_size, args.process_index) if training else (1, 0)
    batch_sampler = _EpochBatchSampler(
        len(dataset),
        batch_size,
        shuffle=training,
        seed=seed,
        epoch=epoch,
        num_replicas=num_replicas,
        rank=rank,
        drop_last=args.dataloader_drop_last and training,
        skip=skip,
        lengths=lengths,
        group_size=batch_size * args.gradient_accumulation_steps * num_replicas,
    )
    generator = torch.Generator()
    generator.manual_seed(seed + epoch)
    pin_memory = args.dataloader_pin_memory and args.device.type == "cuda"
    return torch.utils.data.DataLoader(
        dataset,
        batch_sampler=batch_sampler,
        collate_fn=collate_fn,
        num_workers=args.dataloader_num_workers,
        generator=generator,
        pin_memory=pin_memory,
    )
