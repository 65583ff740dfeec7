"""token-classification (alias ner): a label per token, or entities grouped from them.

``pipe("My name is Wolfgang and I live in Berlin")`` with ``aggregation_strategy``:

- ``"none"`` (default): one dict per token ``{"entity", "score", "index", "word", "start", "end"}``;
- ``"simple"``: adjacent tokens with the same entity type (B-X then I-X ...) merged into
  ``{"entity_group", "score", "word", "start", "end"}``, the score being the mean;
- ``"first"`` / ``"average"`` / ``"max"``: first the sub-word tokens of each word are merged into one word
  labelled by its first token / the mean of its tokens' scores / its most confident token, then words
  are grouped as in ``"simple"``. A word never gets two labels.

``start``/``end`` are character offsets into the input. Labels in ``ignore_labels`` (default ``["O"]``) are
dropped. Texts longer than the model are cut, unless ``stride=`` is given: then they are split into
overlapping windows whose entities are merged.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .base import Pipeline, softmax

STRATEGIES = ("none", "simple", "first", "average", "max")


class TokenClassificationPipeline(Pipeline):
    task = "token-classification"
    token_outputs = ("logits",)

    def _check_model(self) -> None:
        if "ForTokenClassification" not in type(self.model).__name__:
            raise ValueError(
                f"The {self.task} pipeline needs a token-classification head, but the model is a "
                f"{type(self.model).__name__}. Load it with AutoModelForTokenClassification.from_pretrained(...)."
            )

    def _sanitize_parameters(
        self,
        ignore_labels: list[str] | None = None,
        grouped_entities: bool | None = None,
        ignore_subwords: bool | None = None,
        aggregation_strategy: Any = None,
        stride: int | None = None,
        **kwargs: Any,
    ):
        if kwargs:
            raise TypeError(f"The {self.task} pipeline got unexpected argument(s): {', '.join(sorted(kwargs))}.")
        pre: dict[str, Any] = {}
        post: dict[str, Any] = {}
        if grouped_entities is not None or ignore_subwords is not None:  # the reference's older spelling
            if grouped_entities and ignore_subwords:
                aggregation_strategy = "first"
            elif grouped_entities:
                aggregation_strategy = "simple"
            else:
                aggregation_strategy = "none"
        if aggregation_strategy is not None:
            strategy = str(getattr(aggregation_strategy, "value", aggregation_strategy)).lower()
            if strategy not in STRATEGIES:
                raise ValueError(
                    f"aggregation_strategy={aggregation_strategy!r} is not one of {', '.join(STRATEGIES)}."
                )
            post["aggregation_strategy"] = strategy
        if ignore_labels is not None:
            post["ignore_labels"] = list(ignore_labels)
        if stride is not None:
            if stride >= self.tokenizer.model_max_length:
                raise ValueError(
                    "stride must be less than tokenizer.model_max_length (and smaller still, "
                    "since the tokenizer adds special tokens)."
                )
            if post.get("aggregation_strategy", "none") == "none":
                raise ValueError(
                    "stride splits long texts into windows whose entities are merged, which needs "
                    "aggregation_strategy='simple', 'first', 'average' or 'max' (not 'none')."
                )
            pre["stride"] = stride
        return pre, {}, post

    def preprocess(self, sentence: str, stride: int | None = None) -> list[dict]:
        truncation = bool(self.tokenizer.model_max_length and self.tokenizer.model_max_length > 0)
        extra = {"return_overflowing_tokens": True, "stride": stride} if stride is not None else {}
        enc = self.tokenizer(
            [sentence], truncation=truncation, return_special_tokens_mask=True, return_offsets_mapping=True, **extra
        )
        names = [k for k in self._model_input_names() if k in enc]
        chunks = []
        for i in range(len(enc["input_ids"])):
            chunk = {k: enc[k][i] for k in names}
            chunk["special_tokens_mask"] = enc["special_tokens_mask"][i]
            chunk["offset_mapping"] = enc["offset_mapping"][i]
            chunk["sentence"] = sentence
            chunks.append(chunk)
        return chunks

    def postprocess(
        self, chunks: list[dict], aggregation_strategy: str = "none", ignore_labels: list[str] | None = None
    ) -> list[dict]:
        if ignore_labels is None:
            ignore_labels = ["O"]
        entities = []
        for chunk in chunks:
            scores = softmax(chunk["logits"].numpy())
            pre_entities = self._gather_pre_entities(chunk, scores, aggregation_strategy)
            grouped = self._aggregate(pre_entities, aggregation_strategy)
            entities += [
                e
                for e in grouped
                if e.get("entity") not in ignore_labels and e.get("entity_group") not in ignore_labels
            ]
        if len(chunks) > 1:
            entities = _merge_overlapping(entities)
        return entities

    def _gather_pre_entities(self, chunk: dict, scores: np.ndarray, strategy: str) -> list[dict]:
        sentence = chunk["sentence"]
        word_aware = bool(getattr(self.tokenizer.backend_tokenizer.model, "continuing_subword_prefix", None))
        pre_entities = []
        for idx, token_scores in enumerate(scores):
            if chunk["special_tokens_mask"][idx]:
                continue
            token_id = int(chunk["input_ids"][idx])
            word = self.tokenizer.convert_ids_to_tokens(token_id)
            start, end = chunk["offset_mapping"][idx]
            word_ref = sentence[start:end]
            if word_aware:  # WordPiece: a sub-word token is shorter than its text ("##ing" vs "ing")
                is_subword = len(word) != len(word_ref)
            else:  # the reference's heuristic for tokenizers that do not mark sub-words
                if strategy in ("first", "average", "max"):
                    warnings.warn("Tokenizer does not support real words, using fallback heuristic", UserWarning)
                is_subword = start > 0 and " " not in sentence[start - 1 : start + 1]
            if token_id == self.tokenizer.unk_token_id:
                word = word_ref
                is_subword = False
            pre_entities.append(
                {
                    "word": word,
                    "scores": token_scores,
                    "start": start,
                    "end": end,
                    "index": idx,
                    "is_subword": is_subword,
                }
            )
        return pre_entities

    def _aggregate(self, pre_entities: list[dict], strategy: str) -> list[dict]:
        id2label = self.model.config.id2label
        if strategy in ("none", "simple"):
            entities = []
            for pre in pre_entities:
                best = int(pre["scores"].argmax())
                entities.append(
                    {
                        "entity": id2label[best],
                        "score": float(pre["scores"][best]),
                        "index": pre["index"],
                        "word": pre["word"],
                        "start": pre["start"],
                        "end": pre["end"],
                    }
                )
        else:
            entities = self._aggregate_words(pre_entities, strategy)
        return entities if strategy == "none" else self._group_entities(entities)

    def _aggregate_word(self, entities: list[dict], strategy: str) -> dict:
        id2label = self.model.config.id2label
        word = self.tokenizer.convert_tokens_to_string([e["word"] for e in entities])
        if strategy == "first":
            scores = entities[0]["scores"]
        elif strategy == "max":
            scores = max(entities, key=lambda e: e["scores"].max())["scores"]
        else:  # average
            scores = np.nanmean(np.stack([e["scores"] for e in entities]), axis=0)
        best = int(scores.argmax())
        return {
            "entity": id2label[best],
            "score": float(scores[best]),
            "word": word,
            "start": entities[0]["start"],
            "end": entities[-1]["end"],
        }

    def _aggregate_words(self, entities: list[dict], strategy: str) -> list[dict]:
        words, group = [], None
        for entity in entities:
            if group is None:
                group = [entity]
            elif entity["is_subword"]:
                group.append(entity)
            else:
                words.append(self._aggregate_word(group, strategy))
                group = [entity]
        if group is not None:
            words.append(self._aggregate_word(group, strategy))
        return words

    def _group_sub_entities(self, entities: list[dict]) -> dict:
        return {
            "entity_group": entities[0]["entity"].split("-", 1)[-1],
            "score": float(np.mean(np.nanmean([e["score"] for e in entities]))),
            "word": self.tokenizer.convert_tokens_to_string([e["word"] for e in entities]),
            "start": entities[0]["start"],
            "end": entities[-1]["end"],
        }

    def _group_entities(self, entities: list[dict]) -> list[dict]:
        groups, current = [], []
        for entity in entities:
            if not current:
                current.append(entity)
                continue
            bi, tag = _tag(entity["entity"])
            _, last_tag = _tag(current[-1]["entity"])
            if tag == last_tag and bi != "B":  # I-X after X continues the entity; B-X starts a new one
                current.append(entity)
            else:
                groups.append(self._group_sub_entities(current))
                current = [entity]
        if current:
            groups.append(self._group_sub_entities(current))
        return groups


def _tag(label: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; a label without a B-/I- prefix counts as a continuation (I)."""
    if label.startswith("B-"):
        return "B", label[2:]
    if label.startswith("I-"):
        return "I", label[2:]
    return "I", label


def _merge_overlapping(entities: list[dict]) -> list[dict]:
    """Entities of overlapping windows: of two that overlap keep the longer one (or the surer, if as long)."""
    if not entities:
        return entities
    entities = sorted(entities, key=lambda e: e["start"])
    merged, previous = [], entities[0]
    for entity in entities:
        if previous["start"] <= entity["start"] < previous["end"]:
            length, previous_length = entity["end"] - entity["start"], previous["end"] - previous["start"]
            if length > previous_length or (length == previous_length and entity["score"] > previous["score"]):
                previous = entity
        else:
            merged.append(previous)
            previous = entity
    merged.append(previous)
    return merged
