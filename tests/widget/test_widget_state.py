"""The widget and its session's state: rtwidget's own handlers survive the user's ``off()``, the status line
follows the session's states (reconnecting, reconnected, expiring), and no secret reaches a trait or a message.
A mock comm (no browser), the local server over real loopback WebSockets."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from types import SimpleNamespace

from rtwidget import Session
from rtwidget.server import LocalServer
from rtwidget.session import CLOSED
from rtwidget.widget import RealtimeWidget
from tests.support import received, run

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
