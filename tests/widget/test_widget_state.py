"""The widget and its session's state: rtwidget's own handlers survive the user's ``off()``, the status line
follows the session's states (reconnecting, reconnected, expiring), and no secret reaches a trait or a message.
A mock comm (no browser), the local server over real loopback WebSockets."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from types import SimpleNamespace
from typing import Any

import pytest

from rtwidget import Session
from rtwidget.server import LocalServer
from rtwidget.session import CLOSED, STATE
from rtwidget.session.local_events import EXPIRING, RECONNECTED
from rtwidget.widget import RealtimeWidget
from rtwidget.widget.status import expiring_text, reconnected_text, reconnecting_text
from tests.support import received, run, sent

from .comm_double import MockComm, barrier, browser_says, wait_until
from .drop_support import dropping_session


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
    items = [i for c in comm.batches() for i in c.get("items", [])]
    assert {i["role"] for i in items} == {"user", "assistant"}


# ================================================================================ no secret in traits or messages


def sentinel(tag: str) -> str:
    return "sk-" + tag + "-" + "SENTINEL" * 2  # built at run time: no key-shaped literal in the repo


def shown(w: RealtimeWidget, comm: MockComm) -> str:
    """Everything the browser got and the notebook would save: every message and the widget's state."""
    state = {k: v for k, v in w.get_state().items() if k not in ("_esm", "_css")}
    return json.dumps([comm.sent, state], default=repr)


def test_a_refused_key_shows_the_clear_401_in_the_status_line_and_nowhere_the_key(comms: list[MockComm]) -> None:
    token, wrong = sentinel("widget-token"), sentinel("widget-wrong")

    async def main() -> tuple[RealtimeWidget, MockComm]:
        async with LocalServer(pace="fast", token=token) as server:
            session = Session(endpoint=server.url, api_key=wrong)
            w = RealtimeWidget(session)
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: wait_until(lambda: w.status == "error", what="the refusal")
            )
            return w, comms[-1]

    w, comm = run(main)
    try:
        assert w.status_message.startswith("could not connect: ws://127.0.0.1:")
        assert "HTTP 401 Unauthorized: Incorrect API key provided" in w.status_message
        assert "Check the API key" in w.status_message and w.session.state == "idle"
        assert "HTTP 401" in comm.custom("notice")[-1][0]["text"]
        assert token not in shown(w, comm) and wrong not in shown(w, comm)
    finally:
        w.session.stop().result(10)
        w.close()


