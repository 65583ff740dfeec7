"""Tokenizers: text to token ids and back, with the Hugging Face Transformers API.

``AutoTokenizer.from_pretrained(name_or_path)`` returns a :class:`PreTrainedTokenizerFast`: a thin layer
over a ``tokenizers.Tokenizer`` (Hugging Face's Rust tokenizer, called *the backend* below). The backend
does the real work, in five steps::

    "Héllo world!"  -normalizer->  "hello world!"            (lowercase, strip accents, unicode forms)
                    -pre-tokenizer-> ["hello", "world", "!"] (split into words, with character offsets)
                    -model->   ["hello", "world", "!"]        (WordPiece / BPE / Unigram sub-words -> ids)
                    -post-processor-> ["[CLS]", ..., "[SEP]"] (the model's special-token template)
                    -padding / truncation->                   (set per call by this module)

This module adds what users of Transformers expect on top of it: special-token attributes
(``tokenizer.pad_token``), the arguments of ``tokenizer(texts, padding=True, truncation=True,
return_tensors="pt")``, :class:`BatchEncoding`, decoding, chat templates, and the Hub's file layout.

Where the backend comes from, in this order (the first that a checkpoint has wins):

1. ``tokenizer.json``: the backend's own serialization, loaded as it is.
2. ``vocab.txt``: BERT's WordPiece vocabulary.
3. ``vocab.json`` + ``merges.txt``: byte-level BPE, as GPT-2 (or RoBERTa, whose vocabulary has ``<s>``).
4. ``spiece.model`` / ``tokenizer.model``: a SentencePiece model; a Unigram one is read as T5's tokenizer,
   a BPE one as Llama's / Mistral's.
5. No file at all, where ``tokenizer_class`` (in tokenizer_config.json, else in the model's config.json) is
   ``ByT5Tokenizer``: ByT5 reads UTF-8 bytes, token id = byte + 3, so it needs no vocabulary.

Steps 2-4 rebuild, from the raw files, the same backend that the reference library builds for its
``BertTokenizer``, ``GPT2Tokenizer``/``RobertaTokenizer``, ``T5Tokenizer`` and ``LlamaTokenizer``, so that
both give the same tokens. The reference's ``ByT5Tokenizer`` is plain Python; step 5 builds a backend that
gives the same ids. ``tokenizer_config.json`` and ``special_tokens_map.json`` add the settings
(``model_max_length``, ``padding_side``, special tokens, ``do_lower_case``, ``chat_template``, ...).
``save_pretrained`` writes ``tokenizer.json`` + ``tokenizer_config.json`` + ``special_tokens_map.json``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tokenizers import AddedToken, Encoding, Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import BPE, Unigram, WordPiece

from .hub import CheckpointNotFoundError, atomic_write_text, pop_hub_kwargs, resolve_file

logger = logging.getLogger(__name__)

VERY_LARGE_INTEGER = int(1e30)  # model_max_length of a tokenizer whose files name no limit (as the reference)
LARGE_INTEGER = int(1e20)  # above this, model_max_length means "no limit"

# The named special tokens, in the order in which `all_special_tokens` lists them.
SPECIAL_TOKENS_ATTRIBUTES = (
    "bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"
)

PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")

# tokenizer_config.json keys that describe one loading session, not the tokenizer: never written back.
_SESSION_KEYS = ("is_local", "local_files_only", "_commit_hash")


# ----------------------------------------------------------------------------------------------------
# 1. BatchEncoding: what tokenizer(...) returns
# ----------------------------------------------------------------------------------------------------


class BatchEncoding(dict):
    """The output of ``tokenizer(...)``: a dict ``{"input_ids": ..., "attention_mask": ..., ...}``.

    Keys are also attributes (``batch.input_ids``). The backend's ``Encoding`` objects stay attached
    (``.encodings``), one per row, which answer alignment questions: which word a token came from
    (``word_ids``), which sequence of a pair (``sequence_ids``), which token covers a character
    (``char_to_token``). ``.to(device)`` moves the tensors, so ``model(**batch.to("cuda"))`` works.
    """

    def __init__(
        self, data: dict | None = None, encodings: list[Encoding] | None = None, tensor_type: str | None = None
    ):
        super().__init__(data or {})
        self._encodings = encodings
        self.convert_to_tensors(tensor_type)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no key or attribute {name!r} (keys: {list(self)})") from None

    @property
    def data(self) -> dict:
        return dict(self)

    @property
    def encodings(self) -> list[Encoding] | None:
        """The backend's ``tokenizers.Encoding`` of each row (tokens, offsets, word ids, ...)."""
        return self._encodings

    def _encoding(self, batch_index: int) -> Encoding:
        if not self._encodings:
            raise ValueError("This BatchEncoding carries no encodings (it was not produced by a tokenizer call).")
        return self._encodings[batch_index]

    def tokens(self, batch_index: int = 0) -> list[str]:
        """The token strings of row ``batch_index``, special tokens and padding included."""
        return self._encoding(batch_index).tokens

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token, the index of the word it belongs to (``None`` for special tokens and padding)."""
        return self._encoding(batch_index).word_ids

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token, 0 or 1: the sequence of the pair it belongs to (``None`` for special tokens)."""
        return self._encoding(batch_index).sequence_ids

    def char_to_token(
        self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0
    ) -> int | None:
        """The token that covers a character: ``char_to_token(char)`` or ``char_to_token(row, char)``."""
        if char_index is None:
            batch_index, char_index = 0, batch_or_char_index
        else:
            batch_index = batch_or_char_index
        return self._encoding(batch_index).char_to_token(char_index, sequence_index)

    def token_to_chars(self, batch_or_token_index: int, token_index: int | None = None) -> tuple[int, int] | None:
        """The ``(start, end)`` characters of a token: ``token_to_chars(token)`` or ``token_to_chars(row, token)``."""
        if token_index is None:
            batch_index, token_index = 0, batch_or_token_index
        else:
            batch_index = batch_or_token_index
        return self._encoding(batch_index).token_to_chars(token_index)

    def convert_to_tensors(self, tensor_type: str | None) -> BatchEncoding:
        """Turn the lists into ``torch`` (``"pt"``) or ``numpy`` (``"np"``) arrays, in place."""
        if tensor_type is None:
            return self
        if tensor_type not in ("pt", "np"):
            raise ValueError(
                f"return_tensors={tensor_type!r} is not supported: use 'pt' (PyTorch), 'np' (NumPy) or None."
            )
        for key, value in self.items():
            lengths = {len(row) for row in value} if value and isinstance(value[0], (list, tuple)) else set()
            if len(lengths) > 1:
                raise ValueError(
                    f"Cannot make a tensor of {key!r}: its sequences have different lengths {sorted(lengths)}. "
                    "Pass padding=True (and truncation=True for texts longer than the model accepts) to give "
                    "them one length."
                )
        if tensor_type == "pt":
            import torch

            for key, value in self.items():
                if not torch.is_tensor(value):
                    self[key] = torch.tensor(value, dtype=torch.int64 if _is_empty(value) else None)
        else:
            for key, value in self.items():
                if not isinstance(value, np.ndarray):
                    self[key] = np.asarray(value, dtype=np.int64 if _is_empty(value) else None)
        return self

    def to(self, device) -> BatchEncoding:
        """Move every tensor to ``device`` (a string such as ``"cuda"`` or a ``torch.device``); returns self."""
        for key, value in self.items():
            if hasattr(value, "to"):
                self[key] = value.to(device)
        return self


def _is_empty(value) -> bool:
    """True for ``[]`` and ``[[], []]``: data whose dtype cannot be inferred (it is int64: token ids)."""
    return len(value) == 0 or (isinstance(value[0], (list, tuple)) and all(len(row) == 0 for row in value))


