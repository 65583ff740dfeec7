"""text-classification (alias sentiment-analysis): a label and a score per text, or per text pair.

``pipe("I love it")`` -> ``[{"label": "POSITIVE", "score": 0.99}]`` (a list even for one text, as the
reference); ``top_k=None`` gives every label sorted by score, ``top_k=2`` the best two;
``function_to_apply`` is ``"softmax"`` (default for several labels), ``"sigmoid"`` (default for one
label or multi-label models) or ``"none"`` (raw logits). A pair is ``{"text": a, "text_pair": b}``.
"""

from __future__ import annotations

from typing import Any

from .base import Pipeline, sigmoid, softmax

FUNCTIONS = ("softmax", "sigmoid", "none")
_LEGACY = object()  # top_k not given: one best label per text, in the reference's older output shape


class TextClassificationPipeline(Pipeline):
    task = "text-classification"

    def _check_model(self) -> None:
        if "ForSequenceClassification" not in type(self.model).__name__:
            raise ValueError(
                f"The {self.task} pipeline needs a sequence-classification head, but the model is a "
                f"{type(self.model).__name__}. Load it with AutoModelForSequenceClassification.from_pretrained(...)."
            )

    def _sanitize_parameters(
        self,
        top_k: Any = _LEGACY,
        function_to_apply: str | None = None,
        return_all_scores: bool | None = None,
        **tokenizer_kwargs: Any,
    ):
        post: dict[str, Any] = {}
        if top_k is not _LEGACY:
            if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
                raise ValueError(f"top_k must be a positive integer or None (every label), got {top_k!r}.")
            post["top_k"] = top_k
            post["legacy"] = False
        elif return_all_scores is not None:  # the reference's deprecated spelling
            post["top_k"] = None if return_all_scores else 1
            post["legacy"] = True
        if function_to_apply is not None:
            name = getattr(function_to_apply, "value", function_to_apply)
            name = str(name).lower()
            if name not in FUNCTIONS:
                raise ValueError(f"function_to_apply={function_to_apply!r} is not one of {', '.join(FUNCTIONS)}.")
            post["function_to_apply"] = name
        tokenizer_kwargs.pop("padding", None)  # batches are padded by the pipeline
        allowed = {"truncation", "max_length", "add_special_tokens", "stride"}
        unknown = set(tokenizer_kwargs) - allowed
        if unknown:
            raise TypeError(f"The {self.task} pipeline got unexpected argument(s): {', '.join(sorted(unknown))}.")
        return tokenizer_kwargs, {}, post

    def _is_single(self, inputs: Any) -> bool:
        return isinstance(inputs, (str, dict))

    def _check_input(self, item: Any) -> Any:
        if isinstance(item, dict):
            if "text" not in item or set(item) - {"text", "text_pair"}:
                raise TypeError(f"A text pair is {{'text': ..., 'text_pair': ...}}; got the keys {sorted(item)}.")
            for key, value in item.items():
                if not isinstance(value, str) or not value.strip():
                    raise ValueError(f"The pair's {key!r} must be a non-empty string, got {value!r}.")
            return item
        if isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(x, str) for x in item):
            return self._check_input({"text": item[0], "text_pair": item[1]})
        return super()._check_input(item)

    def preprocess_many(self, items: list, **tokenizer_kwargs: Any) -> list[list[dict]]:
        singles = [i for i, item in enumerate(items) if isinstance(item, str)]
        pairs = [i for i, item in enumerate(items) if not isinstance(item, str)]
        chunks: list[list[dict]] = [[] for _ in items]
        names = self._model_input_names()
        if singles:
            enc = self.tokenizer([items[i] for i in singles], **tokenizer_kwargs)
            for row, i in enumerate(singles):
                chunks[i] = [{k: enc[k][row] for k in names if k in enc}]
        if pairs:
            enc = (
                self.tokenizer(
                    [items[i]["text"] for i in pairs], [items[i].get("text_pair") for i in pairs], **tokenizer_kwargs
                )
                if all("text_pair" in items[i] for i in pairs)
                else None
            )
            if enc is None:
                for i in pairs:
                    chunks[i] = self.preprocess_many([items[i]["text"]], **tokenizer_kwargs)[0]
            else:
                for row, i in enumerate(pairs):
                    chunks[i] = [{k: enc[k][row] for k in names if k in enc}]
        return chunks

    def postprocess(
        self, chunks: list[dict], top_k: Any = 1, function_to_apply: str | None = None, legacy: bool = True
    ) -> Any:
        config = self.model.config
        logits = chunks[0]["logits"].numpy()
        if function_to_apply is None:
            problem_type = getattr(config, "problem_type", None)
            if problem_type == "multi_label_classification" or config.num_labels == 1:
                function_to_apply = "sigmoid"
            elif problem_type == "single_label_classification" or config.num_labels > 1:
                function_to_apply = "softmax"
            else:
                function_to_apply = getattr(config, "function_to_apply", None) or "none"
        if function_to_apply == "sigmoid":
            scores = sigmoid(logits)
        elif function_to_apply == "softmax":
            scores = softmax(logits)
        else:
            scores = logits
        if top_k == 1 and legacy:
            best = int(scores.argmax())
            return {"label": config.id2label[best], "score": float(scores[best])}
        ranked = [{"label": config.id2label[i], "score": float(s)} for i, s in enumerate(scores)]
        if not legacy:
            ranked.sort(key=lambda x: x["score"], reverse=True)
            if top_k is not None:
                ranked = ranked[:top_k]
        return ranked

    def _wrap_single(self, result: Any, inputs: Any, call_kwargs: dict) -> Any:
        # As the reference: a single text without a call-time top_k gives a list (around a list too).
        if isinstance(inputs, str) and "top_k" not in call_kwargs:
            return [result]
        return result
