"""zero-shot-image-classification: how well each of a list of words describes an image, with no training on them.

``pipe("photo.jpg", candidate_labels=["cat", "dog"])`` -> ``[{"score": 0.93, "label": "cat"}, ...]``, best first.
Each label becomes a sentence (``hypothesis_template``, default ``"This is a photo of {}."``); an image-text model
(CLIP, SigLIP) scores the image against every sentence. CLIP's scores are a softmax over the labels (they sum to
one: which label fits best); SigLIP's a sigmoid of each (image, label) pair on its own (does this label fit at all).
A list of images gives a list of such lists. Images are what ``ImagePipeline`` takes (paths, URLs, PIL images,
arrays, tensors, ``datasets`` Image values).

As the reference v4.37: texts padded to the batch's longest (SigLIP, trained on padded texts: to the tokenizer's
``model_max_length``), labels ranked by score (ties keep their order). Here also: a comma-separated string of
labels is split into labels (v4.37 would read each character as a label), and an empty label list, a template
without ``{}`` or a model without image-text scores is an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import ImagePipeline, sigmoid, softmax

DEFAULT_TEMPLATE = "This is a photo of {}."


class ZeroShotImageClassificationPipeline(ImagePipeline):
    task = "zero-shot-image-classification"

    def _check_model(self) -> None:
        if not hasattr(self.model, "get_text_features") or not hasattr(self.model, "logit_scale"):
            raise ValueError(
                f"The {self.task} pipeline needs an image-text model that scores images against texts (CLIP, SigLIP), "
                f"but the model is a {type(self.model).__name__}. Load one with "
                "AutoModelForZeroShotImageClassification.from_pretrained(...)."
            )
        if self.tokenizer is None:
            raise ValueError(
                f"The {self.task} pipeline turns the labels into sentences and needs a tokenizer: pass tokenizer=... "
                "or processor=... (a CLIPProcessor), or a checkpoint folder that has them."
            )

    def _sanitize_parameters(
        self, candidate_labels: Any = None, hypothesis_template: str | None = None, timeout: float | None = None
    ) -> tuple[dict, dict, dict]:
        pre = {} if timeout is None else {"timeout": timeout}
        forward: dict[str, Any] = {}
        post: dict[str, Any] = {}
        if candidate_labels is not None:
            forward["candidate_labels"] = post["candidate_labels"] = _parse_labels(candidate_labels)
        if hypothesis_template is not None:
            if not isinstance(hypothesis_template, str) or hypothesis_template.format("x") == hypothesis_template:
                raise ValueError(
                    f"hypothesis_template={hypothesis_template!r} has no {{}} for the label: every label would get the "
                    "same sentence. Use e.g. 'This is a photo of {}.'"
                )
            forward["hypothesis_template"] = hypothesis_template
        return pre, forward, post

    def _model_forward(self, batch: dict, candidate_labels=None, hypothesis_template: str = DEFAULT_TEMPLATE):
        """One batch of images against every label's sentence: logits_per_image (images, labels)."""
        if candidate_labels is None:
            raise ValueError(
                f"The {self.task} pipeline needs the labels to choose from: "
                "pipe(image, candidate_labels=['cat', 'dog'])."
            )
        sentences = [hypothesis_template.format(label) for label in candidate_labels]
        padding = "max_length" if getattr(self.model.config, "sigmoid_logits", False) else True
        texts = self.tokenizer(sentences, padding=padding, return_tensors="pt").to(self.device)
        return self.model(input_ids=texts["input_ids"], attention_mask=texts.get("attention_mask"), **batch)

    def forward_outputs(self, output: Any, batch: dict) -> dict:
        return {"logits": output["logits_per_image"]}  # (images, labels)

    def postprocess(self, chunks: list[dict], candidate_labels=None) -> list[dict]:
        logits = chunks[0]["logits"].float().numpy()  # (labels,)
        scores = sigmoid(logits) if getattr(self.model.config, "sigmoid_logits", False) else softmax(logits)
        order = np.argsort(-scores, kind="stable")  # best first; equal scores keep the labels' order
        return [{"score": scores[i].item(), "label": candidate_labels[i]} for i in order]


def _parse_labels(candidate_labels: Any) -> list[str]:
    """A list of labels, or one string of comma-separated labels."""
    if isinstance(candidate_labels, str):
        candidate_labels = [label.strip() for label in candidate_labels.split(",") if label.strip()]
    labels = list(candidate_labels)
    if not labels:
        raise ValueError(
            "candidate_labels is empty: pass the labels to choose from, e.g. candidate_labels=['cat', 'dog'] (a "
            "single label works too: with SigLIP its score says whether it fits; with CLIP it is always 1)."
        )
    if not all(isinstance(label, str) and label.strip() for label in labels):
        raise TypeError(f"candidate_labels must be non-empty strings, got {labels!r}.")
    return labels
