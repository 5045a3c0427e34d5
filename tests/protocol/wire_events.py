"""Scripted server events (GA wire shape) for the protocol tests: small keyword-only factories.

Each factory returns the dict a GA server sends; :func:`wire` turns it into the JSON text a socket delivers.
The turn builders return whole realistic sequences (reference §7 flows) as lists of dicts.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterable, Sequence
from typing import Any

from rtwidget.protocol.events import Codec, Event

Json = dict[str, Any]

_counter = itertools.count(1)
_UNSET: Any = object()


def _eid() -> str:
    return f"event_{next(_counter):05d}"


def wire(event: Json) -> str:
    """The JSON text of a server event."""
    return json.dumps(event)


def decode(event: Json, dialect: str = "ga") -> Event:
    """The Event a codec makes of a server event dict."""
    return Codec(dialect).decode(wire(event))


def b64(n_bytes: int) -> str:
    """Base64 text of ``n_bytes`` of silence."""
    return base64.b64encode(bytes(n_bytes)).decode("ascii")


# ----------------------------------------------------------------------------------------- session


def session_created(*, session_id: str = "sess_001", expires_at: int = 1_900_000_000, **fields: Any) -> Json:
    session = {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": "gpt-realtime",
        "output_modalities": ["audio"],
        "instructions": "You are a helpful assistant.",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "turn_detection": {"type": "server_vad"},
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin", "speed": 1.0},
        },
        "tools": [],
        "expires_at": expires_at,
        **fields,
    }
    return {"type": "session.created", "event_id": _eid(), "session": session}


def session_updated(**session: Any) -> Json:
    return {"type": "session.updated", "event_id": _eid(), "session": {"type": "realtime", **session}}


# ------------------------------------------------------------------------------------------- items


def user_text_item(item_id: str, text: str, *, status: str = "completed") -> Json:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": status,
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }


def user_audio_item(item_id: str, *, transcript: str | None = None) -> Json:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": transcript}],
    }


def assistant_item(item_id: str, *, status: str = "in_progress", content: Sequence[Json] = ()) -> Json:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": list(content),
    }


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str = "", *, status: str = "completed"
) -> Json:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "function_call",
        "status": status,
        "name": name,
        "call_id": call_id,
        "arguments": arguments,
    }


def function_output_item(item_id: str, call_id: str, output: str) -> Json:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "function_call_output",
        "status": "completed",
        "call_id": call_id,
        "output": output,
    }


def item_added(item: Json, *, previous_item_id: Any = _UNSET, kind: str = "added") -> Json:
    """``conversation.item.added`` (or ``done`` / ``created`` with ``kind``)."""
    event: Json = {"type": f"conversation.item.{kind}", "event_id": _eid(), "item": item}
    if previous_item_id is not _UNSET:
        event["previous_item_id"] = previous_item_id
    return event


def item_done(item: Json, *, previous_item_id: Any = _UNSET) -> Json:
    return item_added(item, previous_item_id=previous_item_id, kind="done")


def item_truncated(item_id: str, audio_end_ms: int) -> Json:
    return {
        "type": "conversation.item.truncated",
        "event_id": _eid(),
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": audio_end_ms,
    }


def item_deleted(item_id: str) -> Json:
    return {"type": "conversation.item.deleted", "event_id": _eid(), "item_id": item_id}


def item_retrieved(item: Json) -> Json:
    return {"type": "conversation.item.retrieved", "event_id": _eid(), "item": item}


# ------------------------------------------------------------------------------------- input audio


def speech_started(item_id: str, audio_start_ms: int) -> Json:
    return {
        "type": "input_audio_buffer.speech_started",
        "event_id": _eid(),
        "audio_start_ms": audio_start_ms,
        "item_id": item_id,
    }


def speech_stopped(item_id: str, audio_end_ms: int) -> Json:
    return {
        "type": "input_audio_buffer.speech_stopped",
        "event_id": _eid(),
        "audio_end_ms": audio_end_ms,
        "item_id": item_id,
    }


def committed(item_id: str, previous_item_id: str | None = None) -> Json:
    return {
        "type": "input_audio_buffer.committed",
        "event_id": _eid(),
        "previous_item_id": previous_item_id,
        "item_id": item_id,
    }


def transcription_delta(item_id: str, delta: str) -> Json:
    return {
        "type": "conversation.item.input_audio_transcription.delta",
        "event_id": _eid(),
        "item_id": item_id,
        "content_index": 0,
        "delta": delta,
    }


def transcription_completed(item_id: str, transcript: str) -> Json:
    return {
        "type": "conversation.item.input_audio_transcription.completed",
        "event_id": _eid(),
        "item_id": item_id,
        "content_index": 0,
        "transcript": transcript,
        "usage": {"type": "duration", "seconds": 1.2},
    }


# --------------------------------------------------------------------------------------- responses


def _response(
    rid: str,
    status: str,
    output: Sequence[Json],
    conversation_id: str | None,
    metadata: Json | None,
    **extra: Any,
) -> Json:
    return {
        "id": rid,
        "object": "realtime.response",
        "status": status,
        "status_details": None,
        "output": list(output),
        "conversation_id": conversation_id,
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "metadata": metadata,
        "usage": None,
        **extra,
    }


def response_created(rid: str, *, conversation_id: str | None = "conv_001", metadata: Json | None = None) -> Json:
    return {
        "type": "response.created",
        "event_id": _eid(),
        "response": _response(rid, "in_progress", [], conversation_id, metadata),
    }


def response_done(
    rid: str,
    *,
    output: Sequence[Json] = (),
    status: str = "completed",
    status_details: Json | None = None,
    conversation_id: str | None = "conv_001",
    metadata: Json | None = None,
) -> Json:
    usage = {"total_tokens": 30, "input_tokens": 20, "output_tokens": 10}
    response = _response(rid, status, output, conversation_id, metadata, usage=usage)
    response["status_details"] = status_details
    return {"type": "response.done", "event_id": _eid(), "response": response}


def output_item_added(rid: str, item: Json, output_index: int = 0) -> Json:
    return {
        "type": "response.output_item.added",
        "event_id": _eid(),
        "response_id": rid,
        "output_index": output_index,
        "item": item,
    }


def output_item_done(rid: str, item: Json, output_index: int = 0) -> Json:
    event = output_item_added(rid, item, output_index)
    event["type"] = "response.output_item.done"
    return event


def _part_event(kind: str, rid: str, item_id: str, part: Json, content_index: int) -> Json:
    return {
        "type": f"response.content_part.{kind}",
        "event_id": _eid(),
        "response_id": rid,
        "item_id": item_id,
        "output_index": 0,
        "content_index": content_index,
        "part": part,
    }


def content_part_added(rid: str, item_id: str, part: Json, content_index: int = 0) -> Json:
    return _part_event("added", rid, item_id, part, content_index)


def content_part_done(rid: str, item_id: str, part: Json, content_index: int = 0) -> Json:
    return _part_event("done", rid, item_id, part, content_index)


def _delta(etype: str, rid: str, item_id: str, **fields: Any) -> Json:
    return {
        "type": etype,
        "event_id": _eid(),
        "response_id": rid,
        "item_id": item_id,
        "output_index": 0,
        "content_index": 0,
        **fields,
    }


def text_delta(rid: str, item_id: str, delta: str) -> Json:
    return _delta("response.output_text.delta", rid, item_id, delta=delta)


def text_done(rid: str, item_id: str, text: str) -> Json:
    return _delta("response.output_text.done", rid, item_id, text=text)


def audio_delta(rid: str, item_id: str, n_bytes: int) -> Json:
    return _delta("response.output_audio.delta", rid, item_id, delta=b64(n_bytes))


def audio_done(rid: str, item_id: str) -> Json:
    return _delta("response.output_audio.done", rid, item_id)


def transcript_delta(rid: str, item_id: str, delta: str) -> Json:
    return _delta("response.output_audio_transcript.delta", rid, item_id, delta=delta)


def transcript_done(rid: str, item_id: str, transcript: str) -> Json:
    return _delta("response.output_audio_transcript.done", rid, item_id, transcript=transcript)


def arguments_delta(rid: str, item_id: str, call_id: str, delta: str) -> Json:
    event = _delta("response.function_call_arguments.delta", rid, item_id, call_id=call_id, delta=delta)
    del event["content_index"]
    return event


def arguments_done(rid: str, item_id: str, call_id: str, name: str, arguments: str) -> Json:
    event = _delta(
        "response.function_call_arguments.done", rid, item_id, call_id=call_id, name=name, arguments=arguments
    )
    del event["content_index"]
    return event


def rate_limits() -> Json:
    return {
        "type": "rate_limits.updated",
        "event_id": _eid(),
        "rate_limits": [{"name": "tokens", "limit": 40000, "remaining": 39000, "reset_seconds": 1.5}],
    }


def error(code: str | None, message: str = "something went wrong", *, event_id: str | None = None) -> Json:
    return {
        "type": "error",
        "event_id": _eid(),
        "error": {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": None,
            "event_id": event_id,
        },
    }


# ------------------------------------------------------------------------------------- whole turns


def text_turn(rid: str, item_id: str, words: Iterable[str], *, previous_item_id: str | None) -> list[Json]:
    """A text response (reference §7a steps 5-9)."""
    words = list(words)
    full = "".join(words)
    final = assistant_item(item_id, status="completed", content=[{"type": "output_text", "text": full}])
    return [
        response_created(rid),
        output_item_added(rid, assistant_item(item_id)),
        item_added(assistant_item(item_id), previous_item_id=previous_item_id),
        content_part_added(rid, item_id, {"type": "output_text", "text": ""}),
        *[text_delta(rid, item_id, w) for w in words],
        text_done(rid, item_id, full),
        content_part_done(rid, item_id, {"type": "output_text", "text": full}),
        output_item_done(rid, final),
        item_done(final, previous_item_id=previous_item_id),
        rate_limits(),
        response_done(rid, output=[final]),
    ]


def audio_turn(
    rid: str,
    item_id: str,
    chunks: Iterable[tuple[int, str]],
    *,
    previous_item_id: str | None,
    status: str = "completed",
) -> list[Json]:
    """An audio response: interleaved audio (n bytes) and transcript deltas (reference §7a, audio variant)."""
    chunks = list(chunks)
    transcript = "".join(t for _, t in chunks)
    final = assistant_item(item_id, status=status, content=[{"type": "output_audio", "transcript": transcript}])
    events = [
        response_created(rid),
        output_item_added(rid, assistant_item(item_id)),
        item_added(assistant_item(item_id), previous_item_id=previous_item_id),
        content_part_added(rid, item_id, {"type": "output_audio", "transcript": ""}),
    ]
    for n_bytes, words in chunks:
        events.append(audio_delta(rid, item_id, n_bytes))
        events.append(transcript_delta(rid, item_id, words))
    events += [
        audio_done(rid, item_id),
        transcript_done(rid, item_id, transcript),
        content_part_done(rid, item_id, {"type": "output_audio", "transcript": transcript}),
        output_item_done(rid, final),
        item_done(final, previous_item_id=previous_item_id),
        response_done(rid, output=[final], status=status),
    ]
    return events


def function_call_turn(
    rid: str,
    calls: Sequence[tuple[str, str, str, str]],
    *,
    previous_item_id: str | None,
    created: bool = True,
) -> list[Json]:
    """A response that makes calls ``(item_id, call_id, name, arguments)`` (reference §7d steps 2-3)."""
    events = [response_created(rid)] if created else []
    finals = []
    prev = previous_item_id
    for index, (item_id, call_id, name, arguments) in enumerate(calls):
        started = function_call_item(item_id, call_id, name, status="in_progress")
        final = function_call_item(item_id, call_id, name, arguments)
        half = len(arguments) // 2
        events += [
            output_item_added(rid, started, index),
            item_added(started, previous_item_id=prev),
            arguments_delta(rid, item_id, call_id, arguments[:half]),
            arguments_delta(rid, item_id, call_id, arguments[half:]),
            arguments_done(rid, item_id, call_id, name, arguments),
            output_item_done(rid, final, index),
            item_done(final, previous_item_id=prev),
        ]
        finals.append(final)
        prev = item_id
    events.append(response_done(rid, output=finals))
    return events
