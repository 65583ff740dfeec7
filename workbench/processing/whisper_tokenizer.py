"""WhisperTokenizer: Whisper's text tokens, the prompt that tells its decoder what to do, and its timestamps.

Whisper's vocabulary is a byte-level BPE (GPT-2's for the English-only checkpoints, one trained on 99 languages
for the multilingual ones) followed by special tokens and 1,501 timestamps, one every 0.02 s of the 30-second
window. The ids of whisper-tiny.en (in the multilingual checkpoints every special id is one higher)::

    0 ... 50255       text                          " Hello" -> 18435
    50256             <|endoftext|>                 the end of a transcript (also the bos, unk and pad token)
    50257             <|startoftranscript|>         the decoder's first token
    50258 ... 50356   <|en|> <|zh|> ... <|su|>      the spoken language, in the order of LANGUAGES
    50357  50358      <|translate|> <|transcribe|>  the task
    50359 ... 50361   <|startoflm|> <|startofprev|> <|nocaptions|>
    50362             <|notimestamps|>              "write the text only"
    50363 ... 51863   <|0.00|> <|0.02|> ... <|30.00|>   a time: (id - 50363) x 0.02 s into the window

Encoding (training labels) puts the decoder's prompt, ``prefix_tokens``, in front and <|endoftext|> at the end::

    tokenizer("Hello").input_ids
        <|startoftranscript|> [<|fr|>] [<|transcribe|>] [<|notimestamps|>]  Hello  <|endoftext|>
        the language and the task where set (``language=`` / ``task=`` at load, or ``set_prefix_tokens``);
        <|notimestamps|> unless ``predict_timestamps``

Decoding reads what ``generate`` wrote::

    ids    <|startoftranscript|><|en|><|transcribe|><|0.00|> Hello world.<|1.00|><|1.00|> Bye.<|3.00|><|endoftext|>
    decode(ids, skip_special_tokens=True)          " Hello world. Bye."
    decode(ids, decode_with_timestamps=True)       "<|startoftranscript|>...<|0.00|> Hello world.<|1.00|><|1.00|> ..."
    decode(ids, output_offsets=True)["offsets"]    [{"text": " Hello world.", "timestamp": (0.0, 1.0)},
                                                    {"text": " Bye.", "timestamp": (1.0, 3.0)}]

and :func:`merge_whisper_chunks` joins the outputs of the overlapping windows of a long recording into one
transcript with segment or word timestamps (the speech-recognition pipeline's ``chunk_length_s``).

Behaviour follows the reference v4.37 (the version pipelines follow) where the current one differs:
``clean_up_tokenization_spaces`` (true in Whisper's files) is applied (``" Hello , world"`` -> ``" Hello, world"``;
v5 ignores it for BPE tokenizers); timestamps that go back in time are counted on from the last one (v5's
long-form rules for concatenated 30-second windows are not here, nor is long-form generation); the word timestamps
of :func:`merge_whisper_chunks` give each token the time span from its own timestamp to the next token's, as
v4.37's generate reports them. Where v4.37 had bugs, this follows v5: ``language=`` / ``task=`` given at load
change the encoding's prefix (v4.37's fast tokenizer kept the file's), and ``skip_special_tokens`` drops a
``<|startofprev|>`` prompt from tensors too. ``normalize=True`` (OpenAI's English normalizer with the spelling
table of normalizer.json) is not implemented: ``basic_normalize=True`` is.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from typing import Any

import numpy as np
import torch
from tokenizers import processors

from ..generation.whisper import LANGUAGES, TASK_IDS, TO_LANGUAGE_CODE
from .tokenizer import PreTrainedTokenizerFast, _to_list, clean_up_tokenization
from .tokenizer_files import _byte_level_bpe_from_files

logger = logging.getLogger(__name__)

TIMESTAMP_PATTERN = re.compile(r"<\|(\d+\.\d+)\|>")  # a timestamp token as text: <|1.08|>
# Languages written without spaces between words: their words are cut wherever the tokens decode to whole characters.
UNSPACED_LANGUAGES = {"chinese", "japanese", "thai", "lao", "myanmar", "cantonese"}
# Punctuation that joins the next word (opening) or the previous one (closing), as in OpenAI's word timestamps.
PREPENDED_PUNCTUATION = "\"'“¡¿([{-"
APPENDED_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"


class WhisperTokenizer(PreTrainedTokenizerFast):
    """The tokenizer of Whisper checkpoints: ``WhisperTokenizer.from_pretrained("openai/whisper-tiny.en")``
    (or ``AutoTokenizer``), with ``language="french"`` / ``task="translate"`` / ``predict_timestamps=True`` to set the
    prompt that encoding puts in front (see the module docstring). ``WhisperTokenizer("vocab.json", "merges.txt",
    additional_special_tokens=[...])`` builds one from raw files. ``WhisperTokenizerFast`` is the same class."""

    default_tokenizer_class = "WhisperTokenizer"

    def __init__(
        self,
        vocab_file: str | os.PathLike | None = None,
        merges_file: str | os.PathLike | None = None,
        *,
        language: str | None = None,
        task: str | None = None,
        predict_timestamps: bool = False,
        **config: Any,
    ):
        if vocab_file is not None and merges_file is not None:
            config["tokenizer_object"] = _byte_level_bpe_from_files(vocab_file, merges_file, config).backend
        elif vocab_file is not None or merges_file is not None:
            raise ValueError("WhisperTokenizer(vocab_file, merges_file) needs both files (vocab.json and merges.txt).")
        super().__init__(**config)
        missing = [t for t in ("<|startoftranscript|>", "<|notimestamps|>") if self._tokenizer.token_to_id(t) is None]
        if missing:
            raise ValueError(
                f"This tokenizer has no {' or '.join(missing)}: Whisper's special tokens are missing. Load a Whisper "
                "checkpoint's tokenizer (its tokenizer.json, or tokenizer_config.json's added_tokens_decoder), or pass "
                "additional_special_tokens=[...] with them."
            )
        self.language = language
        self.task = task
        self.predict_timestamps = predict_timestamps
        self.set_prefix_tokens()

    # ---- the decoder's prompt ----------------------------------------------------------------------

    @property
    def prefix_tokens(self) -> list[int]:
        """The ids encoding puts before a text: <|startoftranscript|>, then the language, the task and
        <|notimestamps|> as ``language``, ``task`` and ``predict_timestamps`` say."""
        return self._prefix_ids(self.language, self.task, self.predict_timestamps)

    def _prefix_ids(self, language: str | None, task: str | None, predict_timestamps: bool) -> list[int]:
        start = self.convert_tokens_to_ids("<|startoftranscript|>")
        ids = [start]
        if language is not None:
            # The language tokens follow <|startoftranscript|> in the order of LANGUAGES (Hebrew's is <|iw|>).
            code = _language_code(language)
            language_id = start + 1 + list(LANGUAGES).index(code)
            if language_id >= self.convert_tokens_to_ids("<|translate|>"):
                raise ValueError(f"Language {language!r} has no token in this tokenizer (an older Whisper vocabulary).")
            ids.append(language_id)
        if task is not None:
            if task not in TASK_IDS:
                raise ValueError(f"Unsupported task: {task!r}. Task should be one of {list(TASK_IDS)}.")
            ids.append(self.convert_tokens_to_ids(f"<|{task}|>"))
        if not predict_timestamps:
            ids.append(self.convert_tokens_to_ids("<|notimestamps|>"))
        return ids

    def set_prefix_tokens(
        self, language: str | None = None, task: str | None = None, predict_timestamps: bool | None = None
    ) -> None:
        """Change the prompt that encoding puts before each text (what is not given stays), e.g.
        ``tokenizer.set_prefix_tokens(language="french")`` before tokenizing French labels."""
        language = self.language if language is None else language
        task = self.task if task is None else task
        predict_timestamps = self.predict_timestamps if predict_timestamps is None else predict_timestamps
        prefix = self._prefix_ids(language, task, predict_timestamps)  # raises before anything changes
        self.language, self.task, self.predict_timestamps = language, task, predict_timestamps
        tokens = self.convert_ids_to_tokens(prefix)
        template = " ".join(f"{token}:0" for token in tokens)
        eos = self.eos_token
        self._tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{template} $A:0 {eos}:0",
            pair=f"{template} $A:0 $B:1 {eos}:1",
            special_tokens=[(eos, self.eos_token_id), *zip(tokens, prefix)],
        )

    def get_decoder_prompt_ids(
        self, task: str | None = None, language: str | None = None, no_timestamps: bool = True
    ) -> list[tuple[int, int]]:
        """The prompt after <|startoftranscript|> as ``forced_decoder_ids``: ``[(1, <|fr|>), (2, <|transcribe|>),
        (3, <|notimestamps|>)]``. As in the reference, this also sets the tokenizer's prefix (``set_prefix_tokens``)."""
        self.set_prefix_tokens(task=task, language=language, predict_timestamps=not no_timestamps)
        return [(position + 1, token) for position, token in enumerate(self.prefix_tokens[1:])]

    def get_prompt_ids(self, text: str, return_tensors: str | None = "np"):
        """The ids of a text prompt for ``generate(prompt_ids=...)``: <|startofprev|> then `` text`` (stripped, one
        space in front), which must hold no special token. A numpy array (``return_tensors="np"``), a tensor
        (``"pt"``) or a list (``None``)."""
        ids = [self.convert_tokens_to_ids("<|startofprev|>")] + self.encode(
            " " + text.strip(), add_special_tokens=False
        )
        special = next((i for i in ids[1:] if i >= self.eos_token_id), None)
        if special is not None:
            token = self.convert_ids_to_tokens(special)
            raise ValueError(f"Encountered text in the prompt corresponding to disallowed special token: {token}.")
        if return_tensors == "np":
            return np.array(ids)
        if return_tensors == "pt":
            return torch.tensor(ids)
        if return_tensors is None:
            return ids
        raise ValueError(f"return_tensors must be 'np', 'pt' or None, got {return_tensors!r}.")

    # ---- decoding ----------------------------------------------------------------------------------

    @property
    def timestamp_begin(self) -> int:
        """The id of <|0.00|>, the first timestamp: the one after <|notimestamps|>."""
        return self.convert_tokens_to_ids("<|notimestamps|>") + 1

    def decode(
        self,
        token_ids,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        output_offsets: bool = False,
        time_precision: float = 0.02,
        decode_with_timestamps: bool = False,
        normalize: bool = False,
        basic_normalize: bool = False,
        remove_diacritics: bool = False,
    ) -> str | dict[str, Any] | list:
        """Ids -> text; a batch (2-D) gives a list.

        ``skip_special_tokens`` drops the special tokens, and a ``<|startofprev|>`` prompt with them (everything
        before <|startoftranscript|>). Timestamps are dropped from the text unless ``decode_with_timestamps``,
        which writes them as ``<|1.08|>`` (``time_precision`` seconds per step). ``output_offsets`` returns
        ``{"text": ..., "offsets": [{"text", "timestamp": (start, end)}, ...]}``, one per timestamped segment.
        ``basic_normalize`` lower-cases the text and removes punctuation, symbols and bracketed words
        (``remove_diacritics`` also accents), the form word error rates are computed on.
        """
        token_ids = _to_list(token_ids)
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        options = dict(
            skip_special_tokens=skip_special_tokens,
            clean_up_tokenization_spaces=clean_up_tokenization_spaces,
            output_offsets=output_offsets,
            time_precision=time_precision,
            decode_with_timestamps=decode_with_timestamps,
            normalize=normalize,
            basic_normalize=basic_normalize,
            remove_diacritics=remove_diacritics,
        )
        if token_ids and isinstance(token_ids[0], list):
            return self.batch_decode(token_ids, **options)
        if normalize:
            self.normalize("")
        kept = self._strip_prompt(token_ids) if skip_special_tokens else token_ids
        if decode_with_timestamps:
            text = self._decode_with_timestamps(kept, skip_special_tokens, time_precision, clean_up_tokenization_spaces)
        else:
            text = self._decode_text(kept, skip_special_tokens, clean_up_tokenization_spaces)
            if basic_normalize:
                text = self.basic_normalize(text, remove_diacritics=remove_diacritics)
            text = TIMESTAMP_PATTERN.sub("", text)
        if output_offsets:
            return {"text": text, "offsets": self._compute_offsets(token_ids, time_precision)}
        return text

    def batch_decode(self, sequences, skip_special_tokens: bool = False, **options: Any) -> list:
        """``decode`` for each row of a batch (a list of id lists, or a 2-D tensor), with the same options."""
        return [self.decode(ids, skip_special_tokens, **options) for ids in _to_list(sequences)]

    def _decode_text(self, ids: list[int], skip_special_tokens: bool, clean_up_tokenization_spaces: bool | None) -> str:
        """The backend's decoding, cleaned up as the tokenizer's setting says (v4.37, unlike v5, cleans BPE text)."""
        text = self._tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
        if self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces:
            text = clean_up_tokenization(text)
        return text

    def _strip_prompt(self, ids: list[int]) -> list[int]:
        """Ids without a previous-text prompt: ``<|startofprev|> context <|startoftranscript|> ...`` -> from
        <|startoftranscript|> on (nothing when it is missing)."""
        if not ids or ids[0] != self.convert_tokens_to_ids("<|startofprev|>"):
            return ids
        start = self.convert_tokens_to_ids("<|startoftranscript|>")
        return ids[ids.index(start) :] if start in ids else []

    def _decode_with_timestamps(
        self, ids: list[int], skip_special_tokens: bool, time_precision: float, clean_up: bool | None
    ) -> str:
        """The text with each timestamp written as ``<|1.08|>``. A timestamp lower than the one before starts a
        new 30-second window, whose times are counted on from that one (as v4.37 does)."""
        begin = self.timestamp_begin
        pieces, run = [], []  # the text between timestamps; a run of text ids not yet decoded
        latest, offset = 0.0, 0.0  # the last timestamp seen; the seconds added for the windows before
        for token in ids:
            if token < begin:
                run.append(token)
                continue
            time = (token - begin) * time_precision
            if time < latest:
                offset += latest
            latest = time
            pieces += [TIMESTAMP_PATTERN.sub("", self._decode_text(run, skip_special_tokens, clean_up)) if run else ""]
            pieces.append(f"<|{time + offset:.2f}|>")
            run = []
        pieces.append(TIMESTAMP_PATTERN.sub("", self._decode_text(run, skip_special_tokens, clean_up)) if run else "")
        return "".join(pieces)

    def _compute_offsets(self, ids: list[int], time_precision: float = 0.02) -> list[dict[str, Any]]:
        """The timestamped segments: each run ``<|start|> text <|end|>`` -> ``{"text", "timestamp": (start, end)}``.

        A segment ends at two timestamps in a row (``<|1.00|><|1.00|>``: the end of one, the start of the next) and
        at the last timestamp; text before the first timestamp belongs to no segment."""
        begin = self.timestamp_begin
        is_time = [token >= begin for token in ids]
        times = [position for position, flag in enumerate(is_time) if flag]
        ends = [position for position in range(1, len(ids)) if is_time[position - 1] and is_time[position]]
        if not ends and len(times) <= 1:
            return []
        if times[-1] + 1 not in ends:
            ends.append(times[-1] + 1)
        offsets, start = [], times[0]
        for end in ends:
            segment = ids[start:end]  # <|start|> text ... <|end|>
            if len(segment) > 1:
                text = TIMESTAMP_PATTERN.sub("", self._decode_text(segment, False, None))
                offsets.append(
                    {
                        "text": text,
                        "timestamp": ((segment[0] - begin) * time_precision, (segment[-1] - begin) * time_precision),
                    }
                )
            start = end
        return offsets

    # ---- normalization -----------------------------------------------------------------------------

    @staticmethod
    def basic_normalize(text: str, remove_diacritics: bool = False) -> str:
        """Whisper's basic text normalizer: lower case; words in brackets or parentheses dropped; punctuation,
        symbols and marks replaced by spaces (with ``remove_diacritics``, accents dropped: "été" -> "ete");
        runs of whitespace made one space."""
        text = text.lower()
        text = re.sub(r"[<\[][^>\]]*[>\]]", "", text)  # words between brackets: [noise], <|en|>
        text = re.sub(r"\(([^)]+?)\)", "", text)  # words between parentheses
        text = (_remove_symbols_and_diacritics if remove_diacritics else _remove_symbols)(text).lower()
        return re.sub(r"\s+", " ", text)

    def normalize(self, text: str) -> str:
        """OpenAI's English normalizer (``decode(..., normalize=True)``): not implemented here."""
        raise NotImplementedError(
            "normalize=True (OpenAI's English text normalizer: spelled-out numbers, contractions, British spellings "
            "from normalizer.json) is not implemented in workbench; use basic_normalize=True (lower case, no "
            "punctuation), the normalizer Whisper uses for languages other than English."
        )

    # ---- long recordings ---------------------------------------------------------------------------

    def _decode_asr(self, model_outputs, *, return_timestamps, return_language, time_precision):
        """The reference's name for :func:`merge_whisper_chunks` (its ASR pipeline calls the tokenizer's)."""
        return merge_whisper_chunks(
            self,
            model_outputs,
            return_timestamps=return_timestamps,
            return_language=return_language,
            time_precision=time_precision,
        )

    # ---- saving ------------------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        """tokenizer_config.json's settings, with the prompt's (as the reference v5 writes them)."""
        prompt = {"language": self.language, "task": self.task, "predict_timestamps": self.predict_timestamps}
        return {**super()._config(), **prompt}


