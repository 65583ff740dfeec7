"""Logits processors: ``(input_ids (batch, seq), scores (batch, vocab)) -> scores``, applied in order to the
next-token scores of every decoding step (penalties, bans, forced tokens, and the sampling warpers).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .configuration_utils import as_id_list


class LogitsProcessor:
    """Base class: change next-token scores given the ids so far. Subclasses implement ``__call__``."""

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(input_ids, scores)")


LogitsWarper = LogitsProcessor  # older name of the sampling-only processors


class LogitsProcessorList(list):
    """Processors applied one after the other."""

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        for processor in self:
            scores = processor(input_ids, scores, **kwargs) if kwargs else processor(input_ids, scores)
        return scores


class TemperatureLogitsWarper(LogitsProcessor):
    """scores / temperature: < 1 sharpens the distribution, > 1 flattens it."""

    def __init__(self, temperature: float):
        if not (isinstance(temperature, (int, float)) and temperature > 0):
            raise ValueError(f"temperature must be a float > 0, got {temperature!r}.")
        self.temperature = temperature

    def __call__(self, input_ids, scores):
        return scores / self.temperature


class TopKLogitsWarper(LogitsProcessor):
    """Keep the k highest-scoring tokens."""

    def __init__(self, top_k: int, filter_value: float = -float("inf"), min_tokens_to_keep: int = 1):
        if not isinstance(top_k, int) or top_k <= 0:
            raise ValueError(f"top_k must be a positive int, got {top_k!r}.")
        self.top_k = max(top_k, min_tokens_to_keep)
        self.filter_value = filter_value

    def __call__(self, input_ids, scores):
        top_k = min(self.top_k, scores.size(-1))
        kth_best = torch.topk(scores, top_k)[0][..., -1, None]  # (batch, 1)
        return scores.masked_fill(scores < kth_best, self.filter_value)


class TopPLogitsWarper(LogitsProcessor):
    """Nucleus sampling: keep the smallest set of most likely tokens whose probabilities sum to >= top_p."""

    def __init__(self, top_p: float, filter_value: float = -float("inf"), min_tokens_to_keep: int = 1):
        top_p = float(top_p)
        if not 0 <= top_p <= 1.0:
            raise ValueError(f"top_p must be in [0, 1], got {top_p}.")
        self.top_p, self.filter_value, self.min_tokens_to_keep = top_p, filter_value, min_tokens_to_keep

    def __call__(self, input_ids, scores):
        sorted_logits, sorted_indices = torch.sort(scores, descending=False)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        sorted_remove = cumulative <= (1 - self.top_p)  # the unlikely tail, ascending order
        sorted_remove[..., -self.min_tokens_to_keep :] = 0
        remove = sorted_remove.scatter(1, sorted_indices, sorted_remove)
        return scores.masked_fill(remove, self.filter_value)


class MinPLogitsWarper(LogitsProcessor):
    """Keep tokens whose probability is at least min_p times the most likely token's."""

    def __init__(self, min_p: float, filter_value: float = -float("inf"), min_tokens_to_keep: int = 1):
        if not 0 <= float(min_p) <= 1.0:
            raise ValueError(f"min_p must be in [0, 1], got {min_p}.")
        self.min_p, self.filter_value, self.min_tokens_to_keep = float(min_p), filter_value, min_tokens_to_keep

    def __call__(self, input_ids, scores):
        probs = torch.softmax(scores, dim=-1)
        remove = probs < self.min_p * probs.amax(dim=-1, keepdim=True)
        keep = torch.topk(probs, min(self.min_tokens_to_keep, probs.shape[-1]), dim=-1).indices
        remove.scatter_(-1, keep, False)
        return scores.masked_fill(remove, self.filter_value)


class TypicalLogitsWarper(LogitsProcessor):
    """Locally typical sampling: keep tokens whose surprise is closest to the entropy, up to mass."""

    def __init__(self, mass: float = 0.9, filter_value: float = -float("inf"), min_tokens_to_keep: int = 1):
        mass = float(mass)
        if not 0 < mass < 1:
            raise ValueError(f"typical_p must be in (0, 1), got {mass}.")
        self.mass, self.filter_value, self.min_tokens_to_keep = mass, filter_value, min_tokens_to_keep

    def __call__(self, input_ids, scores):
        normalized = F.log_softmax(scores, dim=-1)
        p = torch.exp(normalized)
        entropy = -(normalized * p).nansum(-1, keepdim=True)
        shifted = torch.abs((-normalized) - entropy)
        sorted_scores, sorted_indices = torch.sort(shifted, descending=False)
        cumulative = scores.gather(-1, sorted_indices).softmax(dim=-1).cumsum(dim=-1)
        last_ind = (cumulative < self.mass).sum(dim=1)
        last_ind.clamp_(max=sorted_scores.shape[-1] - 1)
        sorted_remove = sorted_scores > sorted_scores.gather(1, last_ind.view(-1, 1))
        sorted_remove[..., : self.min_tokens_to_keep] = 0
        remove = sorted_remove.scatter(1, sorted_indices, sorted_remove)
        return scores.masked_fill(remove, self.filter_value)


