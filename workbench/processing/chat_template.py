"""Chat templates: the Jinja programs that format a conversation as a chat model was trained to read it.

A tokenizer carries its template(s) in tokenizer_config.json's ``chat_template`` (one template, or a list of
named ones) or in a ``chat_template.jinja`` file. This module reads them, picks the one a call asks for, compiles
it in a sandbox and renders conversations with it: what ``PreTrainedTokenizerFast.apply_chat_template`` does
before it tokenizes the rendered text.
"""

from __future__ import annotations

import functools
import json
from typing import Any


def read_chat_template(value) -> str | dict[str, str] | None:
    """tokenizer_config.json's ``chat_template``: one template, or a list of ``{"name", "template"}``."""
    if isinstance(value, list):
        return {entry["name"]: entry["template"] for entry in value}
    return value


def select_chat_template(templates: str | dict[str, str] | None, chat_template: str | None) -> str:
    """The template to use: the argument (a template, or the name of one of the tokenizer's named
    templates), else the tokenizer's own ``templates`` (its ``"default"`` one when it has several)."""
    if isinstance(templates, dict):
        if chat_template in templates:
            return templates[chat_template]
        if chat_template is None:
            if "default" not in templates:
                raise ValueError(
                    f"This tokenizer has several chat templates ({', '.join(templates)}) and no "
                    "'default' one: pass chat_template=<name>."
                )
            return templates["default"]
    if chat_template is not None:
        return chat_template
    if templates is None:
        raise ValueError(
            "This tokenizer has no chat template (tokenizer_config.json sets no 'chat_template'), so it cannot "
            "format a conversation. Pass chat_template='{% for message in messages %}...' or set "
            "tokenizer.chat_template; base (non-chat) models usually have none."
        )
    return templates


def render_conversations(
    template: str, conversation: list[dict[str, Any]] | list[list[dict[str, Any]]], /, **variables
) -> tuple[list[str], bool]:
    """Render a conversation (a list of messages), or a batch of them, with ``template``; returns the rendered
    texts and whether ``conversation`` was a batch. ``variables`` are the template's other inputs."""
    if not isinstance(conversation, (list, tuple)) or len(conversation) == 0:
        raise ValueError(
            "apply_chat_template takes a non-empty list of messages ({'role': ..., 'content': ...}), or a "
            f"list of such lists; got {conversation!r:.60}."
        )
    is_batched = isinstance(conversation[0], (list, tuple))
    conversations = conversation if is_batched else [conversation]
    compiled = compile_chat_template(template)
    rendered = []
    for chat in conversations:
        for message in chat:
            if not isinstance(message, dict):
                raise TypeError(f"Chat messages are dicts like {{'role': 'user', 'content': '...'}}, got {message!r}.")
        rendered.append(compiled.render(messages=list(chat), **variables))
    return rendered, is_batched


@functools.lru_cache(maxsize=16)
def compile_chat_template(template: str):
    """Compile a chat template in a sandbox (templates come from the Hub: untrusted), with the reference's
    settings: ``trim_blocks`` and ``lstrip_blocks`` (block tags leave no blank lines), ``{% break %}`` /
    ``{% continue %}``, a ``tojson`` that keeps non-ASCII text, ``raise_exception(msg)`` and ``strftime_now(fmt)``."""
    from datetime import datetime

    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template)
