"""An asyncio event loop on a daemon thread of its own: the I/O thread of a Session and of the local server.

A notebook cell can block for minutes and the caller may already be running a loop (the kernel's), so anything
that must keep a socket alive runs on a loop nobody else owns. Calls from other threads hop onto it with
:meth:`LoopThread.call_soon` (no result), :meth:`LoopThread.call` (wait for a result) or :meth:`LoopThread.submit`
(a coroutine, as a ``concurrent.futures.Future``). Standard library only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .errors import WaitTimeout

T = TypeVar("T")

# How long call() waits for the loop to run a plain function; it only ever runs short, non-blocking code.
CALL_TIMEOUT_S = 30.0


class NotRunning(RuntimeError):
    """:meth:`LoopThread.call` with ``start=False`` on a loop that is not running."""


class LoopThread:
    """One asyncio loop running on one daemon thread, from :meth:`start` until :meth:`stop`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The running loop, or None before :meth:`start` and after :meth:`stop`."""
        return self._loop

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._loop is not None

    def in_thread(self) -> bool:
        """True when called on this loop's own thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def start(self) -> asyncio.AbstractEventLoop:
        """Start the thread and its loop (once; later calls return the same loop)."""
        with self._lock:
            if self._loop is not None:
                return self._loop
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                try:
                    loop.run_forever()
                finally:
                    _finish(loop)

            thread = threading.Thread(target=run, name=self.name, daemon=True)
            thread.start()
            ready.wait()
            self._loop, self._thread = loop, thread
            return loop

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Schedule ``fn(*args)`` on the loop without waiting; False (nothing scheduled) when it is not running."""
        loop = self._loop
        if loop is None:
            return False
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # closed meanwhile
            return False
        return True

    def call(self, fn: Callable[[], T], timeout: float = CALL_TIMEOUT_S, *, start: bool = True) -> T:
        """Run ``fn`` on the loop and return its result (or raise its exception) in the calling thread.

        With ``start=False`` a loop that is not running is not started: RuntimeError instead.
        """
        if self.in_thread():
            return fn()
        if not start and self._loop is None:
            raise NotRunning(f"{self.name}: the I/O loop is not running")
        loop = self.start()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # delivered to the caller, who sees the real error
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise WaitTimeout(f"{self.name}'s I/O loop to run {fn!r}", timeout, "(not tracked here)") from None

    def call_or_here(self, fn: Callable[[], T]) -> T:
        """:meth:`call` ``fn`` on the loop if it runs; else run it right here (with no loop, nothing else touches
        the state it guards), and never start a loop for it."""
        if self.running:
            try:
                return self.call(fn, start=False)
            except NotRunning:  # stopped meanwhile (fn's own RuntimeError is not this: it is not run twice)
                pass
        return fn()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on the loop (started if needed); its result arrives in the returned future."""
        return asyncio.run_coroutine_threadsafe(coro, self.start())

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and join its thread (not from the thread itself: then it only asks the loop to stop)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:  # already closed
            return
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


def _finish(loop: asyncio.AbstractEventLoop) -> None:
    """After the loop stopped: cancel and await what still runs (a task destroyed pending is noise at exit),
    then close async generators, the default executor and the loop."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


def after(
    first: concurrent.futures.Future[Any], then: Callable[[], concurrent.futures.Future[T]]
) -> concurrent.futures.Future[T]:
    """A future of ``then()``, called once ``first`` is done (whatever its outcome): its result, its exception, or
    cancelled when it was. Cancelling the returned future before ``first`` is done means ``then`` never runs."""
    outer: concurrent.futures.Future[T] = concurrent.futures.Future()

    def copy(inner: concurrent.futures.Future[T]) -> None:
        if inner.cancelled():
            outer.cancel()
        elif (exc := inner.exception()) is not None:
            outer.set_exception(exc)
        else:
            outer.set_result(inner.result())

    def run(_: concurrent.futures.Future[Any]) -> None:
        if not outer.set_running_or_notify_cancel():
            return
        try:
            inner = then()
        except BaseException as exc:  # delivered to whoever reads the future
            outer.set_exception(exc)
            return
        inner.add_done_callback(copy)

    first.add_done_callback(run)
    return outer
