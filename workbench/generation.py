"""Text generation: ``model.generate(...)`` for decoder-only and encoder-decoder language models.

    ids = tokenizer("Once upon a time", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=20)                                   # greedy
    out = model.generate(**ids, max_new_tokens=20, do_sample=True, top_p=0.9)        # nucleus sampling
    out = model.generate(**ids, max_new_tokens=20, num_beams=4)                      # beam search
    model.generate(**ids, max_new_tokens=20, streamer=TextStreamer(tokenizer))       # print as it goes

One step of decoding, whatever the strategy:

    logits of the last position (batch, vocab)
      -> logits processors, in order (repetition penalty, n-gram and bad-word bans, minimum length,
         then for sampling: temperature, top-k, top-p, min-p, typical-p)         each (ids, scores) -> scores
      -> choose: argmax (greedy) | multinomial (sampling) | top 2*beams continuations (beam search)
      -> stopping criteria (max length, eos, stop strings, yours)               each (ids, scores) -> done (batch,)

The choices, their order and their defaults follow the reference implementation, so that the same
model and settings produce the same tokens. Decoding writes into preallocated buffers (token ids,
attention mask, KV cache) and runs under ``torch.inference_mode``: nothing grows per step.

Encoder-decoder models (T5, BART, Marian, ...) decode the same way. The difference is what the loop
starts from: the encoder reads ``input_ids`` once, and the decoder's "prompt" is the
``decoder_start_token_id`` alone. Each decoder step attends to its own previous tokens (the cache's
self-attention part) and to the encoder's states (cross-attention keys/values, computed at the first
step and kept in the cache):

    input_ids (batch, src) -> encoder, once -> encoder states (batch, src, hidden)
    decoder ids (batch, 1) = [decoder_start_token_id]
      -> decoder step (self-attention over its tokens, cross-attention over the encoder states)
      -> next-token logits -> processors -> choose -> append, repeat

Settings come from a ``GenerationConfig``: the model's own (``model.generation_config``, read from
``generation_config.json`` next to the weights) updated by the keyword arguments of ``generate``.
"""

from __future__ import annotations

import copy
import json
import os
import queue
import warnings
from typing import Any, Iterable

import torch
import torch.nn.functional as F

from . import hub
from .modeling import BaseModelOutput, ModelOutput

GENERATION_CONFIG_NAME = "generation_config.json"


# ------------------------------------------------------------------------------------------------
# GenerationConfig
# ------------------------------------------------------------------------------------------------


class GenerationConfig:
    """How to generate: length, strategy, sampling and beam settings, special tokens, outputs.

    Same keys and defaults as the reference's ``GenerationConfig`` (and its generation_config.json).
    Unknown keys are kept and written back, so a file round-trips unchanged.
    """

    _defaults: dict[str, Any] = dict(
        # length
        max_length=20,  # prompt + new tokens; max_new_tokens wins when given
        max_new_tokens=None,
        min_length=0,
        min_new_tokens=None,
        early_stopping=False,  # beam search: True, False (heuristic) or "never"
        max_time=None,
        stop_strings=None,  # str or list of str; needs generate(..., tokenizer=tokenizer)
        # strategy
        do_sample=False,
        num_beams=1,
        use_cache=True,
        # logits manipulation
        temperature=1.0,
        top_k=50,
        top_p=1.0,
        min_p=None,
        typical_p=1.0,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        bad_words_ids=None,
        renormalize_logits=False,
        length_penalty=1.0,  # beam search: score / length ** length_penalty
        # outputs
        num_return_sequences=1,
        output_attentions=False,
        output_hidden_states=False,
        output_scores=False,
        output_logits=False,
        return_dict_in_generate=False,
        # special tokens
        pad_token_id=None,
        bos_token_id=None,
        eos_token_id=None,
        decoder_start_token_id=None,  # encoder-decoders: the decoder's first token
        forced_bos_token_id=None,  # force this token first (mBART-50/NLLB: the target language's code)
        forced_eos_token_id=None,  # force this token last, when max_length is reached (BART)
    )

    def __init__(self, **kwargs: Any):
        for key, value in self._defaults.items():
            setattr(self, key, kwargs.pop(key, value))
        kwargs.pop("transformers_version", None)
        kwargs.pop("_from_model_config", None)
        for key, value in kwargs.items():  # keys of settings not implemented here: kept for the round trip
            setattr(self, key, value)

    # -- construction -----------------------------------------------------------------------------

    @classmethod
    def from_model_config(cls, config) -> "GenerationConfig":
        """The special tokens (and any generation keys a legacy config.json carries) of a model config."""
        values = {k: getattr(config, k) for k in cls._defaults if k in getattr(config, "__dict__", {})}
        values = {k: v for k, v in values.items() if v is not None or k.endswith("token_id")}
        return cls(**values)

    @classmethod
    def from_dict(cls, values: dict[str, Any], **kwargs: Any) -> "GenerationConfig":
        return cls(**{**values, **kwargs})

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, config_file_name: str = GENERATION_CONFIG_NAME,
                        **kwargs: Any) -> "GenerationConfig":
        hub_kwargs = hub.pop_hub_kwargs(kwargs)
        path = hub.resolve_file(os.fspath(name_or_path), config_file_name, **hub_kwargs)
        try:
            with open(path, encoding="utf-8") as f:
                values = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e}); the generation config is damaged.") from e
        return cls.from_dict(values, **kwargs)

    # -- files ------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if not k.startswith("_")}

    def to_diff_dict(self) -> dict[str, Any]:
        """What differs from the defaults (what generation_config.json holds), special tokens always."""
        return {
            k: v for k, v in self.to_dict().items()
            if k not in self._defaults or v != self._defaults[k] or k.endswith("token_id") and v is not None
        }

    def to_json_string(self, use_diff: bool = True) -> str:
        from .configuration import WORKBENCH_VERSION

        values = self.to_diff_dict() if use_diff else self.to_dict()
        values["transformers_version"] = WORKBENCH_VERSION
        return json.dumps(values, indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, save_directory: str | os.PathLike, config_file_name: str = GENERATION_CONFIG_NAME) -> None:
        os.makedirs(save_directory, exist_ok=True)
        hub.atomic_write_text(os.path.join(save_directory, config_file_name), self.to_json_string())

    # -- use --------------------------------------------------------------------------------------

    def update(self, **kwargs: Any) -> dict[str, Any]:
        """Set the keys this config knows; return the others (they are model inputs)."""
        unused = {}
        for key, value in kwargs.items():
            if key in self._defaults or key in self.__dict__:
                setattr(self, key, value)
            else:
                unused[key] = value
        return unused

    def validate(self) -> None:
        """Reject settings that cannot work, naming the setting and the valid range."""
        def bad(message: str):
            raise ValueError(f"Invalid generation setting: {message}")

        if self.max_new_tokens is not None and (not isinstance(self.max_new_tokens, int) or self.max_new_tokens <= 0):
            bad(f"max_new_tokens={self.max_new_tokens!r}; it must be a positive int (how many tokens to add).")
        if self.max_length is not None and (not isinstance(self.max_length, int) or self.max_length <= 0):
            bad(f"max_length={self.max_length!r}; it must be a positive int.")
        if self.min_new_tokens is not None and self.min_new_tokens < 0:
            bad(f"min_new_tokens={self.min_new_tokens}; it must be >= 0.")
        if not isinstance(self.num_beams, int) or self.num_beams < 1:
            bad(f"num_beams={self.num_beams!r}; it must be an int >= 1.")
        if not isinstance(self.num_return_sequences, int) or self.num_return_sequences < 1:
            bad(f"num_return_sequences={self.num_return_sequences!r}; it must be an int >= 1.")
        if self.num_beams > 1 and self.num_return_sequences > self.num_beams:
            bad(f"num_return_sequences={self.num_return_sequences} is more than num_beams={self.num_beams}; "
                "beam search returns at most num_beams sequences.")
        if self.num_beams == 1 and not self.do_sample and self.num_return_sequences > 1:
            bad(f"num_return_sequences={self.num_return_sequences} with greedy search would return copies of one "
                "sequence; use do_sample=True or num_beams >= num_return_sequences.")
        if self.early_stopping not in (True, False, "never"):
            bad(f"early_stopping={self.early_stopping!r}; it must be True, False or 'never'.")
        if self.repetition_penalty is not None and not self.repetition_penalty > 0:
            bad(f"repetition_penalty={self.repetition_penalty}; it must be > 0 (1.0 means no penalty).")
        if self.no_repeat_ngram_size is not None and (not isinstance(self.no_repeat_ngram_size, int) or self.no_repeat_ngram_size < 0):
            bad(f"no_repeat_ngram_size={self.no_repeat_ngram_size!r}; it must be an int >= 0.")
        if self.bad_words_ids is not None:
            ok = isinstance(self.bad_words_ids, list) and self.bad_words_ids and all(
                isinstance(seq, list) and seq and all(isinstance(t, int) and t >= 0 for t in seq) for seq in self.bad_words_ids)
            if not ok:
                bad(f"bad_words_ids={self.bad_words_ids!r}; it must be a non-empty list of lists of token ids.")
        if self.do_sample:
            if self.temperature is not None and not (isinstance(self.temperature, (int, float)) and self.temperature > 0):
                bad(f"temperature={self.temperature!r}; it must be > 0 (lower is more deterministic; for greedy "
                    "decoding use do_sample=False).")
            if self.top_k is not None and (not isinstance(self.top_k, int) or self.top_k < 0):
                bad(f"top_k={self.top_k!r}; it must be an int >= 0 (0 disables it).")
            if self.top_p is not None and not 0.0 <= self.top_p <= 1.0:
                bad(f"top_p={self.top_p}; it must be in [0, 1] (1.0 disables it).")
            if self.min_p is not None and not 0.0 <= self.min_p <= 1.0:
                bad(f"min_p={self.min_p}; it must be in [0, 1].")
            if self.typical_p is not None and not 0.0 < self.typical_p <= 1.0:
                bad(f"typical_p={self.typical_p}; it must be in (0, 1] (1.0 disables it).")

    def __repr__(self) -> str:
        return f"GenerationConfig {self.to_json_string()}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GenerationConfig) and self.to_diff_dict() == other.to_diff_dict()


