"""Sentence embeddings: an encoder's token vectors, mean-pooled into one vector per sentence.

This is what sentence-transformers does for checkpoints such as all-MiniLM-L6-v2 (the model this
workbench ships for offline use), in a few readable steps:

    sentences (n texts)
      -> tokenize once, truncated to the model's max length          n lists of token ids
      -> sort by token count, cut into batches of batch_size          each batch padded to its own longest
      -> model(**batch).last_hidden_state                             (batch, seq, hidden)
      -> mean over the real tokens (attention_mask = 1)               (batch, hidden)
      -> L2-normalise (cosine similarity = dot product)               (batch, hidden)
      -> restore the input order                                      (n, hidden)

    >>> from workbench.sentence_embeddings import encode
    >>> emb = encode(["A cat sits on the mat.", "A dog lies on the rug."])   # (2, 384), float32
    >>> float(emb[0] @ emb[1])                                               # cosine similarity

Sorting by length matters on a CPU: sentences of similar length share a batch, so almost no time goes
into padding. ``dtype=torch.bfloat16`` runs a bfloat16 copy of the model (faster on CPUs with bf16
instructions; cosine to the float32 embeddings stays above 0.999). Embeddings always come back float32.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import weakref
from typing import Any, Iterable, Sequence

import torch
from torch import nn

from . import hub

__all__ = ["mean_pool", "encode", "SentenceEncoder", "max_seq_length_for"]


def mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of each row over its real tokens (``attention_mask == 1``).

    (batch, seq, hidden), (batch, seq) -> (batch, hidden), computed in float32. Padding positions do not
    count; a row without any real token gives zeros rather than NaN (as sentence-transformers).
    """
    if last_hidden_state.dim() != 3 or attention_mask.shape != last_hidden_state.shape[:2]:
        raise ValueError(
            f"mean_pool expects last_hidden_state (batch, seq, hidden) and attention_mask (batch, seq); got "
            f"{tuple(last_hidden_state.shape)} and {tuple(attention_mask.shape)}."
        )
    mask = attention_mask.to(torch.float32).unsqueeze(-1)  # (batch, seq, 1)
    summed = (last_hidden_state.to(torch.float32) * mask).sum(dim=1)  # (batch, hidden)
    counts = mask.sum(dim=1).clamp(min=1e-9)  # (batch, 1)
    return summed / counts


def max_seq_length_for(name_or_path: str | None, model: nn.Module | None = None, tokenizer: Any = None) -> int:
    """The longest input (in tokens, specials included) that embeddings of this checkpoint are made from.

    sentence-transformers checkpoints name it in ``sentence_bert_config.json`` (``max_seq_length``: 256
    for all-MiniLM-L6-v2, although its position table has 512 rows); otherwise the smaller of the
    tokenizer's ``model_max_length`` and the model's ``max_position_embeddings``.
    """
    if name_or_path:
        try:
            path = hub.resolve_file(name_or_path, "sentence_bert_config.json", required=False)
        except OSError:
            path = None
        if path:
            with open(path, encoding="utf-8") as f:
                value = json.load(f).get("max_seq_length")
            if value:
                return int(value)
    limits = []
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max <= 1_000_000:
        limits.append(model_max)
    positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if positions:
        limits.append(int(positions))
    if not limits:
        raise ValueError(
            "Cannot tell the longest input this model takes: neither sentence_bert_config.json, "
            "tokenizer.model_max_length nor config.max_position_embeddings says. Pass max_length=..."
        )
    return min(limits)


def _checkpoint_name(model: nn.Module) -> str | None:
    name = getattr(getattr(model, "config", None), "_name_or_path", None)
    return name or None


def _do_lower_case(name_or_path: str | None) -> bool:
    """sentence_bert_config.json may ask to lowercase the text before tokenizing (off for MiniLM)."""
    if not name_or_path:
        return False
    try:
        path = hub.resolve_file(name_or_path, "sentence_bert_config.json", required=False)
    except OSError:
        return False
    if not path:
        return False
    with open(path, encoding="utf-8") as f:
        return bool(json.load(f).get("do_lower_case", False))


# A reduced-precision copy of a user's model, made once and reused while its weights stay the same.
# The fingerprint (storage address and in-place version counter of every parameter) changes when the
# weights are edited or trained, so a stale copy is never used.
_CAST_COPIES: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


def _fingerprint(model: nn.Module) -> tuple:
    return tuple((p.data_ptr(), p._version) for p in model.parameters())


