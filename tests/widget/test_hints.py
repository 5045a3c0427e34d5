"""The doctor's hints in the widget (mock comm, local server): a hint is a row of the event log (its summary the
hint's ``what``, its data with ``fix`` and ``url``) and a notice (what and fix, at the hint's level), the same
rule's notice at most once per few seconds."""

from __future__ import annotations

from typing import Any

import pytest

from rtwidget import ClientEventError, Session
from rtwidget.session import HINT
from rtwidget.widget import RealtimeWidget
from rtwidget.widget.hints import HINT_NOTICE_EVERY_S, SHOWN_ELSEWHERE, HintNotices, hint_notice_text

from .comm_double import MockComm, barrier, browser_says, wait_until

# A function output that is an object, not a JSON string: refused before sending, and explained by the doctor.
BAD_OUTPUT = {
    "type": "conversation.item.create",
    "item": {"type": "function_call_output", "call_id": "call_1", "output": {"temp": 21}},
}


def hint_rows(comm: MockComm) -> list[dict[str, Any]]:
    return [r for c in comm.batches() for r in c.get("rows", []) if r["type"] == HINT]


def test_a_hint_is_a_row_and_a_notice(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    with pytest.raises(ClientEventError):
        session.send(BAD_OUTPUT)
    wait_until(lambda: hint_rows(comm), what="the hint's row")
    hint = session.hints[-1]
    assert hint.rule == "output-not-string"
    row = hint_rows(comm)[0]
    assert row["dir"] == "local" and row["text"] == hint.what
    assert row["data"]["fix"] == hint.fix and row["data"]["url"] == "docs/doctor.md#output-not-string"
    notices = [c for c, _ in comm.custom("notice") if c["text"].startswith("Doctor")]
    assert notices == [
        {"kind": "notice", "level": hint.level, "text": f"Doctor (output-not-string): {hint.what} Fix: {hint.fix}"}
    ]
    with pytest.raises(ClientEventError):  # the same mistake again at once: a second row, no second notice
        session.send({**BAD_OUTPUT, "item": {**BAD_OUTPUT["item"], "call_id": "call_2"}})
    wait_until(lambda: len(hint_rows(comm)) == 2, what="the second hint's row")
    barrier(w, comm, "after")
    assert len([c for c, _ in comm.custom("notice") if c["text"].startswith("Doctor")]) == 1


def test_switched_off_the_rule_makes_no_row(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    w.session.doctor.disable("output-not-string")
    with pytest.raises(ClientEventError):
        w.session.send(BAD_OUTPUT)
    barrier(w, comm, "after")
    assert not hint_rows(comm) and not w.session.hints


def test_notices_per_rule_at_most_once_per_interval() -> None:
    shown: list[tuple[str, str]] = []
    now = [100.0]
    notices = HintNotices(lambda level, text: shown.append((level, text)), clock=lambda: now[0])
    a = {"rule": "a", "level": "error", "what": "A went wrong.", "fix": "Do A."}
    b = {"rule": "b", "level": "info", "what": "B.", "fix": "Do B."}
    notices(a)
    notices(b)
    now[0] += HINT_NOTICE_EVERY_S - 0.1
    notices(a)
    now[0] += 0.2
    notices(a)
    notices({"rule": "c", "level": "odd", "what": "C.", "fix": ""})
    notices({"rule": "unhandled-error", "level": "warning", "what": "An error.", "fix": "Read it."})
    assert shown == [
        ("error", "Doctor (a): A went wrong. Fix: Do A."),
        ("info", "Doctor (b): B. Fix: Do B."),
        ("error", "Doctor (a): A went wrong. Fix: Do A."),
        ("warning", "Doctor (c): C."),
    ]
    assert notices.held == 1
    assert hint_notice_text({}) == "Doctor (?):"


def test_an_unread_server_error_is_a_row_not_a_second_notice(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    w.session.send({"type": "conversation.item.delete", "item_id": "no-such-item"})
    wait_until(lambda: [r for r in hint_rows(comm) if r["data"]["rule"] == "unhandled-error"], what="the hint's row")
    barrier(w, comm, "after")
    texts = [c["text"] for c, _ in comm.custom("notice") if c["level"] != "info"]
    assert len(texts) == 1 and texts[0].startswith("Server error item_not_found"), texts


def test_the_rules_shown_elsewhere_are_the_doctors() -> None:
    assert SHOWN_ELSEWHERE.issubset(Session().doctor.rules)


def test_playback_reports_reach_the_doctor(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, _comm = live
    heard: list[tuple[str, float, bool]] = []

    def playback(item_id: str, played_ms: float, playing: bool, now: float) -> list[Any]:
        heard.append((item_id, played_ms, playing))
        return []

    w.session.doctor.playback = playback  # type: ignore[method-assign]
    browser_says(w, {"kind": "played", "item_id": "item_1", "samples": 4800, "final": False})
    browser_says(w, {"kind": "played", "item_id": None, "samples": 0, "final": True})  # nothing ever queued
    wait_until(lambda: heard, what="the report at the doctor")
    barrier(w, _comm, "after")
    assert heard == [("item_1", 200.0, False)]
