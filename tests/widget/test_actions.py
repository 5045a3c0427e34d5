"""The browser's actions (rtwidget/widget/actions.py) against the local server over real loopback WebSockets:
clear the conversation, start a new session, type while disconnected; and the notices the widget shows in place
of stderr (the no-key line, the session's warnings routed by rtwidget/widget/logroute.py)."""

from __future__ import annotations

import contextlib
import gc
import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from rtwidget import Session, endpoints
from rtwidget.server import LocalServer
from rtwidget.widget import RealtimeWidget
from rtwidget.widget.bridge import NO_KEY_NOTICE
from rtwidget.widget.logroute import ROUTER, notice_text
from tests.support import received, sent

from .comm_double import MockComm, barrier, browser_says, wait_until


def notices(comm: MockComm) -> list[dict[str, Any]]:
    return [c for c, _ in comm.custom("notice")]


def deleted_ids(comm: MockComm) -> set[str]:
    """Item ids the browser was told to drop (items with ``deleted``, in a ``batch`` or one riding an ``audio``
    message)."""
    batches = [c.get("batch", {}) if c["kind"] == "audio" else c for c, _ in comm.custom()]
    return {i["id"] for b in batches for i in b.get("items", []) if i.get("deleted")}


def one_turn(w: RealtimeWidget, text: str, done_before: int = 0) -> None:
    browser_says(w, {"kind": "text", "text": text})
    wait_until(lambda: len(received(w.session, "response.done")) > done_before, what=f"the reply to {text!r}")


@pytest.fixture
def idle(local_server: LocalServer, comms: list[MockComm]) -> Iterator[tuple[RealtimeWidget, MockComm]]:
    """A widget whose session has never connected (``autoconnect=False``), and its comm."""
    w = RealtimeWidget(Session(endpoint=local_server.url), autoconnect=False)
    yield w, comms[-1]
    w.session.stop().result(10)
    w.close()


# ================================================================================ clear conversation