class RepetitionPenaltyLogitsProcessor(LogitsProcessor):
    """Tokens already present get score / penalty (positive scores) or score * penalty (negative ones).

    ``prompt_ignore_length`` (int, or a tensor per row) skips that many leading ids: the left padding.
    """

    def __init__(self, penalty: float, prompt_ignore_length: int | torch.Tensor | None = None):
        if not (isinstance(penalty, (int, float)) and penalty > 0):
            raise ValueError(f"repetition_penalty must be a float > 0, got {penalty!r}.")
        self.penalty, self.prompt_ignore_length = penalty, prompt_ignore_length

    def __call__(self, input_ids, scores):
        vocab_size = scores.shape[-1]
        if isinstance(self.prompt_ignore_length, int):
            input_ids = input_ids[:, self.prompt_ignore_length :]
        elif isinstance(self.prompt_ignore_length, torch.Tensor):
            columns = torch.arange(input_ids.shape[1], device=input_ids.device)
            input_ids = input_ids.masked_fill(columns[None, :] < self.prompt_ignore_length[:, None], vocab_size)
        input_ids = input_ids.clamp(max=vocab_size)
        padded = F.pad(scores, (0, 1))  # a spare column absorbs the ignored ids
        score = torch.gather(padded, 1, input_ids)
        score = torch.where(score < 0, score * self.penalty, score / self.penalty)
        return padded.scatter(1, input_ids, score)[:, :vocab_size]


class NoRepeatNGramLogitsProcessor(LogitsProcessor):
    """Forbid any token that would complete an n-gram already present in the sequence."""

    def __init__(self, ngram_size: int):
        if not isinstance(ngram_size, int) or ngram_size <= 0:
            raise ValueError(f"no_repeat_ngram_size must be a positive int, got {ngram_size!r}.")
        self.ngram_size = ngram_size

    def __call__(self, input_ids, scores):
        cur_len, n = input_ids.shape[-1], self.ngram_size
        if cur_len < n:
            return scores
        prefix = input_ids[:, cur_len + 1 - n :]  # the last n - 1 ids: (batch, n - 1)
        windows = input_ids.unfold(dimension=1, size=n, step=1)  # every n-gram: (batch, windows, n)
        matches = (windows[..., :-1] == prefix.unsqueeze(1)).all(dim=-1)  # n-grams that start like the prefix
        vocab_size = scores.shape[-1]
        banned = scores.new_zeros((scores.shape[0], vocab_size + 1), dtype=torch.bool)
        banned.scatter_(1, torch.where(matches, windows[..., -1].clamp(max=vocab_size), vocab_size), True)
        return scores.masked_fill(banned[:, :vocab_size], -float("inf"))


class NoBadWordsLogitsProcessor(LogitsProcessor):
    """Forbid token sequences: a single-token entry is never produced; a longer one is never completed."""

    def __init__(self, bad_words_ids: list[list[int]], eos_token_id: int | list[int] | None = None):
        if (
            not isinstance(bad_words_ids, list)
            or not bad_words_ids
            or any(not isinstance(s, list) or not s for s in bad_words_ids)
        ):
            raise ValueError(
                f"bad_words_ids must be a non-empty list of non-empty lists of ids, got {bad_words_ids!r}."
            )
        eos = as_id_list(eos_token_id)
        self.sequences = [s for s in bad_words_ids if not (len(s) == 1 and s[0] in eos)]  # never ban eos itself

    def __call__(self, input_ids, scores):
        vocab_size = scores.shape[-1]
        too_big = [t for s in self.sequences for t in s if t >= vocab_size]
        if too_big:
            raise ValueError(f"bad_words_ids holds ids {too_big} outside the vocabulary of {vocab_size}.")
        banned = torch.zeros_like(scores, dtype=torch.bool)
        for sequence in self.sequences:
            *prefix, last = sequence
            if not prefix:
                banned[:, last] = True
            elif len(prefix) <= input_ids.shape[1]:
                tail = input_ids[:, -len(prefix) :]
                banned[:, last] |= (tail == torch.tensor(prefix, device=input_ids.device)).all(dim=-1)
        return scores.masked_fill(banned, -float("inf"))


class MinLengthLogitsProcessor(LogitsProcessor):
    """Forbid eos while the sequence (prompt included) is shorter than min_length."""

    def __init__(self, min_length: int, eos_token_id: int | list[int]):
        self.min_length, self.eos = min_length, as_id_list(eos_token_id)

    def __call__(self, input_ids, scores):
        if input_ids.shape[-1] < self.min_length:
            scores = scores.clone()
            scores[:, self.eos] = -float("inf")
        return scores


