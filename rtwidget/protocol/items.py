"""Conversation item builders with the right content types for each role and dialect.

Roles and the content parts they take (GA): system ``input_text``; user ``input_text`` / ``input_audio`` /
``input_image``; assistant ``output_text`` (``text`` in beta). Clients cannot create assistant audio.
A function output is always a string: anything else is JSON-encoded here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any

from .dialects import Dialect, check_dialect, item_to_beta

Json = dict[str, Any]


def _message(role: str, parts: list[Json], item_id: str | None, dialect: Dialect | str) -> Json:
    item: Json = {"type": "message", "role": role, "content": parts}
    if item_id is not None:
        item["id"] = item_id
    return item_to_beta(item) if check_dialect(dialect) == "beta" else item


def user_text(text: str, *, item_id: str | None = None, dialect: Dialect | str = "ga") -> Json:
    """A user message with one ``input_text`` part."""
    return _message("user", [{"type": "input_text", "text": str(text)}], item_id, dialect)


def system_text(text: str, *, item_id: str | None = None, dialect: Dialect | str = "ga") -> Json:
    """A system message with one ``input_text`` part."""
    return _message("system", [{"type": "input_text", "text": str(text)}], item_id, dialect)


def assistant_text(text: str, *, item_id: str | None = None, dialect: Dialect | str = "ga") -> Json:
    """An assistant message: ``output_text`` in GA, ``text`` in beta."""
    return _message("assistant", [{"type": "output_text", "text": str(text)}], item_id, dialect)


def user_audio(
    audio: bytes | str,
    *,
    transcript: str | None = None,
    item_id: str | None = None,
    dialect: Dialect | str = "ga",
) -> Json:
    """A user message with one ``input_audio`` part; ``audio`` is PCM16 bytes or base64 text."""
    encoded = audio if isinstance(audio, str) else base64.b64encode(audio).decode("ascii")
    part: Json = {"type": "input_audio", "audio": encoded}
    if transcript is not None:
        part["transcript"] = transcript
    return _message("user", [part], item_id, dialect)


def output_string(output: Any) -> str:
    """A function output as the string the API requires: strings as they are, anything else as JSON."""
    if isinstance(output, str):
        return output
    return json.dumps(output, ensure_ascii=False, default=str)


def function_call(name: str, arguments: Any, call_id: str, *, item_id: str | None = None) -> Json:
    """A ``function_call`` item (for seeding history); ``arguments`` become a JSON string."""
    item: Json = {"type": "function_call", "name": name, "call_id": call_id}
    item["arguments"] = output_string(arguments)
    if item_id is not None:
        item["id"] = item_id
    return item


def function_call_output(call_id: str, output: Any, *, item_id: str | None = None) -> Json:
    """A ``function_call_output`` item; ``output`` is JSON-encoded unless it is already a string."""
    item: Json = {"type": "function_call_output", "call_id": call_id, "output": output_string(output)}
    if item_id is not None:
        item["id"] = item_id
    return item


def item_reference(item_id: str) -> Json:
    """A reference to an existing item, for ``response.create.response.input`` only."""
    return {"type": "item_reference", "id": item_id}


_TEXT_BUILDERS = {"user": user_text, "system": system_text, "assistant": assistant_text}


def history_items(messages: Iterable[Mapping[str, Any]], *, dialect: Dialect | str = "ga") -> list[Json]:
    """Items for ``conversation.item.create`` from chat-style messages or ready-made items.

    Accepts ``{"role": "user"|"system"|"assistant"|"developer", "content": "text"}``, content given as a list
    of ``{"type": "text", "text": ...}`` parts (chat-completions style), assistant messages with
    ``tool_calls``, ``{"role": "tool", "tool_call_id": ..., "content": ...}`` results, and items that already
    have a ``type`` (passed through). Each text gets the content type its role requires.
    """
    items: list[Json] = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TypeError(f"history[{index}] must be a dict like {{'role': 'user', 'content': '...'}}")
        if "type" in message:  # already an item: validation happens when it is sent
            items.append(dict(message))
            continue
        role = message.get("role")
        if role == "developer":
            role = "system"
        if role == "tool":
            call_id = str(message.get("tool_call_id", ""))
            items.append(function_call_output(call_id, message.get("content", "")))
            continue
        if role not in _TEXT_BUILDERS:
            raise ValueError(
                f"history[{index}].role is {role!r}: use 'user', 'assistant', 'system' (or 'developer', 'tool')"
            )
        text = _content_text(message.get("content"), index)
        if text:
            items.append(_TEXT_BUILDERS[role](text, dialect=dialect))
        for call in message.get("tool_calls") or ():
            fn = call.get("function", call)
            items.append(function_call(fn["name"], fn.get("arguments", "{}"), str(call.get("id", ""))))
    return items


def _content_text(content: Any, index: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                raise ValueError(f"history[{index}].content: only text parts can be loaded, got {part!r}")
        return "".join(texts)
    raise ValueError(f"history[{index}].content must be a string or a list of text parts, not {type(content).__name__}")
