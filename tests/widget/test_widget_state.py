"""The widget and its session's state: rtwidget's own handlers survive the user's ``off()``, the status line
follows the session's states (reconnecting, reconnected, expiring), and no secret reaches a trait or a message.
A mock comm (no browser), the local server over real loopback WebSockets."""

from __future__ import annotations

from rtwidget.widget import RealtimeWidget
from tests.support import received

from .comm_double import MockComm, barrier, browser_says, wait_until


def test_the_users_off_does_not_cut_the_widget_off(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    session.off()  # "remove all my handlers": the bridge's is not the user's
    session.off("*")
    assert not w.usage
    browser_says(w, {"kind": "text", "text": "still listening?"})
    wait_until(lambda: received(session, "response.done"), what="response.done")
    wait_until(lambda: w.usage, what="the usage trait, set by the bridge on response.done")
    barrier(w, comm, "after-off")
    items = [i for c, _ in comm.custom("batch") for i in c.get("items", [])]
    assert {i["role"] for i in items} == {"user", "assistant"}
