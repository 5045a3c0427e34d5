"""The sans-I/O engine: JSON text in, JSON text out, time from an injected clock."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

from rtwidget import audio
from rtwidget.server.engine import SEMANTIC_SILENCE_MS, Engine, EngineConfig
from rtwidget.server.script import Script

T0 = 1_700_000_000.0
TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        },
    },
    {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}},
]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class FakeVoice:
    """100 ms of a loud tone per word: fast, deterministic, and loud enough for the VAD."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float]] = []

    def synthesize(self, text: str, *, voice: str = "alloy", speed: float = 1.0) -> bytes:
        self.calls.append((text, voice, speed))
        return tone(100 * len(text.split()))


def tone(ms: int, amplitude: float = 0.3) -> bytes:
    t = np.arange(ms * 24) / 24000
    return (np.sin(2 * np.pi * 220 * t) * amplitude * 32767).astype("<i2").tobytes()


def silence(ms: int) -> bytes:
    return bytes(ms * 48)


class Harness:
    def __init__(self, pace: str = "fast", **kwargs: Any) -> None:
        self.clock = Clock()
        self.voice = FakeVoice()
        engine_kwargs = {k: kwargs.pop(k) for k in ("dialect", "envelope") if k in kwargs}
        self.engine = Engine(
            EngineConfig(pace=pace, seed=7, **kwargs),  # type: ignore[arg-type]
            clock=self.clock,
            voice=self.voice,
            **engine_kwargs,
        )

    def start(self) -> list[dict[str, Any]]:
        self.engine.start()
        return self.drain()

    def drain(self) -> list[dict[str, Any]]:
        return [json.loads(m) for m in self.engine.data_to_send()]

    def send(self, type_: str, **fields: Any) -> list[dict[str, Any]]:
        self.engine.receive_text(json.dumps({"type": type_, **fields}))
        return self.drain()

    def raw(self, text: str) -> list[dict[str, Any]]:
        self.engine.receive_text(text)
        return self.drain()

    def advance(self, seconds: float) -> list[dict[str, Any]]:
        self.clock.now += seconds
        self.engine.advance(self.clock.now)
        return self.drain()

    def say(self, text: str) -> list[dict[str, Any]]:
        content = [{"type": "input_text", "text": text}]
        return self.send("conversation.item.create", item={"type": "message", "role": "user", "content": content})

    def append(self, pcm: bytes, chunk_ms: int = 20) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in audio.chunks(pcm, chunk_ms):
            out += self.send("input_audio_buffer.append", audio=base64.b64encode(chunk).decode())
        return out


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def error(events: list[dict[str, Any]]) -> dict[str, Any]:
    (event,) = [e for e in events if e["type"] == "error"]
    return dict(event["error"])


@pytest.fixture
def h() -> Harness:
    harness = Harness()
    harness.start()
    return harness


# ------------------------------------------------------------------------------------------ session


def test_session_created_is_the_full_default_session() -> None:
    harness = Harness(model="gpt-realtime-mini")
    (created,) = harness.start()
    assert created["type"] == "session.created" and created["event_id"].startswith("event_")
    session = created["session"]
    assert session["id"].startswith("sess_") and session["object"] == "realtime.session"
    assert session["model"] == "gpt-realtime-mini" and session["expires_at"] == int(T0) + 3600
    assert session["output_modalities"] == ["audio"] and session["instructions"]
    assert session["audio"]["input"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "transcription": None,
        "noise_reduction": None,
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 200,
            "idle_timeout_ms": None,
            "create_response": True,
            "interrupt_response": True,
        },
    }
    assert session["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "marin",
        "speed": 1.0,
    }
    defaults: dict[str, Any] = {
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
    }
    for key, value in defaults.items():
        assert session[key] == value