# ------------------------------------------------------------------------------------------------
# Logits processors: (input_ids (batch, seq), scores (batch, vocab)) -> scores
# ------------------------------------------------------------------------------------------------


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
        sorted_remove[..., -self.min_tokens_to_keep:] = 0
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
            input_ids = input_ids[:, self.prompt_ignore_length:]
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
        prefix = input_ids[:, cur_len + 1 - n:]  # the last n - 1 ids: (batch, n - 1)
        windows = input_ids.unfold(dimension=1, size=n, step=1)  # every n-gram: (batch, windows, n)
        matches = (windows[..., :-1] == prefix.unsqueeze(1)).all(dim=-1)  # n-grams that start like the prefix
        vocab_size = scores.shape[-1]
        banned = scores.new_zeros((scores.shape[0], vocab_size + 1), dtype=torch.bool)
        banned.scatter_(1, torch.where(matches, windows[..., -1].clamp(max=vocab_size), vocab_size), True)
        return scores.masked_fill(banned[:, :vocab_size], -float("inf"))


class NoBadWordsLogitsProcessor(LogitsProcessor):
    """Forbid token sequences: a single-token entry is never produced; a longer one is never completed."""

    def __init__(self, bad_words_ids: list[list[int]], eos_token_id: int | list[int] | None = None):
        if not isinstance(bad_words_ids, list) or not bad_words_ids or any(not isinstance(s, list) or not s for s in bad_words_ids):
            raise ValueError(f"bad_words_ids must be a non-empty list of non-empty lists of ids, got {bad_words_ids!r}.")
        eos = _as_id_list(eos_token_id)
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
                tail = input_ids[:, -len(prefix):]
                banned[:, last] |= (tail == torch.tensor(prefix, device=input_ids.device)).all(dim=-1)
        return scores.masked_fill(banned, -float("inf"))


class MinLengthLogitsProcessor(LogitsProcessor):
    """Forbid eos while the sequence (prompt included) is shorter than min_length."""

    def __init__(self, min_length: int, eos_token_id: int | list[int]):
        self.min_length, self.eos = min_length, _as_id_list(eos_token_id)

    def __call__(self, input_ids, scores):
        if input_ids.shape[-1] < self.min_length:
            scores = scores.clone()
            scores[:, self.eos] = -float("inf")
        return scores