WhisperTokenizerFast = WhisperTokenizer  # one class, as in the reference v5


def _language_code(language: str) -> str:
    """A language's code: ``"fr"`` for ``"fr"``, ``"french"`` or ``"French"``."""
    language = language.lower()
    if language in TO_LANGUAGE_CODE:
        return TO_LANGUAGE_CODE[language]
    if language in LANGUAGES:
        return language
    known = list(LANGUAGES) if len(language) <= 3 else list(TO_LANGUAGE_CODE)
    raise ValueError(f"Unsupported language: {language!r}. Language should be one of: {', '.join(known)}.")


# ------------------------------------------------------------------------------------------------
# Basic normalization (OpenAI's BasicTextNormalizer)
# ------------------------------------------------------------------------------------------------

# Letters that NFKD normalization does not split into a base letter and an accent.
ADDITIONAL_DIACRITICS = {
    "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ẞ": "SS",
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "th", "ł": "l", "Ł": "L",
}  # fmt: skip


def _remove_symbols_and_diacritics(text: str) -> str:
    """Marks, symbols and punctuation -> spaces; accents dropped (after NFKD: "é" is "e" + a combining accent)."""

    def replace(char: str) -> str:
        if char in ADDITIONAL_DIACRITICS:
            return ADDITIONAL_DIACRITICS[char]
        if unicodedata.category(char) == "Mn":  # a combining accent
            return ""
        return " " if unicodedata.category(char)[0] in "MSP" else char

    return "".join(replace(char) for char in unicodedata.normalize("NFKD", text))


