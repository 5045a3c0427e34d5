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

from .dialects import Dialect, check_dialect, item_to_beta, item_to_ga
from .errors import ClientEventError
from .validate import validate_client_event

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
    """A function output as the string the API requires: strings as they are, anything else as strict JSON
    (other objects as their ``str()``). Raises ValueError for NaN or an infinity: JSON has no such numbers."""
    if isinstance(output, str):
        return output
    return json.dumps(output, ensure_ascii=False, default=str, allow_nan=False)


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
_ROLES_FIX = "use 'user', 'assistant', 'system' (or 'developer', 'tool')"
_CALL_SHAPE = "{'id': 'call_1', 'type': 'function', 'function': {'name': ..., 'arguments': '{...}'}}"


def history_items(messages: Iterable[Mapping[str, Any]], *, dialect: Dialect | str = "ga") -> list[Json]:
    """Items for ``conversation.item.create`` from chat-style messages or ready-made items, all checked.

    Accepts ``{"role": "user"|"system"|"assistant"|"developer", "content": "text"}``, content given as a list
    of ``{"type": "text", "text": ...}`` parts (chat-completions style), assistant messages with
    ``tool_calls``, ``{"role": "tool", "tool_call_id": ..., "content": ...}`` results, and items that already
    have a ``type`` (passed through, beta assistant parts read as GA). Each text gets the content type its role
    requires; empty texts (and an assistant message with neither content nor tool calls) give no item.

    All or nothing: every item is built and validated (:func:`~.validate.validate_client_event`) before this
    returns, so a caller that sends them sends all or none. A bad message raises TypeError or ValueError (a
    :class:`~.errors.ClientEventError` for an item the API would refuse) naming ``history[i]`` and the field.
    """
    beta = check_dialect(dialect) == "beta"
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Iterable):
        raise TypeError(
            f"the history must be a list of messages, not {type(messages).__name__}: "
            "pass [{'role': 'user', 'content': '...'}, ...] (a single message goes in a list too)"
        )
    items: list[Json] = []
    for index, message in enumerate(messages):
        for item in _message_items(message, index):
            _validate(item, index)
            items.append(item_to_beta(item) if beta else item)
    return items


def _validate(item: Json, index: int) -> None:
    try:
        validate_client_event({"type": "conversation.item.create", "item": item})
    except ClientEventError as exc:
        path = f"history[{index}]" + exc.path.removeprefix("item")
        raise ClientEventError("load_history", path, exc.problem, exc.fix) from None


def _message_items(message: Any, index: int) -> list[Json]:
    """The GA items of one history message (not yet validated)."""
    if not isinstance(message, Mapping):
        raise TypeError(f"history[{index}] must be a dict like {{'role': 'user', 'content': '...'}}")
    if "type" in message:  # already an item (beta assistant parts are read as GA)
        return [item_to_ga(dict(message))]
    role = message.get("role")
    if role == "developer":
        role = "system"
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise ValueError(
                f"history[{index}].tool_call_id is {call_id!r}: a tool result needs the id of its call "
                "(the 'id' of one of the assistant's tool_calls)"
            )
        return [function_call_output(call_id, _json_text(message.get("content", ""), f"history[{index}].content"))]
    if role not in _TEXT_BUILDERS:
        raise ValueError(f"history[{index}].role is {role!r}: {_ROLES_FIX}")
    calls = message.get("tool_calls")
    if calls is not None and role != "assistant":
        raise ValueError(f"history[{index}].tool_calls: only assistant messages have tool calls")
    content = message.get("content")
    if content is None and role != "assistant":
        raise ValueError(f"history[{index}].content is missing: add the text of the {role} message")
    text = _content_text(content, index)
    items = [_TEXT_BUILDERS[role](text)] if text else []
    return items + _tool_calls(calls, index)


def _tool_calls(calls: Any, index: int) -> list[Json]:
    if calls is None:
        return []
    if isinstance(calls, (str, bytes, Mapping)) or not isinstance(calls, Iterable):
        raise TypeError(f"history[{index}].tool_calls must be a list of {_CALL_SHAPE}, not {type(calls).__name__}")
    items = []
    for number, call in enumerate(calls):
        where = f"history[{index}].tool_calls[{number}]"
        if not isinstance(call, Mapping):
            raise TypeError(f"{where} must be a dict like {_CALL_SHAPE}, not {type(call).__name__}")
        fn = call.get("function", call)
        if not isinstance(fn, Mapping):
            raise TypeError(f"{where}.function must be a dict with 'name' and 'arguments', not {type(fn).__name__}")
        name, call_id = fn.get("name"), call.get("id")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}.function.name is {name!r}: give the name of the function called")
        if not isinstance(call_id, str) or not call_id:
            raise ValueError(f"{where}.id is {call_id!r}: give the call id its tool message refers to")
        items.append(function_call(name, _json_text(fn.get("arguments", "{}"), f"{where}.function.arguments"), call_id))
    return items


def _json_text(value: Any, where: str) -> str:
    try:
        return output_string(value)
    except ValueError as exc:  # NaN or an infinity, or a value that contains itself
        raise ValueError(f"{where}: {exc}: use finite numbers (None for a missing one), or pass a string") from None


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
