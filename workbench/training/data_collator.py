"""Data collators: turn a list of examples (dicts of lists or tensors) into one padded batch of tensors.

The names and behaviour are the reference's:

- ``DefaultDataCollator`` / ``default_data_collator``: stack what is already the same length;
  ``label``/``label_ids`` become ``labels``.
- ``DataCollatorWithPadding``: pad ``input_ids``, ``attention_mask``, ``token_type_ids`` ... to the
  longest example of the batch (dynamic padding), on the tokenizer's ``padding_side``.
- ``DataCollatorForTokenClassification``: the same, and pads per-token ``labels`` with -100.
- ``DataCollatorForMultipleChoice``: pads every choice of every example to one length and returns
  ``(batch, num_choices, seq)`` tensors.
- ``DataCollatorForLanguageModeling``: masked-LM masking (``mlm=True``: 15% of tokens, of which
  80% become [MASK], 10% a random token, 10% stay) or causal-LM labels (``mlm=False``).
- ``DataCollatorForSeq2Seq``: pads inputs, pads ``labels`` with -100, and builds
  ``decoder_input_ids`` when the model can make them from labels.

Padding is done here with the tokenizer's ``pad_token_id`` and ``padding_side``, so any tokenizer
object with those attributes works. Random masking uses ``torch``'s global RNG (seeded by the
Trainer), or a private generator when a ``seed`` is given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# keys and the value they are padded with (input_ids uses the tokenizer's pad id)
_PAD_VALUES = {
    "attention_mask": 0,
    "token_type_ids": 0,
    "special_tokens_mask": 1,
    "position_ids": 0,
    "decoder_attention_mask": 0,
}
_SEQUENCE_KEYS = ("input_ids", "attention_mask", "token_type_ids", "special_tokens_mask", "position_ids")


def _check_return_tensors(return_tensors: str) -> None:
    if return_tensors != "pt":
        raise ValueError(
            f"return_tensors={return_tensors!r} is not supported: workbench collators return PyTorch "
            "tensors (return_tensors='pt')."
        )


def _check_features(features: Any, name: str) -> list:
    if not isinstance(features, (list, tuple)):
        raise TypeError(f"{name} takes a list of examples, got {type(features).__name__}.")
    if len(features) == 0:
        raise ValueError(f"{name} got an empty list of examples.")
    return list(features)


def _as_dict(feature: Any) -> dict:
    if isinstance(feature, Mapping):
        return dict(feature)
    if hasattr(feature, "__dict__"):
        return dict(vars(feature))
    raise TypeError(f"An example must be a dict of features, got {type(feature).__name__}.")


def _to_tensor(values: list[Any], key: str) -> torch.Tensor:
    first = values[0]
    if isinstance(first, torch.Tensor):
        return torch.stack([torch.as_tensor(v) for v in values])
    if isinstance(first, np.ndarray):
        return torch.from_numpy(np.stack(values))
    try:
        return torch.tensor(values)
    except (ValueError, TypeError) as e:
        lengths = sorted({len(v) for v in values if hasattr(v, "__len__")})
        if len(lengths) > 1:
            raise ValueError(
                f"The examples' {key!r} have different lengths ({lengths[0]}..{lengths[-1]}) and this collator does "
                "not pad. Use DataCollatorWithPadding(tokenizer), or tokenize with padding='max_length'."
            ) from e
        raise ValueError(f"Can't make a tensor of the examples' {key!r}: {e}") from e


def torch_default_data_collator(features: list[Any]) -> dict[str, torch.Tensor]:
    features = [_as_dict(f) for f in _check_features(features, "default_data_collator")]
    first = features[0]
    batch: dict[str, torch.Tensor] = {}
    label = first.get("label", first.get("label_ids"))
    label_key = "label" if "label" in first else "label_ids"
    if label is not None:
        labels = [f[label_key] for f in features]
        if isinstance(label, torch.Tensor):
            batch["labels"] = torch.stack([torch.as_tensor(v) for v in labels])
        else:
            if isinstance(label, (list, tuple)):
                dtype = torch.long if isinstance(label[0], (int, np.integer)) else torch.float
            else:
                dtype = torch.long if isinstance(label, (int, np.integer)) else torch.float
            batch["labels"] = (
                torch.tensor(np.array(labels), dtype=dtype)
                if isinstance(label, np.ndarray)
                else torch.tensor(labels, dtype=dtype)
            )
    for key, value in first.items():
        if key in ("label", "label_ids") or value is None or isinstance(value, str):
            continue
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
            continue
        batch[key] = _to_tensor([f[key] for f in features], key)
    return batch


def default_data_collator(features: list[Any], return_tensors: str = "pt") -> dict[str, torch.Tensor]:
    """Stack examples of equal length into tensors; ``label``/``label_ids`` become ``labels``."""
    _check_return_tensors(return_tensors)
    return torch_default_data_collator(features)


@dataclass
class DefaultDataCollator:
    return_tensors: str = "pt"

    def __call__(self, features: list[Any], return_tensors: str | None = None) -> dict[str, torch.Tensor]:
        return default_data_collator(features, return_tensors or self.return_tensors)


def _target_length(
    lengths: list[int], padding: Any, max_length: int | None, pad_to_multiple_of: int | None
) -> int | None:
    """The length to pad to, or None for no padding."""
    if padding in (False, "do_not_pad"):
        return None
    if padding in (True, "longest"):
        length = max(lengths)
    elif padding == "max_length":
        if max_length is None:
            raise ValueError("padding='max_length' needs max_length=...")
        length = max_length
    else:
        raise ValueError(f"padding={padding!r} is not one of True, False, 'longest', 'max_length', 'do_not_pad'.")
    if pad_to_multiple_of:
        length = -(-length // pad_to_multiple_of) * pad_to_multiple_of
    return length


def _pad_rows(rows: list[list[int]], length: int, value: int, side: str) -> list[list[int]]:
    out = []
    for row in rows:
        row = list(row)
        extra = [value] * (length - len(row))
        out.append(extra + row if side == "left" else row + extra)
    return out


def _pad_token_id(tokenizer: Any) -> int:
    if tokenizer is None:
        raise ValueError("This collator pads, so it needs the tokenizer: DataCollatorWithPadding(tokenizer=tokenizer).")
    pad_id = getattr(tokenizer, "pad_token_id", None)
    if pad_id is None:
        raise ValueError(
            f"The tokenizer ({type(tokenizer).__name__}) has no padding token, so batches can't be padded. "
            "Set one, e.g. tokenizer.pad_token = tokenizer.eos_token."
        )
    return int(pad_id)


def pad_features(
    features: list[dict],
    tokenizer: Any,
    padding: Any = True,
    max_length: int | None = None,
    pad_to_multiple_of: int | None = None,
    skip_keys: tuple[str, ...] = (),
) -> dict[str, torch.Tensor]:
    """Pad the sequence keys of ``features`` (input_ids, attention_mask, ...) and tensorize everything else."""
    side = getattr(tokenizer, "padding_side", "right") or "right"
    if side not in ("left", "right"):
        raise ValueError(f"tokenizer.padding_side must be 'left' or 'right', got {side!r}.")
    first = features[0]
    if "input_ids" not in first:
        raise ValueError(
            f"The examples have no 'input_ids' (they have {sorted(first)}); tokenize the text first, "
            "e.g. dataset.map(lambda b: tokenizer(b['text'], truncation=True), batched=True)."
        )
    lengths = [len(f["input_ids"]) for f in features]
    length = _target_length(lengths, padding, max_length, pad_to_multiple_of)
    pad_id = _pad_token_id(tokenizer) if length is not None and any(n != length for n in lengths) else 0
    if length is not None and max(lengths) > length:
        length = max(lengths)  # never truncate here (the reference doesn't either)
    batch: dict[str, torch.Tensor] = {}
    for key in first:
        if key in skip_keys or first[key] is None or isinstance(first[key], str):
            continue
        values = [f[key] for f in features]
        values = [v.tolist() if isinstance(v, (torch.Tensor, np.ndarray)) else v for v in values]
        is_sequence = key in _SEQUENCE_KEYS or (
            isinstance(values[0], (list, tuple))
            and all(hasattr(v, "__len__") and len(v) == n for v, n in zip(values, lengths))
        )
        if is_sequence and length is not None and key not in ("label", "label_ids", "labels"):
            value = pad_id if key == "input_ids" else _PAD_VALUES.get(key, 0)
            values = _pad_rows(values, length, value, side)
        batch[key] = _to_tensor(values, key)
    # like the reference's tokenizer.pad: a mask whenever the tokenizer's inputs include one (and always when padded)
    wants_mask = "attention_mask" in (getattr(tokenizer, "model_input_names", None) or ())
    padded = length is not None and any(n != length for n in lengths)
    if "attention_mask" not in batch and (wants_mask or padded):
        batch["attention_mask"] = torch.tensor(_pad_rows([[1] * n for n in lengths], length or max(lengths), 0, side))
    return batch


@dataclass
class DataCollatorWithPadding:
    """Pad each batch to its longest example (``padding=True``), or to ``max_length``."""

    tokenizer: Any
    padding: Any = True
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    return_tensors: str = "pt"

    def __post_init__(self):
        _check_return_tensors(self.return_tensors)

    def __call__(self, features: list[Any]) -> dict[str, torch.Tensor]:
        features = [_as_dict(f) for f in _check_features(features, type(self).__name__)]
        labels_key = next((k for k in ("label", "label_ids", "labels") if k in features[0]), None)
        batch = pad_features(
            features,
            self.tokenizer,
            self.padding,
            self.max_length,
            self.pad_to_multiple_of,
            skip_keys=("label", "label_ids", "labels"),
        )
        if labels_key is not None:
            labels = [f[labels_key] for f in features]
            if isinstance(labels[0], torch.Tensor):
                batch["labels"] = torch.stack(labels)
            else:
                first = labels[0][0] if isinstance(labels[0], (list, tuple)) and labels[0] else labels[0]
                dtype = torch.long if isinstance(first, (int, np.integer, bool)) else torch.float
                batch["labels"] = _to_tensor(labels, "labels").to(dtype)
        return batch


@dataclass
class DataCollatorForTokenClassification:
    """Pad inputs like DataCollatorWithPadding and pad per-token labels with ``label_pad_token_id`` (-100)."""

    tokenizer: Any
    padding: Any = True
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    label_pad_token_id: int = -100
    return_tensors: str = "pt"

    def __post_init__(self):
        _check_return_tensors(self.return_tensors)

    def __call__(self, features: list[Any]) -> dict[str, torch.Tensor]:
        features = [_as_dict(f) for f in _check_features(features, type(self).__name__)]
        label_key = "label" if "label" in features[0] else "labels"
        labels = [f[label_key] for f in features] if label_key in features[0] else None
        batch = pad_features(
            features,
            self.tokenizer,
            self.padding,
            self.max_length,
            self.pad_to_multiple_of,
            skip_keys=("label", "labels"),
        )
        if labels is None:
            return batch
        length = batch["input_ids"].shape[1]
        side = getattr(self.tokenizer, "padding_side", "right") or "right"
        labels = [v.tolist() if isinstance(v, (torch.Tensor, np.ndarray)) else list(v) for v in labels]
        too_long = [len(lab) for lab in labels if len(lab) > length]
        if too_long:
            raise ValueError(
                f"An example has {too_long[0]} labels but only {length} tokens; give one label per token "
                "(use -100 for special tokens and sub-words)."
            )
        batch["labels"] = torch.tensor(_pad_rows(labels, length, self.label_pad_token_id, side), dtype=torch.long)
        return batch


class DataCollatorForMultipleChoice(DataCollatorWithPadding):
    """Pad all choices of all examples to one length: ``(batch, num_choices, seq)`` tensors and ``labels``.

    Each example holds one token list per choice under each sequence key (``input_ids``: ``[[...], [...]]``),
    as a tokenizer gives for (first part, choice) pairs regrouped by the number of choices, and the index of
    the right choice under ``label`` or ``labels``. The settings are DataCollatorWithPadding's.
    """

    def __call__(self, features: list[Any]) -> dict[str, torch.Tensor]:
        features = [_as_dict(f) for f in _check_features(features, type(self).__name__)]
        keys = [key for key in _SEQUENCE_KEYS if key in features[0]]
        if "input_ids" not in keys:
            raise ValueError(
                f"The examples have no 'input_ids' (they have {sorted(features[0])}); tokenize each "
                "(first part, choice) pair and group the results by example."
            )
        first_choices = features[0]["input_ids"]
        if not first_choices or not isinstance(first_choices[0], (list, tuple, torch.Tensor, np.ndarray)):
            raise ValueError(
                "DataCollatorForMultipleChoice needs one list of token ids per choice: input_ids of "
                "[[choice 1 ids], [choice 2 ids], ...] in each example."
            )
        num_choices = len(first_choices)
        for i, feature in enumerate(features):
            counts = {key: len(feature[key]) for key in keys}
            if set(counts.values()) != {num_choices}:
                raise ValueError(
                    f"Example {i} has {counts} choices; example 0 has {num_choices}. Every example "
                    "needs the same number of choices in every key."
                )
        flat = [{key: feature[key][choice] for key in keys} for feature in features for choice in range(num_choices)]
        batch = pad_features(flat, self.tokenizer, self.padding, self.max_length, self.pad_to_multiple_of)
        batch = {
            key: value.view(len(features), num_choices, -1) for key, value in batch.items()
        }  # (batch, choices, seq)
        label_key = next((key for key in ("label", "labels") if key in features[0]), None)
        if label_key is not None:
            batch["labels"] = torch.tensor([int(feature[label_key]) for feature in features], dtype=torch.long)
        return batch


@dataclass
class DataCollatorForLanguageModeling:
    """Masked-LM (``mlm=True``) or causal-LM (``mlm=False``) batches with ``labels``.

    mlm: ``mlm_probability`` of the non-special, non-padding tokens are chosen; of those,
    ``mask_replace_prob`` become the mask token, ``random_replace_prob`` a random token, the rest
    stay. Labels are the original ids at chosen positions and -100 elsewhere.
    causal: labels are the input ids with the padding token's id set to -100 (the model shifts them).

    Examples may be dicts (padded like ``tokenizer.pad``: with an ``attention_mask``) or bare lists of
    token ids (padded ``input_ids`` only), as in the reference. With a ``seed``, each process draws from
    its own generator: the main process from ``seed``, DataLoader worker ``i`` from ``seed + i``.
    """

    tokenizer: Any
    mlm: bool = True
    mlm_probability: float = 0.15
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1
    pad_to_multiple_of: int | None = None
    return_tensors: str = "pt"
    seed: int | None = None

    def __post_init__(self):
        _check_return_tensors(self.return_tensors)
        if self.mlm:
            if getattr(self.tokenizer, "mask_token_id", None) is None:
                raise ValueError(
                    "mlm=True needs a tokenizer with a mask token (e.g. BERT's [MASK]); for causal "
                    "language modeling use DataCollatorForLanguageModeling(tokenizer, mlm=False)."
                )
            if not 0 <= self.mlm_probability <= 1:
                raise ValueError(f"mlm_probability must be in [0, 1], got {self.mlm_probability}.")
            if (
                self.mask_replace_prob + self.random_replace_prob > 1
                or min(self.mask_replace_prob, self.random_replace_prob) < 0
            ):
                raise ValueError("mask_replace_prob and random_replace_prob must be >= 0 and sum to at most 1.")
        self.generator = None
        self._generator_pid = None

    def _process_generator(self) -> torch.Generator | None:
        """The generator of this process (None without a seed: torch's global RNG); made on first use."""
        if self.seed is not None and self._generator_pid != os.getpid():
            worker = torch.utils.data.get_worker_info()
            self.generator = torch.Generator().manual_seed(self.seed + (worker.id if worker is not None else 0))
            self._generator_pid = os.getpid()
        return self.generator

    def __call__(self, features: list[Any]) -> dict[str, torch.Tensor]:
        features = _check_features(features, type(self).__name__)
        if isinstance(features[0], (list, tuple, torch.Tensor, np.ndarray)):  # bare token lists: input_ids only
            padded = pad_features(
                [{"input_ids": f} for f in features], self.tokenizer, pad_to_multiple_of=self.pad_to_multiple_of
            )
            batch = {"input_ids": padded["input_ids"]}
        else:
            examples = [_as_dict(f) for f in features]
            batch = pad_features(
                examples, self.tokenizer, pad_to_multiple_of=self.pad_to_multiple_of, skip_keys=("labels", "label")
            )
        special = batch.pop("special_tokens_mask", None)
        if self.mlm:
            batch["input_ids"], batch["labels"] = self.torch_mask_tokens(batch["input_ids"], special)
        else:
            labels = batch["input_ids"].clone()
            pad_id = getattr(self.tokenizer, "pad_token_id", None)
            if pad_id is not None:
                labels[labels == pad_id] = -100  # as the reference: also where pad is eos and eos is real text
            batch["labels"] = labels
        return batch

    def _special_mask(self, input_ids: torch.Tensor) -> torch.Tensor:
        special_ids = set(getattr(self.tokenizer, "all_special_ids", []) or [])
        pad_id = getattr(self.tokenizer, "pad_token_id", None)
        if pad_id is not None:
            special_ids.add(pad_id)
        mask = torch.zeros_like(input_ids, dtype=torch.bool)
        for sid in special_ids:
            mask |= input_ids == sid
        return mask

    def torch_mask_tokens(self, inputs: torch.Tensor, special_tokens_mask: torch.Tensor | None = None):
        """(masked inputs, labels). The random draws are the reference's, in its order, so a seed gives its batches."""
        generator = self._process_generator()
        labels = inputs.clone()
        probability = torch.full(labels.shape, self.mlm_probability)
        if special_tokens_mask is None:
            special_tokens_mask = self._special_mask(labels)
        probability.masked_fill_(special_tokens_mask.bool(), 0.0)
        masked = torch.bernoulli(probability, generator=generator).bool()
        labels[~masked] = -100
        inputs = inputs.clone()
        replaced = (
            torch.bernoulli(torch.full(labels.shape, self.mask_replace_prob), generator=generator).bool() & masked
        )
        inputs[replaced] = int(self.tokenizer.mask_token_id)
        if self.mask_replace_prob == 1 or self.random_replace_prob == 0:
            return inputs, labels
        random_prob = self.random_replace_prob / (1 - self.mask_replace_prob)
        randomized = (
            torch.bernoulli(torch.full(labels.shape, random_prob), generator=generator).bool() & masked & ~replaced
        )
        vocab = len(self.tokenizer) if hasattr(self.tokenizer, "__len__") else int(self.tokenizer.vocab_size)
        random_words = torch.randint(vocab, labels.shape, dtype=inputs.dtype, generator=generator)
        inputs[randomized] = random_words[randomized]
        return inputs, labels


@dataclass
class DataCollatorForSeq2Seq:
    """Pad encoder inputs, pad ``labels`` with -100, and add ``decoder_input_ids`` if the model makes them."""

    tokenizer: Any
    model: Any = None
    padding: Any = True
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    label_pad_token_id: int = -100
    return_tensors: str = "pt"

    def __post_init__(self):
        _check_return_tensors(self.return_tensors)

    def __call__(self, features: list[Any], return_tensors: str | None = None) -> dict[str, torch.Tensor]:
        features = [_as_dict(f) for f in _check_features(features, type(self).__name__)]
        labels = (
            [f["labels"] for f in features] if "labels" in features[0] and features[0]["labels"] is not None else None
        )
        batch = pad_features(
            features, self.tokenizer, self.padding, self.max_length, self.pad_to_multiple_of, skip_keys=("labels",)
        )
        if labels is not None:
            labels = [v.tolist() if isinstance(v, (torch.Tensor, np.ndarray)) else list(v) for v in labels]
            length = _target_length(
                [len(lab) for lab in labels],
                self.padding if self.padding not in (False, "do_not_pad") else True,
                self.max_length,
                self.pad_to_multiple_of,
            )
            length = max(length, max(len(lab) for lab in labels))
            side = getattr(self.tokenizer, "padding_side", "right") or "right"
            batch["labels"] = torch.tensor(_pad_rows(labels, length, self.label_pad_token_id, side), dtype=torch.long)
            make = getattr(self.model, "prepare_decoder_input_ids_from_labels", None)
            if make is not None and "decoder_input_ids" not in batch:
                batch["decoder_input_ids"] = make(labels=batch["labels"])
        return batch