# ----------------------------------------------------------------------------------------------------
# 2. Backends built from raw vocabulary files (when a checkpoint has no tokenizer.json)
# ----------------------------------------------------------------------------------------------------


@dataclass
class _RawBuild:
    """A backend rebuilt from raw files, and the tokenizer class of the reference that it reproduces."""

    backend: Tokenizer
    tokenizer_class: str
    additional_special_tokens: tuple[str, ...] = ()


def _byte_to_char() -> dict[int, str]:
    """The byte-level alphabet (GPT-2's): each of the 256 byte values as one printable character.

    Printable bytes (``!`` to ``~``, ``¡`` to ``¬``, ``®`` to ``ÿ``) stand for themselves; the others (space,
    control bytes, ...) are moved to the characters from U+0100 on, in order: the space byte 0x20 is ``Ġ``.
    ``pre_tokenizers.ByteLevel`` and ``decoders.ByteLevel`` use this table.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [byte for byte in range(256) if byte not in printable]
    return {**{byte: chr(byte) for byte in printable}, **{byte: chr(256 + n) for n, byte in enumerate(others)}}


def _byt5_bytes(config: dict) -> _RawBuild:
    """ByT5's tokenizer, which has no vocabulary file: a token is one UTF-8 byte, id = byte + 3, after
    ``<pad>`` 0, ``</s>`` 1 and ``<unk>`` 2; ``</s>`` ends each sequence; the sentinels ``<extra_id_0>``,
    ``<extra_id_1>``, ... (``extra_ids``, 125 by default) follow at 259, 260, ...

    Rebuilt from ``tokenizers`` parts: the byte-level pre-tokenizer writes each byte as one character (see
    ``_byte_to_char``), and a BPE model without merges maps each character to its byte's id. Decoding joins
    the bytes back into UTF-8 text; bytes that form no character (a cut-off multi-byte character) are
    dropped, as the reference does (it decodes with ``errors="ignore"``). The price of doing this with the
    backend's parts: a U+FFFD character (``�``) that really was in the text is dropped too.

    Token strings are byte-level characters (``"Ġ"`` for a space), where the reference's Python tokenizer
    writes ``chr(byte)`` (``" "``); the ids are the same.
    """
    special = [_token_str(config.get(name, default))
               for name, default in (("pad_token", "<pad>"), ("eos_token", "</s>"), ("unk_token", "<unk>"))]
    vocab = {token: index for index, token in enumerate(special)}
    vocab.update({char: len(special) + byte for byte, char in _byte_to_char().items()})
    backend = Tokenizer(BPE(vocab, [], dropout=None, fuse_unk=False))
    # The reference strips the spaces around these three where they appear in the text ("a <pad> b").
    backend.add_special_tokens([AddedToken(token, lstrip=True, rstrip=True, special=True, normalized=False)
                                for token in special])
    # use_regex splits the text into GPT-2's words first: it changes no id (nothing merges across bytes),
    # but gives word_ids() their words.
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.Sequence([decoders.ByteLevel(), decoders.Replace("\ufffd", "")])

    extra_ids = config.get("extra_ids", 125)
    sentinels = [f"<extra_id_{i}>" for i in range(extra_ids)]
    configured = config.get("additional_special_tokens") or config.get("extra_special_tokens") or []
    configured = [_token_str(token) for token in (configured.values() if isinstance(configured, dict) else configured)]
    configured_sentinels = {token for token in configured if "extra_id" in token}
    if extra_ids and configured and len(configured_sentinels) != extra_ids:
        raise ValueError(
            f"tokenizer_config.json sets extra_ids={extra_ids} and additional_special_tokens with "
            f"{len(configured_sentinels)} <extra_id_N> tokens; they must agree: list all {extra_ids} sentinels "
            "in additional_special_tokens, or leave it out to get the default ones."
        )
    return _RawBuild(backend, "ByT5Tokenizer", tuple(sentinels))


def _wordpiece_from_vocab_txt(vocab_file: str, config: dict) -> _RawBuild:
    """BERT's tokenizer: lowercase + strip accents (``do_lower_case``), split on whitespace and punctuation,
    then greedy longest-match WordPiece, where ``##`` marks a piece that continues a word."""
    backend = Tokenizer(
        WordPiece(WordPiece.read_file(vocab_file), unk_token=_token_str(config.get("unk_token", "[UNK]")))
    )
    backend.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=config.get("tokenize_chinese_chars", True),  # each CJK character is a word
        strip_accents=config.get("strip_accents"),  # None: strip them when lowercasing
        lowercase=config.get("do_lower_case", True),
    )
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece(prefix="##")
    return _RawBuild(backend, "BertTokenizer")


def _byte_level_bpe_from_files(vocab_file: str, merges_file: str, config: dict) -> _RawBuild:
    """GPT-2's tokenizer: the text's UTF-8 bytes are mapped to printable characters (so every string is
    representable and there is no unknown token), then BPE merges them in ``merges.txt``'s order.

    RoBERTa uses the same files with ``<s> ... </s>`` around each sequence: chosen when
    tokenizer_config.json names a RoBERTa tokenizer, or when it names none and the vocabulary has them.
    """
    vocab, merges = BPE.read_file(vocab_file, merges_file)
    backend = Tokenizer(
        BPE(vocab, merges, dropout=None, continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False)
    )
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=config.get("add_prefix_space", False))
    backend.decoder = decoders.ByteLevel()
    named = _family_name(config.get("tokenizer_class"))
    is_roberta = named == "RobertaTokenizer" or (named is None and "<s>" in vocab and "</s>" in vocab)
    return _RawBuild(backend, "RobertaTokenizer" if is_roberta else "GPT2Tokenizer")


