"""Session: the asyncio I/O layer that pumps the protocol core over a WebSocket, on its own thread.

A notebook cell can block for minutes; the session must not. Each Session owns an I/O thread
(:class:`~rtwidget._loopthread.LoopThread`) running its own event loop, which holds the WebSocket, reads and
writes it, runs tools and keeps the pings going. Every public method may be called from any thread: sync
methods hop onto the I/O loop and return (or raise) there and back in microseconds; coroutine methods can be
awaited from the kernel's loop or from ``asyncio.run``. The :class:`~rtwidget.protocol.connection.Connection`
(all protocol decisions) is only touched on the I/O loop; the read accessors (``conversation_state``,
``response_active``, ``connection``, ``config``) are meant for handlers and listeners, which run there.

The pump: read a message, feed the core, log it, dispatch its event on the bus (:mod:`.dispatch`), start the
tools it asks for, write what the core queued. The states, connecting and closing are in :mod:`.lifecycle`
(``session.state``: idle, connecting, open, closing, closed). Events are delivered by the bus; turns (``ask``,
``respond_out_of_band``) are in :mod:`.turns`; which endpoint to talk to is decided by :mod:`.endpoint_policy`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection

from .. import endpoints
from .._loopthread import LoopThread
from ..errors import SessionClosed, WaitTimeout
from ..protocol.connection import Connection, elide_audio
from ..protocol.conversation import Conversation, Item
from ..protocol.events import Event
from ..protocol.session_config import DEFAULT_MODEL
from ..tools import ToolRegistry
from .dispatch import EventBus, EventsMixin
from .doctoring import DoctorMixin
from .endpoint_policy import EndpointChoice, EndpointFactory
from .exports import ExportsMixin
from .item_audio import AUDIO_KEEP_S, ItemAudioStore
from .lifecycle import CLOSED_STATE, CLOSING, IDLE, OPEN, LifecycleMixin, Release
from .local_events import CLOSED, ERROR, LOG_MAX_BYTES, SENT, LogEntry, SessionLog, ToolCallRecord, local_event
from .metrics import Metrics, MetricsMixin
from .recording import RecordingMixin
from .reporting import FailureSource, FailureThrottle, failure_data, log_server_error
from .response_watch import (
    RESPONSE_TIMEOUT_S,
    LostTurnGuard,
    ResponseWatch,
    check_response_timeout,
    fold_failure_data,
)
from .sending import SendingMixin
from .taps import Taps
from .tool_calls import ToolsMixin
from .tool_runner import ToolRunner
from .turns import AskTurn, OutOfBandResult, OutOfBandTurn, Reply, Turn

logger = logging.getLogger("rtwidget.session")

T = TypeVar("T")

# Called with each new Session at the end of its __init__: the notebook's cell tracking (rtwidget.widget.cells)
# registers here, so this floor never imports IPython. A hook must not raise.
CREATION_HOOKS: list[Callable[[Session], None]] = []


class Session(
    LifecycleMixin, EventsMixin, SendingMixin, ToolsMixin, DoctorMixin, MetricsMixin, ExportsMixin, RecordingMixin
):
    """A Realtime session: one WebSocket, its conversation, its tools.

    Constructing it does no I/O. ``await session.connect()`` (or ``async with``) opens the socket. The endpoint
    is decided once, on the first connect: ``endpoint=`` (an Endpoint or a URL), else ``api_key=``,
    ``OPENAI_API_KEY`` or Azure settings, else ``endpoint_factory(model)`` (by default rtwidget's local
    server). Extra keyword arguments are session fields (friendly or beta-style names are translated to GA).

    ``response_timeout`` (seconds, default 60; None: never) gives up on a response the server goes silent on:
    an ``rtwidget.error`` says which, and the session accepts new turns (see :mod:`.response_watch`).

    ``reconnect`` (default True): a dropped connection is replaced, with the config, tools and history restored
    (see :mod:`.reconnect`); ``renew`` (``"auto"``, ``"warn"``: the default, or ``"off"``): what to do five minutes
    before the server ends the session at ``expires_at``.

    ``doctor`` (default True): the flow doctor watches the events and says when a flow goes wrong, in
    ``session.hints`` and ``rtwidget.hint`` events (see :mod:`.doctoring`); False switches it off, a list of rule
    ids switches those off (later: ``session.doctor.disable("rule-id")``).

    ``audio_keep_s`` (default 1800): seconds of item audio kept in ``session.item_audio`` (see :mod:`.item_audio`),
    for ``export_wav`` and item playback; the exports are in :mod:`.exports`.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
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
        log_max_bytes: int = LOG_MAX_BYTES,
        endpoint_factory: EndpointFactory | None = None,
        response_timeout: float | None = RESPONSE_TIMEOUT_S,
        reconnect: bool = True,
        renew: str = "warn",
        doctor: bool | Iterable[str] = True,
        audio_keep_s: float = AUDIO_KEEP_S,
        **session_fields: Any,
    ) -> None:
        if not isinstance(reconnect, bool):
            raise TypeError(f"reconnect must be True or False, not {reconnect!r}")
        self.reconnect = reconnect
        self.renew = renew  # checked by the property
        self._response_watch = ResponseWatch(
            check_response_timeout(response_timeout), lambda: self._conn, self._emit_local, self._resume
        )
        self.model = model
        self._envelope = envelope
        # What decides the endpoint (it may start the local server, so it runs on the first connect, not here).
        self._choose_endpoint = EndpointChoice(
            endpoint, model=model, api_key=api_key, dialect=dialect, headers=headers, factory=endpoint_factory
        )
        #: Where the session connects; None until the first connect decides it.
        self.endpoint: endpoints.Endpoint | None = None
        # The session fields sent with the first session.update after connecting (GA friendly names).
        self._config: dict[str, Any] = dict(session_fields)
        self._config_undo: dict[str, dict[str, Any]] = {}
        if instructions is not None:
            self._config["instructions"] = instructions
        if voice is not None:
            self._config["voice"] = voice
        self._config["turn_detection"] = turn_detection
        # Built with the configured dialect now, so sends before connect() are validated and queued.
        self._conn = Connection(dialect or "ga", envelope=envelope)
        self._init_doctor(doctor, dialect or "ga")
        self.tools = ToolRegistry()
        for fn in tools:
            self.tools.add(fn)
        self.tools.listeners.append(self._tools_changed)
        # A tool change waits to go out (set in any thread), when the last one came, and its timer (I/O loop).
        self._tools_pending = False
        self._tools_touched = 0.0
        self._tools_timer: asyncio.TimerHandle | None = None
        #: Every event sent, received and local, oldest dropped beyond ``log_size`` entries or ``log_max_bytes``.
        self.log = SessionLog(log_size, log_max_bytes)
        # rtwidget's own listeners on every entry with its full data (see .taps); added on the I/O thread.
        self._taps = Taps()
        # Usage, cost and latency per turn (see .metrics): ``usage``, ``turn_metrics``, ``latency_summary()``.
        self._metrics = Metrics(lambda: self.model, self._billed_as, self._now)
        self._taps.add(self._metrics)
        #: The user's and the assistant's audio of each item, the last ``audio_keep_s`` seconds (see .item_audio).
        self.item_audio = ItemAudioStore(audio_keep_s)
        self._taps.add(self.item_audio.tap)
        #: Server ``error`` events and local ``rtwidget.error`` events (user code that failed), newest last.
        self.errors: deque[Event] = deque(maxlen=200)
        self._tool_runner = ToolRunner(self.tools, self._emit_local)
        self.tool_calls: list[ToolCallRecord] = self._tool_runner.records
        self.close_code: int | None = None
        self.close_reason: str = ""
        self._t0 = time.monotonic()
        self._io = LoopThread(f"rtwidget-session-{id(self):x}")
        self._bus = EventBus(self._spawn, self._report_failure)
        self._failures = FailureThrottle()
        self._ws: ClientConnection | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._write_queue: asyncio.Queue[str] | None = None
        self._connected = False  # the socket is open (during the handshake too); see ``state`` for the session
        self._closing = False
        self._state = IDLE
        self._connecting: asyncio.Task[None] | None = None
        self._pump: tuple[asyncio.Task[Any], ...] = ()
        # The type and monotonic time of the last server event (for timeout messages).
        self._last_received: tuple[str, float] | None = None
        self._release = Release(self._io, self._tasks)
        # Unclosed and collected (or still open at exit): release the thread and socket, with a ResourceWarning.
        self._finalizer = weakref.finalize(self, self._release, f"rtwidget.Session {model} at 0x{id(self):x}")
        for hook in list(CREATION_HOOKS):
            hook(self)

    # ================================================================================ threads and loops

    def _spawn(self, coro: Awaitable[Any], bucket: set[asyncio.Task[Any]] | None = None) -> asyncio.Task[Any]:
        """Start a task on the I/O loop, held until it ends (so close() can cancel it)."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        for holder in (self._tasks, bucket):
            if holder is not None:
                holder.add(task)
                task.add_done_callback(holder.discard)
        return task

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the I/O loop without waiting (where session state may be touched).

        With no I/O loop (never connected, or closed) nothing else touches the state: ``fn`` runs right here,
        and no thread is started for it.
        """
        if not self._io.call_soon(fn, *args):
            fn(*args)

    @property
    def dialect(self) -> str:
        """``"ga"`` or ``"beta"``."""
        return self._conn.dialect

    @property
    def response_timeout(self) -> float | None:
        """Seconds of silence from the server after which a response in progress (or a ``response.create`` not
        answered) is declared lost; None never gives up. Settable."""
        return self._response_watch.timeout

    @response_timeout.setter
    def response_timeout(self, value: float | None) -> None:
        self._response_watch.timeout = check_response_timeout(value)

    def _after_close(self) -> None:
        self._stop_timers()
        self._tool_runner.shutdown()
        self._finish_recording()  # the cassette, if one is being recorded (see .recording)

    def _stop_timers(self) -> None:
        """The socket closed: no response is watched, no tool update waits (the next handshake sends them)."""
        self._response_watch.cancel()
        self._doctor_cancel()
        if self._tools_timer is not None:
            self._tools_timer.cancel()
            self._tools_timer = None
        self._tools_pending = False

    # ================================================================================ the pump

    def _receive(self, message: str | bytes) -> Event:
        """Feed one server message through the core, the log and the bus; start the tools it asks for."""
        now = time.monotonic()
        event = self._conn.receive_text(message, now)
        self._last_received = (event.type, now)
        cause_id = (event.cause or {}).get("event_id") if event.type == "error" else None
        self._log("server", event.type, len(message), event.data, cause_id, duplicate=event.duplicate)
        if event.duplicate:  # seen already: logged as such, never acted on twice
            logger.info("rtwidget: ignored a duplicate server event %s (%s)", event.type, event.event_id)
            return event
        failure = fold_failure_data(event) if event.fold_error is not None else None
        if failure is not None and self._failures.admit(failure):  # a hostile server: once a second per kind
            logger.warning("rtwidget: could not fold the server event %s: %s", event.type, event.fold_error)
            self._emit_local(ERROR, failure, admitted=True)
        if event.type == "error":
            self._on_server_error(event)
        self._bus.dispatch(event)
        self._doctor_received(event)  # after the user's handlers: a hint follows the event it is about
        self._start_calls()
        if event.type == "response.done":
            self._conn.reply_if_due()
        elif event.type == "session.created":
            self._on_session_created()
        self._flush()
        if self._connected:  # (the watch needs the I/O loop; a socket that closed has nothing left to wait for)
            self._response_watch.arm()
        return event

    def _resume(self) -> None:
        """A response was declared lost: send a reply requested meanwhile."""
        self._conn.reply_if_due()
        self._flush()

    def _on_server_error(self, event: Event) -> None:
        self.errors.append(event)
        self._doctor_watch_errors()  # before the bus settles the waiters that take it
        log_server_error(event)
        self._undo_refused_update((event.cause or {}).get("event_id"))

    def _on_closed(self, ws: ClientConnection) -> None:
        if self._ws is not ws and self._ws is not None:
            return
        self._stop_timers()
        if self._dropped(ws):
            return  # a drop the session reconnects from (see .reconnect): nobody is told it closed
        self._connected = False
        if self._state in (OPEN, CLOSING):
            self._set_state(CLOSED_STATE)
        self.close_code = ws.close_code
        self.close_reason = ws.close_reason or ""
        if not self._closing and not self._release.released:
            logger.warning("rtwidget: the connection ended: %s", self.close_why)
        self._bus.fail_waiters(SessionClosed(self.close_code, self.close_reason, why=self.close_why))
        self._emit_local(CLOSED, {"code": self.close_code, "reason": self.close_reason, "why": self.close_why})
        self._bus.end_subscribers()

    def _flush(self, tools_due: bool = False) -> None:
        """Move the core's queued client events to the writer (only while connected); a pending tool update goes
        first (``tools_due``: even with nothing else to send)."""
        if not self._connected or self._write_queue is None:
            return
        now = time.monotonic()
        queued = self._conn.data_to_send(now)
        if self._tools_pending and self._state == OPEN and (queued or tools_due):
            queued = self._tools_update(now) + queued  # the model must know the tools before what comes next
        for event, text in queued:
            self._log("client", event["type"], len(text), event)
            self._write_queue.put_nowait(text)
            if self._bus.listening:
                self._bus.dispatch(Event(SENT, event))
        for event, _text in queued:  # after the writes: a hint's handler that sends cannot reorder them
            self._doctor_sent(event)
        self._response_watch.arm()

    def _billed_as(self) -> endpoints.Endpoint | None:
        """The endpoint the usage is billed as (its kind): the one connected to (None: not decided yet)."""
        return self.endpoint

    def _now(self) -> float:
        """The log's clock (and the metrics'): seconds since the session was created."""
        return time.monotonic() - self._t0

    def _log(
        self,
        direction: str,
        etype: str,
        size: int,
        data: dict[str, Any],
        cause_id: str | None = None,
        *,
        duplicate: bool = False,
    ) -> None:
        # Audio payloads are large and the log is for reading: keep their size only.
        kept = elide_audio(data)
        kept_bytes = _kept_size(size, data, kept)
        entry = LogEntry(self._now(), direction, etype, size, kept, cause_id, duplicate)
        self.log.add(entry, kept_bytes)
        if self._taps:  # the parts that keep what the log elides (audio): the recorder, item audio, usage
            self._taps(entry, data)
        self._bus.deliver_log(entry)

    def _emit_local(self, etype: str, data: dict[str, Any], *, admitted: bool = False) -> None:
        if etype == ERROR and not admitted and not self._failures.admit(data):
            return  # the same failure again within a second: counted, and reported with the next one
        self._doctor_local(etype)  # (rtwidget.connected: a new conversation for the doctor)
        event = local_event(etype, data)
        if etype == ERROR:
            self.errors.append(event)  # before the handlers run, so they find it there
        self._log("local", etype, 0, data)
        self._bus.dispatch(event)

    def _report_failure(self, source: FailureSource, name: str, exc: BaseException) -> None:
        """User code failed (already logged): keep it in ``errors`` and tell everyone with ``rtwidget.error``."""
        self._emit_local(ERROR, failure_data(source, name, exc))

    # ================================================================================ state (read on the I/O thread)

    @property
    def conversation(self) -> list[Item]:
        """The default conversation's items, in order."""
        return self._conn.conversation.items

    @property
    def conversation_state(self) -> Conversation:
        """The protocol's conversation state: ``.items``, ``.get(id)``, ``.responses``, ``.out_of_band()``.

        Read it on the I/O thread (from a handler or log listener, or through :meth:`call_soon`).
        """
        return self._conn.conversation

    @property
    def response_active(self) -> bool:
        """True while a default-conversation response is in progress (read it on the I/O thread)."""
        return self._conn.tracker.active is not None

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

    # ================================================================================ turns

    async def ask(self, text: str, *, timeout: float | None = 120.0) -> Reply:
        """Send ``text``, let tools run, and return the final reply (text or transcript) with the tool calls.

        Raises RealtimeError if the server rejects a request of this turn, or goes silent on its response for
        ``response_timeout`` seconds (code ``"response_lost"``); SessionClosed if the socket closes; WaitTimeout
        after ``timeout`` seconds.
        """

        async def turn() -> Reply:
            return await self._turn(AskTurn(self._conn, text, self.tool_calls, self._tool_runner.running))

        self._require("ask()", socket=True)
        return await self._timed(self._run(turn), timeout, "the reply to ask()")

    async def respond_out_of_band(
        self,
        instructions: str | None = None,
        *,
        input: Iterable[Any] | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = 120.0,
        **response_fields: Any,
    ) -> OutOfBandResult:
        """Run a response outside the default conversation and return its text (nothing is added to it).

        Raises RealtimeError if the server refuses it or goes silent on it for ``response_timeout`` seconds (code
        ``"response_lost"``).
        """

        async def turn() -> OutOfBandResult:
            return await self._turn(OutOfBandTurn(self._conn, instructions, input, metadata, response_fields))

        self._require("respond_out_of_band()", socket=True)
        return await self._timed(self._run(turn), timeout, "the out-of-band response")

    async def _timed(self, awaitable: Awaitable[T], timeout: float | None, what: str) -> T:
        """Await ``awaitable`` at most ``timeout`` seconds; a WaitTimeout says for what and what came last."""
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except TimeoutError:
            raise WaitTimeout(what, timeout or 0.0, self._last_event_text() + self._approvals_note()) from None

    async def _turn(self, turn: Turn[T]) -> T:
        """On the I/O loop: watch every event while ``turn`` sends its request, until it settles."""
        await self._until_open("ask()" if isinstance(turn, AskTurn) else "respond_out_of_band()")
        # The turn's watcher, which also fails the turn if its response is declared lost (see .response_watch).
        watch = LostTurnGuard(turn.result, turn.watch, out_of_band=not isinstance(turn, AskTurn))
        self._on_internal("*", watch)  # rtwidget's own: the user's off() never strands the turn
        try:
            self._send_via(turn.send)
            self._doctor_handled(turn.sent_ids)  # the turn reports a refusal of these itself
            return await turn.result
        finally:
            self._off_internal("*", watch)

    def __repr__(self) -> str:
        where = self.endpoint.describe()["label"] if self.endpoint else "not connected"
        state = self._state
        return f"<rtwidget.Session {self.model} {where} {state} items={len(self._conn.conversation)}>"


def _kept_size(size: int, data: dict[str, Any], kept: dict[str, Any]) -> int:
    """Bytes a log entry keeps: its wire size, less the audio elided from it. Cheap for the audio hot path (a
    delta or a mic append only swaps one top-level string); anything else is measured as JSON."""
    if kept is data and size:
        return size
    if size:
        changed = [key for key, value in kept.items() if value is not data.get(key)]
        if len(changed) == 1 and isinstance(data.get(changed[0]), str):
            key = changed[0]
            return size - len(data[key]) + len(str(kept[key]))
    return len(json.dumps(kept, default=str))
