"""connection: the sans-I/O client. Client events in -> validated wire text out; server text in -> events
and state; error linking, audio bookkeeping, truncation, the reply rule and both dialects."""

from __future__ import annotations

import json
import re

import pytest

from rtwidget.protocol.connection import PENDING_LIMIT, Connection, error_code
from rtwidget.protocol.errors import ClientEventError
from rtwidget.protocol.server_errors import HARMLESS_ERROR_CODES, TERMINAL_ERROR_CODES

from . import wire_events as S
from .connection_helpers import feed, sent

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
        "item": {
            "id": "item_" + item_id.removeprefix("evt_"),  # an id of the client's, to match the server's answer
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Hello"}],
        },
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
    assert error.cause["item"] == {"id": "item_" + event_id.removeprefix("evt_"), **item}  # the client's own id


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


def test_the_core_checks_truncate_and_send_text_arguments_itself() -> None:
    conn = Connection()
    for bad in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(ValueError, match="audio_end_ms must be a finite number"):
            conn.truncate("item_1", bad)
    with pytest.raises(TypeError, match="audio_end_ms must be a number of milliseconds"):
        conn.truncate("item_1", "12")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="item_id must not be empty"):
        conn.truncate("", 10)
    with pytest.raises(TypeError, match="text must be a str, not int"):
        conn.send_text(5)  # type: ignore[arg-type]
    assert conn.data_to_send() == []


def test_requeue_puts_drained_events_back_behind_what_must_go_first() -> None:
    conn = Connection()
    conn.send_text("hello", respond=False)
    early = conn.data_to_send()
    conn.update_session(instructions="first")
    conn.requeue(early)
    assert [e["type"] for e, _ in conn.data_to_send()] == ["session.update", "conversation.item.create"]


def test_items_sent_and_not_answered_are_known_until_added_or_refused() -> None:
    conn = Connection()
    first, _ = conn.send_text("one", respond=False), conn.send_text("two", respond=False)
    refused = conn.send({"type": "conversation.item.create", "item": S.user_text_item("item_mine", "three")})
    pairs = conn.data_to_send()
    assert [e["item"]["id"] for e, _ in conn.unanswered_items()] == [e["item"]["id"] for e, _ in pairs]
    added = S.user_text_item(pairs[0][0]["item"]["id"], "one")
    feed(conn, S.item_added(added), S.error("invalid_value", event_id=refused))
    assert [e["item"]["content"][0]["text"] for e, _ in conn.unanswered_items()] == ["two"]
    conn.reset()  # a new server session: nothing is pending there
    assert conn.unanswered_items() == [] and first
    conn.requeue(pairs[1:2], record=True)  # sent again on the new connection: known again
    assert [e["item"]["content"][0]["text"] for e, _ in conn.unanswered_items()] == ["two"]


def test_unanswered_items_are_bounded() -> None:
    conn = Connection()
    for n in range(PENDING_LIMIT + 5):
        conn.send_text(f"m{n}", respond=False)
    kept = conn.unanswered_items()
    assert len(kept) == PENDING_LIMIT and kept[0][0]["item"]["content"][0]["text"] == "m5"
