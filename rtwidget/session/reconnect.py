"""Reconnect and renewal: a dropped connection replaced, with the session's config, tools and history.

When the socket of an open session closes for a reason worth retrying (a reset with no close frame, the client's
keepalive getting no answer, the server's codes 1001 and 1011-1014), the session:

1. says why in plain words (a log warning, and ``rtwidget.state`` "reconnecting" with ``attempt``, ``delay_s``
   and ``why``), and fails every call that waited for the server with :class:`~rtwidget.errors.ConnectionLost`;
2. waits an exponential backoff with jitter, opens a new socket and, when ``session.created`` arrives, sends in
   this order: the session config with the tools, the conversation replayed as items
   (:mod:`rtwidget.protocol.history_replay`), then what was sent meanwhile (queued, at most
   :data:`QUEUE_LIMIT` events: past that a send is refused with a clear error);
3. once the server has taken the replay: state "open", and ``rtwidget.reconnected`` saying what was restored,
   what could not be, and how many queued sends went out.

After ``reconnect_attempts`` failures it gives up: state "closed", as if the server had closed. A normal close
(1000), a policy close (1008) or a server that broke the protocol ends the session as before, with the plain-words
reason in ``session.close_why``.

Renewal: the server ends every session at its ``expires_at`` (the API's 60-minute cap). ``renew_margin`` seconds
before (five minutes), the session emits ``rtwidget.expiring``; with ``session.renew = "auto"`` it then renews
itself as soon as no response is running (the same steps as a reconnect, with no wait), with ``"warn"`` (the
default) it logs a warning, with ``"off"`` it only emits the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection

from .. import endpoints
from ..errors import ConnectionLost, RealtimeError, SessionClosed, WaitTimeout
from ..protocol.history_replay import Replay, replay_of
from .dispatch import discard
from .local_events import CLOSED, EXPIRING, RECONNECTED, STATE

if TYPE_CHECKING:
    from ..protocol.connection import Connection
    from ..protocol.events import Event
    from .dispatch import EventBus
    from .lifecycle import Release
    from .tool_runner import ToolRunner

logger = logging.getLogger("rtwidget.session")

RECONNECTING = "reconnecting"
# The server's answer to a client's conversation.item.create, in GA and in beta.
ITEM_ADDED = ("conversation.item.added", "conversation.item.created")
# Close codes from the server after which a new connection may well work (going away, server error, restart,
# try again later, bad gateway). 1000 (normal) and 1008 (policy) end the session.
RECONNECT_CLOSE_CODES = frozenset({1001, 1011, 1012, 1013, 1014})
_CODE_WORDS = {
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1007: "invalid data",
    1008: "policy violation",
    1009: "message too big",
    1011: "server error",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
}
# What the client's own close frame means, when the client ended the connection because of the server.
_CLIENT_CLOSES = {
    1002: ("the server broke the WebSocket protocol", False),
    1007: ("the server sent text that is not valid UTF-8", False),
    1009: ("the server sent a message too big to read", False),
    1011: ("the client's keepalive ping got no answer (the network or the server stalled)", True),
}
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
RECONNECT_ATTEMPTS = 8
# A connection that drops again within this many seconds of a reconnect continues the count of attempts, so a
# server that drops every new connection is given up on rather than retried for ever.
STABLE_S = 30.0
# A reconnect refused like this will be refused again: the session ends at once (the message says what to fix).
REFUSALS = frozenset({"http_401", "http_403", "http_404"})
# Marks an attempt's failure that ends the reconnect (see REFUSALS).
REFUSED = "refused: "
# Sends made while reconnecting that are kept to go out once reconnected; past this a send is refused.
QUEUE_LIMIT = 1000
# How long before expires_at the session warns or renews, and the latest it renews even mid-response.
RENEW_MARGIN_S = 300.0
RENEW_LATEST_S = 30.0
RENEW_MODES = ("auto", "warn", "off")


def backoff_delay(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before reconnect ``attempt`` (1, 2, ...): doubling from 0.5 s up to 30 s, each times a
    random 0.5-1.0 so that many clients dropped at once (a classroom on one wifi) do not return in step."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2.0 ** max(0, attempt - 1))
    return ceiling * (0.5 + rng() / 2)


def why_closed(ws: ClientConnection) -> tuple[str, bool]:
    """How ``ws`` ended, in plain words, and whether a new connection is worth trying."""
    protocol = ws.protocol
    received, sent = protocol.close_rcvd, protocol.close_sent
    if received is not None:
        words = _CODE_WORDS.get(received.code)
        named = f" ({words})" if words else ""
        reason = f": {received.reason}" if received.reason else ""
        return f"the server closed the connection with code {received.code}{named}{reason}", (
            received.code in RECONNECT_CLOSE_CODES
        )
    if sent is not None and sent.code in _CLIENT_CLOSES:
        return _CLIENT_CLOSES[sent.code]
    return "the connection was reset with no close frame (the network dropped, or the server died)", True


class ReconnectMixin:
    """The reconnect and the renewal, for :class:`~rtwidget.session.session.Session` (through its lifecycle)."""

    #: Reconnect by itself when the connection drops (set False to have a drop close the session).
    reconnect: bool = True
    #: How many attempts before giving up (each waits :func:`backoff_delay`).
    reconnect_attempts: int = RECONNECT_ATTEMPTS
    _renew_margin: float = RENEW_MARGIN_S
    #: How the connection ended, in plain words (None while it has not).
    close_why: str | None = None
    _renew: str = "warn"
    _renewing: bool = False
    _reconnect_task: asyncio.Task[None] | None = None
    _replay: Replay | None = None
    # The event ids the replayed items go out with.
    _replay_ids: tuple[str, ...] = ()
    # What goes out after the replay: items unanswered at the drop and sends made since, kept until an attempt
    # works (one that fails after sending them sends them again on the next).
    _held_back: list[tuple[dict[str, Any], str]] = []
    # The writer's queue of a new socket, held back until the config and the replay are queued in front.
    _held_queue: asyncio.Queue[str] | None = None
    _expiry_timer: asyncio.TimerHandle | None = None
    _opened_at: float = 0.0
    # How long the server session had to live when it opened (renewing a session shorter than the margin loops).
    _life_at_open: float | None = None
    # The attempt that last succeeded (0 after a fresh connect), to continue the count if the new one flaps.
    _last_attempt: int = 0

    if TYPE_CHECKING:
        _conn: Connection
        _bus: EventBus
        _release: Release
        _state: str
        _connected: bool
        _closing: bool
        _ws: ClientConnection | None
        _pump: tuple[asyncio.Task[Any], ...]
        _write_queue: asyncio.Queue[str] | None
        endpoint: endpoints.Endpoint | None
        close_code: int | None
        close_reason: str
        handshake_timeout: float
        errors: Any

        _tool_runner: ToolRunner

        def _emit_local(self, etype: str, data: dict[str, Any]) -> None: ...
        def call_soon(self, fn: Callable[..., Any], *args: Any) -> None: ...
        def _set_state(self, state: str) -> None: ...
        def _spawn(self, coro: Any, bucket: Any = None) -> asyncio.Task[Any]: ...
        def _flush(self) -> None: ...
        def _last_event_text(self) -> str: ...
        def _send_config(self) -> None: ...
        def expect(self, event_type: str, predicate: Any = None) -> asyncio.Future[Event]: ...
        async def _connect(self, endpoint: endpoints.Endpoint) -> None: ...
        async def _drop_socket(self) -> None: ...

    # ------------------------------------------------------------------ settings

    @property
    def renew(self) -> str:
        """``"auto"`` (renew before ``expires_at``, history restored), ``"warn"`` (the default) or ``"off"``."""
        return self._renew

    @renew.setter
    def renew(self, mode: str) -> None:
        if mode not in RENEW_MODES:
            raise ValueError(f"renew must be one of {', '.join(map(repr, RENEW_MODES))}, not {mode!r}")
        self._renew = mode

    @property
    def renew_margin(self) -> float:
        """Seconds before ``expires_at`` at which the session warns or renews (default 300); a change applies at
        once to the open connection."""
        return self._renew_margin

    @renew_margin.setter
    def renew_margin(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < 86400:
            raise ValueError(f"renew_margin must be a number of seconds between 0 and 86400, not {seconds!r}")
        self._renew_margin = float(seconds)
        if self._state == "open":
            self.call_soon(self._schedule_expiry)

    def _check_queue(self, adding: int) -> None:
        """On the I/O loop: refuse ``adding`` more client events while reconnecting if they would take the queue
        past :data:`QUEUE_LIMIT` (one long recording appended at once counts all its appends)."""
        waiting = self._conn.queued
        if self._state == RECONNECTING and waiting + adding > QUEUE_LIMIT:
            raise RealtimeError(
                f"the session is reconnecting and {waiting} sends already wait to go out (at most {QUEUE_LIMIT}; "
                f"this call adds {adding}): wait until session.state is 'open' (await session.connect() waits "
                "for it) before sending more",
                code="reconnect_queue_full",
            )

    # ------------------------------------------------------------------ the drop

    def _dropped(self, ws: ClientConnection) -> bool:
        """The socket ``ws`` closed: True if the session reconnects (nobody is told it closed)."""
        if self._closing or self._release.released:
            return False
        why, retry = why_closed(ws)
        self.close_code, self.close_reason = ws.close_code, ws.close_reason or ""
        if self._state == RECONNECTING:  # an attempt's socket closed during its handshake: that attempt fails
            if ws is not self._ws:
                return True  # the socket that dropped (or was renewed) ending late: nothing to do
            self._connected = False
            self._bus.fail_waiters(ConnectionLost(why, self.close_code), keep_local=True)
            return True
        self.close_why = why
        if self._state != "open":
            return False
        if not (retry and self.reconnect):
            return False  # the pump says so, and ends the session
        self._begin_reconnect(why)
        return True

    def _begin_reconnect(self, why: str) -> None:
        # The state changes at once (announced by the loop): the old socket's reader, ending just after, must
        # find the session reconnecting already, not open.
        previous, self._state = self._state, RECONNECTING
        self._connected = False
        self._ws = None
        current = asyncio.current_task()
        for task in self._pump:
            if task is not current:
                task.cancel()
        self._pump = ()
        self._cancel_expiry()
        tracker = self._conn.tracker
        # Calls whose tools run or are owed an output keep their item: the output follows on the new connection.
        self._replay = replay_of(self._conn.conversation, pending_calls=frozenset(tracker.owed))
        lost = tracker.active
        # Items sent and never answered are not in the conversation: they go again, right after the replay.
        self._held_back = self._conn.unanswered_items()
        # Nothing of the old server session lives on: a send_text() made meanwhile asks for its reply, and the
        # conversation fills again as the server takes the replay.
        self._conn.reset()
        self._bus.fail_waiters(ConnectionLost(why, self.close_code), keep_local=True)
        flapping = not self._renewing and time.monotonic() - self._opened_at < STABLE_S
        first = self._last_attempt + 1 if flapping else 1
        self._reconnect_task = self._spawn(_reconnecting(weakref.ref(self), why, lost, first, previous))

    def _announce(self, attempt: int, delay: float, why: str, previous: str) -> None:
        self._state = RECONNECTING
        data = {"state": RECONNECTING, "previous": previous, "attempt": attempt, "delay_s": round(delay, 2)}
        self._emit_local(STATE, {**data, "why": why, "close_code": self.close_code})

    async def _attempt(self, attempt: int) -> str | None:
        """One reconnect attempt: None when it worked, else why not (``REFUSED`` first when it must not be
        tried again)."""
        try:
            await self._reopen()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # this attempt failed: say why
            await self._drop_socket()
            why = f"reconnect attempt {attempt} failed: {endpoints.redact(str(exc)) or type(exc).__name__}"
            return REFUSED + why if getattr(exc, "code", None) in REFUSALS else why
        return None

    # ------------------------------------------------------------------ the new connection

    async def _reopen(self) -> None:
        """One attempt: a new socket and handshake; then wait until the server has taken the replay."""
        assert self.endpoint is not None  # decided on the first connect
        replay = self._replay or Replay()
        self._replay_ids = tuple(self._conn.new_event_id() for _ in replay.items)
        taken = self._replay_taken(replay) if replay.items else None
        try:
            await self._connect(self.endpoint)
            if taken is not None:
                await self._wait_replay(taken)
            if not self._connected:  # the new socket died meanwhile (its reader got there first): a failed attempt
                raise SessionClosed(self.close_code, self.close_reason, why=self.close_why)
        finally:
            discard(taken or ())

    def _replay_taken(self, replay: Replay) -> tuple[asyncio.Future[Event], asyncio.Future[Event]]:
        """Futures for the server's answer to the last replayed item (added, or refused)."""
        last_item, last_event = replay.items[-1].get("id"), self._replay_ids[-1]

        def is_last(event: Event) -> bool:  # beta names it conversation.item.created
            return event.type in ITEM_ADDED and (event.get("item") or {}).get("id") == last_item

        added = self.expect("conversation.item.", is_last)
        refused = self.expect("error", lambda e: (e.cause or {}).get("event_id") == last_event)
        return added, refused

    async def _wait_replay(self, taken: tuple[asyncio.Future[Event], ...]) -> None:
        done, _ = await asyncio.wait(taken, timeout=self.handshake_timeout, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            waited = "the server to take the replayed conversation"
            raise WaitTimeout(waited, self.handshake_timeout, self._last_event_text())
        for future in done:
            future.result()  # raises ConnectionLost if the socket closed instead

    def _restore(self) -> None:
        """On reading ``session.created`` while reconnecting: config, replay, then the sends made meanwhile."""
        # An earlier attempt's handshake reset the core: those sends are recorded again (see Connection.requeue).
        earlier, fresh = self._held_back, self._conn.data_to_send()
        self._held_back = earlier + fresh  # until this attempt works
        self._write_queue = self._held_queue
        self._send_config()
        replay = self._replay or Replay()
        for item, event_id in zip(replay.items, self._replay_ids, strict=True):
            self._conn.send({"type": "conversation.item.create", "event_id": event_id, "item": item}, reply=False)
        self._conn.requeue(earlier, record=True)
        self._conn.requeue(fresh)
        self._conn.reply_if_due()  # a tool's output sent meanwhile wants its one response.create
        self._flush()

    def _reconnected(self, attempt: int, lost_response: str | None) -> None:
        replay = self._replay or Replay()
        refused = {
            (event.cause or {}).get("event_id"): event for event in self.errors if event.type == "error" and event.cause
        }
        refused_notes = [
            {
                "item_id": item.get("id"),
                "role": item.get("role"),
                "type": item["type"],
                "reason": f"refused by the server: {(refused[event_id].get('error') or {}).get('message', 'refused')}",
            }
            for item, event_id in zip(replay.items, self._replay_ids, strict=True)
            if event_id in refused
        ]
        not_restored = replay.not_restored + refused_notes
        restored = len(replay.items) - len(refused_notes)
        queued = len(self._held_back)  # sent after the replay
        self._replay, self._held_back = None, []
        self.close_why = None  # open again: the drop is history (rtwidget.reconnected says how it went)
        self._set_state("open")
        self._opened()
        data = {
            "attempt": attempt,
            "restored": restored,
            "not_restored": not_restored,
            "shortened": replay.shortened,
            "queued": queued,
            "lost_response": lost_response,
        }
        logger.warning(
            "rtwidget: reconnected (attempt %d): %d items restored, %d not restored, %d queued sends sent",
            attempt,
            restored,
            len(not_restored),
            queued,
        )
        self._emit_local(RECONNECTED, data)

    def _give_up(self, why: str, attempts: int) -> None:
        self.close_why = f"gave up reconnecting after {attempts} attempt{'s' if attempts != 1 else ''}; last: {why}"
        logger.warning("rtwidget: %s", self.close_why)
        self._replay, self._held_back = None, []
        self._set_state("closed")
        # Told first, so that a wait_for("rtwidget.closed") is answered; then every other wait ends.
        self._emit_local(CLOSED, {"code": self.close_code, "reason": self.close_reason, "why": self.close_why})
        self._bus.fail_waiters(SessionClosed(self.close_code, self.close_reason, why=self.close_why))
        self._bus.end_subscribers()

    # ------------------------------------------------------------------ renewal

    def _opened(self) -> None:
        """The session is open (connected or reconnected): note when, and watch its expiry."""
        self._opened_at = time.monotonic()
        expires = self._conn.expires_at
        self._life_at_open = None if expires is None else expires - time.time()
        self._schedule_expiry()

    def _schedule_expiry(self) -> None:
        """On the I/O loop, once open: be told ``renew_margin`` seconds before the session's ``expires_at``."""
        self._cancel_expiry()
        expires = self._conn.expires_at
        if self._state != "open":
            return
        if expires is not None:
            delay = max(0.0, expires - self.renew_margin - time.time())
            # Held weakly: a pending timer must not keep an unclosed session from being collected.
            self._expiry_timer = asyncio.get_running_loop().call_later(delay, _expiring, weakref.ref(self))

    def _cancel_expiry(self) -> None:
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
            self._expiry_timer = None

    def _expiring(self) -> None:
        self._expiry_timer = None
        expires = self._conn.expires_at
        if self._state != "open" or expires is None:
            return
        left = max(0.0, expires - time.time())
        self._emit_local(EXPIRING, {"expires_at": expires, "seconds_left": round(left, 1), "renew": self._renew})
        if self._renew == "auto" and (self._life_at_open or 0.0) > self.renew_margin:
            self._spawn(self._renew_when_quiet(expires))
        elif self._renew != "off":
            hint = (
                "the server's sessions are shorter than renew_margin, so renewing would not help"
                if self._renew == "auto"
                else "set session.renew = 'auto' to renew it with its history"
            )
            logger.warning("rtwidget: the session ends in %.0f s (the server's time limit); %s", left, hint)

    def _quiet(self) -> bool:
        """No response running or due, no tool running and no output owed: a renewal loses nothing now."""
        tracker = self._conn.tracker
        return not (tracker.busy or tracker.owed or tracker.response_due() or self._tool_runner.running())

    async def _renew_when_quiet(self, expires: float) -> None:
        """Renew at the first quiet moment: now, or as a response ends with nothing else to do (or
        ``RENEW_LATEST_S`` before the end, whatever is running)."""
        latest = min(RENEW_LATEST_S, self.renew_margin / 2)  # with a short margin, still wait for quiet a while
        while self._state == "open" and not self._quiet():
            left = expires - latest - time.time()
            if left <= 0:
                break
            # Woken by the end of a response (its tools started by then); checked again either way, and a drop
            # ends the loop through the state.
            with contextlib.suppress(asyncio.TimeoutError, RealtimeError):
                await asyncio.wait_for(self.expect("response.done"), min(left, 1.0))
        ws = self._ws
        if self._state != "open" or ws is None:
            return
        self._renewing = True
        # Reconnecting first, so that sends from now on wait for the new connection instead of the old one.
        self.close_why = "renewing the session before its time limit (expires_at)"
        self._begin_reconnect(self.close_why)
        await ws.close(1000, "renewing the session")


def _expiring(session_ref: weakref.ref[ReconnectMixin]) -> None:
    session = session_ref()
    if session is not None:
        session._expiring()


async def _reconnecting(
    session_ref: weakref.ref[ReconnectMixin], why: str, lost_response: str | None, first: int, previous: str
) -> None:
    """The reconnect: attempts with backoff until one works or they run out. Holds the session only during an
    attempt, so one collected unclosed while waiting is released (its finalizer cancels this task)."""
    session = session_ref()
    if session is None:
        return
    renewing, attempts = session._renewing, session.reconnect_attempts
    attempt = first - 1
    for attempt in range(first, attempts + 1):
        delay = 0.0 if renewing and attempt == 1 else backoff_delay(attempt)
        session._announce(attempt, delay, why, previous)
        previous = RECONNECTING
        logger.warning("rtwidget: %s; reconnecting (attempt %d in %.1f s)", why, attempt, delay)
        del session
        await asyncio.sleep(delay)
        session = session_ref()
        if session is None:
            return
        failed = await session._attempt(attempt)
        if failed is None:
            session._renewing = False
            session._last_attempt = attempt
            session._reconnected(attempt, lost_response)
            return
        why = failed.removeprefix(REFUSED)
        if failed.startswith(REFUSED):
            break
    session._renewing = False
    session._give_up(why, attempt)
