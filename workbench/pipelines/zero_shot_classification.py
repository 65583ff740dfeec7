"""zero-shot-classification: score labels the model was never trained on, with an NLI model.

Each candidate label becomes a hypothesis ("This example is {label}.", see ``hypothesis_template``) and the
model judges whether the text entails it. ``pipe("I love this phone", candidate_labels=["tech", "food"])``
-> ``{"sequence", "labels", "scores"}``, labels sorted by score. By default the entailment logits are
soft-maxed across the labels (scores sum to 1); with ``multi_label=True`` (or a single label) each label is
scored on its own, entailment against contradiction.

The model is any sequence-classification model whose config names an entailment label
(``label2id`` with a key starting with "entail", as MNLI models have).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import _MISSING, Pipeline


class ZeroShotClassificationPipeline(Pipeline):
    task = "zero-shot-classification"

    def _check_model(self) -> None:
        if "ForSequenceClassification" not in type(self.model).__name__:
            raise ValueError(
                f"The {self.task} pipeline needs an NLI model (a sequence-classification head), but the model is a "
                f"{type(self.model).__name__}. Load one with AutoModelForSequenceClassification.from_pretrained(...)."
            )
        if self.entailment_id == -1:
            labels = ", ".join(map(str, self.model.config.id2label.values()))
            raise ValueError(
                f"The {self.task} pipeline needs a model trained for natural language inference whose config has "
                f"an 'entailment' label; this one's labels are: {labels}. Use an NLI checkpoint (e.g. "
                "facebook/bart-large-mnli) or set config.id2label/label2id if the labels are only misnamed."
            )

    @property
    def entailment_id(self) -> int:
        for label, index in self.model.config.label2id.items():
            if label.lower().startswith("entail"):
                return int(index)
        return -1

    def _sanitize_parameters(
        self,
        candidate_labels: Any = None,
        hypothesis_template: str | None = None,
        multi_label: bool | None = None,
        multi_class: bool | None = None,
        **kwargs: Any,
    ):
        if kwargs:
            raise TypeError(f"The {self.task} pipeline got unexpected argument(s): {', '.join(sorted(kwargs))}.")
        pre: dict[str, Any] = {}
        if candidate_labels is not None:
            if isinstance(candidate_labels, str):
                candidate_labels = [label.strip() for label in candidate_labels.split(",") if label.strip()]
            if not isinstance(candidate_labels, (list, tuple)) or not all(isinstance(x, str) for x in candidate_labels):
                raise TypeError(
                    f"candidate_labels must be a list of strings (or one comma-separated string), "
                    f"got {candidate_labels!r}."
                )
            pre["candidate_labels"] = list(candidate_labels)
        if hypothesis_template is not None:
            pre["hypothesis_template"] = hypothesis_template
        if multi_class is not None and multi_label is None:
            multi_label = multi_class
        post = {} if multi_label is None else {"multi_label": bool(multi_label)}
        return pre, {}, post

    def __call__(self, sequences: Any = _MISSING, *args: Any, **kwargs: Any):
        if len(args) == 1 and "candidate_labels" not in kwargs:
            kwargs["candidate_labels"] = args[0]
        elif args:
            raise ValueError(f"Unable to understand extra arguments {args!r}; pass candidate_labels=[...].")
        return super().__call__(sequences, **kwargs)

    def preprocess(
        self, sequence: str, candidate_labels: list[str] | None = None, hypothesis_template: str = "This example is {}."
    ) -> list[dict]:
        if not candidate_labels:
            raise ValueError(
                "zero-shot-classification needs candidate_labels: at least one label, e.g. "
                "pipe(text, candidate_labels=['sports', 'politics'])."
            )
        if hypothesis_template.format(candidate_labels[0]) == hypothesis_template:
            raise ValueError(
                f"The hypothesis_template {hypothesis_template!r} has no {{}} where the label goes, "
                "e.g. 'This example is {}.'."
            )
        names = self._model_input_names()
        chunks = []
        for label in candidate_labels:
            pair = [[sequence, hypothesis_template.format(label)]]
            try:
                enc = self.tokenizer([tuple(pair[0])], truncation="only_first")
            except Exception as e:
                if "too short" not in str(e):
                    raise
                enc = self.tokenizer([tuple(pair[0])], truncation=False)
            chunk = {k: enc[k][0] for k in names if k in enc}
            chunk.update(candidate_label=label, sequence=sequence)
            chunks.append(chunk)
        return chunks

    def postprocess(self, chunks: list[dict], multi_label: bool = False) -> dict:
        candidate_labels = [c["candidate_label"] for c in chunks]
        logits = np.stack([c["logits"].numpy() for c in chunks])[None]  # (1 sequence, labels, classes)
        entailment_id = self.entailment_id
        if multi_label or len(candidate_labels) == 1:
            contradiction_id = -1 if entailment_id == 0 else 0
            pair = logits[..., [contradiction_id, entailment_id]]
            scores = (np.exp(pair) / np.exp(pair).sum(-1, keepdims=True))[..., 1]
        else:
            entail = logits[..., entailment_id]
            scores = np.exp(entail) / np.exp(entail).sum(-1, keepdims=True)
        top = list(reversed(scores[0].argsort()))
        return {
            "sequence": chunks[0]["sequence"],
            "labels": [candidate_labels[i] for i in top],
            "scores": scores[0, top].tolist(),
        }
