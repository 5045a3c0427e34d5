"""The session's one event bus: handlers (``on``/``off``), waiters (``expect``), subscribers (``events()``) and
log listeners.

The threading rule, one for everything here:

- Registering and removing (``on``, ``off``, ``expect``, ``events()``, ``add_log_listener``,
  ``remove_log_listener``) is safe from any thread. It takes the bus's lock and replaces the registry's tuple
  (copy-on-write); it never waits for the I/O loop, and works before the session has one.
- Delivering (``dispatch``, ``deliver_log``, ``fail_waiters``, ``end_subscribers``) happens on one thread, the
  session's I/O thread. It reads the current tuple without the lock, so it never blocks on a registration.
  A handler added during a delivery first sees the next event; one removed from another thread may still get
  the event being delivered at that moment. No registration is ever lost or doubled.

Handlers are the user's or rtwidget's own (``internal``: the widget's bridge, ``ask()``'s turn watcher). Both
kinds run in registration order; the user's ``off()`` (with no argument, or ``"*"``, or even the internal
callable itself) removes only user handlers, so it never cuts off the widget or a running ``ask()``.

Waiters' futures belong to the loop that called ``expect``; subscribers' queues to the loop that iterates
``events()``. Both are fed with ``call_soon_threadsafe``.

User code that fails here (a handler, sync or async, a log listener, a ``wait_for`` predicate) is logged and
reported through ``on_failure`` once the delivery it failed in is over: a handler's or predicate's failure after
the event reached every handler, waiter and subscriber; a log listener's after the log entry reached every
listener, which is before the session dispatches the event itself (the log records an event first). A failure
while delivering an ``rtwidget.error`` is only logged (no recursion).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import inspect
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import WaitTimeout
from ..protocol.events import Event
from .local_events import ERROR, LOCAL_PREFIX, LogEntry
from .reporting import FailureSource, callable_name

logger = logging.getLogger("rtwidget.session")

T = TypeVar("T")
Handler = Callable[[Event], Any]
Predicate = Callable[[Event], bool]
LogListener = Callable[[LogEntry], None]
# Told (source, name of the failing callable, exception) about each failure of user code.
FailureReport = Callable[[FailureSource, str, BaseException], None]
# Runs a coroutine as a task the session holds (so close() cancels it).
Spawn = Callable[[Coroutine[Any, Any, None]], object]


def matches(pattern: str, etype: str) -> bool:
    """``"*"`` matches everything; ``"response.*"`` or ``"response."`` match a prefix; else exact."""
    if pattern == "*" or pattern == etype:
        return True
    if pattern.endswith("."):
        return etype.startswith(pattern)
    return "*" in pattern and fnmatch.fnmatchcase(etype, pattern)


@dataclass(frozen=True, eq=False)
class _Waiter:
    pattern: str
    predicate: Predicate | None
    future: asyncio.Future[Event]


@dataclass(frozen=True, eq=False)
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event | None]


class EventBus:
    """Delivers every event (server and local) to handlers, waiters and subscribers; log entries to listeners."""

    def __init__(self, spawn: Spawn, on_failure: FailureReport) -> None:
        self._spawn = spawn
        self._on_failure = on_failure
        self._lock = threading.Lock()
        # (pattern, handler, internal): internal ones (the widget's bridge, ask()'s turn watcher) are rtwidget's
        # own, kept in registration order with the user's but out of reach of the user's off().
        self._handlers: tuple[tuple[str, Handler, bool], ...] = ()
        self._waiters: tuple[_Waiter, ...] = ()
        self._subscribers: tuple[_Subscriber, ...] = ()
        self._log_listeners: tuple[LogListener, ...] = ()

    # ------------------------------------------------------------------ registering (any thread)

    def on(self, event_type: str, handler: Handler, *, internal: bool = False) -> Handler:
        """Call ``handler(event)`` for events matching ``event_type`` (see :func:`matches`).

        ``internal=True`` marks one of rtwidget's own handlers: only :meth:`off_internal` removes it.
        """
        with self._lock:
            self._handlers = (*self._handlers, (event_type, handler, internal))
        return handler

    def off(self, event_type: str | None = None, handler: Handler | None = None) -> None:
        """Remove the user's handlers: by type, by handler, or both (internal ones stay)."""
        self._remove(event_type, handler, internal=False)

    def off_internal(self, event_type: str, handler: Handler) -> None:
        """Remove one of rtwidget's own handlers (registered with ``internal=True``)."""
        self._remove(event_type, handler, internal=True)

    def _remove(self, event_type: str | None, handler: Handler | None, *, internal: bool) -> None:
        with self._lock:
            self._handlers = tuple(
                entry
                for entry in self._handlers
                if not (
                    entry[2] == internal
                    and (event_type is None or entry[0] == event_type)
                    and (handler is None or entry[1] == handler)
                )
            )

    def add_log_listener(self, listener: LogListener) -> None:
        """Call ``listener(entry)`` with every :class:`LogEntry` from now on."""
        with self._lock:
            self._log_listeners = (*self._log_listeners, listener)

    def remove_log_listener(self, listener: LogListener) -> None:
        """Stop calling ``listener`` (once per earlier add; no error if it was never added)."""
        with self._lock:
            listeners = list(self._log_listeners)
            if listener in listeners:
                listeners.remove(listener)
                self._log_listeners = tuple(listeners)

    def expect(self, event_type: str, predicate: Predicate | None = None) -> asyncio.Future[Event]:
        """A future (of the calling thread's running loop) for the next matching event, registered at once."""
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(event_type, predicate, future)
        with self._lock:
            self._waiters = (*self._waiters, waiter)
        return future

    async def events(self) -> AsyncIterator[Event]:
        """Every event from now on, until :meth:`end_subscribers`."""
        subscriber = _Subscriber(asyncio.get_running_loop(), asyncio.Queue())
        with self._lock:
            self._subscribers = (*self._subscribers, subscriber)
        try:
            while True:
                event = await subscriber.queue.get()
                if event is None:
                    return
                yield event
        finally:
            self._drop_subscriber(subscriber)

    def _drop_subscriber(self, subscriber: _Subscriber) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

    def _drop_waiter(self, waiter: _Waiter) -> bool:
        """Unregister ``waiter``; False if it was gone already (then someone else settles it)."""
        with self._lock:
            if waiter not in self._waiters:
                return False
            self._waiters = tuple(w for w in self._waiters if w is not waiter)
            return True

    # ------------------------------------------------------------------ delivering (the I/O thread)

    @property
    def listening(self) -> bool:
        """True when some handler, waiter or subscriber would receive an event."""
        return bool(self._handlers or self._waiters or self._subscribers)

    def dispatch(self, event: Event) -> None:
        """Deliver ``event`` to the handlers, then the waiters, then the subscribers. Never raises."""
        failures: list[tuple[FailureSource, Any, Exception]] = []
        for pattern, handler, _internal in self._handlers:
            if matches(pattern, event.type):
                try:
                    result = handler(event)
                    if inspect.isawaitable(result):
                        self._spawn(self._guarded(result, handler, event.type))
                except Exception as exc:
                    logger.exception("rtwidget: handler %r failed on %s", handler, event.type)
                    failures.append(("handler", handler, exc))
        if self._waiters:
            self._settle_waiters(event, failures)
        for subscriber in self._subscribers:
            try:
                subscriber.loop.call_soon_threadsafe(subscriber.queue.put_nowait, event)
            except RuntimeError:  # its loop is closed: nobody will read this queue again
                self._drop_subscriber(subscriber)
        for source, fn, error in failures:
            self._report(source, fn, error, event.type)

    def _settle_waiters(self, event: Event, failures: list[tuple[FailureSource, Any, Exception]]) -> None:
        for waiter in self._waiters:
            if waiter.future.done():  # cancelled, or timed out by its owner
                self._drop_waiter(waiter)
                continue
            if not matches(waiter.pattern, event.type):
                continue
            if waiter.predicate is not None:
                try:
                    if not waiter.predicate(event):
                        continue
                except Exception as exc:
                    logger.exception("rtwidget: wait_for predicate failed on %s", event.type)
                    failures.append(("predicate", waiter.predicate, exc))
                    continue
            if self._drop_waiter(waiter):
                _settle(waiter.future, _set_result, event)

    def deliver_log(self, entry: LogEntry) -> None:
        """Call every log listener with ``entry``. Never raises."""
        failures: list[tuple[LogListener, Exception]] = []
        for listener in self._log_listeners:
            try:
                listener(entry)
            except Exception as exc:  # a broken listener must not break the reader
                logger.exception("rtwidget: log listener %r failed", listener)
                failures.append((listener, exc))
        for listener, error in failures:
            self._report("listener", listener, error, entry.type)

    def fail_waiters(self, exc: BaseException, *, keep_local: bool = False) -> None:
        """Fail every pending waiter with ``exc`` (the connection closed). ``keep_local``: the connection dropped
        and the session reconnects, so waiters for ``rtwidget.*`` events (``rtwidget.reconnected``) wait on."""
        with self._lock:
            kept = tuple(w for w in self._waiters if keep_local and w.pattern.startswith(LOCAL_PREFIX))
            waiters, self._waiters = tuple(w for w in self._waiters if w not in kept), kept
        for waiter in waiters:
            _settle(waiter.future, _set_exception, exc)

    def end_subscribers(self) -> None:
        """End every ``events()`` iteration (each unregisters itself when it returns)."""
        for subscriber in self._subscribers:
            try:
                subscriber.loop.call_soon_threadsafe(subscriber.queue.put_nowait, None)
            except RuntimeError:
                self._drop_subscriber(subscriber)

    async def _guarded(self, awaitable: Awaitable[Any], handler: Handler, etype: str) -> None:
        try:
            await awaitable
        except Exception as exc:
            logger.exception("rtwidget: handler %r failed", handler)
            self._report("handler", handler, exc, etype)

    def _report(self, source: FailureSource, fn: Any, exc: Exception, etype: str) -> None:
        if etype == ERROR:  # failing on the report of a failure: logged above, never reported again
            return
        try:
            self._on_failure(source, callable_name(fn), exc)
        except Exception:
            logger.exception("rtwidget: reporting a failure of %r failed", fn)


