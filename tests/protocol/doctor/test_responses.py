"""The turn after a function call: silent-after-output, create-before-all-outputs, create-while-active."""

from __future__ import annotations

import math

from rtwidget.protocol.doctor.rules.responses import GRACE_S

from .. import wire_events as S
from .flow import Flow, calls_turn, create, output

PUSH_TO_TALK = {"audio": {"input": {"turn_detection": None}}}
VAD_NO_CREATE = {"audio": {"input": {"turn_detection": {"type": "server_vad", "create_response": False}}}}


def nothing_waits(flow: Flow) -> bool:
    """No deadline but the session's end (session_created's expires_at is far ahead)."""
    return (flow.doctor.next_deadline() or math.inf) > flow.now + 3600


def tool_turn(flow: Flow, *calls: tuple[str, str], rid: str = "resp_1") -> None:
    flow.receive(*calls_turn(rid, *calls))


def test_silent_after_output_warns_when_nothing_will_create_a_response() -> None:
    flow = Flow()
    flow.receive(S.session_created(), S.session_updated(**PUSH_TO_TALK))
    tool_turn(flow, ("call_1", "get_weather"))
    flow.send(output("call_1", event_id="evt_out"))
    assert flow.doctor.next_deadline() == flow.now + GRACE_S
    assert flow.tick(GRACE_S - 0.1) == []
    [hint] = flow.tick(GRACE_S + 0.1)
    assert (hint.rule, hint.level, hint.event_ids) == ("silent-after-output", "warning", ("evt_out",))
    assert "stay silent" in hint.what and "call_1 (get_weather)" in hint.what and "push-to-talk" in hint.what
    # One call reads as one: not "Outputs were sent for call_1, all the calls of ...".
    assert hint.what.startswith(
        "The model will stay silent: the output was sent for call_1 (get_weather), the only call of response resp_1,"
    )
    assert "response.create" in hint.fix
    assert hint.url == "docs/doctor.md#silent-after-output"
    assert nothing_waits(flow)
    assert flow.tick(60) == []  # once


def test_silent_after_output_names_create_response_false() -> None:
    flow = Flow()
    flow.receive(S.session_created(), S.session_updated(**VAD_NO_CREATE))
    tool_turn(flow, ("call_1", "get_weather"))
    flow.send(output("call_1"))
    [hint] = flow.tick(5)
    assert hint.level == "warning" and "server_vad has create_response: false" in hint.what


def test_silent_after_output_under_vad_is_info() -> None:
    flow = Flow()
    flow.receive(S.session_created())  # server_vad, create_response defaults to true
    tool_turn(flow, ("call_1", "get_weather"))
    flow.send(output("call_1"))
    [hint] = flow.tick(5)
    assert hint.level == "info" and "only when the user speaks again" in hint.what


def test_silent_after_output_waits_for_the_last_output_of_several() -> None:
    flow = Flow()
    flow.receive(S.session_updated(**PUSH_TO_TALK))
    tool_turn(flow, ("call_1", "get_weather"), ("call_2", "get_time"))
    flow.send(output("call_1", event_id="evt_a"))
    assert nothing_waits(flow)  # one output still owed: not silent yet
    flow.at(1)
    flow.send(output("call_2", event_id="evt_b"))
    [hint] = flow.tick(10)
    assert hint.event_ids == ("evt_a", "evt_b") and "resp_1" in hint.what
    assert "silent: outputs were sent for call_1 (get_weather), call_2 (get_time), all the calls of" in hint.what


def test_the_right_flow_is_quiet() -> None:
    """What rtwidget itself sends: an output for every call, then one response.create."""
    for settings in (PUSH_TO_TALK, VAD_NO_CREATE, {}):
        flow = Flow()
        flow.receive(S.session_created(), S.session_updated(**settings))
        tool_turn(flow, ("call_1", "get_weather"), ("call_2", "get_time"))
        flow.send(output("call_1"), output("call_2"), create())
        flow.receive(*S.text_turn("resp_2", "item_9", ["It is ", "sunny."], previous_item_id=None))
        assert nothing_waits(flow)
        assert flow.tick(100) == [] and flow.hints == []


def test_a_server_response_ends_the_wait() -> None:
    flow = Flow()
    tool_turn(flow, ("call_1", "get_weather"))
    flow.send(output("call_1"))
    flow.receive(S.response_created("resp_2"))  # the server's VAD answered
    assert flow.tick(10) == []


def test_an_out_of_band_create_does_not_end_the_wait() -> None:
    flow = Flow()
    tool_turn(flow, ("call_1", "get_weather"))
    flow.send(output("call_1"), create(conversation="none"))
    flow.receive(S.response_created("resp_oob", conversation_id=None))
    assert flow.tick(10)[0].rule == "silent-after-output"