def _from_sentencepiece_model(model_file: str, config: dict) -> _RawBuild:
    """A SentencePiece ``.model`` (a protobuf: pieces with scores, and the normalizer's settings)."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(Path(model_file).read_bytes())
    if proto.trainer_spec.model_type == 1:  # UNIGRAM
        return _t5_unigram(proto, config)
    if proto.trainer_spec.model_type == 2:  # BPE
        return _llama_bpe(proto, config)
    raise ValueError(
        f"{model_file} is a SentencePiece model of type {proto.trainer_spec.model_type}; only Unigram (T5) and "
        "BPE (Llama, Mistral) models can be converted. Save the tokenizer as tokenizer.json instead."
    )


def _t5_unigram(proto, config: dict) -> _RawBuild:
    """T5's tokenizer: the model's own unicode normalization (its precompiled character map), a ``▁`` in
    front of each whitespace-separated word, the Unigram model (the most likely split under the pieces'
    log-probabilities), and ``</s>`` after each sequence. ``extra_ids`` sentinel tokens ``<extra_id_N>``
    (100 by default) are appended to the vocabulary, ``<extra_id_0>`` last."""
    extra_ids = config.get("extra_ids", 100)
    vocab = [(piece.piece, piece.score) for piece in proto.pieces]
    vocab += [(f"<extra_id_{i}>", 0.0) for i in reversed(range(extra_ids))]
    backend = Tokenizer(Unigram(vocab, unk_id=proto.trainer_spec.unk_id, byte_fallback=False))
    if proto.normalizer_spec.precompiled_charsmap:
        backend.normalizer = normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap)
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        ]
    )
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    sentinels = tuple(f"<extra_id_{i}>" for i in range(extra_ids))
    return _RawBuild(backend, "T5Tokenizer", sentinels)


def _llama_bpe(proto, config: dict) -> _RawBuild:
    """Llama's / Mistral's tokenizer: spaces become ``▁`` with one in front of the text, then BPE over the
    pieces; a character that is no piece becomes its UTF-8 bytes (``<0xE6>`` ...: "byte fallback"), so there
    is no unknown token. ``<s>`` goes in front (``add_bos_token``, see ``_bos_eos_template``).

    A SentencePiece BPE model stores pieces, not merges; a merge ``(left, right)`` exists wherever a piece
    splits into two pieces, and an earlier piece (a higher score) merges first: ranked by the merged piece's
    id, then by the length of its left part.
    """
    vocab = {piece.piece: index for index, piece in enumerate(proto.pieces)}
    merges = [
        (token[:cut], token[cut:])
        for token in vocab  # in id order
        for cut in range(1, len(token))
        if token[:cut] in vocab and token[cut:] in vocab
    ]
    backend = Tokenizer(BPE(vocab, merges, fuse_unk=True, byte_fallback=True, dropout=None))
    add_prefix_space = config.get("add_prefix_space") is not False  # None (unset) means True
    # "first": a ▁ only in front of the text; legacy tokenizers also put one after each special token
    prepend_scheme = ("always" if config.get("legacy", False) else "first") if add_prefix_space else "never"
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=prepend_scheme, split=False)
    steps = [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    if add_prefix_space:
        steps.append(decoders.Strip(content=" ", left=1, right=0))  # the space that ▁ added in front
    backend.decoder = decoders.Sequence(steps)
    return _RawBuild(backend, "LlamaTokenizer")


# ----------------------------------------------------------------------------------------------------
# 3. Tokenizer families: what a tokenizer class implies when the files do not say otherwise
# ----------------------------------------------------------------------------------------------------
# The post-processor templates below put the special tokens around one sequence ($A) or a pair
# ($A, $B); the number after ":" is the token_type_id. They are used for backends rebuilt from raw
# files (a tokenizer.json carries its own).


def _bert_template(tok: PreTrainedTokenizerFast) -> processors.PostProcessor:
    """``[CLS] A [SEP]`` and ``[CLS] A [SEP] B [SEP]``, with token_type_ids 1 on the second sequence."""
    cls, sep = tok.cls_token, tok.sep_token
    return processors.TemplateProcessing(
        single=f"{cls}:0 $A:0 {sep}:0",
        pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
        special_tokens=[(cls, tok.cls_token_id), (sep, tok.sep_token_id)],
    )


def _roberta_template(tok: PreTrainedTokenizerFast) -> processors.PostProcessor:
    """``<s> A </s>`` and ``<s> A </s></s> B </s>``; also trims the leading space from byte-level offsets."""
    return processors.RobertaProcessing(
        (tok.sep_token, tok.sep_token_id),
        (tok.cls_token, tok.cls_token_id),
        trim_offsets=tok.init_kwargs.get("trim_offsets", True),
        add_prefix_space=tok.init_kwargs.get("add_prefix_space", False),
    )


def _t5_template(tok: PreTrainedTokenizerFast) -> processors.PostProcessor:
    """``A </s>`` and ``A </s> B </s>`` (all token_type_ids 0)."""
    eos = tok.eos_token
    return processors.TemplateProcessing(
        single=f"$A:0 {eos}:0", pair=f"$A:0 {eos}:0 $B:0 {eos}:0", special_tokens=[(eos, tok.eos_token_id)]
    )


def _bos_eos_template(tok: PreTrainedTokenizerFast) -> processors.PostProcessor:
    """``[bos] A [eos]`` and ``[bos] A [eos] [bos] B [eos]``, as ``add_bos_token`` / ``add_eos_token`` say."""
    add_bos = tok.add_bos_token and tok.bos_token is not None
    add_eos = tok.add_eos_token and tok.eos_token is not None

    def around(sequence: str, type_id: int) -> str:
        parts = [f"{tok.bos_token}:{type_id}"] if add_bos else []
        parts.append(f"${sequence}:{type_id}")
        return " ".join(parts + ([f"{tok.eos_token}:{type_id}"] if add_eos else []))

    special_tokens = [(tok.bos_token, tok.bos_token_id)] if add_bos else []
    if add_eos:
        special_tokens.append((tok.eos_token, tok.eos_token_id))
    return processors.TemplateProcessing(
        single=around("A", 0), pair=f"{around('A', 0)} {around('B', 1)}", special_tokens=special_tokens
    )


@dataclass(frozen=True)
class TokenizerFamily:
    """Defaults that a reference tokenizer class implies (its ``__init__`` defaults)."""

    special_tokens: dict[str, str]
    template: Callable[[PreTrainedTokenizerFast], processors.PostProcessor] = _bos_eos_template
    model_input_names: tuple[str, ...] = ("input_ids", "attention_mask")
    padding_side: str = "right"
    add_bos_token: bool = False


FAMILIES = {
    "BertTokenizer": TokenizerFamily(
        {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
         "mask_token": "[MASK]"},
        _bert_template,
        model_input_names=("input_ids", "token_type_ids", "attention_mask"),
    ),
    "GPT2Tokenizer": TokenizerFamily(
        {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    ),
    "RobertaTokenizer": TokenizerFamily(
        {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>",
         "pad_token": "<pad>", "mask_token": "<mask>"},
        _roberta_template,
    ),
    "T5Tokenizer": TokenizerFamily({"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}, _t5_template),
    "ByT5Tokenizer": TokenizerFamily({"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}, _t5_template),
    "LlamaTokenizer": TokenizerFamily(
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, padding_side="left", add_bos_token=True
    ),
}
GENERIC_FAMILY = TokenizerFamily({})  # a tokenizer.json whose config names no known class


def _family_name(tokenizer_class: str | None) -> str | None:
    """``"BertTokenizerFast"`` -> ``"BertTokenizer"``; ``None`` for classes without a known family."""
    if not tokenizer_class:
        return None
    name = tokenizer_class.removesuffix("Fast")
    return name if name in FAMILIES else None


def _token_str(value) -> str | None:
    """A special token as written in config files (a string, or an AddedToken's dict) -> its text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value["content"]
    if isinstance(value, AddedToken):
        return value.content
    raise TypeError(f"A special token must be a string, got {type(value).__name__}: {value!r}")


# ----------------------------------------------------------------------------------------------------
# 4. The tokenizer
# ----------------------------------------------------------------------------------------------------


_TRAINERS = {"BPE": trainers.BpeTrainer, "WordPiece": trainers.WordPieceTrainer,
             "Unigram": trainers.UnigramTrainer, "WordLevel": trainers.WordLevelTrainer}


def _is_byte_level(pre_tokenizer: dict | None) -> bool:
    """Is a tokenizer.json pre-tokenizer (or one inside a Sequence) ByteLevel?"""
    if pre_tokenizer is None:
        return False
    if pre_tokenizer["type"] == "Sequence":
        return any(_is_byte_level(part) for part in pre_tokenizer["pretokenizers"])
    return pre_tokenizer["type"] == "ByteLevel"


def _remap_template(post_processor: dict, rename: dict[str, str], backend: Tokenizer) -> dict:
    """A tokenizer.json post-processor with its special tokens renamed and their ids looked up in ``backend``."""

    def token_id(token: str) -> int:
        found = backend.token_to_id(token)
        if found is None:
            raise ValueError(f"The template uses {token!r}, which the new vocabulary lacks; keep it a special token.")
        return found

    processor = dict(post_processor)
    if processor["type"] == "Sequence":
        processor["processors"] = [_remap_template(part, rename, backend) for part in processor["processors"]]
    for key in ("cls", "sep"):  # BertProcessing, RobertaProcessing: [token, id]
        if key in processor:
            token = rename.get(processor[key][0], processor[key][0])
            processor[key] = [token, token_id(token)]
    if "special_tokens" in processor:  # TemplateProcessing: {name: {"id", "ids", "tokens"}}
        remapped = {}
        for name, entry in processor["special_tokens"].items():
            tokens = [rename.get(token, token) for token in entry["tokens"]]
            remapped[name] = {**entry, "tokens": tokens, "ids": [token_id(token) for token in tokens]}
        processor["special_tokens"] = remapped
    return processor


class PreTrainedTokenizerFast:
    """A tokenizer over a ``tokenizers.Tokenizer`` backend, with the Transformers API.

    Usually made by ``AutoTokenizer.from_pretrained(name_or_path)``; also
    ``PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", ...)`` or
    ``PreTrainedTokenizerFast(tokenizer_file="tokenizer.json", ...)``. Keyword arguments are the keys of
    tokenizer_config.json: special tokens, ``model_max_length``, ``padding_side``, ``chat_template``, ...
    """

    is_fast = True

    def __init__(self, tokenizer_object: Tokenizer | None = None, *, tokenizer_file: str | None = None,
                 name_or_path: str = "", **config):
        if tokenizer_object is not None:
            self._tokenizer = tokenizer_object
        elif tokenizer_file is not None:
            self._tokenizer = Tokenizer.from_file(os.fspath(tokenizer_file))
        else:
            raise ValueError(
                "PreTrainedTokenizerFast needs tokenizer_object= (a tokenizers.Tokenizer) or tokenizer_file=."
            )
        # Padding and truncation are chosen per call; a tokenizer.json may carry stale settings.
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.name_or_path = str(name_or_path)

        self.tokenizer_class = config.pop("tokenizer_class", None)
        family = FAMILIES.get(_family_name(self.tokenizer_class), GENERIC_FAMILY)
        self.model_max_length = int(config.pop("model_max_length", None) or VERY_LARGE_INTEGER)
        self.padding_side = config.pop("padding_side", family.padding_side)
        self.truncation_side = config.pop("truncation_side", "right")
        self.model_input_names = list(config.pop("model_input_names", family.model_input_names))
        self.clean_up_tokenization_spaces = config.pop("clean_up_tokenization_spaces", False)
        self.chat_template = _read_chat_template(config.pop("chat_template", None))
        self.pad_token_type_id = config.pop("pad_token_type_id", 0)
        explicit_bos_eos = "add_bos_token" in config or "add_eos_token" in config
        self.add_bos_token = config.pop("add_bos_token", family.add_bos_token)
        self.add_eos_token = config.pop("add_eos_token", False)

        # Special tokens: the family's defaults, overridden by the config (where null removes one).
        self._special_tokens = {name: family.special_tokens.get(name) for name in SPECIAL_TOKENS_ATTRIBUTES}
        for name in SPECIAL_TOKENS_ATTRIBUTES:
            if name in config:
                self._special_tokens[name] = _token_str(config.pop(name))
        older_name = config.pop("additional_special_tokens", None)
        extra = config.pop("extra_special_tokens", None) or older_name or []
        if isinstance(extra, dict):  # named extra tokens ({"image_token": "<image>"}): their values
            extra = list(extra.values())
        self._additional_special_tokens = [_token_str(token) for token in extra]
        added_tokens_decoder = config.pop("added_tokens_decoder", {})
        for key in _SESSION_KEYS:
            config.pop(key, None)
        self.init_kwargs = config  # everything else (do_lower_case, add_prefix_space, ...) is saved back as is

        self._register_added_tokens(added_tokens_decoder)
        # A backend rebuilt from raw files has no template yet; a config that sets add_bos_token or
        # add_eos_token rewrites a bos/eos template.
        if self._tokenizer.post_processor is None or (explicit_bos_eos and family.template is _bos_eos_template):
            self._tokenizer.post_processor = family.template(self)
        self._warned_too_long = False

    def _register_added_tokens(self, added_tokens_decoder: dict) -> None:
        """Make sure the backend knows the config's added tokens and treats every special token as one:
        matched whole in the raw text, never split, and dropped by ``decode(skip_special_tokens=True)``."""
        known = {token.content for token in self._tokenizer.get_added_tokens_decoder().values()}
        for _, fields in sorted(added_tokens_decoder.items(), key=lambda item: int(item[0])):
            if isinstance(fields, dict) and fields["content"] not in known:
                self._tokenizer.add_tokens([AddedToken(**{k: v for k, v in fields.items() if k != "__type"})])
                known.add(fields["content"])
        missing = [token for token in self.all_special_tokens if token not in known]
        if missing:
            self._tokenizer.add_tokens([AddedToken(token, special=True, normalized=False) for token in missing])

    # ---- loading ------------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *inputs, **kwargs) -> PreTrainedTokenizerFast:
        """Load a tokenizer from a Hub id (``"sentence-transformers/all-MiniLM-L6-v2"``) or a local folder.

        Hub keywords (``revision``, ``cache_dir``, ``local_files_only``, ``token``, ``force_download``) choose
        the files; any other keyword overrides the matching tokenizer_config.json key
        (``AutoTokenizer.from_pretrained(name, padding_side="left", model_max_length=128)``).
        """
        if inputs:
            raise TypeError(
                "from_pretrained takes the name or path only; pass settings as keywords (padding_side=...)."
            )
        hub_kwargs = pop_hub_kwargs(kwargs)
        kwargs.pop("use_fast", None)  # every tokenizer here is a fast one
        kwargs.pop("trust_remote_code", None)  # nothing is ever run from a checkpoint

        def find(filename: str) -> str | None:
            return resolve_file(name_or_path, filename, required=False, **hub_kwargs)

        config = {}
        for filename in ("special_tokens_map.json", "tokenizer_config.json"):  # the second wins
            if path := find(filename):
                config.update(json.loads(Path(path).read_text(encoding="utf-8")))
        if "chat_template" not in config and (path := find("chat_template.jinja")):
            config["chat_template"] = Path(path).read_text(encoding="utf-8")
        if "tokenizer_class" not in config and (path := find("config.json")):
            # Some checkpoints name their tokenizer in the model's config only (ByT5's do).
            model_config = json.loads(Path(path).read_text(encoding="utf-8"))
            if model_config.get("tokenizer_class"):
                config["tokenizer_class"] = model_config["tokenizer_class"]
        config.update(kwargs)
        config["name_or_path"] = os.fspath(name_or_path)

        if path := find("tokenizer.json"):
            return cls(tokenizer_file=path, **config)
        build = None
        if path := find("vocab.txt"):
            build = _wordpiece_from_vocab_txt(path, config)
        elif (vocab := find("vocab.json")) and (merges := find("merges.txt")):
            build = _byte_level_bpe_from_files(vocab, merges, config)
        elif path := find("spiece.model") or find("tokenizer.model"):
            build = _from_sentencepiece_model(path, config)
        elif _family_name(config.get("tokenizer_class")) == "ByT5Tokenizer":
            build = _byt5_bytes(config)  # bytes need no vocabulary file
        if build is None:
            raise CheckpointNotFoundError(
                f"No tokenizer files found for {os.fspath(name_or_path)!r}: looked for tokenizer.json, vocab.txt "
                "(BERT WordPiece), vocab.json + merges.txt (byte-level BPE), spiece.model or tokenizer.model "
                "(SentencePiece), or a tokenizer_config.json / config.json naming ByT5Tokenizer. Pass the folder "
                "or Hub id of a checkpoint that has one of them."
            )
        if _family_name(config.get("tokenizer_class")) is None:
            config["tokenizer_class"] = build.tokenizer_class  # raw files are read as that class reads them
        configured_extra = config.get("additional_special_tokens") or config.get("extra_special_tokens")
        if build.additional_special_tokens and not configured_extra:
            config["additional_special_tokens"] = list(build.additional_special_tokens)
        return cls(tokenizer_object=build.backend, **config)

    # ---- special tokens -----------------------------------------------------------------------------
    # bos_token, eos_token, ... and their *_id twins are properties defined after the class body.

    @property
    def special_tokens_map(self) -> dict[str, str]:
        """The named special tokens that are set: ``{"cls_token": "[CLS]", ...}``."""
        return {name: token for name, token in self._special_tokens.items() if token is not None}

    @property
    def additional_special_tokens(self) -> list[str]:
        return list(self._additional_special_tokens)

    @property
    def all_special_tokens(self) -> list[str]:
        """Every special token once: the named ones, then the additional ones."""
        tokens = list(self.special_tokens_map.values()) + self._additional_special_tokens
        return list(dict.fromkeys(tokens))

    @property
    def all_special_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self.all_special_tokens)

    def add_tokens(self, new_tokens: str | AddedToken | list[str | AddedToken], special_tokens: bool = False) -> int:
        """Add words to the vocabulary (matched whole in the text, never split); returns how many the
        backend added. Resize the model's embeddings to ``len(tokenizer)`` afterwards."""
        if not new_tokens:
            return 0
        if not isinstance(new_tokens, (list, tuple)):
            new_tokens = [new_tokens]
        if special_tokens:
            return self._tokenizer.add_special_tokens(list(new_tokens))
        return self._tokenizer.add_tokens(list(new_tokens))

    def add_special_tokens(
        self, special_tokens_dict: dict[str, Any], replace_additional_special_tokens: bool = True
    ) -> int:
        """Set special tokens, ``{"pad_token": "[PAD]", "additional_special_tokens": ["<x>"]}``, adding the
        new ones to the vocabulary; returns the number added."""
        to_add = []
        for key, value in special_tokens_dict.items():
            if key in SPECIAL_TOKENS_ATTRIBUTES:
                self._special_tokens[key] = _token_str(value)
                to_add.append(self._special_tokens[key])
            elif key in ("additional_special_tokens", "extra_special_tokens"):
                tokens = [_token_str(token) for token in value]
                if replace_additional_special_tokens:
                    self._additional_special_tokens = tokens
                else:
                    self._additional_special_tokens += [t for t in tokens if t not in self._additional_special_tokens]
                to_add += tokens
            else:
                raise ValueError(
                    f"Unknown special token key {key!r}: use one of {', '.join(SPECIAL_TOKENS_ATTRIBUTES)} "
                    "or 'additional_special_tokens'."
                )
        return self._tokenizer.add_special_tokens(
            [AddedToken(token, special=True, normalized=False) for token in to_add if token is not None]
        )

    # ---- vocabulary ---------------------------------------------------------------------------------

    @property
    def backend_tokenizer(self) -> Tokenizer:
        """The ``tokenizers.Tokenizer`` that does the work."""
        return self._tokenizer

    @property
    def vocab_size(self) -> int:
        """The size of the base vocabulary, without added tokens."""
        return self._tokenizer.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        """The size of the full vocabulary, added tokens included (the model's embedding rows)."""
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        return self._tokenizer.get_vocab(with_added_tokens=True)

    @property
    def added_tokens_decoder(self) -> dict[int, AddedToken]:
        return dict(sorted(self._tokenizer.get_added_tokens_decoder().items()))

    def convert_tokens_to_ids(self, tokens: str | list[str] | None) -> int | list[int] | None:
        """Token string(s) -> id(s); a token outside the vocabulary gives ``unk_token_id``."""
        if tokens is None:
            return None
        if isinstance(tokens, str):
            token_id = self._tokenizer.token_to_id(tokens)
            if token_id is None and self.unk_token is not None:
                token_id = self._tokenizer.token_to_id(self.unk_token)
            return token_id
        return [self.convert_tokens_to_ids(token) for token in tokens]

    def convert_ids_to_tokens(self, ids: int | list[int], skip_special_tokens: bool = False) -> str | list[str]:
        ids = _to_list(ids)
        if isinstance(ids, int):
            return self._tokenizer.id_to_token(ids)
        skip = set(self.all_special_ids) if skip_special_tokens else set()
        return [self._tokenizer.id_to_token(int(i)) for i in ids if int(i) not in skip]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        decoder = self._tokenizer.decoder
        return decoder.decode(tokens) if decoder is not None else " ".join(tokens)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """How many special tokens the template adds to one sequence (or a pair)."""
        return self._tokenizer.num_special_tokens_to_add(pair)

    # ---- encoding -----------------------------------------------------------------------------------

    def __call__(
        self,
        text: str | list[str] | list[tuple[str, str]] | list[list[str]] | None = None,
        text_pair: str | list[str] | list[list[str]] | None = None,
        *,
        text_target: str | list[str] | None = None,
        text_pair_target: str | list[str] | None = None,
        **kwargs: Any,
    ) -> BatchEncoding:
        """Tokenize inputs, and with ``text_target`` the targets of a sequence-to-sequence task too.

        ``tokenizer(sources, text_target=targets, max_length=128, truncation=True)`` encodes both with the
        same settings and returns the sources' encoding with the targets' ids under ``"labels"``; with
        ``text_target`` alone it returns the targets' encoding. The other arguments are ``encode_inputs``'s.
        """
        if text is None and text_target is None:
            raise ValueError("Nothing to tokenize: pass text (the inputs) and/or text_target (the targets).")
        inputs = self.encode_inputs(text, text_pair, **kwargs) if text is not None else None
        if text_target is None:
            return inputs
        targets = self.encode_inputs(text_target, text_pair_target, **kwargs)
        if inputs is None:
            return targets
        inputs["labels"] = targets["input_ids"]
        return inputs

    def encode_inputs(
        self,
        text: str | list[str] | list[tuple[str, str]] | list[list[str]],
        text_pair: str | list[str] | list[list[str]] | None = None,
        *,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
    ) -> BatchEncoding:
        """Tokenize a text, a pair, or a batch of either.

        ``text`` is a string, a list of strings (a batch), or a list of ``(text, text_pair)`` tuples; with
        ``is_split_into_words=True``, a list of words (one text) or a list of such lists (a batch).
        ``text_pair`` gives the second sequences of pairs (``tokenizer(questions, contexts)``).

        ``padding``: ``True``/``"longest"`` pads to the longest row, ``"max_length"`` to ``max_length``
        (or ``model_max_length``), ``False`` pads nothing. ``truncation``: ``True``/``"longest_first"`` cuts
        the longer sequence of a pair first, ``"only_first"``/``"only_second"`` cut one of them, to
        ``max_length`` (default: ``model_max_length``); nothing is truncated unless asked. With
        ``return_overflowing_tokens=True`` the cut-off tokens come back as extra rows (overlapping by
        ``stride`` tokens), and ``overflow_to_sample_mapping`` says which input each row came from.

        A single text gives un-batched lists (``{"input_ids": [101, ...]}``); a batch, or
        ``return_tensors="pt"``/``"np"``, gives one row per text.
        """
        padding_strategy, truncation_strategy, max_length = self._padding_truncation_strategies(
            padding, truncation, max_length, pad_to_multiple_of
        )
        batch, is_batched = _batch_inputs(text, text_pair, is_split_into_words)

        # The backend pads and truncates (pairs and overflow included) as configured here, for this call.
        if truncation_strategy == "do_not_truncate":
            self._tokenizer.no_truncation()
        else:
            self._tokenizer.enable_truncation(
                max_length, stride=stride, strategy=truncation_strategy, direction=self.truncation_side
            )
        if padding_strategy == "do_not_pad":
            self._tokenizer.no_padding()
        else:
            self._tokenizer.enable_padding(
                direction=padding_side or self.padding_side,
                pad_id=self.pad_token_id,
                pad_type_id=self.pad_token_type_id,
                pad_token=self.pad_token,
                length=max_length if padding_strategy == "max_length" else None,
                pad_to_multiple_of=pad_to_multiple_of,
            )
        encodings = self._tokenizer.encode_batch(
            batch, add_special_tokens=add_special_tokens, is_pretokenized=is_split_into_words
        )

        if return_token_type_ids is None:
            return_token_type_ids = "token_type_ids" in self.model_input_names
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        columns = [  # (key, wanted?, read from an Encoding), in the reference's key order
            ("input_ids", True, lambda e: e.ids),
            ("token_type_ids", return_token_type_ids, lambda e: e.type_ids),
            ("attention_mask", return_attention_mask, lambda e: e.attention_mask),
            ("special_tokens_mask", return_special_tokens_mask, lambda e: e.special_tokens_mask),
            ("offset_mapping", return_offsets_mapping, lambda e: e.offsets),
            ("length", return_length, lambda e: len(e.ids)),
        ]
        rows, sample_of_row = [], []  # one row per encoding, plus its overflow pieces when asked for
        for sample, encoding in enumerate(encodings):
            pieces = [encoding] + (encoding.overflowing if return_overflowing_tokens else [])
            rows += pieces
            sample_of_row += [sample] * len(pieces)
        data = {key: [read(row) for row in rows] for key, wanted, read in columns if wanted}
        if return_overflowing_tokens:
            data["overflow_to_sample_mapping"] = sample_of_row
        if truncation_strategy == "do_not_truncate":
            self._warn_if_too_long(data["input_ids"])

        if not is_batched and return_tensors is None and not return_overflowing_tokens:  # drop the batch level
            data = {key: value[0] if isinstance(value[0], list) else value for key, value in data.items()}
        return BatchEncoding(data, rows, tensor_type=return_tensors)

    def _padding_truncation_strategies(
        self, padding, truncation, max_length, pad_to_multiple_of
    ) -> tuple[str, str, int | None]:
        """The arguments of ``__call__`` -> (padding strategy, truncation strategy, max_length), as the reference
        reads them: ``max_length`` alone means truncation; a missing ``max_length`` is ``model_max_length``."""
        if max_length is not None and padding is False and truncation is None:
            truncation = True
        padding_strategy = {True: "longest", False: "do_not_pad", None: "do_not_pad"}.get(padding, padding)
        if padding_strategy not in PADDING_STRATEGIES:
            choices = ", ".join(map(repr, PADDING_STRATEGIES))
            raise ValueError(f"padding={padding!r} is not one of True, False, {choices}.")
        truncation_strategy = {True: "longest_first", False: "do_not_truncate", None: "do_not_truncate"}.get(
            truncation, truncation
        )
        if truncation_strategy not in TRUNCATION_STRATEGIES:
            raise ValueError(
                f"truncation={truncation!r} is not one of True, False, {', '.join(map(repr, TRUNCATION_STRATEGIES))}."
            )
        has_limit = self.model_max_length <= LARGE_INTEGER
        if max_length is None and padding_strategy == "max_length":
            if not has_limit:
                raise ValueError(
                    "padding='max_length' needs a length: pass max_length=..., or set tokenizer.model_max_length "
                    "(this tokenizer's files name no maximum length)."
                )
            max_length = self.model_max_length
        if max_length is None and truncation_strategy != "do_not_truncate":
            if has_limit:
                max_length = self.model_max_length
            else:
                truncation_strategy = "do_not_truncate"  # no limit is known: nothing to truncate to
        if padding_strategy != "do_not_pad" and (self.pad_token is None or self.pad_token_id is None):
            raise ValueError(
                "Asking to pad, but this tokenizer has no padding token. Set one, e.g. "
                "tokenizer.pad_token = tokenizer.eos_token, or add one with "
                "tokenizer.add_special_tokens({'pad_token': '[PAD]'}) (and resize the model's embeddings)."
            )
        if (truncation_strategy != "do_not_truncate" and padding_strategy != "do_not_pad" and pad_to_multiple_of
                and max_length is not None and max_length % pad_to_multiple_of):
            raise ValueError(
                f"Truncation and padding are both on, but max_length={max_length} is not a multiple of "
                f"pad_to_multiple_of={pad_to_multiple_of}."
            )
        return padding_strategy, truncation_strategy, max_length

    def _warn_if_too_long(self, rows: list[list[int]]) -> None:
        longest = max((len(row) for row in rows), default=0)
        if longest > self.model_max_length and not self._warned_too_long:
            self._warned_too_long = True
            logger.warning(
                "Token indices sequence length is longer than the specified maximum sequence length for this "
                f"model ({longest} > {self.model_max_length}). Running this sequence through the model will result "
                "in indexing errors; pass truncation=True to cut it."
            )

    def encode(self, text, text_pair=None, add_special_tokens: bool = True, **kwargs) -> list[int]:
        """Just the ``input_ids`` of ``tokenizer(text, text_pair, ...)``."""
        return self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]

    def tokenize(self, text: str, pair: str | None = None, add_special_tokens: bool = False, **kwargs) -> list[str]:
        """The token strings of a text (no special tokens unless asked): ``["hello", "world", "##s"]``."""
        return self(text, pair, add_special_tokens=add_special_tokens, **kwargs).tokens()

    def pad(
        self,
        encoded_inputs: dict[str, list] | list[dict[str, list]],
        padding: bool | str = True,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
    ) -> BatchEncoding:
        """Pad examples that are already tokenized (a list of ``tokenizer(text)`` outputs, or one dict of
        lists) to one length; this is what a data collator does to make a batch.

        ``input_ids`` get ``pad_token_id``, ``attention_mask`` 0, ``token_type_ids`` ``pad_token_type_id`` and
        ``special_tokens_mask`` 1; other keys are left as they are.
        """
        if isinstance(encoded_inputs, (list, tuple)) and encoded_inputs and isinstance(encoded_inputs[0], Mapping):
            encoded_inputs = {key: [example[key] for example in encoded_inputs] for key in encoded_inputs[0]}
        data = {key: _to_list(value) for key, value in encoded_inputs.items()}
        if "input_ids" not in data:
            raise ValueError(f"pad() needs 'input_ids' in its input; got the keys {list(data)}.")
        is_batched = bool(data["input_ids"]) and isinstance(data["input_ids"][0], list)
        if not is_batched:
            data = {key: [value] for key, value in data.items()}
        padding_strategy, _, max_length = self._padding_truncation_strategies(
            padding, False, max_length, pad_to_multiple_of
        )
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        if return_attention_mask and "attention_mask" not in data:
            data["attention_mask"] = [[1] * len(ids) for ids in data["input_ids"]]

        if padding_strategy != "do_not_pad":
            target = max_length if padding_strategy == "max_length" else max(map(len, data["input_ids"]), default=0)
            if pad_to_multiple_of and target % pad_to_multiple_of:
                target += pad_to_multiple_of - target % pad_to_multiple_of
            fill = {"input_ids": self.pad_token_id, "attention_mask": 0, "token_type_ids": self.pad_token_type_id,
                    "special_tokens_mask": 1}
            left = (padding_side or self.padding_side) == "left"
            for key in fill.keys() & data.keys():
                data[key] = [
                    [fill[key]] * (target - len(row)) + row if left else row + [fill[key]] * (target - len(row))
                    for row in data[key]
                ]
        if not is_batched:
            data = {key: value[0] for key, value in data.items()}
        return BatchEncoding(data, tensor_type=return_tensors)

    # ---- decoding -----------------------------------------------------------------------------------

    def decode(
        self, token_ids, skip_special_tokens: bool = False, clean_up_tokenization_spaces: bool | None = None
    ) -> str | list[str]:
        """Ids -> text. ``token_ids``: an int, a list of ids, a tensor or array; a batch gives a list of texts.

        ``clean_up_tokenization_spaces`` (default: the tokenizer's setting) removes the spaces that word-level
        decoding leaves before punctuation (``"hello , world"`` -> ``"hello, world"``); it is skipped for BPE
        tokenizers, whose decoding is exact and would be damaged.
        """
        token_ids = _to_list(token_ids)
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        if token_ids and isinstance(token_ids[0], list):
            return self.batch_decode(token_ids, skip_special_tokens, clean_up_tokenization_spaces)
        text = self._tokenizer.decode(token_ids, skip_special_tokens=skip_special_tokens)
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        if clean_up_tokenization_spaces and type(self._tokenizer.model).__name__ != "BPE":
            text = clean_up_tokenization(text)
        return text

    def batch_decode(
        self, sequences, skip_special_tokens: bool = False, clean_up_tokenization_spaces: bool | None = None
    ) -> list[str]:
        """Decode each sequence of a batch (a list of id lists, or a 2-D tensor)."""
        return [self.decode(ids, skip_special_tokens, clean_up_tokenization_spaces) for ids in _to_list(sequences)]

    # ---- chat templates -----------------------------------------------------------------------------

    def apply_chat_template(
        self,
        conversation: list[dict[str, Any]] | list[list[dict[str, Any]]],
        tools: list[dict] | None = None,
        documents: list[dict] | None = None,
        chat_template: str | None = None,
        add_generation_prompt: bool = False,
        tokenize: bool = True,
        padding: bool | str = False,
        truncation: bool = False,
        max_length: int | None = None,
        return_tensors: str | None = None,
        return_dict: bool = False,
        **kwargs,
    ) -> str | list[int] | list[str] | BatchEncoding:
        """Format a conversation (``[{"role": "user", "content": "Hi"}, ...]``, or a batch of them) as the
        model was trained to read it, with its Jinja chat template, and tokenize the result.

        The template sees ``messages``, ``add_generation_prompt`` (open an assistant turn at the end),
        ``tools``, ``documents``, the special tokens (``bos_token``, ``eos_token``, ...) and ``**kwargs``.
        Returns the text (``tokenize=False``), the ids, or the full encoding (``return_dict=True``).
        The rendered text already holds the template's special tokens, so none are added when tokenizing.
        """
        template = self._chat_template_source(chat_template)
        if not isinstance(conversation, (list, tuple)) or len(conversation) == 0:
            raise ValueError(
                "apply_chat_template takes a non-empty list of messages ({'role': ..., 'content': ...}), or a "
                f"list of such lists; got {conversation!r:.60}."
            )
        is_batched = isinstance(conversation[0], (list, tuple))
        conversations = conversation if is_batched else [conversation]
        compiled = _compile_chat_template(template)
        rendered = []
        for chat in conversations:
            for message in chat:
                if not isinstance(message, dict):
                    raise TypeError(
                        f"Chat messages are dicts like {{'role': 'user', 'content': '...'}}, got {message!r}."
                    )
            rendered.append(compiled.render(messages=list(chat), tools=tools, documents=documents,
                                            add_generation_prompt=add_generation_prompt,
                                            **{**self.special_tokens_map, **kwargs}))
        if not tokenize:
            return rendered if is_batched else rendered[0]
        encoded = self(rendered if is_batched else rendered[0], add_special_tokens=False, padding=padding,
                       truncation=truncation, max_length=max_length, return_tensors=return_tensors)
        return encoded if return_dict else encoded["input_ids"]

    def _chat_template_source(self, chat_template: str | None) -> str:
        """The template to use: the argument (a template, or the name of one of the tokenizer's named
        templates), else the tokenizer's own (its ``"default"`` one when it has several)."""
        templates = self.chat_template
        if isinstance(templates, dict):
            if chat_template in templates:
                return templates[chat_template]
            if chat_template is None:
                if "default" not in templates:
                    raise ValueError(f"This tokenizer has several chat templates ({', '.join(templates)}) and no "
                                     "'default' one: pass chat_template=<name>.")
                return templates["default"]
        if chat_template is not None:
            return chat_template
        if templates is None:
            raise ValueError(
                "This tokenizer has no chat template (tokenizer_config.json sets no 'chat_template'), so it cannot "
                "format a conversation. Pass chat_template='{% for message in messages %}...' or set "
                "tokenizer.chat_template; base (non-chat) models usually have none."
            )
        return templates

    # ---- saving -------------------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        """The settings tokenizer_config.json holds (but the added tokens' ids)."""
        config = {
            "tokenizer_class": self.tokenizer_class or "PreTrainedTokenizerFast",
            **self.init_kwargs,
            **self.special_tokens_map,
            "additional_special_tokens": self.additional_special_tokens,
            "model_max_length": self.model_max_length,
            "padding_side": self.padding_side,
            "truncation_side": self.truncation_side,
            "model_input_names": self.model_input_names,
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
        }
        if isinstance(self.chat_template, dict):  # named templates: the Hub's list form
            config["chat_template"] = [{"name": name, "template": text} for name, text in self.chat_template.items()]
        elif self.chat_template is not None:
            config["chat_template"] = self.chat_template
        return config

    def train_new_from_iterator(self, text_iterator, vocab_size: int, length: int | None = None,
                                new_special_tokens: list[str | AddedToken] | None = None,
                                special_tokens_map: dict[str, str] | None = None, **kwargs) -> PreTrainedTokenizerFast:
        """A new tokenizer with this one's pipeline, and a vocabulary learned from ``text_iterator``.

        The normalizer, pre-tokenizer, model type (BPE, WordPiece, Unigram, WordLevel), decoder, special
        tokens and template stay; the vocabulary (``vocab_size`` entries, special tokens included) is
        trained from scratch with the ``tokenizers`` trainer of that model type. ``text_iterator`` yields
        texts or batches (lists) of texts; ``length`` is their count, for the progress display.
        ``new_special_tokens`` adds special tokens; ``special_tokens_map`` renames old ones
        (``{"[CLS]": "<cls>"}``); other keywords go to the trainer (``min_frequency=2``, ...).
        """
        rename = dict(special_tokens_map or {})
        spec = json.loads(self._tokenizer.to_str())
        added_tokens, post_processor = spec.pop("added_tokens"), spec.pop("post_processor")
        model = spec["model"]
        kind = model["type"]
        options: dict[str, Any] = {}
        if kind == "BPE":
            model["vocab"], model["merges"] = {}, []
            for key in ("continuing_subword_prefix", "end_of_word_suffix"):
                if model.get(key) is not None:
                    options[key] = model[key]
        elif kind == "Unigram":
            if model.get("unk_id") is not None:
                unk_token = model["vocab"][model["unk_id"]][0]
                options["unk_token"] = unk_token = rename.get(unk_token, unk_token)
                model["unk_id"], model["vocab"] = 0, [[unk_token, 0.0]]
        else:  # WordPiece, WordLevel
            model["vocab"] = {}
        if model.get("unk_token") in rename:
            model["unk_token"] = rename[model["unk_token"]]
        if _is_byte_level(spec.get("pre_tokenizer")):
            options["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()  # every byte, seen or not
        options.update(kwargs)

        # Special tokens keep their settings; a Unigram model also keeps its other added tokens.
        special_tokens = [
            AddedToken(**{**{k: v for k, v in token.items() if k not in ("id", "special")},
                          "content": rename.get(token["content"], token["content"])}, special=True)
            for token in added_tokens if token["special"] or kind == "Unigram"
        ]
        special_tokens += list(new_special_tokens or [])
        backend = Tokenizer.from_str(json.dumps(spec))
        trainer = _TRAINERS[kind](vocab_size=vocab_size, special_tokens=special_tokens, **options)
        backend.train_from_iterator(text_iterator, trainer=trainer, length=length)
        if post_processor is not None:  # the template names its tokens by id: look them up again
            trained = json.loads(backend.to_str())
            trained["post_processor"] = _remap_template(post_processor, rename, backend)
            backend = Tokenizer.from_str(json.dumps(trained))

        config = self._config()
        for name, token in self.special_tokens_map.items():
            config[name] = rename.get(token, token)
        new_names = [token.content if isinstance(token, AddedToken) else token for token in new_special_tokens or []]
        config["additional_special_tokens"] = [rename.get(t, t) for t in self.additional_special_tokens] + new_names
        return type(self)(tokenizer_object=backend, name_or_path=self.name_or_path, **config)

    def save_pretrained(self, save_directory: str | os.PathLike) -> tuple[str, ...]:
        """Write tokenizer.json, tokenizer_config.json and special_tokens_map.json into ``save_directory``
        (each file atomically), loadable here and by the reference's ``AutoTokenizer``."""
        folder = Path(save_directory)
        if folder.is_file():
            raise ValueError(f"{folder} is a file; save_pretrained needs a folder.")
        folder.mkdir(parents=True, exist_ok=True)
        backend = json.loads(self._tokenizer.to_str())
        backend["padding"] = backend["truncation"] = None  # per-call settings, not part of the tokenizer
        config = self._config()
        config["added_tokens_decoder"] = {
            str(index): {"content": token.content, "lstrip": token.lstrip, "normalized": token.normalized,
                         "rstrip": token.rstrip, "single_word": token.single_word, "special": token.special}
            for index, token in self.added_tokens_decoder.items()
        }
        special_tokens_map = {**self.special_tokens_map, "additional_special_tokens": self.additional_special_tokens}

        written = []
        for filename, content in (("tokenizer.json", backend), ("tokenizer_config.json", config),
                                  ("special_tokens_map.json", special_tokens_map)):
            atomic_write_text(folder / filename, json.dumps(content, indent=2, ensure_ascii=False) + "\n")
            written.append(str(folder / filename))
        return tuple(written)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name_or_path={self.name_or_path!r}, tokenizer_class={self.tokenizer_class!r}, "
            f"vocab_size={self.vocab_size}, model_max_length={self.model_max_length}, "
            f"padding_side={self.padding_side!r}, truncation_side={self.truncation_side!r}, "
            f"special_tokens={self.special_tokens_map})"
        )


