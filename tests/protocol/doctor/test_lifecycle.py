"""The session as a whole: unhandled-error, session-expiring."""

from __future__ import annotations

from .. import wire_events as S
from .flow import T0, Flow, create


def test_unhandled_error_quotes_the_server_and_names_the_cause() -> None:
    flow = Flow()
    cause = {"type": "conversation.item.create", "event_id": "evt_1"}
    error = S.error("invalid_value", "Invalid value: 'x'.", event_id="evt_1")
    [hint] = flow.receive(error, cause=cause)
    assert (hint.rule, hint.level, hint.event_ids) == ("unhandled-error", "warning", (error["event_id"], "evt_1"))
    assert "refused conversation.item.create evt_1 with invalid_value: Invalid value: 'x'." in hint.what
    assert "session.errors" in hint.fix and 'session.on("error"' in hint.fix
    assert flow.receive(S.error("invalid_value", "again", event_id="evt_2"), cause={**cause, "event_id": "evt_2"}) == []


def test_unhandled_error_without_a_cause_and_a_long_message() -> None:
    flow = Flow()
    [hint] = flow.receive(S.error(None, "x" * 500))
    assert "sent an error with invalid_request_error: " in hint.what and "x..." in hint.what and len(hint.what) < 300
    flow = Flow()
    [hint] = flow.receive({"type": "error", "event_id": "e", "error": "odd"})
    assert "no message" not in hint.what and "odd" in hint.what
    assert Flow().receive({"type": "error", "error": {"message": ""}})[0].what.endswith("no message.")


def test_unhandled_error_quiet_when_read_handled_harmless_or_explained() -> None:
    flow = Flow()
    flow.doctor.errors_watched = True
    flow.receive(S.error("invalid_value", event_id="evt_1"))
    flow.doctor.errors_watched = False
    flow.doctor.handled("evt_2")
    flow.receive(S.error("invalid_value", event_id="evt_2"))
    flow.receive(S.error("response_cancel_not_active", event_id="evt_3"))
    assert flow.hints == []
    flow.receive(S.response_created("resp_1"))
    flow.send(create("evt_4"))
    flow.receive(S.error("conversation_already_has_active_response", event_id="evt_4"))
    flow.receive(S.error("conversation_already_has_active_response", event_id="evt_5"))  # explained on arrival
    flow.receive(S.error("conversation_already_has_active_response"))  # no cause named: explained all the same
    assert flow.rules() == ["create-while-active"]  # once per response in the way


def test_unhandled_error_speaks_when_the_explaining_rule_is_off() -> None:
    flow = Flow(disabled=["create-while-active"])
    flow.receive(S.error("conversation_already_has_active_response", event_id="evt_5"))
    assert flow.rules() == ["unhandled-error"]


def test_session_expiring() -> None:
    flow = Flow()
    flow.receive(S.session_created(session_id="sess_9", expires_at=int(T0) + 3600))
    assert flow.doctor.next_deadline() == T0 + 3300
    assert flow.tick(3200) == []
    [hint] = flow.tick(3330)
    assert (hint.rule, hint.level, hint.event_ids) == ("session-expiring", "info", ())
    assert "Session sess_9 ends at" in hint.what and "in 4 min 30 s" in hint.what and "session_expired" in hint.what
    assert 'renew="auto"' in hint.fix
    assert flow.doctor.next_deadline() is None and flow.tick(3400) == []


def test_session_expiring_not_after_the_end_and_again_for_a_new_session() -> None:
    flow = Flow()
    flow.receive({"type": "session.created", "session": {"expires_at": int(T0) + 100}})
    assert flow.tick(200) == []  # already over: the connection's close says it
    assert flow.doctor.next_deadline() is None  # and no deadline left in the past (a timer would spin)
    flow.doctor.reset()
    assert flow.doctor.next_deadline() is None
    flow.receive({"type": "session.created", "session": {"expires_at": int(T0) + 400}})
    assert flow.tick(300)[0].what.startswith("The session ends at")
