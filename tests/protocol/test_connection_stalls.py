"""Connection: a response the server goes silent on is declared lost on the caller's clock, and the conversation
accepts new turns; a fold that fails flags its event instead of hiding; ``queued`` counts what waits to be sent."""

from __future__ import annotations

import pytest

from rtwidget.protocol.connection import Connection
from rtwidget.protocol.events import Event
from rtwidget.protocol.tracker import LostResponse, ResponseTracker

from . import wire_events as S

Json = S.Json


def at(conn: Connection, now: float, *events: Json) -> list[Event]:
    """Feed server events that arrive at time ``now``."""
    return [conn.receive_text(S.wire(event), now) for event in events]


def flush(conn: Connection, now: float) -> list[Json]:
    """Drain what was queued, sent at time ``now``."""
    return [event for event, _ in conn.data_to_send(now)]


def creates(events: list[Json]) -> list[Json]:
    return [e for e in events if e["type"] == "response.create"]


def test_a_response_that_never_ends_is_declared_lost_and_new_turns_are_accepted() -> None:
    conn = Connection()
    conn.send_text("hello")
    (create,) = creates(flush(conn, 100.0))
    assert conn.stall_deadline(60) == 160.0  # counted from when the create went out
    at(conn, 101.0, S.response_created("resp_1"), S.output_item_added("resp_1", S.assistant_item("item_1")))
    at(conn, 130.0, S.text_delta("resp_1", "item_1", "Hel"))  # alive: the clock restarts
    assert conn.stall_deadline(60) == 190.0
    assert conn.check_stalled(189.9, 60) == [] and conn.tracker.busy
    # A user message meanwhile: its reply waits for the response in progress.
    conn.send_text("are you there?")
    assert creates(flush(conn, 150.0)) == []
    (lost,) = conn.check_stalled(190.0, 60)
    assert lost == LostResponse("response", "resp_1", 60.0, out_of_band=False, request_id=None)
    assert not conn.tracker.busy and conn.tracker.active is None
    assert conn.stall_deadline(60) is None
    # The reply requested meanwhile goes out now, and later turns are accepted as usual.
    assert conn.reply_if_due() is not None
    assert len(creates(flush(conn, 190.0))) == 1
    assert create["event_id"] not in conn.tracker._stamps


def test_a_late_end_of_a_lost_response_changes_nothing() -> None:
    conn = Connection()
    conn.send_text("weather?")
    flush(conn, 0.0)
    call = S.function_call_item("item_fc", "call_1", "weather", "{}", status="completed")
    at(conn, 1.0, S.response_created("resp_1"))
    assert [x.id for x in conn.check_stalled(61.0, 60)] == ["resp_1"]
    (done,) = at(conn, 70.0, S.response_done("resp_1", output=[call]))
    assert not done.duplicate and done.fold_error is None
    assert conn.function_calls_to_run() == [] and conn.tracker.owed == {}
    assert not conn.tracker.busy and conn.reply_if_due() is None
    # The next response is tracked as usual (and its own end is not mistaken for the lost one's).
    conn.send_text("again")
    flush(conn, 80.0)
    at(conn, 81.0, S.response_created("resp_2"))
    assert conn.tracker.active == "resp_2"
    at(conn, 82.0, S.response_done("resp_2"))
    assert not conn.tracker.busy


def test_a_create_never_answered_is_declared_lost() -> None:
    conn = Connection()
    event_id = conn.respond()
    assert conn.tracker.busy
    flush(conn, 10.0)
    at(conn, 20.0, S.rate_limits())  # other traffic is no answer
    assert conn.check_stalled(69.0, 60) == []
    (lost,) = conn.check_stalled(70.0, 60)
    assert (lost.kind, lost.id, lost.request_id, lost.out_of_band) == ("create", event_id, event_id, False)
    assert not conn.tracker.busy and conn.stall_deadline(60) is None
    conn.send_text("next")
    assert len(creates(flush(conn, 71.0))) == 1


def test_outputs_answered_by_a_lost_create_want_no_new_reply_but_later_outputs_do() -> None:
    conn = Connection()
    conn.send_text("two tools")
    flush(conn, 0.0)
    turn = S.function_call_turn(
        "resp_1", [("item_a", "call_a", "a", "{}"), ("item_b", "call_b", "b", "{}")], previous_item_id=None
    )
    at(conn, 1.0, *turn)
    assert [c.call_id for c in conn.function_calls_to_run()] == ["call_a", "call_b"]
    conn.function_output("call_a", "A")
    conn.function_output("call_b", "B")
    follow_up = conn.reply_if_due()
    flush(conn, 2.0)
    (lost,) = conn.check_stalled(62.0, 60)
    assert lost.id == follow_up and conn.reply_if_due() is None
    # A VAD-made response goes silent while a late output waits for it: that output still wants its reply.
    at(conn, 63.0, S.response_created("resp_vad"))
    conn.function_output("call_c", "C")
    assert conn.reply_if_due() is None  # busy
    assert [x.id for x in conn.check_stalled(123.0, 60)] == ["resp_vad"]
    assert conn.reply_if_due() is not None