def _remove_symbols(text: str) -> str:
    """Marks, symbols and punctuation -> spaces; accented letters kept (composed by NFKC)."""
    return "".join(" " if unicodedata.category(c)[0] in "MSP" else c for c in unicodedata.normalize("NFKC", text))


# ------------------------------------------------------------------------------------------------
# Long recordings: the windows' outputs -> one transcript (the reference v4.37's tokenizer._decode_asr)
# ------------------------------------------------------------------------------------------------


def merge_whisper_chunks(
    tokenizer: WhisperTokenizer,
    model_outputs: list[dict[str, Any]],
    *,
    return_timestamps: bool | str | None = None,
    return_language: bool | None = None,
    time_precision: float = 0.02,
) -> tuple[str, dict[str, Any]]:
    """The tokens Whisper wrote for the windows of one recording -> ``(text, {"chunks": [...]})`` (the dict empty
    unless timestamps or languages are asked for): what the reference v4.37's ASR pipeline returns.

    ``model_outputs``, in time order, one per window: ``{"tokens": ids (a list, or a (1, n) tensor), "stride":
    (window, left, right) in seconds (for windows cut from a longer recording), "token_timestamps": a start time
    per token (only for ``return_timestamps="word"``)}``. ``time_precision``: seconds per timestamp step.

    Each token is one of four kinds::

        a language token  <|fr|>     the language of the current segment (a new segment when it changes and no
                                      timestamps are asked for)
        another special   <|endoftext|>, <|transcribe|>, ...   ignored
        a timestamp       <|1.24|>    1.24 s into its window: opens a segment, or closes it; a closed segment's
                                      text is resolved (below) and kept
        text              " Hello"    part of the open segment

    Windows overlap (``stride``: seconds at each side heard as context only), and a window's last segment is
    often cut short by its end: the open segment's text is kept as one run of tokens per window, and the runs are
    joined where they overlap (:func:`merge_overlapping`). Timestamps inside a window's right stride are left to
    the next window, which hears that audio in full (with the timestamp after such a one: they come in pairs), and
    once a segment is open a window's timestamps in its left stride are skipped. Times are rounded to 0.01 s.

    ``return_timestamps``: ``True`` gives a chunk per segment, ``{"text", "timestamp": (start, end)}``;
    ``"word"`` a chunk per word, its time from its tokens'. ``return_language`` adds each chunk's ``"language"``
    (its name, ``"french"``).
    """
    begin = tokenizer.timestamp_begin
    special_ids = set(tokenizer.all_special_ids)
    words = return_timestamps == "word"
    segments: list[dict] = []
    language = None  # the language of the latest language token
    segment = _new_segment(language)
    runs: list[list[int]] = []  # the open segment's text, one run of tokens per window
    runs_times: list[list[tuple]] = []  # with words: each token's (start, end) in seconds
    time_offset = 0.0  # where the current window starts in the recording, in seconds
    skip = False  # skip the next timestamp (the second of a pair whose first fell in a right stride)

    def close(segment: dict, runs: list, runs_times: list) -> None:
        """Resolve the segment's text from its runs and keep it."""
        tokens, times = merge_overlapping(runs, runs_times if words else None)
        segment["text"] = tokenizer.decode(tokens)
        if words:
            segment["words"] = _word_timestamps(tokenizer, tokens, times, language)
        segments.append(segment)

    for output in model_outputs:
        tokens = _one_row(output["tokens"])
        token_times = _one_row(output["token_timestamps"]) if words else None
        first_timestamp, last_timestamp = begin, None
        if "stride" in output:
            window, stride_left, stride_right = output["stride"]
            time_offset -= stride_left
            if stride_left:
                first_timestamp = stride_left / time_precision + begin  # the first timestamp past the left stride
            if stride_right:
                last_timestamp = _first_timestamp_to_skip(tokens, begin, time_precision, window - stride_right)
        run, run_times = [], []
        for i, token in enumerate(tokens):
            if token in special_ids:
                name = LANGUAGES.get(tokenizer.convert_ids_to_tokens(token)[2:-2])  # "<|fr|>" -> "french"
                if name is None:
                    continue
                if language and name != language and not return_timestamps:  # a new language: a new segment
                    close(segment, [*runs, run], [])
                    runs, run = [], []
                    segment = _new_segment(language)
                segment["language"] = language = name
            elif token >= begin:
                time = round((token - begin) * time_precision + time_offset, 2)
                if last_timestamp is not None and token >= last_timestamp:
                    skip = True  # in the right stride: the next window places it
                elif skip or (runs and token < first_timestamp):
                    skip = False
                elif segment["timestamp"][0] is None:
                    segment["timestamp"][0] = time  # the segment opens
                elif time != segment["timestamp"][0]:  # it closes (the same time again is a start: ignored)
                    segment["timestamp"][1] = time
                    close(segment, [*runs, run], [*runs_times, run_times])
                    runs, run, runs_times, run_times = [], [], [], []
                    segment = _new_segment(language)
            else:
                run.append(token)
                if words:
                    start = round(token_times[i] + time_offset, 2)
                    end = round(token_times[i + 1] + time_offset, 2) if i + 1 < len(token_times) else None
                    run_times.append((start, end))
        if "stride" in output:
            time_offset += window - stride_right
        if run:
            runs.append(run)
            runs_times.append(run_times)
        elif not any(runs):  # nothing heard in this segment yet: start it afresh
            segment, runs, runs_times = _new_segment(language), [], []

    if runs:  # the last segment never closed (no timestamps asked for, or the audio ends mid-word)
        if return_timestamps:
            logger.warning(
                "Whisper did not predict an ending timestamp, which can happen if audio is cut off in the middle of "
                "a word. Also make sure WhisperTimeStampLogitsProcessor was used during generation."
            )
        close(segment, runs, runs_times)

    text = "".join(segment["text"] for segment in segments)
    if not (return_timestamps or return_language):
        return text, {}
    for segment in segments:
        if return_timestamps:
            segment["timestamp"] = tuple(segment["timestamp"])
        else:
            del segment["timestamp"]
        if not return_language:
            del segment["language"]
    if words:
        return text, {"chunks": [word for segment in segments for word in segment["words"]]}
    return text, {"chunks": segments}


