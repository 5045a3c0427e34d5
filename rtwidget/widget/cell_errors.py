"""An error a cell's call to a session raised is also marked in that session's widget.

The cell shows the exception (``ask()`` raises a :class:`~rtwidget.RealtimeError`, ``send()`` a
:class:`~rtwidget.ClientEventError`, a wait a :class:`~rtwidget.WaitTimeout`); the widget, often scrolled far
from that cell, gets an error notice naming it, so the person watching the widget sees why nothing happened.
The session is the first ``self`` in the traceback that is a :class:`~rtwidget.Session` (the public method the
cell called); an exception no session method raised marks nothing.

``rtwidget/__init__.py`` calls :func:`mark_cell_error` after each cell (IPython's ``post_run_cell``) once this
package is imported.
"""

from __future__ import annotations

from typing import Any

from ..session import Session
from .realtime_widget import _WIDGETS

__all__ = ["mark_cell_error", "session_of"]


def session_of(exc: BaseException) -> Session | None:
    """The session whose method raised ``exc`` (the outermost one in its traceback), or None."""
    tb = exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if isinstance(owner, Session):
            return owner
        tb = tb.tb_next
    return None


def mark_cell_error(result: Any) -> None:
    """IPython's ``post_run_cell`` hook: a cell's exception from a session call becomes a notice in its widget.

    Never raises (a failing hook would print under every later cell)."""
    exc = getattr(result, "error_in_exec", None)
    if not isinstance(exc, Exception):
        return
    try:
        session = session_of(exc)
        widget = _WIDGETS.get(session) if session is not None else None
        if widget is None or session is None:
            return
        text = f"A cell's call failed: {type(exc).__name__}: {exc}"
        session.call_soon(widget.bridge.notice, "error", text)
    except Exception:  # the cell already shows the error; the mark is a courtesy
        return
