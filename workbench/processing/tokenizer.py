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

The backend is loaded from ``tokenizer.json`` (its own serialization), or rebuilt from raw vocabulary files
(``vocab.txt``, ``vocab.json`` + ``merges.txt``, a SentencePiece model; see ``tokenizer_files``).
``tokenizer_config.json`` and ``special_tokens_map.json`` add the settings
(``model_max_length``, ``padding_side``, special tokens, ``do_lower_case``, ``chat_template``, ...); what they
leave out comes from the defaults of the tokenizer's family (``tokenizer_families``: BERT's ``[CLS]``, ``[SEP]``,
``[PAD]``, ...), chosen by the tokenizer class they name, else by config.json's ``model_type``.
``save_pretrained`` writes ``tokenizer.json`` + ``tokenizer_config.json`` + ``special_tokens_map.json``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Tokenizer

from ..hub import CheckpointNotFoundError, atomic_write_text, pop_hub_kwargs, resolve_file
from .batch_encoding import BatchEncoding
from .chat_template import read_chat_template, render_conversations, select_chat_template
from .padding import padding_truncation_strategies
from .tokenizer_families import MODEL_TYPE_TOKENIZERS, bos_eos_template, family_of, token_str, tokenizer_class_with_code
from .tokenizer_files import backend_from_raw_files
from .tokenizer_training import train_backend

logger = logging.getLogger(__name__)

VERY_LARGE_INTEGER = int(1e30)  # model_max_length of a tokenizer whose files name no limit (as the reference)

# The named special tokens, in the order in which `all_special_tokens` lists them.
SPECIAL_TOKENS_ATTRIBUTES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


# tokenizer_config.json keys that describe one loading session, not the tokenizer: never written back.
_SESSION_KEYS = ("is_local", "local_files_only", "_commit_hash")


# ----------------------------------------------------------------------------------------------------
# 1. The tokenizer
# ----------------------------------------------------------------------------------------------------


