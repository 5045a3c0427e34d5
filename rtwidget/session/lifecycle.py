"""The session's lifecycle: one state machine, a single-flight ``connect()``, the handshake, and ``close()``.

The states (``Session.state``), each change announced as an ``rtwidget.state`` event ``{state, previous}``::

    idle ──connect()──> connecting ──handshake done──> open ──close() / the server closes──> closing ─> closed
      ^                     │ handshake failed (socket closed, back to idle)  │  ^                        │
      └─────────────────────┘                                   drop / renew v  │ restored               │
                                                                      reconnecting ── gave up ──> closed │
                                                                   connect() again (a new socket) <──────┘

``reconnecting`` is the automatic reconnect (and the renewal before ``expires_at``) of :mod:`.reconnect`.
``connect()`` is idempotent: while connecting (or reconnecting), every caller (a widget's ``start()``, a cell's
``connect()``) awaits the same attempt; while open it returns at once. A failed handshake closes its socket and
leaves ``connected`` False, so a later ``connect()`` really retries.

Which calls work in which state: sends (``send_text``, ``send``, ...) on an idle or connecting session are
validated and queued, and go out once the handshake is done; calls that wait for the server (``ask``,
``respond_out_of_band``, ``wait_for`` of a server event) raise :class:`~rtwidget.errors.NotConnected` when idle
and wait for the handshake when connecting. On a closing or closed session every call but ``connect()`` and
``close()`` raises :class:`~rtwidget.errors.SessionClosed` at once and starts nothing. All of this state is
touched on the I/O loop only (or, with no I/O loop running, by the one caller).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import threading
import time
import warnings
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from .. import endpoints
from .._loopthread import LoopThread, after
from ..errors import NotConnected, RealtimeError, SessionClosed, WaitTimeout
from ..protocol.connection import Connection
from ..protocol.events import Event
from ..protocol.server_errors import error_info
from .dispatch import discard
from .endpoint_policy import EndpointChoice
from .local_events import CONNECTED, STATE
from .reconnect import RECONNECTING, ReconnectMixin
from .secrets import install_log_filter, open_socket

if TYPE_CHECKING:
    from .session import Session

T = TypeVar("T")

logger = logging.getLogger("rtwidget.session")
# websockets logs every request header at DEBUG (the API key among them): redact before any handler sees it.
install_log_filter()

# How long connecting waits for the socket, for session.created, and then for the answer to the session config.
HANDSHAKE_TIMEOUT_S = 15.0

IDLE, CONNECTING, OPEN, CLOSING, CLOSED_STATE = "idle", "connecting", "open", "closing", "closed"
#: Every value of ``Session.state``.
STATES = (IDLE, CONNECTING, OPEN, RECONNECTING, CLOSING, CLOSED_STATE)


class LifecycleMixin(ReconnectMixin):
    """Connecting and closing, for :class:`~rtwidget.session.session.Session` (a mixin, so that module stays
    about the pump)."""

    _io: LoopThread
    _conn: Connection
    _envelope: bool
    _choose_endpoint: EndpointChoice
    endpoint: endpoints.Endpoint | None
    close_code: int | None
    close_reason: str
    _ws: ClientConnection | None
    _tasks: set[asyncio.Task[Any]]
    _write_queue: asyncio.Queue[str] | None
    _connected: bool
    _closing: bool
    _state: str
    _connecting: asyncio.Task[None] | None
    _pump: tuple[asyncio.Task[Any], ...]
    _last_received: tuple[str, float] | None
    # The event_id of the session config sent in the handshake, or why the core refused to send it.
    _config_sent: str | Exception | None = None
    _release: Release
    _finalizer: weakref.finalize[Any, Any]
    _closer: asyncio.Task[None] | None = None
    _stopping: concurrent.futures.Future[None] | None = None  # a close() stopping the I/O loop from outside it
    #: How long each step of the handshake may take (seconds).
    handshake_timeout: float = HANDSHAKE_TIMEOUT_S

    if TYPE_CHECKING:

        def _emit_local(self, etype: str, data: dict[str, Any]) -> None: ...
        def _spawn(self, coro: Awaitable[Any], bucket: set[asyncio.Task[Any]] | None = None) -> asyncio.Task[Any]: ...
        def _flush(self) -> None: ...
        def expect(self, event_type: str, predicate: Any = None) -> asyncio.Future[Event]: ...
        def _receive(self, message: str | bytes) -> Event: ...
        def _on_closed(self, ws: ClientConnection) -> None: ...
        def _after_close(self) -> None: ...

        _config: dict[str, Any]

        def _tool_list(self) -> list[dict[str, Any]]: ...

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> str:
        """``"idle"``, ``"connecting"``, ``"open"``, ``"reconnecting"``, ``"closing"`` or ``"closed"`` (see
        :mod:`.lifecycle`)."""
        return self._state

    @property
    def connected(self) -> bool:
        """True while the socket is open: from the moment it opens (``rtwidget.connected``, during the
        handshake) until it closes. ``state == "open"`` says the handshake is done too."""
        return self._connected

    def _set_state(self, state: str) -> None:
        previous = self._state
        if state != previous:
            self._state = state
            self._emit_local(STATE, {"state": state, "previous": previous})

    def _last_event_text(self) -> str:
        """What the session saw last, for timeout messages."""
        if self._last_received is None:
            return f"none (the session is {self._state})"
        etype, at = self._last_received
        return f"{etype}, {time.monotonic() - at:.1f} s ago (the session is {self._state})"

    def _require(self, what: str, *, socket: bool) -> None:
        """Refuse ``what`` at once on a closing or closed session, and (``socket``) on an idle one."""
        if self._state in (CLOSING, CLOSED_STATE):
            ended = f": {self.close_why}" if self.close_why else ""
            raise SessionClosed(self.close_code, self.close_reason, why=f"{what} on a {self._state} session{ended}")
        if socket and self._state == IDLE:
            raise NotConnected(what)

    async def _until_open(self, what: str) -> None:
        """On the I/O loop: refuse ``what`` unless the session is open, or wait while it is connecting."""
        self._require(what, socket=True)
        await self._settled()
        self._require(what, socket=True)

    async def _settled(self) -> None:
        """Wait while a connect or a reconnect is under way (its failure is raised here too)."""
        attempt = self._connecting or (self._reconnect_task if self._state == RECONNECTING else None)
        if attempt is None:
            return
        try:
            await asyncio.shield(attempt)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if (current is not None and getattr(current, "cancelling", lambda: 0)()) or not attempt.cancelled():
                raise  # this caller was cancelled (a close() cancelling start()): it ends cancelled
            raise SessionClosed(self.close_code, f"closed while {self._state_word(attempt)}") from None

    def _state_word(self, attempt: asyncio.Task[None]) -> str:
        return "reconnecting" if attempt is self._reconnect_task else "connecting"

    # ------------------------------------------------------------------ threads and loops

    async def _run(self, coro_fn: Callable[[], Awaitable[T]]) -> T:
        """Await a coroutine on the I/O loop from whatever loop the caller is on (built there, not here)."""
        if self._io.in_thread():
            return await coro_fn()
        return await asyncio.wrap_future(self._io.submit(_to_coro(coro_fn)))

    # ------------------------------------------------------------------ connecting

    async def connect(self) -> Session:
        """Open the WebSocket, wait for ``session.created``, send the session config; returns the session.

        Idempotent and single-flight: while connecting, every call awaits the same attempt; while open it
        returns at once. If the handshake fails its socket is closed and a later call tries again.
        """
        await self._run(self._open)
        return self  # type: ignore[return-value]

    def start(self) -> concurrent.futures.Future[Session]:
        """Connect in the background, from any thread (even one with no event loop); returns a future.

        A ``close()`` while it is still connecting cancels it (the future is then cancelled).
        """

        async def connecting() -> Session:
            task = asyncio.current_task()
            if task is not None:  # held like every task of ours, so close() cancels it
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return await self.connect()

        stopping = self._stopping
        if stopping is not None and not stopping.done():  # a close is stopping the I/O loop: connect after it
            return after(stopping, lambda: self._io.submit(connecting()))
        return self._io.submit(connecting())

    def stop(self) -> concurrent.futures.Future[None]:
        """Close in the background from any thread; returns a future. A later ``start()``, even at once, awaits it."""
        self._stopping = future = concurrent.futures.Future[None]()  # held before the close thread even runs

        def run() -> None:
            try:
                asyncio.run(self.close())
                future.set_result(None)
            except BaseException as exc:  # delivered to whoever reads the future
                future.set_exception(exc)

        # Not on the I/O thread (close stops its loop) nor the caller's (it may be running a loop already).
        threading.Thread(target=run, name="rtwidget-close", daemon=True).start()
        return future

    async def __aenter__(self) -> Session:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _open(self) -> None:
        if self._state == RECONNECTING:
            await self._settled()
            if self._state != OPEN:
                raise SessionClosed(self.close_code, self.close_reason, why=self.close_why)
        if self._state == OPEN:
            return
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open_once())
            self._tasks.add(self._connecting)
            self._connecting.add_done_callback(self._tasks.discard)
        await self._settled()

    async def _open_once(self) -> None:
        self._set_state(CONNECTING)
        self._closing = False
        try:
            if self.endpoint is None:  # decided once; the factory may block (it may start a server)
                self.endpoint = await asyncio.get_running_loop().run_in_executor(None, self._choose_endpoint)
            await self._connect(self.endpoint)
            if not self._connected:  # the server closed just as the handshake ended
                raise SessionClosed(self.close_code, self.close_reason)
        except BaseException:
            await self._drop_socket()
            self._set_state(CLOSED_STATE if self._closing else IDLE)
            raise
        finally:
            self._connecting = None
        self._set_state(OPEN)
        self._last_attempt = 0
        self._opened()

    async def _connect(self, endpoint: endpoints.Endpoint) -> None:
        """Open the socket to ``endpoint``, wait for ``session.created``, then send the session config."""
        if endpoint.dialect != self._conn.dialect:
            self._conn = Connection(endpoint.dialect, envelope=self._envelope)
        elif self._conn.session:
            self._conn.reset()  # a reconnect is a new server session: no state survives it
        # Registered before the socket opens; the config itself goes out the moment session.created is read
        # (see _send_config), so no update() from another thread can slip in between and be sent twice.
        self._config_sent = None
        created = self.expect("session.created")
        updated = self.expect("session.updated")
        refused = self.expect("error", self._refuses_config)
        handshake = (created, updated, refused)
        self.close_code, self.close_reason = None, ""
        self._last_received = None
        try:
            self._ws = await open_socket(  # websockets.connect, refusing cross-origin redirects and hiding keys
                endpoint.url,
                additional_headers=dict(endpoint.headers),
                max_size=None,
                compression=None,
                ping_interval=20,
                ping_timeout=20,
                open_timeout=self.handshake_timeout,
            )
        except TimeoutError:
            discard(handshake)  # their waiters go with the next event
            label = endpoint.describe()["label"]
            raise WaitTimeout(f"the WebSocket to {label} to open", self.handshake_timeout, "none") from None
        except BaseException:
            discard(handshake)
            raise
        self._connected = True
        queue: asyncio.Queue[str] = asyncio.Queue()
        # Nothing goes out before the config (and, reconnecting, the replayed history: see .reconnect._restore).
        self._held_queue, self._write_queue = queue, None
        self._release.watch(self._ws, self._finalizer)
        self._pump = (  # neither holds the session: an unclosed one can still be collected
            self._spawn(_read(weakref.ref(self), self._ws)),
            self._spawn(_write(self._ws, queue)),
        )
        self._emit_local(CONNECTED, endpoint.describe())
        try:
            try:
                await asyncio.wait_for(created, timeout=self.handshake_timeout)
            except asyncio.TimeoutError:
                raise WaitTimeout("session.created", self.handshake_timeout, self._last_event_text()) from None
            await self._config_answered(updated, refused)
        finally:
            discard(handshake)

    def _on_session_created(self) -> None:
        """The pump read ``session.created``: the config (and, reconnecting, the history) goes out in this same
        callback."""
        if self._state == CONNECTING:
            queued = self._conn.data_to_send()  # sent before connect(): they follow the config
            self._write_queue = self._held_queue
            self._send_config()
            self._conn.requeue(queued)
            self._flush()
        elif self._state == RECONNECTING:
            self._restore()

    def _send_config(self) -> None:
        """On reading session.created while connecting: send the configured fields at once (same callback)."""
        fields = dict(self._config)
        if tools := self._tool_list():  # registered and the user's raw-declared ones (kept across a reconnect)
            fields["tools"] = tools
        try:
            self._config_sent = self._conn.update_session(**fields)
        except Exception as exc:  # refused before sending: the handshake raises it
            self._config_sent = exc
        self._flush()

    def _refuses_config(self, event: Event) -> bool:
        sent = self._config_sent
        return isinstance(sent, str) and (event.cause or {}).get("event_id") == sent

    async def _config_answered(self, updated: asyncio.Future[Event], refused: asyncio.Future[Event]) -> None:
        """Wait until the server applied the session config (or said why not)."""
        if isinstance(self._config_sent, Exception):
            raise self._config_sent
        done, _ = await asyncio.wait(
            {updated, refused}, timeout=self.handshake_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if updated in done:
            updated.result()  # raises SessionClosed if the socket closed instead
        elif refused in done:
            info = error_info(refused.result().data)
            raise RealtimeError(
                f"the server refused the session config: {info.message}", code=info.code, event=refused.result()
            )
        if not done:
            waited = "session.updated (the answer to the session config)"
            raise WaitTimeout(waited, self.handshake_timeout, self._last_event_text())

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Close the socket, cancel every task, stop the I/O thread.

        Safe from any thread and loop, from inside a handler or a tool, twice, and while connecting (the
        connect then raises SessionClosed, or a ``start()`` future is cancelled). From the I/O thread itself (a
        handler or a tool) it starts the closing and returns at once: the closing cancels that very handler.
        """
        if self._io.running:
            if self._io.in_thread():
                self._spawn_close()  # from a handler or tool: our own task must not wait for itself
                return
            stopping = self._stopping = concurrent.futures.Future()  # start() waits for it: the loop is going
            try:
                await self._run(self._close_on_loop)
                await asyncio.get_running_loop().run_in_executor(None, self._io.stop)
            finally:
                self._set_state(CLOSED_STATE)
                self._after_close()
                stopping.set_result(None)  # only now: a waiting start() must not race the clean-up
            return  # closed once, above
        self._set_state(CLOSED_STATE)
        self._after_close()

    def _spawn_close(self) -> None:
        """Close from the I/O loop itself: run the closing as a task of its own that then stops the loop."""
        if self._closer is not None and not self._closer.done():
            return  # closing already

        async def closing() -> None:
            await self._close_on_loop()
            self._io.stop()  # from the loop itself: only asks it to stop
            self._after_close()

        self._closer = asyncio.ensure_future(closing())  # held: a task nobody references may vanish

    async def _close_on_loop(self) -> None:
        if self._connected or self._state == RECONNECTING:
            self.close_why = "closed by session.close()"
        self._closing = True
        self._cancel_expiry()
        if self._state != CLOSED_STATE:
            self._set_state(CLOSING)
        await _close_and_cancel(self._ws, self._tasks)
        self._connected = False
        self._ws = None
        self._set_state(CLOSED_STATE)

    async def _drop_socket(self) -> None:
        """After a failed handshake: close its socket and stop its reader and writer."""
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):  # closing anyway; the reader reports it
                await asyncio.shield(ws.close())
        for task in self._pump:
            task.cancel()
        self._pump = ()
        self._connected = False


