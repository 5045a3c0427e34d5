"""Re-running a notebook cell replaces the sessions its earlier run created (rtwidget.widget.cells).

The kernel's parent request (``get_ipython().get_parent()``: an execute_request whose metadata carries the cell's
``cellId``) is simulated; the sessions are real, connected to the local server over loopback WebSockets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rtwidget import Session
from rtwidget.server import LocalServer
from rtwidget.session import session as session_module
from rtwidget.widget import RealtimeWidget
from rtwidget.widget.cells import REPLACED, CellSessions, ipython_parent
from rtwidget.widget.replay import replay
from tests.cassette.recorded import shared_recording
from tests.support import TIMEOUT

from .comm_double import MockComm, wait_until

ROOT = Path(__file__).resolve().parents[2]


class Kernel:
    """The request the simulated kernel is running: a cell's execute_request, or anything else."""

    def __init__(self) -> None:
        self.parent: dict[str, Any] | None = None
        self.runs = 0

    def run(self, cell: str | None) -> None:
        """A new execute_request, of the cell ``cell`` (None: one without a cellId, as a console sends)."""
        self.runs += 1
        metadata = {"cellId": cell} if cell is not None else {}
        self.parent = {
            "header": {"msg_id": f"request-{self.runs}", "msg_type": "execute_request"},
            "metadata": metadata,
        }


@pytest.fixture
def kernel() -> Kernel:
    return Kernel()


@pytest.fixture
def cells(kernel: Kernel, monkeypatch: pytest.MonkeyPatch) -> Iterator[CellSessions]:
    """The tracker, installed as a creation hook of every Session made during the test."""
    tracker = CellSessions(lambda: kernel.parent)
    monkeypatch.setattr(session_module, "CREATION_HOOKS", [tracker])
    yield tracker
    for cell in list(tracker._runs):
        for s in tracker.sessions(cell):
            s.stop().result(TIMEOUT)


def connected(url: str) -> Session:
    session = Session(endpoint=url)
    session.start().result(TIMEOUT)
    return session


def test_a_rerun_closes_what_the_earlier_run_of_that_cell_created(
    cells: CellSessions, kernel: Kernel, local_server: LocalServer, comms: list[MockComm]
) -> None:
    kernel.run("cell-a")
    first = Session(endpoint=local_server.url)
    widget = RealtimeWidget(first)
    wait_until(lambda: first.state == "open" and widget.status == "connected", what="the first session open")
    kernel.run("cell-a")  # the same cell, run again
    second = connected(local_server.url)
    # Closed before the second Session() returned: the two never talk at once.
    assert first.state == "closed" and not first.connected
    assert second.state == "open"
    assert (widget.status, widget.status_message) == ("closed", REPLACED)
    assert cells.sessions("cell-a") == [second]
    widget.close()


def test_sessions_of_other_cells_and_of_one_run_are_independent(
    cells: CellSessions, kernel: Kernel, local_server: LocalServer
) -> None:
    kernel.run("cell-a")
    a1, a2 = connected(local_server.url), connected(local_server.url)  # one run, two sessions
    kernel.run("cell-b")
    b = connected(local_server.url)
    assert [s.state for s in (a1, a2, b)] == ["open"] * 3
    assert cells.sessions("cell-a") == [a1, a2] and cells.sessions("cell-b") == [b]
    kernel.run("cell-a")
    a3 = connected(local_server.url)
    assert [s.state for s in (a1, a2, b, a3)] == ["closed", "closed", "open", "open"]


def test_outside_a_notebook_cell_nothing_is_replaced(
    cells: CellSessions, kernel: Kernel, local_server: LocalServer
) -> None:
    first = connected(local_server.url)  # no request at all (a script)
    kernel.run(None)  # a request without a cellId (a console, a comm message)
    second = connected(local_server.url)
    kernel.run(None)
    third = connected(local_server.url)
    assert [s.state for s in (first, second, third)] == ["open"] * 3
    assert cells._runs == {}
    for s in (first, second, third):
        s.stop().result(TIMEOUT)


def test_a_replay_seeking_back_from_another_cell_still_belongs_to_the_cell_that_made_it(
    cells: CellSessions, kernel: Kernel, tmp_path_factory: pytest.TempPathFactory, comms: list[MockComm]
) -> None:
    path = shared_recording(tmp_path_factory).path
    kernel.run("cell-a")
    r = replay(path, play=False)
    try:
        for _ in range(2):  # the seeking cell, run twice: its second run must not close the replay's session
            kernel.run("cell-b")
            r.seek(r.duration)
            r.seek(1.0)  # backward: a fresh session, in the place of the one it succeeds
            assert cells.sessions("cell-a") == [r.session] and cells.sessions("cell-b") == []
            assert r.widget.status_message != REPLACED and r.widget.session is r.session
        kernel.run("cell-a")  # the replay's cell, run again: its replay's current session is replaced
        again = replay(path, play=False)
        assert r.session.state == "closed" and r.widget.status_message == REPLACED
        assert cells.sessions("cell-a") == [again.session]
        again.close()
    finally:
        r.close()


def test_a_failing_tracker_never_breaks_a_session(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("no kernel")

    monkeypatch.setattr(session_module, "CREATION_HOOKS", [CellSessions(broken)])
    session = Session(endpoint="ws://127.0.0.1:9/")
    assert session.state == "idle"


def test_outside_ipython_there_is_no_parent_request() -> None:
    assert ipython_parent() is None


# IPython's shell with a kernel's get_parent(): `import rtwidget` installs the hook once the session module loads.
IPYTHON_SCRIPT = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
parent = {}
shell.get_parent = lambda: parent
import rtwidget

def run(cell, n):
    parent.clear()
    parent.update(header={"msg_id": f"r{n}"}, metadata={"cellId": cell})
    shell.events.trigger("pre_run_cell", None)

run("c1", 1)
first = rtwidget.Session(endpoint=sys.argv[1])
first.start().result(30)
from rtwidget.session import session as module
hooked = [getattr(h, "__name__", "") for h in module.CREATION_HOOKS]
run("c1", 2)
second = rtwidget.Session(endpoint=sys.argv[1])
second.start().result(30)
states = [first.state, second.state]
second.stop().result(30)
print(json.dumps({"hooked": hooked, "states": states}))
"""


def test_in_ipython_a_rerun_cell_replaces_its_session(local_server: LocalServer) -> None:
    out = subprocess.run(
        [sys.executable, "-c", IPYTHON_SCRIPT, local_server.url],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["hooked"] == ["_session_created"]
    assert result["states"] == ["closed", "open"]
