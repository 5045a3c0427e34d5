"""connection: the reply rule (exactly one response.create after the outputs), history loading, robustness."""

import base64
import json

import pytest

from rtwidget.protocol.connection import Connection, elide_audio
from rtwidget.protocol.events import InvalidEvent, UnknownEvent

from . import wire_events as S
from .connection_helpers import feed, sent

# ---------------------------------------------------------------------------------- the reply rule


def test_function_call_round_trip() -> None:
    conn = Connection()
    conn.send_text("Weather in Oslo and Rome?")
    calls = [
        ("item_fc1", "call_1", "get_weather", '{"city": "Oslo"}'),
        ("item_fc2", "call_2", "get_weather", '{"city": "Rome"}'),
    ]
    feed(
        conn,
        S.item_added(S.user_text_item("item_u1", "Weather in Oslo and Rome?"), previous_item_id=None),
        *S.function_call_turn("resp_1", calls, previous_item_id="item_u1"),
    )
    to_run = conn.function_calls_to_run()
    assert [(c.call_id, c.name, json.loads(c.arguments)["city"]) for c in to_run] == [
        ("call_1", "get_weather", "Oslo"),
        ("call_2", "get_weather", "Rome"),
    ]
    assert conn.function_calls_to_run() == []  # handed out once
    sent(conn)
    conn.function_output("call_1", {"temp_c": 4})
    assert conn.reply_if_due() is None  # call_2 still owed
    conn.function_output("call_2", "sunny, 24 C")
    reply_id = conn.reply_if_due()
    assert reply_id is not None
    assert conn.reply_if_due() is None  # exactly one
    wire = sent(conn)
    assert [e["type"] for e in wire] == [
        "conversation.item.create",
        "conversation.item.create",
        "response.create",
    ]
    assert wire[0]["item"] == {
        "id": "item_" + wire[0]["event_id"].removeprefix("evt_"),  # every created item carries the client's id
        "type": "function_call_output",
        "call_id": "call_1",
        "output": '{"temp_c": 4}',
    }
    assert wire[1]["item"]["output"] == "sunny, 24 C"
    assert wire[2] == {"type": "response.create", "event_id": reply_id}
    feed(
        conn,
        S.item_added(S.function_output_item("item_o1", "call_1", '{"temp_c": 4}'), previous_item_id="item_fc2"),
        S.item_added(S.function_output_item("item_o2", "call_2", "sunny, 24 C"), previous_item_id="item_o1"),
        *S.text_turn("resp_2", "item_a", ["Cold in Oslo, warm in Rome."], previous_item_id="item_o2"),
    )
    assert conn.reply_if_due() is None
    assert [i.id for i in conn.conversation.items] == [
        "item_u1",
        "item_fc1",
        "item_fc2",
        "item_o1",
        "item_o2",
        "item_a",
    ]


def test_function_output_without_reply() -> None:
    conn = Connection()
    feed(conn, *S.function_call_turn("resp_1", [("item_fc", "call_1", "log", "{}")], previous_item_id=None))
    conn.function_calls_to_run()
    conn.function_output("call_1", None, reply=False)
    assert conn.reply_if_due() is None
    [event] = sent(conn)
    assert event["item"]["output"] == "null"


def test_vad_response_racing_a_tool_output() -> None:
    conn = Connection()
    feed(
        conn,
        *S.function_call_turn("resp_1", [("item_fc", "call_1", "slow_tool", "{}")], previous_item_id=None),
    )
    [call] = conn.function_calls_to_run()
    feed(conn, S.response_created("resp_vad"))  # the user spoke while the tool ran
    conn.function_output(call.call_id, {"ok": True})
    assert conn.reply_if_due() is None
    feed(
        conn,
        S.item_added(S.function_output_item("item_o", "call_1", '{"ok": true}'), previous_item_id="item_fc"),
    )
    feed(conn, S.response_done("resp_vad"))
    assert conn.reply_if_due() is not None


def test_a_create_refused_because_of_a_vad_response_is_sent_again_after_it() -> None:
    """The reply went out when nothing looked busy, but the server had already started a VAD response
    (before our output landed) and refuses our create. The error is linked to the create, the output is
    still owed its reply, and exactly one create goes out once that response is done."""
    conn = Connection()
    feed(conn, *S.function_call_turn("resp_1", [("item_fc", "call_1", "lookup", "{}")], previous_item_id=None))
    [call] = conn.function_calls_to_run()
    conn.function_output(call.call_id, "found it")
    create_id = conn.reply_if_due()
    assert create_id is not None
    [error] = feed(
        conn,
        S.response_created("resp_vad"),
        S.item_added(S.function_output_item("item_o", "call_1", "found it"), previous_item_id="item_fc"),
        S.error("conversation_already_has_active_response", event_id=create_id),
    )[-1:]
    assert error.cause is not None
    assert error.cause["type"] == "response.create"
    assert conn.reply_if_due() is None  # resp_vad is still running
    feed(conn, *S.audio_turn("resp_vad", "item_a", [(480, "Yes?")], previous_item_id="item_o")[1:])
    assert conn.reply_if_due() is not None
    assert conn.reply_if_due() is None


