"""A connect asked for while a close is still stopping the I/O loop waits for it, then connects on a new loop
(before, the closing loop took the new connection down with it: "Disconnect" then at once "Connect" or a message).
Against the local server over real loopback."""

from __future__ import annotations

import concurrent.futures

from rtwidget import Session
from rtwidget._loopthread import after
from rtwidget.server import LocalServer
from tests.support import TIMEOUT, received, wait_until


def test_start_right_after_stop_connects_once_the_loop_has_stopped() -> None:
    server = LocalServer(pace="fast").start_in_thread()
    session = Session(endpoint=server.url)
    try:
        for _ in range(5):  # the race is a window of milliseconds: go through it several times
            session.start().result(TIMEOUT)
            stopped = session.stop()
            wait_until(lambda s=stopped: session.state == "closed" or s.done(), what="the close under way")
            session.start().result(TIMEOUT)  # asked for while the close is still stopping the I/O loop
            assert session.connected and session.state == "open"
            done = len(received(session, "response.done"))
            session.send_text("still there?")  # the new connection carries a turn
            wait_until(lambda n=done: len(received(session, "response.done")) > n, what="the reply")
            session.stop().result(TIMEOUT)
    finally:
        session.stop().result(TIMEOUT)
        server.stop_in_thread()


def test_start_at_once_after_stop_from_a_script_gets_a_new_connection_not_the_closing_one() -> None:
    # Before, stop() handed the close to a thread and returned: a start() before that thread ran found the old
    # socket open, returned it, and the close then took it down.
    server = LocalServer(pace="fast").start_in_thread()
    session = Session(endpoint=server.url)
    try:
        session.start().result(TIMEOUT)
        for _ in range(5):
            session.stop()
            session.start().result(TIMEOUT)
            assert session.connected and session.state == "open"
            done = len(received(session, "response.done"))
            session.send_text("still there?")
            wait_until(lambda n=done: len(received(session, "response.done")) > n, what="the reply")
            assert session.connected and session.state == "open"
    finally:
        session.stop().result(TIMEOUT)
        server.stop_in_thread()


def test_after_runs_then_once_the_first_is_done_and_passes_its_outcome_on() -> None:
    first: concurrent.futures.Future[None] = concurrent.futures.Future()
    calls: list[str] = []

    def then() -> concurrent.futures.Future[int]:
        calls.append("then")
        done: concurrent.futures.Future[int] = concurrent.futures.Future()
        done.set_result(7)
        return done

    chained = after(first, then)
    assert calls == [] and not chained.done()
    first.set_exception(RuntimeError("the close failed"))  # whatever the outcome: then() runs
    assert chained.result(1) == 7 and calls == ["then"]

    cancelled_first: concurrent.futures.Future[None] = concurrent.futures.Future()
    never = after(cancelled_first, then)
    assert never.cancel()  # cancelled before the first is done: then() never runs
    cancelled_first.set_result(None)
    assert calls == ["then"]