def _special_token_property(name: str) -> property:
    def get(self) -> str | None:
        return self._special_tokens[name]

    def set_(self, value) -> None:
        self._special_tokens[name] = _token_str(value)

    return property(get, set_, doc=f"The {name.replace('_', ' ')} (a string), or None when the tokenizer has none.")


def _special_token_id_property(name: str) -> property:
    def get(self) -> int | None:
        token = self._special_tokens[name]
        return None if token is None else self.convert_tokens_to_ids(token)

    def set_(self, value: int | None) -> None:
        self._special_tokens[name] = None if value is None else self._tokenizer.id_to_token(value)

    return property(get, set_, doc=f"The id of the {name.replace('_', ' ')}, or None.")


# tokenizer.pad_token, tokenizer.pad_token_id, ... for each named special token
for _name in SPECIAL_TOKENS_ATTRIBUTES:
    setattr(PreTrainedTokenizerFast, _name, _special_token_property(_name))
    setattr(PreTrainedTokenizerFast, f"{_name}_id", _special_token_id_property(_name))


class AutoTokenizer:
    """``AutoTokenizer.from_pretrained(name_or_path)``: the tokenizer of a checkpoint, whatever its files."""

    def __init__(self):
        raise OSError("AutoTokenizer is not instantiated: use AutoTokenizer.from_pretrained(name_or_path).")

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *inputs, **kwargs) -> PreTrainedTokenizerFast:
        return PreTrainedTokenizerFast.from_pretrained(name_or_path, *inputs, **kwargs)