class MinNewTokensLengthLogitsProcessor(LogitsProcessor):
    """Forbid eos until at least min_new_tokens have been generated after the prompt."""

    def __init__(self, prompt_length_to_skip: int, min_new_tokens: int, eos_token_id: int | list[int]):
        self.prompt_length, self.min_new_tokens, self.eos = (
            prompt_length_to_skip,
            min_new_tokens,
            as_id_list(eos_token_id),
        )

    def __call__(self, input_ids, scores):
        if input_ids.shape[-1] - self.prompt_length < self.min_new_tokens:
            scores = scores.clone()
            scores[:, self.eos] = -float("inf")
        return scores


class HammingDiversityLogitsProcessor(LogitsProcessor):
    """Diverse beam search: lower a group's scores by ``diversity_penalty`` for each time a beam of an earlier
    group chose the token at this step (group_beam_search.py calls it before the other processors).

    ``scores`` are the group's rows (batch * group_size, vocab); ``current_tokens`` (batch * num_beams,) holds the
    tokens the earlier groups chose this step; ``beam_group_idx`` is the group's number.
    """

    def __init__(self, diversity_penalty: float, num_beams: int, num_beam_groups: int):
        if not isinstance(diversity_penalty, float) or not diversity_penalty > 0.0:
            raise ValueError(f"diversity_penalty must be a float > 0, got {diversity_penalty!r}.")
        if not isinstance(num_beam_groups, int) or not 2 <= num_beam_groups <= num_beams:
            raise ValueError(f"num_beam_groups must be an int in [2, num_beams={num_beams}], got {num_beam_groups!r}.")
        self.diversity_penalty, self.num_beams = diversity_penalty, num_beams
        self.group_size = num_beams // num_beam_groups

    def __call__(self, input_ids, scores, current_tokens, beam_group_idx):
        group_start = beam_group_idx * self.group_size
        if group_start == 0:
            return scores
        batch = current_tokens.shape[0] // self.num_beams
        earlier = current_tokens.view(batch, self.num_beams)[:, :group_start]  # (batch, beams of earlier groups)
        frequency = scores.new_zeros(batch, scores.shape[-1]).scatter_add_(1, earlier, scores.new_ones(earlier.shape))
        return scores - self.diversity_penalty * frequency.repeat_interleave(self.group_size, dim=0)


class ForcedBOSTokenLogitsProcessor(LogitsProcessor):
    """The first generated token (after a one-token prompt, e.g. the decoder start) must be ``bos_token_id``."""

    def __init__(self, bos_token_id: int):
        self.bos_token_id = bos_token_id

    def __call__(self, input_ids, scores):
        if input_ids.shape[-1] == 1:
            scores = torch.full_like(scores, -float("inf"))
            scores[:, self.bos_token_id] = 0
        return scores


class ForcedEOSTokenLogitsProcessor(LogitsProcessor):
    """The token that reaches ``max_length`` must be an eos: a sequence cut by the limit still ends properly."""

    def __init__(self, max_length: int, eos_token_id: int | list[int]):
        self.max_length, self.eos = max_length, as_id_list(eos_token_id)

    def __call__(self, input_ids, scores):
        if input_ids.shape[-1] == self.max_length - 1:
            scores = torch.full_like(scores, -float("inf"))
            scores[:, self.eos] = 0
        return scores


class LogitNormalization(LogitsProcessor):
    """log_softmax, so that scores are log-probabilities again after the other processors."""

    def __call__(self, input_ids, scores):
        return scores.log_softmax(dim=-1)


# ------------------------------------------------------------------------------------------------
# Token suppression and Whisper's timestamp rules
# ------------------------------------------------------------------------------------------------


class SuppressTokensLogitsProcessor(LogitsProcessor):
    """Never generate ``suppress_tokens`` (Whisper's checkpoints list the non-speech symbols here)."""

    def __init__(self, suppress_tokens):
        self.suppress_tokens = torch.tensor(as_id_list(suppress_tokens), dtype=torch.long)

    def __call__(self, input_ids, scores):
        vocab_ids = torch.arange(scores.shape[-1], device=scores.device)
        suppressed = torch.isin(
            vocab_ids, self.suppress_tokens.to(scores.device)
        )  # ids beyond the vocabulary match none
        return scores.masked_fill(suppressed, -float("inf"))


