"""``BatchEncoding``: what ``tokenizer(...)`` returns, a dict of token ids (and masks) that is also a batch.

It keeps the backend's ``Encoding`` of each row, which answer alignment questions (which word, which sequence of a
pair, which characters each token came from), and turns its lists into tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tokenizers import Encoding


class BatchEncoding(dict):
    """The output of ``tokenizer(...)``: a dict ``{"input_ids": ..., "attention_mask": ..., ...}``.

    Keys are also attributes (``batch.input_ids``). The backend's ``Encoding`` objects stay attached
    (``.encodings``), one per row, which answer alignment questions: which word a token came from
    (``word_ids``), which sequence of a pair (``sequence_ids``), which token covers a character
    (``char_to_token``). ``.to(device)`` moves the tensors, so ``model(**batch.to("cuda"))`` works.
    """

    def __init__(
        self, data: dict | None = None, encodings: list[Encoding] | None = None, tensor_type: str | None = None
    ):
        super().__init__(data or {})
        self._encodings = encodings
        self.convert_to_tensors(tensor_type)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no key or attribute {name!r} (keys: {list(self)})") from None

    @property
    def data(self) -> dict:
        return dict(self)

    @property
    def encodings(self) -> list[Encoding] | None:
        """The backend's ``tokenizers.Encoding`` of each row (tokens, offsets, word ids, ...)."""
        return self._encodings

    def _encoding(self, batch_index: int) -> Encoding:
        if not self._encodings:
            raise ValueError("This BatchEncoding carries no encodings (it was not produced by a tokenizer call).")
        return self._encodings[batch_index]

    def tokens(self, batch_index: int = 0) -> list[str]:
        """The token strings of row ``batch_index``, special tokens and padding included."""
        return self._encoding(batch_index).tokens

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token, the index of the word it belongs to (``None`` for special tokens and padding)."""
        return self._encoding(batch_index).word_ids

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token, 0 or 1: the sequence of the pair it belongs to (``None`` for special tokens)."""
        return self._encoding(batch_index).sequence_ids

    def char_to_token(
        self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0
    ) -> int | None:
        """The token that covers a character: ``char_to_token(char)`` or ``char_to_token(row, char)``."""
        if char_index is None:
            batch_index, char_index = 0, batch_or_char_index
        else:
            batch_index = batch_or_char_index
        return self._encoding(batch_index).char_to_token(char_index, sequence_index)

    def token_to_chars(self, batch_or_token_index: int, token_index: int | None = None) -> tuple[int, int] | None:
        """The ``(start, end)`` characters of a token: ``token_to_chars(token)`` or ``token_to_chars(row, token)``."""
        if token_index is None:
            batch_index, token_index = 0, batch_or_token_index
        else:
            batch_index = batch_or_token_index
        return self._encoding(batch_index).token_to_chars(token_index)

    def convert_to_tensors(self, tensor_type: str | None) -> BatchEncoding:
        """Turn the lists into ``torch`` (``"pt"``) or ``numpy`` (``"np"``) arrays, in place."""
        if tensor_type is None:
            return self
        if tensor_type not in ("pt", "np"):
            raise ValueError(
                f"return_tensors={tensor_type!r} is not supported: use 'pt' (PyTorch), 'np' (NumPy) or None."
            )
        for key, value in self.items():
            lengths = {len(row) for row in value} if value and isinstance(value[0], (list, tuple)) else set()
            if len(lengths) > 1:
                raise ValueError(
                    f"Cannot make a tensor of {key!r}: its sequences have different lengths {sorted(lengths)}. "
                    "Pass padding=True (and truncation=True for texts longer than the model accepts) to give "
                    "them one length."
                )
        if tensor_type == "pt":
            import torch

            for key, value in self.items():
                if not torch.is_tensor(value):
                    self[key] = torch.tensor(value, dtype=torch.int64 if _is_empty(value) else None)
        else:
            for key, value in self.items():
                if not isinstance(value, np.ndarray):
                    self[key] = np.asarray(value, dtype=np.int64 if _is_empty(value) else None)
        return self

    def to(self, device) -> BatchEncoding:
        """Move every tensor to ``device`` (a string such as ``"cuda"`` or a ``torch.device``); returns self."""
        for key, value in self.items():
            if hasattr(value, "to"):
                self[key] = value.to(device)
        return self


def _is_empty(value) -> bool:
    """True for ``[]`` and ``[[], []]``: data whose dtype cannot be inferred (it is int64: token ids)."""
    return len(value) == 0 or (isinstance(value[0], (list, tuple)) and all(len(row) == 0 for row in value))