# ----------------------------------------------------------------------------------------------------
# 5. Helpers
# ----------------------------------------------------------------------------------------------------


def _batch_inputs(text, text_pair, is_split_into_words: bool) -> tuple[list, bool]:
    """Check the inputs of ``tokenizer(...)`` and return them as the backend's batch, plus whether the
    caller passed a batch. A text is a string, or with ``is_split_into_words=True`` a list of words;
    a pair is a ``(text, text)`` tuple."""
    if is_split_into_words:
        kinds = "a list of words (list of str), or a batch of such lists"

        def is_text(value) -> bool:
            return isinstance(value, (list, tuple)) and all(isinstance(word, str) for word in value)

        is_batched = isinstance(text, (list, tuple)) and len(text) > 0 and isinstance(text[0], (list, tuple))
    else:
        kinds = "a str, a list of str, or a list of (str, str) pairs"

        def is_text(value) -> bool:
            return isinstance(value, str)

        is_batched = isinstance(text, (list, tuple))
    if isinstance(text, (list, tuple)) and len(text) == 0:
        raise ValueError("The tokenizer got an empty list: pass at least one text.")

    if not is_batched:
        items = [text if text_pair is None else (text, text_pair)]
    elif text_pair is None:
        items = list(text)
    elif isinstance(text_pair, (list, tuple)) and len(text_pair) == len(text):
        items = list(zip(text, text_pair))
    else:
        got = type(text_pair).__name__ + (f" of length {len(text_pair)}" if hasattr(text_pair, "__len__") else "")
        raise ValueError(f"For a batch of {len(text)} texts, text_pair must be a list of as many texts (got {got}).")

    for position, item in enumerate(items):
        is_pair = isinstance(item, (list, tuple)) and len(item) == 2 and is_text(item[0]) and is_text(item[1])
        if not (is_text(item) or is_pair):
            bad = next((part for part in item if not is_text(part)), item) if isinstance(item, tuple) else item
            where = f"item {position} of the batch" if is_batched else "the input"
            raise TypeError(f"The tokenizer takes {kinds}; {where} holds {type(bad).__name__}: {bad!r:.60}.")
    return items, is_batched


def _to_list(ids):
    """Tensors and arrays -> (nested) Python lists of ints; lists and ints pass through."""
    if hasattr(ids, "tolist"):
        return ids.tolist()
    if isinstance(ids, (list, tuple)):
        return [_to_list(i) for i in ids]
    return ids


def clean_up_tokenization(text: str) -> str:
    """Remove the spaces that word-level decoding leaves before punctuation and English contractions."""
    for spaced, joined in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                           (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(spaced, joined)
    return text


def _read_chat_template(value) -> str | dict[str, str] | None:
    """tokenizer_config.json's ``chat_template``: one template, or a list of ``{"name", "template"}``."""
    if isinstance(value, list):
        return {entry["name"]: entry["template"] for entry in value}
    return value


@functools.lru_cache(maxsize=16)
def _compile_chat_template(template: str):
    """Compile a chat template in a sandbox (templates come from the Hub: untrusted), with the reference's
    settings: ``trim_blocks`` and ``lstrip_blocks`` (block tags leave no blank lines), ``{% break %}`` /
    ``{% continue %}``, a ``tojson`` that keeps non-ASCII text, ``raise_exception(msg)`` and ``strftime_now(fmt)``."""
    from datetime import datetime

    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template)
