"""``GenerationConfig``: how ``generate`` decodes (length, strategy, sampling and beam settings, special tokens,
outputs), read from and written to ``generation_config.json`` next to a model's weights.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import torch

from .. import hub
from ..configuration import WORKBENCH_VERSION

GENERATION_CONFIG_NAME = "generation_config.json"


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
        num_beam_groups=1,  # diverse beam search: split the beams into groups that avoid each other's tokens
        penalty_alpha=None,  # contrastive search (with top_k > 1): weight of the degeneration penalty
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
        suppress_tokens=None,  # ids never to generate (Whisper: its non-speech symbols)
        begin_suppress_tokens=None,  # ids not allowed as the first new token (Whisper: a blank, end of text)
        length_penalty=1.0,  # beam search: score / length ** length_penalty
        diversity_penalty=0.0,  # diverse beam search: subtracted per earlier group that chose the token this step
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
    def from_pretrained(
        cls, name_or_path: str | os.PathLike, config_file_name: str = GENERATION_CONFIG_NAME, **kwargs: Any
    ) -> "GenerationConfig":
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
            k: v
            for k, v in self.to_dict().items()
            if k not in self._defaults or v != self._defaults[k] or k.endswith("token_id") and v is not None
        }

    def to_json_string(self, use_diff: bool = True) -> str:
        values = self.to_diff_dict() if use_diff else self.to_dict()
        values["transformers_version"] = WORKBENCH_VERSION
        return json.dumps(values, indent=2, sort_keys=True) + "\n"

    def save_pretrained(
        self, save_directory: str | os.PathLike, config_file_name: str = GENERATION_CONFIG_NAME
    ) -> None:
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

    def get_generation_mode(self) -> str:
        """The decoding strategy these settings select, named as the reference's ``GenerationMode`` values."""
        if self.num_beams > 1:
            if self.num_beam_groups > 1:
                return "group_beam_search"
            return "beam_sample" if self.do_sample else "beam_search"
        if self.do_sample:
            return "sample"
        if self.penalty_alpha and self.top_k is not None and self.top_k > 1:
            return "contrastive_search"
        return "greedy_search"

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
            bad(
                f"num_return_sequences={self.num_return_sequences} is more than num_beams={self.num_beams}; "
                "beam search returns at most num_beams sequences."
            )
        if self.num_beams == 1 and not self.do_sample and self.num_return_sequences > 1:
            bad(
                f"num_return_sequences={self.num_return_sequences} with greedy search would return copies of one "
                "sequence; use do_sample=True or num_beams >= num_return_sequences."
            )
        if not isinstance(self.num_beam_groups, int) or self.num_beam_groups < 1:
            bad(f"num_beam_groups={self.num_beam_groups!r}; it must be an int >= 1 (1 is ordinary beam search).")
        if not isinstance(self.diversity_penalty, (int, float)) or self.diversity_penalty < 0:
            bad(f"diversity_penalty={self.diversity_penalty!r}; it must be a number >= 0.")
        if self.num_beam_groups > 1:  # diverse beam search
            if self.num_beams % self.num_beam_groups:
                bad(
                    f"num_beams={self.num_beams} is not divisible by num_beam_groups={self.num_beam_groups}; diverse "
                    "beam search splits the beams into equal groups (e.g. num_beams=6, num_beam_groups=3)."
                )
            if not self.diversity_penalty:
                bad(
                    f"num_beam_groups={self.num_beam_groups} with diversity_penalty=0.0 gives groups that are copies "
                    "of each other; set diversity_penalty > 0 (e.g. 1.0)."
                )
            if self.do_sample:
                bad("diverse beam search (num_beam_groups > 1) does not sample; set do_sample=False.")
        elif self.diversity_penalty and self.num_beams > 1:
            bad(
                f"diversity_penalty={self.diversity_penalty} acts between groups of beams; set num_beam_groups > 1 "
                f"too (a divisor of num_beams={self.num_beams})."
            )
        if self.penalty_alpha is not None:  # contrastive search
            if not isinstance(self.penalty_alpha, (int, float)) or not 0 <= self.penalty_alpha <= 1:
                bad(
                    f"penalty_alpha={self.penalty_alpha!r}; it must be in [0, 1] (the weight of the degeneration "
                    "penalty; 0 is greedy search)."
                )
            if self.penalty_alpha > 0 and (self.do_sample or self.num_beams > 1):
                bad(
                    "penalty_alpha (contrastive search) re-ranks greedy decoding's candidates; it cannot be combined "
                    "with do_sample=True or num_beams > 1. Unset one of them."
                )
            if self.penalty_alpha > 0 and (not isinstance(self.top_k, int) or self.top_k < 2):
                bad(
                    f"penalty_alpha={self.penalty_alpha} without top_k > 1 (top_k={self.top_k!r}): contrastive search "
                    "chooses among the top_k most likely tokens; set top_k too (e.g. penalty_alpha=0.6, top_k=4)."
                )
        if self.early_stopping not in (True, False, "never"):
            bad(f"early_stopping={self.early_stopping!r}; it must be True, False or 'never'.")
        if self.repetition_penalty is not None and not self.repetition_penalty > 0:
            bad(f"repetition_penalty={self.repetition_penalty}; it must be > 0 (1.0 means no penalty).")
        if self.no_repeat_ngram_size is not None and (
            not isinstance(self.no_repeat_ngram_size, int) or self.no_repeat_ngram_size < 0
        ):
            bad(f"no_repeat_ngram_size={self.no_repeat_ngram_size!r}; it must be an int >= 0.")
        if self.bad_words_ids is not None:
            ok = (
                isinstance(self.bad_words_ids, list)
                and self.bad_words_ids
                and all(
                    isinstance(seq, list) and seq and all(isinstance(t, int) and t >= 0 for t in seq)
                    for seq in self.bad_words_ids
                )
            )
            if not ok:
                bad(f"bad_words_ids={self.bad_words_ids!r}; it must be a non-empty list of lists of token ids.")
        if self.do_sample:
            if self.temperature is not None and not (
                isinstance(self.temperature, (int, float)) and self.temperature > 0
            ):
                bad(
                    f"temperature={self.temperature!r}; it must be > 0 (lower is more deterministic; for greedy "
                    "decoding use do_sample=False)."
                )
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


def as_id_list(token_id) -> list[int]:
    """A token-id setting (None, one id, a list or a tensor of ids, as ``eos_token_id`` may be) as a list of ids."""
    if token_id is None:
        return []
    if isinstance(token_id, torch.Tensor):
        return token_id.flatten().tolist()
    return [token_id] if isinstance(token_id, int) else list(token_id)
