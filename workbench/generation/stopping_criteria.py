"""Stopping criteria: ``(input_ids (batch, seq), scores) -> done (batch,)`` bool, checked after every step."""

from __future__ import annotations

from typing import Any

import torch

from .configuration_utils import as_id_list


class StoppingCriteria:
    """Base class: return a (batch,) bool tensor, True for rows that should stop."""

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(input_ids, scores)")


class StoppingCriteriaList(list):
    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for criterion in self:
            result = criterion(input_ids, scores, **kwargs)
            if isinstance(result, bool):  # old-style criteria return one bool for the batch
                result = torch.full_like(done, result)
            done = done | result.to(done.device)
        return done


class MaxLengthCriteria(StoppingCriteria):
    def __init__(self, max_length: int):
        self.max_length = max_length

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), input_ids.shape[-1] >= self.max_length, device=input_ids.device)


class EosTokenCriteria(StoppingCriteria):
    def __init__(self, eos_token_id: int | list[int]):
        self.eos = torch.tensor(as_id_list(eos_token_id))

    def __call__(self, input_ids, scores, **kwargs):
        return torch.isin(input_ids[:, -1], self.eos.to(input_ids.device))


class StopStringCriteria(StoppingCriteria):
    """Stop a row once its text contains a stop string that the newest token completes.

    The last tokens are decoded with the tokenizer; a match counts when the stop string ends inside
    the newest token's text (so a token like "stop." completes "stop").
    """

    def __init__(self, tokenizer, stop_strings: str | list[str]):
        if tokenizer is None:
            raise ValueError(
                "stop_strings needs the tokenizer to read the text: "
                "generate(..., stop_strings=..., tokenizer=tokenizer)."
            )
        stop_strings = [stop_strings] if isinstance(stop_strings, str) else list(stop_strings)
        if not stop_strings or not all(isinstance(s, str) and s for s in stop_strings):
            raise ValueError(
                f"stop_strings must be a non-empty string or list of non-empty strings, got {stop_strings!r}."
            )
        self.tokenizer, self.stop_strings = tokenizer, stop_strings
        self.window = max(len(s) for s in stop_strings) + 2  # tokens to decode (each is at least one character)

    def __call__(self, input_ids, scores, **kwargs):
        done = []
        for row in input_ids.tolist():
            tail = row[-self.window :]
            text = self.tokenizer.decode(tail)
            before = len(self.tokenizer.decode(tail[:-1]))
            hit = False
            for s in self.stop_strings:
                start = text.find(s)
                while start != -1 and not hit:
                    hit = start + len(s) > before
                    start = text.find(s, start + 1)
            done.append(hit)
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)