def test_session_update_merges_deeply_and_answers_with_the_full_config(h: Harness) -> None:
    (updated,) = h.send(
        "session.update",
        event_id="u1",
        session={"type": "realtime", "audio": {"output": {"speed": 1.2}, "input": {"turn_detection": None}}},
    )
    assert updated["type"] == "session.updated" and "u1" not in json.dumps(updated)
    session = updated["session"]
    assert session["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "marin",
        "speed": 1.2,
    }
    assert session["audio"]["input"]["turn_detection"] is None
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    (updated,) = h.send(
        "session.update",
        session={
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 0.7}}},
        },
    )
    td = updated["session"]["audio"]["input"]["turn_detection"]
    assert td["threshold"] == 0.7 and td["silence_duration_ms"] == 200 and td["create_response"] is True
    (updated,) = h.send("session.update", session={"type": "realtime", "instructions": "Be brief.", "tools": TOOLS})
    assert updated["session"]["instructions"] == "Be brief." and updated["session"]["tools"] == TOOLS
    assert updated["session"]["audio"]["output"]["speed"] == 1.2  # earlier updates kept


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"instructions": "x"}, "missing_required_parameter", "session.type"),
        ({"type": "realtime", "modalities": ["text"]}, "unknown_parameter", "session.modalities"),
        ({"type": "realtime", "voice": "alloy"}, "unknown_parameter", "session.voice"),
        ({"type": "realtime", "temperature": 0.8}, "unknown_parameter", "session.temperature"),
        (
            {"type": "realtime", "input_audio_format": "pcm16"},
            "unknown_parameter",
            "session.input_audio_format",
        ),
        ({"type": "realtime", "turn_detection": None}, "unknown_parameter", "session.turn_detection"),
        (
            {"type": "realtime", "audio": {"output": {"voise": "x"}}},
            "unknown_parameter",
            "session.audio.output.voise",
        ),
        ({"type": "realtime", "instructions": 3}, "invalid_type", "session.instructions"),
        (
            {"type": "realtime", "output_modalities": ["audio", "text"]},
            "invalid_value",
            "session.output_modalities",
        ),
        (
            {"type": "realtime", "audio": {"output": {"speed": 2}}},
            "decimal_above_max_value",
            "session.audio.output.speed",
        ),
        (
            {"type": "realtime", "max_output_tokens": 0},
            "integer_below_min_value",
            "session.max_output_tokens",
        ),
        ({"type": "realtime", "tool_choice": "sometimes"}, "invalid_value", "session.tool_choice"),
        (
            {"type": "realtime", "tools": [{"type": "function"}]},
            "missing_required_parameter",
            "session.tools[0].name",
        ),
        (
            {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "loud_vad"}}}},
            "invalid_value",
            "session.audio.input.turn_detection.type",
        ),
    ],
)
def test_session_update_errors_are_realistic_and_atomic(
    h: Harness, session: dict[str, Any], code: str, param: str
) -> None:
    before = h.engine.session
    err = error(h.send("session.update", event_id="evt_42", session=session))
    assert err["type"] == "invalid_request_error" and err["code"] == code and err["param"] == param
    assert err["event_id"] == "evt_42"
    if code == "unknown_parameter":
        assert err["message"] == f"Unknown parameter: '{param}'."
    assert h.engine.session == before


def test_voice_can_change_until_assistant_audio_exists(h: Harness) -> None:
    assert types(h.send("session.update", session={"type": "realtime", "audio": {"output": {"voice": "cedar"}}})) == [
        "session.updated"
    ]
    h.say("hi")
    h.send("response.create")
    assert h.voice.calls[-1][1] == "cedar"
    err = error(h.send("session.update", session={"type": "realtime", "audio": {"output": {"voice": "ash"}}}))
    assert err["code"] == "cannot_update_voice"
    assert err["message"] == "Cannot update a conversation's voice if assistant audio is present."
    # The same voice again is fine.
    assert types(h.send("session.update", session={"type": "realtime", "audio": {"output": {"voice": "cedar"}}})) == [
        "session.updated"
    ]


