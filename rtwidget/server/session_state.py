"""The session of one connection: its defaults, and ``session.update`` validated and merged into it.

A refused update changes nothing (the merge works on a copy). Partial updates merge deeply under ``audio``, and a
``turn_detection`` of the same type keeps its other values.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from rtwidget.protocol.event_types import VAD_TYPES
from rtwidget.protocol.pcm import GA_FORMAT
from rtwidget.protocol.server_errors import VOICE_LOCKED_CODE
from rtwidget.protocol.session_config import GA_SESSION_FIELDS

from .api_errors import (
    ApiError,
    check_keys,
    missing,
    value_error,
    want_bool,
    want_dict,
    want_int,
    want_number,
    want_str,
)
from .config import EngineConfig, Json
from .param_checks import (
    check_format,
    check_max_tokens,
    check_modalities,
    check_tool_choice,
    check_tools,
    check_voice,
)

__all__ = ["SEMANTIC_SILENCE_MS", "SessionState", "default_turn_detection"]

# semantic_vad eagerness -> silence_duration_ms of the energy VAD that stands in for it.
SEMANTIC_SILENCE_MS: dict[str, int] = {"low": 1000, "medium": 600, "auto": 600, "high": 300}

_SERVER_VAD_KEYS = (
    "type",
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "idle_timeout_ms",
    "create_response",
    "interrupt_response",
)
_SEMANTIC_VAD_KEYS = ("type", "eagerness", "create_response", "interrupt_response")
_TRANSCRIPTION_KEYS = ("model", "language", "languages", "prompt", "keywords", "delay")
_LOGPROBS = ["item.input_audio_transcription.logprobs"]


def default_turn_detection(kind: str) -> Json:
    """The full turn_detection object of a VAD type, with the real server's defaults."""
    if kind == "semantic_vad":
        return {
            "type": "semantic_vad",
            "eagerness": "auto",
            "create_response": True,
            "interrupt_response": True,
        }
    return {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }


class SessionState:
    """The session object (``data``, GA form) and its updates."""

    def __init__(self, config: EngineConfig, *, session_id: str, started_at: float) -> None:
        self.data: Json = {
            "type": "realtime",
            "object": "realtime.session",
            "id": session_id,
            "model": config.model,
            "output_modalities": ["audio"],
            "instructions": config.instructions,
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "expires_at": int(started_at + config.session_minutes * 60),
            "audio": {
                "input": {
                    "format": dict(GA_FORMAT),
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": default_turn_detection("server_vad"),
                },
                "output": {"format": dict(GA_FORMAT), "voice": "marin", "speed": 1.0},
            },
            "include": None,
        }

    @property
    def turn_detection(self) -> Json | None:
        """``audio.input.turn_detection``: None is push-to-talk."""
        td: Json | None = self.data["audio"]["input"]["turn_detection"]
        return td

    @property
    def transcribing(self) -> bool:
        """True when ``audio.input.transcription`` is set (committed audio gets transcription events)."""
        return self.data["audio"]["input"]["transcription"] is not None

    def wire(self) -> Json:
        """The session as ``session.created`` / ``session.updated`` carry it."""
        return copy.deepcopy(self.data)

    def update(self, event: Json, *, voice_locked: bool) -> None:
        """Apply a ``session.update`` event, or raise :class:`ApiError` and change nothing.

        ``voice_locked``: assistant audio exists, so the voice can no longer change.
        """
        if "session" not in event:
            raise missing("session")
        update = want_dict(event["session"], "session")
        check_keys(event, ("type", "event_id", "session"), "")
        new = self._merged(update)
        if voice_locked and new["audio"]["output"]["voice"] != self.data["audio"]["output"]["voice"]:
            raise ApiError("Cannot update a conversation's voice if assistant audio is present.", VOICE_LOCKED_CODE)
        self.data = new

    def _merged(self, update: Json) -> Json:
        _check_session_type(update)
        check_keys(update, GA_SESSION_FIELDS, "session")
        new = copy.deepcopy(self.data)
        for key, value in update.items():
            path = f"session.{key}"
            if key == "type":
                continue
            if key == "model":
                if want_str(value, path) != self.data["model"]:
                    raise ApiError(
                        "Cannot update a session's model. Open a new connection with ?model= instead.",
                        "invalid_value",
                        path,
                    )
            elif key == "audio":
                new[key] = _check_audio(value, new["audio"], path)
            else:
                new[key] = _FIELD_CHECKS.get(key, _optional_object)(value, path)
        return new


def _check_session_type(update: Json) -> None:
    if "type" not in update:
        raise missing("session.type")
    if update["type"] == "realtime":
        return
    if update["type"] == "transcription":
        raise ApiError(
            "Invalid value: 'transcription'. This is a realtime session, and the rtwidget local server "
            "does not run transcription sessions.",
            "invalid_value",
            "session.type",
        )
    raise value_error("session.type", update["type"], ["realtime", "transcription"])


