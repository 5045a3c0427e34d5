"""The engine facade: client JSON decoded and refused, dialects and envelope at the edge, scripts, expiry."""

from __future__ import annotations

import json

import pytest

from rtwidget.protocol.event_types import GA_CLIENT_EVENTS
from rtwidget.server import LocalServer
from rtwidget.server.script import Script

from .engine_harness import T0, TOOLS, Harness, error, types


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


@pytest.mark.parametrize("etype", sorted(GA_CLIENT_EVENTS))
def test_every_client_event_reaches_a_handler(h: Harness, etype: str) -> None:
    # Even with no fields, each GA client event gets the answer of its own handler, never a server_error.
    events = h.send(etype, event_id="x")
    assert [e for e in events if e["type"] == "error" and e["error"]["code"] == "server_error"] == []
    assert [e["error"]["event_id"] for e in events if e["type"] == "error"] in ([], ["x"])


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


def test_script_rules_for_one_connection_and_a_reset_without_close_frame() -> None:
    script = Script().disconnect_after(3, code=1011, reset=True, connection=2)
    assert Script.from_dict(script.to_dict()) == script
    first = Harness(script=script)  # connection 1: the rule is not for it
    first.start()
    first.say("hi")
    assert first.engine.close_code is None
    second = Harness(script=script, connection=2)
    second.start()
    second.say("hi")
    assert second.engine.close_code == 1011 and second.engine.close_reset
    with pytest.raises(ValueError, match="connection counts the server's connections from 1"):
        Script.from_dict({"rules": [{"after_events": 1, "disconnect": {}, "connection": 0}]})


def test_session_expires_after_a_fraction_of_a_minute() -> None:
    h = Harness(session_minutes=0.1)
    (created,) = h.start()
    assert created["session"]["expires_at"] == int(T0 + 6)
    (err,) = h.advance(6)
    assert err["error"]["message"] == "Your session hit the maximum duration of 0.1 minutes."
    with pytest.raises(ValueError, match="session_minutes must be a positive number"):
        LocalServer(session_minutes=0)