def test_bad_client_events_become_errors_and_never_raise(h: Harness) -> None:
    assert error(h.raw("{not json"))["code"] == "invalid_event"
    assert error(h.raw("[1, 2]"))["code"] == "invalid_event"
    assert error(h.raw('{"event_id": "e1"}')) == {
        "type": "invalid_request_error",
        "code": "invalid_event",
        "message": "Missing required parameter: 'type'.",
        "param": "type",
        "event_id": "e1",
    }
    err = error(h.send("response.teleport", event_id="e2"))
    assert err["code"] == "invalid_value" and err["param"] == "type" and err["event_id"] == "e2"
    assert "Supported values are" in err["message"]
    assert error(h.send("conversation.item.create", event_id="e3"))["event_id"] == "e3"
    assert error(h.send("response.create", response={"modalities": ["text"]}))["event_id"] is None


# ------------------------------------------------------------------------------------------ items


def test_item_create_added_then_done_with_previous_item_ids(h: Harness) -> None:
    first = h.say("one")
    assert types(first) == ["conversation.item.added", "conversation.item.done"]
    assert first[0]["previous_item_id"] is None and first[0]["item"]["status"] == "completed"
    item = first[0]["item"]
    assert item["id"].startswith("item_") and item["object"] == "realtime.item"
    assert item["content"] == [{"type": "input_text", "text": "one"}]
    second = h.say("two")
    assert second[0]["previous_item_id"] == item["id"]
    root = h.send(
        "conversation.item.create",
        previous_item_id="root",
        item={
            "id": "item_mine",
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "s"}],
        },
    )
    assert root[0]["previous_item_id"] is None and root[0]["item"]["id"] == "item_mine"
    assert h.engine.conversation[0]["id"] == "item_mine"
    err = error(h.send("conversation.item.create", event_id="x", previous_item_id="item_nope", item=item))
    assert err["param"] == "previous_item_id" and err["event_id"] == "x"
    err = error(
        h.send(
            "conversation.item.create",
            item={"type": "message", "role": "user", "content": [{"type": "input_text"}]},
        )
    )
    assert err["code"] == "missing_required_parameter" and err["message"] == (
        "Missing required parameter: 'item.content[0].text'."
    )
    err = error(h.send("conversation.item.create", item={"type": "function_call_output", "call_id": "c", "output": {}}))
    assert err["code"] == "invalid_type" and err["param"] == "item.output"


def test_retrieve_includes_user_and_assistant_audio(h: Harness) -> None:
    pcm = tone(300)
    added = h.send(
        "conversation.item.create",
        item={
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": audio.b64encode(pcm)}],
        },
    )
    user_id = added[0]["item"]["id"]
    assert "audio" not in added[0]["item"]["content"][0]
    (retrieved,) = h.send("conversation.item.retrieve", item_id=user_id)
    assert retrieved["type"] == "conversation.item.retrieved"
    assert base64.b64decode(retrieved["item"]["content"][0]["audio"]) == pcm
    events = h.send("response.create")
    done = events[-1]["response"]
    assert done["output"][0]["content"][0] == {
        "type": "output_audio",
        "transcript": "I heard 0.3 seconds of audio.",
    }
    (retrieved,) = h.send("conversation.item.retrieve", item_id=done["output"][0]["id"])
    part = retrieved["item"]["content"][0]
    assert part["transcript"] == "I heard 0.3 seconds of audio." and len(base64.b64decode(part["audio"])) == 48 * 600
    err = error(h.send("conversation.item.retrieve", event_id="r", item_id="item_nope"))
    assert err["event_id"] == "r" and err["param"] == "item_id"


def test_truncate_bounds_and_transcript_removal(h: Harness) -> None:
    h.say("a b c d e")
    assistant = h.send("response.create")[-1]["response"]["output"][0]  # "You said: a b c d e" = 7 words
    err = error(
        h.send(
            "conversation.item.truncate",
            event_id="t",
            item_id=assistant["id"],
            content_index=0,
            audio_end_ms=800,
        )
    )
    assert err == {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "message": "Audio content of 700ms is already shorter than 800ms",
        "param": "audio_end_ms",
        "event_id": "t",
    }
    (truncated,) = h.send("conversation.item.truncate", item_id=assistant["id"], content_index=0, audio_end_ms=250)
    assert truncated == {
        "type": "conversation.item.truncated",
        "event_id": truncated["event_id"],
        "item_id": assistant["id"],
        "content_index": 0,
        "audio_end_ms": 250,
    }
    (retrieved,) = h.send("conversation.item.retrieve", item_id=assistant["id"])
    part = retrieved["item"]["content"][0]
    assert "transcript" not in part and len(base64.b64decode(part["audio"])) == 250 * 48
    user_id = h.engine.conversation[0]["id"]
    err = error(h.send("conversation.item.truncate", item_id=user_id, content_index=0, audio_end_ms=0))
    assert err["message"] == "Only model output audio messages can be truncated"