def _model_in_dtype(model: nn.Module, dtype: torch.dtype | None) -> nn.Module:
    """``model`` itself when it already computes in ``dtype``, else a cached copy cast to ``dtype``.

    Casting the weights (rather than CPU autocast) was measured faster: autocast re-casts every weight
    on every call and came out no faster than plain float32 here (cast copy: about 1.45x float32).
    """
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype.replace("torch.", ""), dtype)
    current = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    if dtype is None or dtype == current:
        return model
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating point torch dtype such as torch.bfloat16, got {dtype!r}.")
    fingerprint = _fingerprint(model)
    entry = _CAST_COPIES.setdefault(model, {})
    cached = entry.get(dtype)
    if cached is None or cached[0] != fingerprint:
        cast = copy.deepcopy(model).to(dtype).eval()
        entry[dtype] = (fingerprint, cast)
        return cast
    return cached[1]


class SentenceEncoder:
    """A model, its tokenizer and the settings that turn them into a sentence-embedding function.

    ``SentenceEncoder.from_pretrained("sentence-transformers/all-MiniLM-L6-v2").encode(sentences)``;
    the module-level :func:`encode` builds (and, for the default model, caches) one of these.
    """

    def __init__(self, model: nn.Module, tokenizer: Any, max_length: int | None = None, do_lower_case: bool = False):
        # A model with a task head (BertForSequenceClassification, ...): embed with its bare encoder.
        prefix = getattr(model, "base_model_prefix", "")
        if prefix and isinstance(getattr(model, prefix, None), nn.Module):
            model = getattr(model, prefix)
        self.model = model
        self.tokenizer = tokenizer
        name = _checkpoint_name(model)
        self.max_length = int(max_length) if max_length is not None else max_seq_length_for(name, model, tokenizer)
        positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        if positions and self.max_length > positions:
            raise ValueError(
                f"max_length={self.max_length} is longer than the model's position table "
                f"(max_position_embeddings={positions}); pass max_length <= {positions}."
            )
        if self.max_length < 2:
            raise ValueError(f"max_length={self.max_length} leaves no room for any token; pass a larger value.")
        self.do_lower_case = do_lower_case

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike = hub.DEFAULT_MODEL,
        *,
        dtype: torch.dtype | None = None,
        max_length: int | None = None,
        **hub_kwargs,
    ) -> "SentenceEncoder":
        from .models.auto import AutoModel
        from .processing import AutoTokenizer

        name = os.fspath(name_or_path)
        model = AutoModel.from_pretrained(name, dtype=dtype, **hub_kwargs).eval()
        tokenizer = AutoTokenizer.from_pretrained(name, **hub_kwargs)
        return cls(model, tokenizer, max_length=max_length, do_lower_case=_do_lower_case(name))

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def tokenize(self, sentences: Sequence[str], max_length: int | None = None) -> dict[str, list[list[int]]]:
        """Token ids (and type ids, mask) of every sentence, truncated but not padded."""
        texts = [s.strip() for s in sentences]  # as sentence-transformers does before tokenizing
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        encoded = self.tokenizer(texts, padding=False, truncation=True, max_length=max_length or self.max_length)
        return {key: list(encoded[key]) for key in encoded.keys()}

    def encode(
        self,
        sentences: str | Sequence[str],
        *,
        batch_size: int = 32,
        max_length: int | None = None,
        normalize: bool = True,
        dtype: torch.dtype | None = None,
        sort_by_length: bool = True,
        show_progress: bool = False,
    ) -> torch.Tensor:
        """Embed ``sentences`` -> float32 tensor (n, hidden), one row per sentence in the order given
        (a single string counts as a list of one: shape (1, hidden)).

        ``batch_size`` sentences run through the model at a time, each batch padded only to its own
        longest sentence; ``sort_by_length`` groups sentences of similar token counts first (the result
        comes back in the original order either way). Sentences longer than ``max_length`` tokens
        (default: the checkpoint's, 256 for all-MiniLM-L6-v2) are truncated, as sentence-transformers
        does. ``normalize`` scales every embedding to unit length. ``dtype=torch.bfloat16`` computes in
        bfloat16 (a cached cast copy of the model; the result is still float32).
        """
        sentences = _check_sentences(sentences)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if max_length is not None:
            positions = getattr(self.model.config, "max_position_embeddings", None)
            if max_length < 2 or (positions and max_length > positions):
                raise ValueError(f"max_length={max_length} must be between 2 and the model's {positions} positions.")

        encoded = self.tokenize(sentences, max_length)
        lengths = [len(ids) for ids in encoded["input_ids"]]
        order = (
            sorted(range(len(sentences)), key=lambda i: -lengths[i]) if sort_by_length else list(range(len(sentences)))
        )

        model = _model_in_dtype(self.model, dtype)
        was_training = model.training
        model.eval()
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        out = torch.empty(len(sentences), self.hidden_size, dtype=torch.float32)
        starts = range(0, len(order), batch_size)
        progress = _progress(starts, show_progress, total=len(starts))
        try:
            with torch.inference_mode():
                for start in progress:
                    rows = order[start : start + batch_size]
                    batch = _pad_batch(encoded, rows, lengths, pad_id)
                    hidden = model(**batch, return_dict=True).last_hidden_state  # (batch, seq, hidden)
                    out[rows] = mean_pool(hidden, batch["attention_mask"])  # rows back in their input places
        finally:
            model.train(was_training)
        if normalize:
            out = nn.functional.normalize(out, p=2, dim=1)
        return out

    __call__ = encode


