"""The engine's session: session.created with the full defaults, session.update merged, refused atomically."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .engine_harness import T0, TOOLS, Harness, error, types


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