class SuppressTokensAtBeginLogitsProcessor(SuppressTokensLogitsProcessor):
    """Do not start with ``begin_suppress_tokens``: they are banned only for the first generated token, the one
    that follows ``begin_index`` prompt tokens (Whisper: no blank and no end of text right away)."""

    def __init__(self, begin_suppress_tokens, begin_index: int):
        super().__init__(begin_suppress_tokens)
        self.begin_index = begin_index

    def __call__(self, input_ids, scores):
        if input_ids.shape[-1] != self.begin_index:
            return scores
        return super().__call__(input_ids, scores)


class WhisperTimeStampLogitsProcessor(LogitsProcessor):
    """The grammar of Whisper's timestamp tokens (<|0.00|>, <|0.02|>, ... <|30.00|>, the ids from
    ``no_timestamps_token_id + 1`` on), as OpenAI's decoder enforces it. A transcript with timestamps reads

        <|0.00|> Hello there.<|1.24|><|1.24|> How are you?<|2.80|><|endoftext|>

    so, per row, counting the tokens generated after the ``begin_index`` prompt tokens:
    - <|notimestamps|> is never generated;
    - timestamps come in pairs (an end and the next start) except before <|endoftext|>: after two timestamps in a
      row the next token is text; after a single one it is a timestamp or <|endoftext|>, not text;
    - timestamps never go back: below the last one is forbidden (below last + 1 once a pair is complete);
    - the first generated token is a timestamp, at most ``max_initial_timestamp_index`` steps after <|0.00|>;
    - when the timestamps together are more probable than the best text token, a timestamp it is.

    ``generate_config`` gives ``no_timestamps_token_id``, ``eos_token_id`` (else ``bos_token_id``) and
    ``max_initial_timestamp_index`` (None: no limit). Text tokens are the ids below ``eos_token_id``.
    """

    def __init__(self, generate_config, begin_index: int, _detect_timestamp_from_logprob: bool | None = None):
        self.no_timestamps_token_id = generate_config.no_timestamps_token_id
        self.timestamp_begin = self.no_timestamps_token_id + 1
        self.eos_token_id = generate_config.eos_token_id or generate_config.bos_token_id
        self.begin_index = begin_index
        self.max_initial_timestamp_index = getattr(generate_config, "max_initial_timestamp_index", None)
        if _detect_timestamp_from_logprob is None:
            _detect_timestamp_from_logprob = getattr(generate_config, "_detect_timestamp_from_logprob", True)
        self._detect_timestamp_from_logprob = _detect_timestamp_from_logprob  # the last rule (tests switch it off)

    def set_begin_index(self, begin_index: int) -> None:
        self.begin_index = begin_index

    def __call__(self, input_ids, scores):
        scores = scores.clone()
        scores[:, self.no_timestamps_token_id] = -float("inf")
        first_allowed = []  # per row: the smallest timestamp id it may generate
        for row, tokens in enumerate(input_ids[:, self.begin_index :].tolist()):
            last_was_timestamp = len(tokens) >= 1 and tokens[-1] >= self.timestamp_begin
            penultimate_was_timestamp = len(tokens) < 2 or tokens[-2] >= self.timestamp_begin
            if last_was_timestamp:
                if penultimate_was_timestamp:  # a pair is complete: text next
                    scores[row, self.timestamp_begin :] = -float("inf")
                else:  # a segment's end: its closing timestamp or the end of text, not more text
                    scores[row, : self.eos_token_id] = -float("inf")
            timestamps = [token for token in tokens if token >= self.timestamp_begin]
            if not timestamps:
                first_allowed.append(self.timestamp_begin)
            elif last_was_timestamp and not penultimate_was_timestamp:
                first_allowed.append(timestamps[-1])  # the closing timestamp may repeat the opening one
            else:
                first_allowed.append(timestamps[-1] + 1)  # never the same time again
        vocab_ids = torch.arange(scores.shape[-1], device=scores.device)
        first_allowed = torch.tensor(first_allowed, device=scores.device)[:, None]  # (batch, 1)
        scores.masked_fill_((vocab_ids >= self.timestamp_begin) & (vocab_ids < first_allowed), -float("inf"))

        if input_ids.shape[1] == self.begin_index:  # the first token: a timestamp, and an early one
            scores[:, : self.timestamp_begin] = -float("inf")
            if self.max_initial_timestamp_index is not None:
                scores[:, self.timestamp_begin + self.max_initial_timestamp_index + 1 :] = -float("inf")

        if self._detect_timestamp_from_logprob:
            logprobs = F.log_softmax(scores.float(), dim=-1)
            timestamp_logprob = logprobs[:, self.timestamp_begin :].logsumexp(dim=-1)  # (batch,)
            best_text_logprob = logprobs[:, : self.timestamp_begin].max(dim=-1).values
            timestamp_wins = (timestamp_logprob > best_text_logprob)[:, None]  # (batch, 1)
            scores[:, : self.timestamp_begin].masked_fill_(timestamp_wins, -float("inf"))
        return scores
