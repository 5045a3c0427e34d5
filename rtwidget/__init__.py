"""rtwidget: talk to Realtime speech-to-speech models from a notebook, and see everything on the wire.

session = rtwidget.Session()          # no key: the local server; OPENAI_API_KEY: OpenAI
await session.connect()
reply = await session.ask("hello")
session                               # in a notebook: the widget (talk, listen, watch every event)
rtwidget.replay("talk.cassette")      # a recorded session (session.record), offline, in the widget

Every public name is imported on first use (PEP 562), so ``import rtwidget`` and ``import rtwidget.protocol``
load nothing but the standard library, and the widget stack (anywidget, ipywidgets) loads only with the widget.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from .errors import (
    ClientEventError,
    ConnectionLost,
    NotConnected,
    ProtocolError,
    RealtimeError,
    SessionClosed,
    WaitTimeout,
)

if TYPE_CHECKING:
    from .endpoints import Endpoint
    from .session import LogEntry, OutOfBandResult, Reply, Session, ToolCallRecord
    from .tools import Tool, ToolRegistry, ToolResult
    from .widget import RealtimeWidget
    from .widget.replay import replay

__version__ = "0.1.0"

# public name -> the module that defines it (imported when the name is first used)
_LAZY = {
    "Endpoint": "rtwidget.endpoints",
    "LogEntry": "rtwidget.session",
    "OutOfBandResult": "rtwidget.session",
    "Reply": "rtwidget.session",
    "Session": "rtwidget.session",
    "ToolCallRecord": "rtwidget.session",
    "Tool": "rtwidget.tools",
    "ToolRegistry": "rtwidget.tools",
    "ToolResult": "rtwidget.tools",
    "RealtimeWidget": "rtwidget.widget",
    "replay": "rtwidget.widget.replay",
}


# Subpackages and modules, also reachable as attributes of ``rtwidget`` (imported on first use, like the names).
_SUBMODULES = frozenset(
    {"audio", "cli", "endpoints", "errors", "prices", "protocol", "server", "session", "tools", "widget"}
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        submodule = importlib.import_module(f"rtwidget.{name}")
        _track_cells()
        return submodule
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rtwidget' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    _track_cells()
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


def _session_mimebundle(session: Any) -> Any:
    """How IPython shows a Session: as its widget (``rtwidget.widget`` is imported only now)."""
    from .widget import RealtimeWidget

    return RealtimeWidget(session)._repr_mimebundle_()


def _register_display() -> None:
    """In IPython (a notebook kernel), show a Session as its widget, through the display formatter.

    Does nothing outside IPython, and never imports IPython itself. The type is named, not imported, so the
    session module need not be loaded yet.
    """
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    if shell is None:
        return
    formatter = shell.display_formatter.mimebundle_formatter
    formatter.for_type_by_name("rtwidget.session.session", "Session", _session_mimebundle)
    global _TRACKING
    _TRACKING = True
    # The session module loads on first use: hook in then (a lazy name) or before the next cell at the latest.
    shell.events.register("pre_run_cell", _track_cells)
    shell.events.register("post_run_cell", _cell_finished)
    _track_cells()


def _cell_finished(result: Any) -> None:
    """After a cell: an error its call to a session raised is marked in that session's widget (if it has one:
    with no widget imported there is nothing to mark, and nothing is imported)."""
    if getattr(result, "error_in_exec", None) is None or "rtwidget.widget.realtime_widget" not in sys.modules:
        return
    from .widget.cell_errors import mark_cell_error

    mark_cell_error(result)


# In IPython: re-running a cell closes the sessions its earlier run created (see rtwidget.widget.cells).
_TRACKING = False


def _session_created(session: Any) -> None:
    """The creation hook, installed in IPython only (``rtwidget.widget`` is imported only now)."""
    from .widget.cells import CELLS

    CELLS(session)


def _track_cells(*_info: Any) -> None:
    """In IPython, once the session module is loaded, install the creation hook (once)."""
    module = sys.modules.get("rtwidget.session.session") if _TRACKING else None
    hooks = getattr(module, "CREATION_HOOKS", None)
    if hooks is not None and _session_created not in hooks:
        hooks.append(_session_created)


_register_display()


__all__ = [
    "ClientEventError",
    "ConnectionLost",
    "Endpoint",
    "LogEntry",
    "NotConnected",
    "OutOfBandResult",
    "ProtocolError",
    "RealtimeError",
    "RealtimeWidget",
    "Reply",
    "Session",
    "SessionClosed",
    "Tool",
    "ToolCallRecord",
    "ToolRegistry",
    "ToolResult",
    "WaitTimeout",
    "__version__",
    "replay",
]
