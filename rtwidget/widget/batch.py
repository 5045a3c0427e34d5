"""What the bridge gathers between two messages to the browser, and when the next one is due: panel updates
(:class:`PanelBatch`) and assistant audio (:class:`AudioCoalescer`).

In JupyterLab each comm message costs the browser far more than its bytes (bench/RESULTS.md), so the bridge
sends event-log rows, items, tools and responses together: something new (a row, an item, a tool call, a
response) within ``batch_s``; changes that only update merged rows (a mic append or a delta joining its run)
within ``update_s``. Audio deltas coalesce into one ``audio`` message per ~100 ms once playback has audio in
hand, and a panel batch due by then rides along (docs/widget-contract.md, "Chunk size and batching"). Runs on
the session's I/O thread, like the bridge.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from .. import audio
from ..session.metrics import Metrics
from .eventlog import is_stream, public
from .panels import deleted_view, item_views, response_view

# Items whose sent audio the coalescer remembers (a reply has one audio item; a few recent ones suffice).
_ITEMS_KEPT = 16


class PanelBatch:
    """What changed since the last ``batch`` message; :meth:`take` builds the message and starts afresh."""

    def __init__(
        self, flush: Callable[[], None], *, batch_s: float, update_s: float, metrics: Metrics | None = None
    ) -> None:
        self._flush = flush  # called when the batch is due (the bridge's flush, which calls take())
        self._metrics = metrics  # the session's (latency and cost in the response views)
        self.batch_s = batch_s
        self.update_s = update_s
        self._new_rows: dict[int, dict[str, Any]] = {}
        self._row_updates: dict[int, dict[str, Any]] = {}
        self._dirty_items: set[str] = set()
        self._deleted_items: set[str] = set()
        self._tools: dict[str, dict[str, Any]] = {}
        self._dirty_responses: set[str] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop ``_handle`` is scheduled on
        # Something new (a row, an item, a tool, a response) is pending, not just a merged row or a delta.
        self._urgent = False

    def row(self, row: dict[str, Any], created: bool) -> None:
        """An event-log row was created, or a merged row changed."""
        if created:
            self._new_rows[row["id"]] = row
            self._urgent = True
        elif row["id"] not in self._new_rows:
            self._row_updates[row["id"]] = row

    def tools(self, views: Iterable[dict[str, Any]]) -> None:
        """Tool views that changed."""
        for view in views:
            self._tools[str(view["call_id"])] = view

    def event(self, etype: str, data: dict[str, Any]) -> None:
        """A session event: the items and responses it touches need fresh views."""
        if etype == "conversation.item.deleted":
            self._deleted_items.add(str(data.get("item_id")))
        else:
            self._mark(etype, data)
        if self._tools or (self._dirty_items and not is_stream(etype)) or self._deleted_items:
            self._urgent = True

    def items(self, ids: Iterable[str], *, deleted: bool = False) -> None:
        """Items to show afresh (a widget taking a session's state), or to remove (a new server session)."""
        (self._deleted_items if deleted else self._dirty_items).update(ids)
        self._urgent = True

    def responses(self, ids: Iterable[str]) -> None:
        """Responses to show afresh (a widget taking a session's state)."""
        self._dirty_responses.update(ids)
        self._urgent = True

    def _mark(self, etype: str, data: dict[str, Any]) -> None:
        item_id = data.get("item_id")
        if isinstance(item_id, str):
            self._dirty_items.add(item_id)
        item = data.get("item")
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            self._dirty_items.add(item["id"])
        response = data.get("response")
        if etype.startswith("response.") and isinstance(response, dict) and response.get("id"):
            self._dirty_responses.add(str(response["id"]))
            for out in response.get("output") or ():
                if isinstance(out, dict) and isinstance(out.get("id"), str):
                    self._dirty_items.add(out["id"])

    def schedule(self) -> None:
        """Arrange the next flush: soon for anything new, later when only merged rows changed."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the I/O loop (tests feeding events by hand): flush now
            self._flush()
            return
        due = loop.time() + (self.batch_s if self._urgent else self.update_s)
        if self._handle is not None and (self._loop is not loop or self._handle.cancelled()):
            # Scheduled on a loop that has since stopped (disconnect, then connect: a new I/O loop): it never
            # runs, so it must not hold back the flushes of the new loop.
            self._handle.cancel()
            self._handle = None
        if self._handle is not None:
            if self._handle.when() <= due:
                return
            self._handle.cancel()  # something new came in: bring the batch forward
        self._handle, self._loop = loop.call_at(due, self._flush), loop

    def due_within(self, seconds: float) -> bool:
        """Is a flush scheduled within ``seconds`` (so a message leaving now may carry the batch instead)?"""
        if self._handle is None or self._handle.cancelled() or self._loop is None:
            return False
        return self._handle.when() <= self._loop.time() + seconds

    def cancel(self) -> None:
        """Forget the scheduled flush (what is pending stays pending)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = self._loop = None

    def take(self, conversation: Any) -> dict[str, Any] | None:
        """The ``batch`` message of everything pending (None when nothing is), item views read from
        ``conversation`` (the session's conversation state); the batch starts empty again."""
        self.cancel()
        message: dict[str, Any] = {"kind": "batch"}
        if self._new_rows:
            message["rows"] = [public(r) for r in self._new_rows.values()]
        if self._row_updates:
            message["row_updates"] = [public(r) for r in self._row_updates.values()]
        # An id removed, then made again (a new server session may reuse ids) is shown, not removed.
        gone = [deleted_view(i) for i in self._deleted_items if conversation.get(i) is None]
        items = item_views(conversation, self._dirty_items) + gone
        if items:
            message["items"] = items
        if self._tools:
            message["tools"] = [dict(v) for v in self._tools.values()]
        if self._dirty_responses:
            responses = conversation.responses
            message["responses"] = [
                response_view(responses[r], self._metrics) for r in self._dirty_responses if r in responses
            ]
        self._new_rows, self._row_updates, self._tools = {}, {}, {}
        self._dirty_items, self._deleted_items, self._dirty_responses = set(), set(), set()
        self._urgent = False
        return message if len(message) > 1 else None


@dataclass(frozen=True)
class AudioChunk:
    """One assistant audio delta waiting for the next ``audio`` message."""

    item_id: str
    response_id: Any
    pcm: bytes
    t: float  # kernel receive time, epoch ms (the latency figures start here)


class Timer(Protocol):
    """Calls ``callback`` after ``delay`` seconds; returns something with ``cancel()``."""

    def __call__(self, delay: float, callback: Callable[[], None]) -> Any: ...


def _loop_timer(delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle | None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # outside the I/O loop (tests feeding events by hand): the caller sends now
        return None
    return loop.call_later(delay, callback)


class AudioCoalescer:
    """Audio deltas gathered into ``audio`` messages: at most one message per ``interval_s`` while the browser
    has audio in hand, at once otherwise.

    A delta leaves at once when it is the first of its item (the reply starts without waiting), when no audio
    message went out in the last ``interval_s`` (a slow stream gains nothing by waiting), or when the browser
    may hold less than ``interval_s + margin_s`` of the item's audio not yet played (estimated from what was sent
    and when: waiting could make playback run dry). Otherwise it waits for the next message, due ``interval_s``
    after the last one. Servers send audio faster than real time, so most of a reply coalesces.

    ``send`` is the bridge's: it calls :meth:`take` and sends one message. ``clock`` (seconds, monotonic) and
    ``timer`` are injectable for tests; by default the running asyncio loop's ``call_later``.
    """

    def __init__(
        self,
        send: Callable[[], None],
        *,
        interval_s: float = 0.1,
        margin_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        timer: Timer = _loop_timer,
    ) -> None:
        self._send = send
        self.interval_s = interval_s
        self.margin_s = margin_s
        self._clock = clock
        self._timer = timer
        self.pending: list[AudioChunk] = []
        self.last_sent = -math.inf
        # Per recent item: (when its first audio was sent, ms of its audio sent), for the estimate above.
        self._sent: dict[str, tuple[float, float]] = {}
        self._handle: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, chunk: AudioChunk) -> None:
        """A delta arrived: send now (through ``send``) or arrange the next message."""
        self.pending.append(chunk)
        now = self._clock()
        if self._at_once(chunk.item_id, now):
            self._send()
            return
        self._arm(self.last_sent + self.interval_s - now)

    def _at_once(self, item_id: str, now: float) -> bool:
        if now - self.last_sent >= self.interval_s:
            return True
        sent = self._sent.get(item_id)
        if sent is None:
            return True
        first_at, ms = sent
        ahead_ms = ms - (now - first_at) * 1000  # audio the browser may hold beyond what it has played
        return ahead_ms < (self.interval_s + self.margin_s) * 1000

    def _arm(self, delay: float) -> None:
        loop = _running_loop()
        if self._handle is not None and self._loop is not loop:
            self._handle.cancel()  # scheduled on a loop that has stopped (disconnect, then connect)
            self._handle = None
        if self._handle is not None:
            return  # the next message is already due at last_sent + interval_s
        handle = self._timer(max(0.0, delay), self._send)
        if handle is None:
            self._send()
            return
        self._handle, self._loop = handle, loop

    def take(self) -> list[AudioChunk]:
        """The pending deltas, in order, counted as sent now; nothing is pending afterwards."""
        self._cancel()
        chunks, self.pending = self.pending, []
        if not chunks:
            return chunks
        now = self.last_sent = self._clock()
        for c in chunks:
            first_at, ms = self._sent.pop(c.item_id, (now, 0.0))
            self._sent[c.item_id] = (first_at, ms + len(c.pcm) / audio.BYTES_PER_MS)
        while len(self._sent) > _ITEMS_KEPT:
            del self._sent[next(iter(self._sent))]
        return chunks

    def drop(self) -> set[str]:
        """Forget the pending deltas (a flush: they must never play); returns their item ids."""
        self._cancel()
        items = {c.item_id for c in self.pending}
        self.pending = []
        return items

    def _cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = self._loop = None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
