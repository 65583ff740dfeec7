"""Padding and truncation: the strategies that ``padding=`` and ``truncation=`` name, and how the arguments of
``tokenizer(...)`` and ``tokenizer.pad(...)`` choose them.

``padding``: ``True`` / ``"longest"`` pads to the longest row, ``"max_length"`` to ``max_length`` (or the
tokenizer's ``model_max_length``), ``False`` pads nothing. ``truncation``: ``True`` / ``"longest_first"`` cuts
the longer sequence of a pair first, ``"only_first"`` / ``"only_second"`` cut one of them. The enums below are the
reference's names for those strings (its docs' data collators use them); either is accepted.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .tokenizer import PreTrainedTokenizerFast

LARGE_INTEGER = int(1e20)  # above this, model_max_length means "no limit"


class PaddingStrategy(str, Enum):
    """What ``padding=`` may be, besides ``True`` (``LONGEST``) and ``False`` (``DO_NOT_PAD``); a plain string
    (``"max_length"``) does as well."""

    LONGEST = "longest"  # pad to the longest row of the batch
    MAX_LENGTH = "max_length"  # pad to max_length (or model_max_length)
    DO_NOT_PAD = "do_not_pad"


class TruncationStrategy(str, Enum):
    """What ``truncation=`` may be, besides ``True`` (``LONGEST_FIRST``) and ``False`` (``DO_NOT_TRUNCATE``)."""

    LONGEST_FIRST = "longest_first"  # of a pair, cut the longer sequence first, token by token
    ONLY_FIRST = "only_first"
    ONLY_SECOND = "only_second"
    DO_NOT_TRUNCATE = "do_not_truncate"


def padding_truncation_strategies(
    tokenizer: PreTrainedTokenizerFast, padding, truncation, max_length, pad_to_multiple_of
) -> tuple[str, str, int | None]:
    """The arguments of ``__call__`` -> (padding strategy, truncation strategy, max_length), as the reference
    reads them: ``max_length`` alone means truncation; a missing ``max_length`` is ``model_max_length``."""
    if max_length is not None and padding is False and truncation is None:
        truncation = True
    padding_strategy = _strategy("padding", padding, PaddingStrategy.LONGEST, PaddingStrategy.DO_NOT_PAD)
    truncation_strategy = _strategy(
        "truncation", truncation, TruncationStrategy.LONGEST_FIRST, TruncationStrategy.DO_NOT_TRUNCATE
    )
    has_limit = tokenizer.model_max_length <= LARGE_INTEGER
    if max_length is None and padding_strategy == "max_length":
        if not has_limit:
            raise ValueError(
                "padding='max_length' needs a length: pass max_length=..., or set tokenizer.model_max_length "
                "(this tokenizer's files name no maximum length)."
            )
        max_length = tokenizer.model_max_length
    if max_length is None and truncation_strategy != "do_not_truncate":
        if has_limit:
            max_length = tokenizer.model_max_length
        else:
            truncation_strategy = "do_not_truncate"  # no limit is known: nothing to truncate to
    if padding_strategy != "do_not_pad" and (tokenizer.pad_token is None or tokenizer.pad_token_id is None):
        raise ValueError(
            "Asking to pad, but this tokenizer has no padding token. Set one, e.g. "
            "tokenizer.pad_token = tokenizer.eos_token, or add one with "
            "tokenizer.add_special_tokens({'pad_token': '[PAD]'}) (and resize the model's embeddings)."
        )
    if (
        truncation_strategy != "do_not_truncate"
        and padding_strategy != "do_not_pad"
        and pad_to_multiple_of
        and max_length is not None
        and max_length % pad_to_multiple_of
    ):
        raise ValueError(
            f"Truncation and padding are both on, but max_length={max_length} is not a multiple of "
            f"pad_to_multiple_of={pad_to_multiple_of}."
        )
    return padding_strategy, truncation_strategy, max_length


def _strategy(argument: str, value, if_true: Enum, if_false: Enum) -> str:
    """``padding=`` / ``truncation=`` (a bool, None, a string or a strategy enum) -> the strategy's name."""
    if value is True:
        return if_true.value
    if value is False or value is None:
        return if_false.value
    strategies = type(if_true)
    try:
        return strategies(value).value
    except ValueError:
        choices = ", ".join(repr(strategy.value) for strategy in strategies)
        raise ValueError(f"{argument}={value!r} is not one of True, False, {choices}.") from None