def _new_segment(language: str | None) -> dict:
    return {"language": language, "timestamp": [None, None], "text": ""}


def _one_row(ids) -> list:
    """A window's ids (or times) as a flat list: a list, a 1-D tensor, or the (1, n) rows generate() returns."""
    ids = _to_list(ids)
    if ids and isinstance(ids[0], list):
        if len(ids) != 1:
            raise ValueError(f"Each model output holds the tokens of one window; got a batch of {len(ids)} rows.")
        ids = ids[0]
    return ids


def _first_timestamp_to_skip(tokens: list[int], begin: int, time_precision: float, right_stride_start: float) -> int:
    """The trailing timestamps of a window that fall in its right stride are left to the next window: the earliest
    of them at or after ``right_stride_start`` seconds (and always at least the window's last timestamp)."""
    first = None
    for token in reversed(tokens):
        if token >= begin:
            if first is not None and (token - begin) * time_precision < right_stride_start:
                break
            first = token
    return first


def merge_overlapping(runs: list[list], times: list[list] | None = None) -> tuple[list, list]:
    """Join runs of tokens heard by overlapping windows into one sequence (and their ``times``, cut alike).

    Each next run is slid over the end of the sequence so far; an overlap of ``i`` positions scores
    ``matches / i + i / 10000`` (so a longer perfect overlap wins), counted only with at least two matching tokens::

        left   a b c d               the best overlap is "c d" over "c d"; the join keeps the left run up to the
        right      c d f             middle of the overlap and the right run from the middle of its part on

    Without two matching tokens at any overlap, the runs are simply concatenated.
    """
    merged, merged_times = [], []
    left, left_times = runs[0], times[0] if times else []
    for k, right in enumerate(runs[1:], start=1):
        best, overlap = 0.0, (len(left), len(left), 0, 0)  # (left start, left stop, right start, right stop)
        for i in range(1, len(left) + len(right)):
            left_start, left_stop = max(0, len(left) - i), min(len(left), len(left) + len(right) - i)
            right_start, right_stop = max(0, i - len(left)), min(len(right), i)
            matches = sum(a == b for a, b in zip(left[left_start:left_stop], right[right_start:right_stop]))
            score = matches / i + i / 10000
            if matches > 1 and score > best:
                best, overlap = score, (left_start, left_stop, right_start, right_stop)
        left_middle, right_middle = (overlap[0] + overlap[1]) // 2, (overlap[2] + overlap[3]) // 2
        merged += left[:left_middle]
        left = right[right_middle:]
        if times:
            merged_times += left_times[:left_middle]
            left_times = times[k][right_middle:]
    return merged + left, merged_times + left_times


