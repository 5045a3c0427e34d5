"""The session's own (not wire) events, all typed ``rtwidget.*``, and the records it keeps of the wire.

Local events reach handlers, waiters and ``events()`` exactly like server events, and are logged with
direction ``"local"``:

- ``rtwidget.connected``: the socket is open (data: the endpoint's ``describe()``, never its headers);
- ``rtwidget.closed``: the socket closed and the session with it (``code``, ``reason``, and ``why``: how, in plain
  words); a drop the session reconnects from is no close;
- ``rtwidget.state``: ``Session.state`` changed (``state``, ``previous``; see :mod:`.lifecycle`; while
  reconnecting also ``attempt``, ``delay_s`` and ``why``);
- ``rtwidget.reconnected``: a dropped connection was replaced (``attempt``, ``restored``: items replayed,
  ``not_restored``: ``[{item_id, role, type, reason}]``, ``shortened``: interrupted turns replayed as far as they
  were heard, ``queued``: sends made meanwhile, now sent, ``lost_response``: the response the drop cut off);
- ``rtwidget.expiring``: the session nears its ``expires_at`` (``expires_at``, ``seconds_left``, ``renew``);
- ``rtwidget.tool.started`` / ``rtwidget.tool.done``: a tool call began / finished (before its output is sent);
- ``rtwidget.sent``: a client event went to the writer (data: the client event);
- ``rtwidget.error``: user code failed: a handler, a log listener, a ``wait_for`` predicate or a tool; or the
  server failed the session: a response it went silent on (source ``"response"``, see :mod:`.response_watch`), an
  event the core could not fold (source ``"protocol"``) (data: ``source``, ``name``, ``error_type``, ``message``,
  ``traceback``; see :mod:`.reporting`);
- ``rtwidget.hint``: the doctor saw a mistake in the flow (data: ``rule``, ``level``, ``what``, ``fix``,
  ``event_ids``, ``time``, ``url``; see :mod:`.doctoring`);
- ``rtwidget.recording``: a recording into a cassette started or finished (``on``, ``path``; see :mod:`.recording`),
  also when ``close()`` finishes it. Not written into the cassette itself.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from ..protocol.events import Event

# Every local event type starts with this (no wire event does).
LOCAL_PREFIX = "rtwidget."
CONNECTED = "rtwidget.connected"
CLOSED = "rtwidget.closed"
STATE = "rtwidget.state"
RECONNECTED = "rtwidget.reconnected"
EXPIRING = "rtwidget.expiring"
TOOL_STARTED = "rtwidget.tool.started"
TOOL_DONE = "rtwidget.tool.done"
SENT = "rtwidget.sent"
ERROR = "rtwidget.error"
HINT = "rtwidget.hint"
RECORDING = "rtwidget.recording"


@dataclass
class LogEntry:
    """One event on the wire (or a local one): when, which way, what type, how big, and the event itself."""

    time: float  # seconds since the session was created (monotonic)
    direction: str  # "client" (sent), "server" (received) or "local"
    type: str
    size: int  # bytes of wire text (0 for local events)
    data: dict[str, Any]  # the event, audio payloads replaced by "<N bytes>"
    cause_id: str | None = None  # for an error event: the event_id of the client event that caused it
    duplicate: bool = False  # a server event seen already (its event_id, or a response that ended): not acted on


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


# The default bound of a session's log in bytes (besides its bound in entries).
LOG_MAX_BYTES = 64 * 1024 * 1024


class SessionLog(deque[LogEntry]):
    """The session's log: a deque bounded in entries (``maxlen``) and in bytes (``max_bytes``), oldest dropped.

    An entry counts its wire size, or, when its data was shortened (audio elided), the size kept; ``bytes`` is
    the running total, ``dropped`` how many entries were dropped to stay within the bounds.
    """

    def __init__(self, maxlen: int, max_bytes: int = LOG_MAX_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError(f"log_max_bytes must be at least 1, not {max_bytes!r}")
        super().__init__(maxlen=maxlen)
        self.max_bytes = max_bytes
        self.bytes = 0
        self.dropped = 0
        self._sizes: deque[int] = deque()

    def add(self, entry: LogEntry, kept_bytes: int) -> None:
        """Append ``entry`` (``kept_bytes`` big), dropping the oldest entries beyond either bound."""
        if self.maxlen is not None and len(self) == self.maxlen:
            self._drop_oldest()
        self.append(entry)
        self._sizes.append(kept_bytes)
        self.bytes += kept_bytes
        while self.bytes > self.max_bytes and len(self) > 1:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        self.popleft()
        self.bytes -= self._sizes.popleft() if self._sizes else 0
        self.dropped += 1

    def clear(self) -> None:
        """Empty the log (the count of dropped entries stays)."""
        super().clear()
        self._sizes.clear()
        self.bytes = 0