def _optional_object(value: Any, path: str) -> Any:
    if value is not None:
        want_dict(value, path)
    return copy.deepcopy(value)


def _check_tracing(value: Any, path: str) -> Any:
    return value if value == "auto" else _optional_object(value, path)


def _check_truncation(value: Any, path: str) -> Any:
    if value not in ("auto", "disabled"):
        want_dict(value, path)
    return copy.deepcopy(value)


def _check_include(value: Any, path: str) -> Any:
    if value is not None and value != _LOGPROBS:
        raise value_error(path, value, _LOGPROBS)
    return copy.deepcopy(value)


# The top-level session fields and their checks; the rest of GA_SESSION_FIELDS (reasoning, prompt) are objects.
_FIELD_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "output_modalities": check_modalities,
    "instructions": want_str,
    "tools": check_tools,
    "tool_choice": check_tool_choice,
    "max_output_tokens": check_max_tokens,
    "parallel_tool_calls": want_bool,
    "tracing": _check_tracing,
    "truncation": _check_truncation,
    "include": _check_include,
}


# ------------------------------------------------------------------------------------------ audio


def _check_audio(value: Any, current: Json, path: str) -> Json:
    update = want_dict(value, path)
    check_keys(update, ("input", "output"), path)
    out = copy.deepcopy(current)
    if "input" in update:
        _merge_audio_input(update["input"], out["input"], f"{path}.input")
    if "output" in update:
        _merge_audio_output(update["output"], out["output"], f"{path}.output")
    return out


def _merge_audio_input(value: Any, target: Json, path: str) -> None:
    inp = want_dict(value, path)
    check_keys(inp, ("format", "noise_reduction", "transcription", "turn_detection"), path)
    for key, val in inp.items():
        kpath = f"{path}.{key}"
        if key == "format":
            target[key] = check_format(val, kpath)
        elif key == "noise_reduction":
            target[key] = _check_noise_reduction(val, target.get(key), kpath)
        elif key == "transcription":
            target[key] = None if val is None else _check_transcription(val, kpath)
        else:
            target[key] = _check_turn_detection(val, target.get(key), kpath)


def _merge_audio_output(value: Any, target: Json, path: str) -> None:
    outp = want_dict(value, path)
    check_keys(outp, ("format", "voice", "speed"), path)
    for key, val in outp.items():
        kpath = f"{path}.{key}"
        if key == "format":
            target[key] = check_format(val, kpath)
        elif key == "voice":
            target[key] = check_voice(val, kpath)
        else:
            target[key] = want_number(val, kpath, 0.25, 1.5)


def _check_noise_reduction(value: Any, current: Any, path: str) -> Json | None:
    if value is None:
        return None
    nr = want_dict(value, path)
    check_keys(nr, ("type", "strength"), path)
    if "type" in nr and nr["type"] not in ("near_field", "far_field"):
        raise value_error(f"{path}.type", nr["type"], ["near_field", "far_field"])
    old = current or {}
    merged: Json = {"type": nr.get("type", old.get("type", "near_field"))}
    if "strength" in nr or "strength" in old:
        merged["strength"] = want_number(nr.get("strength", old.get("strength")), f"{path}.strength", 0.0, 10.0)
    return merged


def _check_transcription(value: Any, path: str) -> Json:
    transcription = want_dict(value, path)
    check_keys(transcription, _TRANSCRIPTION_KEYS, path)
    return copy.deepcopy(transcription)


def _check_turn_detection(value: Any, current: Any, path: str) -> Json | None:
    if value is None:
        return None
    td = want_dict(value, path)
    kind = td.get("type")
    if kind is None:
        raise missing(f"{path}.type")
    if kind not in VAD_TYPES:
        raise value_error(f"{path}.type", kind, VAD_TYPES)
    check_keys(td, _SERVER_VAD_KEYS if kind == "server_vad" else _SEMANTIC_VAD_KEYS, path)
    base = dict(current) if isinstance(current, dict) and current.get("type") == kind else {}
    out = {**default_turn_detection(kind), **base}
    for key, val in td.items():
        kpath = f"{path}.{key}"
        if key == "threshold":
            out[key] = want_number(val, kpath, 0.0, 1.0)
        elif key in ("prefix_padding_ms", "silence_duration_ms"):
            out[key] = want_int(val, kpath, 0, 10_000)
        elif key == "idle_timeout_ms":
            out[key] = None if val is None else want_int(val, kpath, 5000, 30000)
        elif key in ("create_response", "interrupt_response"):
            out[key] = want_bool(val, kpath)
        elif key == "eagerness":
            if val not in SEMANTIC_SILENCE_MS:
                raise value_error(kpath, val, ["low", "medium", "high", "auto"])
            out[key] = val
    return out