# ---- word timestamps (OpenAI's rules for what a word is) ---------------------------------------------


def _word_timestamps(tokenizer, tokens: list[int], times: list[tuple], language: str | None) -> list[dict]:
    """Tokens with a (start, end) each -> words, from the start of their first token to the end of their last."""
    words, indices = _tokens_to_words(tokenizer, tokens, language)
    return [
        {"text": word, "timestamp": (times[where[0]][0], times[where[-1]][1])} for word, where in zip(words, indices)
    ]


def _tokens_to_words(tokenizer, tokens: list[int], language: str | None) -> tuple[list[str], list[list[int]]]:
    """Group tokens into words: cut at spaces and punctuation (for languages written without spaces, wherever the
    tokens decode to whole characters), then join opening punctuation to the word after it and closing punctuation
    to the word before. Returns the words and each word's token positions."""
    if language is None and tokenizer.language is not None:
        language = LANGUAGES[_language_code(tokenizer.language)]
    if (language or "english") in UNSPACED_LANGUAGES:
        words, indices = _split_on_characters(tokenizer, tokens)
    else:
        words, indices = _split_on_spaces(tokenizer, tokens)
    j = len(words) - 1  # opening punctuation joins the word after it (j: that word)
    for i in range(len(words) - 2, -1, -1):
        if words[i].startswith(" ") and words[i].strip() in PREPENDED_PUNCTUATION:
            words[j], indices[j] = words[i] + words[j], indices[i] + indices[j]
            words[i], indices[i] = "", []
        else:
            j = i
    i = 0  # closing punctuation joins the word before it (i: that word)
    for j in range(1, len(words)):
        if not words[i].endswith(" ") and words[j] in APPENDED_PUNCTUATION:
            words[i], indices[i] = words[i] + words[j], indices[i] + indices[j]
            words[j], indices[j] = "", []
        else:
            i = j
    return [word for word in words if word], [where for where in indices if where]


