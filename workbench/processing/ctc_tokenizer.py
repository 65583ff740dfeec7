"""Wav2Vec2CTCTokenizer: text to letters for CTC training, and CTC decoding of a speech model's frames back to text.

A CTC model (Wav2Vec2ForCTC, HuBERT, data2vec-audio) reads one letter per frame of audio (20 ms), where most
frames are the blank (the pad token) or repeat the letter before. Decoding the best letter of each frame::

    frames (ids -> tokens)  H  H  <pad> E  L  L  <pad> L  O  |  |  W  O  R  L  D
    merge repeats           H       <pad> E  L     <pad> L  O  |     W  O  R  L  D
    drop the blanks         H  E  L  L  O  |  W  O  R  L  D       (a blank keeps the two Ls apart)
    word delimiter -> " "   "HELLO WORLD"

Each letter that is kept remembers where its run of frames starts and ends (``output_char_offsets=True``), and
each word the start of its first letter and the end of its last (``output_word_offsets=True``): frame indices,
which times ``config.inputs_to_logits_ratio / sampling_rate`` are seconds (the speech-recognition pipeline's
timestamps).

Encoding (for training labels) goes the other way, one token per character: ``"HELLO WORLD"`` -> ``H E L L O | W O
R L D`` (spaces become the word delimiter; characters outside the vocabulary become ``<unk>``; tokens of several
characters, ``<unk>`` typed in the text, are matched whole). ``do_lower_case=True`` means the vocabulary is upper
case: the text is upper-cased first, and decoded text lower-cased.

A checkpoint's tokenizer is its ``vocab.json`` (token -> id) with tokenizer_config.json and special_tokens_map.json,
as on the Hub (facebook/wav2vec2-base-960h); the backend is rebuilt from them here (a ``tokenizers`` WordLevel
model over single characters). Saving writes them (and a tokenizer.json) so that the reference loads them too.

Decoding follows the reference v4.37 (the version pipelines follow): ``skip_special_tokens=True`` drops the special
ids before repeats are merged (so a blank between two equal letters is lost too, as there), and an id outside
the vocabulary decodes to ``<unk>``, kept (the current reference drops it); ``clean_up_tokenization_spaces``
defaults to True (``"IT 'S"`` -> ``"IT'S"``).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel

from ..hub import atomic_write_text
from ..outputs import ModelOutput
from .tokenizer import PreTrainedTokenizerFast, _to_list, clean_up_tokenization
from .tokenizer_families import FAMILIES, token_str

VOCAB_FILE = "vocab.json"


class Wav2Vec2CTCTokenizerOutput(ModelOutput):
    """``decode(..., output_char_offsets=True)``: the text, and per letter (``char_offsets``) or word
    (``word_offsets``) a dict ``{"char" or "word": ..., "start_offset": frame, "end_offset": frame}``. From
    ``batch_decode``, a list of each."""

    fields = ("text", "char_offsets", "word_offsets")


def characters_backend(vocab_file: str | os.PathLike, config: dict[str, Any]) -> Tokenizer:
    """The backend of a CTC tokenizer: ``vocab_file`` (JSON, token -> id) as a WordLevel model over single
    characters, spaces replaced by the word delimiter; its tokens of several characters (``<pad>``, ``<unk>``, ...)
    are matched whole, with the spaces around them (as the reference's added tokens, lstrip and rstrip)."""
    vocab = json.loads(Path(vocab_file).read_text(encoding="utf-8"))
    if not isinstance(vocab, dict) or any(isinstance(value, dict) for value in vocab.values()):
        raise NotImplementedError(
            f"{vocab_file} is not a flat vocabulary (token -> id): a vocabulary per language (MMS, target_lang) "
            "is not implemented in workbench."
        )
    family = FAMILIES["Wav2Vec2CTCTokenizer"].special_tokens
    special = {token_str(config.get(name, default)) for name, default in family.items()}
    backend = Tokenizer(WordLevel(vocab, unk_token=token_str(config.get("unk_token", family["unk_token"]))))
    delimiter = token_str(config.get("word_delimiter_token", "|"))
    if delimiter is not None:
        backend.normalizer = normalizers.Replace(" ", delimiter)
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every character a token
    backend.add_tokens(
        [
            AddedToken(token, lstrip=True, rstrip=True, normalized=False, special=token in special)
            for token in vocab
            if len(token) > 1
        ]
    )
    return backend


class Wav2Vec2CTCTokenizer(PreTrainedTokenizerFast):
    """The tokenizer of CTC speech models: ``Wav2Vec2CTCTokenizer.from_pretrained(folder)``, or
    ``Wav2Vec2CTCTokenizer("vocab.json", unk_token="[UNK]", pad_token="[PAD]", word_delimiter_token="|")`` for a
    vocabulary of one's own (the fine-tuning recipe). ``decode`` and ``batch_decode`` do CTC decoding (see the
    module docstring); the rest is :class:`PreTrainedTokenizerFast`."""

    default_tokenizer_class = "Wav2Vec2CTCTokenizer"

    def __init__(self, vocab_file: str | os.PathLike | None = None, **config: Any):
        if config.get("target_lang") is not None:
            raise NotImplementedError(
                f"target_lang={config['target_lang']!r} picks one language of a multilingual vocabulary (MMS), "
                "which workbench does not implement."
            )
        config.setdefault("word_delimiter_token", "|")
        config.setdefault("replace_word_delimiter_char", " ")
        config.setdefault("do_lower_case", False)
        config.setdefault("clean_up_tokenization_spaces", True)  # the reference v4.37's default
        if vocab_file is not None:
            config["tokenizer_object"] = characters_backend(vocab_file, config)
        elif config.get("tokenizer_object") is None and config.get("tokenizer_file") is None:
            raise ValueError(
                "Wav2Vec2CTCTokenizer needs a vocabulary: Wav2Vec2CTCTokenizer('vocab.json', ...) (a JSON file of "
                "character -> id), or Wav2Vec2CTCTokenizer.from_pretrained(folder)."
            )
        super().__init__(**config)

    # ---- settings (kept in init_kwargs, so that tokenizer_config.json carries them) -----------------

    @property
    def word_delimiter_token(self) -> str | None:
        """The token between words (``"|"``), which decoding turns into ``replace_word_delimiter_char``."""
        return token_str(self.init_kwargs.get("word_delimiter_token"))

    @property
    def word_delimiter_token_id(self) -> int | None:
        return self.convert_tokens_to_ids(self.word_delimiter_token)

    @property
    def replace_word_delimiter_char(self) -> str:
        return self.init_kwargs["replace_word_delimiter_char"]

    @property
    def do_lower_case(self) -> bool:
        return bool(self.init_kwargs["do_lower_case"])

    # ---- encoding -----------------------------------------------------------------------------------

    def encode_inputs(self, text, text_pair=None, **kwargs):
        """As :class:`PreTrainedTokenizerFast`'s, upper-casing the text first when ``do_lower_case`` (the
        vocabulary is upper case)."""
        if self.do_lower_case:
            added = sorted((token.content for token in self.added_tokens_decoder.values()), key=len, reverse=True)
            kept = re.compile("(" + "|".join(map(re.escape, added)) + ")") if added else None  # <unk> stays <unk>
            text, text_pair = _upper(text, kept), _upper(text_pair, kept)
        return super().encode_inputs(text, text_pair, **kwargs)

    # ---- CTC decoding -------------------------------------------------------------------------------

    def convert_tokens_to_string(
        self,
        tokens: list[str],
        group_tokens: bool = True,
        spaces_between_special_tokens: bool = False,
        output_char_offsets: bool = False,
        output_word_offsets: bool = False,
    ) -> dict[str, Any]:
        """A frame-by-frame token sequence -> ``{"text", "char_offsets", "word_offsets"}`` (offsets ``None`` unless
        asked): repeats merged (``group_tokens``), blanks dropped, the word delimiter replaced."""
        if not tokens:
            return {"text": "", "char_offsets": [], "word_offsets": []}
        if group_tokens:
            runs = [(token, len(list(run))) for token, run in itertools.groupby(tokens)]  # (token, frames)
        else:
            runs = [(token, 1) for token in tokens]
        letters, start = [], 0
        for token, frames in runs:
            if token != self.pad_token:  # the blank
                char = self.replace_word_delimiter_char if token == self.word_delimiter_token else token
                letters.append({"char": char, "start_offset": start, "end_offset": start + frames})
            start += frames
        text = (" " if spaces_between_special_tokens else "").join(letter["char"] for letter in letters).strip()
        if self.do_lower_case:
            text = text.lower()
        word_offsets = (
            self._get_word_offsets(letters, self.replace_word_delimiter_char) if output_word_offsets else None
        )
        return {"text": text, "char_offsets": letters if output_char_offsets else None, "word_offsets": word_offsets}

    @staticmethod
    def _get_word_offsets(char_offsets: list[dict], word_delimiter_char: str = " ") -> list[dict]:
        """Letters -> words: each run of letters between delimiters, from its first letter's start_offset to its
        last letter's end_offset."""
        words = []
        for is_delimiter, run in itertools.groupby(char_offsets, key=lambda c: c["char"] == word_delimiter_char):
            if not is_delimiter:
                run = list(run)
                word = "".join(letter["char"] for letter in run)
                words.append(
                    {"word": word, "start_offset": run[0]["start_offset"], "end_offset": run[-1]["end_offset"]}
                )
        return words

    def decode(
        self,
        token_ids,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        output_char_offsets: bool = False,
        output_word_offsets: bool = False,
        group_tokens: bool = True,
        spaces_between_special_tokens: bool = False,
    ):
        """The frame-by-frame ids of one clip (argmax of the logits) -> its text, or with ``output_char_offsets``
        / ``output_word_offsets`` a :class:`Wav2Vec2CTCTokenizerOutput`. A batch (2-D) goes to ``batch_decode``."""
        token_ids = _to_list(token_ids)
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        options = dict(
            skip_special_tokens=skip_special_tokens,
            clean_up_tokenization_spaces=clean_up_tokenization_spaces,
            output_char_offsets=output_char_offsets,
            output_word_offsets=output_word_offsets,
            group_tokens=group_tokens,
            spaces_between_special_tokens=spaces_between_special_tokens,
        )
        if token_ids and isinstance(token_ids[0], list):
            return self.batch_decode(token_ids, **options)
        if skip_special_tokens:  # v4.37: before grouping, so "L <pad> L" becomes one L
            special = set(self.all_special_ids)
            token_ids = [i for i in token_ids if i not in special]
        tokens = [self._tokenizer.id_to_token(int(i)) or self.unk_token for i in token_ids]
        decoded = self.convert_tokens_to_string(
            tokens,
            group_tokens=group_tokens,
            spaces_between_special_tokens=spaces_between_special_tokens,
            output_char_offsets=output_char_offsets,
            output_word_offsets=output_word_offsets,
        )
        if self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces:
            decoded["text"] = clean_up_tokenization(decoded["text"])
        if output_char_offsets or output_word_offsets:
            return Wav2Vec2CTCTokenizerOutput(**decoded)
        return decoded["text"]

    def batch_decode(
        self,
        sequences,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        output_char_offsets: bool = False,
        output_word_offsets: bool = False,
        **kwargs: Any,
    ):
        """``decode`` for each row: a list of texts, or one :class:`Wav2Vec2CTCTokenizerOutput` of lists."""
        decoded = [
            self.decode(
                ids,
                skip_special_tokens,
                clean_up_tokenization_spaces,
                output_char_offsets=output_char_offsets,
                output_word_offsets=output_word_offsets,
                **kwargs,
            )
            for ids in _to_list(sequences)
        ]
        if not (output_char_offsets or output_word_offsets):
            return decoded
        return Wav2Vec2CTCTokenizerOutput(**{key: [row[key] for row in decoded] for key in decoded[0].keys()})

    # ---- saving -------------------------------------------------------------------------------------

    def save_pretrained(self, save_directory: str | os.PathLike) -> tuple[str, ...]:
        """PreTrainedTokenizerFast's files plus ``vocab.json``, the file the reference's CTC tokenizer reads."""
        written = super().save_pretrained(save_directory)
        vocab = dict(sorted(self._tokenizer.get_vocab(with_added_tokens=False).items(), key=lambda item: item[1]))
        path = Path(save_directory) / VOCAB_FILE
        atomic_write_text(path, json.dumps(vocab, indent=2, ensure_ascii=False) + "\n")
        return (*written, str(path))


def _upper(texts, kept: re.Pattern | None):
    """Upper-case a text but the matches of ``kept``, or every text of a (nested) list or tuple of them."""
    if texts is None:
        return None
    if isinstance(texts, str):
        parts = kept.split(texts) if kept is not None else [texts]  # the matches at odd positions
        return "".join(part if i % 2 else part.upper() for i, part in enumerate(parts))
    return type(texts)(_upper(text, kept) for text in texts)
