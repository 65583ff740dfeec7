"""text-generation: continue a prompt, or answer a chat, with a causal language model.

``pipe("Once upon a time", max_new_tokens=20)`` -> ``[{"generated_text": "Once upon a time ..."}]`` (one
record per returned sequence; ``num_return_sequences=3`` gives three). ``return_full_text=False`` keeps only
the new text; ``return_tensors=True`` gives ``{"generated_token_ids": [...]}``. Every other keyword goes to
``model.generate`` (``max_new_tokens``, ``do_sample``, ``temperature``, ``top_p``, ``num_beams``, ``streamer``).

A chat is a list of messages ``[{"role": "user", "content": "Hi"}]``, formatted with the tokenizer's chat
template; with full text, the answer is the conversation with the assistant's reply appended.

Streaming: ``for piece in pipe.stream("Once upon a time", max_new_tokens=50): print(piece, end="")``
(generation runs in a thread and a ``TextIteratorStreamer`` hands over the text as it is decoded), or pass
``streamer=TextStreamer(tokenizer)`` to print as it goes.

Batching: prompts of a list are sorted by length and generated ``batch_size`` at a time with left padding (padded
with the end-of-text token when the tokenizer has no pad token, as GPT-2's has none), wherever that gives the
answers of one prompt at a time, which is how the reference runs them: the batches of greedy and beam search hold
prompts of one length unless ``max_new_tokens`` sets the length (``max_length`` counts the padded prompt), and each
prompt's sequences are cut where they would have stopped alone. Sampling draws from torch's random generator row
after row, so prompts are then generated one at a time, in input order (the reference's draws, seed for seed),
unless ``batch_size`` is given; so are they for a ``streamer``, which follows one sequence.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

import torch

from .base import Pipeline

RETURN_TYPES = ("tensors", "new_text", "full_text")


class Chat:
    """A conversation given to the pipeline: a list of ``{"role", "content"}`` messages."""

    def __init__(self, messages: list[dict]):
        for message in messages:
            if not isinstance(message, dict) or "role" not in message or "content" not in message:
                raise TypeError(f"A chat message is a dict {{'role': ..., 'content': ...}}; got {message!r:.80}.")
        self.messages = list(messages)


class GenerationPipeline(Pipeline):
    """Shared by text-generation and the seq2seq pipelines: batches go to ``model.generate``."""

    def _check_model(self) -> None:
        if not callable(getattr(self.model, "generate", None)):
            raise ValueError(
                f"The {self.task} pipeline needs a model that can generate (model.generate), but the model is a "
                f"{type(self.model).__name__}."
            )

    def _apply_task_specific_params(self, key: str) -> dict:
        """The config's task_specific_params for this task (GPT-2: do_sample, max_length=50), as the reference."""
        params = dict((getattr(self.model.config, "task_specific_params", None) or {}).get(key, {}))
        config = getattr(self.model, "generation_config", None)
        if config is not None and params:
            for name, value in params.items():
                if name != "prefix":
                    setattr(config, name, value)
        return params

    def _generation_setting(self, fwd: dict, name: str) -> Any:
        """A generation option as generate() will see it: given to the call, or the generation config's."""
        if name in fwd:
            return fwd[name]
        config = fwd.get("generation_config") or getattr(self.model, "generation_config", None)
        return getattr(config, name, None)

    def _batches(self, lengths: list[int], batch_size: int | None, fwd: dict) -> list[list[int]]:
        if self._generation_setting(fwd, "do_sample") or "streamer" in fwd:
            # one at a time in input order: the reference's random draws, and a streamer's text in order
            size = batch_size or 1
            return [list(range(start, min(start + size, len(lengths)))) for start in range(0, len(lengths), size)]
        return super()._batches(lengths, batch_size, fwd)

    def _collate(self, rows: list[dict]):
        side = self.tokenizer.padding_side
        self.tokenizer.padding_side = "left"  # generation continues from the end of every row
        try:
            return super()._collate(rows)
        finally:
            self.tokenizer.padding_side = side

    def _forward_batch(self, rows: list[dict], fwd: dict) -> list[dict]:
        batch, lengths, _ = self._collate(rows)
        batch.pop("token_type_ids", None)  # not a generate() input
        fwd = dict(fwd)
        if "streamer" in fwd and len(rows) > 1:
            raise ValueError("A streamer follows one sequence: call the pipeline on one prompt (or batch_size=1).")
        # Padded positions are masked out, so any id can fill them; without a pad token (GPT-2) the end-of-text
        # token serves, as the reference's generate() does.
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        if pad_id is not None and "pad_token_id" not in fwd:
            fwd["pad_token_id"] = pad_id
        output = self.model.generate(**batch, **fwd)
        sequences = output if isinstance(output, torch.Tensor) else output["sequences"]
        per_input = sequences.shape[0] // len(rows)
        longest = max(lengths)
        eos = self._generation_setting(fwd, "eos_token_id")
        eos = {eos} if isinstance(eos, int) else set(eos or ())
        results = []
        for i, n in enumerate(lengths):
            rows_i = [self._strip(row, longest - n) for row in sequences[i * per_input : (i + 1) * per_input].cpu()]
            results.append({"generated": _as_if_alone(rows_i, self._first_new_token(n), eos)})
        return results

    def _strip(self, row: torch.Tensor, left_pad: int) -> list[int]:
        """A generated row without the batch's left padding (a decoder continues the prompt in place)."""
        return row[left_pad:].tolist()

    def _first_new_token(self, prompt_length: int) -> int:
        """Where the generated tokens start in a stripped row: after the prompt, which a decoder continues."""
        return prompt_length