class MinNewTokensLengthLogitsProcessor(LogitsProcessor):
    """Forbid eos until at least min_new_tokens have been generated after the prompt."""

    def __init__(self, prompt_length_to_skip: int, min_new_tokens: int, eos_token_id: int | list[int]):
        self.prompt_length, self.min_new_tokens, self.eos = prompt_length_to_skip, min_new_tokens, _as_id_list(eos_token_id)

    def __call__(self, input_ids, scores):
        if input_ids.shape[-1] - self.prompt_length < self.min_new_tokens:
            scores = scores.clone()
            scores[:, self.eos] = -float("inf")
        return scores


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
        self.max_length, self.eos = max_length, _as_id_list(eos_token_id)

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
# Stopping criteria: (input_ids (batch, seq), scores) -> done (batch,) bool
# ------------------------------------------------------------------------------------------------


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
        self.eos = torch.tensor(_as_id_list(eos_token_id))

    def __call__(self, input_ids, scores, **kwargs):
        return torch.isin(input_ids[:, -1], self.eos.to(input_ids.device))


class StopStringCriteria(StoppingCriteria):
    """Stop a row once its text contains a stop string that the newest token completes.

    The last tokens are decoded with the tokenizer; a match counts when the stop string ends inside
    the newest token's text (so a token like "stop." completes "stop").
    """

    def __init__(self, tokenizer, stop_strings: str | list[str]):
        if tokenizer is None:
            raise ValueError("stop_strings needs the tokenizer to read the text: generate(..., stop_strings=..., tokenizer=tokenizer).")
        stop_strings = [stop_strings] if isinstance(stop_strings, str) else list(stop_strings)
        if not stop_strings or not all(isinstance(s, str) and s for s in stop_strings):
            raise ValueError(f"stop_strings must be a non-empty string or list of non-empty strings, got {stop_strings!r}.")
        self.tokenizer, self.stop_strings = tokenizer, stop_strings
        self.window = max(len(s) for s in stop_strings) + 2  # tokens to decode (each is at least one character)

    def __call__(self, input_ids, scores, **kwargs):
        done = []
        for row in input_ids.tolist():
            tail = row[-self.window:]
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


def _as_id_list(token_id) -> list[int]:
    if token_id is None:
        return []
    if isinstance(token_id, torch.Tensor):
        return token_id.flatten().tolist()
    return [token_id] if isinstance(token_id, int) else list(token_id)


# ------------------------------------------------------------------------------------------------
# Streamers
# ------------------------------------------------------------------------------------------------


class BaseStreamer:
    """Receives tokens as they are generated: ``put(ids)`` each step (first the prompt), ``end()`` once."""

    def put(self, value: torch.Tensor) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError


class TextStreamer(BaseStreamer):
    """Print text as it is generated, a word at a time.

        streamer = TextStreamer(tokenizer, skip_prompt=True)
        model.generate(**inputs, streamer=streamer, max_new_tokens=20)

    Tokens are decoded together (a word may span several tokens) and text is released up to the last
    space, so what is printed is exactly ``tokenizer.decode`` of the tokens, in pieces.
    """

    def __init__(self, tokenizer, skip_prompt: bool = False, **decode_kwargs: Any):
        self.tokenizer, self.skip_prompt, self.decode_kwargs = tokenizer, skip_prompt, decode_kwargs
        self.token_cache: list[int] = []
        self.print_len = 0
        self.next_tokens_are_prompt = True

    def put(self, value: torch.Tensor) -> None:
        if value.dim() > 1 and value.shape[0] > 1:
            raise ValueError(f"{type(self).__name__} streams one sequence; generate with a batch of one prompt.")
        if value.dim() > 1:
            value = value[0]
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        self.next_tokens_are_prompt = False
        self.token_cache.extend(value.tolist())
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
        if text.endswith("\n"):
            printable = text[self.print_len:]
            self.token_cache, self.print_len = [], 0
        elif text and _is_cjk(ord(text[-1])):
            printable = text[self.print_len:]
            self.print_len += len(printable)
        else:
            printable = text[self.print_len: text.rfind(" ") + 1]
            self.print_len += len(printable)
        self.on_finalized_text(printable)

    def end(self) -> None:
        printable = ""
        if self.token_cache:
            printable = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)[self.print_len:]
        self.token_cache, self.print_len = [], 0
        self.next_tokens_are_prompt = True
        self.on_finalized_text(printable, stream_end=True)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        print(text, flush=True, end="" if not stream_end else None)


class TextIteratorStreamer(TextStreamer):
    """Text pieces through a thread-safe queue, for a consumer in another thread (a Gradio app, a UI).

        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True)
        Thread(target=model.generate, kwargs=dict(**inputs, streamer=streamer, max_new_tokens=50)).start()
        for piece in streamer:
            print(piece, end="")
    """

    def __init__(self, tokenizer, skip_prompt: bool = False, timeout: float | None = None, **decode_kwargs: Any):
        super().__init__(tokenizer, skip_prompt, **decode_kwargs)
        self.text_queue: queue.Queue = queue.Queue()
        self.stop_signal = None
        self.timeout = timeout

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self.text_queue.put(text, timeout=self.timeout)
        if stream_end:
            self.text_queue.put(self.stop_signal, timeout=self.timeout)

    def __iter__(self):
        return self

    def __next__(self) -> str:
        value = self.text_queue.get(timeout=self.timeout)
        if value is self.stop_signal:
            raise StopIteration()
        return value


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


# ------------------------------------------------------------------------------------------------
# Outputs
# ------------------------------------------------------------------------------------------------


class GenerateDecoderOnlyOutput(ModelOutput):
    """Greedy search and sampling: ``sequences`` (batch, total) and, when asked for, one entry per step."""

    fields = ("sequences", "scores", "logits", "attentions", "hidden_states", "past_key_values")


class GenerateBeamDecoderOnlyOutput(ModelOutput):
    """Beam search: also ``sequences_scores`` (length-penalised log-probabilities) and ``beam_indices``."""

    fields = ("sequences", "sequences_scores", "scores", "logits", "beam_indices", "attentions",
              "hidden_states", "past_key_values")


class GenerateEncoderDecoderOutput(ModelOutput):
    """Greedy search and sampling with an encoder-decoder: the decoder's ``sequences`` (starting with the
    decoder start token) and, when asked for, the encoder's attentions/hidden states (once) and the
    decoder's self- and cross-attentions/hidden states (one entry per step)."""

    fields = ("sequences", "scores", "logits", "encoder_attentions", "encoder_hidden_states", "decoder_attentions",
              "cross_attentions", "decoder_hidden_states", "past_key_values")


