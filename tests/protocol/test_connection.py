"""connection: the sans-I/O client. Client events in -> validated wire text out; server text in -> events
and state; error linking, audio bookkeeping, truncation, the reply rule and both dialects."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from rtwidget.protocol.connection import PENDING_LIMIT, Connection, elide_audio, error_code
from rtwidget.protocol.errors import ClientEventError
from rtwidget.protocol.events import Event, InvalidEvent, UnknownEvent
from rtwidget.protocol.server_errors import HARMLESS_ERROR_CODES, TERMINAL_ERROR_CODES

from . import wire_events as S

Json = dict[str, Any]


def feed(conn: Connection, *events: Json) -> list[Event]:
    return [conn.receive_text(S.wire(event)) for event in events]


def sent(conn: Connection) -> list[Json]:
    """The wire JSON of everything queued since the last drain (and check event == text for GA)."""
    return [json.loads(text) for _, text in conn.data_to_send()]


# ----------------------------------------------------------------------------------- ids and queue


def test_event_ids_are_unique_and_prefixed() -> None:
    conn = Connection()
    ids = [conn.commit_audio() for _ in range(3)]
    assert len(set(ids)) == 3
    for n, event_id in enumerate(ids, start=1):
        assert re.fullmatch(rf"evt_rtw[0-9a-f]{{6}}_{n}", event_id)
    assert [e["event_id"] for e in sent(conn)] == ids
    other = Connection()
    assert other.new_event_id().rsplit("_", 1)[0] != ids[0].rsplit("_", 1)[0]


def test_a_chosen_event_id_is_kept() -> None:
    conn = Connection()
    assert conn.send({"type": "response.cancel", "event_id": "mine"}) == "mine"
    assert sent(conn) == [{"type": "response.cancel", "event_id": "mine"}]


def test_data_to_send_drains_in_order() -> None:
    conn = Connection()
    item_id, create_id = conn.send_text("Hello")
    pairs = conn.data_to_send()
    assert [event["event_id"] for event, _ in pairs] == [item_id, create_id]
    assert [json.loads(text) for _, text in pairs] == [event for event, _ in pairs]
    assert pairs[0][0] == {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello"}]},
        "event_id": item_id,
    }
    assert pairs[1][0] == {"type": "response.create", "event_id": create_id}
    assert conn.data_to_send() == []


def test_send_text_without_a_response() -> None:
    conn = Connection()
    assert len(conn.send_text("note to self", respond=False)) == 1
    assert [e["type"] for e in sent(conn)] == ["conversation.item.create"]


def test_a_refused_event_queues_nothing() -> None:
    conn = Connection()
    event = {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [{"type": "text", "text": "hi"}]},
    }
    with pytest.raises(ClientEventError, match=r"item\.content\[0\]\.type.*input_text"):
        conn.send(event)
    assert conn.data_to_send() == []
    assert "event_id" not in event  # the caller's dict is not touched
    assert conn.new_event_id().endswith("_1")  # no id was spent


def test_the_callers_event_is_not_mutated() -> None:
    conn = Connection()
    event = {"type": "input_audio_buffer.clear"}
    conn.send(event)
    assert event == {"type": "input_audio_buffer.clear"}


# ------------------------------------------------------------------------------------------ errors


def test_errors_are_linked_to_their_cause() -> None:
    conn = Connection()
    event_id = conn.send({"type": "conversation.item.delete", "item_id": "item_missing"})
    [error] = feed(conn, S.error("item_not_found", "Item not found", event_id=event_id))
    assert error.type == "error"
    assert error.cause == {
        "type": "conversation.item.delete",
        "item_id": "item_missing",
        "event_id": event_id,
    }
    assert error_code(error) == "item_not_found"


def test_error_causes_carry_no_audio_payload() -> None:
    conn = Connection()
    append_id = conn.append_audio(bytes(4800))
    item_id = conn.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "listen:"},
                    {"type": "input_audio", "audio": S.b64(9600)},
                ],
            },
        }
    )
    [append_error, item_error] = feed(
        conn, S.error("invalid_value", event_id=append_id), S.error("invalid_value", event_id=item_id)
    )
    assert append_error.cause == {
        "type": "input_audio_buffer.append",
        "audio": "<4800 bytes>",
        "event_id": append_id,
    }
    assert item_error.cause is not None
    assert item_error.cause["item"]["content"] == [
        {"type": "input_text", "text": "listen:"},
        {"type": "input_audio", "audio": "<9600 bytes>"},
    ]
    # what went on the wire still has the audio
    wire = sent(conn)
    assert wire[0]["audio"] == S.b64(4800)
    assert wire[1]["item"]["content"][1]["audio"] == S.b64(9600)


def test_odd_content_on_other_items_is_kept_in_the_cause() -> None:
    conn = Connection()
    item = {
        "type": "function_call",
        "name": "f",
        "arguments": "{}",
        "call_id": "c",
        "content": ["x", {"a": 1}],
    }
    event_id = conn.send({"type": "conversation.item.create", "item": item})
    [error] = feed(conn, S.error("invalid_value", event_id=event_id))
    assert error.cause is not None
    assert error.cause["item"] == item


def test_errors_without_a_known_cause() -> None:
    conn = Connection()
    conn.commit_audio()
    events = feed(
        conn,
        S.error("input_audio_buffer_commit_empty", event_id="evt_someone_else"),
        S.error("server_error"),
        {"type": "error", "event_id": "e", "error": "boom"},
    )
    assert [e.cause for e in events] == [None, None, None]
    assert [error_code(e) for e in events] == ["input_audio_buffer_commit_empty", "server_error", None]


def test_old_causes_are_forgotten() -> None:
    conn = Connection()
    first = conn.clear_audio()
    for _ in range(PENDING_LIMIT):
        conn.clear_audio()
    last = conn.clear_audio()
    first_error, last_error = feed(conn, S.error("x", event_id=first), S.error("x", event_id=last))
    assert first_error.cause is None
    assert last_error.cause is not None
    assert last_error.cause["event_id"] == last


def test_error_code_helper_and_code_sets() -> None:
    conn = Connection()
    [done] = feed(conn, S.response_done("resp_1"))
    assert error_code(done) is None
    [numeric] = feed(conn, {"type": "error", "error": {"code": 5}})
    assert error_code(numeric) is None
    assert "session_expired" in TERMINAL_ERROR_CODES
    assert "beta_api_shape_disabled" in TERMINAL_ERROR_CODES
    assert {"response_cancel_not_active"} == set(HARMLESS_ERROR_CODES)


def test_a_rejected_create_is_no_longer_pending() -> None:
    conn = Connection()
    create_id = conn.respond(instructions="hi")
    assert conn.tracker.busy
    feed(conn, S.error("conversation_already_has_active_response", event_id=create_id))
    assert not conn.tracker.busy


# ----------------------------------------------------------------------------------------- session


def test_session_created_and_updated() -> None:
    conn = Connection()
    assert (conn.session, conn.session_id, conn.expires_at) == ({}, None, None)
    assert conn.dialect == "ga"
    feed(conn, S.session_created(session_id="sess_abc", expires_at=1_900_000_123))
    assert conn.session_id == "sess_abc"
    assert conn.expires_at == 1_900_000_123
    feed(conn, S.session_updated(id="sess_abc", instructions="Be brief.", expires_at=1.9e9))
    assert conn.session["instructions"] == "Be brief."
    assert conn.expires_at == 1_900_000_000
    feed(conn, {"type": "session.updated", "session": None})
    assert conn.session["instructions"] == "Be brief."
    feed(conn, S.session_updated(id=7, expires_at="soon"))
    assert (conn.session_id, conn.expires_at) == (None, None)


def test_update_session_from_friendly_names() -> None:
    conn = Connection()
    conn.update_session(voice="marin", turn_detection=None, modalities=["text", "audio"], instructions="Hi")
    [event] = sent(conn)
    assert event["type"] == "session.update"
    assert event["session"] == {
        "type": "realtime",
        "audio": {"output": {"voice": "marin"}, "input": {"turn_detection": None}},
        "output_modalities": ["audio"],
        "instructions": "Hi",
    }


def test_a_beta_session_update_is_refused_on_ga() -> None:
    conn = Connection()
    with pytest.raises(ClientEventError, match=r"session\.voice: is a beta field.*session\.audio\.output\.voice"):
        conn.send({"type": "session.update", "session": {"voice": "alloy", "modalities": ["text", "audio"]}})
    with pytest.raises(ClientEventError, match=r"session\.type: is required in GA"):
        conn.send({"type": "session.update", "session": {"instructions": "x"}})


# ------------------------------------------------------------------------------- audio bookkeeping


def test_commit_bookkeeping_gives_the_user_item_its_duration() -> None:
    conn = Connection()
    for n_bytes in (4800, 4800, 2400):  # 100 + 100 + 50 ms
        conn.append_audio(bytes(n_bytes))
    conn.commit_audio()
    item = S.user_audio_item("item_u1")
    feed(conn, S.committed("item_u1"), S.item_added(item, previous_item_id=None), S.item_done(item))
    user = conn.conversation.get("item_u1")
    assert user is not None
    assert user.audio_ms == 250.0
    assert conn.conversation.items == [user]
    # the next turn starts from zero
    conn.append_audio(bytes(960))
    conn.commit_audio()
    feed(conn, S.committed("item_u2", "item_u1"))
    assert conn.conversation.get("item_u2").audio_ms == 20.0  # type: ignore[union-attr]


def test_clear_forgets_appended_audio() -> None:
    conn = Connection()
    conn.append_audio(bytes(48000))
    conn.clear_audio()
    conn.append_audio(bytes(4800))
    conn.commit_audio()
    feed(conn, S.committed("item_u1"))
    assert conn.conversation.get("item_u1").audio_ms == 100.0  # type: ignore[union-attr]


def test_vad_measure_is_kept_and_server_commits_need_no_client_commit() -> None:
    conn = Connection()
    conn.append_audio(bytes(48000))
    feed(conn, S.speech_started("item_u1", 200), S.speech_stopped("item_u1", 1700), S.committed("item_u1"))
    assert conn.conversation.get("item_u1").audio_ms == 1500.0  # type: ignore[union-attr]
    # a client commit whose item VAD already measured keeps the VAD figure
    conn.append_audio(bytes(4800))
    feed(conn, S.speech_started("item_u2", 3000), S.speech_stopped("item_u2", 3600))
    conn.commit_audio()
    feed(conn, S.committed("item_u2", "item_u1"))
    assert conn.conversation.get("item_u2").audio_ms == 600.0  # type: ignore[union-attr]
    feed(conn, {"type": "input_audio_buffer.committed", "item_id": None})
    assert len(conn.conversation.items) == 0  # committed alone does not place items


# -------------------------------------------------------------------------------------- truncation


def test_truncate_at_the_played_position() -> None:
    conn = Connection()
    feed(
        conn,
        *S.audio_turn("resp_1", "item_a1", [(24000, "Let me "), (24000, "explain.")], previous_item_id=None),
    )
    assert conn.conversation.get("item_a1").audio_ms == 1000.0  # type: ignore[union-attr]
    event_id = conn.truncate("item_a1", 420.9)
    assert sent(conn) == [
        {
            "type": "conversation.item.truncate",
            "item_id": "item_a1",
            "content_index": 0,
            "audio_end_ms": 420,
            "event_id": event_id,
        }
    ]
    feed(conn, S.item_truncated("item_a1", 420))
    assert conn.conversation.get("item_a1").truncated_at_ms == 420  # type: ignore[union-attr]


@pytest.mark.parametrize("played_ms", [1000, 1000.4, 1500])
def test_truncate_sends_nothing_when_everything_was_heard(played_ms: float) -> None:
    conn = Connection()
    feed(conn, *S.audio_turn("resp_1", "item_a1", [(48000, "Done.")], previous_item_id=None))
    assert conn.truncate("item_a1", played_ms) is None
    assert conn.data_to_send() == []


def test_truncate_clamps_negative_and_passes_unknown_items() -> None:
    conn = Connection()
    feed(conn, *S.audio_turn("resp_1", "item_a1", [(4800, "Hi.")], previous_item_id=None))
    conn.truncate("item_a1", -30)
    conn.truncate("item_elsewhere", 900, content_index=1)
    feed(conn, *S.text_turn("resp_2", "item_t", ["text only"], previous_item_id="item_a1"))
    conn.truncate("item_t", 50)
    assert [(e["item_id"], e["content_index"], e["audio_end_ms"]) for e in sent(conn)] == [
        ("item_a1", 0, 0),
        ("item_elsewhere", 1, 900),
        ("item_t", 0, 50),
    ]


def test_barge_in() -> None:
    """The user speaks over the answer: the server cancels it, the client truncates what was not heard."""
    conn = Connection()
    feed(conn, S.session_created())
    events = S.audio_turn("resp_1", "item_a1", [(24000, "Well, "), (24000, "the thing is")], previous_item_id=None)
    feed(conn, *events[:-4])  # audio streaming, not finished
    feed(
        conn,
        S.speech_started("item_u2", 5000),
        S.response_done(
            "resp_1",
            output=[S.assistant_item("item_a1", status="incomplete")],
            status="cancelled",
            status_details={"type": "cancelled", "reason": "turn_detected"},
        ),
    )
    assert conn.conversation.responses["resp_1"].status == "cancelled"
    assert not conn.tracker.busy
    assert conn.truncate("item_a1", 640) is not None
    feed(
        conn,
        S.item_truncated("item_a1", 640),
        S.speech_stopped("item_u2", 6200),
        S.committed("item_u2", "item_a1"),
    )
    assert conn.conversation.get("item_a1").truncated_at_ms == 640  # type: ignore[union-attr]
    assert conn.conversation.get("item_u2").audio_ms == 1200.0  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------- responses


def test_respond_with_friendly_parameters() -> None:
    conn = Connection()
    conn.respond(voice="cedar", modalities=["text", "audio"], max_response_output_tokens=200, instructions="Go.")
    conn.respond(output_modalities="text")
    first, second = sent(conn)
    assert first["response"] == {
        "audio": {"output": {"voice": "cedar"}},
        "output_modalities": ["audio"],
        "max_output_tokens": 200,
        "instructions": "Go.",
    }
    assert second["response"] == {"output_modalities": ["text"]}
    with pytest.raises(ClientEventError, match=r"response\.temperature.*remove it"):
        conn.respond(temperature=0.9)


def test_cancel() -> None:
    conn = Connection()
    conn.cancel()
    conn.cancel("resp_9")
    assert [e.get("response_id") for e in sent(conn)] == [None, "resp_9"]
    [error] = feed(conn, S.error("response_cancel_not_active"))
    assert error_code(error) in HARMLESS_ERROR_CODES


def test_respond_out_of_band() -> None:
    conn = Connection()
    feed(conn, S.item_added(S.user_text_item("item_u1", "Tell me a story."), previous_item_id=None))
    event_id = conn.respond_out_of_band(
        "Classify the mood.",
        input=["item_u1", "Answer in one word.", {"type": "item_reference", "id": "item_x"}],
        metadata={"purpose": "mood"},
        modalities=["text"],
    )
    [event] = sent(conn)
    assert event == {
        "type": "response.create",
        "event_id": event_id,
        "response": {
            "output_modalities": ["text"],
            "conversation": "none",
            "instructions": "Classify the mood.",
            "metadata": {"purpose": "mood", "rtwidget_request": event_id},
            "input": [
                {"type": "item_reference", "id": "item_u1"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Answer in one word."}],
                },
                {"type": "item_reference", "id": "item_x"},
            ],
        },
    }
    assert not conn.tracker.busy  # out-of-band never blocks the default conversation


def test_respond_out_of_band_minimal_and_refusals() -> None:
    conn = Connection()
    event_id = conn.respond_out_of_band()
    [event] = sent(conn)
    assert event["response"] == {"conversation": "none", "metadata": {"rtwidget_request": event_id}}
    with pytest.raises(TypeError, match="out-of-band input must be items, item ids or strings, not int"):
        conn.respond_out_of_band(input=[3])
    with pytest.raises(ClientEventError, match=r"response\.metadata\.n"):
        conn.respond_out_of_band(metadata={"n": 1})  # type: ignore[dict-item]
    assert conn.data_to_send() == []


def test_out_of_band_response_is_matched_by_metadata() -> None:
    conn = Connection()
    event_id = conn.respond_out_of_band("Summarize.")
    meta = {"rtwidget_request": event_id}
    final = S.assistant_item("item_s", status="completed", content=[{"type": "output_text", "text": "Short."}])
    feed(
        conn,
        S.response_created("resp_oob", conversation_id=None, metadata=meta),
        S.output_item_added("resp_oob", S.assistant_item("item_s")),
        S.text_delta("resp_oob", "item_s", "Short."),
        S.output_item_done("resp_oob", final),
        S.response_done("resp_oob", output=[final], conversation_id=None, metadata=meta),
    )
    [lane] = conn.conversation.out_of_band()
    assert lane.metadata == meta
    assert [conn.conversation.get(i).text for i in lane.item_ids] == ["Short."]  # type: ignore[union-attr]
    assert conn.conversation.items == []


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
    assert wire[0]["item"] == {"type": "function_call_output", "call_id": "call_1", "output": '{"temp_c": 4}'}
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
    items = [e["item"] for e in wire]
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


# -------------------------------------------------------------------------------------------- beta


def test_beta_connection_translates_outgoing_events() -> None:
    conn = Connection("beta")
    assert conn.dialect == "beta"
    conn.update_session(voice="alloy", modalities=["text"], input_audio_format="pcm16", turn_detection="server_vad")
    conn.respond(voice="echo", max_response_output_tokens=10)
    conn.load_history([{"role": "assistant", "content": "Earlier answer."}])
    conn.send(
        {
            "type": "session.update",
            "session": {"type": "transcription", "audio": {"input": {"format": {"type": "audio/pcmu"}}}},
        }
    )
    update, respond, history, transcription = sent(conn)
    assert update["session"] == {
        "voice": "alloy",
        "modalities": ["text"],
        "input_audio_format": "pcm16",
        "turn_detection": {"type": "server_vad"},
    }
    assert respond["response"] == {"voice": "echo", "max_response_output_tokens": 10}
    assert history["item"]["content"] == [{"type": "text", "text": "Earlier answer."}]
    assert transcription["type"] == "transcription_session.update"
    assert transcription["session"] == {"input_audio_format": "g711_ulaw"}


def test_beta_connection_accepts_beta_shaped_events() -> None:
    conn = Connection("beta")
    update_id = conn.send(
        {
            "type": "session.update",
            "session": {
                "modalities": ["text", "audio"],
                "voice": "shimmer",
                "input_audio_format": "g711_alaw",
            },
        }
    )
    conn.send(
        {
            "type": "transcription_session.update",
            "session": {"input_audio_transcription": {"model": "whisper-1"}},
        }
    )
    conn.send({"type": "response.create", "response": {"modalities": ["text"], "voice": "ash"}})
    conn.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "a"}]},
        }
    )
    pairs = conn.data_to_send()
    # kept in GA form inside (what error causes show) ...
    assert pairs[0][0]["session"]["audio"]["output"]["voice"] == "shimmer"
    assert pairs[3][0]["item"]["content"] == [{"type": "output_text", "text": "a"}]
    # ... and beta on the wire
    wire = [json.loads(text) for _, text in pairs]
    assert wire[0] == {
        "type": "session.update",
        "event_id": update_id,
        "session": {"modalities": ["text", "audio"], "voice": "shimmer", "input_audio_format": "g711_alaw"},
    }
    assert wire[1]["type"] == "transcription_session.update"
    assert wire[1]["session"] == {"input_audio_transcription": {"model": "whisper-1"}}
    assert wire[2]["response"] == {"modalities": ["text"], "voice": "ash"}
    assert wire[3]["item"]["content"] == [{"type": "text", "text": "a"}]


def test_beta_connection_still_refuses_invalid_events() -> None:
    conn = Connection("beta")
    with pytest.raises(ClientEventError, match=r"clients cannot create assistant audio"):
        conn.send(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "assistant", "content": [{"type": "audio"}]},
            }
        )
    with pytest.raises(ClientEventError, match="must be a dict"):
        conn.send("response.create")  # type: ignore[arg-type]


def test_beta_connection_reads_a_beta_server() -> None:
    conn = Connection("beta")
    feed(
        conn,
        {
            "type": "session.created",
            "event_id": "e0",
            "session": {
                "id": "sess_b",
                "object": "realtime.session",
                "modalities": ["text", "audio"],
                "voice": "alloy",
                "temperature": 0.8,
            },
        },
        {
            "type": "conversation.item.created",
            "event_id": "e1",
            "previous_item_id": None,
            "item": S.user_text_item("item_u", "Hi"),
        },
        {
            "type": "response.created",
            "event_id": "e2",
            "response": {"id": "resp_1", "conversation_id": "conv_1"},
        },
        {
            "type": "conversation.item.created",
            "event_id": "e3",
            "previous_item_id": "item_u",
            "item": S.assistant_item("item_a"),
        },
        {
            "type": "response.audio.delta",
            "event_id": "e4",
            "response_id": "resp_1",
            "item_id": "item_a",
            "content_index": 0,
            "delta": S.b64(4800),
        },
        {
            "type": "response.audio_transcript.delta",
            "event_id": "e5",
            "response_id": "resp_1",
            "item_id": "item_a",
            "content_index": 0,
            "delta": "Hey",
        },
        {
            "type": "response.done",
            "event_id": "e6",
            "response": {"id": "resp_1", "status": "completed", "conversation_id": "conv_1", "output": []},
        },
        {
            "type": "transcription_session.updated",
            "event_id": "e7",
            "session": {"input_audio_transcription": {"model": "whisper-1"}},
        },
    )
    assert conn.session == {
        "type": "transcription",
        "audio": {"input": {"transcription": {"model": "whisper-1"}}},
    }
    assert [i.id for i in conn.conversation.items] == ["item_u", "item_a"]
    assistant = conn.conversation.get("item_a")
    assert assistant is not None
    assert (assistant.text, assistant.audio_ms) == ("Hey", 100.0)
    assert not conn.tracker.busy


# ---------------------------------------------------------------------------------------- envelope


def test_envelope_connection() -> None:
    conn = Connection(envelope=True)
    event_id = conn.commit_audio()
    [(_, text)] = conn.data_to_send()
    assert json.loads(text) == {"type": "realtime.input_audio_buffer.commit", "data": {"event_id": event_id}}
    [event] = [
        conn.receive_text(json.dumps({"type": "realtime.response.created", "data": {"response": {"id": "resp_1"}}}))
    ]
    assert event.type == "response.created"
    assert conn.tracker.active == "resp_1"


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
