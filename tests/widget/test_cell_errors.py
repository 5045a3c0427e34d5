"""An error a cell's call to a session raised is also marked in the session's widget (a notice), found through
the traceback; other errors mark nothing. Against the local server over real loopback."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import rtwidget
from rtwidget.errors import ClientEventError
from rtwidget.widget import RealtimeWidget
from rtwidget.widget.cell_errors import mark_cell_error, session_of

from .comm_double import MockComm, barrier


def _raised(call: Any) -> BaseException:
    try:
        call()
    except BaseException as exc:
        return exc
    raise AssertionError("the call did not raise")


def _notices(comm: MockComm) -> list[dict[str, Any]]:
    return [c for c, _ in comm.custom("notice")]


def test_a_refused_send_from_a_cell_is_marked_in_the_widget(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    exc = _raised(lambda: w.session.send({"type": "conversation.item.create", "item": {"type": "nonsense"}}))
    assert isinstance(exc, ClientEventError)
    assert session_of(exc) is w.session
    rtwidget._cell_finished(SimpleNamespace(error_in_exec=exc))  # IPython's post_run_cell hook
    barrier(w, comm, "after")
    [notice] = _notices(comm)
    assert notice["level"] == "error"
    assert notice["text"].startswith("A cell's call failed: ClientEventError: ")
    assert str(exc)[:40] in notice["text"]


@pytest.mark.parametrize("error", [ValueError("not from a session"), None])
def test_other_errors_and_clean_cells_mark_nothing(live: tuple[RealtimeWidget, MockComm], error: Any) -> None:
    w, comm = live
    exc = _raised(lambda: (_ for _ in ()).throw(error)) if error is not None else None
    mark_cell_error(SimpleNamespace(error_in_exec=exc))
    barrier(w, comm, "after")
    assert _notices(comm) == []