class GenerateBeamEncoderDecoderOutput(ModelOutput):
    fields = ("sequences", "sequences_scores", "scores", "logits", "beam_indices", "encoder_attentions",
              "encoder_hidden_states", "decoder_attentions", "cross_attentions", "decoder_hidden_states",
              "past_key_values")


GreedySearchDecoderOnlyOutput = SampleDecoderOnlyOutput = GenerateDecoderOnlyOutput
BeamSearchDecoderOnlyOutput = GenerateBeamDecoderOnlyOutput


# ------------------------------------------------------------------------------------------------
# GenerationMixin
# ------------------------------------------------------------------------------------------------


class GenerationMixin:
    """``generate`` for language models (mixed into LlamaForCausalLM, GPT2LMHeadModel, T5ForConditionalGeneration...).

    A decoder-only model provides ``forward(input_ids, attention_mask, position_ids, past_key_values,
    use_cache, logits_to_keep)`` returning ``.logits`` and a ``KVCache`` in ``.past_key_values``, and
    ``context_window()``. An encoder-decoder (``config.is_encoder_decoder``) provides ``get_encoder()`` and
    ``forward(encoder_outputs, attention_mask, decoder_input_ids, past_key_values, use_cache)`` with an
    ``EncoderDecoderCache``, and ``config.num_decoder_layers``.
    """

    # -- the generation config travels with the model ---------------------------------------------

    @property
    def generation_config(self) -> GenerationConfig:
        config = self.__dict__.get("_generation_config")
        if config is None:
            config = GenerationConfig.from_model_config(self.config)
            self.__dict__["_generation_config"] = config
        return config

    @generation_config.setter
    def generation_config(self, value: GenerationConfig) -> None:
        self.__dict__["_generation_config"] = value

    def can_generate(self) -> bool:
        return True

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args: Any, **kwargs: Any):
        hub_kwargs = {k: kwargs[k] for k in hub.HUB_KWARGS if k in kwargs}
        loaded = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        model = loaded[0] if isinstance(loaded, tuple) else loaded
        name = os.fspath(pretrained_model_name_or_path)
        path = hub.resolve_file(name, GENERATION_CONFIG_NAME, required=False, **hub_kwargs)
        if path:
            model.generation_config = GenerationConfig.from_pretrained(os.path.dirname(path))
        return loaded

    def save_pretrained(self, save_directory, **kwargs: Any) -> None:
        super().save_pretrained(save_directory, **kwargs)
        self.generation_config.save_pretrained(save_directory)

    # -- generate ---------------------------------------------------------------------------------

    def generate(self, inputs: torch.Tensor | None = None, *args: Any, **kwargs: Any):
        """Continue ``inputs`` (batch, seq) token ids; return (batch * num_return_sequences, total) ids,
        or a ``Generate*Output`` with ``return_dict_in_generate=True``.

        Keyword arguments set ``GenerationConfig`` fields (max_new_tokens, do_sample, top_p, ...) for this
        call; the others (attention_mask, input_ids) are model inputs. Also: ``generation_config=``,
        ``logits_processor=``, ``stopping_criteria=``, ``streamer=``, ``tokenizer=`` (for stop_strings).
        """
        with torch.inference_mode():  # no autograd bookkeeping at all while decoding
            result = self._generate(inputs, *args, **kwargs)
        # ...but hand back ordinary tensors: inference tensors could not be fed to a training step later
        if isinstance(result, torch.Tensor):
            return result.clone()
        for key in ("sequences", "sequences_scores", "beam_indices"):
            if key in result:
                result[key] = result[key].clone()
        for key in ("scores", "logits"):
            if key in result:
                result[key] = tuple(t.clone() for t in result[key])
        return result

    def _generate(
        self,
        inputs: torch.Tensor | None = None,
        generation_config: GenerationConfig | None = None,
        logits_processor: Iterable[LogitsProcessor] | None = None,
        stopping_criteria: Iterable[StoppingCriteria] | None = None,
        streamer: BaseStreamer | None = None,
        tokenizer=None,
        **kwargs: Any,
    ):
        config = copy.deepcopy(generation_config if generation_config is not None else self.generation_config)
        model_kwargs = config.update(**kwargs)
        input_ids = model_kwargs.pop("input_ids", None) if inputs is None else inputs
        attention_mask = model_kwargs.pop("attention_mask", None)
        model_kwargs.pop("token_type_ids", None)
        encoder_decoder = bool(getattr(self.config, "is_encoder_decoder", False))
        if encoder_decoder:
            decoder_input_ids = model_kwargs.pop("decoder_input_ids", None)
            encoder_outputs = model_kwargs.pop("encoder_outputs", None)
        if model_kwargs:
            raise TypeError(f"generate() got unknown arguments {sorted(model_kwargs)}; they are neither generation "
                            "settings nor model inputs.")
        config.validate()
        encoder_state = None
        if encoder_decoder:
            # The encoder runs once; from here on the decoder's tokens are the "prompt" the loops extend.
            input_ids, attention_mask = self._check_generation_inputs(input_ids, attention_mask, config, encoder_decoder=True)
            rows = config.num_beams if config.num_beams > 1 else (config.num_return_sequences if config.do_sample else 1)
            encoder_state = self._run_encoder(input_ids, attention_mask, encoder_outputs, config, rows)
            input_ids, attention_mask = self._decoder_prompt(decoder_input_ids, input_ids.shape[0], config), None
        else:
            input_ids, attention_mask = self._check_generation_inputs(input_ids, attention_mask, config)
        step = self._decoder_step(encoder_state)
        eos = _as_id_list(config.eos_token_id)
        if config.pad_token_id is None and eos:
            config.pad_token_id = eos[0]  # single prompt: rows that finish are never padded, any id will do
        batch, prompt_len = input_ids.shape
        max_length = self._resolve_max_length(config, prompt_len)

        if config.stop_strings is not None:
            criteria_tokens = StopStringCriteria(tokenizer, config.stop_strings)
        else:
            criteria_tokens = None
        if streamer is not None and config.num_beams > 1:
            raise ValueError("streamer= works with greedy search and sampling, not beam search (num_beams > 1).")

        # a batch has padding when any row's mask has a zero; without padding no mask is needed at all
        padded = attention_mask is not None and not bool(attention_mask.all())
        processors = self._build_processors(config, prompt_len, attention_mask if padded else None, logits_processor)
        criteria = StoppingCriteriaList()
        if criteria_tokens is not None:
            criteria.append(criteria_tokens)
        if stopping_criteria:
            criteria.extend(stopping_criteria)

        if config.num_beams > 1:
            return self._beam_search(input_ids, attention_mask if padded else None, config, max_length,
                                     processors, criteria, eos, step, encoder_state)
        return self._greedy_or_sample(input_ids, attention_mask if padded else None, config, max_length,
                                      processors, criteria, eos, streamer, step, encoder_state)

    # -- encoder-decoders: the encoder pass and the decoder's start ---------------------------------

    def _run_encoder(self, input_ids, attention_mask, encoder_outputs, config: GenerationConfig, rows: int) -> dict:
        """Encode the source once; repeat its states ``rows`` times (beams or samples per input)."""
        if encoder_outputs is None:
            encoder_outputs = self.get_encoder()(
                input_ids=input_ids, attention_mask=attention_mask, return_dict=True,
                output_attentions=config.output_attentions, output_hidden_states=config.output_hidden_states)
        states = encoder_outputs[0]  # (batch, src, hidden)
        if rows > 1:
            states = states.repeat_interleave(rows, dim=0)  # (batch * rows, src, hidden)
            attention_mask = attention_mask.repeat_interleave(rows, dim=0) if attention_mask is not None else None
        return {"outputs": BaseModelOutput(last_hidden_state=states), "attention_mask": attention_mask,
                "attentions": encoder_outputs.get("attentions") if isinstance(encoder_outputs, dict) else None,
                "hidden_states": encoder_outputs.get("hidden_states") if isinstance(encoder_outputs, dict) else None}

    def _decoder_prompt(self, decoder_input_ids, batch: int, config: GenerationConfig) -> torch.Tensor:
        """(batch, n) decoder ids to start from: the start token, followed by ``decoder_input_ids`` if given."""
        start = config.decoder_start_token_id
        if start is None:
            start = getattr(self.config, "decoder_start_token_id", None)
        if start is None:
            start = config.bos_token_id
        if start is None:
            raise ValueError(f"{type(self).__name__}.generate needs the decoder's first token: set "
                             "decoder_start_token_id in the generation config (or pass decoder_input_ids).")
        device = self.device
        start_ids = torch.full((batch, 1), start, dtype=torch.long, device=device)
        if decoder_input_ids is None:
            return start_ids
        decoder_input_ids = torch.as_tensor(decoder_input_ids, device=device)
        if decoder_input_ids.dim() == 1:
            decoder_input_ids = decoder_input_ids[None, :].expand(batch, -1)
        if decoder_input_ids.shape[0] != batch:
            raise ValueError(f"decoder_input_ids has {decoder_input_ids.shape[0]} rows for {batch} inputs.")
        if decoder_input_ids.shape[1] and bool((decoder_input_ids[:, 0] == start).all()):
            return decoder_input_ids
        return torch.cat([start_ids, decoder_input_ids], dim=-1)  # as the reference: the start token goes first

    def _decoder_step(self, encoder_state: dict | None):
        """The model call of one decoding step: (ids, mask, positions, cache, **outputs) -> model output."""
        if encoder_state is None:
            def step(ids, mask, positions, cache, **extra):
                return self(ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                            use_cache=cache is not None, logits_to_keep=1, **extra)
        else:
            encoder_outputs, encoder_mask = encoder_state["outputs"], encoder_state["attention_mask"]

            def step(ids, mask, positions, cache, **extra):
                # the decoder's own positions come from the cache (or count from 0 without one)
                return self(encoder_outputs=encoder_outputs, attention_mask=encoder_mask, decoder_input_ids=ids,
                            past_key_values=cache, use_cache=cache is not None, **extra)
        return step

    # -- input checks -----------------------------------------------------------------------------

    def _check_generation_inputs(self, input_ids, attention_mask, config: GenerationConfig, encoder_decoder: bool = False):
        """Validate the prompt (decoder-only) or the source (encoder-decoder) ids and mask."""
        name = type(self).__name__
        if input_ids is None:
            what = "the source text's ids" if encoder_decoder else "a prompt"
            raise ValueError(f"{name}.generate needs {what}: pass input_ids (e.g. **tokenizer(text, return_tensors='pt')).")
        if not isinstance(input_ids, torch.Tensor):
            raise TypeError(f"generate takes input_ids as a torch.Tensor, got {type(input_ids).__name__}; "
                            "call the tokenizer with return_tensors='pt'.")
        if input_ids.dim() == 1:
            input_ids = input_ids[None, :]
        if input_ids.dim() != 2 or input_ids.is_floating_point():
            raise ValueError(f"input_ids must be integer ids of shape (batch, seq), got {tuple(input_ids.shape)} {input_ids.dtype}.")
        batch, prompt_len = input_ids.shape
        if batch == 0 or prompt_len == 0:
            raise ValueError(f"generate got an empty prompt (input shape {batch} x {prompt_len}); give at least one token, "
                             "e.g. the tokenizer's bos_token_id.")
        pad = config.pad_token_id
        if attention_mask is None:
            eos = _as_id_list(config.eos_token_id)
            if pad is not None and pad not in eos and bool((input_ids == pad).any()):
                attention_mask = (input_ids != pad).long()  # infer padding from the pad id, as the reference does
        else:
            if attention_mask.shape != input_ids.shape:
                raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has "
                                 f"{tuple(input_ids.shape)}; pass the mask the tokenizer returned with the ids.")
            attention_mask = attention_mask.to(input_ids.device)
        if encoder_decoder:  # right padding is what an encoder expects, and it has no context window here
            if attention_mask is not None and not bool(attention_mask.any(dim=-1).all()):
                raise ValueError("A row of the batch is all padding (an empty input); give every row at least one token.")
            return input_ids, attention_mask
        if batch > 1 and pad is None:
            raise ValueError(
                f"Generating for a batch of {batch} prompts needs a pad token id (to pad prompts and rows that "
                "finish early), and none is set. Set tokenizer.pad_token = tokenizer.eos_token and pass "
                "pad_token_id=tokenizer.pad_token_id to generate (or set model.generation_config.pad_token_id)."
            )
        if attention_mask is not None and batch > 1 and not bool(attention_mask[:, -1].all()):
            raise ValueError(
                "The batch is right-padded (some rows end with padding), so new tokens would follow pad tokens. "
                "Decoder-only models need left padding: set tokenizer.padding_side = 'left' before tokenizing."
            )
        if attention_mask is not None and not bool(attention_mask.any(dim=-1).all()):
            raise ValueError("A row of the batch is all padding (an empty prompt); give every row at least one token.")
        window = self.context_window() if hasattr(self, "context_window") else None
        if window is not None and prompt_len > window:
            raise ValueError(
                f"The prompt has {prompt_len} tokens but {name} has a context window of {window}. Truncate it: "
                f"tokenizer(text, truncation=True, max_length={window}) (leaving room for the new tokens)."
            )
        return input_ids, attention_mask

    def _resolve_max_length(self, config: GenerationConfig, prompt_len: int) -> int:
        if config.max_new_tokens is not None:
            max_length = prompt_len + config.max_new_tokens
        else:
            max_length = config.max_length
            if max_length <= prompt_len:
                raise ValueError(
                    f"max_length={max_length} leaves no room after the {prompt_len}-token prompt; "
                    "pass max_new_tokens=N (how many tokens to add) instead."
                )
        if config.min_new_tokens is not None and config.min_new_tokens > max_length - prompt_len:
            warnings.warn(f"min_new_tokens={config.min_new_tokens} is more than the {max_length - prompt_len} "
                          "tokens allowed by max_new_tokens/max_length; generation stops at the maximum.")
        hard_limit = self.max_total_length() if hasattr(self, "max_total_length") else None
        if hard_limit is not None and max_length > hard_limit:
            raise ValueError(
                f"{type(self).__name__} has {hard_limit} positions, but the prompt ({prompt_len} tokens) plus the new "
                f"tokens would reach {max_length}. Ask for at most max_new_tokens={hard_limit - prompt_len}."
            )
        config.max_length = max_length
        return max_length

    def _build_processors(self, config: GenerationConfig, prompt_len: int, attention_mask, extra) -> LogitsProcessorList:
        """The processors the settings ask for, in the reference's order; ``extra`` (yours) after the built-in ones."""
        processors = LogitsProcessorList()
        eos = _as_id_list(config.eos_token_id)
        if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
            pad_lengths = None
            if attention_mask is not None:
                pad_lengths = (attention_mask != 0).int().argmax(dim=1)  # left padding per row: not penalised
                copies = config.num_beams if config.num_beams > 1 else (config.num_return_sequences if config.do_sample else 1)
                pad_lengths = pad_lengths.repeat_interleave(copies)  # rows as decoding expands them
            processors.append(RepetitionPenaltyLogitsProcessor(config.repetition_penalty, prompt_ignore_length=pad_lengths))
        if config.no_repeat_ngram_size:
            processors.append(NoRepeatNGramLogitsProcessor(config.no_repeat_ngram_size))
        if config.bad_words_ids is not None:
            processors.append(NoBadWordsLogitsProcessor(config.bad_words_ids, eos))
        if config.min_length and eos:
            processors.append(MinLengthLogitsProcessor(config.min_length, eos))
        if config.min_new_tokens and eos:
            processors.append(MinNewTokensLengthLogitsProcessor(prompt_len, config.min_new_tokens, eos))
        if config.forced_bos_token_id is not None:
            processors.append(ForcedBOSTokenLogitsProcessor(config.forced_bos_token_id))
        if config.forced_eos_token_id is not None:
            processors.append(ForcedEOSTokenLogitsProcessor(config.max_length, config.forced_eos_token_id))
        if extra:
            processors.extend(extra)
        if config.do_sample:
            keep = (len(eos) + 1 if eos else 2) if config.num_beams > 1 else 1
            if config.temperature is not None and config.temperature != 1.0:
                processors.append(TemperatureLogitsWarper(config.temperature))
            if config.top_k is not None and config.top_k != 0:
                processors.append(TopKLogitsWarper(config.top_k, min_tokens_to_keep=keep))
            if config.top_p is not None and config.top_p < 1.0:
                processors.append(TopPLogitsWarper(config.top_p, min_tokens_to_keep=keep))
            if config.min_p is not None:
                processors.append(MinPLogitsWarper(config.min_p, min_tokens_to_keep=keep))
            if config.typical_p is not None and config.typical_p < 1.0:
                processors.append(TypicalLogitsWarper(config.typical_p, min_tokens_to_keep=keep))
        if config.renormalize_logits:
            processors.append(LogitNormalization())
        return processors

    def _new_cache(self, capacity: int):
        from .cache import EncoderDecoderCache, KVCache

        if getattr(self.config, "is_encoder_decoder", False):
            return EncoderDecoderCache.empty(self.config.num_decoder_layers, capacity=capacity)
        return KVCache(self.config.num_hidden_layers, capacity=capacity)

    # -- greedy search and sampling ---------------------------------------------------------------

    def _greedy_or_sample(self, input_ids, attention_mask, config, max_length, processors, criteria, eos, streamer,
                          step, encoder_state):
        rows = config.num_return_sequences if config.do_sample else 1
        if rows > 1:
            input_ids = input_ids.repeat_interleave(rows, dim=0)
            attention_mask = attention_mask.repeat_interleave(rows, dim=0) if attention_mask is not None else None
        batch, prompt_len = input_ids.shape
        device = input_ids.device
        pad = config.pad_token_id

        # Preallocated buffers: ids and mask of the whole run, the KV cache; decoding only writes into them.
        sequences = torch.full((batch, max_length), pad if pad is not None else 0, dtype=input_ids.dtype, device=device)
        sequences[:, :prompt_len] = input_ids
        if attention_mask is not None:
            mask = torch.ones((batch, max_length), dtype=attention_mask.dtype, device=device)
            mask[:, :prompt_len] = attention_mask
            positions = attention_mask.long().cumsum(-1) - 1
            positions.masked_fill_(attention_mask == 0, 1)  # (batch, prompt): left padding counts from 0
            next_position = positions[:, -1:] + 1  # (batch, 1)
        else:
            mask = None
            positions = torch.arange(prompt_len, device=device)[None, :]
            next_position = torch.full((1, 1), prompt_len, dtype=torch.long, device=device)
        cache = self._new_cache(max_length) if config.use_cache else None

        want_dict = config.return_dict_in_generate
        scores = () if want_dict and config.output_scores else None
        raw_logits = () if want_dict and config.output_logits else None
        attentions = () if want_dict and config.output_attentions else None
        cross_attentions = () if want_dict and config.output_attentions and encoder_state is not None else None
        hidden_states = () if want_dict and config.output_hidden_states else None
        # the decoder's outputs are called attentions/hidden_states in a decoder-only model
        prefix = "decoder_" if encoder_state is not None else ""
        extra = {}
        if config.output_attentions:
            extra["output_attentions"] = True
        if config.output_hidden_states:
            extra["output_hidden_states"] = True

        eos_tensor = torch.tensor(eos, device=device) if eos else None
        single_eos = eos[0] if len(eos) == 1 else None
        unfinished = torch.ones(batch, dtype=torch.bool, device=device)
        do_sample = config.do_sample
        if streamer is not None:
            streamer.put(input_ids.cpu())

        cur = prompt_len
        out = step(input_ids, attention_mask, positions, cache, **extra)
        while True:
            logits = out.logits[:, -1, :].float()  # (batch, vocab)
            next_scores = processors(sequences[:, :cur], logits) if processors else logits
            if want_dict:
                if scores is not None:
                    scores += (next_scores,)
                if raw_logits is not None:
                    raw_logits += (logits,)
                if attentions is not None:
                    attentions += (out[prefix + "attentions"],)
                if cross_attentions is not None:
                    cross_attentions += (out.cross_attentions,)
                if hidden_states is not None:
                    hidden_states += (out[prefix + "hidden_states"],)
            if do_sample:
                probs = torch.softmax(next_scores, dim=-1)
                next_tokens = torch.multinomial(probs, num_samples=1).squeeze(1)
            else:
                next_tokens = torch.argmax(next_scores, dim=-1)  # (batch,)
            if eos_tensor is not None:
                next_tokens = torch.where(unfinished, next_tokens, pad)
            sequences[:, cur] = next_tokens
            cur += 1
            if streamer is not None:
                streamer.put(next_tokens.cpu())
            if eos_tensor is not None:
                hit = next_tokens == single_eos if single_eos is not None else torch.isin(next_tokens, eos_tensor)
                unfinished &= ~hit
            if criteria:
                unfinished &= ~criteria(sequences[:, :cur], scores)
            if cur >= max_length or ((eos_tensor is not None or criteria) and not bool(unfinished.any())):
                break
            if cache is not None:
                out = step(sequences[:, cur - 1: cur], mask[:, :cur] if mask is not None else None, next_position,
                           cache, **extra)
                next_position = next_position + 1
            else:  # no cache: run the whole sequence so far again
                full_mask = mask[:, :cur] if mask is not None else None
                out = step(sequences[:, :cur], full_mask, _positions(full_mask, cur, device), None, **extra)
        if streamer is not None:
            streamer.end()

        sequences = sequences[:, :cur]
        if not want_dict:
            return sequences
        if encoder_state is not None:
            return GenerateEncoderDecoderOutput(
                sequences=sequences, scores=scores, logits=raw_logits, encoder_attentions=encoder_state["attentions"],
                encoder_hidden_states=encoder_state["hidden_states"], decoder_attentions=attentions,
                cross_attentions=cross_attentions, decoder_hidden_states=hidden_states, past_key_values=cache,
            )
        return GenerateDecoderOnlyOutput(
            sequences=sequences, scores=scores, logits=raw_logits, attentions=attentions,
            hidden_states=hidden_states, past_key_values=cache,
        )

    # -- beam search ------------------------------------------------------------------------------

    def _beam_search(self, input_ids, attention_mask, config, max_length, processors, criteria, eos, step, encoder_state):
        """Vectorised beam search, step for step the reference's algorithm (same candidates, same ties).

        Every step each of the ``num_beams`` running beams proposes its continuations; the best
        ``beams_to_keep`` = num_beams * (1 + number of eos ids, at least 2) by accumulated log-probability
        are kept: those that hit a stopping criterion become finished hypotheses (scored with the length
        penalty), the best ``num_beams`` others keep running.
        """
        num_beams, batch = config.num_beams, input_ids.shape[0]
        prompt_len = input_ids.shape[1]
        device = input_ids.device
        length_penalty, early_stopping = config.length_penalty, config.early_stopping
        pad = config.pad_token_id
        criteria = StoppingCriteriaList(criteria)
        criteria.append(MaxLengthCriteria(max_length))
        if eos:
            criteria.append(EosTokenCriteria(eos))
        beams_to_keep = max(2, 1 + len(eos)) * num_beams
        top_num_beam_mask = torch.cat((torch.ones(num_beams, dtype=torch.bool),
                                       torch.zeros(beams_to_keep - num_beams, dtype=torch.bool))).to(device)

        flat_ids = input_ids.repeat_interleave(num_beams, dim=0)  # (batch * beams, prompt)
        flat_mask = attention_mask.repeat_interleave(num_beams, dim=0) if attention_mask is not None else None
        fill = (pad if pad else eos[0]) if eos else -1  # the reference's filler for unwritten positions
        running_sequences = torch.full((batch, num_beams, max_length), fill, dtype=torch.int64, device=device)
        running_sequences[:, :, :prompt_len] = flat_ids.view(batch, num_beams, prompt_len)
        sequences = running_sequences.clone()
        running_scores = torch.zeros((batch, num_beams), dtype=torch.float, device=device)
        running_scores[:, 1:] = -1e9  # at first all beams are the same prompt: expand only the first
        beam_scores = torch.full((batch, num_beams), -1e9, dtype=torch.float, device=device)
        is_sent_finished = torch.zeros((batch, num_beams), dtype=torch.bool, device=device)
        improvement_possible = torch.ones((batch, 1), dtype=torch.bool, device=device)
        hits = torch.zeros((batch, num_beams), dtype=torch.bool, device=device)
        running_beam_indices = torch.full((batch, num_beams, max_length - prompt_len), -1, dtype=torch.int32, device=device)
        beam_indices = running_beam_indices.clone()

        want_dict = config.return_dict_in_generate
        all_scores = () if want_dict and config.output_scores else None
        raw_logits = () if want_dict and config.output_logits else None

        mask = None
        if flat_mask is not None:
            mask = torch.ones((batch * num_beams, max_length), dtype=flat_mask.dtype, device=device)
            mask[:, :prompt_len] = flat_mask
            positions = flat_mask.long().cumsum(-1) - 1
            positions.masked_fill_(flat_mask == 0, 1)
            next_position = positions[:, -1:] + 1
        else:
            positions = torch.arange(prompt_len, device=device)[None, :]
            next_position = torch.full((1, 1), prompt_len, dtype=torch.long, device=device)
        cache = self._new_cache(max_length)
        out = step(flat_ids, flat_mask, positions, cache)
        cur = prompt_len
        flat_running = flat_ids
        while True:
            logits = out.logits[:, -1, :].float()
            log_probs = F.log_softmax(logits, dim=-1)
            log_probs = processors(flat_running, log_probs) if processors else log_probs
            if all_scores is not None:
                all_scores += (log_probs.clone(),)
            if raw_logits is not None:
                raw_logits += (logits.clone(),)
            vocab = log_probs.shape[-1]
            accumulated = (log_probs.view(batch, num_beams, vocab) + running_scores[:, :, None]).reshape(batch, -1)

            # the best continuations over all beams x vocabulary
            if config.do_sample:
                topk_indices = torch.multinomial(F.softmax(accumulated, dim=-1), num_samples=beams_to_keep)
                topk_log_probs = torch.gather(accumulated, 1, topk_indices)
                topk_log_probs, order = topk_log_probs.sort(dim=-1, descending=True)
                topk_indices = topk_indices.gather(-1, order)
            else:
                topk_log_probs, topk_indices = torch.topk(accumulated, k=beams_to_keep)
            source_beam = topk_indices // vocab  # (batch, beams_to_keep)
            topk_beam_indices = _gather_beams(running_beam_indices, source_beam)
            topk_sequences = _gather_beams(running_sequences, source_beam)
            topk_sequences[:, :, cur] = topk_indices % vocab
            offset = torch.arange(batch, device=device).view(-1, 1) * num_beams
            topk_beam_indices[:, :, cur - prompt_len] = (source_beam + offset).to(torch.int32)

            hits = criteria(topk_sequences[:, :, : cur + 1].reshape(batch * beams_to_keep, cur + 1), all_scores)
            hits = hits.view(batch, beams_to_keep)

            # running beams for the next step: the best that did not stop
            running_log_probs = topk_log_probs + hits.to(torch.float32) * -1.0e9
            next_topk = torch.topk(running_log_probs, k=num_beams)[1]
            running_sequences = _gather_beams(topk_sequences, next_topk)
            running_scores = _gather_beams(running_log_probs, next_topk)
            running_beam_indices = _gather_beams(topk_beam_indices, next_topk)

            # finished hypotheses: merge the new ones into the best num_beams so far
            just_finished = hits & top_num_beam_mask[None, :]
            candidate_scores = topk_log_probs / ((cur + 1 - prompt_len) ** length_penalty)
            batch_full = torch.all(is_sent_finished, dim=-1, keepdim=True) & (early_stopping is True)
            candidate_scores = candidate_scores + batch_full.to(torch.float32) * -1.0e9
            candidate_scores = candidate_scores + (~improvement_possible).to(torch.float32) * -1.0e9
            candidate_scores = candidate_scores + (~just_finished) * -1.0e9
            merged_scores = torch.cat((beam_scores, candidate_scores), dim=1)
            best = torch.topk(merged_scores, k=num_beams)[1]
            sequences = _gather_beams(torch.cat((sequences, topk_sequences), dim=1), best)
            beam_scores = _gather_beams(merged_scores, best)
            beam_indices = _gather_beams(torch.cat((beam_indices, topk_beam_indices), dim=1), best)
            is_sent_finished = _gather_beams(torch.cat((is_sent_finished, just_finished), dim=1), best)

            reorder = running_beam_indices[..., cur - prompt_len].reshape(-1).long()
            cur += 1

            # can a running beam still beat the worst finished one?
            if early_stopping == "never" and length_penalty > 0.0:
                best_length = max_length - prompt_len
            else:
                best_length = cur - prompt_len
            best_running = running_scores[:, :1] / (best_length ** length_penalty)
            worst_finished = torch.where(is_sent_finished, torch.min(beam_scores, dim=1, keepdim=True)[0], -1.0e9)
            improvement_possible = improvement_possible & torch.any(best_running > worst_finished, dim=-1, keepdim=True)
            open_beams = ~(torch.all(is_sent_finished) & (early_stopping is True))
            if not bool(torch.any(improvement_possible) & open_beams & ~torch.all(hits)):
                break

            cache.reorder(reorder)
            flat_running = running_sequences[:, :, :cur].reshape(batch * num_beams, cur)
            out = step(flat_running[:, -1:], mask[:, :cur] if mask is not None else None, next_position, cache)
            next_position = next_position + 1

        sequences = sequences[:, : config.num_return_sequences].reshape(batch * config.num_return_sequences, -1)
        beam_scores = beam_scores[:, : config.num_return_sequences].reshape(-1)
        beam_indices = beam_indices[:, : config.num_return_sequences].reshape(batch * config.num_return_sequences, -1)
        generated = int((beam_indices + 1).bool().sum(dim=1).max())
        sequences = sequences[:, : prompt_len + generated]
        beam_indices = beam_indices[:, :generated]
        if not want_dict:
            return sequences
        if encoder_state is not None:
            return GenerateBeamEncoderDecoderOutput(
                sequences=sequences, sequences_scores=beam_scores if config.output_scores else None,
                scores=all_scores, logits=raw_logits, beam_indices=beam_indices,
                encoder_attentions=encoder_state["attentions"], encoder_hidden_states=encoder_state["hidden_states"],
                past_key_values=cache,
            )
        return GenerateBeamDecoderOnlyOutput(
            sequences=sequences, sequences_scores=beam_scores if config.output_scores else None,
            scores=all_scores, logits=raw_logits, beam_indices=beam_indices, past_key_values=cache,
        )

    # -- helpers users call -----------------------------------------------------------------------

    def compute_transition_scores(self, sequences: torch.Tensor, scores: tuple, normalize_logits: bool = False) -> torch.Tensor:
        """Greedy/sampling: the score of each chosen token, (batch, new tokens)."""
        stacked = torch.stack(scores, dim=1)  # (batch, steps, vocab)
        if normalize_logits:
            stacked = stacked.log_softmax(dim=-1)
        chosen = sequences[:, -stacked.shape[1]:]
        return stacked.gather(-1, chosen[..., None]).squeeze(-1)


def _gather_beams(tensor: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Select beams: tensor (batch, beams, ...) at indices (batch, k) -> (batch, k, ...)."""
    while indices.dim() < tensor.dim():
        indices = indices.unsqueeze(-1)
    return torch.take_along_dim(tensor, indices, dim=1)


def _positions(mask: torch.Tensor | None, length: int, device) -> torch.Tensor:
    if mask is None:
        return torch.arange(length, device=device)[None, :]
    positions = mask.long().cumsum(-1) - 1
    return positions.masked_fill(mask == 0, 1)
