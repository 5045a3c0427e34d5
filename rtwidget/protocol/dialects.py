"""Translation between the GA dialect (canonical inside rtwidget) and the beta dialect, plus the envelope.

Four event translators, one per side and direction, so the client and the local server share them:

- :func:`server_event_to_ga`   a client reading a beta server's event
- :func:`server_event_from_ga` a beta-speaking server writing an event
- :func:`client_event_to_ga`   a beta-speaking server reading a client's event
- :func:`client_event_from_ga` a client writing to a beta server

All of them return new dicts and never mutate their input. ``None`` means "no such event in that dialect"
(a GA ``conversation.item.done`` has no beta counterpart: beta sends one ``conversation.item.created``; nor
have the other :data:`~.event_types.GA_ONLY_SERVER_EVENTS`, such as ``input_audio_buffer.timeout_triggered``).
"""

from __future__ import annotations

from typing import Any, Literal

from .event_types import BETA_TO_GA_SERVER, ENVELOPE_PREFIX, GA_ONLY_SERVER_EVENTS, GA_TO_BETA_SERVER
from .pcm import BETA_FORMAT, GA_FORMAT

Dialect = Literal["ga", "beta"]
DIALECTS: tuple[str, ...] = ("ga", "beta")

Json = dict[str, Any]