def test_out_of_band_requests_and_responses_are_watched_too() -> None:
    conn = Connection()
    first = conn.respond_out_of_band("Summarise.")
    second = conn.respond_out_of_band("Classify.")
    flush(conn, 0.0)
    meta = {"rtwidget_request": second}
    at(conn, 5.0, S.response_created("resp_oob", conversation_id=None, metadata=meta))
    assert conn.stall_deadline(60) == 60.0  # the first create, unanswered since 0.0
    assert not conn.tracker.busy  # out-of-band work never blocks the conversation
    lost = conn.check_stalled(65.0, 60)
    assert [(x.kind, x.id, x.request_id, x.out_of_band) for x in lost] == [
        ("create", first, first, True),
        ("response", "resp_oob", second, True),
    ]
    assert conn.tracker.out_of_band == set() and conn.stall_deadline(60) is None
    at(conn, 70.0, S.response_done("resp_oob", conversation_id=None, metadata=meta))
    assert conn.function_calls_to_run() == []


def test_an_out_of_band_response_without_our_metadata_answers_the_oldest_request() -> None:
    conn = Connection()
    first = conn.respond_out_of_band("one")
    conn.respond_out_of_band("two")
    flush(conn, 0.0)
    at(conn, 1.0, S.response_created("resp_x", conversation_id=None))
    (odd,) = at(conn, 2.0, S.response_created("resp_y", conversation_id=None, metadata={"rtwidget_request": [5]}))
    assert odd.fold_error is None
    lost = conn.check_stalled(100.0, 60)
    assert {x.id: x.request_id for x in lost if x.kind == "response"}["resp_x"] == first
    assert [x.kind for x in lost] == ["response", "response"]  # both requests were answered


def test_without_times_the_first_check_starts_the_clock() -> None:
    conn = Connection()
    conn.send_text("hi")
    conn.data_to_send()  # sent with no time given
    conn.receive_text(S.wire(S.response_created("resp_1")))
    assert conn.stall_deadline(30) == 0.0  # due now: a check starts its clock
    assert conn.check_stalled(500.0, 30) == []
    assert conn.stall_deadline(30) == 530.0
    assert [x.silent_s for x in conn.check_stalled(531.0, 30)] == [31.0]


def test_stamps_end_with_their_response_and_are_forgotten_on_reset() -> None:
    conn = Connection()
    conn.send_text("hi")
    flush(conn, 0.0)
    at(conn, 1.0, S.response_created("resp_1"), S.response_done("resp_1"))
    assert conn.tracker._stamps == {} and conn.stall_deadline(60) is None
    event_id = conn.respond()
    flush(conn, 2.0)
    assert conn.tracker._stamps == {event_id: 2.0}
    conn.reset()
    assert conn.tracker._stamps == {} and conn.stall_deadline(60) is None


def test_a_refused_create_is_no_longer_watched() -> None:
    conn = Connection()
    event_id = conn.respond()
    flush(conn, 0.0)
    at(conn, 1.0, S.error("invalid_value", event_id=event_id))
    assert conn.stall_deadline(60) is None and conn.check_stalled(1000.0, 60) == []


def test_mark_sent_ignores_creates_already_answered() -> None:
    tracker = ResponseTracker()
    tracker.mark_sent("evt_unknown", 1.0)
    assert tracker._stamps == {}


@pytest.mark.parametrize("silence", [0, -1.0, float("nan")])
def test_check_stalled_needs_a_positive_silence(silence: float) -> None:
    with pytest.raises(ValueError, match="silence_s must be a positive number of seconds"):
        Connection().check_stalled(0.0, silence)


def test_a_fold_that_fails_flags_the_event_instead_of_hiding_it(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = Connection()

    def broken(event: object) -> None:
        raise IndexError("list index out of range")

    monkeypatch.setattr(conn.conversation, "apply", broken)
    (event,) = at(conn, 0.0, S.response_created("resp_1"))
    assert event.type == "response.created"
    assert event.fold_error == "IndexError: list index out of range"
    (fine,) = at(conn, 0.0, S.rate_limits())
    assert fine.fold_error is not None  # every fold goes through the broken conversation here
    monkeypatch.undo()
    (ok,) = at(conn, 0.0, S.rate_limits())
    assert ok.fold_error is None and not ok.duplicate


def test_queued_counts_the_client_events_waiting_to_be_sent() -> None:
    conn = Connection()
    assert conn.queued == 0
    conn.send_text("hi")
    assert conn.queued == 2
    conn.data_to_send()
    assert conn.queued == 0


@pytest.mark.parametrize("response", ["not an object", 5, None, {"id": "resp_1", "output": 7}])
def test_a_response_of_the_wrong_shape_is_read_as_empty_not_a_fold_error(response: object) -> None:
    conn = Connection()
    conn.send_text("hi")
    flush(conn, 0.0)
    at(conn, 1.0, S.response_created("resp_1"))
    events = at(
        conn, 2.0, {"type": "response.created", "response": response}, {"type": "response.done", "response": response}
    )
    assert [e.fold_error for e in events] == [None, None]
    assert conn.function_calls_to_run() == []
