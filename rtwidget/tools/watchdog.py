"""A watchdog that notices an async tool holding its event loop (running without awaiting).

An ``async def`` tool that calls ``time.sleep(2)`` or does heavy work without ``await`` blocks the whole loop:
its timeout cannot fire, and nothing else on the loop (the session's socket) moves. Such a call cannot be
pre-empted; it can only be noticed and reported. While :meth:`LoopWatchdog.watch` is in effect, the loop beats a
heartbeat every quarter threshold and a daemon thread checks it: when no beat came for ``threshold_s``, the
thread samples the task the loop is running, logs at once which async tool holds it, and once the loop is back
the watchdog hands ``on_block`` the tool and how long it held the loop (on the loop's thread).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from .tool import async_call_of

__all__ = ["LOOP_BLOCK_S", "LoopBlock", "LoopWatchdog"]

logger = logging.getLogger("rtwidget.tools")

#: Seconds an async tool may hold the loop without awaiting before it is reported.
LOOP_BLOCK_S = 1.0


@dataclasses.dataclass(frozen=True)
class LoopBlock:
    """The loop was held for ``held_s`` seconds by the async tool ``name`` (call ``call_id``); ``name`` is
    ``None`` when what held it was not a tool."""

    name: str | None
    call_id: str | None
    held_s: float

    def who(self) -> str:
        """What held the loop, in words."""
        if self.name is None:
            return "code that is not a tool"
        call = f" (call {self.call_id})" if self.call_id else ""
        return f"async tool {self.name!r}{call} running without awaiting"


class LoopWatchdog:
    """Watches one event loop while async tools run on it; ``on_block(LoopBlock)`` is called on that loop.

    :meth:`watch`, :meth:`unwatch` and :meth:`close` are called on the loop's thread.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_block: Callable[[LoopBlock], None],
        threshold_s: float = LOOP_BLOCK_S,
    ) -> None:
        if not threshold_s > 0:
            raise ValueError(f"threshold_s must be positive seconds, got {threshold_s!r}")
        self.threshold_s = threshold_s
        self._loop = loop
        self._on_block = on_block
        self._lock = threading.Lock()
        self._beat = time.monotonic()
        self._blocked: tuple[tuple[str, str | None] | None, float] | None = None  # (the call, last beat before)
        self._watchers = 0
        self._timer: asyncio.TimerHandle | None = None
        self._stop: threading.Event | None = None

    def watch(self) -> None:
        """One more async call is running: beat and check until every one has called :meth:`unwatch`."""
        self._watchers += 1
        if self._watchers > 1:
            return
        self._heartbeat()
        self._stop = threading.Event()
        threading.Thread(
            target=self._check_loop, args=(self._stop,), name="rtwidget-loop-watchdog", daemon=True
        ).start()

    def unwatch(self) -> None:
        """One async call has ended; the last one stops the heartbeat and the thread (reporting a block first)."""
        self._watchers = max(0, self._watchers - 1)
        self._report()
        if self._watchers == 0:
            self.close()

    def close(self) -> None:
        """Stop watching (idempotent)."""
        self._watchers = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._stop is not None:
            self._stop.set()
            self._stop = None

    def _heartbeat(self) -> None:
        self._report()
        with self._lock:
            self._beat = time.monotonic()
        self._timer = self._loop.call_later(self.threshold_s / 4, self._heartbeat)

    def _report(self) -> None:
        with self._lock:
            blocked, self._blocked = self._blocked, None
        if blocked is None:
            return
        name, call_id = blocked[0] or (None, None)
        block = LoopBlock(name, call_id, time.monotonic() - blocked[1])
        logger.warning("the event loop was held for %.1f s by %s", block.held_s, block.who())
        self._on_block(block)

    def _check_loop(self, stop: threading.Event) -> None:
        # On the watchdog's own thread: the loop may be stuck, so only read what it left behind.
        while not stop.wait(self.threshold_s / 4):
            with self._lock:
                since = self._beat
                if self._blocked is not None or time.monotonic() - since < self.threshold_s:
                    continue
                task = asyncio.current_task(self._loop)
                call = async_call_of(task) if task is not None else None
                self._blocked = (call, since)
            name, call_id = call or (None, None)
            logger.warning(
                "the event loop has been held for over %.1f s by %s; nothing else on it runs until it returns "
                "(an async tool must await, or be a plain def to run on a thread)",
                self.threshold_s,
                LoopBlock(name, call_id, 0.0).who(),
            )
