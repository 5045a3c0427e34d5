"""Session: the asyncio I/O layer that pumps the protocol core over a WebSocket, on its own thread.

A notebook cell can block for minutes; the session must not. Each Session owns an I/O thread running its own
event loop, which holds the WebSocket, reads and writes it, runs tools and keeps the pings going. Every
public method may be called from any thread: sync methods hop onto the I/O loop and return (or raise) there
and back in microseconds; coroutine methods can be awaited from the kernel's loop or from ``asyncio.run``.
The :class:`~rtwidget.protocol.connection.Connection` (all protocol decisions) is only touched on the I/O
loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fnmatch
import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from .. import audio as audio_mod
from .. import endpoints
from ..errors import RealtimeError, SessionClosed
from ..protocol.connection import Connection, elide_audio, error_code
from ..protocol.server_errors import HARMLESS_ERROR_CODES, TERMINAL_ERROR_CODES
from ..protocol.conversation import Item
from ..protocol.events import Event
from ..protocol.tracker import FunctionCall
from ..tools import Tool, ToolRegistry, ToolResult

logger = logging.getLogger("rtwidget.session")

T = TypeVar("T")
Handler = Callable[[Event], Any]

# Local (not wire) events a session emits to its handlers, all under the "rtwidget." prefix.
CONNECTED = "rtwidget.connected"
CLOSED = "rtwidget.closed"
TOOL_STARTED = "rtwidget.tool.started"
TOOL_DONE = "rtwidget.tool.done"
SENT = "rtwidget.sent"
# What to do about errors that end the session.
_TERMINAL_HINTS = {
    "beta_api_shape_disabled": ". This server no longer speaks the beta dialect: drop dialect='beta' and the "
    "OpenAI-Beta header.",
    "session_expired": ". Sessions have a maximum duration: start a new Session (and load_history if needed).",
}


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


@dataclass
class Reply:
    """What :meth:`Session.ask` returns: the final reply and everything that led to it."""

    text: str
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    response_ids: list[str] = field(default_factory=list)
    status: str = "completed"
    items: list[Item] = field(default_factory=list)

    def __str__(self) -> str:
        return self.text


@dataclass
class OutOfBandResult:
    """What :meth:`Session.respond_out_of_band` returns: the text and the final ``response`` object."""

    text: str
    response: dict[str, Any]
    metadata: dict[str, Any] | None = None

    def __str__(self) -> str:
        return self.text


def _matches(pattern: str, etype: str) -> bool:
    """``"*"`` matches everything; ``"response.*"`` or ``"response."`` match a prefix; else exact."""
    if pattern == "*" or pattern == etype:
        return True
    if pattern.endswith("."):
        return etype.startswith(pattern)
    return "*" in pattern and fnmatch.fnmatchcase(etype, pattern)


class Session:
    """A Realtime session: one WebSocket, its conversation, its tools.

    Constructing it does no I/O. ``await session.connect()`` (or ``async with``) opens the socket. With no
    ``endpoint``, ``api_key``, ``OPENAI_API_KEY`` or Azure settings, it connects to rtwidget's local server.
    Extra keyword arguments are session fields (friendly or beta-style names are translated to GA).
    """

    def __init__(
        self,
        model: str = "gpt-realtime",
        instructions: str | None = None,
        voice: str | None = None,
        tools: Iterable[Callable[..., Any]] = (),
        turn_detection: str | dict[str, Any] | None = "server_vad",
        endpoint: endpoints.Endpoint | str | None = None,
        api_key: str | None = None,
        dialect: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        envelope: bool = False,
        log_size: int = 5000,
        **session_fields: Any,
    ) -> None:
        self.model = model
        self._endpoint_arg = endpoint
        self._api_key = api_key
        self._dialect_arg = dialect
        self._headers = headers
        self._envelope = envelope
        self.endpoint: endpoints.Endpoint | None = None
        # The session fields sent with the first session.update after connecting (GA friendly names).
        self._config: dict[str, Any] = dict(session_fields)
        if instructions is not None:
            self._config["instructions"] = instructions
        if voice is not None:
            self._config["voice"] = voice
        self._config["turn_detection"] = turn_detection
        # Built with the configured dialect now, so sends before connect() are validated and queued.
        self._conn = Connection(dialect or "ga", envelope=envelope)
        self.tools = ToolRegistry()
        for fn in tools:
            self.tools.add(fn)
        self.tools.listeners.append(self._tools_changed)
        self.log: deque[LogEntry] = deque(maxlen=log_size)
        # Called on the I/O thread with every LogEntry as it is logged (the widget's event log reads these).
        self.log_listeners: list[Callable[[LogEntry], None]] = []
        self._widget: Any = None
        self.errors: deque[Event] = deque(maxlen=200)
        self.tool_calls: list[ToolCallRecord] = []
        self.close_code: int | None = None
        self.close_reason: str = ""
        self._t0 = time.monotonic()
        self._handlers: list[tuple[str, Handler]] = []
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Event | None]]] = []
        self._waiters: list[tuple[str, Callable[[Event], bool] | None, asyncio.Future[Event]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ws: ClientConnection | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tool_tasks: set[asyncio.Task[Any]] = set()
        self._write_queue: asyncio.Queue[str] | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._connected = False
        self._closing = False
        self._loop_lock = threading.Lock()

    # ================================================================================ threads and loops

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._loop_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name=f"rtwidget-session-{id(self):x}", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
                self._executor = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="rtwidget-tool")
            return self._loop

    def _on_io_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the I/O loop and return its result (or raise its exception) in the caller's thread."""
        if self._on_io_thread():
            return fn()
        loop = self._ensure_loop()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # delivered to the caller, who sees the real error
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return future.result(timeout=30)

    async def _run(self, coro_fn: Callable[[], Awaitable[T]]) -> T:
        """Await a coroutine on the I/O loop from whatever loop the caller is on."""
        loop = self._ensure_loop()
        if self._on_io_thread():
            return await coro_fn()
        future = asyncio.run_coroutine_threadsafe(_to_coro(coro_fn), loop)
        return await asyncio.wrap_future(future)

    def _spawn(self, coro: Awaitable[Any], bucket: set[asyncio.Task[Any]] | None = None) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        for holder in (self._tasks, bucket):
            if holder is not None:
                holder.add(task)
                task.add_done_callback(holder.discard)
        return task

    # ================================================================================ connecting

    @property
    def connected(self) -> bool:
        """True while the WebSocket is open."""
        return self._connected

    @property
    def dialect(self) -> str:
        """``"ga"`` or ``"beta"``."""
        return self._conn.dialect

    async def connect(self) -> Session:
        """Open the WebSocket, wait for ``session.created``, send the session config; returns the session."""
        await self._run(self._connect)
        return self

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

        return asyncio.run_coroutine_threadsafe(connecting(), self._ensure_loop())

    def stop(self) -> concurrent.futures.Future[None]:
        """Close in the background, from any thread (a widget button, a comm handler); returns a future."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            try:
                asyncio.run(self.close())
                future.set_result(None)
            except BaseException as exc:  # delivered to whoever reads the future
                future.set_exception(exc)

        # Not on the I/O thread (close stops its loop) nor the caller's (it may be running a loop already).
        threading.Thread(target=run, name="rtwidget-close", daemon=True).start()
        return future

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the I/O loop without waiting (where session state may be touched).

        With no I/O loop (never connected, or closed) nothing else touches the state: ``fn`` runs right here,
        and no thread is started for it.
        """
        with self._loop_lock:
            loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(fn, *args)
                return
            except RuntimeError:  # the loop closed meanwhile: nothing else touches the state now
                pass
        fn(*args)

    async def __aenter__(self) -> Session:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _connect(self) -> None:
        if self._connected:
            return
        endpoint = endpoints.resolve(
            self._endpoint_arg,
            model=self.model,
            api_key=self._api_key,
            dialect=self._dialect_arg,
            headers=self._headers,
        )
        if endpoint is None:
            from ..server import (
                shared_server,  # floor 3 beside us; imported lazily: most sessions never need it
            )

            server = await asyncio.get_running_loop().run_in_executor(None, shared_server)
            endpoint = endpoints.local(server.url, model=self.model)
            logger.warning(
                "rtwidget: no API key found, so this session talks to rtwidget's local server at %s. "
                "For the real API set OPENAI_API_KEY (or pass api_key= / endpoint=).",
                server.url,
            )
        self.endpoint = endpoint
        if endpoint.dialect != self._conn.dialect:
            self._conn = Connection(endpoint.dialect, envelope=self._envelope)
        elif self._conn.session:
            self._conn.reset()  # a reconnect is a new server session: no state survives it
        created = self.expect("session.created")
        self._closing = False
        self.close_code, self.close_reason = None, ""
        self._ws = await websockets.connect(
            endpoint.url,
            additional_headers=dict(endpoint.headers),
            max_size=None,
            compression=None,
            ping_interval=20,
            ping_timeout=20,
            open_timeout=15,
        )
        self._connected = True
        self._write_queue = asyncio.Queue()
        self._spawn(self._reader(self._ws))
        self._spawn(self._writer(self._ws, self._write_queue))
        self._emit_local(CONNECTED, endpoint.describe())
        try:
            await asyncio.wait_for(created, timeout=15)
        except asyncio.TimeoutError:
            raise RealtimeError("the server sent no session.created within 15 s") from None
        await self._send_initial_config()

    async def _send_initial_config(self) -> None:
        """Send the configured fields and wait until the server applied them (or said why not)."""
        fields = dict(self._config)
        if len(self.tools):
            fields["tools"] = self.tools.schemas()
        updated = self.expect("session.updated")
        event_id = self._conn.update_session(**fields)
        refused = self.expect("error", lambda e: (e.cause or {}).get("event_id") == event_id)
        self._flush()
        done, _ = await asyncio.wait({updated, refused}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        for future in (updated, refused):
            if future not in done:
                future.cancel()
        if updated in done:
            updated.result()  # raises SessionClosed if the socket closed instead
        elif refused in done:
            err = refused.result().get("error") or {}
            raise RealtimeError(
                f"the server refused the session config: {err.get('message')}",
                code=err.get("code"),
                event=refused.result(),
            )
        if not done:
            raise RealtimeError("the server did not answer the session config within 15 s")

    def _tools_changed(self) -> None:
        # Called in whatever thread changed the registry: one session.update with the whole tool list.
        if self._loop is not None and self._connected:
            self._loop.call_soon_threadsafe(self._send_tools)

    def _send_tools(self) -> None:
        if self._connected:
            self._conn.update_session(tools=self.tools.schemas())
            self._flush()

    async def close(self) -> None:
        """Close the socket, cancel every task, stop the I/O thread. Safe to call twice."""
        if self._loop is None:
            return
        await self._run(self._close_on_loop)
        loop, thread = self._loop, self._thread
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 5)
        loop.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._loop = self._thread = self._executor = None

    async def _close_on_loop(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._connected = False
        self._ws = None

    # ================================================================================ the pump

    async def _reader(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                try:
                    self._receive(message)
                except Exception:  # one bad message must not end the reader: log it and read on
                    logger.exception("rtwidget: failed to handle a server message; reading on")
        except ConnectionClosed:
            pass
        finally:
            self._on_closed(ws)

    def _receive(self, message: str | bytes) -> Event:
        """Feed one server message through the core, the log and the handlers. Never raises."""
        event = self._conn.receive_text(message)
        cause_id = (event.cause or {}).get("event_id") if event.type == "error" else None
        self._log("server", event.type, len(message), event.data, cause_id)
        if event.type == "error":
            self._on_error(event)
        self._dispatch(event)
        for call in self._conn.function_calls_to_run():
            self._spawn(self._run_tool(call), self._tool_tasks)
        if event.type == "response.done":
            self._conn.reply_if_due()
        self._flush()
        return event

    def _on_error(self, event: Event) -> None:
        self.errors.append(event)
        code = error_code(event)
        if code in HARMLESS_ERROR_CODES:
            logger.debug("rtwidget: harmless server error %s", code)
            return
        err = event.get("error")
        err = err if isinstance(err, dict) else {"message": str(err)}
        cause = event.cause or {}
        caused_by = f" (caused by {cause.get('type')} {cause.get('event_id')})" if cause else ""
        hint = _TERMINAL_HINTS.get(code or "", "")
        level = logging.ERROR if code in TERMINAL_ERROR_CODES else logging.WARNING
        logger.log(
            level,
            "rtwidget: server error %s: %s%s%s",
            code or err.get("type"),
            err.get("message"),
            caused_by,
            hint,
        )

    def _on_closed(self, ws: ClientConnection) -> None:
        if self._ws is not ws and self._ws is not None:
            return
        self._connected = False
        self.close_code = ws.close_code
        self.close_reason = ws.close_reason or ""
        if not self._closing:
            logger.warning(
                "rtwidget: connection closed by the server (code %s%s)",
                self.close_code,
                f": {self.close_reason}" if self.close_reason else "",
            )
        closed = SessionClosed(self.close_code, self.close_reason)
        for _, _, future in self._waiters:
            if not future.done():
                future.get_loop().call_soon_threadsafe(_set_exception, future, closed)
        self._waiters.clear()
        self._emit_local(CLOSED, {"code": self.close_code, "reason": self.close_reason})
        for loop, queue in self._subscribers:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    async def _writer(self, ws: ClientConnection, queue: asyncio.Queue[str]) -> None:
        try:
            while True:
                text = await queue.get()
                await ws.send(text)
        except ConnectionClosed:
            pass

    def _flush(self) -> None:
        """Move the core's queued client events to the writer (only while connected)."""
        if not self._connected or self._write_queue is None:
            return
        for event, text in self._conn.data_to_send():
            self._log("client", event["type"], len(text), event)
            self._write_queue.put_nowait(text)
            if self._handlers:
                self._dispatch(Event(SENT, event))

    def _log(self, direction: str, etype: str, size: int, data: dict[str, Any], cause_id: str | None = None) -> None:
        # Audio payloads are large and the log is for reading: keep their size only.
        entry = LogEntry(time.monotonic() - self._t0, direction, etype, size, elide_audio(data), cause_id)
        self.log.append(entry)
        for listener in self.log_listeners:
            try:
                listener(entry)
            except Exception:  # a broken listener must not break the reader
                logger.exception("rtwidget: log listener %r failed", listener)

    def _emit_local(self, etype: str, data: dict[str, Any]) -> None:
        self._log("local", etype, 0, data)
        self._dispatch(Event(etype, {"type": etype, **data}))

    # ================================================================================ dispatch

    def on(self, event_type: str, handler: Handler | None = None) -> Any:
        """Call ``handler(event)`` for events of ``event_type``: an exact type, a prefix ending in ``.``,
        a glob (``"response.*"``) or ``"*"``. Works as a decorator. Handlers run on the I/O thread; coroutine
        handlers are scheduled there. A handler that raises is logged and never breaks the reader.
        """
        if handler is None:

            def register(fn: Handler) -> Handler:
                self._handlers.append((event_type, fn))
                return fn

            return register
        self._handlers.append((event_type, handler))
        return handler

    def off(self, event_type: str | None = None, handler: Handler | None = None) -> None:
        """Remove handlers: by type, by handler, or both."""
        self._handlers = [
            (t, h)
            for t, h in self._handlers
            if not ((event_type is None or t == event_type) and (handler is None or h == handler))
        ]

    def _dispatch(self, event: Event) -> None:
        for pattern, handler in list(self._handlers):
            if _matches(pattern, event.type):
                try:
                    result = handler(event)
                    if inspect.isawaitable(result):
                        self._spawn(_guard(result, handler))
                except Exception:
                    logger.exception("rtwidget: handler %r failed on %s", handler, event.type)
        if self._waiters:
            for waiter in list(self._waiters):
                pattern, predicate, future = waiter
                if future.done():
                    self._waiters.remove(waiter)
                elif _matches(pattern, event.type) and (predicate is None or _safe(predicate, event)):
                    self._waiters.remove(waiter)
                    future.get_loop().call_soon_threadsafe(_set_result, future, event)
        for loop, queue in self._subscribers:
            loop.call_soon_threadsafe(queue.put_nowait, event)

    def expect(self, event_type: str, predicate: Callable[[Event], bool] | None = None) -> asyncio.Future[Event]:
        """Start waiting now, await later: a future for the next event matching ``event_type`` (and
        ``predicate``), registered before this returns, so an event caused by a send that follows cannot be
        missed::

            done = session.expect("response.done")
            session.send_text("hi")
            event = await done

        Call it from a coroutine (the future belongs to the running loop). It fails with SessionClosed if the
        connection closes first.
        """
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        entry = (event_type, predicate, future)
        self._call(lambda: self._waiters.append(entry))
        return future

    async def wait_for(
        self, event_type: str, predicate: Callable[[Event], bool] | None = None, timeout: float | None = None
    ) -> Event:
        """The next event matching ``event_type`` (and ``predicate``); raises TimeoutError / SessionClosed.

        It only sees events that arrive after it is called: to wait for the answer to a send, use
        :meth:`expect` before sending.
        """
        return await asyncio.wait_for(self.expect(event_type, predicate), timeout)

    async def events(self) -> AsyncIterator[Event]:
        """Every event from now on (server events and local ``rtwidget.*`` ones) until the session closes."""
        self._ensure_loop()
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        entry = (asyncio.get_running_loop(), queue)
        self._call(lambda: self._subscribers.append(entry))
        try:
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            if self._loop is not None:
                self._call(lambda: self._subscribers.remove(entry) if entry in self._subscribers else None)

    # ================================================================================ sending

    def _send_via(self, fn: Callable[[], T]) -> T:
        def run() -> T:
            result = fn()
            self._flush()
            return result

        return self._call(run)

    def send(self, event: dict[str, Any]) -> str:
        """Send any client event (validated first; ClientEventError names the problem); returns its event_id."""
        return self._send_via(lambda: self._conn.send(event))

    def update(self, **session_fields: Any) -> str:
        """``session.update`` with friendly or beta-style names (``voice=``, ``turn_detection=``, ...)."""
        self._config.update(session_fields)
        return self._send_via(lambda: self._conn.update_session(**session_fields))

    def send_text(self, text: str, respond: bool = True) -> list[str]:
        """A user text message, then ``response.create`` if ``respond``; returns the event ids."""
        return self._send_via(lambda: self._conn.send_text(text, respond=respond))

    def append_audio(self, pcm: audio_mod.PcmLike, sample_rate: int = audio_mod.SAMPLE_RATE) -> list[str]:
        """Stream microphone audio into the input buffer (resampled to 24 kHz PCM16, sent in 100 ms appends)."""
        data = audio_mod.to_pcm16(pcm, sample_rate)
        return self._send_via(lambda: [self._conn.append_audio(c) for c in audio_mod.chunks(data, 100)])

    def commit_audio(self) -> str:
        """``input_audio_buffer.commit`` (needs at least 100 ms of audio in the buffer)."""
        return self._send_via(self._conn.commit_audio)

    def clear_audio(self) -> str:
        """``input_audio_buffer.clear``."""
        return self._send_via(self._conn.clear_audio)

    def send_audio(
        self,
        pcm: audio_mod.PcmLike,
        sample_rate: int = audio_mod.SAMPLE_RATE,
        commit: bool = True,
        respond: bool = True,
    ) -> list[str]:
        """Send a whole utterance (bytes or numpy, any rate).

        With ``commit=True`` it becomes one user ``input_audio`` item (so server VAD cannot split it), then
        ``response.create`` if ``respond``. With ``commit=False`` it is only appended to the input buffer.
        """
        data = audio_mod.to_pcm16(pcm, sample_rate)
        if not commit:
            return self.append_audio(data)
        return self._send_via(lambda: self._conn.send_audio_item(data, respond=respond))

    def respond(self, **response_fields: Any) -> str:
        """``response.create`` with optional overrides (``instructions=``, ``voice=``, ``modalities=``, ...)."""
        return self._send_via(lambda: self._conn.respond(**response_fields))

    def cancel(self) -> str:
        """``response.cancel``. Harmless if nothing is running."""
        return self._send_via(self._conn.cancel)

    def truncate(self, item_id: str, audio_end_ms: float) -> str | None:
        """Cut an assistant item at the audio actually played (clamped; None if all of it was heard)."""
        return self._send_via(lambda: self._conn.truncate(item_id, audio_end_ms))

    def load_history(self, messages: Iterable[Mapping[str, Any]]) -> list[str]:
        """Add earlier messages (``[{"role": "user", "content": "..."}]`` or items) with the right content types."""
        return self._send_via(lambda: self._conn.load_history(messages))

    # ================================================================================ tools

    def tool(self, fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Decorator: ``@session.tool`` or ``@session.tool(name=..., reply=False, timeout=5)``."""
        return self.tools.tool(fn, **options)

    def add_tool(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        reply: bool = True,
        timeout: float | None = 30.0,
    ) -> Tool:
        """Register ``fn`` as a tool (same name replaces; one ``session.update`` when connected)."""
        return self.tools.add(fn, name=name, description=description, reply=reply, timeout=timeout)

    async def _run_tool(self, call: FunctionCall) -> None:
        self._emit_local(
            TOOL_STARTED,
            {"name": call.name, "call_id": call.call_id, "arguments": call.arguments, "response_id": call.response_id},
        )
        result: ToolResult = await self.tools.call(
            call.name, call.arguments, call_id=call.call_id, executor=self._executor
        )
        record = ToolCallRecord(
            call.name,
            call.call_id,
            result.arguments,
            result.output,
            result.ok,
            result.error,
            call.response_id,
            result.duration_s,
        )
        self.tool_calls.append(record)
        # Announced before the output goes out, so a watcher sees the call finished when the follow-up leaves.
        self._emit_local(
            TOOL_DONE,
            {
                "name": call.name,
                "call_id": call.call_id,
                "output": result.output,
                "ok": result.ok,
                "error": result.error,
                "error_kind": result.error_kind,
                "reply": result.reply,
                "duration_s": result.duration_s,
                "response_id": call.response_id,
            },
        )
        if self._connected:
            self._conn.function_output(call.call_id, result.output, reply=result.reply)
            self._conn.reply_if_due()
            self._flush()

    # ================================================================================ conversations

    @property
    def conversation(self) -> list[Item]:
        """The default conversation's items, in order."""
        return self._conn.conversation.items

    @property
    def connection(self) -> Connection:
        """The protocol core (read it from handlers, which run on the I/O thread)."""
        return self._conn

    @property
    def expires_at(self) -> float | None:
        """Unix time at which the server ends the session (from ``session.created``), or None."""
        return self._conn.expires_at

    @property
    def time_left(self) -> float | None:
        """Seconds until the session expires, or None when unknown."""
        expires = self.expires_at
        return None if expires is None else max(0.0, expires - time.time())

    @property
    def config(self) -> dict[str, Any]:
        """The effective session config the server last reported (GA form)."""
        return self._conn.session

    async def ask(self, text: str, *, timeout: float | None = 120.0) -> Reply:
        """Send ``text``, let tools run, and return the final reply (text or transcript) with the tool calls.

        Raises RealtimeError if the server rejects a request of this turn, SessionClosed if the socket closes.
        """
        return await asyncio.wait_for(self._run(lambda: self._ask(text)), timeout)

    async def _ask(self, text: str) -> Reply:
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[Reply] = loop.create_future()
        response_ids: list[str] = []
        first_tool = len(self.tool_calls)
        sent_ids: set[str] = set()

        def settle_if_done(event: Event) -> None:
            if finished.done():
                return
            if event.type == "response.created":
                response = event.get("response") or {}
                if response.get("conversation_id", "") is not None:
                    response_ids.append(str(response.get("id")))
            elif event.type == "error" and event.cause and event.cause.get("event_id") in sent_ids:
                finished.set_exception(_refusal(event))
            elif event.type in ("response.done", TOOL_DONE, SENT) and response_ids:
                tracker = self._conn.tracker
                if (
                    not self._tool_tasks_pending()
                    and not tracker.owed
                    and not tracker.busy
                    and not tracker.response_due()
                ):
                    conversation = self._conn.conversation
                    last = conversation.responses.get(response_ids[-1])
                    finished.set_result(
                        Reply(
                            conversation.response_text(response_ids[-1]),
                            self.tool_calls[first_tool:],
                            list(response_ids),
                            last.status if last else "completed",
                            conversation.response_items(response_ids[-1]),
                        )
                    )
            elif event.type == CLOSED:
                finished.set_exception(SessionClosed(self.close_code, self.close_reason))

        self.on("*", settle_if_done)
        try:
            sent_ids.update(self._send_via(lambda: self._conn.send_text(text)))
            return await finished
        finally:
            self.off("*", settle_if_done)

    def _tool_tasks_pending(self) -> bool:
        current = asyncio.current_task()
        return any(not t.done() and t is not current for t in self._tool_tasks)

    async def respond_out_of_band(
        self,
        instructions: str | None = None,
        *,
        input: Iterable[Any] | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = 120.0,
        **response_fields: Any,
    ) -> OutOfBandResult:
        """Run a response outside the default conversation and return its text (nothing is added to it)."""
        return await asyncio.wait_for(
            self._run(lambda: self._out_of_band(instructions, input, metadata, response_fields)), timeout
        )

    async def _out_of_band(
        self,
        instructions: str | None,
        input: Iterable[Any] | None,
        metadata: Mapping[str, str] | None,
        fields: dict[str, Any],
    ) -> OutOfBandResult:
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[OutOfBandResult] = loop.create_future()
        state: dict[str, str] = {}

        def watch(event: Event) -> None:
            if finished.done():
                return
            response = event.get("response") if event.type.startswith("response.") else None
            meta = (response or {}).get("metadata") or {}
            if event.type == "response.created" and meta.get("rtwidget_request") == state.get("event_id"):
                state["response_id"] = str(response.get("id"))  # type: ignore[union-attr]
            elif event.type == "response.done" and response and response.get("id") == state.get("response_id"):
                text = self._conn.conversation.response_text(state["response_id"])
                finished.set_result(OutOfBandResult(text, response, response.get("metadata")))
            elif event.type == "error" and event.cause and event.cause.get("event_id") == state.get("event_id"):
                finished.set_exception(_refusal(event))
            elif event.type == CLOSED:
                finished.set_exception(SessionClosed(self.close_code, self.close_reason))

        self.on("*", watch)
        try:
            state["event_id"] = self._send_via(
                lambda: self._conn.respond_out_of_band(instructions, input=input, metadata=metadata, **fields)
            )
            return await finished
        finally:
            self.off("*", watch)

    # ================================================================================ display

    # Set by rtwidget.widget (floor 4) when it is imported, so the session can show itself as the widget
    # without importing upward.
    view_factory: ClassVar[Callable[[Session], Any] | None] = None

    @property
    def widget(self) -> Any:
        """The session's notebook widget (one per session; every display of it shows the same live state)."""
        if self._widget is None:
            if Session.view_factory is None:
                raise RuntimeError("the widget needs rtwidget.widget: `import rtwidget.widget` first")
            self._widget = Session.view_factory(self)
        return self._widget

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        if Session.view_factory is None:
            return {"text/plain": repr(self)}
        return self.widget._repr_mimebundle_(include=include, exclude=exclude)

    def __repr__(self) -> str:
        where = self.endpoint.describe()["label"] if self.endpoint else "not connected"
        state = "connected" if self._connected else "closed" if self.close_code else "idle"
        return f"<rtwidget.Session {self.model} {where} {state} items={len(self._conn.conversation)}>"


def _refusal(event: Event) -> RealtimeError:
    """The exception for an ``error`` event that refused one of our requests."""
    err = event.get("error")
    err = err if isinstance(err, dict) else {"message": str(err)}
    return RealtimeError(f"{err.get('code')}: {err.get('message')}", code=error_code(event), event=event)


async def _to_coro(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()


async def _guard(awaitable: Awaitable[Any], handler: Any) -> None:
    try:
        await awaitable
    except Exception:
        logger.exception("rtwidget: handler %r failed", handler)


def _safe(predicate: Callable[[Event], bool], event: Event) -> bool:
    try:
        return bool(predicate(event))
    except Exception:
        logger.exception("rtwidget: wait_for predicate failed on %s", event.type)
        return False


def _set_result(future: asyncio.Future[Event], event: Event) -> None:
    if not future.done():
        future.set_result(event)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


__all__ = [
    "LogEntry",
    "OutOfBandResult",
    "RealtimeError",
    "Reply",
    "Session",
    "SessionClosed",
    "ToolCallRecord",
]