_GA_FORMAT_TO_BETA = {"audio/pcm": BETA_FORMAT, "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
_BETA_FORMAT_TO_GA: dict[str, Json] = {
    BETA_FORMAT: dict(GA_FORMAT),
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
# GA nested audio.input.<key> <-> beta flat <key>
_INPUT_KEYS = {
    "transcription": "input_audio_transcription",
    "noise_reduction": "input_audio_noise_reduction",
    "turn_detection": "turn_detection",
}
_BETA_INPUT_KEYS = {v: k for k, v in _INPUT_KEYS.items()}
_OUTPUT_KEYS = {"voice": "voice", "speed": "speed"}
# Assistant content part types.
_GA_PART_TO_BETA = {"output_text": "text", "output_audio": "audio"}
_BETA_PART_TO_GA = {v: k for k, v in _GA_PART_TO_BETA.items()}
# Session fields a GA server reports that beta never had (a beta transcription session did have ``include``).
_GA_ONLY_SESSION_KEYS = frozenset({"include", "prompt", "truncation", "reasoning"})
# Usage input details GA added (beta counted no images, and cached tokens only as a total).
_GA_ONLY_USAGE_INPUT_KEYS = frozenset({"image_tokens", "cached_tokens_details"})


def check_dialect(dialect: str) -> Dialect:
    """Return ``dialect`` if it is known, else raise ValueError naming the choices."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}: use 'ga' (OpenAI today) or 'beta' (old Azure preview)")
    return dialect  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------- formats


def format_to_beta(fmt: Any) -> Any:
    """GA ``{"type": "audio/pcm", "rate": 24000}`` -> beta ``"pcm16"`` (unknown shapes pass through)."""
    if isinstance(fmt, dict) and fmt.get("type") in _GA_FORMAT_TO_BETA:
        return _GA_FORMAT_TO_BETA[fmt["type"]]
    return fmt


def format_to_ga(fmt: Any) -> Any:
    """Beta ``"pcm16"`` -> GA ``{"type": "audio/pcm", "rate": 24000}`` (unknown shapes pass through)."""
    if isinstance(fmt, str) and fmt in _BETA_FORMAT_TO_GA:
        return dict(_BETA_FORMAT_TO_GA[fmt])
    return fmt


# ---------------------------------------------------------------------------------------------- sessions


def _audio_to_beta(audio: Json) -> Json:
    """GA ``session.audio`` -> the flat beta ``input_audio_*`` / ``voice`` / ``*_audio_format`` fields."""
    out: Json = {}
    inp = audio.get("input") or {}
    for ga_key, beta_key in _INPUT_KEYS.items():
        if ga_key in inp:
            td = inp[ga_key]
            if ga_key == "turn_detection" and isinstance(td, dict):
                td = {k: v for k, v in td.items() if k != "idle_timeout_ms"}  # GA only
            out[beta_key] = td
    if "format" in inp:
        out["input_audio_format"] = format_to_beta(inp["format"])
    outp = audio.get("output") or {}
    for ga_key, beta_key in _OUTPUT_KEYS.items():
        if ga_key in outp:
            out[beta_key] = outp[ga_key]
    if "format" in outp:
        out["output_audio_format"] = format_to_beta(outp["format"])
    return out


def session_to_beta(session: Json) -> Json:
    """A GA session object (or partial update) in the flat beta shape."""
    out: Json = {}
    for key, value in session.items():
        if key == "type":
            continue
        if key == "audio" and isinstance(value, dict):
            out.update(_audio_to_beta(value))
        elif key == "output_modalities":
            out["modalities"] = ["text"] if list(value) == ["text"] else ["text", "audio"]
        elif key == "max_output_tokens":
            out["max_response_output_tokens"] = value
        else:
            out[key] = value
    return out


def session_object_to_beta(session: Json) -> Json:
    """A GA session object as a beta server reports it: the beta shape, without the fields beta never had."""
    drop = _GA_ONLY_SESSION_KEYS
    if session.get("type") == "transcription":
        drop = drop - {"include"}
    return session_to_beta({k: v for k, v in session.items() if k not in drop})


def _beta_field_to_ga(key: str, value: Any, out: Json, audio_in: Json, audio_out: Json) -> None:
    """Put one flat beta session field where GA keeps it (``out``, or ``audio.input`` / ``audio.output``)."""
    if key == "modalities":
        out["output_modalities"] = ["audio"] if "audio" in value else ["text"]
    elif key == "max_response_output_tokens":
        out["max_output_tokens"] = value
    elif key == "input_audio_format":
        audio_in["format"] = format_to_ga(value)
    elif key == "output_audio_format":
        audio_out["format"] = format_to_ga(value)
    elif key in _BETA_INPUT_KEYS:
        audio_in[_BETA_INPUT_KEYS[key]] = value
    elif key in _OUTPUT_KEYS:
        audio_out[key] = value
    elif key == "object" and value == "realtime.transcription_session":
        out[key] = "realtime.session"
    else:
        out[key] = value


def session_to_ga(session: Json, session_type: str = "realtime") -> Json:
    """A flat beta session object (or partial update) in the nested GA shape.

    ``temperature`` has no GA counterpart and is dropped.
    """
    out: Json = {"type": session_type}
    audio_in: Json = {}
    audio_out: Json = {}
    for key, value in session.items():
        if key not in ("temperature", "client_secret"):
            _beta_field_to_ga(key, value, out, audio_in, audio_out)
    if audio_in or audio_out:
        audio: Json = {}
        if audio_in:
            audio["input"] = audio_in
        if audio_out:
            audio["output"] = audio_out
        out["audio"] = audio
    return out


# ---------------------------------------------------------------------------------------------- items


def _map_parts(item: Json, table: dict[str, str]) -> Json:
    content = item.get("content")
    if item.get("role") != "assistant" or not isinstance(content, list):
        return dict(item)
    parts = [
        {**part, "type": table.get(str(part.get("type")), part.get("type"))} if isinstance(part, dict) else part
        for part in content
    ]
    return {**item, "content": parts}


def item_to_beta(item: Json) -> Json:
    """GA item, beta assistant parts (``output_text`` -> ``text``, ``output_audio`` -> ``audio``)."""
    return _map_parts(item, _GA_PART_TO_BETA)


def item_to_ga(item: Json) -> Json:
    """Beta item, GA assistant parts (``text`` -> ``output_text``, ``audio`` -> ``output_audio``)."""
    return _map_parts(item, _BETA_PART_TO_GA)


# ---------------------------------------------------------------------------------------------- responses


def response_params_to_beta(params: Json) -> Json:
    """GA ``response.create.response`` parameters in the beta shape."""
    out: Json = {}
    for key, value in params.items():
        if key == "output_modalities":
            out["modalities"] = ["text"] if list(value) == ["text"] else ["text", "audio"]
        elif key == "max_output_tokens":
            out["max_response_output_tokens"] = value
        elif key == "audio" and isinstance(value, dict):
            outp = value.get("output") or {}
            if "voice" in outp:
                out["voice"] = outp["voice"]
            if "format" in outp:
                out["output_audio_format"] = format_to_beta(outp["format"])
        elif key == "input" and isinstance(value, list):
            out["input"] = [item_to_beta(i) if isinstance(i, dict) else i for i in value]
        else:
            out[key] = value
    return out


def response_params_to_ga(params: Json) -> Json:
    """Beta ``response.create.response`` parameters in the GA shape (``temperature`` is dropped)."""
    out: Json = {}
    audio_out: Json = {}
    for key, value in params.items():
        if key == "modalities":
            out["output_modalities"] = ["audio"] if "audio" in value else ["text"]
        elif key == "max_response_output_tokens":
            out["max_output_tokens"] = value
        elif key == "voice":
            audio_out["voice"] = value
        elif key == "output_audio_format":
            audio_out["format"] = format_to_ga(value)
        elif key == "temperature":
            continue
        elif key == "input" and isinstance(value, list):
            out["input"] = [item_to_ga(i) if isinstance(i, dict) else i for i in value]
        else:
            out[key] = value
    if audio_out:
        out["audio"] = {"output": audio_out}
    return out


def usage_to_beta(usage: Any) -> Any:
    """GA response usage without what beta's never had (``image_tokens``, ``cached_tokens_details``)."""
    details = usage.get("input_token_details") if isinstance(usage, dict) else None
    if not isinstance(details, dict):
        return usage
    kept = {k: v for k, v in details.items() if k not in _GA_ONLY_USAGE_INPUT_KEYS}
    return {**usage, "input_token_details": kept}


def response_to_beta(response: Json) -> Json:
    """A GA response object (``response.created`` / ``.done``) in the beta shape.

    The response *object* keeps ``max_output_tokens`` in beta too: only the beta create parameters and session
    call it ``max_response_output_tokens``.
    """
    as_is = ("output", "usage", "max_output_tokens")
    out = response_params_to_beta({k: v for k, v in response.items() if k not in as_is})
    if "max_output_tokens" in response:
        out["max_output_tokens"] = response["max_output_tokens"]
    if "usage" in response:
        out["usage"] = usage_to_beta(response["usage"])
    if "output" in response:
        out["output"] = [item_to_beta(i) for i in response["output"]]
    return out


def response_to_ga(response: Json) -> Json:
    """A beta response object in the GA shape."""
    out = response_params_to_ga({k: v for k, v in response.items() if k not in ("output", "temperature")})
    if "output" in response:
        out["output"] = [item_to_ga(i) for i in response["output"]]
    return out


# ---------------------------------------------------------------------------------------------- errors


def _param_renames() -> tuple[tuple[str, str, bool], ...]:
    """(GA parameter path, beta path, keep the rest of the path): what an error's ``param`` says in beta."""
    pairs = [(f"session.audio.input.{ga}", f"session.{beta}", True) for ga, beta in _INPUT_KEYS.items()]
    pairs += [(f"session.audio.output.{ga}", f"session.{beta}", True) for ga, beta in _OUTPUT_KEYS.items()]
    for scope in ("session", "response"):
        pairs += [
            (f"{scope}.output_modalities", f"{scope}.modalities", True),
            (f"{scope}.max_output_tokens", f"{scope}.max_response_output_tokens", True),
        ]
    # a GA format object is one string in beta: nothing below it to name
    pairs += [
        ("session.audio.input.format", "session.input_audio_format", False),
        ("session.audio.output.format", "session.output_audio_format", False),
        ("response.audio.output.format", "response.output_audio_format", False),
        ("response.audio.output.voice", "response.voice", True),
    ]
    return tuple(pairs)


_PARAM_RENAMES = _param_renames()


def param_to_beta(param: Any) -> Any:
    """An error's GA parameter path as a beta client named it (``session.audio.output.voice`` -> ``session.voice``)."""
    if not isinstance(param, str):
        return param
    for ga, beta, keep_rest in _PARAM_RENAMES:
        if param == ga or param.startswith((ga + ".", ga + "[")):
            return beta + param[len(ga) :] if keep_rest else beta
    return param


def error_to_beta(error: Json) -> Json:
    """A GA ``error`` object whose ``param`` (and the message naming it) use the beta client's field names."""
    param = error.get("param")
    beta = param_to_beta(param)
    if beta == param:
        return dict(error)
    out = {**error, "param": beta}
    if isinstance(error.get("message"), str):
        out["message"] = error["message"].replace(str(param), str(beta))
    return out


# ---------------------------------------------------------------------------------------------- events


def _with(event: Json, key: str, fn: Any) -> Json:
    if isinstance(event.get(key), dict):
        return {**event, key: fn(event[key])}
    return dict(event)


def server_event_to_ga(event: Json) -> Json:
    """A beta server event in GA form (renamed type, nested session, GA items and response)."""
    etype = event.get("type")
    if etype == "transcription_session.updated" or etype == "transcription_session.created":
        ga = _with(event, "session", lambda s: session_to_ga(s, "transcription"))
        return {**ga, "type": BETA_TO_GA_SERVER[etype]}
    if etype in BETA_TO_GA_SERVER:
        return {**event, "type": BETA_TO_GA_SERVER[etype]}
    if etype in ("session.created", "session.updated"):
        return _with(event, "session", session_to_ga)
    if etype in ("response.created", "response.done"):
        return _with(event, "response", response_to_ga)
    if isinstance(event.get("item"), dict):
        return _with(event, "item", item_to_ga)
    return dict(event)


def server_event_from_ga(event: Json) -> Json | None:
    """A GA server event as a beta server sends it, or None where beta has no such event."""
    etype = event.get("type")
    if etype == "conversation.item.added":
        event = {**event, "type": "conversation.item.created"}
        etype = "conversation.item.created"
    if etype in GA_ONLY_SERVER_EVENTS:
        return None
    if etype in GA_TO_BETA_SERVER:
        return {**event, "type": GA_TO_BETA_SERVER[etype]}
    if etype in ("session.created", "session.updated"):
        beta = _with(event, "session", session_object_to_beta)
        if isinstance(event.get("session"), dict) and event["session"].get("type") == "transcription":
            beta["type"] = "transcription_" + str(etype)  # beta named a transcription session's events apart
        return beta
    if etype in ("response.created", "response.done"):
        return _with(event, "response", response_to_beta)
    if etype == "error":
        return _with(event, "error", error_to_beta)
    if isinstance(event.get("item"), dict):
        return _with(event, "item", item_to_beta)
    return dict(event)


def client_event_from_ga(event: Json) -> Json:
    """A GA client event as it must be sent to a beta server."""
    etype = event.get("type")
    if etype == "session.update" and isinstance(event.get("session"), dict):
        session = event["session"]
        beta = session_to_beta(session)
        if session.get("type") == "transcription":
            return {**event, "type": "transcription_session.update", "session": beta}
        return {**event, "session": beta}
    if etype == "response.create":
        return _with(event, "response", response_params_to_beta)
    if etype == "conversation.item.create":
        return _with(event, "item", item_to_beta)
    return dict(event)


def client_event_to_ga(event: Json) -> Json:
    """A beta client event in GA form (what a beta-speaking server reads)."""
    etype = event.get("type")
    if etype == "transcription_session.update":
        ga = _with(event, "session", lambda s: session_to_ga(s, "transcription"))
        return {**ga, "type": "session.update"}
    if etype == "session.update":
        return _with(event, "session", session_to_ga)
    if etype == "response.create":
        return _with(event, "response", response_params_to_ga)
    if etype == "conversation.item.create":
        return _with(event, "item", item_to_ga)
    return dict(event)


# ---------------------------------------------------------------------------------------------- envelope


def wrap_envelope(event: Json) -> Json:
    """``{"type": "x", ...}`` -> ``{"type": "realtime.x", "data": {...}}``."""
    body = {k: v for k, v in event.items() if k != "type"}
    return {"type": ENVELOPE_PREFIX + str(event.get("type")), "data": body}


def unwrap_envelope(message: Json) -> Json:
    """``{"type": "realtime.x", "data": {...}}`` -> ``{"type": "x", ...}``; anything else as it is."""
    etype = message.get("type")
    data = message.get("data")
    if isinstance(etype, str) and etype.startswith(ENVELOPE_PREFIX) and isinstance(data, dict):
        return {**data, "type": etype[len(ENVELOPE_PREFIX) :]}
    return message