def test_delete(h: Harness) -> None:
    item_id = h.say("x")[0]["item"]["id"]
    (deleted,) = h.send("conversation.item.delete", item_id=item_id)
    assert deleted["type"] == "conversation.item.deleted" and deleted["item_id"] == item_id
    assert h.engine.conversation == []
    assert error(h.send("conversation.item.delete", item_id=item_id))["param"] == "item_id"


# ------------------------------------------------------------------------------------------ input audio


def test_push_to_talk_buffer(h: Harness) -> None:
    h.send("session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
    assert h.append(tone(50)) == []  # no ack, no VAD
    err = error(h.send("input_audio_buffer.commit", event_id="c"))
    assert err["code"] == "input_audio_buffer_commit_empty" and err["event_id"] == "c"
    assert err["message"] == (
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
        "but buffer only has 50.00ms of audio."
    )
    assert h.append(tone(500)) == []
    events = h.send("input_audio_buffer.commit")
    assert types(events) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    item = events[1]["item"]
    assert events[0]["item_id"] == item["id"] and item["content"] == [{"type": "input_audio", "transcript": None}]
    (retrieved,) = h.send("conversation.item.retrieve", item_id=item["id"])
    assert len(base64.b64decode(retrieved["item"]["content"][0]["audio"])) == 550 * 48
    h.append(tone(200))
    assert types(h.send("input_audio_buffer.clear")) == ["input_audio_buffer.cleared"]
    assert error(h.send("input_audio_buffer.commit"))["code"] == "input_audio_buffer_commit_empty"
    assert error(h.send("input_audio_buffer.append", audio="@@@"))["param"] == "audio"


def test_server_vad_turn_with_real_speech(h: Harness) -> None:
    from rtwidget.server.voice import default_voice

    speech = default_voice().synthesize("Hello there, how are you today?", voice="alloy")
    h.send(
        "session.update",
        session={"type": "realtime", "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}},
    )
    events = h.append(silence(1000) + speech + silence(600))
    assert types(events)[:7] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.delta",
    ]
    started, stopped, committed, added = events[:4]
    item_id = added["item"]["id"]
    assert started["item_id"] == stopped["item_id"] == committed["item_id"] == item_id
    speech_ms = len(speech) // 48
    assert 1000 - 300 - 60 <= started["audio_start_ms"] <= 1000
    assert 1000 + speech_ms <= stopped["audio_end_ms"] <= 1000 + speech_ms + 300
    completed = next(e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed")
    heard_ms = stopped["audio_end_ms"] - started["audio_start_ms"]
    assert completed["transcript"] == f"[{heard_ms / 1000:.1f} seconds of audio]"
    assert completed["usage"]["type"] == "tokens"
    (retrieved,) = h.send("conversation.item.retrieve", item_id=item_id)
    assert len(base64.b64decode(retrieved["item"]["content"][0]["audio"])) == heard_ms * 48
    assert retrieved["item"]["content"][0]["transcript"] == completed["transcript"]
    # create_response: a response follows the commit and answers with the duration.
    done = next(e for e in events if e["type"] == "response.done")
    assert (
        done["response"]["output"][0]["content"][0]["transcript"] == f"I heard {heard_ms / 1000:.1f} seconds of audio."
    )
    # Input audio tokens counted: 100 ms per token.
    assert done["response"]["usage"]["input_token_details"]["audio_tokens"] == -(-heard_ms // 100)


def test_server_vad_without_create_response_and_semantic_vad(h: Harness) -> None:
    td = {"type": "server_vad", "create_response": False}
    h.send("session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": td}}})
    events = h.append(silence(400) + tone(600) + silence(400))
    assert "input_audio_buffer.committed" in types(events) and "response.created" not in types(events)
    (updated,) = h.send(
        "session.update",
        session={
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}},
        },
    )
    assert updated["session"]["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "low",
        "create_response": True,
        "interrupt_response": True,
    }
    assert h.engine._input.vad.silence_duration_ms == SEMANTIC_SILENCE_MS["low"] == 1000
    # 600 ms of silence is not the end of a turn for eagerness low; 1000 ms is.
    events = h.append(tone(600) + silence(700))
    assert types(events) == ["input_audio_buffer.speech_started"]
    events = h.append(silence(400))
    assert types(events)[:3] == [
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
    ]
    assert "response.done" in types(events)


