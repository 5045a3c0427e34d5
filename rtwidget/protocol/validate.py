"""Validation of GA client events before they are sent.

:func:`validate_client_event` raises :class:`~.errors.ClientEventError` (a ValueError) whose message names
the field path and the fix. It catches what people keep getting wrong: unknown types, content types that do
not fit the role, non-string function outputs, beta-only session fields on GA, a ``session.update`` without
``session.type``, and malformed ``response.create`` parameters. It also walks every value: anything JSON cannot
carry (``object()``, sets, bytes, numpy scalars, non-string keys, NaN and infinities, nesting past
:data:`~.events.MAX_DEPTH`) is refused with its path before it can reach the encoder.
"""

from __future__ import annotations

import difflib
import math
import numbers
from typing import Any

from .errors import ClientEventError
from .event_types import GA_CLIENT_EVENTS, ROLE_PARTS
from .events import MAX_DEPTH
from .session_config import BETA_SESSION_FIELDS, GA_SESSION_FIELDS, READ_ONLY_SESSION_FIELDS

Json = dict[str, Any]

ITEM_TYPES = frozenset(
    {
        "message",
        "function_call",
        "function_call_output",
        "mcp_approval_response",
        "mcp_call",
        "mcp_list_tools",
        "mcp_approval_request",
    }
)
_PART_FIX = {
    ("user", "text"): "use {'type': 'input_text', 'text': ...} in user messages",
    ("system", "text"): "use {'type': 'input_text', 'text': ...} in system messages",
    ("user", "audio"): "use {'type': 'input_audio', 'audio': <base64 PCM16>} in user messages",
    ("user", "output_text"): "use 'input_text' in user messages ('output_text' is for assistant messages)",
    ("system", "output_text"): "use 'input_text' in system messages",
    ("assistant", "input_text"): "use 'output_text' in assistant messages (GA; 'text' in beta)",
    ("assistant", "text"): "use 'output_text' in assistant messages (the GA name of beta 'text')",
}
_BETA_RESPONSE_FIELDS = {
    "modalities": "output_modalities",
    "voice": "audio.output.voice",
    "output_audio_format": "audio.output.format",
    "max_response_output_tokens": "max_output_tokens",
    "temperature": "(nothing: GA has no temperature)",
}


def _fail(etype: str, path: str, problem: str, fix: str) -> ClientEventError:
    return ClientEventError(etype, path, problem, fix)


def _require_str(event: Json, key: str, etype: str, fix: str) -> None:
    if not isinstance(event.get(key), str) or not event[key]:
        raise _fail(etype, key, f"missing or not a non-empty string (got {event.get(key)!r})", fix)


def validate_client_event(event: Any) -> None:
    """Raise ClientEventError if ``event`` (GA form) must not be sent; return None if it is fine."""
    if not isinstance(event, dict):
        problem = f"must be a dict, not {type(event).__name__}"
        raise _fail("client event", "", problem, "pass {'type': ..., ...}")
    etype = event.get("type")
    if not isinstance(etype, str) or etype not in GA_CLIENT_EVENTS:
        close = difflib.get_close_matches(str(etype), sorted(GA_CLIENT_EVENTS), n=1)
        types = ", ".join(sorted(GA_CLIENT_EVENTS))
        fix = f"did you mean {close[0]!r}?" if close else f"client types: {types}"
        if etype == "transcription_session.update":
            fix = "in GA send session.update with session.type = 'transcription'"
        raise _fail(str(etype), "type", "unknown client event type", fix)
    if "event_id" in event and not isinstance(event["event_id"], str):
        raise _fail(etype, "event_id", "must be a string", "leave it out and rtwidget assigns one")
    check = _CHECKS.get(etype)
    for key, value in event.items():  # an event of strings only (every audio append) needs no walk
        if type(value) is not str or type(key) is not str:
            found = _not_json(event, 0)
            if found is not None:
                _refuse_not_json(found, etype, check, event)
            break
    if check is not None:
        check(event)


def _refuse_not_json(found: _Found, etype: str, check: Any, event: Json) -> None:
    """Raise for a value JSON cannot carry, naming its path; the event's own check speaks first when it knows
    the field better (``audio`` as bytes: "must be base64 text"). Checks assume JSON data, so one that
    stumbles on the bad value is ignored."""
    if check is not None:
        try:
            check(event)
        except ClientEventError:
            raise
        except Exception:  # the walk's error below is the one to report
            pass
    parts, problem, fix = found
    path = ""
    for part in reversed(parts):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    raise _fail(etype, path, problem, fix)


