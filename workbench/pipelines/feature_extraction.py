"""feature-extraction: the model's last hidden states, one vector per token.

``pipe("a text")`` -> a nested list of shape ``[1][tokens][hidden]`` (the reference's shape: one text is a
batch of one); ``return_tensors=True`` gives a ``(1, tokens, hidden)`` tensor instead. Rows never carry
padding: a text gives the same vectors whatever it was batched with. For one vector per text, mean-pool
them (``workbench.sentence_embeddings`` does that, length-sorted and batched).
"""

from __future__ import annotations

from typing import Any

from .base import Pipeline


class FeatureExtractionPipeline(Pipeline):
    task = "feature-extraction"
    token_outputs = ("last_hidden_state",)

    def _check_model(self) -> None:
        name = type(self.model).__name__
        if "For" in name:
            raise ValueError(
                f"The {self.task} pipeline returns a base model's hidden states, but the model is a {name} "
                "(a task head, whose first output is not hidden states). Load it with AutoModel.from_pretrained(...)."
            )

    def _sanitize_parameters(
        self,
        truncation: bool | None = None,
        tokenize_kwargs: dict | None = None,
        return_tensors: bool | None = None,
        **kwargs: Any,
    ):
        tokenize_kwargs = dict(tokenize_kwargs or {})
        if truncation is not None:
            if "truncation" in tokenize_kwargs:
                raise ValueError("truncation was given twice: as an argument and in tokenize_kwargs.")
            tokenize_kwargs["truncation"] = truncation
        for key in ("max_length", "add_special_tokens"):
            if key in kwargs:
                tokenize_kwargs[key] = kwargs.pop(key)
        if kwargs:
            raise TypeError(f"The {self.task} pipeline got unexpected argument(s): {', '.join(sorted(kwargs))}.")
        tokenize_kwargs.pop("padding", None)
        post = {} if return_tensors is None else {"return_tensors": return_tensors}
        return tokenize_kwargs, {}, post

    def preprocess_many(self, items: list[str], **tokenize_kwargs: Any) -> list[list[dict]]:
        enc = self.tokenizer(items, **tokenize_kwargs)
        names = [k for k in self._model_input_names() if k in enc]
        return [[{k: enc[k][row] for k in names}] for row in range(len(items))]

    def forward_outputs(self, output: Any, batch) -> dict:
        return {"last_hidden_state": output[0]}

    def postprocess(self, chunks: list[dict], return_tensors: bool = False) -> Any:
        hidden = chunks[0]["last_hidden_state"].unsqueeze(0)  # (1, tokens, hidden)
        return hidden if return_tensors else hidden.tolist()
