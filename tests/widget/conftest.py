"""Fixtures of the widget tests: the recording comm, and a widget whose session is connected to the local server."""

from __future__ import annotations

from collections.abc import Iterator

import ipywidgets.widgets.widget as widget_module
import pytest

from rtwidget import Session
from rtwidget.server import LocalServer
from rtwidget.widget import RealtimeWidget

from .comm_double import MockComm, wait_until


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> list[MockComm]:
    """Every comm a widget opens during the test, newest last."""
    made: list[MockComm] = []

    def create(**kwargs: object) -> MockComm:
        made.append(MockComm(**kwargs))
        return made[-1]

    monkeypatch.setattr(widget_module.comm, "create_comm", create)
    return made


@pytest.fixture
def live(local_server: LocalServer, comms: list[MockComm]) -> Iterator[tuple[RealtimeWidget, MockComm]]:
    """A widget whose session is open on the local server (the handshake done: ``session.updated`` seen), and
    its comm."""
    session = Session(endpoint=local_server.url)
    w = RealtimeWidget(session)
    comm = comms[-1]
    wait_until(lambda: session.state == "open" and w.status == "connected" and session.config, what="open")
    yield w, comm
    session.stop().result(10)
    w.close()
