"""Checks of the parameter values that ``session.update`` and ``response.create`` share: audio format, output
modalities, token limit, tools, tool choice, voice and metadata. Each returns the value to store or raises
:class:`~.api_errors.ApiError` worded as the real server words it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from rtwidget.protocol.pcm import GA_FORMAT, SAMPLE_RATE

from .api_errors import ApiError, check_keys, missing, type_error, value_error, want_dict, want_int, want_str
from .config import Json

__all__ = [
    "check_format",
    "check_max_tokens",
    "check_metadata",
    "check_modalities",
    "check_tool_choice",
    "check_tools",
    "check_voice",
    "voice_name",
]

_MAX_OUTPUT_TOKENS = 4096
_METADATA_PAIRS = 16
_METADATA_KEY_CHARS = 64
_METADATA_VALUE_CHARS = 512


def check_format(value: Any, path: str) -> Json:
    """An audio format: only PCM16 at the wire's one rate (G.711 is refused, with a message that says so)."""
    fmt = want_dict(value, path)
    ftype = fmt.get("type")
    if ftype is None:
        raise missing(f"{path}.type")
    if ftype in ("audio/pcmu", "audio/pcma"):
        raise ApiError(
            f"Invalid value: '{ftype}'. The rtwidget local server supports only 'audio/pcm' at {SAMPLE_RATE} Hz.",
            "invalid_value",
            f"{path}.type",
        )
    if ftype != GA_FORMAT["type"]:
        raise value_error(f"{path}.type", ftype, [str(GA_FORMAT["type"]), "audio/pcmu", "audio/pcma"])
    check_keys(fmt, ("type", "rate"), path)
    if fmt.get("rate", SAMPLE_RATE) != SAMPLE_RATE:
        raise value_error(f"{path}.rate", fmt.get("rate"), [str(SAMPLE_RATE)])
    return dict(GA_FORMAT)


def check_modalities(value: Any, path: str) -> list[str]:
    if not isinstance(value, list):
        raise type_error(path, "an array", value)
    if value not in (["audio"], ["text"]):
        raise ApiError(
            f'Invalid value for \'{path}\': {json.dumps(value)}. Supported values are: ["audio"] and ["text"].',
            "invalid_value",
            path,
        )
    return list(value)


def check_max_tokens(value: Any, path: str) -> int | str:
    if value == "inf":
        return "inf"
    if isinstance(value, str):
        raise value_error(path, value, ["inf"])
    return want_int(value, path, 1, _MAX_OUTPUT_TOKENS)


def check_tools(value: Any, path: str) -> list[Json]:
    if not isinstance(value, list):
        raise type_error(path, "an array", value)
    return [_check_tool(tool, f"{path}[{i}]") for i, tool in enumerate(value)]


def _check_tool(value: Any, path: str) -> Json:
    tool = want_dict(value, path)
    ttype = tool.get("type", "function")
    if ttype == "function":
        if "name" not in tool:
            raise missing(f"{path}.name")
        want_str(tool["name"], f"{path}.name")
        check_keys(tool, ("type", "name", "description", "parameters"), path)
        if "parameters" in tool:
            want_dict(tool["parameters"], f"{path}.parameters")
    elif ttype == "mcp":
        if "server_label" not in tool:
            raise missing(f"{path}.server_label")
    else:
        raise value_error(f"{path}.type", ttype, ["function", "mcp"])
    return copy.deepcopy(tool)


def check_tool_choice(value: Any, path: str) -> Any:
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise value_error(path, value, ["auto", "none", "required"])
        return value
    choice = want_dict(value, path)
    if choice.get("type") == "function":
        if "name" not in choice:
            raise missing(f"{path}.name")
        return {"type": "function", "name": want_str(choice["name"], f"{path}.name")}
    if choice.get("type") == "mcp":
        return copy.deepcopy(choice)
    raise value_error(f"{path}.type", choice.get("type"), ["function", "mcp"])


def check_voice(value: Any, path: str) -> Any:
    """A voice name (any string: unknown names get a fixed voice of their own) or a custom ``{"id": ...}``."""
    if isinstance(value, str):
        return value
    voice = want_dict(value, path)
    if not isinstance(voice.get("id"), str):
        raise missing(f"{path}.id")
    return {"id": voice["id"]}


def voice_name(voice: Any) -> str:
    """The name to synthesize with, for a checked voice value."""
    return voice if isinstance(voice, str) else str(voice.get("id", "alloy"))


def check_metadata(value: Any, path: str) -> dict[str, str] | None:
    if value is None:
        return None
    meta = want_dict(value, path)
    if len(meta) > _METADATA_PAIRS:
        raise ApiError(
            f"Invalid '{path}': too many properties. Expected an object with at most {_METADATA_PAIRS} properties, "
            f"but got an object with {len(meta)} properties instead.",
            "object_above_max_properties",
            path,
        )
    for key, val in meta.items():
        if len(key) > _METADATA_KEY_CHARS:
            raise ApiError(
                f"Invalid '{path}': key '{key[:20]}…' is longer than {_METADATA_KEY_CHARS} characters.",
                "invalid_value",
                path,
            )
        want_str(val, f"{path}.{key}")
        if len(val) > _METADATA_VALUE_CHARS:
            raise ApiError(
                f"Invalid '{path}.{key}': string longer than {_METADATA_VALUE_CHARS} characters.",
                "string_above_max_length",
                f"{path}.{key}",
            )
    return dict(meta)