def test_barge_in_cancels_the_response_with_turn_detected() -> None:
    h = Harness(pace="realtime")
    h.start()
    h.say("one two three four five six seven eight nine ten eleven twelve thirteen")
    head = h.send("response.create")
    assert types(head)[:2] == ["response.created", "rate_limits.updated"]
    head += h.advance(0.3)
    events = h.append(tone(400) + silence(50))
    assert types(events)[0] == "input_audio_buffer.speech_started"
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["status"] == "cancelled" and done["status_details"] == {
        "type": "cancelled",
        "reason": "turn_detected",
    }
    assistant = done["output"][0]
    assert assistant["status"] == "incomplete"
    sent = sum(len(base64.b64decode(e["delta"])) for e in head + events if e["type"] == "response.output_audio.delta")
    assert 0 < sent < 15 * 100 * 48
    transcript = "".join(e["delta"] for e in head + events if e["type"] == "response.output_audio_transcript.delta")
    assert assistant["content"][0]["transcript"] == transcript
    (retrieved,) = h.send("conversation.item.retrieve", item_id=assistant["id"])
    assert len(base64.b64decode(retrieved["item"]["content"][0]["audio"])) == sent
    assert done["usage"]["output_token_details"]["audio_tokens"] == -(-(sent // 48) // 50)
    # Truncating beyond what was sent is refused; within it works.
    sent_ms = sent // 48
    assert (
        error(
            h.send(
                "conversation.item.truncate",
                item_id=assistant["id"],
                content_index=0,
                audio_end_ms=sent_ms + 1,
            )
        )["code"]
        == "invalid_value"
    )
    assert types(
        h.send("conversation.item.truncate", item_id=assistant["id"], content_index=0, audio_end_ms=sent_ms)
    ) == ["conversation.item.truncated"]


def test_idle_timeout_commits_and_responds() -> None:
    h = Harness(pace="fast")
    h.start()
    td = {"type": "server_vad", "idle_timeout_ms": 5000}
    h.send("session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": td}}})
    h.say("hi")
    h.send("response.create")  # "You said: hi" = 300 ms of audio
    h.append(silence(200))
    deadline = h.engine.next_deadline()
    assert deadline == pytest.approx(T0 + 0.3 + 5.0)
    assert h.advance(5.2) == []
    events = h.advance(0.2)
    assert types(events)[:4] == [
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert events[0]["item_id"] == events[1]["item_id"] and events[0]["audio_end_ms"] == 200
    assert "response.done" in types(events)


# ------------------------------------------------------------------------------------------ responses


AUDIO_ORDER = [
    "response.created",
    "rate_limits.updated",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
]
AUDIO_TAIL = [
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
]


def test_audio_response_events_in_the_real_order(h: Harness) -> None:
    h.say("Hello")
    events = h.send("response.create", event_id="rc")
    names = types(events)
    assert names[:5] == AUDIO_ORDER and names[-6:] == AUDIO_TAIL
    middle = names[5:-6]
    assert set(middle) == {"response.output_audio.delta", "response.output_audio_transcript.delta"}
    assert middle[0] == "response.output_audio_transcript.delta"  # interleaved, text first
    created = events[0]["response"]
    assert created["status"] == "in_progress" and created["output"] == [] and created["usage"] is None
    assert created["conversation_id"].startswith("conv_") and created["id"].startswith("resp_")
    assert events[4]["part"] == {"type": "audio", "transcript": ""}
    item_added = events[2]["item"]
    assert item_added["status"] == "in_progress" and item_added["content"] == []
    done = events[-1]["response"]
    assert done["status"] == "completed" and done["status_details"] == {"type": "completed"}
    assert done["output"][0]["content"] == [{"type": "output_audio", "transcript": "You said: Hello"}]
    assert done["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}
    usage = done["usage"]
    assert usage["output_token_details"] == {"text_tokens": 4, "audio_tokens": 6}  # 15 chars; 300 ms
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["input_token_details"]["cached_tokens_details"] == {
        "text_tokens": 0,
        "audio_tokens": 0,
        "image_tokens": 0,
    }
    limits = events[1]["rate_limits"]
    assert [r["name"] for r in limits] == ["requests", "tokens"]
    transcript_done = events[names.index("response.output_audio_transcript.done")]
    assert transcript_done["transcript"] == "You said: Hello"


def test_text_response_and_max_output_tokens(h: Harness) -> None:
    h.say("one two three four five six seven eight")
    events = h.send("response.create", response={"output_modalities": ["text"]})
    names = types(events)
    assert names[4] == "response.content_part.added" and events[4]["part"] == {"type": "text", "text": ""}
    assert names[-6:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ][-6:] or names[-5:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "You said: one two three four five six seven eight"
    assert events[-1]["response"]["output"][0]["content"] == [{"type": "output_text", "text": text}]
    events = h.send("response.create", response={"output_modalities": ["text"], "max_output_tokens": 5})
    done = events[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert done["usage"]["output_tokens"] <= 5


def test_one_active_response_and_cancel_errors() -> None:
    h = Harness(pace="realtime")
    h.start()
    h.say("hello there")
    h.send("response.create")
    err = error(h.send("response.create", event_id="second"))
    assert err["code"] == "conversation_already_has_active_response" and err["event_id"] == "second"
    assert h.engine.active_response_id is not None and h.engine.active_response_id in err["message"]
    events = h.send("response.cancel", event_id="c1")
    done = events[-1]
    assert done["type"] == "response.done" and done["response"]["status_details"]["reason"] == "client_cancelled"
    err = error(h.send("response.cancel", event_id="c2"))
    assert err == {
        "type": "invalid_request_error",
        "code": "response_cancel_not_active",
        "message": "Cancellation failed: no active response found",
        "param": None,
        "event_id": "c2",
    }


def test_realtime_pacing_releases_audio_over_time() -> None:
    h = Harness(pace="realtime")
    h.start()
    h.say("w " * 19)  # "You said: " + 19 words = 21 words = 2.1 s of audio, 21 chunks
    head = h.send("response.create")
    assert types(head).count("response.output_audio.delta") == 3  # chunks 0-2 are inside the 250 ms lead
    assert h.engine.next_deadline() == pytest.approx(T0 + 0.05)
    counts = [types(h.advance(0.5)).count("response.output_audio.delta") for _ in range(4)]
    assert counts == [5, 5, 5, 3]
    assert h.engine.active_response_id is None and h.engine.next_deadline() == pytest.approx(T0 + 3600)


def test_out_of_band_responses_run_in_parallel_and_leave_the_conversation_alone() -> None:
    h = Harness(pace="realtime")
    h.start()
    first = h.say("remember this")[0]["item"]
    h.send("response.create")
    conversation_before = [i["id"] for i in h.engine.conversation]
    oob = h.send(
        "response.create",
        response={
            "conversation": "none",
            "metadata": {"purpose": "summary"},
            "output_modalities": ["text"],
            "input": [
                {"type": "item_reference", "id": first["id"]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "summarize"}]},
            ],
        },
    )
    created = oob[0]["response"]
    assert created["conversation_id"] is None and created["metadata"] == {"purpose": "summary"}
    events = oob + h.advance(5)
    oob_events = [
        e for e in events if e.get("response_id") == created["id"] or e.get("response", {}).get("id") == created["id"]
    ]
    assert "conversation.item.added" not in types(oob_events)
    text = "".join(e["delta"] for e in oob_events if e["type"] == "response.output_text.delta")
    assert text == "You said: summarize"
    dones = [e["response"] for e in events if e["type"] == "response.done"]
    assert len(dones) == 2 and {d["metadata"] and d["metadata"].get("purpose") for d in dones} == {
        "summary",
        None,
    }
    assert [i["id"] for i in h.engine.conversation] == conversation_before
    # input: [] is an empty context.
    events = h.send("response.create", response={"conversation": "none", "input": [], "output_modalities": ["text"]})
    events += h.advance(5)
    assert events[-1]["response"]["output"][0]["content"][0]["text"].startswith("Hello!")
    err = error(
        h.send(
            "response.create",
            response={"conversation": "none", "input": [{"type": "item_reference", "id": "nope"}]},
        )
    )
    assert err["param"] == "response.input[0].id"


def test_function_calls_in_the_order_named_then_results_read_back(h: Harness) -> None:
    h.send("session.update", session={"type": "realtime", "tools": TOOLS})
    h.say("What time is it? get_time, then get weather city='New York' days=3")
    events = h.send("response.create")
    assert types(events)[:6] == [
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
    ]
    added = events[2]["item"]
    assert added["type"] == "function_call" and added["arguments"] == "" and added["status"] == "in_progress"
    dones = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [d["name"] for d in dones] == ["get_time", "get_weather"]
    assert [json.loads(d["arguments"]) for d in dones] == [{}, {"city": "New York", "days": 3}]
    output = events[-1]["response"]["output"]
    assert [o["type"] for o in output] == ["function_call", "function_call"] and output[1]["status"] == "completed"
    assert [o["call_id"] for o in output] == [d["call_id"] for d in dones]
    for call, result in zip(output, ['"12:00"', '{"temp_c": 21}'], strict=True):
        h.send(
            "conversation.item.create",
            item={"type": "function_call_output", "call_id": call["call_id"], "output": result},
        )
    done = h.send("response.create")[-1]["response"]
    assert done["output"][0]["content"][0]["transcript"] == (
        'get_time returned: "12:00". get_weather returned: {"temp_c": 21}.'
    )


def test_tool_choice_none_and_forced(h: Harness) -> None:
    h.send("session.update", session={"type": "realtime", "tools": TOOLS, "tool_choice": "none"})
    h.say("get_time please")
    assert h.send("response.create")[-1]["response"]["output"][0]["type"] == "message"
    done = h.send("response.create", response={"tool_choice": {"type": "function", "name": "get_weather"}})[-1]
    assert done["response"]["output"][0]["name"] == "get_weather"


# ------------------------------------------------------------------------------------------ dialects


def test_beta_refusal() -> None:
    h = Harness()
    h.engine.reject_beta()
    (err,) = h.drain()
    assert err["error"]["code"] == "beta_api_shape_disabled" and err["error"]["type"] == "invalid_request_error"
    assert err["error"]["message"].startswith("The Realtime Beta API is no longer supported")
    assert h.engine.close_code == 4000
    assert h.send("response.create") == []


def test_beta_dialect() -> None:
    h = Harness(dialect="beta")
    (created,) = h.start()
    session = created["session"]
    assert session["modalities"] == ["text", "audio"] and session["voice"] == "marin"
    assert session["input_audio_format"] == "pcm16" and "audio" not in session and session["temperature"] == 0.8
    (updated,) = h.send(
        "session.update",
        session={"modalities": ["text"], "voice": "alloy", "temperature": 0.7, "tools": TOOLS},
    )
    assert updated["session"]["modalities"] == ["text"] and updated["session"]["voice"] == "alloy"
    events = h.send(
        "conversation.item.create",
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    )
    assert types(events) == ["conversation.item.created"]
    events = h.send("response.create", response={"modalities": ["text", "audio"]})
    names = types(events)
    assert "response.audio.delta" in names and "response.audio_transcript.done" in names
    assert "conversation.item.added" not in names and "conversation.item.created" in names
    part = next(e for e in events if e["type"] == "response.content_part.added")["part"]
    assert part["type"] == "audio"
    assert events[-1]["response"]["modalities"] == ["text", "audio"]
    assert events[-1]["response"]["output"][0]["content"][0]["type"] == "audio"
    h.say("get_time now")
    events = h.send("response.create")
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert "name" not in done
    h.say("plain words")
    text = h.send("response.create", response={"modalities": ["text"]})
    assert "response.text.delta" in types(text)


def test_envelope_both_ways() -> None:
    h = Harness(envelope=True)
    (created,) = h.start()
    assert created["type"] == "realtime.session.created" and created["data"]["session"]["object"] == "realtime.session"
    content = [{"type": "input_text", "text": "hi"}]
    events = h.raw(
        json.dumps(
            {
                "type": "realtime.conversation.item.create",
                "data": {"item": {"type": "message", "role": "user", "content": content}},
            }
        )
    )
    assert types(events) == ["realtime.conversation.item.added", "realtime.conversation.item.done"]
    assert all("event_id" in e["data"] for e in events)
    # Plain events are accepted too.
    assert types(h.send("input_audio_buffer.clear")) == ["realtime.input_audio_buffer.cleared"]


# ------------------------------------------------------------------------------------------ scripts


def test_script_fail_error_emit_and_disconnect() -> None:
    script = (
        Script()
        .emit(
            [
                {
                    "type": "conversation.created",
                    "conversation": {"id": "conv_x", "object": "realtime.conversation"},
                }
            ]
        )
        .fail("response.create", code="server_error", message="boom", type="server_error")
        .error_after(8, code="rate_limit_exceeded", message="slow down")
        .disconnect_after(12, code=1011, reason="scripted")
    )
    h = Harness(script=script)
    events = h.start()
    assert types(events) == ["session.created", "conversation.created"] and events[1]["event_id"].startswith("event_")
    h.say("hi")
    err = error(h.send("response.create", event_id="first"))
    assert err == {
        "type": "server_error",
        "code": "server_error",
        "message": "boom",
        "param": None,
        "event_id": "first",
    }
    events = h.send("response.create")  # the second one is handled
    assert "response.created" in types(events)
    assert h.engine.events_sent == 12 and h.engine.close_code == 1011 and h.engine.close_reason == "scripted"
    assert any(e["type"] == "error" and e["error"]["code"] == "rate_limit_exceeded" for e in events)
    assert h.send("response.create") == [] and h.engine.next_deadline() is None


def test_script_from_json_with_placeholders_and_delay() -> None:
    script = Script.from_json(
        json.dumps(
            {
                "pace": "fast",
                "rules": [
                    {
                        "on": "conversation.item.create",
                        "delay_ms": 500,
                        "emit": [{"type": "conversation.item.deleted", "item_id": "$item_id"}],
                    }
                ],
            }
        )
    )
    assert Script.from_dict(script.to_dict()) == script
    h = Harness(pace="realtime", script=script)
    h.start()
    assert h.engine.pace == "fast"
    item_id = h.say("x")[0]["item"]["id"]
    assert h.engine.next_deadline() == pytest.approx(T0 + 0.5)
    (deleted,) = h.advance(0.5)
    assert deleted["item_id"] == item_id
    with pytest.raises(ValueError, match="trigger"):
        Script.from_dict({"rules": [{"emit": []}]})
    with pytest.raises(ValueError, match="unknown script rule keys"):
        Script.from_dict({"rules": [{"on": "x", "explode": {}}]})


def test_session_expires() -> None:
    h = Harness(session_minutes=1)
    h.start()
    assert h.engine.next_deadline() == pytest.approx(T0 + 60)
    (err,) = h.advance(60)
    assert err["error"]["code"] == "session_expired"
    assert err["error"]["message"] == "Your session hit the maximum duration of 1 minutes."
    assert h.engine.close_code == 1000