class PreTrainedTokenizerFast:
    """A tokenizer over a ``tokenizers.Tokenizer`` backend, with the Transformers API.

    Usually made by ``AutoTokenizer.from_pretrained(name_or_path)``; also
    ``PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", ...)`` or
    ``PreTrainedTokenizerFast(tokenizer_file="tokenizer.json", ...)``. Keyword arguments are the keys of
    tokenizer_config.json: special tokens, ``model_max_length``, ``padding_side``, ``chat_template``, ...
    Settings that they leave out come from the defaults of the family that ``tokenizer_class`` names.
    """

    is_fast = True
    # The family whose defaults this class applies whatever the files say; set by the model-specific classes
    # (``BertTokenizer``, ... in tokenizer_classes.py). None here: the family is the one the files name.
    default_tokenizer_class: str | None = None

    def __init__(
        self,
        tokenizer_object: Tokenizer | None = None,
        *,
        tokenizer_file: str | None = None,
        name_or_path: str = "",
        **config,
    ):
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

        configured_class = config.pop("tokenizer_class", None)
        self.tokenizer_class = self.default_tokenizer_class or configured_class
        family = family_of(self.tokenizer_class)
        self.model_max_length = int(config.pop("model_max_length", None) or VERY_LARGE_INTEGER)
        self.padding_side = config.pop("padding_side", family.padding_side)
        self.truncation_side = config.pop("truncation_side", "right")
        self.model_input_names = list(config.pop("model_input_names", family.model_input_names))
        self.clean_up_tokenization_spaces = config.pop("clean_up_tokenization_spaces", False)
        self.chat_template = read_chat_template(config.pop("chat_template", None))
        self.pad_token_type_id = config.pop("pad_token_type_id", 0)
        explicit_bos_eos = "add_bos_token" in config or "add_eos_token" in config
        self.add_bos_token = config.pop("add_bos_token", family.add_bos_token)
        self.add_eos_token = config.pop("add_eos_token", False)

        # Special tokens: the family's defaults, overridden by the config (where null removes one).
        # A special token that the backend lacks is added as the config or the family writes it (a mask token
        # that takes the space before it), else as a plain special token.
        forms = {token.content: token for token in family.special_tokens.values() if isinstance(token, AddedToken)}
        self._special_tokens = {name: token_str(family.special_tokens.get(name)) for name in SPECIAL_TOKENS_ATTRIBUTES}
        for name in SPECIAL_TOKENS_ATTRIBUTES:
            if name in config:
                value = config.pop(name)
                if isinstance(value, dict):  # {"content": "<mask>", "lstrip": true, ...}
                    forms[value["content"]] = _added_token({**value, "special": True})
                self._special_tokens[name] = token_str(value)
        older_name = config.pop("additional_special_tokens", None)
        extra = config.pop("extra_special_tokens", None) or older_name or []
        if isinstance(extra, dict):  # named extra tokens ({"image_token": "<image>"}): their values
            extra = list(extra.values())
        added_tokens_decoder = config.pop("added_tokens_decoder", {})
        for key in _SESSION_KEYS:
            config.pop(key, None)
        self.init_kwargs = config  # everything else (do_lower_case, add_prefix_space, ...) is saved back as is
        # The family's own extra tokens (T5's <extra_id_N> sentinels, ...) where the config lists none.
        self._additional_special_tokens = [token_str(token) for token in extra or family.extra_special_tokens(config)]

        self._register_added_tokens(added_tokens_decoder, forms)
        # A backend rebuilt from raw files has no template yet; a config that sets add_bos_token or
        # add_eos_token rewrites a bos/eos template.
        rewrite_bos_eos = explicit_bos_eos and family.template is bos_eos_template
        if family.template is not None and (self._tokenizer.post_processor is None or rewrite_bos_eos):
            self._tokenizer.post_processor = family.template(self)
        self._warned_too_long = False

    def _register_added_tokens(self, added_tokens_decoder: dict, forms: dict[str, AddedToken]) -> None:
        """Make sure the backend knows the config's added tokens and treats every special token as one:
        matched whole in the raw text, never split, and dropped by ``decode(skip_special_tokens=True)``.
        ``forms``: how to add a special token that the backend does not know yet, where not plainly."""
        known = {token.content for token in self._tokenizer.get_added_tokens_decoder().values()}
        for _, fields in sorted(added_tokens_decoder.items(), key=lambda item: int(item[0])):
            if isinstance(fields, dict) and fields["content"] not in known:
                self._tokenizer.add_tokens([_added_token(fields)])
                known.add(fields["content"])
        missing = [token for token in self.all_special_tokens if token not in known]
        if missing:
            self._tokenizer.add_tokens(
                [forms.get(token) or AddedToken(token, special=True, normalized=False) for token in missing]
            )

    # ---- loading ------------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *inputs, **kwargs) -> PreTrainedTokenizerFast:
        """Load a tokenizer from a Hub id (``"sentence-transformers/all-MiniLM-L6-v2"``) or a local folder.

        Hub keywords (``revision``, ``cache_dir``, ``local_files_only``, ``token``, ``force_download``) choose
        the files; any other keyword overrides the matching tokenizer_config.json key
        (``AutoTokenizer.from_pretrained(name, padding_side="left", model_max_length=128)``).

        The tokenizer class whose family gives the defaults is, as in the reference's ``AutoTokenizer``: the one
        tokenizer_config.json names, else the one config.json names, else the one config.json's ``model_type``
        implies (``"bert"`` -> ``BertTokenizer``); a model-specific class (``T5Tokenizer.from_pretrained``)
        uses its own. Without any, raw vocabulary files are read as the reference class that reads them.
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
        if not config.get("tokenizer_class") and (path := find("config.json")):
            # Some checkpoints name their tokenizer in the model's config only (ByT5's do); most imply it by
            # their model_type (google-bert/bert-base-uncased names no tokenizer class anywhere).
            model_config = json.loads(Path(path).read_text(encoding="utf-8"))
            config["tokenizer_class"] = model_config.get("tokenizer_class") or MODEL_TYPE_TOKENIZERS.get(
                model_config.get("model_type")
            )
        config.update(kwargs)
        if cls.default_tokenizer_class:
            config["tokenizer_class"] = cls.default_tokenizer_class
        elif own_class := tokenizer_class_with_code(config.get("tokenizer_class")):
            return own_class.from_pretrained(name_or_path, **hub_kwargs, **kwargs)  # e.g. CTC decoding
        config["name_or_path"] = os.fspath(name_or_path)

        if path := find("tokenizer.json"):
            return cls(tokenizer_file=path, **config)
        build = backend_from_raw_files(find, config)
        if build is None:
            raise CheckpointNotFoundError(
                f"No tokenizer files found for {os.fspath(name_or_path)!r}: looked for tokenizer.json, vocab.txt "
                "(BERT WordPiece), vocab.json + merges.txt (byte-level BPE), spiece.model or tokenizer.model "
                "(SentencePiece), or a tokenizer_config.json / config.json naming ByT5Tokenizer. Pass the folder "
                "or Hub id of a checkpoint that has one of them."
            )
        if not config.get("tokenizer_class"):
            config["tokenizer_class"] = build.tokenizer_class  # raw files are read as that class reads them
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
                self._special_tokens[key] = token_str(value)
                to_add.append(self._special_tokens[key])
            elif key in ("additional_special_tokens", "extra_special_tokens"):
                tokens = [token_str(token) for token in value]
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
        padding_strategy, truncation_strategy, max_length = padding_truncation_strategies(
            self, padding, truncation, max_length, pad_to_multiple_of
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
        padding_strategy, _, max_length = padding_truncation_strategies(
            self, padding, False, max_length, pad_to_multiple_of
        )
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        if return_attention_mask and "attention_mask" not in data:
            data["attention_mask"] = [[1] * len(ids) for ids in data["input_ids"]]

        if padding_strategy != "do_not_pad":
            target = max_length if padding_strategy == "max_length" else max(map(len, data["input_ids"]), default=0)
            if pad_to_multiple_of and target % pad_to_multiple_of:
                target += pad_to_multiple_of - target % pad_to_multiple_of
            fill = {
                "input_ids": self.pad_token_id,
                "attention_mask": 0,
                "token_type_ids": self.pad_token_type_id,
                "special_tokens_mask": 1,
            }
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
        template = select_chat_template(self.chat_template, chat_template)
        rendered, is_batched = render_conversations(
            template,
            conversation,
            tools=tools,
            documents=documents,
            add_generation_prompt=add_generation_prompt,
            **{**self.special_tokens_map, **kwargs},
        )
        if not tokenize:
            return rendered if is_batched else rendered[0]
        encoded = self(
            rendered if is_batched else rendered[0],
            add_special_tokens=False,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            return_tensors=return_tensors,
        )
        return encoded if return_dict else encoded["input_ids"]

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

    def train_new_from_iterator(
        self,
        text_iterator,
        vocab_size: int,
        length: int | None = None,
        new_special_tokens: list[str | AddedToken] | None = None,
        special_tokens_map: dict[str, str] | None = None,
        **kwargs,
    ) -> PreTrainedTokenizerFast:
        """A new tokenizer with this one's pipeline, and a vocabulary learned from ``text_iterator``.

        The normalizer, pre-tokenizer, model type (BPE, WordPiece, Unigram, WordLevel), decoder, special
        tokens and template stay; the vocabulary (``vocab_size`` entries, special tokens included) is
        trained from scratch with the ``tokenizers`` trainer of that model type. ``text_iterator`` yields
        texts or batches (lists) of texts; ``length`` is their count, for the progress display.
        ``new_special_tokens`` adds special tokens; ``special_tokens_map`` renames old ones
        (``{"[CLS]": "<cls>"}``); other keywords go to the trainer (``min_frequency=2``, ...).
        """
        rename = dict(special_tokens_map or {})
        backend = train_backend(
            self._tokenizer, text_iterator, vocab_size, length, new_special_tokens, rename, **kwargs
        )

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
            str(index): {
                "content": token.content,
                "lstrip": token.lstrip,
                "normalized": token.normalized,
                "rstrip": token.rstrip,
                "single_word": token.single_word,
                "special": token.special,
            }
            for index, token in self.added_tokens_decoder.items()
        }
        special_tokens_map = {**self.special_tokens_map, "additional_special_tokens": self.additional_special_tokens}

        written = []
        for filename, content in (
            ("tokenizer.json", backend),
            ("tokenizer_config.json", config),
            ("special_tokens_map.json", special_tokens_map),
        ):
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
        self._special_tokens[name] = token_str(value)

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
# 2. Helpers
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


def _added_token(fields: dict) -> AddedToken:
    """An added token as config files write it (``{"__type": "AddedToken", "content": "<mask>", ...}``)."""
    return AddedToken(**{key: value for key, value in fields.items() if key != "__type"})


def _to_list(ids):
    """Tensors and arrays -> (nested) Python lists of ints; lists and ints pass through."""
    if hasattr(ids, "tolist"):
        return ids.tolist()
    if isinstance(ids, (list, tuple)):
        return [_to_list(i) for i in ids]
    return ids


def clean_up_tokenization(text: str) -> str:
    """Remove the spaces that word-level decoding leaves before punctuation and English contractions."""
    for spaced, joined in (
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ):
        text = text.replace(spaced, joined)
    return text
