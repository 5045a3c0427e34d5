"""The engine: switching rules, reset, deadlines, and feeds that never raise."""

from __future__ import annotations

from typing import Any

import pytest

from rtwidget.protocol.doctor import DOCS_PAGE, LEVELS, Doctor, Hint, Rule
from rtwidget.protocol.events import Event, InvalidEvent

from .. import wire_events as S
from .flow import T0, Flow, calls_turn, create, output

PUSH_TO_TALK = {"audio": {"input": {"turn_detection": None}}}


def test_rules_have_ids_levels_titles_and_urls() -> None:
    rules = Doctor().rules
    assert len(rules) >= 13
    for rule_id, rule in rules.items():
        assert rule.id == rule_id and rule.level in LEVELS and rule.title
        assert rule_id == rule_id.lower() and " " not in rule_id and "_" not in rule_id
        assert rule.url == f"{DOCS_PAGE}#{rule_id}"


def test_unknown_rule_id_names_the_known_ones() -> None:
    doctor = Doctor()
    with pytest.raises(ValueError, match=r"unknown doctor rule 'nope': the rules are silent-after-output, "):
        doctor.disable("nope")
    with pytest.raises(ValueError, match="'x', 'y'"):
        Doctor(disabled=["x", "y"])
    with pytest.raises(ValueError, match="unknown doctor rule"):
        doctor.is_enabled("nope")


def test_disable_and_enable_a_rule() -> None:
    flow = Flow(disabled=["create-while-active"])
    assert not flow.doctor.is_enabled("create-while-active") and flow.doctor.is_enabled("silent-after-output")
    flow.receive(S.response_created("resp_1"))
    assert flow.send(create()) == []
    flow.doctor.enable("create-while-active")
    flow.receive(S.response_done("resp_1"), S.response_created("resp_2"))
    assert [h.rule for h in flow.send(create())] == ["create-while-active"]


def test_a_disabled_rule_sets_no_deadline_and_a_disabled_doctor_says_nothing() -> None:
    flow = Flow()
    flow.receive(*calls_turn("resp_1", ("call_1", "f")))
    flow.send(output("call_1"))
    flow.doctor.disable("silent-after-output")
    assert flow.doctor.next_deadline() is None
    flow.doctor.enable("silent-after-output")
    flow.doctor.enabled = False
    assert flow.doctor.next_deadline() is None
    assert flow.tick(10) == []
    assert not flow.doctor.is_enabled("silent-after-output")


def test_the_state_is_kept_while_switched_off() -> None:
    flow = Flow()
    flow.doctor.enabled = False
    flow.receive(S.response_created("resp_1"))
    flow.doctor.enabled = True
    assert [h.rule for h in flow.send(create())] == ["create-while-active"]


def test_reset_forgets_the_conversation() -> None:
    flow = Flow()
    flow.receive(S.session_updated(**PUSH_TO_TALK), S.response_created("resp_1"))
    flow.doctor.handled("evt_h")
    flow.doctor.reset()
    assert flow.send(create()) == []  # no response is active on the new connection
    assert flow.doctor.next_deadline() is None


def test_the_deadline_is_the_earliest_of_the_rules() -> None:
    flow = Flow()
    flow.receive(S.session_updated(**PUSH_TO_TALK))
    flow.receive(*calls_turn("resp_1", ("call_1", "f")), *calls_turn("resp_2", ("call_2", "g")))
    flow.send(output("call_1"))
    first = flow.doctor.next_deadline()
    flow.at(1)
    flow.send(output("call_2"))
    assert flow.doctor.next_deadline() == first
    assert len(flow.tick(first - T0)) == 1
    assert flow.doctor.next_deadline() == T0 + 1 + 1.5


def test_hint_to_dict() -> None:
    hint = Hint("r", "info", "w.", "f.", ("a",), 1.0, "u")
    assert hint.to_dict() == {
        "rule": "r",
        "level": "info",
        "what": "w.",
        "fix": "f.",
        "event_ids": ["a"],
        "time": 1.0,
        "url": "u",
    }
    assert Rule("a-b", "info", "t").url == "docs/doctor.md#a-b"


ODD: list[Any] = [
    None,
    3,
    "x",
    [],
    {},
    {"type": None},
    {"type": "response.create", "response": "x"},
    {"type": "conversation.item.create", "item": []},
    {"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": 5}},
    {"type": "session.update", "session": 1},
]


