"""text2text-generation, summarization and translation: an encoder-decoder model rewrites the input.

``pipe("translate English to German: Hello")`` -> ``[{"generated_text": "Hallo"}]``; summarization answers
``[{"summary_text": ...}]`` and translation ``[{"translation_text": ...}]``. A list of inputs gives a list of
such records when one sequence per input is returned (``num_return_sequences=1``), else a list of lists.
``return_tensors=True`` gives token ids instead of text; other keywords go to ``model.generate``.

Translation: ``pipeline("translation_en_to_fr")`` (T5 style: the config's ``task_specific_params`` add the
prefix "translate English to French: "), or ``src_lang=`` / ``tgt_lang=`` for multilingual models whose
tokenizer has language-code tokens (mBART "fr_XX", NLLB "fra_Latn"): the target code is forced as the
first generated token.

The model is loaded with ``AutoModelForSeq2SeqLM`` (T5/BART families) and only needs ``generate()``.
"""

from __future__ import annotations

import logging
from typing import Any

from .base import _MISSING
from .text_generation import GenerationPipeline

logger = logging.getLogger(__name__)


class Text2TextGenerationPipeline(GenerationPipeline):
    task = "text2text-generation"
    return_name = "generated"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._task_params = self._apply_task_specific_params(self._task_params_key())

    def _task_params_key(self) -> str:
        return self.task

    def _sanitize_parameters(
        self,
        return_tensors: bool | None = None,
        return_text: bool | None = None,
        return_type: str | None = None,
        clean_up_tokenization_spaces: bool | None = None,
        truncation: Any = None,
        stop_sequence: str | None = None,
        **generate_kwargs: Any,
    ):
        pre = {} if truncation is None else {"truncation": truncation}
        post: dict[str, Any] = {}
        if return_tensors is not None and return_type is None:
            return_type = "tensors" if return_tensors else "text"
        if return_type is not None:
            post["return_type"] = str(getattr(return_type, "name", return_type)).lower()
        if clean_up_tokenization_spaces is not None:
            post["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        if stop_sequence is not None:
            ids = self.tokenizer.encode(stop_sequence, add_special_tokens=False)
            generate_kwargs["eos_token_id"] = ids[0]
        return pre, generate_kwargs, post

    def _prefix(self) -> str:
        prefix = getattr(self.model.config, "prefix", None)
        if prefix is None:
            prefix = getattr(self, "_task_params", {}).get("prefix")
        return prefix or ""

    def preprocess(self, text: str, truncation: Any = None, **_: Any) -> list[dict]:
        enc = self.tokenizer(self._prefix() + text, truncation=truncation or False)
        names = [k for k in self._model_input_names() if k in enc and k != "token_type_ids"]
        chunk = {k: list(enc[k]) for k in names}
        self._check_lengths(len(chunk["input_ids"]))
        return [chunk]

    def _check_lengths(self, input_length: int) -> None:
        pass

    def _strip(self, row, left_pad: int) -> list[int]:
        return row.tolist()  # an encoder-decoder's output holds only the decoder's tokens

    def _first_new_token(self, prompt_length: int) -> int:
        return 1  # after the decoder's start token

    def postprocess(
        self, chunks: list[dict], return_type: str = "text", clean_up_tokenization_spaces: bool = False
    ) -> list[dict]:
        records = []
        for ids in chunks[0]["generated"]:
            if return_type == "tensors":
                records.append({f"{self.return_name}_token_ids": ids})
            else:
                text = self.tokenizer.decode(
                    ids, skip_special_tokens=True, clean_up_tokenization_spaces=clean_up_tokenization_spaces
                )
                records.append({f"{self.return_name}_text": text})
        return records

    def __call__(self, inputs: Any = _MISSING, *args: Any, **kwargs: Any):
        result = super().__call__(inputs, *args, **kwargs)
        if isinstance(inputs, list) and all(isinstance(x, str) for x in inputs) and all(len(r) == 1 for r in result):
            return [r[0] for r in result]
        return result


class SummarizationPipeline(Text2TextGenerationPipeline):
    task = "summarization"
    return_name = "summary"

    def _check_lengths(self, input_length: int) -> None:
        max_length = getattr(getattr(self.model, "generation_config", None), "max_length", None)
        if max_length is not None and input_length < max_length:
            logger.warning(
                f"max_length is set to {max_length}, but the input is only {input_length} tokens long; "
                f"consider a smaller max_length (e.g. summarizer(..., max_length={input_length // 2}))."
            )


class TranslationPipeline(Text2TextGenerationPipeline):
    task = "translation"
    return_name = "translation"

    def __init__(self, *args: Any, src_lang: str | None = None, tgt_lang: str | None = None, **kwargs: Any):
        self.src_lang, self.tgt_lang = src_lang, tgt_lang
        super().__init__(*args, **kwargs)

    def _task_params_key(self) -> str:
        return f"translation_{self.src_lang}_to_{self.tgt_lang}" if self.src_lang and self.tgt_lang else self.task

    def _sanitize_parameters(self, src_lang: str | None = None, tgt_lang: str | None = None, **kwargs: Any):
        pre, fwd, post = super()._sanitize_parameters(**kwargs)
        src_lang = src_lang or getattr(self, "src_lang", None)
        tgt_lang = tgt_lang or getattr(self, "tgt_lang", None)
        if tgt_lang is not None and self.tokenizer is not None and "forced_bos_token_id" not in fwd:
            code_id = self._language_code_id(tgt_lang)
            if code_id is not None:
                fwd["forced_bos_token_id"] = code_id
        if src_lang is not None:
            pre["src_lang"] = src_lang
        return pre, fwd, post

    def _language_code_id(self, language: str) -> int | None:
        """The id of ``language``'s code token in a multilingual tokenizer (mBART "de_DE", NLLB "deu_Latn",
        M2M100 "__de__"), or None. Codes are added tokens; an ordinary vocabulary piece that happens to read
        "de" (T5's SentencePiece has one) is not a language code."""
        added = {token.content: token_id for token_id, token in self.tokenizer.added_tokens_decoder.items()}
        for candidate in (language, f"__{language}__"):
            if candidate in added:
                return added[candidate]
        return None

    def preprocess(self, text: str, truncation: Any = None, src_lang: str | None = None, **_: Any) -> list[dict]:
        tok = self.tokenizer
        if src_lang is not None and src_lang in tok.get_vocab() and hasattr(tok, "src_lang"):
            tok.src_lang = src_lang  # multilingual tokenizers put the source language code in the input
        return super().preprocess(text, truncation=truncation)
