"""The session's own (not wire) events, all typed ``rtwidget.*``, and the records it keeps of the wire.

Local events reach handlers, waiters and ``events()`` exactly like server events, and are logged with
direction ``"local"``:

- ``rtwidget.connected``: the socket is open (data: the endpoint's ``describe()``, never its headers);
- ``rtwidget.closed``: the socket closed (``code``, ``reason``);
- ``rtwidget.state``: ``Session.state`` changed (``state``, ``previous``; see :mod:`.lifecycle`);
- ``rtwidget.tool.started`` / ``rtwidget.tool.done``: a tool call began / finished (before its output is sent);
- ``rtwidget.sent``: a client event went to the writer (data: the client event);
- ``rtwidget.error``: user code failed: a handler, a log listener, a ``wait_for`` predicate or a tool (data:
  ``source``, ``name``, ``error_type``, ``message``, ``traceback``; see :mod:`.reporting`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..protocol.events import Event

# Every local event type starts with this (no wire event does).
LOCAL_PREFIX = "rtwidget."
CONNECTED = "rtwidget.connected"
CLOSED = "rtwidget.closed"
STATE = "rtwidget.state"
TOOL_STARTED = "rtwidget.tool.started"
TOOL_DONE = "rtwidget.tool.done"
SENT = "rtwidget.sent"
ERROR = "rtwidget.error"


@dataclass
class LogEntry:
    """One event on the wire (or a local one): when, which way, what type, how big, and the event itself."""

    time: float  # seconds since the session was created (monotonic)
    direction: str  # "client" (sent), "server" (received) or "local"
    type: str
    size: int  # bytes of wire text (0 for local events)
    data: dict[str, Any]  # the event, audio payloads replaced by "<N bytes>"
    cause_id: str | None = None  # for an error event: the event_id of the client event that caused it


@dataclass
class ToolCallRecord:
    """A function call the model made and what rtwidget answered."""

    name: str
    call_id: str
    arguments: dict[str, Any] | None
    output: str
    ok: bool
    error: str | None
    response_id: str
    duration_s: float


def local_event(etype: str, data: dict[str, Any]) -> Event:
    """A local event: its data carries its ``type`` like a wire event's does."""
    return Event(etype, {"type": etype, **data})