def _split_on_characters(tokenizer, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
    """Cut the tokens wherever what they decode to so far is whole characters (a byte-level token may hold part of
    a character's UTF-8 bytes, which decodes to the replacement character U+FFFD, unless the text really has one)."""
    full = tokenizer.decode(tokens, decode_with_timestamps=True)
    pieces, indices, current, offset = [], [], [], 0
    for index in range(len(tokens)):
        current.append(index)
        decoded = tokenizer.decode([tokens[k] for k in current], decode_with_timestamps=True)
        broken = decoded.find("\ufffd")
        if broken < 0 or offset + broken >= len(full) or full[offset + broken] == "\ufffd":
            pieces.append(decoded)
            indices.append(current)
            current, offset = [], offset + len(decoded)
    return pieces, indices


def _split_on_spaces(tokenizer, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
    """Whole characters joined into words: a new word at each piece that starts with a space, is punctuation, or is
    a special token."""
    words, indices = [], []
    for piece, where in zip(*_split_on_characters(tokenizer, tokens)):
        special = tokens[where[0]] >= tokenizer.eos_token_id
        if special or piece.startswith(" ") or piece.strip() in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" or not words:
            words.append(piece)
            indices.append(where)
        else:
            words[-1] += piece
            indices[-1] = indices[-1] + where
    return words, indices