def test_calls_from_two_responses_get_one_reply() -> None:
    conn = Connection()
    feed(conn, *S.function_call_turn("resp_1", [("item_fc1", "call_1", "a", "{}")], previous_item_id=None))
    feed(
        conn,
        *S.function_call_turn("resp_2", [("item_fc2", "call_2", "b", "{}")], previous_item_id="item_fc1"),
    )
    assert [c.call_id for c in conn.function_calls_to_run()] == ["call_1", "call_2"]
    conn.function_output("call_2", "two")
    assert conn.reply_if_due() is None
    conn.function_output("call_1", "one")
    assert conn.reply_if_due() is not None
    assert conn.reply_if_due() is None


# ----------------------------------------------------------------------------------------- history


def test_load_history_ga() -> None:
    conn = Connection()
    ids = conn.load_history(
        [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Hi"},
            {
                "role": "assistant",
                "content": "Hello!",
                "tool_calls": [{"id": "call_1", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": {"done": True}},
        ]
    )
    wire = sent(conn)
    assert [e["event_id"] for e in wire] == ids
    assert [e["item"].get("id") for e in wire] == ["item_" + i.removeprefix("evt_") for i in ids]
    items = [{k: v for k, v in e["item"].items() if k != "id"} for e in wire]
    assert items == [
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Be kind."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello!"}]},
        {"type": "function_call", "name": "f", "call_id": "call_1", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"done": true}'},
    ]
    assert conn.reply_if_due() is None  # history outputs ask for no reply


def test_load_history_refuses_bad_messages() -> None:
    conn = Connection()
    with pytest.raises(ValueError, match=r"history\[0\]\.role"):
        conn.load_history([{"role": "narrator", "content": "Once"}])
    assert conn.data_to_send() == []


# -------------------------------------------------------------------------------------- robustness


def test_receive_text_never_raises() -> None:
    conn = Connection()
    assert isinstance(conn.receive_text("{not json"), InvalidEvent)
    assert isinstance(conn.receive_text(b"[1]"), InvalidEvent)
    assert isinstance(conn.receive_text('{"no": "type"}'), InvalidEvent)
    assert isinstance(conn.receive_text('{"type": "response.teleport"}'), UnknownEvent)
    odd = conn.receive_text('{"type": "response.created", "response": "oops"}')
    assert odd.type == "response.created"
    odd = conn.receive_text('{"type": "conversation.item.truncated", "item_id": "x", "audio_end_ms": "late"}')
    assert odd.type == "conversation.item.truncated"
    assert conn.tracker.active is None
    assert conn.conversation.items == []


def test_a_malformed_truncated_event_leaves_the_item_alone() -> None:
    conn = Connection()
    feed(conn, *S.audio_turn("resp_1", "item_a1", [(4800, "Hi.")], previous_item_id=None))
    conn.receive_text(json.dumps({**S.item_truncated("item_a1", 0), "audio_end_ms": "late"}))
    assert conn.conversation.get("item_a1").truncated_at_ms is None  # type: ignore[union-attr]


def test_reset_starts_a_new_server_session() -> None:
    conn = Connection()
    feed(
        conn,
        S.session_created(),
        *S.function_call_turn("resp_1", [("item_fc", "call_1", "f", "{}")], previous_item_id=None),
    )
    conn.append_audio(bytes(4800))
    conn.commit_audio()
    before = conn.new_event_id()
    conn.reset()
    assert (conn.session, conn.conversation.items, conn.tracker.owed, conn.function_calls_to_run()) == (
        {},
        [],
        {},
        [],
    )
    after = conn.new_event_id()
    assert after != before and after.rsplit("_", 1)[0] == before.rsplit("_", 1)[0]  # ids stay unique
    feed(conn, S.committed("item_new"))
    assert conn.conversation.get("item_new") is None  # the old commit is forgotten


def test_send_text_while_a_response_is_active_defers_the_reply() -> None:
    conn = Connection()
    conn.receive_text(S.wire(S.response_created("resp_vad")))  # a VAD-made response is running
    ids = conn.send_text("typed while the model talks")
    sent = [e["type"] for e, _ in conn.data_to_send()]
    assert sent == ["conversation.item.create"] and len(ids) == 1  # no create the server would refuse
    assert conn.tracker.reply_requested and not conn.tracker.response_due()
    assert conn.reply_if_due() is None
    conn.receive_text(S.wire(S.response_done("resp_vad")))
    assert conn.tracker.response_due()
    assert conn.reply_if_due() is not None
    assert [e["type"] for e, _ in conn.data_to_send()] == ["response.create"]
    assert not conn.tracker.reply_requested and conn.reply_if_due() is None


def test_elide_audio_covers_output_deltas_and_leaves_other_events_alone() -> None:
    delta = {"type": "response.output_audio.delta", "item_id": "i", "delta": S.b64(2400)}
    assert elide_audio(delta) == {"type": "response.output_audio.delta", "item_id": "i", "delta": "<2400 bytes>"}
    text_item = {"type": "conversation.item.create", "item": {"type": "message", "content": [{"text": "hi"}]}}
    assert elide_audio(text_item) is text_item  # no audio: no copy
    assert elide_audio({"type": "session.update"}) == {"type": "session.update"}


def test_send_audio_item_sends_one_input_audio_item_then_a_reply() -> None:
    conn = Connection()
    ids = conn.send_audio_item(b"\x01\x00" * 2400)
    sent = conn.data_to_send()
    assert len(ids) == 2 and [e["type"] for e, _ in sent] == ["conversation.item.create", "response.create"]
    part = sent[0][0]["item"]["content"][0]
    assert part["type"] == "input_audio" and len(base64.b64decode(part["audio"])) == 4800
    assert conn.send_audio_item(b"\x00\x00", respond=False) and len(conn.data_to_send()) == 1
