"""What the session tells people when something fails: server errors as log lines, user code as data.

- A server ``error`` event is read with :func:`~rtwidget.protocol.server_errors.error_info` and logged: harmless
  races at DEBUG, session-ending errors at ERROR with a hint, the rest at WARNING with the client event that
  caused it.
- User code that raised (a handler, a log listener, a ``wait_for`` predicate, a tool) becomes the data of an
  ``rtwidget.error`` event: ``source``, ``name``, ``error_type``, ``message``, ``traceback``. The message and the
  traceback go through :func:`~rtwidget.endpoints.redact` first: an exception that quotes a URL with its
  ``?api-key=`` or ``user:password@``, or a header, must not carry the key to the widget, its saved state or
  ``session.errors``.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Any, Literal

from ..endpoints import redact
from ..protocol.events import Event
from ..protocol.server_errors import error_info
from ..tools import ToolResult

logger = logging.getLogger("rtwidget.session")

# Where a user-code failure came from (the ``source`` of an ``rtwidget.error``).
FailureSource = Literal["handler", "listener", "predicate", "tool"]
# Tool outcomes that are a failure of the tool's own code (bad arguments from the model are not).
TOOL_FAILURE_KINDS = frozenset({"exception", "timeout", "bad_output"})
# A handler that fails on every event would report tens of failures a second: after the first, the same failure
# (source, name, error type) is reported at most once per this many seconds, with the count of those held back.
REPEAT_WINDOW_S = 1.0
# What to do about errors that end the session.
_TERMINAL_HINTS = {
    "beta_api_shape_disabled": "This server no longer speaks the beta dialect: drop dialect='beta' and the "
    "OpenAI-Beta header.",
    "session_expired": "Sessions have a maximum duration: start a new Session (and load_history if needed).",
}


def log_server_error(event: Event) -> None:
    """Log a server ``error`` event at the level it deserves, naming its cause and what to do about it."""
    info = error_info(event.data)
    if info.harmless:
        logger.debug("rtwidget: harmless server error %s", info.code)
        return
    cause = event.cause or {}
    caused_by = f" (caused by {cause.get('type')} {cause.get('event_id')})" if cause else ""
    hint = _TERMINAL_HINTS.get(info.code or "", "")
    if hint:  # after the server's message, which may or may not end with a full stop
        hint = (" " if info.message.rstrip().endswith((".", "!", "?")) else ". ") + hint
    level = logging.ERROR if info.terminal else logging.WARNING
    logger.log(level, "rtwidget: server error %s: %s%s%s", info.label, info.message, caused_by, hint)


def callable_name(fn: Any) -> str:
    """How an ``rtwidget.error`` names a handler, listener or predicate: its qualified name, else its repr."""
    name = getattr(fn, "__qualname__", None)
    return name if isinstance(name, str) else repr(fn)


def failure_data(source: FailureSource, name: str, exc: BaseException) -> dict[str, Any]:
    """The data of an ``rtwidget.error`` for an exception raised by user code."""
    return {
        "source": source,
        "name": name,
        "error_type": type(exc).__name__,
        "message": redact(str(exc)),
        "traceback": redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))),
    }


def tool_failure_data(result: ToolResult) -> dict[str, Any] | None:
    """The data of an ``rtwidget.error`` for a tool that raised or timed out; None for any other outcome."""
    if result.ok or result.error_kind not in TOOL_FAILURE_KINDS:
        return None
    error = result.error or ""
    if result.error_kind == "timeout":
        error_type, message = "TimeoutError", error
    elif result.error_kind == "bad_output":  # "cannot convert the return value to a string: <Class>: <text>"
        parts = error.split(": ")
        error_type, message = (parts[1] if len(parts) > 2 else "ValueError"), error
    else:  # the registry writes "<ExceptionClass>: <str(exc)>", or the class alone when str(exc) is empty
        error_type, _, message = error.partition(": ")
    return {
        "source": "tool",
        "name": result.name,
        "error_type": error_type,
        "message": redact(message),
        "traceback": redact(result.traceback or ""),
    }


class FailureThrottle:
    """Lets the first failure of each kind through, then at most one per :data:`REPEAT_WINDOW_S` (on one thread).

    A let-through failure carries ``repeats``: how many of the same kind were held back since the last one.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = REPEAT_WINDOW_S) -> None:
        self._clock = clock
        self._window_s = window_s
        self._last: dict[tuple[str, str, str], float] = {}
        self._held: dict[tuple[str, str, str], int] = {}

    def admit(self, data: dict[str, Any]) -> bool:
        """True to report ``data`` now (its ``repeats`` set); False to hold it back (counted)."""
        key = (str(data.get("source")), str(data.get("name")), str(data.get("error_type")))
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._window_s:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        self._last[key] = now
        data["repeats"] = self._held.pop(key, 0)
        return True