async def _read(session_ref: weakref.ref[LifecycleMixin], ws: ClientConnection) -> None:
    """The reader: each message to the session's pump (held weakly), then tell it the socket closed."""
    try:
        async for message in ws:
            session = session_ref()
            if session is None:
                return
            try:
                session._receive(message)
            except Exception:  # one bad message must not end the reader: log it and read on
                logger.exception("rtwidget: failed to handle a server message; reading on")
            del session
    except ConnectionClosed:
        pass
    finally:
        session = session_ref()
        if session is not None:
            session._on_closed(ws)


async def _write(ws: ClientConnection, queue: asyncio.Queue[str]) -> None:
    """The writer: the pump's queued wire texts to the socket, in order."""
    try:
        while True:
            await ws.send(await queue.get())
    except ConnectionClosed:
        pass


class Release:
    """What a session that was never closed leaves behind (its I/O thread, tasks and socket), released by its
    ``weakref.finalize`` with a ResourceWarning, like an unclosed file. Holds nothing that holds the session."""

    def __init__(self, io: LoopThread, tasks: set[asyncio.Task[Any]]) -> None:
        self.io = io
        self.tasks = tasks
        self.ws: ClientConnection | None = None
        #: True once released: the socket's end is then ours, not the server's.
        self.released = False
        self._at_exit = False

    def watch(self, ws: ClientConnection, finalizer: weakref.finalize[Any, Any]) -> None:
        """Remember the open socket; the first time, release at exit before anything registered earlier (such
        as the local server's own shutdown), so an unclosed script ends with no noise."""
        self.ws = ws
        if not self._at_exit:
            self._at_exit = True
            atexit.register(finalizer)

    def __call__(self, label: str) -> None:
        if not self.io.running:
            return  # closed properly
        self.released = True
        warnings.warn(f"unclosed {label}: await session.close() when done", ResourceWarning, stacklevel=2)
        if self.io.in_thread():  # collected on the I/O thread itself: the loop cannot wait for itself
            self.io.call_soon(_stop_after, asyncio.ensure_future(self._shutdown()), self.io)
            return
        loop = self.io.loop
        if loop is not None:
            with contextlib.suppress(Exception):  # releasing anyway: the loop stops below
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(HANDSHAKE_TIMEOUT_S)
        self.io.stop()

    async def _shutdown(self) -> None:
        await _close_and_cancel(self.ws, self.tasks)


async def _close_and_cancel(ws: ClientConnection | None, tasks: set[asyncio.Task[Any]]) -> None:
    """Close the socket, then cancel every task but the caller's and wait for them to end."""
    if ws is not None:
        await ws.close()
    current = asyncio.current_task()
    others = [t for t in tasks if t is not current]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def _stop_after(shutdown: asyncio.Future[None], io: LoopThread) -> None:
    shutdown.add_done_callback(lambda _: io.stop())


async def _to_coro(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()
