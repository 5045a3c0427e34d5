"""Session configuration: the GA field set, and translation of friendly / beta-style keyword names.

``session_fields(voice="marin", modalities=["text"], turn_detection="semantic_vad")`` gives the nested GA
``session`` object for ``session.update``. Beta names are translated, never sent as they are.
"""

from __future__ import annotations

import difflib
import warnings
from typing import Any

from .dialects import format_to_ga
from .errors import ClientEventError
from .event_types import PUSH_TO_TALK, VAD_TYPES

Json = dict[str, Any]

# Top-level fields of a GA ``session.update.session`` (type "realtime").
GA_SESSION_FIELDS: frozenset[str] = frozenset(
    {
        "type",
        "model",
        "output_modalities",
        "instructions",
        "audio",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
        "max_output_tokens",
        "tracing",
        "truncation",
        "prompt",
        "include",
    }
)
# Read-only fields a server sends back; tolerated in an update copied from ``session.created``.
READ_ONLY_SESSION_FIELDS: frozenset[str] = frozenset({"id", "object", "expires_at", "client_secret"})

# Beta flat field -> where it lives in GA (for error messages and translation).
BETA_SESSION_FIELDS: dict[str, str] = {
    "modalities": "output_modalities",
    "voice": "audio.output.voice",
    "speed": "audio.output.speed",
    "input_audio_format": "audio.input.format",
    "output_audio_format": "audio.output.format",
    "turn_detection": "audio.input.turn_detection",
    "input_audio_transcription": "audio.input.transcription",
    "input_audio_noise_reduction": "audio.input.noise_reduction",
    "max_response_output_tokens": "max_output_tokens",
    "temperature": "(nothing: GA has no temperature)",
}

# Friendly keyword -> GA path, for the high-level API (``Session(voice=...)``, ``session.update(...)``).
_FRIENDLY: dict[str, tuple[str, ...]] = {
    "voice": ("audio", "output", "voice"),
    "speed": ("audio", "output", "speed"),
    "output_format": ("audio", "output", "format"),
    "output_audio_format": ("audio", "output", "format"),
    "input_format": ("audio", "input", "format"),
    "input_audio_format": ("audio", "input", "format"),
    "turn_detection": ("audio", "input", "turn_detection"),
    "transcription": ("audio", "input", "transcription"),
    "input_audio_transcription": ("audio", "input", "transcription"),
    "noise_reduction": ("audio", "input", "noise_reduction"),
    "input_audio_noise_reduction": ("audio", "input", "noise_reduction"),
    "modalities": ("output_modalities",),
    "max_response_output_tokens": ("max_output_tokens",),
}

# The model a session asks for unless told otherwise (the GA Realtime model).
DEFAULT_MODEL = "gpt-realtime"

_PUSH_TO_TALK = (None, "none", "manual", PUSH_TO_TALK, "push-to-talk", False)


def turn_detection(value: Any) -> Json | None:
    """``"server_vad"`` / ``"semantic_vad"`` / a dict / ``None`` (push-to-talk) -> GA turn_detection."""
    if isinstance(value, str) and value in VAD_TYPES:
        return {"type": value}
    if value in _PUSH_TO_TALK:
        return None
    if isinstance(value, dict):
        return dict(value)
    raise ClientEventError(
        "session.update",
        "session.audio.input.turn_detection",
        f"{value!r} is not a turn detection mode",
        "use 'server_vad', 'semantic_vad', a dict like {'type': 'server_vad', 'silence_duration_ms': 500}, "
        "or None for push-to-talk",
    )


def turn_mode(detection: Any) -> str:
    """GA turn_detection (a dict or None) -> the mode a user picks: a VAD type, or push-to-talk for None."""
    if isinstance(detection, dict):
        return str(detection.get("type") or VAD_TYPES[0])
    return PUSH_TO_TALK


def modalities(value: Any) -> list[str]:
    """Beta ``["text", "audio"]``, GA ``["audio"]`` / ``["text"]`` or one string -> GA output_modalities."""
    values = [value] if isinstance(value, str) else list(value)
    if "audio" in values:
        return ["audio"]
    if values == ["text"]:
        return ["text"]
    raise ClientEventError(
        "session.update",
        "session.output_modalities",
        f"{value!r} is not a valid output modality list",
        "use ['audio'] (speech with a transcript) or ['text']",
    )


def _convert(path: tuple[str, ...], value: Any) -> Any:
    leaf = path[-1]
    if leaf == "turn_detection":
        return turn_detection(value)
    if leaf == "output_modalities":
        return modalities(value)
    if leaf == "format":
        return format_to_ga(value)
    if leaf == "transcription" and isinstance(value, str):
        return {"model": value}
    if leaf == "noise_reduction" and isinstance(value, str):
        return {"type": value}
    return value


def _set(target: Json, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def merge(base: Json, update: Json) -> Json:
    """Deep-merge ``update`` into a copy of ``base`` (dicts merge; everything else replaces)."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def session_fields(**fields: Any) -> Json:
    """The GA ``session`` object for ``session.update`` from friendly or beta-style keyword names.

    ``voice``, ``speed``, ``turn_detection``, ``transcription``, ``noise_reduction``, ``modalities`` and the
    beta ``*_audio_format`` / ``input_audio_*`` / ``max_response_output_tokens`` names are moved to their GA
    places; ``temperature`` (no GA counterpart) is dropped with a warning. Unknown names raise
    :class:`ClientEventError` with the closest valid name.
    """
    session: Json = {"type": "realtime"}
    for key, value in fields.items():
        if key in _FRIENDLY:
            path = _FRIENDLY[key]
            _set(session, path, _convert(path, value))
        elif key == "temperature":
            warnings.warn(
                "temperature is not a GA Realtime session field and was not sent "
                "(the GA API removed it; use instructions to steer the style)",
                UserWarning,
                stacklevel=3,
            )
        elif key == "audio" and isinstance(value, dict):
            session["audio"] = merge(session.get("audio", {}), value)
        elif key == "output_modalities":
            session[key] = modalities(value)
        elif key in GA_SESSION_FIELDS:
            session[key] = value
        else:
            choices = sorted((GA_SESSION_FIELDS | set(_FRIENDLY)) - {"type"})
            close = difflib.get_close_matches(key, choices, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid names: {', '.join(choices)}"
            raise ClientEventError("session.update", f"session.{key}", "unknown session field", hint)
    return session
