"""Log records of a widget's session shown in the widget, not as stray stderr under the widget's cell.

With no logging configured, Python prints a WARNING or worse through ``logging.lastResort`` to ``sys.stderr``;
ipykernel sends what a session's I/O thread writes there to the cell that started the thread (the widget's cell),
as a red block, often off screen and far from the cell that caused it. While a widget is attached to a session,
:class:`LogRouter` (one handler on the ``rtwidget`` logger) takes the records emitted on that session's I/O thread
and shows them in the widget as notices instead. Because a handler is then found, ``lastResort`` no longer runs
for ``rtwidget`` records: the router prints the records it does not route itself, exactly when ``lastResort``
would have, so scripts and other threads see what they saw before. Records still propagate: handlers the user
configured (``logging.basicConfig``, pytest's caplog) get every record as before.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any, Protocol

ROOT_LOGGER = "rtwidget"


class Target(Protocol):
    """Where records go: a widget's bridge (held weakly: a forgotten widget does not stay routed)."""

    def logs_here(self) -> bool:
        """True on the thread whose records this target shows (its session's I/O thread)."""
        ...

    def notice(self, level: str, text: str) -> None: ...


def notice_level(record: logging.LogRecord) -> str:
    """The notice level of a record: ``error`` from ERROR up, else ``warning``."""
    return "error" if record.levelno >= logging.ERROR else "warning"


def notice_text(record: logging.LogRecord) -> str:
    """The record's message without the ``rtwidget: `` prefix, first letter up, and the exception's last line."""
    text = record.getMessage().removeprefix("rtwidget: ")
    text = text[:1].upper() + text[1:]
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        text += f" ({type(exc).__name__}: {exc})"
    return text


def routed(record: logging.LogRecord) -> bool:
    """Records about the session (its connection, the server, tools, handlers) go to the widget; the widget's
    own (``rtwidget.widget``: a malformed browser message) are for whoever develops it, and stay in the log."""
    return not record.name.startswith("rtwidget.widget")


def shown_elsewhere(record: logging.LogRecord) -> bool:
    """Records the widget already shows in its own words: a server error is a notice from the bridge's event
    handler (it is in the event log too), so its log record adds no second notice."""
    return record.funcName == "log_server_error"


class LogRouter(logging.Handler):
    """Routes WARNING-and-up ``rtwidget`` records of a widget's session thread to that widget."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._routes: dict[int, weakref.ref[Target]] = {}
        self._routes_lock = threading.Lock()

    def add(self, target: Target) -> None:
        """Route the records emitted where ``target.logs_here()`` to ``target.notice``; the handler joins the
        ``rtwidget`` logger with the first target."""
        key = id(target)
        with self._routes_lock:
            self._routes[key] = weakref.ref(target, lambda _ref: self._drop(key))
            if len(self._routes) == 1:
                logging.getLogger(ROOT_LOGGER).addHandler(self)

    def remove(self, target: Target) -> None:
        """Stop routing to ``target``; the handler leaves the logger with the last target."""
        self._drop(id(target))

    def _drop(self, key: int) -> None:
        with self._routes_lock:
            if self._routes.pop(key, None) is not None and not self._routes:
                logging.getLogger(ROOT_LOGGER).removeHandler(self)

    def targets(self) -> int:
        """How many targets are routed to (for tests)."""
        with self._routes_lock:
            return len(self._routes)

    def emit(self, record: logging.LogRecord) -> None:
        with self._routes_lock:
            refs = list(self._routes.values())
        target = next((t for t in (r() for r in refs) if t is not None and t.logs_here()), None)
        if target is None or not routed(record):
            self._last_resort(record)
            return
        if shown_elsewhere(record):
            return
        try:
            target.notice(notice_level(record), notice_text(record))
        except Exception:  # a notice that cannot be sent: the record is printed as it would have been
            self._last_resort(record)

    def _last_resort(self, record: logging.LogRecord) -> None:
        """Print ``record`` as Python would have without this handler: through ``lastResort``, when no other
        handler on the record's way up takes it."""
        last = logging.lastResort
        if last is None or record.levelno < last.level or self._others_handle(record.name):
            return
        last.handle(record)

    def _others_handle(self, name: str) -> bool:
        logger: Any = logging.getLogger(name)
        while logger is not None:
            if any(h is not self for h in logger.handlers):
                return True
            if not logger.propagate:
                return False
            logger = logger.parent
        return False


# The one router of the process.
ROUTER = LogRouter()
