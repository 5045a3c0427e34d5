"""Panel updates gathered between two ``batch`` messages, and when the next one is due.

In JupyterLab each comm message costs the browser far more than its bytes (bench/RESULTS.md), so the bridge
sends event-log rows, items, tools and responses together: something new (a row, an item, a tool call, a
response) within ``batch_s``; changes that only update merged rows (a mic append or a delta joining its run)
within ``update_s``. Runs on the session's I/O thread, like the bridge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from .eventlog import is_stream, public
from .panels import deleted_view, item_views, response_view


class PanelBatch:
    """What changed since the last ``batch`` message; :meth:`take` builds the message and starts afresh."""

    def __init__(self, flush: Callable[[], None], *, batch_s: float, update_s: float) -> None:
        self._flush = flush  # called when the batch is due (the bridge's flush, which calls take())
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
            message["responses"] = [response_view(responses[r]) for r in self._dirty_responses if r in responses]
        self._new_rows, self._row_updates, self._tools = {}, {}, {}
        self._dirty_items, self._deleted_items, self._dirty_responses = set(), set(), set()
        self._urgent = False
        return message if len(message) > 1 else None