# What _not_json finds: the path innermost first (keys and indexes), the problem, the fix.
_Found = tuple[list[str | int], str, str]


def _not_json(value: Any, depth: int) -> _Found | None:
    """None if ``value`` encodes as strict JSON (RFC 8259), else what is wrong where. Cheap for the audio hot path:
    exact types are tested first, and a path is built only on the way out of a failure."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return None
    if kind is float:
        return None if math.isfinite(value) else ([], f"is {value!r}, which JSON cannot carry", _NUMBER_FIX)
    if depth >= MAX_DEPTH:
        return [], f"nests deeper than {MAX_DEPTH} levels (or contains itself)", "send flatter data"
    if isinstance(value, dict):
        return _not_json_dict(value, depth)
    if isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            found = _not_json(child, depth + 1)
            if found is not None:
                found[0].append(index)
                return found
        return None
    return _not_json_scalar(value)


def _not_json_dict(value: dict[Any, Any], depth: int) -> _Found | None:
    for key, child in value.items():
        if not isinstance(key, str):
            return [], f"has the {type(key).__name__} key {key!r}; JSON keys are strings", "use string keys"
        if type(child) is str:  # most values, and the audio of every append: no call
            continue
        found = _not_json(child, depth + 1)
        if found is not None:
            found[0].append(key)
            return found
    return None


_NUMBER_FIX = "send a finite number, or None for null"


def _not_json_scalar(value: Any) -> _Found | None:
    """Subclasses of str, int and float encode as their base type; anything else is not JSON."""
    if isinstance(value, (str, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else ([], f"is {float(value)!r}, which JSON cannot carry", _NUMBER_FIX)
    name = type(value).__name__
    if isinstance(value, (set, frozenset)):
        fix = "use a list: sorted(value) or list(value)"
    elif isinstance(value, (bytes, bytearray, memoryview)):
        fix = "send text: decode it, or base64-encode audio (rtwidget.audio.b64encode)"
    elif callable(getattr(value, "tolist", None)):
        fix = "convert numpy values with .tolist() (or int() / float())"
    else:
        fix = "convert it to a string, number, bool, None, list or dict"
    return [], f"is a {name}, which is not JSON", fix


def _session_update(event: Json) -> None:
    etype = "session.update"
    session = event.get("session")
    if not isinstance(session, dict):
        raise _fail(etype, "session", "missing or not an object", "send {'type': 'session.update', 'session': {...}}")
    _refuse_beta_fields(session, BETA_SESSION_FIELDS, etype, "session", "remove it: GA has no temperature")
    if session.get("type") not in ("realtime", "transcription"):
        raise _fail(
            etype,
            "session.type",
            f"is required in GA and must be 'realtime' or 'transcription' (got {session.get('type')!r})",
            "add 'type': 'realtime' to the session object",
        )
    for key in session:
        if key not in GA_SESSION_FIELDS and key not in READ_ONLY_SESSION_FIELDS:
            close = difflib.get_close_matches(key, sorted(GA_SESSION_FIELDS), n=1)
            raise _fail(
                etype,
                f"session.{key}",
                "unknown GA session field",
                f"did you mean {close[0]!r}?" if close else "remove it",
            )
    _check_modalities(session, etype, "session", "use ['audio'] (speech plus transcript) or ['text'], not both")
    audio = session.get("audio")
    if audio is not None and not isinstance(audio, dict):
        raise _fail(etype, "session.audio", "must be an object", "use {'input': {...}, 'output': {...}}")
    _tools(session.get("tools"), etype, "session.tools")


def _refuse_beta_fields(obj: Json, table: dict[str, str], etype: str, prefix: str, removed_fix: str) -> None:
    """Refuse the beta-only fields of ``table`` (beta name -> GA place, or "(...)" when GA dropped it)."""
    for key in obj:
        target = table.get(key)
        if target is not None and key not in GA_SESSION_FIELDS:
            fix = removed_fix if target.startswith("(") else f"send it as {prefix}.{target}"
            raise _fail(etype, f"{prefix}.{key}", "is a beta field that the GA API rejects", fix)


def _check_modalities(obj: Json, etype: str, prefix: str, fix: str) -> None:
    if "output_modalities" in obj and obj["output_modalities"] not in (["audio"], ["text"]):
        raise _fail(etype, f"{prefix}.output_modalities", f"{obj['output_modalities']!r} is not allowed", fix)


def _tools(tools: Any, etype: str, path: str) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _fail(etype, path, "must be a list", "pass a list of {'type': 'function', 'name', 'parameters'}")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") not in ("function", "mcp"):
            raise _fail(
                etype,
                f"{path}[{i}].type",
                "must be 'function' or 'mcp'",
                "use {'type': 'function', 'name': ..., 'description': ..., 'parameters': {...}}",
            )
        if tool["type"] == "function" and not isinstance(tool.get("name"), str):
            raise _fail(etype, f"{path}[{i}].name", "function tools need a name", "add 'name'")


def validate_item(item: Any, etype: str = "conversation.item.create", path: str = "item") -> None:
    """Raise ClientEventError if ``item`` is not a valid GA item for the client to create."""
    if not isinstance(item, dict):
        raise _fail(etype, path, "missing or not an object", "use rtwidget.protocol.items builders")
    itype = item.get("type")
    if itype == "item_reference":
        raise _fail(
            etype,
            f"{path}.type",
            "item_reference is only allowed inside response.create input",
            "create a real item, or reference it from response.create.response.input",
        )
    if not isinstance(itype, str) or itype not in ITEM_TYPES:
        raise _fail(
            etype,
            f"{path}.type",
            f"unknown item type {itype!r}",
            "use 'message', 'function_call' or 'function_call_output'",
        )
    if itype == "message":
        _message(item, etype, path)
    elif itype == "function_call_output":
        if not isinstance(item.get("call_id"), str) or not item["call_id"]:
            raise _fail(etype, f"{path}.call_id", "is required", "copy call_id from the function_call item")
        if not isinstance(item.get("output"), str):
            raise _fail(
                etype,
                f"{path}.output",
                f"must be a string, not {type(item.get('output')).__name__}",
                "JSON-encode structured results: json.dumps(result)",
            )
    elif itype == "function_call":
        if not isinstance(item.get("name"), str):
            raise _fail(etype, f"{path}.name", "is required", "add the function name")
        if not isinstance(item.get("arguments"), str):
            raise _fail(etype, f"{path}.arguments", "must be a JSON string", "json.dumps(arguments)")


def _message(item: Json, etype: str, path: str) -> None:
    role = item.get("role")
    if not isinstance(role, str) or role not in ROLE_PARTS:
        raise _fail(etype, f"{path}.role", f"{role!r} is not a message role", "use 'user', 'assistant' or 'system'")
    content = item.get("content")
    if not isinstance(content, list):
        raise _fail(
            etype,
            f"{path}.content",
            "must be a list of content parts",
            "use [{'type': 'input_text', 'text': ...}]",
        )
    for i, part in enumerate(content):
        ptype = part.get("type") if isinstance(part, dict) else None
        if not isinstance(ptype, str) or ptype not in ROLE_PARTS[role]:
            allowed = f"{role} messages take {', '.join(sorted(ROLE_PARTS[role]))}"
            fix = _PART_FIX.get((role, str(ptype)), allowed)
            article = "an" if role == "assistant" else "a"  # roles: system, user, assistant
            problem = f"{ptype!r} is not allowed in {article} {role} message"
            raise _fail(etype, f"{path}.content[{i}].type", problem, fix)
        if role == "assistant" and ptype == "output_audio":
            raise _fail(
                etype,
                f"{path}.content[{i}].type",
                "clients cannot create assistant audio",
                "seed history with {'type': 'output_text', 'text': ...}",
            )
        if ptype in ("input_text", "output_text") and not isinstance(part.get("text"), str):
            raise _fail(etype, f"{path}.content[{i}].text", "must be a string", "add the text")
        if ptype == "input_audio" and not isinstance(part.get("audio"), str):
            raise _fail(
                etype,
                f"{path}.content[{i}].audio",
                "must be base64 text",
                "base64-encode PCM16 24 kHz mono (rtwidget.audio.b64encode)",
            )


def _item_create(event: Json) -> None:
    validate_item(event.get("item"))
    prev = event.get("previous_item_id")
    if prev is not None and not isinstance(prev, str):
        raise _fail("conversation.item.create", "previous_item_id", "must be a string", "use an item id or 'root'")


def _append(event: Json) -> None:
    if not isinstance(event.get("audio"), str):
        raise _fail(
            "input_audio_buffer.append",
            "audio",
            "must be base64 text",
            "base64-encode PCM16 24 kHz mono (rtwidget.audio.b64encode)",
        )


def _item_id(etype: str) -> Any:
    def check(event: Json) -> None:
        _require_str(event, "item_id", etype, "pass the id of an item in the conversation")

    return check


def _truncate(event: Json) -> None:
    etype = "conversation.item.truncate"
    _require_str(event, "item_id", etype, "pass the id of the assistant item that was playing")
    for key in ("content_index", "audio_end_ms"):
        value = event.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _fail(
                etype,
                key,
                f"must be a non-negative integer (got {value!r})",
                "content_index is 0; audio_end_ms is the audio actually played, in ms",
            )


def _response_create(event: Json) -> None:
    etype = "response.create"
    response = event.get("response")
    if response is None:
        return
    if not isinstance(response, dict):
        raise _fail(etype, "response", "must be an object", "pass {'response': {...}} or nothing")
    _refuse_beta_fields(response, _BETA_RESPONSE_FIELDS, etype, "response", "remove it")
    _check_modalities(response, etype, "response", "use ['audio'] or ['text']")
    conversation = response.get("conversation")
    if conversation is not None and not isinstance(conversation, str):
        raise _fail(etype, "response.conversation", "must be 'auto' or 'none'", "use 'none' for out-of-band")
    metadata = response.get("metadata")
    if metadata is not None:
        _metadata(metadata)
    inputs = response.get("input")
    if inputs is not None:
        if not isinstance(inputs, list):
            raise _fail(etype, "response.input", "must be a list", "pass a list of items or item references")
        for i, item in enumerate(inputs):
            if isinstance(item, dict) and item.get("type") == "item_reference":
                if not isinstance(item.get("id"), str):
                    raise _fail(etype, f"response.input[{i}].id", "is required", "reference an existing item id")
            else:
                validate_item(item, etype, f"response.input[{i}]")
    _tools(response.get("tools"), etype, "response.tools")


def _metadata(metadata: Any) -> None:
    etype = "response.create"
    if not isinstance(metadata, dict):
        raise _fail(etype, "response.metadata", "must be an object of strings", "use {'purpose': 'summary'}")
    if len(metadata) > 16:
        raise _fail(etype, "response.metadata", f"has {len(metadata)} pairs", "keep at most 16")
    for key, value in metadata.items():
        if not isinstance(value, str) or len(key) > 64 or len(value) > 512:
            raise _fail(
                etype,
                f"response.metadata.{key}",
                "keys must be <= 64 chars, values strings <= 512 chars",
                "shorten it or JSON-encode the value",
            )


def _cancel(event: Json) -> None:
    rid = event.get("response_id")
    if rid is not None and not isinstance(rid, str):
        raise _fail("response.cancel", "response_id", "must be a string", "leave it out to cancel the active one")


_CHECKS = {
    "session.update": _session_update,
    "conversation.item.create": _item_create,
    "input_audio_buffer.append": _append,
    "conversation.item.retrieve": _item_id("conversation.item.retrieve"),
    "conversation.item.delete": _item_id("conversation.item.delete"),
    "conversation.item.truncate": _truncate,
    "response.create": _response_create,
    "response.cancel": _cancel,
}


# ------------------------------------------------------------------ arguments of the session's public calls


def check_str(name: str, value: Any, fix: str, *, empty: bool = True) -> str:
    """``value`` if it is a str (non-empty unless ``empty``); else TypeError / ValueError naming ``name``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__} {_short(value)}: {fix}")
    if not empty and not value:
        raise ValueError(f"{name} must not be empty: {fix}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool; else TypeError naming ``name`` (a truthy string or None is a mistake)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {type(value).__name__} {_short(value)}")
    return value


def check_ms(name: str, value: Any) -> float:
    """``value`` as a float of milliseconds: a real number (not a bool), finite and >= 0; else TypeError /
    ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number of milliseconds, not {type(value).__name__} {_short(value)}: "
            "pass e.g. 1500 (float(text) for a string)"
        )
    ms = float(value)
    if not math.isfinite(ms) or ms < 0:
        raise ValueError(f"{name} must be a finite number of milliseconds >= 0, got {ms!r}")
    return ms


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
