"""Threads for sync tools that a stuck tool cannot starve.

A thread cannot be killed, so a sync tool that ignores its timeout keeps its thread until it returns. A fixed
pool would queue the next call behind it, and that quick call would time out too. :class:`ToolThreads` never
queues: each call gets an idle daemon thread or a new one (a stuck thread is abandoned and, in effect,
replaced), up to a bound; past the bound the call fails at once with :class:`ToolThreadsExhausted`, which names
the calls holding the threads. :meth:`ToolThreads.running` says what is still running, for ``close()`` to report.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["IDLE_THREADS", "MAX_THREADS", "RunningCall", "ToolThreads", "ToolThreadsExhausted"]

#: Idle threads kept for the next calls (the others end when their call returns).
IDLE_THREADS = 4
#: At most this many tool threads at once, stuck ones included.
MAX_THREADS = 32

_Job = tuple[concurrent.futures.Future[Any], Callable[[], Any], str]


class ToolThreadsExhausted(RuntimeError):
    """Every tool thread is busy: the calls named in the message ignore their timeouts."""


@dataclasses.dataclass(frozen=True)
class RunningCall:
    """A sync call still on its thread: its label (tool name and call id) and how long it has run."""

    label: str
    running_s: float


class ToolThreads(concurrent.futures.Executor):
    """An executor that gives each call its own daemon thread (reused when idle), at most ``max_threads``.

    ``submit`` may be called from any thread. A call that raises a ``BaseException`` other than ``Exception``
    fails its future with a :class:`RuntimeError` wrapping it (a ``KeyboardInterrupt`` on a future would stop
    the event loop that awaits it).
    """

    def __init__(self, *, max_threads: int = MAX_THREADS, idle_threads: int = IDLE_THREADS, name: str = "") -> None:
        if max_threads < 1 or idle_threads < 0:
            raise ValueError(
                f"max_threads must be >= 1 and idle_threads >= 0, got {max_threads!r} and {idle_threads!r}"
            )
        self.max_threads = max_threads
        self.idle_threads = idle_threads
        self._name = name or "rtwidget-tool"
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = 0
        self._idle = 0
        self._shutdown = False
        self._running: dict[int, tuple[str, float]] = {}
        self._ids = itertools.count(1)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Run ``fn(*args, **kwargs)`` on a tool thread, labelled by ``fn``'s name."""
        label = getattr(fn, "__name__", None) or repr(fn)
        return self.start(label, lambda: fn(*args, **kwargs))

    def start(self, label: str, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        """Run ``fn()`` on an idle thread or a new one; :meth:`running` names it ``label`` while it runs.

        Raises :class:`ToolThreadsExhausted` when ``max_threads`` are busy, ``RuntimeError`` after shutdown.
        """
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError(f"cannot run {label}: the tool threads are shut down (the session is closed)")
            if self._idle:
                self._idle -= 1
                self._jobs.put((future, fn, label))
                return future
            exhausted = self._threads >= self.max_threads
            if not exhausted:
                self._threads += 1
        if exhausted:
            raise ToolThreadsExhausted(self._exhausted_text(label))
        thread = threading.Thread(
            target=self._work, args=((future, fn, label),), name=f"{self._name}-{next(self._ids)}", daemon=True
        )
        thread.start()
        return future

    def _exhausted_text(self, label: str) -> str:
        stuck = ", ".join(f"{c.label} ({c.running_s:.0f} s)" for c in self.running())
        return (
            f"cannot run {label}: all {self.max_threads} tool threads are busy with calls still running "
            f"({stuck}); those tools ignore their timeout: make them return (check a flag or use timeouts "
            "inside them), or close the session"
        )

    def _work(self, job: _Job | None) -> None:
        while job is not None:
            self._run(*job)
            with self._lock:
                if self._shutdown or self._idle >= self.idle_threads:
                    self._threads -= 1
                    return
                self._idle += 1
            job = self._jobs.get()
        with self._lock:
            self._threads -= 1

    def _run(self, future: concurrent.futures.Future[Any], fn: Callable[[], Any], label: str) -> None:
        if not future.set_running_or_notify_cancel():
            return
        key = id(future)
        with self._lock:
            self._running[key] = (label, time.monotonic())
        try:
            result = fn()
        except Exception as exc:
            future.set_exception(exc)
        except BaseException as exc:
            wrapped = RuntimeError(f"{label} raised {type(exc).__name__}: {exc}")
            wrapped.__cause__ = exc
            future.set_exception(wrapped)
        else:
            future.set_result(result)
        finally:
            with self._lock:
                self._running.pop(key, None)

    def running(self) -> list[RunningCall]:
        """The calls still running on a thread (stuck ones included), longest first."""
        now = time.monotonic()
        with self._lock:
            calls = [RunningCall(label, now - since) for label, since in self._running.values()]
        return sorted(calls, key=lambda c: -c.running_s)

    @property
    def thread_count(self) -> int:
        """Tool threads alive now, idle or busy."""
        with self._lock:
            return self._threads

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new calls and end the idle threads; busy threads end when their call returns.

        ``wait`` and ``cancel_futures`` are accepted for the Executor interface: nothing is queued, and a
        running call cannot be stopped, so there is nothing to wait for or cancel.
        """
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._jobs.put(None)