def test_an_output_for_an_unseen_call_counts_alone() -> None:
    flow = Flow()
    flow.receive(S.session_updated(**PUSH_TO_TALK))
    flow.send(output("call_x", event_id="evt_x"))
    [hint] = flow.tick(10)
    assert "silent: the output was sent for call_x, but" in hint.what and hint.event_ids == ("evt_x",)  # no "(?)"


def test_create_before_all_outputs() -> None:
    flow = Flow()
    tool_turn(flow, ("call_1", "get_weather"), ("call_2", "get_time"))
    flow.send(output("call_1"))
    [hint] = flow.send(create("evt_c1"))
    assert (hint.rule, hint.level, hint.event_ids) == ("create-before-all-outputs", "warning", ("evt_c1",))
    assert "resp_1" in hint.what and "call_2 (get_time)" in hint.what and "call_1" not in hint.what
    assert "every call" in hint.fix
    flow.receive(S.response_created("resp_2"), S.response_done("resp_2"))
    flow.send(output("call_2"))
    assert flow.send(create("evt_c2")) == []  # all answered now (and the latest response made no calls)


def test_create_before_all_outputs_once_per_response() -> None:
    flow = Flow()
    tool_turn(flow, ("call_1", "a"), ("call_2", "b"), ("call_3", "c"))
    flow.send(output("call_1"), create())
    flow.send(output("call_2"), create())
    assert flow.rules().count("create-before-all-outputs") == 1


def test_create_while_active_and_the_servers_refusal_named_once() -> None:
    flow = Flow()
    flow.receive(S.response_created("resp_1"))
    [hint] = flow.send(create("evt_c"))
    assert (hint.rule, hint.level, hint.event_ids) == ("create-while-active", "warning", ("evt_c",))
    assert "resp_1" in hint.what and "conversation_already_has_active_response" in hint.what
    assert "response.done" in hint.fix
    refusal = S.error("conversation_already_has_active_response", "busy", event_id="evt_c")
    assert flow.receive(refusal) == []  # already explained: one hint per mistake


def test_create_while_active_once_per_busy_response_not_per_create() -> None:
    # A hint handler that sends response.create on every hint made one hint per create: a flood for as long as
    # the response ran. One hint per response in the way; the server's refusals of the others add none.
    flow = Flow()
    flow.receive(S.response_created("resp_1"))
    for n in range(5):
        flow.send(create(f"evt_{n}"))
        flow.receive(S.error("conversation_already_has_active_response", "busy", event_id=f"evt_{n}"))
    assert flow.rules() == ["create-while-active"]
    flow.receive(S.response_done("resp_1"), S.response_created("resp_2"))
    flow.send(create("evt_9"))  # another response in the way: another hint
    assert flow.rules() == ["create-while-active", "create-while-active"]
    unanswered = Flow()
    unanswered.send(create("evt_1"), create("evt_2"), create("evt_3"))
    assert unanswered.rules() == ["create-while-active"] and "evt_1 was still waiting" in unanswered.hints[0].what


def test_create_while_a_create_is_unanswered() -> None:
    flow = Flow()
    flow.send(create("evt_1"))
    [hint] = flow.send(create("evt_2"))
    assert "evt_1 was still waiting" in hint.what
    flow.at(60)  # a create unanswered for long is lost: no longer counted
    assert flow.send(create("evt_3")) == []


def test_create_while_active_explains_a_race_it_could_not_see() -> None:
    flow = Flow()
    flow.send(create("evt_c"))  # the server's VAD response started at the same time
    [hint] = flow.receive(S.error("conversation_already_has_active_response", event_id="evt_c"))
    assert hint.rule == "create-while-active" and "refused evt_c" in hint.what
    assert hint.event_ids[0] == "evt_c" and len(hint.event_ids) == 2


def test_create_while_active_stays_quiet_in_order_and_out_of_band() -> None:
    flow = Flow()
    flow.send(create())
    flow.receive(S.response_created("resp_1"))
    flow.send(create(conversation="none"))  # out-of-band responses may run alongside
    flow.receive(
        S.response_created("resp_oob", conversation_id=None), S.response_done("resp_oob", conversation_id=None)
    )
    flow.receive(S.response_done("resp_1"))
    flow.send(create())
    assert flow.hints == []


def test_outputs_that_ask_for_no_reply_are_quiet() -> None:
    flow = Flow()
    flow.receive(S.session_updated(**PUSH_TO_TALK))
    tool_turn(flow, ("call_1", "log_it"))
    flow.doctor.no_reply("call_1")
    flow.doctor.no_reply(3)  # type: ignore[arg-type]
    flow.send(output("call_1"))
    assert flow.tick(10) == []
    tool_turn(flow, ("call_2", "log_it"), ("call_3", "get_weather"), rid="resp_2")  # one of them wants a reply
    flow.doctor.no_reply("call_2")
    flow.send(output("call_2"), output("call_3"))
    assert [h.rule for h in flow.tick(20)] == ["silent-after-output"]
