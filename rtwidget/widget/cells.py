"""Re-running a notebook cell replaces the sessions its earlier run created.

Without this, running ``session = rtwidget.Session()`` again leaves the first session connected in the kernel,
unseen: its widget is gone from the output, its microphone may still be live. Each new Session is noted under the
cell that created it (JupyterLab and Notebook 7 send the cell's id as ``metadata.cellId`` of the execute request;
ipykernel 6 and 7 give that request as ``get_ipython().get_parent()``). When a later run of the same cell creates
a session, the sessions of the earlier run are closed, and their widget's status line says they were replaced.
Sessions of other cells, or several of the same run, are independent; outside a notebook cell nothing happens.

``rtwidget/__init__.py`` registers :data:`CELLS` in ``rtwidget.session.session.CREATION_HOOKS`` in IPython only.
This module never imports IPython: it finds the shell through ``sys.modules``.
"""

from __future__ import annotations

import logging
import sys
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from ..session import Session
from .realtime_widget import _WIDGETS

__all__ = ["CELLS", "CLOSE_TIMEOUT_S", "REPLACED", "CellSessions", "ipython_parent"]

logger = logging.getLogger("rtwidget")

#: The replaced session's widget's status message.
REPLACED = "closed: replaced by a new run of its cell"
#: How long a re-run cell waits for the earlier session to close (seconds) before going on anyway.
CLOSE_TIMEOUT_S = 10.0

ParentGetter = Callable[[], Mapping[str, Any] | None]


def ipython_parent() -> Mapping[str, Any] | None:
    """The request the kernel is running (an ``execute_request`` for a cell), or None outside IPython."""
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    get_parent = getattr(shell, "get_parent", None)
    parent = get_parent() if callable(get_parent) else None
    return parent if isinstance(parent, Mapping) else None


def _origin(parent: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """(cell id, request id) of a cell's execute request; None for anything else (a comm message, no cellId)."""
    if not parent:
        return None
    metadata, header = parent.get("metadata"), parent.get("header")
    cell = metadata.get("cellId") if isinstance(metadata, Mapping) else None
    request = header.get("msg_id") if isinstance(header, Mapping) else None
    if not isinstance(cell, str) or not cell or not isinstance(request, str):
        return None
    return cell, request


class CellSessions:
    """The sessions each cell's latest run created; a session made by a later run replaces them."""

    def __init__(self, parent: ParentGetter = ipython_parent, timeout: float = CLOSE_TIMEOUT_S) -> None:
        self._parent = parent
        self.timeout = timeout
        # cell id -> (request id of its latest run that made a session, that run's sessions)
        self._runs: dict[str, tuple[str, list[weakref.ref[Session]]]] = {}

    def __call__(self, session: Session) -> None:
        """The creation hook: never raises (a Session must construct whatever happens here)."""
        try:
            self.created(session)
        except Exception:
            logger.exception("rtwidget: could not track the cell that created a session")

    def created(self, session: Session) -> None:
        """Note ``session`` under its cell; close the sessions an earlier run of that cell created.

        A session that ``succeeds`` a tracked one (a replay's fresh session after a seek backward) takes that one's
        place instead, whichever cell made the seek: it belongs to the cell that made the replay."""
        if self._take_place(getattr(session, "succeeds", None), session):
            return
        origin = _origin(self._parent())
        if origin is None:
            return
        cell, request = origin
        run = self._runs.get(cell)
        if run is None or run[0] != request:
            earlier = run[1] if run is not None else []
            run = self._runs[cell] = (request, [])
            for ref in earlier:
                old = ref()
                if old is not None and old is not session:
                    self.replace(old)
        run[1].append(weakref.ref(session))

    def _take_place(self, old: Session | None, new: Session) -> bool:
        for _, refs in self._runs.values():
            for i, ref in enumerate(refs):
                if old is not None and ref() is old:
                    refs[i] = weakref.ref(new)
                    return True
        return False

    def sessions(self, cell: str) -> list[Session]:
        """The live sessions the latest run of ``cell`` created."""
        run = self._runs.get(cell)
        return [s for s in (ref() for ref in run[1]) if s is not None] if run is not None else []

    def replace(self, session: Session) -> None:
        """Close ``session`` (waiting up to ``timeout``) and say so in its widget's status line."""
        if session.state != "closed":
            try:
                session.stop().result(self.timeout)
            except Exception as exc:  # a failed close must not fail the cell that replaced it
                logger.warning("rtwidget: closing the replaced session failed: %s", exc)
        widget = _WIDGETS.get(session)
        if widget is not None:
            # The session's loop has stopped: nothing sets the status after this.
            widget.status = "closed"
            widget.status_message = REPLACED


#: The hook ``rtwidget/__init__.py`` registers in a notebook kernel.
CELLS = CellSessions()
