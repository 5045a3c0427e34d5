"""The widget's life around its session: one widget per session, shown for the session by IPython's display
formatter, detached by close(); traits the browser sets (echo suppression); user-code failures shown in the
browser. A mock comm (no browser), the local server over real loopback WebSockets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rtwidget import Session
from rtwidget.server import LocalServer
from rtwidget.session import ERROR, TURN_MODES, VOICES
from rtwidget.widget import RealtimeWidget
from tests.support import TIMEOUT, received, sent

from .comm_double import MockComm, barrier, browser_says, browser_sets, comm_of, wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_one_widget_per_session_without_touching_the_session(comms: list[MockComm]) -> None:
    session = Session(endpoint="ws://127.0.0.1:9/")
    attributes = set(vars(session))
    w = RealtimeWidget(session, autoconnect=False)
    assert set(vars(session)) == attributes  # the registry is the widget's: nothing added to the session
    assert not hasattr(session, "_repr_mimebundle_") and not hasattr(session, "widget")
    assert not hasattr(Session, "view_factory")
    assert RealtimeWidget(session) is w
    assert RealtimeWidget(Session(), autoconnect=False) is not w
    assert RealtimeWidget(session, mic_chunk_ms=200) is w and w.mic_chunk_ms == 200
    assert w.turn_modes == list(TURN_MODES) == ["server_vad", "semantic_vad", "push_to_talk"]
    assert w.turn_mode == "server_vad" and w.voices == list(VOICES) and "marin" in w.voices
    assert w.status == "idle"  # autoconnect=False: nothing started
    w.close()


DISPLAY_SCRIPT = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
import rtwidget

loaded = "anywidget" in sys.modules or "ipywidgets" in sys.modules
session = rtwidget.Session(endpoint=sys.argv[1])
data, metadata = shell.display_formatter.format(session)
widget = rtwidget.RealtimeWidget(session)
again, _ = shell.display_formatter.format(session)
session.stop().result(30)
own, _ = widget._repr_mimebundle_()  # anywidget's: (data, metadata)
print(json.dumps({"loaded_by_import": loaded, "data": data, "again": again, "own": own, "model_id": widget.model_id}))
"""


def test_ipython_shows_a_session_as_its_widget(local_server: LocalServer) -> None:
    out = subprocess.run(
        [sys.executable, "-c", DISPLAY_SCRIPT, local_server.url],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout.strip().splitlines()[-1])
    assert shown["loaded_by_import"] is False  # registering the display imported no widget stack
    view = shown["data"]["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == shown["model_id"] and view["version_major"] == 2
    assert shown["data"] == shown["again"] == shown["own"]  # every display: the session's one widget, as is


def test_outside_ipython_import_rtwidget_registers_nothing() -> None:
    code = "import sys, rtwidget; rtwidget.Session; print(sorted({'IPython', 'anywidget'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_close_detaches_and_a_fresh_widget_follows(
    live: tuple[RealtimeWidget, MockComm], comms: list[MockComm]
) -> None:
    w, comm = live
    session = w.session
    browser_says(w, {"kind": "text", "text": "first"})
    wait_until(lambda: received(session, "response.done"), what="response.done")
    barrier(w, comm, "before-close")
    bridge = w.bridge
    rows, usage, forwarded = bridge.rows.total, dict(w.usage), dict(bridge.playhead.forwarded)
    assert forwarded and usage["responses"] == 1
    w.close()
    assert comm.closed
    messages = len(comm.sent)
    fresh = RealtimeWidget(session)
    assert fresh is not w and fresh.status == "connected"
    fresh_comm = comm_of(comms, fresh)
    session.send_text("second")
    wait_until(lambda: len(received(session, "response.done")) == 2, what="the second response.done")
    barrier(fresh, fresh_comm, "fresh")
    # The old bridge heard nothing more (its log listener and handler are gone); its comm got nothing more.
    assert (bridge.rows.total, w.usage, bridge.playhead.forwarded) == (rows, usage, forwarded)
    assert len(comm.sent) == messages
    # The fresh widget has the session's events from now on, and took what the session had before (issue 9).
    assert fresh_comm.custom("audio") and fresh.usage["responses"] == 2
    assert RealtimeWidget(session) is fresh
    fresh.close()


def test_the_kernels_own_changes_are_not_applied_back(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    updates_before = len(sent(session, "session.update"))

    def updates() -> list[dict[str, Any]]:
        return [u["session"] for u in sent(session, "session.update")[updates_before:]]

    session.update(instructions="from a cell")  # the server confirms; the kernel mirrors it into the trait
    wait_until(lambda: w.instructions == "from a cell", what="the instructions trait")
    barrier(w, comm, "mirrored")  # an echo would have been applied (call_soon) before this hello is answered
    assert [u.get("instructions") for u in updates()] == ["from a cell"]
    browser_sets(w, instructions="from the browser")  # a different value: applied
    wait_until(lambda: session.config.get("instructions") == "from the browser", what="the browser's instructions")
    browser_sets(w, turn_mode="semantic_vad")
    wait_until(lambda: session.config["audio"]["input"]["turn_detection"]["type"] == "semantic_vad", what="vad")
    barrier(w, comm, "applied")
    assert [u.get("instructions") for u in updates()] == ["from a cell", "from the browser", None]
    assert updates()[2]["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    assert w.turn_mode == "semantic_vad" and w.instructions == "from the browser"
    browser_sets(w, turn_mode="walkie_talkie")  # not a turn mode: refused with a notice, nothing sent
    barrier(w, comm, "refused")
    assert len(sent(session, "session.update")) == updates_before + 3
    assert [c["text"] for c, _ in comm.custom("notice")] == [
        "turn_mode 'walkie_talkie' is not one of server_vad, semantic_vad, push_to_talk"
    ]


def test_failures_of_user_code_reach_the_browser_and_the_snapshot(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session

    def broken_handler(event: object) -> None:
        raise ValueError("the handler broke")

    session.on("response.done", broken_handler)
    browser_says(w, {"kind": "text", "text": "hello"})
    message = wait_until(lambda: comm.custom("exception"), what="an exception message")[0][0]
    assert set(message) == {"kind", "error"}
    error = message["error"]
    assert error["source"] == "handler" and error["name"].endswith("broken_handler")
    assert (error["error_type"], error["message"]) == ("ValueError", "the handler broke")
    assert "ValueError: the handler broke" in error["traceback"]
    assert [e.data for e in session.errors][-1] == {"type": ERROR, **error}
    assert barrier(w, comm, "after-failure")["exceptions"] == [error]
    # The snapshot keeps the newest 20.
    session.off("response.done", broken_handler)
    for n in range(25):
        failure = {"type": ERROR, "source": "listener", "name": f"f{n}", "error_type": "E", "message": "m"}
        session.call_soon(w.bridge._on_event, SimpleNamespace(type=ERROR, data={**failure, "traceback": ""}))
    kept = barrier(w, comm, "after-25")["exceptions"]
    assert [e["name"] for e in kept] == [f"f{n}" for n in range(5, 25)]
    assert len(comm.custom("exception")) == 26
