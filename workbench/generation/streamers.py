"""Streamers: receive the tokens as ``generate`` produces them, and print them or hand them to another thread."""

from __future__ import annotations

import queue
from typing import Any

import torch


class BaseStreamer:
    """Receives tokens as they are generated: ``put(ids)`` each step (first the prompt), ``end()`` once."""

    def put(self, value: torch.Tensor) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError


class TextStreamer(BaseStreamer):
    """Print text as it is generated, a word at a time.

        streamer = TextStreamer(tokenizer, skip_prompt=True)
        model.generate(**inputs, streamer=streamer, max_new_tokens=20)

    Tokens are decoded together (a word may span several tokens) and text is released up to the last
    space, so what is printed is exactly ``tokenizer.decode`` of the tokens, in pieces.
    """

    def __init__(self, tokenizer, skip_prompt: bool = False, **decode_kwargs: Any):
        self.tokenizer, self.skip_prompt, self.decode_kwargs = tokenizer, skip_prompt, decode_kwargs
        self.token_cache: list[int] = []
        self.print_len = 0
        self.next_tokens_are_prompt = True

    def put(self, value: torch.Tensor) -> None:
        if value.dim() > 1 and value.shape[0] > 1:
            raise ValueError(f"{type(self).__name__} streams one sequence; generate with a batch of one prompt.")
        if value.dim() > 1:
            value = value[0]
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        self.next_tokens_are_prompt = False
        self.token_cache.extend(value.tolist())
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
        if text.endswith("\n"):
            printable = text[self.print_len :]
            self.token_cache, self.print_len = [], 0
        elif text and _is_cjk(ord(text[-1])):
            printable = text[self.print_len :]
            self.print_len += len(printable)
        else:
            printable = text[self.print_len : text.rfind(" ") + 1]
            self.print_len += len(printable)
        self.on_finalized_text(printable)

    def end(self) -> None:
        printable = ""
        if self.token_cache:
            printable = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)[self.print_len :]
        self.token_cache, self.print_len = [], 0
        self.next_tokens_are_prompt = True
        self.on_finalized_text(printable, stream_end=True)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        print(text, flush=True, end="" if not stream_end else None)


class TextIteratorStreamer(TextStreamer):
    """Text pieces through a thread-safe queue, for a consumer in another thread (a Gradio app, a UI).

    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True)
    Thread(target=model.generate, kwargs=dict(**inputs, streamer=streamer, max_new_tokens=50)).start()
    for piece in streamer:
        print(piece, end="")
    """

    def __init__(self, tokenizer, skip_prompt: bool = False, timeout: float | None = None, **decode_kwargs: Any):
        super().__init__(tokenizer, skip_prompt, **decode_kwargs)
        self.text_queue: queue.Queue = queue.Queue()
        self.stop_signal = None
        self.timeout = timeout

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self.text_queue.put(text, timeout=self.timeout)
        if stream_end:
            self.text_queue.put(self.stop_signal, timeout=self.timeout)

    def __iter__(self):
        return self

    def __next__(self) -> str:
        value = self.text_queue.get(timeout=self.timeout)
        if value is self.stop_signal:
            raise StopIteration()
        return value


def _is_cjk(cp: int) -> bool:
    """A CJK ideograph's code point: those scripts put no spaces between words, so each one is released at once."""
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )
