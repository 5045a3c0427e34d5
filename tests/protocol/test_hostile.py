"""The escapes the fuzzer found, one test each: a hostile server's message is an event, never an exception,
and never a giant allocation or a second run of a tool."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from rtwidget.protocol import connection as connection_module
from rtwidget.protocol import events as events_module
from rtwidget.protocol import tracker as tracker_module
from rtwidget.protocol.connection import Connection
from rtwidget.protocol.conversation import MAX_CONTENT_INDEX
from rtwidget.protocol.events import MAX_DEPTH, Codec, Event, InvalidEvent

from . import wire_events as S
from .connection_helpers import feed, sent
from .fuzz_strategies import deep

# ----------------------------------------------------------------------------------------- the codec


@pytest.mark.parametrize("kind", ["array", "object", "typed"])
def test_json_nested_100000_deep_is_an_invalid_event(kind: str) -> None:
    event = Codec().decode(deep(100_000, kind))
    assert isinstance(event, InvalidEvent)
    assert "nested too deeply" in event.reason


def test_an_event_deeper_than_max_depth_is_invalid_and_one_at_it_is_taken_and_printable() -> None:
    # deep(n, "typed"): the event object and n nested objects, n + 1 levels.
    taken = Codec().decode(deep(MAX_DEPTH - 1, "typed"))
    assert taken.type == "response.done" and "..." in repr(taken)
    event = Codec().decode(deep(MAX_DEPTH, "typed"))
    assert isinstance(event, InvalidEvent)
    assert event.reason == f"JSON nested more than {MAX_DEPTH} levels deep"
    # About the deepest Python's json reads (depending on the stack): its repr() used to raise RecursionError.
    event = Codec().decode(deep(980, "typed"))
    assert isinstance(event, InvalidEvent) and "nested" in event.reason
    repr(event)


def test_the_repr_of_a_hand_made_circular_event_does_not_raise() -> None:
    event = Event("x", {})
    event.data["self"] = event.data
    assert repr(event) == "<Event x <not printable>>"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_number_literals_are_invalid(literal: str) -> None:
    event = Codec().decode('{"type": "session.created", "session": {"expires_at": ' + literal + "}}")
    assert isinstance(event, InvalidEvent)
    assert f"{literal} is not a JSON number" in event.reason


def test_a_translation_that_fails_is_an_invalid_event_naming_the_type(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(event: S.Json) -> S.Json:
        raise AttributeError("'int' object has no attribute 'get'")

    monkeypatch.setattr(events_module, "server_event_to_ga", broken)
    event = Codec("beta").decode(json.dumps({"type": "response.done", "response": {"output": [5]}}))
    assert isinstance(event, InvalidEvent)
    assert event.reason.startswith("response.done not readable as a beta event: AttributeError")


# ------------------------------------------------------------------------------------ session expiry


@pytest.mark.parametrize("text", ["1e309", "-1e309", "1e30", "-5", "true", '"soon"', "null"])
def test_an_implausible_expiry_reads_as_none(text: str) -> None:
    conn = Connection()
    conn.receive_text('{"type": "session.created", "session": {"id": "sess_1", "expires_at": ' + text + "}}")
    assert conn.session_id == "sess_1"
    assert conn.expires_at is None


def test_a_plausible_expiry_is_an_int() -> None:
    conn = Connection()
    feed(conn, S.session_created(expires_at=1_900_000_000))
    assert conn.expires_at == 1_900_000_000
    conn.receive_text('{"type": "session.updated", "session": {"expires_at": 1900000000.5}}')
    assert conn.expires_at == 1_900_000_000


# ----------------------------------------------------------------------------------- content indexes


def _with_item() -> Connection:
    conn = Connection()
    feed(conn, S.response_created("resp_1"), S.output_item_added("resp_1", S.assistant_item("item_1")))
    return conn


@pytest.mark.parametrize("index", [10**6, 10**9, 10**18, MAX_CONTENT_INDEX + 1, -1, 1.5, "1", True, [0]])
def test_a_content_index_out_of_range_allocates_nothing_and_is_counted(index: object) -> None:
    conn = _with_item()
    delta = S.text_delta("resp_1", "item_1", "hi")
    feed(conn, {**delta, "content_index": index}, {**S.audio_delta("resp_1", "item_1", 4), "content_index": index})
    item = conn.conversation.get("item_1")
    assert item is not None and item.parts == []
    assert conn.conversation.refused_indexes == 2


def test_a_content_index_of_1e309_allocates_nothing() -> None:
    conn = _with_item()
    conn.receive_text(
        S.wire(S.text_delta("resp_1", "item_1", "hi")).replace('"content_index": 0', '"content_index": 1e309')
    )
    item = conn.conversation.get("item_1")
    assert item is not None and item.parts == []
    assert conn.conversation.refused_indexes == 1


def test_the_last_allowed_content_index_and_a_missing_one_are_taken() -> None:
    conn = _with_item()
    delta = S.text_delta("resp_1", "item_1", "hi")
    feed(conn, {**delta, "content_index": MAX_CONTENT_INDEX}, {**delta, "event_id": "e2", "content_index": None})
    item = conn.conversation.get("item_1")
    assert item is not None and len(item.parts) == MAX_CONTENT_INDEX + 1
    assert item.parts[0].text == "hi" and item.parts[MAX_CONTENT_INDEX].text == "hi"
    assert conn.conversation.refused_indexes == 0


def test_an_item_with_too_many_parts_keeps_the_first_ones() -> None:
    conn = Connection()
    content = [{"type": "output_text", "text": str(i)} for i in range(MAX_CONTENT_INDEX + 10)]
    feed(conn, S.item_added(S.assistant_item("item_1", content=content), previous_item_id=None))
    item = conn.conversation.get("item_1")
    assert item is not None and len(item.parts) == MAX_CONTENT_INDEX + 1


@pytest.mark.parametrize(("text", "expected"), [("1e309", None), ('"abc"', None), ("null", 0), ("-5", 0), ("250", 250)])
def test_truncation_takes_only_a_finite_number(text: str, expected: int | None) -> None:
    conn = _with_item()
    conn.receive_text('{"type": "conversation.item.truncated", "item_id": "item_1", "audio_end_ms": ' + text + "}")
    item = conn.conversation.get("item_1")
    assert item is not None and item.truncated_at_ms == expected


def test_item_and_response_fields_of_the_wrong_type_are_ignored() -> None:
    conn = Connection()
    item = S.function_call_item("item_1", "call_1", "tool", "{}")
    bent = {**item, "role": ["x"], "status": 5, "name": {"a": 1}, "call_id": 7, "type": None, "output": [1]}
    done = S.response_done("resp_1", output=[])
    done["response"] |= {"metadata": "m", "usage": [1], "status_details": 3}
    feed(conn, S.item_added(item, previous_item_id=None), S.item_added(bent, previous_item_id=None), done)
    got = conn.conversation.get("item_1")
    assert got is not None
    assert (got.type, got.name, got.call_id, got.output) == ("function_call", "tool", "call_1", None)
    feed(conn, {**S.arguments_done("resp_1", "item_1", "call_1", "tool", "{}"), "name": 5})
    assert got.name == "tool"
    lane = conn.conversation.responses["resp_1"]
    assert (lane.metadata, lane.usage, lane.status_details) == (None, None, None)


# ------------------------------------------------------------------------------------------ duplicates


def _call_turn(conn: Connection) -> list[S.Json]:
    conn.send_text("weather?")
    sent(conn)
    return S.function_call_turn("resp_1", [("item_fc", "call_1", "weather", "{}")], previous_item_id=None)


def test_the_same_event_id_twice_is_flagged_and_not_folded_again() -> None:
    conn = _with_item()
    delta = S.text_delta("resp_1", "item_1", "hi")
    first, second = feed(conn, delta, delta)
    assert not first.duplicate and second.duplicate
    item = conn.conversation.get("item_1")
    assert item is not None and item.text == "hi"


def test_response_done_delivered_twice_runs_the_tool_once_and_asks_once() -> None:
    conn = Connection()
    events = _call_turn(conn)
    feed(conn, *events)
    assert [c.call_id for c in conn.function_calls_to_run()] == ["call_1"]
    conn.function_output("call_1", "sunny")
    assert conn.reply_if_due() is not None
    sent(conn)
    # The same response.done again: once as the same event, once re-sent with a new event id.
    again = feed(conn, events[-1], {**events[-1], "event_id": "event_again"})
    assert [e.duplicate for e in again] == [True, True]
    assert conn.function_calls_to_run() == []
    assert conn.reply_if_due() is None
    assert sent(conn) == []


def test_a_call_named_again_by_another_response_is_not_handed_out_again() -> None:
    conn = Connection()
    events = _call_turn(conn)
    feed(conn, *events)
    assert len(conn.function_calls_to_run()) == 1
    done = events[-1]
    feed(conn, {**done, "event_id": "event_other", "response": {**done["response"], "id": "resp_2"}})
    assert conn.function_calls_to_run() == []


def test_remembered_ids_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_module, "SEEN_EVENTS_LIMIT", 2)
    monkeypatch.setattr(tracker_module, "DONE_LIMIT", 2)
    conn = Connection()
    for n in range(4):
        feed(conn, S.response_created(f"resp_{n}"), S.response_done(f"resp_{n}"))
    assert len(conn._seen) == 2
    assert list(conn.tracker._done) == ["resp_2", "resp_3"]
    # An id forgotten long ago is taken as new again: the bound wins over perfect recall.
    assert not feed(conn, S.response_done("resp_0"))[0].duplicate


# ------------------------------------------------------------------------------------ the last resort


def test_an_unexpected_exception_while_folding_is_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = Connection()

    def broken(event: object) -> None:
        raise IndexError("list index out of range")

    monkeypatch.setattr(conn.conversation, "apply", broken)
    (event,) = feed(conn, S.response_created("resp_1"))
    assert event.type == "response.created"
    assert conn.tracker.active is None  # the fold stopped where it broke; the reader goes on


def test_167_bytes_naming_part_10_to_the_6_allocate_almost_nothing() -> None:
    conn = _with_item()
    text = S.wire({**S.audio_delta("resp_1", "item_1", 4), "content_index": 10**6})
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(100):
            conn.receive_text(text.replace('"event_id": "', f'"event_id": "{n}'))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 200_000  # was 230 MB for one such event
    assert conn.conversation.refused_indexes == 100
