"""tracker: the reply rule. After function calls: an output for every call, then exactly one response.create,
never while a default-conversation response is active or requested."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from rtwidget.protocol.tracker import FunctionCall, ResponseTracker

from . import wire_events as S

Json = dict[str, Any]


class Client:
    """Drives a tracker the way Connection does: client events with ids, server events decoded from text."""

    def __init__(self) -> None:
        self.tracker = ResponseTracker()
        self._ids = itertools.count(1)
        self.sent: dict[str, Json] = {}
        self.calls: list[FunctionCall] = []

    def send(self, event: Json, *, reply: bool = True) -> str:
        event = {**event, "event_id": event.get("event_id") or f"evt_rtwtest_{next(self._ids)}"}
        self.sent[event["event_id"]] = event
        self.tracker.client_sent(event, reply=reply)
        return str(event["event_id"])

    def output(self, call_id: str, *, reply: bool = True) -> str:
        item = {"type": "function_call_output", "call_id": call_id, "output": "{}"}
        return self.send({"type": "conversation.item.create", "item": item}, reply=reply)

    def create(self, **response: Any) -> str:
        return self.send({"type": "response.create", **({"response": response} if response else {})})

    def recv(self, *events: Json) -> list[FunctionCall]:
        calls: list[FunctionCall] = []
        for data in events:
            calls += self.tracker.server_received(S.decode(data))
        self.calls += calls
        return calls

    def error_for(self, event_id: str | None, code: str = "invalid_value") -> None:
        event = S.decode(S.error(code, event_id=event_id))
        event.cause = self.sent.get(event_id) if event_id else None
        self.tracker.server_received(event)

    def output_added(self, item_id: str, call_id: str, kind: str = "added") -> None:
        item = S.function_output_item(item_id, call_id, "{}")
        self.recv(S.item_added(item, previous_item_id=None, kind=kind))

    @property
    def due(self) -> bool:
        return self.tracker.response_due()


def calls_turn(rid: str, n: int, *, created: bool = True, prefix: str = "") -> list[Json]:
    calls = [(f"item_{prefix}{rid}_{i}", f"call_{prefix}{rid}_{i}", "lookup", '{"q": 1}') for i in range(n)]
    return S.function_call_turn(rid, calls, previous_item_id=None, created=created)


# --------------------------------------------------------------------------------- active response


def test_a_response_is_active_from_created_to_done() -> None:
    c = Client()
    assert not c.tracker.busy
    c.recv(S.response_created("resp_1"))
    assert c.tracker.active == "resp_1"
    assert c.tracker.busy
    assert c.recv(S.response_done("resp_1")) == []
    assert c.tracker.active is None
    assert not c.tracker.busy
    assert not c.due


def test_a_create_of_ours_is_pending_until_answered() -> None:
    c = Client()
    c.create()
    assert c.tracker.busy
    assert c.tracker.active is None
    c.recv(S.response_created("resp_1"))
    assert c.tracker.active == "resp_1"
    c.recv(S.response_done("resp_1"))
    assert not c.tracker.busy


def test_creates_are_answered_in_sequence_order() -> None:
    c = Client()
    for _ in range(10):
        c.create()
    c.tracker._pending_creates.add("user_chosen_id")  # no digits: sorts first
    c.recv(S.response_created("resp_1"))
    assert "user_chosen_id" not in c.tracker._pending_creates
    c.recv(S.response_created("resp_2"))
    # numeric order: _1 before _10, and _2 after _1
    assert sorted(c.tracker._pending_creates) == sorted(f"evt_rtwtest_{i}" for i in range(2, 11))


def test_done_of_another_response_keeps_the_active_one() -> None:
    c = Client()
    c.recv(S.response_created("resp_2"))
    c.recv(S.response_done("resp_1"))
    assert c.tracker.active == "resp_2"
    c.recv(S.response_done("resp_2"))
    assert c.tracker.active is None


# ---------------------------------------------------------------------------------- the reply rule


def test_one_call_one_reply() -> None:
    c = Client()
    calls = c.recv(*calls_turn("resp_1", 1))
    assert calls == [FunctionCall("call_resp_1_0", "lookup", '{"q": 1}', "item_resp_1_0", "resp_1")]
    assert set(c.tracker.owed) == {"call_resp_1_0"}
    assert not c.due  # the output is owed
    c.output("call_resp_1_0")
    assert c.tracker.owed == {}
    assert c.due
    c.create()
    assert not c.due  # exactly one
    c.output_added("item_out_0", "call_resp_1_0")
    assert not c.due
    c.recv(*S.text_turn("resp_2", "item_a", ["It is sunny."], previous_item_id=None))
    assert not c.due
    assert not c.tracker.busy


@pytest.mark.parametrize("n_calls", [2, 3])
def test_many_calls_one_reply_after_all_outputs(n_calls: int) -> None:
    c = Client()
    calls = c.recv(*calls_turn("resp_1", n_calls))
    assert [call.call_id for call in calls] == [f"call_resp_1_{i}" for i in range(n_calls)]
    assert c.tracker.calls_by_response["resp_1"] == calls
    for index, call in enumerate(calls):
        assert not c.due, f"due after only {index} of {n_calls} outputs"
        c.output(call.call_id)
        c.output_added(f"item_out_{index}", call.call_id)
    assert c.due
    c.create()
    assert not c.due
    c.recv(S.response_created("resp_2"))
    assert not c.due
    c.recv(S.response_done("resp_2"))
    assert not c.due


def test_outputs_sent_in_any_order() -> None:
    c = Client()
    calls = c.recv(*calls_turn("resp_1", 3))
    for call in reversed(calls):
        assert not c.due
        c.output(call.call_id)
    assert c.due


def test_reply_false_outputs_owe_no_reply() -> None:
    c = Client()
    calls = c.recv(*calls_turn("resp_1", 2))
    for call in calls:
        c.output(call.call_id, reply=False)
    assert c.tracker.owed == {}
    assert not c.due


def test_one_reply_false_among_replying_outputs() -> None:
    c = Client()
    first, second = c.recv(*calls_turn("resp_1", 2))
    c.output(first.call_id, reply=False)
    assert not c.due  # the second output is still owed
    c.output(second.call_id)
    assert c.due


def test_never_due_while_a_response_is_active() -> None:
    c = Client()
    [call] = c.recv(*calls_turn("resp_1", 1))
    c.recv(S.response_created("resp_2"))
    c.output(call.call_id)
    assert not c.due


def test_output_sent_during_a_vad_response_is_answered_after_it() -> None:
    """The user spoke while the tool ran: the VAD response started before our output landed, so it does not
    see the output; one create is due after that response is done."""
    c = Client()
    [call] = c.recv(*calls_turn("resp_1", 1))
    c.recv(S.response_created("resp_vad"))  # server VAD, create_response: true
    c.output(call.call_id)
    c.output_added("item_out", call.call_id)
    assert not c.due
    c.recv(*S.audio_turn("resp_vad", "item_a", [(480, "Hm?")], previous_item_id=None)[1:])
    assert c.tracker.active is None
    assert c.due
    c.create()
    assert not c.due


def test_a_response_created_after_our_outputs_were_added_answers_them() -> None:
    """The server added our output item, then a new response started (VAD or a create of someone else): it
    sees the output, so no create of ours is due."""
    c = Client()
    [call] = c.recv(*calls_turn("resp_1", 1))
    c.create()  # e.g. send_text() while the tool ran: a create is pending
    c.output(call.call_id)
    assert not c.due
    c.output_added("item_out", call.call_id, kind="done")
    c.recv(S.response_created("resp_2"))
    assert not c.due
    c.recv(S.response_done("resp_2"))
    assert not c.due


def test_vad_response_after_some_outputs_were_added() -> None:
    """Two calls: the first output lands, a VAD response starts (it sees the first), the second output is sent
    during that response; one create is due after it, for the second."""
    c = Client()
    first, second = c.recv(*calls_turn("resp_1", 2))
    c.output(first.call_id)
    c.output_added("item_out_0", first.call_id, kind="created")
    # the first output alone would be due now if nothing else were owed
    assert not c.due
    c.recv(S.response_created("resp_vad"))
    c.output(second.call_id)
    c.output_added("item_out_1", second.call_id)
    assert not c.due
    c.recv(S.response_done("resp_vad"))
    assert c.due


def test_a_vad_response_before_our_outputs_landed_does_not_answer_them() -> None:
    c = Client()
    first, second = c.recv(*calls_turn("resp_1", 2))
    c.create()  # pending
    c.output(first.call_id)
    c.output(second.call_id)
    c.output_added("item_out_0", first.call_id)
    c.recv(S.response_created("resp_2"))  # started before the second output was added
    c.output_added("item_out_1", second.call_id)
    c.recv(S.response_done("resp_2"))
    assert c.due


def test_output_items_of_other_calls_are_ignored() -> None:
    c = Client()
    [call] = c.recv(*calls_turn("resp_1", 1))
    c.output(call.call_id)
    c.output_added("item_other", "call_from_history")
    c.recv({"type": "conversation.item.added", "event_id": "e", "item": None})
    assert c.tracker._awaiting_reply == {call.call_id: False}


# ------------------------------------------------------------------------------------------ errors


def test_an_error_caused_by_our_create_clears_the_pending_create() -> None:
    c = Client()
    event_id = c.create(instructions="x")
    assert c.tracker.busy
    c.error_for(event_id, "invalid_value")
    assert not c.tracker.busy


def test_other_errors_leave_the_pending_create() -> None:
    c = Client()
    c.create()
    other = c.send({"type": "conversation.item.delete", "item_id": "item_x"})
    c.error_for(other, "item_not_found")
    c.error_for(None, "server_error")
    assert c.tracker.busy


def test_a_rejected_create_leaves_its_outputs_wanting_a_reply() -> None:
    """Race: a VAD response started before our outputs landed; our create (sent when nothing looked busy) is
    rejected with conversation_already_has_active_response. The outputs still want exactly one reply, after
    that response."""
    c = Client()
    [call] = c.recv(*calls_turn("resp_1", 1))
    c.output(call.call_id)
    assert c.due
    create_id = c.create()
    # what the server did meanwhile: VAD response, then our output item, then the refusal of our create
    c.recv(S.response_created("resp_vad"))
    c.output_added("item_out", call.call_id)
    c.error_for(create_id, "conversation_already_has_active_response")
    assert not c.due  # never while a response is active
    c.recv(S.response_done("resp_vad"))
    assert c.due
    c.create()
    assert not c.due


def test_a_rejected_create_after_a_response_that_saw_the_outputs() -> None:
    """Same race, but the VAD response started after our output landed: it answers it; nothing more is due."""
    c = Client()
    [call] = c.recv(*calls_turn("resp_1", 1))
    c.output(call.call_id)
    create_id = c.create()
    c.output_added("item_out", call.call_id)
    c.recv(S.response_created("resp_vad"))
    c.error_for(create_id, "conversation_already_has_active_response")
    c.recv(S.response_done("resp_vad"))
    assert not c.due
    assert not c.tracker.busy


def test_a_rejected_create_without_outputs_owes_nothing() -> None:
    c = Client()
    create_id = c.create()
    c.error_for(create_id, "invalid_value")
    assert not c.due
    assert not c.tracker.busy


def test_an_accepted_create_forgets_its_outputs() -> None:
    c = Client()
    [call] = c.recv(*calls_turn("resp_1", 1))
    c.output(call.call_id)
    c.create()
    c.recv(S.response_created("resp_vad"))  # a VAD response before our output landed...
    c.output_added("item_out", call.call_id)
    c.recv(S.response_done("resp_vad"))
    c.recv(S.response_created("resp_2"))  # ...then our create was accepted after all
    c.recv(S.response_done("resp_2"))
    assert not c.due
    assert c.tracker._answering == {}


# ------------------------------------------------------------------------------------- out-of-band


def test_out_of_band_responses_never_block() -> None:
    c = Client()
    [call] = c.recv(*calls_turn("resp_1", 1))
    c.create(conversation="none", metadata={"purpose": "summary"})
    assert not c.tracker.busy
    c.recv(S.response_created("resp_oob", conversation_id=None, metadata={"purpose": "summary"}))
    assert c.tracker.out_of_band == {"resp_oob"}
    assert c.tracker.active is None
    c.output(call.call_id)
    assert c.due  # the out-of-band response does not count
    oob_call = S.function_call_item("item_oob", "call_oob", "lookup", "{}")
    assert c.recv(S.response_done("resp_oob", output=[oob_call], conversation_id=None)) == []
    assert "call_oob" not in c.tracker.owed
    assert c.tracker.out_of_band == set()
    assert c.due


def test_an_out_of_band_create_does_not_clear_outputs_waiting_for_a_reply() -> None:
    c = Client()
    [call] = c.recv(*calls_turn("resp_1", 1))
    c.output(call.call_id)
    c.create(conversation="none")
    assert c.due


def test_an_error_for_an_out_of_band_create() -> None:
    c = Client()
    oob = c.create(conversation="none")
    c.error_for(oob, "invalid_value")
    assert c.tracker._pending_out_of_band == set()


def test_out_of_band_done_while_a_default_response_is_active() -> None:
    c = Client()
    c.recv(S.response_created("resp_main"), S.response_created("resp_oob", conversation_id=None))
    c.recv(S.response_done("resp_oob", conversation_id=None))
    assert c.tracker.active == "resp_main"


# --------------------------------------------------------------------------------- which calls run


def test_cancelled_function_calls_are_not_run() -> None:
    c = Client()
    output = [
        S.function_call_item("item_1", "call_ok", "a", '{"x": 1}'),
        S.function_call_item("item_2", "call_cut", "b", '{"x": ', status="incomplete"),
        S.function_call_item("item_3", "call_running", "c", "", status="in_progress"),
        {k: v for k, v in S.function_call_item("item_4", "call_nostatus", "d", "{}").items() if k != "status"},
    ]
    calls = c.recv(
        S.response_created("resp_1"),
        S.response_done(
            "resp_1",
            output=output,
            status="cancelled",
            status_details={"type": "cancelled", "reason": "turn_detected"},
        ),
    )
    assert [call.call_id for call in calls] == ["call_ok", "call_nostatus"]
    assert set(c.tracker.owed) == {"call_ok", "call_nostatus"}


def test_response_done_output_that_is_not_a_call() -> None:
    c = Client()
    output = [
        S.assistant_item("item_a", status="completed"),
        "junk",
        {"type": "function_call", "name": "no_call_id", "arguments": "{}"},
        {"type": "function_call", "call_id": "call_bare"},
    ]
    calls = c.recv(S.response_done("resp_1", output=output))
    assert calls == [FunctionCall("call_bare", "", "", "", "resp_1")]
    assert c.recv({"type": "response.done", "event_id": "e"}) == []
    assert "" not in c.tracker.calls_by_response


def test_reset_forgets_everything() -> None:
    c = Client()
    [call] = c.recv(*calls_turn("resp_1", 1))
    c.create()
    c.recv(S.response_created("resp_2"), S.response_created("resp_oob", conversation_id=None))
    c.tracker.reset()
    t = c.tracker
    assert (t.active, t.owed, t.calls_by_response, t.out_of_band, t.busy) == (None, {}, {}, set(), False)
    assert not t.response_due()
    assert call.call_id not in t.owed
