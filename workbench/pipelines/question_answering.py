"""question-answering: the span of a context that answers a question.

``pipe(question="Where do I live?", context="My name is Wolfgang and I live in Berlin")`` ->
``{"score": 0.97, "start": 34, "end": 40, "answer": "Berlin"}``. Inputs: ``question=``/``context=`` (strings,
or lists of equal length, or one question for many contexts), a dict ``{"question", "context"}``, or a list
of such dicts.

Contexts longer than the model are split into windows of ``max_seq_len`` tokens (default: the smaller of
384 and the tokenizer's maximum) that overlap by ``doc_stride`` tokens (default: the smaller of half a
window and 128); the best spans of all windows compete. A span is at most ``max_answer_len`` tokens
(default 15) and is widened to whole words. ``top_k`` returns the best k answers (a list when k > 1).
``handle_impossible_answer=True`` adds the "no answer" candidate ``{"answer": "", "start": 0, "end": 0}``,
scored by the [CLS] token.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import _MISSING, Pipeline


class QuestionAnsweringPipeline(Pipeline):
    task = "question-answering"
    token_outputs = ("start_logits", "end_logits")

    def _check_model(self) -> None:
        if "ForQuestionAnswering" not in type(self.model).__name__:
            raise ValueError(
                f"The {self.task} pipeline needs a span (question-answering) head, but the model is a "
                f"{type(self.model).__name__}. Load it with AutoModelForQuestionAnswering.from_pretrained(...)."
            )

    def _sanitize_parameters(
        self,
        padding: Any = None,
        topk: int | None = None,
        top_k: int | None = None,
        doc_stride: int | None = None,
        max_answer_len: int | None = None,
        max_seq_len: int | None = None,
        max_question_len: int | None = None,
        handle_impossible_answer: bool | None = None,
        align_to_words: bool | None = None,
        **kwargs: Any,
    ):
        kwargs.pop("question", None), kwargs.pop("context", None)  # read by __call__
        if kwargs:
            raise TypeError(f"The {self.task} pipeline got unexpected argument(s): {', '.join(sorted(kwargs))}.")
        pre = {k: v for k, v in (("doc_stride", doc_stride), ("max_seq_len", max_seq_len)) if v is not None}
        post: dict[str, Any] = {}
        top_k = top_k if top_k is not None else topk
        if top_k is not None:
            if not isinstance(top_k, int) or top_k < 1:
                raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}.")
            post["top_k"] = top_k
        if max_answer_len is not None:
            if not isinstance(max_answer_len, int) or max_answer_len < 1:
                raise ValueError(f"max_answer_len must be an integer >= 1, got {max_answer_len!r}.")
            post["max_answer_len"] = max_answer_len
        if handle_impossible_answer is not None:
            post["handle_impossible_answer"] = handle_impossible_answer
        if align_to_words is not None:
            post["align_to_words"] = align_to_words
        return pre, {}, post

    def __call__(self, inputs: Any = _MISSING, *args: Any, question: Any = None, context: Any = None, **kwargs: Any):
        if inputs is _MISSING and args:
            inputs, args = args[0], args[1:]
        if question is not None or context is not None:
            if inputs is not _MISSING:
                raise TypeError("Pass either question=/context= or a {'question', 'context'} dict, not both.")
            inputs = _pairs(question, context)
        elif inputs is _MISSING:
            raise TypeError(
                "The question-answering pipeline needs question= and context= "
                "(or a {'question': ..., 'context': ...} dict)."
            )
        if isinstance(inputs, list) and len(inputs) == 1:
            inputs = inputs[0]
        return super().__call__(inputs, *args, **kwargs)

    def _is_single(self, inputs: Any) -> bool:
        return isinstance(inputs, dict)

    def _check_input(self, item: Any) -> Any:
        if not isinstance(item, dict) or "question" not in item or "context" not in item:
            raise TypeError(
                "The question-answering pipeline takes question= and context=, or dicts "
                f"{{'question': ..., 'context': ...}}; got {type(item).__name__} {str(item)[:60]!r}."
            )
        for key in ("question", "context"):
            value = item[key]
            if value is None:
                raise ValueError(f"`{key}` cannot be None.")
            if not isinstance(value, str):
                raise TypeError(f"`{key}` must be a string, got {type(value).__name__}.")
            if not value.strip():
                raise ValueError(f"`{key}` cannot be empty.")
        return item

    def preprocess(self, example: dict, doc_stride: int | None = None, max_seq_len: int | None = None) -> list[dict]:
        tok = self.tokenizer
        if max_seq_len is None:
            max_seq_len = min(tok.model_max_length, 384)
        if doc_stride is None:
            doc_stride = min(max_seq_len // 2, 128)
        if doc_stride > max_seq_len:
            raise ValueError(f"doc_stride ({doc_stride}) is larger than max_seq_len ({max_seq_len}).")
        question_first = tok.padding_side == "right"
        question, context = example["question"], example["context"]
        first, second = (question, context) if question_first else (context, question)
        try:
            enc = tok(
                [first],
                [second],
                truncation="only_second" if question_first else "only_first",
                max_length=max_seq_len,
                stride=doc_stride,
                return_token_type_ids=True,
                return_overflowing_tokens=True,
                return_offsets_mapping=True,
                return_special_tokens_mask=True,
            )
        except Exception as e:  # the backend refuses a question that leaves no room for the context
            raise ValueError(
                f"The question is too long for max_seq_len={max_seq_len} with doc_stride={doc_stride} "
                f"({e}). Shorten the question, or raise max_seq_len / lower doc_stride."
            ) from e
        names = [k for k in self._model_input_names() if k in enc]
        chunks = []
        for span in range(len(enc["input_ids"])):
            encoding = enc.encodings[span]
            input_ids = enc["input_ids"][span]
            # p_mask: 1 for tokens that cannot be in the answer (question, special tokens), 0 for context
            p_mask = [int(s != 1) if question_first else 0 for s in encoding.sequence_ids]
            if tok.cls_token_id is not None:  # keep [CLS] (the "no answer" token) selectable
                for i, token_id in enumerate(input_ids):
                    if token_id == tok.cls_token_id:
                        p_mask[i] = 0
            chunk = {k: enc[k][span] for k in names}
            chunk.update(p_mask=p_mask, encoding=encoding, context=context)
            chunks.append(chunk)
        return chunks

    def forward_outputs(self, output: Any, batch) -> dict:
        return {"start_logits": output["start_logits"], "end_logits": output["end_logits"]}

    def postprocess(
        self,
        chunks: list[dict],
        top_k: int = 1,
        handle_impossible_answer: bool = False,
        max_answer_len: int = 15,
        align_to_words: bool = True,
    ) -> Any:
        min_null_score = 1000000.0
        answers = []
        question_first = self.tokenizer.padding_side == "right"
        for chunk in chunks:
            attention_mask = np.array(chunk["attention_mask"])[None] if "attention_mask" in chunk else None
            starts, ends, scores, min_null_score = select_starts_ends(
                chunk["start_logits"].numpy()[None],
                chunk["end_logits"].numpy()[None],
                np.array(chunk["p_mask"])[None],
                attention_mask,
                min_null_score,
                top_k,
                handle_impossible_answer,
                max_answer_len,
            )
            encoding = chunk["encoding"]
            sequence_index = 1 if question_first else 0
            for s, e, score in zip(starts, ends, scores):
                start, end = _char_span(encoding, int(s), int(e), sequence_index, align_to_words)
                answers.append(
                    {"score": float(score), "start": start, "end": end, "answer": chunk["context"][start:end]}
                )
        if handle_impossible_answer:
            answers.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
        return answers[0] if len(answers) == 1 else answers


def _pairs(question: Any, context: Any) -> Any:
    if question is None or context is None:
        raise TypeError("Pass both question= and context=.")
    if isinstance(question, str) and isinstance(context, str):
        return {"question": question, "context": context}
    if isinstance(question, str):
        question = [question] * len(context)
    if isinstance(context, str):
        context = [context] * len(question)
    if len(question) != len(context):
        raise ValueError(
            f"Got {len(question)} questions and {len(context)} contexts; pass as many of each "
            "(or one question for many contexts)."
        )
    return [{"question": q, "context": c} for q, c in zip(question, context)]


def _char_span(encoding, s: int, e: int, sequence_index: int, align_to_words: bool) -> tuple[int, int]:
    """Token span -> character span of the context, widened to whole words when asked (and possible)."""
    if align_to_words:
        try:
            start_word, end_word = encoding.token_to_word(s), encoding.token_to_word(e)
            return (
                encoding.word_to_chars(start_word, sequence_index=sequence_index)[0],
                encoding.word_to_chars(end_word, sequence_index=sequence_index)[1],
            )
        except Exception:  # tokenizers without words: keep to the token offsets
            pass
    return encoding.offsets[s][0], encoding.offsets[e][1]


def select_starts_ends(
    start,
    end,
    p_mask,
    attention_mask,
    min_null_score=1000000.0,
    top_k=1,
    handle_impossible_answer=False,
    max_answer_len=15,
):
    """Start/end probabilities over the allowed tokens, then the best spans (the reference's algorithm)."""
    undesired_tokens = np.abs(np.array(p_mask) - 1)  # 1 where a token may be in the answer
    if attention_mask is not None:
        undesired_tokens = undesired_tokens & attention_mask
    undesired_tokens_mask = undesired_tokens == 0.0
    start = np.where(undesired_tokens_mask, -10000.0, start).astype(np.float32)
    end = np.where(undesired_tokens_mask, -10000.0, end).astype(np.float32)
    start = np.exp(start - start.max(axis=-1, keepdims=True))
    start = start / start.sum()
    end = np.exp(end - end.max(axis=-1, keepdims=True))
    end = end / end.sum()
    if handle_impossible_answer:
        min_null_score = min(min_null_score, (start[0, 0] * end[0, 0]).item())
    start[0, 0] = end[0, 0] = 0.0  # [CLS] is the "no answer" candidate, scored above, never a span
    starts, ends, scores = decode_spans(start, end, top_k, max_answer_len, undesired_tokens)
    return starts, ends, scores, min_null_score


def decode_spans(start, end, topk, max_answer_len, undesired_tokens):
    """The ``topk`` spans with the best start*end probability, end >= start, at most ``max_answer_len`` long."""
    if start.ndim == 1:
        start = start[None]
    if end.ndim == 1:
        end = end[None]
    outer = np.matmul(np.expand_dims(start, -1), np.expand_dims(end, 1))  # (1, tokens, tokens)
    candidates = np.tril(np.triu(outer), max_answer_len - 1)
    scores_flat = candidates.flatten()
    if topk == 1:
        idx_sort = [np.argmax(scores_flat)]
    elif len(scores_flat) < topk:
        idx_sort = np.argsort(-scores_flat)
    else:
        idx = np.argpartition(-scores_flat, topk)[0:topk]
        idx_sort = idx[np.argsort(-scores_flat[idx])]
    starts, ends = np.unravel_index(idx_sort, candidates.shape)[1:]
    desired = np.isin(starts, undesired_tokens.nonzero()) & np.isin(ends, undesired_tokens.nonzero())
    starts, ends = starts[desired], ends[desired]
    return starts, ends, candidates[0, starts, ends]