def _as_if_alone(rows: list[list[int]], start: int, eos: set[int]) -> list[list[int]]:
    """One input's generated rows as generating it alone gives them. In a batch, an input whose sequences all ended
    (each with an end-of-sequence token at or after ``start``) waits, padded, for the others; alone it stops there."""
    ends = [next((k + 1 for k in range(start, len(row)) if row[k] in eos), len(row)) for row in rows]
    return [row[: max(ends)] for row in rows]


class TextGenerationPipeline(GenerationPipeline):
    task = "text-generation"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._apply_task_specific_params("text-generation")

    def _batches(self, lengths: list[int], batch_size: int | None, fwd: dict) -> list[list[int]]:
        batches = super()._batches(lengths, batch_size, fwd)
        if self._generation_setting(fwd, "max_new_tokens") is None or self._generation_setting(fwd, "min_length"):
            # max_length and min_length count the prompt, its left padding included: one prompt length per batch
            return [list(rows) for batch in batches for _, rows in itertools.groupby(batch, key=lambda k: lengths[k])]
        return batches

    def _check_model(self) -> None:
        super()._check_model()
        name = type(self.model).__name__
        if "ForConditionalGeneration" in name or "Seq2Seq" in name:
            raise ValueError(f"{name} is an encoder-decoder model; use the text2text-generation pipeline.")

    def _sanitize_parameters(
        self,
        return_full_text: bool | None = None,
        return_tensors: bool | None = None,
        return_text: bool | None = None,
        return_type: str | None = None,
        clean_up_tokenization_spaces: bool | None = None,
        prefix: str | None = None,
        stop_sequence: str | None = None,
        add_special_tokens: bool | None = None,
        truncation: bool | None = None,
        max_length: int | None = None,
        padding: Any = None,
        **generate_kwargs: Any,
    ):
        pre: dict[str, Any] = {}
        if add_special_tokens is not None:
            pre["add_special_tokens"] = add_special_tokens
        if truncation is not None:
            pre["truncation"] = truncation
        if prefix is not None:
            pre["prefix"] = prefix
        if max_length is not None:
            generate_kwargs["max_length"] = max_length
        if stop_sequence is not None:
            ids = self.tokenizer.encode(stop_sequence, add_special_tokens=False)
            if not ids:
                raise ValueError(f"stop_sequence={stop_sequence!r} has no tokens.")
            generate_kwargs["eos_token_id"] = ids[0]
        post: dict[str, Any] = {}
        if return_full_text is not None and return_type is None:
            if return_text is not None or return_tensors is not None:
                raise ValueError("return_full_text cannot be combined with return_text or return_tensors.")
            return_type = "full_text" if return_full_text else "new_text"
        if return_tensors is not None and return_type is None:
            return_type = "tensors" if return_tensors else "full_text"
        if return_text is not None and return_type is None:
            return_type = "full_text"
        if return_type is not None:
            return_type = str(getattr(return_type, "name", return_type)).lower()
            if return_type not in RETURN_TYPES:
                raise ValueError(f"return_type={return_type!r} is not one of {', '.join(RETURN_TYPES)}.")
            post["return_type"] = return_type
        if clean_up_tokenization_spaces is not None:
            post["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        return pre, generate_kwargs, post

    def __call__(self, text_inputs: Any = None, *args: Any, **kwargs: Any):
        if isinstance(text_inputs, (list, tuple)) and text_inputs and isinstance(text_inputs[0], dict):
            return super().__call__(Chat(text_inputs), *args, **kwargs)  # one conversation
        if isinstance(text_inputs, (list, tuple)) and text_inputs and isinstance(text_inputs[0], (list, tuple)):
            return super().__call__([Chat(chat) for chat in text_inputs], *args, **kwargs)
        return super().__call__(text_inputs, *args, **kwargs)

    def _is_single(self, inputs: Any) -> bool:
        return isinstance(inputs, (str, Chat))

    def _check_input(self, item: Any) -> Any:
        if isinstance(item, Chat):
            return item
        if isinstance(item, dict) and "role" in item:
            raise TypeError("A chat is a list of messages: pass [{'role': 'user', 'content': ...}], not one dict.")
        if not isinstance(item, str):
            raise TypeError(
                f"The text-generation pipeline takes a prompt string, a chat (a list of "
                f"{{'role', 'content'}} messages) or a list of either; got {type(item).__name__}."
            )
        return item

    def preprocess(
        self, prompt: Any, prefix: str = "", add_special_tokens: bool = False, truncation: bool | None = None
    ) -> list[dict]:
        if isinstance(prompt, Chat):
            text = self.tokenizer.apply_chat_template(prompt.messages, add_generation_prompt=True, tokenize=False)
            enc = self.tokenizer(text, add_special_tokens=False, truncation=truncation)
        else:
            enc = self.tokenizer(prefix + prompt, add_special_tokens=add_special_tokens, truncation=truncation)
        ids = list(enc["input_ids"])
        prompt_ids = ids
        if not ids:  # an empty prompt: start from the beginning-of-text token, as generate() would
            if self.tokenizer.bos_token_id is None:
                raise ValueError("An empty prompt needs a tokenizer with a bos_token to start from.")
            ids = [self.tokenizer.bos_token_id]
        chunk = {"input_ids": ids, "attention_mask": [1] * len(ids)}
        chunk.update(prompt=prompt, prompt_ids=prompt_ids)
        return [chunk]

    def postprocess(
        self, chunks: list[dict], return_type: str = "full_text", clean_up_tokenization_spaces: bool = True
    ) -> list[dict]:
        chunk = chunks[0]
        prompt = chunk["prompt"]
        records = []
        for sequence in chunk["generated"]:
            if return_type == "tensors":
                records.append({"generated_token_ids": sequence})
                continue
            text = self.tokenizer.decode(
                sequence, skip_special_tokens=True, clean_up_tokenization_spaces=clean_up_tokenization_spaces
            )
            prompt_length = len(
                self.tokenizer.decode(
                    chunk["prompt_ids"],
                    skip_special_tokens=True,
                    clean_up_tokenization_spaces=clean_up_tokenization_spaces,
                )
            )
            new_text = text[prompt_length:]
            if return_type == "full_text":
                if isinstance(prompt, Chat):
                    records.append({"generated_text": prompt.messages + [{"role": "assistant", "content": new_text}]})
                    continue
                new_text = prompt + new_text
            records.append({"generated_text": new_text})
        return records

    def stream(self, prompt: Any, **kwargs: Any) -> Iterator[str]:
        """Yield the new text of one prompt (or chat) piece by piece while it is generated."""
        from ..generation import TextIteratorStreamer

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        errors: list[BaseException] = []

        def run():
            try:
                self(prompt, streamer=streamer, batch_size=1, **kwargs)
            except BaseException as e:  # re-raised in the caller's thread
                errors.append(e)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        yield from streamer
        thread.join()
        if errors:
            raise errors[0]