def _check_sentences(sentences: Any) -> list[str]:
    if isinstance(sentences, str):
        return [sentences]
    if sentences is None or not isinstance(sentences, Iterable) or isinstance(sentences, (bytes, dict)):
        raise TypeError(f"encode takes a list of strings (or one string), got {type(sentences).__name__}.")
    sentences = list(sentences)
    if not sentences:
        raise ValueError("encode got an empty list of sentences: pass at least one string.")
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            raise TypeError(
                f"encode takes strings only; item {i} is {type(s).__name__} ({s!r:.60}). "
                "Convert it with str(...) or drop it."
            )
    return sentences


def _pad_batch(
    encoded: dict[str, list[list[int]]], rows: list[int], lengths: list[int], pad_id: int
) -> dict[str, torch.Tensor]:
    """Right-pad the chosen rows to the longest of them: {input_ids, attention_mask[, token_type_ids]} (batch, seq)."""
    longest = max(lengths[i] for i in rows)
    input_ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
    type_ids = torch.zeros((len(rows), longest), dtype=torch.long) if "token_type_ids" in encoded else None
    for r, i in enumerate(rows):
        n = lengths[i]
        input_ids[r, :n] = torch.tensor(encoded["input_ids"][i])
        attention_mask[r, :n] = 1
        if type_ids is not None:
            type_ids[r, :n] = torch.tensor(encoded["token_type_ids"][i])
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}
    if type_ids is not None:
        batch["token_type_ids"] = type_ids
    return batch


def _progress(iterable, show: bool, total: int):
    if not show:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm ships with huggingface_hub
        return iterable
    return tqdm(iterable, total=total, desc="Batches", unit="batch")


@functools.lru_cache(maxsize=4)
def _default_encoder(name: str) -> SentenceEncoder:
    return SentenceEncoder.from_pretrained(name)


def encode(
    sentences: str | Sequence[str],
    model: nn.Module | str | os.PathLike | None = None,
    tokenizer: Any = None,
    *,
    batch_size: int = 32,
    max_length: int | None = None,
    normalize: bool = True,
    dtype: torch.dtype | None = None,
    sort_by_length: bool = True,
    show_progress: bool = False,
) -> torch.Tensor:
    """Sentence embeddings (n, hidden), float32, rows in the order of ``sentences``.

    ``model``: ``None`` for the packaged all-MiniLM-L6-v2 (loaded once per process), a checkpoint name or
    folder, or a loaded encoder model (its tokenizer is loaded from the same checkpoint unless
    ``tokenizer`` is given). See :meth:`SentenceEncoder.encode` for the other arguments.

        >>> emb = encode(["I loved it.", "Great film!", "Dull and slow."])
        >>> emb @ emb.T      # cosine similarities, (3, 3)
    """
    sentences = _check_sentences(sentences)
    if model is None or isinstance(model, (str, os.PathLike)):
        name = os.fspath(model) if model is not None else hub.DEFAULT_MODEL
        encoder = _default_encoder(name)
        if tokenizer is not None:
            encoder = SentenceEncoder(
                encoder.model, tokenizer, max_length=encoder.max_length, do_lower_case=encoder.do_lower_case
            )
    elif isinstance(model, SentenceEncoder):
        encoder = model
    elif isinstance(model, nn.Module):
        name = _checkpoint_name(model)
        if tokenizer is None:
            if not name:
                raise ValueError("This model does not say which checkpoint it came from: pass tokenizer=... as well.")
            from .processing import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(name)
        encoder = SentenceEncoder(model, tokenizer, do_lower_case=_do_lower_case(name))
    else:
        raise TypeError(
            f"model must be None, a checkpoint name or path, or a loaded model; got {type(model).__name__}."
        )
    return encoder.encode(
        sentences,
        batch_size=batch_size,
        max_length=max_length,
        normalize=normalize,
        dtype=dtype,
        sort_by_length=sort_by_length,
        show_progress=show_progress,
    )
