"""Tokenizer backends built from raw vocabulary files, for checkpoints that have no tokenizer.json.

Where a tokenizer's backend (a ``tokenizers.Tokenizer``) comes from, in this order (the first that a checkpoint
has wins):

1. ``tokenizer.json``: the backend's own serialization, loaded as it is (by ``PreTrainedTokenizerFast``).
2. ``vocab.txt``: BERT's WordPiece vocabulary.
3. ``vocab.json`` + ``merges.txt``: byte-level BPE, as GPT-2 (or RoBERTa, whose vocabulary has ``<s>``); for a
   ``CLIPTokenizer``, CLIP's lower-cased words ending in ``</w>``.
4. ``spiece.model`` / ``tokenizer.model``: a SentencePiece model; a Unigram one is read as T5's tokenizer,
   a BPE one as Llama's / Mistral's.
5. No file at all, where the tokenizer class is ``ByT5Tokenizer``: ByT5 reads UTF-8 bytes, token id = byte + 3,
   so it needs no vocabulary.
6. ``vocab.json`` alone, where the tokenizer class is ``Wav2Vec2CTCTokenizer``: one token per character
   (``ctc_tokenizer.characters_backend``).

This module holds steps 2-6. Steps 2-4 rebuild, from the raw files, the same backend that the reference library
builds for its ``BertTokenizer``, ``GPT2Tokenizer``/``RobertaTokenizer``, ``T5Tokenizer`` and ``LlamaTokenizer``,
so that both give the same tokens. The reference's ``ByT5Tokenizer`` is plain Python; step 5 builds a backend that
gives the same ids.

A rebuilt backend has no post-processor (the special-token template): the family of its tokenizer class
(``tokenizer_families``) supplies one, with the special tokens, model inputs and padding side that the class
implies. When the checkpoint names its tokenizer class (or its model_type implies one), that class must be one
that reads the files found: a ``BertTokenizer`` is never rebuilt from a SentencePiece model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE, Unigram, WordPiece

from .tokenizer_families import FAMILIES, family_of, token_str


@dataclass
class RawBuild:
    """A backend rebuilt from raw files: which files (a ``TokenizerFamily.raw_format``), and the reference class
    that reads them this way (the tokenizer class when the checkpoint names none)."""

    backend: Tokenizer
    raw_format: str
    tokenizer_class: str


def backend_from_raw_files(find: Callable[[str], str | None], config: dict) -> RawBuild | None:
    """The backend of a checkpoint that has no tokenizer.json, from the first raw files it has (steps 2-5 above);
    ``None`` when it has none. ``find(filename)`` is the checkpoint's file, or ``None`` where it has no such file;
    ``config`` is the tokenizer's settings (tokenizer_config.json and the caller's keywords); its
    ``tokenizer_class``, where set, must be a class that reads the files found."""
    tokenizer_class = config.get("tokenizer_class")
    expected = family_of(tokenizer_class).raw_format
    if expected == "bytes":
        return _byt5_bytes(config)  # bytes need no vocabulary file
    if path := find("vocab.txt"):
        build = _wordpiece_from_vocab_txt(path, config)
    elif (vocab := find("vocab.json")) and (merges := find("merges.txt")):
        read = _clip_bpe_from_files if expected == "vocab.json + merges.txt (CLIP)" else _byte_level_bpe_from_files
        build = read(vocab, merges, config)
    elif path := find("spiece.model") or find("tokenizer.model"):
        build = _from_sentencepiece_model(path, config)
    elif expected == "vocab.json (characters)" and (path := find("vocab.json")):
        from .ctc_tokenizer import characters_backend  # a CTC tokenizer's letters (that module imports this one)

        build = RawBuild(characters_backend(path, config), expected, tokenizer_class)
    else:
        return None
    if tokenizer_class and expected != build.raw_format:
        readable = ", ".join(f"{name} ({family.raw_format})" for name, family in FAMILIES.items() if family.raw_format)
        raise ValueError(
            f"This checkpoint's tokenizer class is {tokenizer_class}, and it has no tokenizer.json, only a "
            f"{build.raw_format}, from which workbench cannot rebuild a {tokenizer_class}. Raw files are read for: "
            f"{readable}; any class is read from a tokenizer.json (the reference writes one: "
            "transformers.AutoTokenizer.from_pretrained(path).save_pretrained(path))."
        )
    return build


def _byte_to_char() -> dict[int, str]:
    """The byte-level alphabet (GPT-2's): each of the 256 byte values as one printable character.

    Printable bytes (``!`` to ``~``, ``¡`` to ``¬``, ``®`` to ``ÿ``) stand for themselves; the others (space,
    control bytes, ...) are moved to the characters from U+0100 on, in order: the space byte 0x20 is ``Ġ``.
    ``pre_tokenizers.ByteLevel`` and ``decoders.ByteLevel`` use this table.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [byte for byte in range(256) if byte not in printable]
    return {**{byte: chr(byte) for byte in printable}, **{byte: chr(256 + n) for n, byte in enumerate(others)}}


def _byt5_bytes(config: dict) -> RawBuild:
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
    special = [
        token_str(config.get(name, default))
        for name, default in (("pad_token", "<pad>"), ("eos_token", "</s>"), ("unk_token", "<unk>"))
    ]
    vocab = {token: index for index, token in enumerate(special)}
    vocab.update({char: len(special) + byte for byte, char in _byte_to_char().items()})
    backend = Tokenizer(BPE(vocab, [], dropout=None, fuse_unk=False))
    # The reference strips the spaces around these three where they appear in the text ("a <pad> b").
    backend.add_special_tokens(
        [AddedToken(token, lstrip=True, rstrip=True, special=True, normalized=False) for token in special]
    )
    # use_regex splits the text into GPT-2's words first: it changes no id (nothing merges across bytes),
    # but gives word_ids() their words.
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.Sequence([decoders.ByteLevel(), decoders.Replace("\ufffd", "")])

    # The sentinels themselves are the family's additional special tokens (tokenizer_families).
    extra_ids = config.get("extra_ids", 125)
    configured = config.get("additional_special_tokens") or config.get("extra_special_tokens") or []
    configured = [token_str(token) for token in (configured.values() if isinstance(configured, dict) else configured)]
    configured_sentinels = {token for token in configured if "extra_id" in token}
    if extra_ids and configured and len(configured_sentinels) != extra_ids:
        raise ValueError(
            f"tokenizer_config.json sets extra_ids={extra_ids} and additional_special_tokens with "
            f"{len(configured_sentinels)} <extra_id_N> tokens; they must agree: list all {extra_ids} sentinels "
            "in additional_special_tokens, or leave it out to get the default ones."
        )
    return RawBuild(backend, "bytes", "ByT5Tokenizer")


def _wordpiece_from_vocab_txt(vocab_file: str, config: dict) -> RawBuild:
    """BERT's tokenizer: lowercase + strip accents (``do_lower_case``), split on whitespace and punctuation,
    then greedy longest-match WordPiece, where ``##`` marks a piece that continues a word."""
    backend = Tokenizer(
        WordPiece(WordPiece.read_file(vocab_file), unk_token=token_str(config.get("unk_token", "[UNK]")))
    )
    backend.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=config.get("tokenize_chinese_chars", True),  # each CJK character is a word
        strip_accents=config.get("strip_accents"),  # None: strip them when lowercasing
        lowercase=config.get("do_lower_case", True),
    )
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece(prefix="##")
    return RawBuild(backend, "vocab.txt", "BertTokenizer")


