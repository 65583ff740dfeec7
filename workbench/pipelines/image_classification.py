"""image-classification: the labels of an image, best first, with their scores.

``pipe("photo.jpg")`` -> ``[{"label": "tabby", "score": 0.71}, ...]``: the ``top_k`` best labels (default 5,
at most the model's number of labels). A list of images gives a list of such lists. Images are paths, URLs, PIL
images, arrays or tensors, or a ``datasets`` Image column (``pipe(dataset["image"])``); see ``ImagePipeline``.

``function_to_apply`` turns the logits into scores as the reference v4.37 does: ``"softmax"`` (the default with
several labels), ``"sigmoid"`` (the default with one label or a multi-label model) or ``"none"`` (raw logits).
"""

from __future__ import annotations

from typing import Any

from .base import ImagePipeline, classification_function, classification_scores

DEFAULT_TOP_K = 5


class ImageClassificationPipeline(ImagePipeline):
    task = "image-classification"

    def _check_model(self) -> None:
        if "ForImageClassification" not in type(self.model).__name__:
            raise ValueError(
                f"The {self.task} pipeline needs an image-classification head, but the model is a "
                f"{type(self.model).__name__}. Load it with AutoModelForImageClassification.from_pretrained(...), "
                "or use the image-feature-extraction pipeline for a model without a head."
            )

    def _sanitize_parameters(
        self, top_k: int | None = None, function_to_apply: Any = None, timeout: float | None = None
    ) -> tuple[dict, dict, dict]:
        pre = {} if timeout is None else {"timeout": timeout}
        post: dict[str, Any] = {}
        if top_k is not None:  # None is the default, 5 (as in the reference; not every label)
            if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
                raise ValueError(f"top_k must be a positive integer (the number of labels to return), got {top_k!r}.")
            post["top_k"] = top_k
        if function_to_apply is not None:
            post["function_to_apply"] = classification_function(self.model.config, function_to_apply)
        return pre, {}, post

    def postprocess(self, chunks: list[dict], top_k: int = DEFAULT_TOP_K, function_to_apply: str | None = None) -> list:
        config = self.model.config
        function = function_to_apply or classification_function(config)
        scores = classification_scores(chunks[0]["logits"].numpy(), function)  # (num_labels,)
        ranked = [{"label": config.id2label[i], "score": score.item()} for i, score in enumerate(scores)]
        ranked.sort(key=lambda x: x["score"], reverse=True)  # stable: equal scores keep the labels' order
        return ranked[: min(top_k, config.num_labels)]