def test_odd_input_never_raises() -> None:
    doctor = Doctor()
    for odd in ODD:
        doctor.client_sent(odd, T0)
        doctor.client_refused(odd, None, T0)  # type: ignore[arg-type]
        doctor.server_received(odd, T0)
        doctor.handled(odd)
        doctor.playback(odd, odd, odd, T0)
    doctor.server_received(InvalidEvent("not JSON", "{"), T0)
    for data in ODD[4:]:
        event = Event(str(data.get("type")), data)
        event.cause = data  # type: ignore[assignment]
        doctor.server_received(event, T0)
    doctor.input_level("loud", 3, T0)  # type: ignore[arg-type]
    doctor.tick(T0 + 100)


class Hostile(dict):  # type: ignore[type-arg]
    """A dict whose reads fail: a rule that stumbles is skipped, the feed goes on."""

    def get(self, *args: Any) -> Any:
        raise RuntimeError("hostile")


def test_a_rule_that_raises_is_skipped() -> None:
    doctor = Doctor()
    assert doctor.client_sent(Hostile(type="response.create"), T0) == []
    assert doctor.server_received(Event("error", Hostile(type="error")), T0) == []


def test_errors_watched_and_input_level_feed() -> None:
    doctor = Doctor()
    assert doctor.errors_watched is False
    doctor.errors_watched = True
    assert doctor.errors_watched is True
    doctor.reset()
    assert doctor.errors_watched is True  # the caller's setting outlives a connection
    assert doctor.input_level(-60.0, 20, T0) == []


def test_the_dialect_can_change_with_the_connection() -> None:
    flow = Flow()
    flow.doctor.dialect = "beta"
    flow.doctor.reset()
    assert flow.doctor.dialect == "beta"
    flow.dialect = "beta"
    assert flow.receive({"type": "response.audio.delta", "item_id": "i", "response_id": "r", "delta": ""}) == []


def test_enabled_takes_only_a_bool() -> None:
    # A newcomer's doctor.enabled = "no" must not leave the doctor on (a non-empty string is true).
    doctor = Doctor()
    for wrong in ("no", "yes", None, 0, 1):
        with pytest.raises(TypeError, match=r"doctor.enabled must be True or False, not .*: use doctor.disable"):
            doctor.enabled = wrong  # type: ignore[assignment]
        assert doctor.enabled is True
    doctor.enabled = False
    assert doctor.enabled is False and not doctor.is_enabled("silent-after-output")


def test_rule_ids_may_come_as_one_list_and_a_wrong_type_is_named() -> None:
    doctor = Doctor()
    doctor.disable(["silent-after-output", "unhandled-error"])  # type: ignore[arg-type]
    assert not doctor.is_enabled("silent-after-output") and not doctor.is_enabled("unhandled-error")
    doctor.enable(("silent-after-output",))  # type: ignore[arg-type]
    assert doctor.is_enabled("silent-after-output")
    with pytest.raises(ValueError, match=r"unknown doctor rule None: the rules are silent-after-output"):
        doctor.disable(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"unknown doctor rule \[.x.\]"):
        doctor.disable([["x"]])  # type: ignore[arg-type]


def test_the_doctor_repr_says_what_runs() -> None:
    doctor = Doctor(disabled=["unhandled-error"])
    assert (
        repr(doctor) == f"<Doctor on (ga): {len(doctor.rules) - 1} of {len(doctor.rules)} rules; off: unhandled-error>"
    )
    doctor.enabled = False
    assert repr(doctor).startswith("<Doctor off (ga)")


def test_the_deadline_follows_the_settings_and_survives_a_fold_that_fails() -> None:
    doctor = Doctor()
    doctor.server_received(Event("session.created", S.session_created(expires_at=int(T0) + 3600)), T0)
    first = doctor.next_deadline()
    assert first is not None
    doctor.server_received(Event("session.created", S.session_created(expires_at=int(T0) + 7200)), T0 + 1)
    assert doctor.next_deadline() == first + 3600
    assert doctor.server_received(Event("session.created", Hostile(type="session.created")), T0 + 2) == []
    assert doctor.next_deadline() == first + 3600


def test_an_event_type_that_is_no_string_never_raises() -> None:
    doctor = Doctor()
    assert doctor.client_sent({"type": ["response.create"]}, T0) == []
    assert doctor.server_received(Event(["error"], {"type": ["error"]}), T0) == []  # type: ignore[arg-type]
    assert doctor.client_sent({"type": {}}, T0) == []  # (cached with the first)