def _byte_level_bpe_from_files(vocab_file: str, merges_file: str, config: dict) -> RawBuild:
    """GPT-2's tokenizer: the text's UTF-8 bytes are mapped to printable characters (so every string is
    representable and there is no unknown token), then BPE merges them in ``merges.txt``'s order.

    RoBERTa and BART use the same files with ``<s> ... </s>`` around each sequence: a checkpoint that names
    no tokenizer class is read as RoBERTa's when its vocabulary has them.
    """
    vocab, merges = BPE.read_file(vocab_file, merges_file)
    backend = Tokenizer(
        BPE(vocab, merges, dropout=None, continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False)
    )
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=config.get("add_prefix_space", False))
    backend.decoder = decoders.ByteLevel()
    is_roberta = "<s>" in vocab and "</s>" in vocab
    return RawBuild(backend, "vocab.json + merges.txt", "RobertaTokenizer" if is_roberta else "GPT2Tokenizer")


def _clip_bpe_from_files(vocab_file: str, merges_file: str, config: dict) -> RawBuild:
    """CLIP's tokenizer (OpenAI's ``simple_tokenizer``): the text NFC-normalised, runs of whitespace made one
    space, lower-cased; split into words (letters, single digits, runs of other symbols, English contractions),
    each mapped to byte-level characters (GPT-2's) and merged by BPE with ``</w>`` marking the end of a word, so
    no word carries a space. Decoding turns each ``</w>`` back into a space (but the last)."""
    vocab, merges = BPE.read_file(vocab_file, merges_file)
    unk = token_str(config.get("unk_token", "<|endoftext|>"))
    backend = Tokenizer(
        BPE(
            vocab,
            merges,
            dropout=None,
            continuing_subword_prefix="",
            end_of_word_suffix="</w>",
            fuse_unk=False,
            unk_token=unk,
        )
    )
    backend.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    words = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(words), behavior="removed", invert=True),  # keep the words, drop the spaces
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    # each word's </w> becomes a (byte-level) space, bytes become text again, and the text's last space goes
    backend.decoder = decoders.Sequence(
        [decoders.Replace("</w>", "Ġ"), decoders.ByteLevel(), decoders.Replace(Regex(" $"), "")]
    )
    return RawBuild(backend, "vocab.json + merges.txt (CLIP)", "CLIPTokenizer")


def _from_sentencepiece_model(model_file: str, config: dict) -> RawBuild:
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


def _t5_unigram(proto, config: dict) -> RawBuild:
    """T5's tokenizer: the model's own unicode normalization (its precompiled character map), a ``▁`` in
    front of each whitespace-separated word, the Unigram model (the most likely split under the pieces'
    log-probabilities), and ``</s>`` after each sequence. ``extra_ids`` sentinel tokens ``<extra_id_N>``
    (100 by default) are appended to the vocabulary, ``<extra_id_0>`` last (the family makes them special)."""
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
    return RawBuild(backend, "SentencePiece Unigram model", "T5Tokenizer")


def _llama_bpe(proto, config: dict) -> RawBuild:
    """Llama's / Mistral's tokenizer: spaces become ``▁`` with one in front of the text, then BPE over the
    pieces; a character that is no piece becomes its UTF-8 bytes (``<0xE6>`` ...: "byte fallback"), so there
    is no unknown token. ``<s>`` goes in front (``add_bos_token``, see ``bos_eos_template``).

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
    return RawBuild(backend, "SentencePiece BPE model", "LlamaTokenizer")
