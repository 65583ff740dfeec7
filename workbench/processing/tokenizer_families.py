"""Tokenizer families: what a tokenizer class implies when a checkpoint's files do not say it.

Many canonical Hub checkpoints name no special tokens: ``google-bert/bert-base-uncased`` ships
``{"do_lower_case": true, "model_max_length": 512}`` as its tokenizer_config.json, ``google-t5/t5-small`` and
``FacebookAI/roberta-base`` ship none at all. The reference library then picks a tokenizer *class* (from
tokenizer_config.json's ``tokenizer_class``, else config.json's ``tokenizer_class``, else config.json's
``model_type``: :data:`MODEL_TYPE_TOKENIZERS`), and that class's ``__init__`` defaults supply the rest: BERT's
``[CLS] [SEP] [PAD] [MASK] [UNK]``, GPT-2's ``<|endoftext|>``, T5's ``</s> <pad> <unk>`` and 100 sentinels.

This module holds those defaults as data, one :class:`TokenizerFamily` per reference class (:data:`FAMILIES`):
the special tokens, the model's inputs (``token_type_ids`` or not), the padding side, the special-token template
(the post-processor that puts ``[CLS] ... [SEP]`` around a text), and the raw vocabulary files the family's
tokenizer can be rebuilt from when a checkpoint has no tokenizer.json (see ``tokenizer_files``). Anything that
tokenizer_config.json (or a keyword of ``from_pretrained``) does say wins over these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

from tokenizers import AddedToken, processors

if TYPE_CHECKING:
    from .tokenizer import PreTrainedTokenizerFast

# ----------------------------------------------------------------------------------------------------
# 1. Special-token templates
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


def _clip_template(tok: PreTrainedTokenizerFast) -> processors.PostProcessor:
    """``<|startoftext|> A <|endoftext|>`` and ``... A <|endoftext|> <|endoftext|> B <|endoftext|>`` (RoBERTa's
    layout with CLIP's tokens, no offset trimming)."""
    return processors.RobertaProcessing(
        (tok.eos_token, tok.eos_token_id), (tok.bos_token, tok.bos_token_id), trim_offsets=False, add_prefix_space=False
    )


def bos_eos_template(tok: PreTrainedTokenizerFast) -> processors.PostProcessor:
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


# ----------------------------------------------------------------------------------------------------
# 2. Additional special tokens that a family adds when the config lists none
# ----------------------------------------------------------------------------------------------------


def _no_extra_tokens(config: dict) -> list[str]:
    return []


def _sentinels(default_count: int) -> Callable[[dict], list[str]]:
    """T5's span-corruption sentinels ``<extra_id_0>``, ``<extra_id_1>``, ... (``extra_ids`` of them)."""

    def sentinels(config: dict) -> list[str]:
        return [f"<extra_id_{i}>" for i in range(config.get("extra_ids", default_count))]

    return sentinels


def _camembert_extra_tokens(config: dict) -> list[str]:
    return ["<s>NOTUSED", "</s>NOTUSED", "<unk>NOTUSED"]  # fairseq's reserved entries


def _code_llama_infill_tokens(config: dict) -> list[str]:
    """The fill-in-the-middle markers: prefix, middle, suffix and end of infilling."""
    defaults = {"prefix_token": "▁<PRE>", "middle_token": "▁<MID>", "suffix_token": "▁<SUF>", "eot_token": "▁<EOT>"}
    tokens = [config.get(name, default) for name, default in defaults.items()]
    return [token_str(token) for token in tokens if token is not None]


def _pegasus_extra_tokens(config: dict) -> list[str]:
    """The sentence mask ``<mask_1>`` and the pretraining-only ``<unk_2>`` ... ``<unk_102>`` (``offset`` 103)."""
    sentence_mask = config.get("mask_token_sent", "<mask_1>")
    return ([token_str(sentence_mask)] if sentence_mask else []) + [
        f"<unk_{i}>" for i in range(2, config.get("offset", 103))
    ]


# ----------------------------------------------------------------------------------------------------
# 3. The families
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenizerFamily:
    """Defaults that a reference tokenizer class implies (its ``__init__`` defaults).

    ``special_tokens``: the named special tokens; an ``AddedToken`` where the token is matched in a special way
    (a mask token with ``lstrip`` takes the space before it: ``"the <mask>"`` -> ``["Ġthe", "<mask>"]``).
    ``template``: the special-token template of a rebuilt backend, or ``None`` to keep the tokenizer.json's.
    ``extra_special_tokens``: the additional special tokens when the config lists none, from the config.
    ``raw_format``: the raw files the backend is rebuilt from (``"vocab.txt"``, ``"vocab.json + merges.txt"``,
    ``"SentencePiece Unigram model"``, ``"SentencePiece BPE model"`` or ``"bytes"``: see ``tokenizer_files``), or
    ``None`` when only a tokenizer.json can be read for this family.
    """

    special_tokens: dict[str, str | AddedToken]
    template: Callable[[PreTrainedTokenizerFast], processors.PostProcessor] | None = bos_eos_template
    model_input_names: tuple[str, ...] = ("input_ids", "attention_mask")
    padding_side: str = "right"
    add_bos_token: bool = False
    extra_special_tokens: Callable[[dict], list[str]] = _no_extra_tokens
    raw_format: str | None = None


def _lstrip(token: str) -> AddedToken:
    """A mask token that takes the space before it, so that ``"the <mask>"`` asks for the word ``" x"``."""
    return AddedToken(token, lstrip=True, rstrip=False, normalized=False, special=True)


_BERT = TokenizerFamily(
    {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"},
    _bert_template,
    model_input_names=("input_ids", "token_type_ids", "attention_mask"),
    raw_format="vocab.txt",
)
_ROBERTA = TokenizerFamily(
    {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": _lstrip("<mask>"),
    },
    _roberta_template,
    raw_format="vocab.json + merges.txt",
)
_T5 = TokenizerFamily(
    {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"},
    _t5_template,
    extra_special_tokens=_sentinels(100),
    raw_format="SentencePiece Unigram model",
)
_LLAMA = TokenizerFamily(
    {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    padding_side="left",
    add_bos_token=True,
    raw_format="SentencePiece BPE model",
)
# Translation families whose template carries a language code (src_lang / tgt_lang): their tokenizer.json's
# template (made for the default source language) is kept, and they are read from a tokenizer.json only.
_LANGUAGE_CODES = replace(_ROBERTA, template=None, raw_format=None)

# Reference tokenizer class (without "Fast") -> its defaults. tokenizer_classes.py makes a class of each name.
FAMILIES: dict[str, TokenizerFamily] = {
    # encoders
    "BertTokenizer": _BERT,
    "DistilBertTokenizer": replace(_BERT, model_input_names=("input_ids", "attention_mask")),  # no segments
    "ElectraTokenizer": _BERT,
    "AlbertTokenizer": TokenizerFamily(
        {
            "bos_token": "[CLS]",
            "eos_token": "[SEP]",
            "unk_token": "<unk>",
            "sep_token": "[SEP]",
            "pad_token": "<pad>",
            "cls_token": "[CLS]",
            "mask_token": _lstrip("[MASK]"),
        },
        _bert_template,
        model_input_names=_BERT.model_input_names,
    ),
    "RobertaTokenizer": _ROBERTA,
    "XLMRobertaTokenizer": replace(_ROBERTA, raw_format=None),
    "CamembertTokenizer": replace(_ROBERTA, raw_format=None, extra_special_tokens=_camembert_extra_tokens),
    # decoders
    "GPT2Tokenizer": TokenizerFamily(
        {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"},
        raw_format="vocab.json + merges.txt",
    ),
    "LlamaTokenizer": _LLAMA,
    "CodeLlamaTokenizer": replace(_LLAMA, extra_special_tokens=_code_llama_infill_tokens),
    "Qwen2Tokenizer": TokenizerFamily(
        {"eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}
    ),
    # encoder-decoders
    "T5Tokenizer": _T5,
    "MT5Tokenizer": _T5,
    "ByT5Tokenizer": replace(_T5, extra_special_tokens=_sentinels(125), raw_format="bytes"),
    "BartTokenizer": _ROBERTA,
    "MBartTokenizer": _LANGUAGE_CODES,
    "NllbTokenizer": _LANGUAGE_CODES,
    "M2M100Tokenizer": TokenizerFamily(
        {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"},
        template=None,
    ),
    "MarianTokenizer": TokenizerFamily(
        {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}, template=None
    ),
    "PegasusTokenizer": TokenizerFamily(
        {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>", "mask_token": "<mask_2>"},
        template=None,
        extra_special_tokens=_pegasus_extra_tokens,
    ),
    # image-text: CLIP's lower-cased byte-level BPE, words ending in </w> (SigLIP's SentencePiece is not read here)
    "CLIPTokenizer": TokenizerFamily(
        {
            "bos_token": "<|startoftext|>",
            "eos_token": "<|endoftext|>",
            "unk_token": "<|endoftext|>",
            "pad_token": "<|endoftext|>",
        },
        _clip_template,
        raw_format="vocab.json + merges.txt (CLIP)",
    ),
    # speech: CTC letters (its class, with CTC decoding, is processing.ctc_tokenizer's)
    "Wav2Vec2CTCTokenizer": TokenizerFamily(
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"},
        template=None,  # no special tokens around a text
        raw_format="vocab.json (characters)",
    ),
    # speech: Whisper's byte-level BPE (its class, with the decoder's prompt and timestamps, is whisper_tokenizer's)
    "WhisperTokenizer": TokenizerFamily(
        {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"},
        template=None,  # the prompt template is the class's (set_prefix_tokens)
        raw_format="vocab.json + merges.txt",
    ),
}
GENERIC_FAMILY = TokenizerFamily({})  # a tokenizer.json whose config names no known class

# config.json's model_type -> the tokenizer class the reference's AutoTokenizer picks for it (when neither
# tokenizer_config.json nor config.json names one).
MODEL_TYPE_TOKENIZERS = {
    "bert": "BertTokenizer",
    "distilbert": "DistilBertTokenizer",
    "electra": "ElectraTokenizer",
    "albert": "AlbertTokenizer",
    "roberta": "RobertaTokenizer",
    "data2vec-text": "RobertaTokenizer",
    "xlm-roberta": "XLMRobertaTokenizer",
    "camembert": "CamembertTokenizer",
    "gpt2": "GPT2Tokenizer",
    "llama": "LlamaTokenizer",
    "mistral": "LlamaTokenizer",
    "mixtral": "LlamaTokenizer",
    "qwen2": "Qwen2Tokenizer",
    "t5": "T5Tokenizer",
    "mt5": "MT5Tokenizer",
    "umt5": "T5Tokenizer",
    "bart": "BartTokenizer",
    "mbart": "MBartTokenizer",
    "marian": "MarianTokenizer",
    "pegasus": "PegasusTokenizer",
    "m2m_100": "M2M100Tokenizer",
    "wav2vec2": "Wav2Vec2CTCTokenizer",
    "hubert": "Wav2Vec2CTCTokenizer",
    "data2vec-audio": "Wav2Vec2CTCTokenizer",
    "whisper": "WhisperTokenizer",
    "clip": "CLIPTokenizer",
    "clip_text_model": "CLIPTokenizer",
}

# Tokenizer classes with code of their own (not only a family's defaults) -> their module in workbench.processing.
# AutoTokenizer returns an instance of the class when a checkpoint's files name it (or its model_type implies it).
TOKENIZER_CLASS_MODULES = {"Wav2Vec2CTCTokenizer": "ctc_tokenizer", "WhisperTokenizer": "whisper_tokenizer"}


def tokenizer_class_with_code(tokenizer_class: str | None) -> type[PreTrainedTokenizerFast] | None:
    """The class named ``tokenizer_class`` (``"Wav2Vec2CTCTokenizer"``) where it has code of its own, else None."""
    name = family_name(tokenizer_class)
    if name not in TOKENIZER_CLASS_MODULES:
        return None
    import importlib

    return getattr(importlib.import_module(f".{TOKENIZER_CLASS_MODULES[name]}", __package__), name)


def family_name(tokenizer_class: str | None) -> str | None:
    """``"BertTokenizerFast"`` -> ``"BertTokenizer"``; ``None`` for classes without a known family."""
    if not tokenizer_class:
        return None
    name = tokenizer_class.removesuffix("Fast")
    return name if name in FAMILIES else None


def family_of(tokenizer_class: str | None) -> TokenizerFamily:
    """The defaults of a tokenizer class (``"T5TokenizerFast"``); no defaults for an unknown class."""
    return FAMILIES.get(family_name(tokenizer_class), GENERIC_FAMILY)


def token_str(value) -> str | None:
    """A special token as written in config files (a string, or an AddedToken's dict) -> its text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value["content"]
    if isinstance(value, AddedToken):
        return value.content
    raise TypeError(f"A special token must be a string, got {type(value).__name__}: {value!r}")