def test_clear_deletes_every_item_on_the_server_and_in_the_panels(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    one_turn(w, "first words")
    ids = {i.id for i in w.session.conversation}
    assert len(ids) >= 2  # the user's message and the reply
    browser_says(w, {"kind": "clear"})
    wait_until(lambda: not w.session.conversation, what="the conversation to be empty in the kernel")
    assert {d["item_id"] for d in sent(w.session, "conversation.item.delete")} == ids
    assert {d["item_id"] for d in received(w.session, "conversation.item.deleted")} == ids
    wait_until(lambda: ids <= deleted_ids(comm), what="the panels told to drop every item")
    browser_says(w, {"kind": "clear"})  # nothing left: said, not sent
    wait_until(lambda: any("already empty" in n["text"] for n in notices(comm)), what="the empty notice")
    assert len(sent(w.session, "conversation.item.delete")) == len(ids)


def test_clear_waits_for_the_reply_and_says_so(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    active: list[bool] = []

    def clear_now(event: Any) -> None:  # on the I/O thread, as the reply starts: the browser's clear arrives
        active.append(w.session.response_active)
        w.bridge.handle({"kind": "clear"}, [])

    w.session.on("response.created", clear_now)
    one_turn(w, "hello")
    assert active == [True]
    barrier(w, comm, "after-clear")
    refused = [n for n in notices(comm) if "reply is in progress" in n["text"]]
    assert refused and refused[0]["level"] == "warning"
    assert not sent(w.session, "conversation.item.delete")


def test_clear_while_disconnected_says_connect_first(idle: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = idle
    browser_says(w, {"kind": "clear"})
    assert notices(comm)[-1] == {"kind": "notice", "level": "warning", "text": "Not connected: press Connect first."}
    assert w.session.state == "idle"


# ================================================================================ new session


def test_new_session_closes_and_connects_a_fresh_server_session(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    one_turn(w, "remember this")
    old_ids = {i.id for i in w.session.conversation}
    old_session = received(w.session, "session.created")[0]["session"]["id"]
    browser_says(w, {"kind": "new_session"})
    wait_until(lambda: len(received(w.session, "session.created")) == 2, what="a second session.created")
    wait_until(lambda: w.status == "connected" and w.session.state == "open", what="connected again")
    new_session = received(w.session, "session.created")[1]["session"]["id"]
    assert new_session != old_session
    assert not w.session.conversation
    wait_until(lambda: old_ids <= deleted_ids(comm), what="the old conversation dropped from the panels")
    one_turn(w, "a new start", done_before=1)  # the new session talks
    assert [i.text for i in w.session.conversation if i.role == "user"] == ["a new start"]


def test_new_session_when_disconnected_just_connects(idle: tuple[RealtimeWidget, MockComm]) -> None:
    w, _ = idle
    browser_says(w, {"kind": "new_session"})
    wait_until(lambda: w.session.state == "open" and w.status == "connected", what="connected")


# ================================================================================ text while disconnected


def test_text_sent_while_never_connected_connects_then_goes_out(idle: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = idle
    assert w.status == "idle"
    browser_says(w, {"kind": "text", "text": "  typed before connecting "})
    wait_until(lambda: received(w.session, "response.done"), what="the reply")
    assert [i.text for i in w.session.conversation if i.role == "user"] == ["typed before connecting"]
    assert w.status == "connected"
    assert not [n for n in notices(comm) if n["level"] != "info"]


def test_text_sent_after_disconnect_reconnects_then_goes_out(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, _ = live
    browser_says(w, {"kind": "disconnect"})
    wait_until(lambda: w.session.state == "closed" and w.status == "closed", what="closed")
    browser_says(w, {"kind": "text", "text": "are you back?"})
    wait_until(lambda: received(w.session, "response.done"), what="the reply after reconnecting")
    assert [d["item"]["content"][0]["text"] for d in sent(w.session, "conversation.item.create")] == ["are you back?"]


def test_text_that_cannot_connect_says_why_and_that_it_was_not_sent(comms: list[MockComm]) -> None:
    server = LocalServer(pace="fast").start_in_thread()
    url = server.url
    server.stop_in_thread()
    w = RealtimeWidget(Session(endpoint=url), autoconnect=False)  # nothing listens there any more
    comm = comms[-1]
    try:
        browser_says(w, {"kind": "text", "text": "hello?"})
        wait_until(lambda: any("not sent" in n["text"] for n in notices(comm)), what="the unsent notice")
        said = notices(comm)
        assert any(n["level"] == "error" and n["text"].startswith("Could not connect") for n in said), said
        assert w.status == "error"
    finally:
        w.session.stop().result(10)
        w.close()


# ================================================================================ notices in place of stderr


def test_the_local_server_is_told_once_as_a_calm_info_notice(local_server: LocalServer, comms: list[MockComm]) -> None:
    w = RealtimeWidget(Session(endpoint=endpoints.local(local_server.url)))
    comm = comms[-1]
    try:
        wait_until(lambda: w.status == "connected", what="connected")
        assert w.endpoint["kind"] == "local"
        barrier(w, comm, "first")
        assert notices(comm) == [{"kind": "notice", "level": "info", "text": NO_KEY_NOTICE}]
        browser_says(w, {"kind": "new_session"})
        wait_until(lambda: len(received(w.session, "session.created")) == 2 and w.status == "connected", what="again")
        barrier(w, comm, "second")
        assert len(notices(comm)) == 1  # once per widget, not per connection
    finally:
        w.session.stop().result(10)
        w.close()


def test_no_key_is_logged_at_info_not_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    from rtwidget.session import endpoint_policy

    caplog.set_level(logging.DEBUG, logger="rtwidget.session")
    endpoint = endpoint_policy.local_server_endpoint("gpt-realtime")
    assert endpoint.kind == "local"
    (record,) = [r for r in caplog.records if "no API key found" in r.getMessage()]
    assert record.levelno == logging.INFO


@contextlib.contextmanager
def bare_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """No handler on the root logger (as in a plain script or a kernel: pytest's own handlers set aside for the
    block), and lastResort writing to a buffer."""
    stream = io.StringIO()
    last = logging.StreamHandler(stream)
    last.setLevel(logging.WARNING)
    monkeypatch.setattr(logging, "lastResort", last)
    root = logging.getLogger()
    saved, root.handlers = root.handlers, []
    try:
        yield stream
    finally:
        root.handlers = saved


def test_session_warnings_show_in_the_widget_not_on_stderr(
    live: tuple[RealtimeWidget, MockComm], monkeypatch: pytest.MonkeyPatch
) -> None:
    w, comm = live
    log = logging.getLogger("rtwidget.session")
    before = len(notices(comm))
    with bare_root(monkeypatch) as stderr:
        w.session.call_soon(log.warning, "rtwidget: the event loop was held for %.1f s", 2.5)
        wait_until(lambda: len(notices(comm)) > before, what="the warning as a notice")
        said = notices(comm)[-1]
        assert said == {"kind": "notice", "level": "warning", "text": "The event loop was held for 2.5 s"}
        assert stderr.getvalue() == ""  # not printed under the widget's cell
        log.warning("rtwidget: from the main thread")  # not the session's thread: printed as before
        assert stderr.getvalue() == "rtwidget: from the main thread\n"
        # A server error is already a notice in the bridge's words: its record adds no second one, nor stderr.
        w.session.send({"type": "conversation.item.delete", "item_id": "no-such-item"})
        wait_until(lambda: any("no-such-item" in n["text"] for n in notices(comm)), what="the server error notice")
        barrier(w, comm, "after-error")
        assert len([n for n in notices(comm) if "no-such-item" in n["text"]]) == 1
        assert "no-such-item" not in stderr.getvalue()


def test_the_router_leaves_the_logger_with_its_last_widget(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, _ = live
    gc.collect()  # widgets of earlier tests, no longer referenced, leave the router
    handlers = logging.getLogger("rtwidget").handlers
    assert ROUTER in handlers and ROUTER.targets() >= 1
    others = ROUTER.targets() - 1  # widgets an earlier test in this process still holds
    w.close()
    assert ROUTER.targets() == others
    # The router stays on the logger exactly while some widget is left to route to.
    assert (ROUTER in logging.getLogger("rtwidget").handlers) == (others > 0)


def test_notice_text_of_a_record_with_an_exception() -> None:
    try:
        raise ValueError("bad city")
    except ValueError as exc:
        record = logging.LogRecord("rtwidget.tools", logging.ERROR, __file__, 1, "rtwidget: %s failed", ("x",), None)
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert notice_text(record) == "X failed (ValueError: bad city)"


def test_a_tool_that_raises_shows_its_traceback_and_a_notice_not_stderr(
    live: tuple[RealtimeWidget, MockComm], monkeypatch: pytest.MonkeyPatch
) -> None:
    w, comm = live

    @w.session.tool
    def get_forecast(city: str) -> dict[str, Any]:
        """A forecast that always fails."""
        raise ValueError(f"no forecast for {city}")

    with bare_root(monkeypatch) as stderr:
        browser_says(w, {"kind": "text", "text": "get_forecast city=Paris"})
        wait_until(lambda: comm.custom("exception"), what="the exception message")
        wait_until(lambda: any("get_forecast" in n["text"] for n in notices(comm)), what="the tool's notice")
        barrier(w, comm, "after-tool")
        assert stderr.getvalue() == ""
    (error,) = [c["error"] for c, _ in comm.custom("exception")]
    assert error["source"] == "tool" and error["name"] == "get_forecast"
    assert "Traceback (most recent call last)" in error["traceback"] and "no forecast for Paris" in error["traceback"]
    said = [n for n in notices(comm) if "get_forecast" in n["text"]]
    assert said == [
        {"kind": "notice", "level": "warning", "text": "Tool 'get_forecast' raised ValueError: no forecast for Paris"}
    ]