class EventsMixin:
    """The bus's registration API as methods of :class:`~rtwidget.session.session.Session` (a mixin)."""

    _bus: EventBus

    def _require(self, what: str, *, socket: bool) -> None:
        """Refuse ``what`` in the session's current state (the session's lifecycle overrides this)."""

    def _last_event_text(self) -> str:
        """What the session received last, for timeout messages (the session's lifecycle overrides this)."""
        return "unknown"

    def on(self, event_type: str, handler: Handler | None = None) -> Any:
        """Call ``handler(event)`` for events of ``event_type``: an exact type, a prefix ending in ``.``,
        a glob (``"response.*"``) or ``"*"``. Works as a decorator. Safe from any thread.

        Handlers run on the I/O thread; coroutine handlers are scheduled there. A handler that raises never
        breaks the reader: it is logged, kept in :attr:`errors` and announced as an ``rtwidget.error`` event.
        """
        if handler is None:
            return lambda fn: self._bus.on(event_type, fn)
        return self._bus.on(event_type, handler)

    def off(self, event_type: str | None = None, handler: Handler | None = None) -> None:
        """Remove handlers: by type, by handler, or both (``off()`` removes all of yours). Safe from any thread.

        rtwidget's own handlers (the widget's, ``ask()``'s) are not yours: they stay.
        """
        self._bus.off(event_type, handler)

    def _on_internal(self, event_type: str, handler: Handler) -> Handler:
        """Register one of rtwidget's own handlers, which the user's :meth:`off` never removes."""
        return self._bus.on(event_type, handler, internal=True)

    def _off_internal(self, event_type: str, handler: Handler) -> None:
        """Remove a handler registered with :meth:`_on_internal`."""
        self._bus.off_internal(event_type, handler)

    def add_log_listener(self, listener: LogListener) -> None:
        """Call ``listener(entry)`` on the I/O thread with every :class:`LogEntry` as it is logged.

        Safe from any thread. A listener that raises is reported like a failing handler.
        """
        self._bus.add_log_listener(listener)

    def remove_log_listener(self, listener: LogListener) -> None:
        """Undo one :meth:`add_log_listener` (nothing happens if ``listener`` is not there). Safe from any thread."""
        self._bus.remove_log_listener(listener)

    def expect(self, event_type: str, predicate: Predicate | None = None) -> asyncio.Future[Event]:
        """Start waiting now, await later: a future for the next event matching ``event_type`` (and
        ``predicate``), registered before this returns, so an event caused by a send that follows cannot be
        missed::

            done = session.expect("response.done")
            session.send_text("hi")
            event = await done

        Call it from a coroutine (the future belongs to the running loop). It fails with SessionClosed if the
        connection closes first. A predicate that raises counts as no match and is reported like a handler.
        On a closed session, waiting for a server event raises SessionClosed at once.
        """
        if not event_type.startswith(LOCAL_PREFIX):
            self._require(f"expect({event_type!r})", socket=False)
        return self._bus.expect(event_type, predicate)

    async def wait_for(
        self, event_type: str, predicate: Predicate | None = None, timeout: float | None = None
    ) -> Event:
        """The next event matching ``event_type`` (and ``predicate``).

        It only sees events that arrive after it is called: to wait for the answer to a send, use
        :meth:`expect` before sending. Raises WaitTimeout (a TimeoutError naming what it waited for and the
        last event received) when ``timeout`` runs out, SessionClosed if the session closes (or is closed),
        NotConnected when waiting for a server event on a session never connected (local ``rtwidget.*``
        events may be awaited in any state).
        """
        if not event_type.startswith(LOCAL_PREFIX):
            self._require(f"wait_for({event_type!r})", socket=True)
        try:
            return await asyncio.wait_for(self.expect(event_type, predicate), timeout)
        except TimeoutError:
            raise WaitTimeout(f"a {event_type!r} event", timeout or 0.0, self._last_event_text()) from None

    def events(self) -> AsyncIterator[Event]:
        """Every event from now on (server events and local ``rtwidget.*`` ones) until the session closes."""
        return self._bus.events()


def discard(futures: Iterable[asyncio.Future[Any]]) -> None:
    """Drop futures nobody will await: cancel those still pending, retrieve the failure of those that failed (no
    "Future exception was never retrieved" at exit)."""
    for future in futures:
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            future.exception()


def _settle(future: asyncio.Future[T], setter: Callable[[asyncio.Future[T], Any], None], value: Any) -> None:
    # A waiter whose loop is closed has nobody awaiting its future any more.
    with contextlib.suppress(RuntimeError):
        future.get_loop().call_soon_threadsafe(setter, future, value)


def _set_result(future: asyncio.Future[Event], event: Event) -> None:
    if not future.done():
        future.set_result(event)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
