"""fill-mask: the most likely tokens for each mask token of a text.

``pipe("Paris is the [MASK] of France.")`` -> ``[{"score", "token", "token_str", "sequence"}, ...]`` (the
``top_k`` best, 5 by default); ``targets=["capital", "city"]`` scores only those words. A text with
several masks gives one such list per mask.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .base import _MISSING, Pipeline

logger = logging.getLogger(__name__)


class FillMaskPipeline(Pipeline):
    task = "fill-mask"
    token_outputs = ("logits",)

    def _check_model(self) -> None:
        if "ForMaskedLM" not in type(self.model).__name__ and "ForPreTraining" not in type(self.model).__name__:
            raise ValueError(
                f"The {self.task} pipeline needs a masked-language-model head, but the model is a "
                f"{type(self.model).__name__}. Load it with AutoModelForMaskedLM.from_pretrained(...)."
            )
        if self.tokenizer is not None and self.tokenizer.mask_token_id is None:
            raise ValueError("The fill-mask pipeline needs a tokenizer with a mask token; this one has none.")

    def _sanitize_parameters(
        self, top_k: int | None = None, targets: Any = None, tokenizer_kwargs: dict | None = None, **kwargs: Any
    ):
        if kwargs:
            raise TypeError(f"The {self.task} pipeline got unexpected argument(s): {', '.join(sorted(kwargs))}.")
        pre = {"tokenizer_kwargs": dict(tokenizer_kwargs or {})} if tokenizer_kwargs else {}
        post: dict[str, Any] = {}
        if targets is not None:
            post["target_ids"] = self._target_ids(targets)
        if top_k is not None:
            if not isinstance(top_k, int) or top_k < 1:
                raise ValueError(f"top_k must be a positive integer, got {top_k!r}.")
            post["top_k"] = top_k
        return pre, {}, post

    def _target_ids(self, targets: Any) -> np.ndarray:
        if isinstance(targets, str):
            targets = [targets]
        if not isinstance(targets, (list, tuple)) or not all(isinstance(t, str) for t in targets):
            raise TypeError(f"targets must be a string or a list of strings, got {targets!r}.")
        vocab = self.tokenizer.get_vocab()
        ids = []
        for target in targets:
            id_ = vocab.get(target)
            if id_ is None:
                pieces = self.tokenizer(
                    target,
                    add_special_tokens=False,
                    return_attention_mask=False,
                    return_token_type_ids=False,
                    max_length=1,
                    truncation=True,
                )["input_ids"]
                if len(pieces) == 0:
                    logger.warning(f"The target {target!r} is not in the vocabulary and has no token; ignoring it.")
                    continue
                id_ = pieces[0]
                logger.warning(
                    f"The target {target!r} is not in the vocabulary; using its first token "
                    f"{self.tokenizer.convert_ids_to_tokens(id_)!r} instead."
                )
            ids.append(id_)
        ids = list(set(ids))  # the reference's order (a set of ints), which only matters for ties
        if not ids:
            raise ValueError("None of the targets maps to a token of the vocabulary; pass at least one valid target.")
        return np.array(ids)

    def _check_input(self, item: Any) -> Any:
        item = super()._check_input(item)
        if self.tokenizer.mask_token not in item:
            raise ValueError(
                f"No mask token ({self.tokenizer.mask_token}) in the input {item[:60]!r}; "
                f"put {self.tokenizer.mask_token} where a word should be predicted."
            )
        return item

    def preprocess_many(self, items: list[str], tokenizer_kwargs: dict | None = None) -> list[list[dict]]:
        enc = self.tokenizer(items, **(tokenizer_kwargs or {}))
        names = [k for k in self._model_input_names() if k in enc]
        chunks = []
        for row in range(len(items)):
            chunk = {k: enc[k][row] for k in names}
            if self.tokenizer.mask_token_id not in chunk["input_ids"]:
                raise ValueError(
                    f"No mask token ({self.tokenizer.mask_token}) is left in {items[row][:60]!r} "
                    "after tokenization (was it truncated?)."
                )
            chunks.append([chunk])
        return chunks

    def postprocess(self, chunks: list[dict], top_k: int = 5, target_ids: np.ndarray | None = None) -> Any:
        if target_ids is not None and target_ids.shape[0] < top_k:
            top_k = target_ids.shape[0]
        input_ids = np.array(chunks[0]["input_ids"])
        logits = chunks[0]["logits"]  # (tokens, vocab)
        masked_index = np.nonzero(input_ids == self.tokenizer.mask_token_id)[0]
        probs = logits[masked_index].softmax(dim=-1)  # (masks, vocab)
        if target_ids is not None:
            probs = probs[..., target_ids]
        values, predictions = probs.topk(min(top_k, probs.shape[-1]))
        single_mask = values.shape[0] == 1
        result = []
        for i, (row_values, row_predictions) in enumerate(zip(values.tolist(), predictions.tolist())):
            row = []
            for value, p in zip(row_values, row_predictions):
                if target_ids is not None:
                    p = int(target_ids[p])
                tokens = input_ids.copy()
                tokens[masked_index[i]] = p
                if self.tokenizer.pad_token_id is not None:
                    tokens = tokens[tokens != self.tokenizer.pad_token_id]
                sequence = self.tokenizer.decode(tokens.tolist(), skip_special_tokens=single_mask)
                row.append({"score": value, "token": p, "token_str": self.tokenizer.decode([p]), "sequence": sequence})
            result.append(row)
        return result[0] if single_mask else result

    def __call__(self, inputs: Any = _MISSING, *args: Any, **kwargs: Any):
        outputs = super().__call__(inputs, *args, **kwargs)
        if isinstance(inputs, list) and len(inputs) == 1:  # as the reference: a list of one gives one answer
            return outputs[0]
        return outputs