def test_status_lines_notices_and_exceptions_are_redacted(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    key, password = sentinel("widget-status"), "pw" + "SENTINEL" * 2
    url = f"wss://bob:{password}@h.example/v1/realtime?api-key={key}"

    def leaky(event: object) -> None:
        raise ConnectionError(f"could not reach {url}")

    session.on("response.done", leaky)
    browser_says(w, {"kind": "text", "text": "hello"})
    error = wait_until(lambda: comm.custom("exception"), what="an exception message")[0][0]["error"]
    assert error["message"] == "could not reach wss://<redacted>@h.example/v1/realtime?api-key=<redacted>"
    session.off("response.done", leaky)
    # What the bridge shows of a failed connect and a close reason, and a failing widget action.
    failed: concurrent.futures.Future[None] = concurrent.futures.Future()
    failed.set_exception(OSError(f"no route to {url}; Authorization: Bearer {password}"))
    session.call_soon(w.bridge._connect_done, failed)
    barrier(w, comm, "connect-failed")
    assert w.status == "error" and "<redacted>" in w.status_message
    session.call_soon(w.bridge._on_event, SimpleNamespace(type=CLOSED, data={"code": 1008, "reason": f"bad {url}"}))
    barrier(w, comm, "closed")
    assert w.status == "closed" and w.status_message.startswith("closed (code 1008: bad wss://<redacted>@")
    notices = [c["text"] for c, _ in comm.custom("notice")]
    assert any("<redacted>" in n for n in notices)
    assert key not in shown(w, comm) and password not in shown(w, comm)


# ============================================================================ the state in the status line


def synced(comm: MockComm, name: str) -> list[Any]:
    """Every value of trait ``name`` the kernel synced, in order (a repeat of the last one dropped)."""
    values: list[Any] = []
    for state in comm.states():
        if name in state and (not values or values[-1] != state[name]):
            values.append(state[name])
    return values


def test_the_status_follows_the_sessions_states_from_connecting_to_closed(
    local_server: LocalServer, comms: list[MockComm]
) -> None:
    session = Session(endpoint=local_server.url)
    w = RealtimeWidget(session)
    comm = comms[-1]
    wait_until(lambda: session.state == "open" and w.status == "connected", what="open")
    session.stop().result(10)
    wait_until(lambda: w.status == "closed", what="closed")
    assert synced(comm, "status") == ["connecting", "connected", "closing", "closed"]
    assert w.status_message == "closed (code 1000): closed by session.close()"
    w.close()


def test_reconnecting_then_reconnected_in_the_status_line(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    why = "the server closed the connection with code 1011 (server error)"
    reconnecting = {"state": "reconnecting", "previous": "open", "attempt": 2, "delay_s": 1.5, "why": why}
    session.call_soon(session._emit_local, STATE, reconnecting)
    barrier(w, comm, "reconnecting")
    assert w.status == "reconnecting"
    assert w.status_message == f"reconnecting (attempt 2, in 1.5 s): {why}"
    lost = {
        "item_id": "item_spoken",
        "role": "user",
        "type": "message",
        "reason": "audio without a transcript (turn on input transcription to keep spoken turns)",
    }
    session.call_soon(session._emit_local, STATE, {"state": "open", "previous": "reconnecting"})
    reconnected = {"attempt": 2, "restored": 6, "not_restored": [lost], "queued": 2, "lost_response": None}
    session.call_soon(session._emit_local, RECONNECTED, reconnected)
    barrier(w, comm, "reconnected")
    assert w.status == "connected"
    assert w.status_message == "reconnected: 6 items restored, 1 not restored (audio without a transcript), " + (
        "2 queued sends sent"
    )
    notice = comm.custom("notice")[-1][0]
    assert (
        notice["level"] == "warning" and "user item item_spoken: audio without a transcript (turn on" in notice["text"]
    )
    assert synced(comm, "status")[-2:] == ["reconnecting", "connected"]
    assert synced(comm, "status_message")[-3:] == [f"reconnecting (attempt 2, in 1.5 s): {why}", "", w.status_message]


def test_the_expiry_warning_and_a_close_after_giving_up(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    expiring = {"expires_at": 2_000_000_000.0, "seconds_left": 299.6, "renew": "warn"}
    session.call_soon(session._emit_local, EXPIRING, expiring)
    barrier(w, comm, "expiring")
    assert w.status == "connected"
    assert w.status_message == (
        "the session ends in 5:00 (its time limit): start a new session then, or set session.renew = 'auto'"
    )
    assert comm.custom("notice")[-1][0] == {
        "kind": "notice",
        "level": "warning",
        "text": ("The session ends in 5:00 (its time limit): start a new session then, or set session.renew = 'auto'."),
    }
    gave_up = "gave up reconnecting after 8 attempts; last: reconnect attempt 8 failed: refused"
    session.call_soon(session._emit_local, CLOSED, {"code": 1006, "reason": "", "why": gave_up})
    barrier(w, comm, "closed")
    assert (w.status, w.status_message) == ("closed", f"closed (code 1006): {gave_up}")


def test_the_state_texts() -> None:
    assert reconnecting_text({"attempt": 1, "delay_s": 0.0}) == "reconnecting (attempt 1, in 0 s)"
    assert (
        reconnecting_text({"attempt": 3, "delay_s": "soon", "why": "reset"})
        == "reconnecting (attempt 3, in ? s): reset"
    )
    line, notice = reconnected_text({"restored": 1, "not_restored": [], "queued": 1, "lost_response": "resp_1"})
    assert line == "reconnected: 1 item restored, 1 queued send sent, the response in progress was lost"
    assert notice is None
    two = [{"item_id": "a", "role": "assistant", "reason": "r1 (why)"}, {"item_id": "b", "type": "x", "reason": "r1"}]
    line, notice = reconnected_text({"restored": 0, "not_restored": two})
    assert line == "reconnected: 0 items restored, 2 not restored (r1)"
    assert notice == "Reconnected, but 2 item(s) could not be restored: assistant item a: r1 (why); x item b: r1."
    auto = expiring_text({"seconds_left": 61, "renew": "auto"})
    assert (
        auto
        == "the session ends in 1:01 (its time limit): renewing it (a new connection with the history) when "
        + ("no response is running")
    )
    assert expiring_text({"seconds_left": None}).startswith("the session ends in 0:00")


def test_a_failing_tools_key_reaches_neither_the_tools_panel_nor_the_log_rows(
    live: tuple[RealtimeWidget, MockComm],
) -> None:
    w, comm = live
    session = w.session
    key = sentinel("widget-tool")

    @session.tool
    def leaky_tool() -> str:
        """Fails quoting a URL with its key."""
        raise RuntimeError(f"upstream wss://h.example/rt?api-key={key} said no")

    browser_says(w, {"kind": "text", "text": "call leaky_tool"})
    wait_until(lambda: comm.custom("exception"), what="the tool's failure")
    barrier(w, comm, "after-tool")
    batches = comm.batches()
    tools = [t for c in batches for t in c.get("tools", []) if t.get("status") == "error"]
    assert tools and "api-key=<redacted>" in tools[-1]["error"]
    local_rows = [r for c in batches for r in c.get("rows", []) if r["type"].startswith("rtwidget.tool.")]
    assert [r["type"] for r in local_rows] == ["rtwidget.tool.started", "rtwidget.tool.done"]
    seen = json.dumps([tools, local_rows, comm.custom("exception")], default=repr)
    assert key not in seen and "<redacted>" in seen


def test_the_widget_and_a_cell_connecting_at_once_share_one_socket(comms: list[MockComm]) -> None:
    async def main() -> tuple[int, int, str, str]:
        async with LocalServer(pace="fast") as server:
            session = Session(endpoint=server.url)
            w = RealtimeWidget(session)  # starts connecting in the background
            await session.connect()  # the next cell, while the widget's connect may still run
            await session.connect()  # and again: connected already, nothing new
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: wait_until(lambda: w.status == "connected", what="connected"))
            during = server.open_connections
            await session.close()
            await loop.run_in_executor(None, lambda: wait_until(lambda: w.status == "closed", what="closed"))
            await loop.run_in_executor(
                None, lambda: wait_until(lambda: server.open_connections == 0, what="the server to see the close")
            )
            after = server.open_connections
            w.close()
            return during, after, session.state, w.status

    assert run(main) == (1, 0, "closed", "closed")


def test_a_real_drop_shows_reconnecting_then_what_was_restored(
    comms: list[MockComm], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, session = dropping_session(monkeypatch)
    w = RealtimeWidget(session)
    comm = comms[-1]

    def type_while_away(event: Any) -> None:  # on the I/O thread, where the bridge handles browser messages
        if event.get("state") == "reconnecting":
            w.bridge.handle({"kind": "text", "text": "typed while away"}, [])
            w.bridge.handle({"kind": "ptt", "down": True}, [])

    session.on("rtwidget.state", type_while_away)
    try:
        wait_until(lambda: session.state == "open" and w.status == "connected", what="open")
        browser_says(w, {"kind": "text", "text": "hello there"})
        wait_until(lambda: received(session, "response.done"), what="the first reply")
        browser_says(w, {"kind": "text", "text": "tell me more"})
        wait_until(lambda: w.status_message.startswith("reconnected:"), what="the reconnect")
        (done,) = [e.data for e in list(session.log) if e.type == "rtwidget.reconnected"]
        assert w.status == "connected" and w.status_message == reconnected_text(done)[0]
        assert done["restored"] >= 2 and server.connections_served == 2
        reconnecting = [m for m in synced(comm, "status_message") if m.startswith("reconnecting")]
        assert len(reconnecting) == 1
        assert reconnecting[0].startswith("reconnecting (attempt 1, in 0.05 s): the connection was reset with no close")
        assert synced(comm, "status")[-2:] == ["reconnecting", "connected"]
        # What the user typed meanwhile was queued and went out on the new connection; push-to-talk waited.
        assert done["queued"] >= 1  # its conversation.item.create (at least)
        assert sent(session, "conversation.item.create")[-1]["item"]["content"][0]["text"] == "typed while away"
        notices = [c["text"] for c, _ in comm.custom("notice")]
        assert "Reconnecting: your message goes out once the connection is back." in notices
        assert "Reconnecting: try again once the connection is back." in notices
    finally:
        session.stop().result(10)
        w.close()
        server.stop_in_thread()


def test_a_widget_for_a_session_open_already_says_connected_and_opens_nothing(
    local_server: LocalServer, comms: list[MockComm]
) -> None:
    async def main() -> tuple[str, int]:
        async with Session(endpoint=local_server.url) as session:
            served = local_server.connections_served
            w = RealtimeWidget(session)
            status = w.status
            browser_says(w, {"kind": "hello", "view": "v"})  # a round trip on the I/O loop: a connect would show
            await asyncio.get_running_loop().run_in_executor(None, lambda: barrier(w, comms[-1], "after"))
            w.close()
            return status, local_server.connections_served - served

    assert run(main) == ("connected", 0)
