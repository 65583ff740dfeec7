"""Training a tokenizer's vocabulary anew: the work of ``PreTrainedTokenizerFast.train_new_from_iterator``.

The new backend keeps the old one's pipeline (normalizer, pre-tokenizer, model type, decoder, special tokens and
post-processor template) and learns its vocabulary from texts with the ``tokenizers`` trainer of its model type.
"""

from __future__ import annotations

import json
from typing import Any

from tokenizers import AddedToken, Tokenizer, pre_tokenizers, trainers

_TRAINERS = {
    "BPE": trainers.BpeTrainer,
    "WordPiece": trainers.WordPieceTrainer,
    "Unigram": trainers.UnigramTrainer,
    "WordLevel": trainers.WordLevelTrainer,
}


def train_backend(
    old_backend: Tokenizer,
    text_iterator,
    vocab_size: int,
    length: int | None,
    new_special_tokens: list[str | AddedToken] | None,
    rename: dict[str, str],
    /,
    **kwargs,
) -> Tokenizer:
    """A backend with ``old_backend``'s pipeline and a vocabulary of ``vocab_size`` entries trained on
    ``text_iterator`` (``length`` texts or batches). ``rename`` renames special tokens (``{"[CLS]": "<cls>"}``),
    ``new_special_tokens`` adds some; other keywords go to the trainer (``min_frequency=2``, ...)."""
    spec = json.loads(old_backend.to_str())
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
        AddedToken(
            **{
                **{k: v for k, v in token.items() if k not in ("id", "special")},
                "content": rename.get(token["content"], token["content"]),
            },
            special=True,
        )
        for token in added_tokens
        if token["special"] or kind == "Unigram"
    ]
    special_tokens += list(new_special_tokens or [])
    backend = Tokenizer.from_str(json.dumps(spec))
    trainer = _TRAINERS[kind](vocab_size=vocab_size, special_tokens=special_tokens, **options)
    backend.train_from_iterator(text_iterator, trainer=trainer, length=length)
    if post_processor is not None:  # the template names its tokens by id: look them up again
        trained = json.loads(backend.to_str())
        trained["post_processor"] = _remap_template(post_processor, rename, backend)
        backend = Tokenizer.from_str(json.dumps(trained))
    return backend


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
