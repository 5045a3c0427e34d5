"""Replaying a cassette into a Session that never connects: :class:`Replay` plays a recorded session's events
back through the session's own pump, at the recorded times (1x, 2x, or instantly), with pause and seek.

Server events go through the real pump (``session._receive``), so the conversation, the log, the usage and
latency, the item audio and every handler fill exactly as they did live; client events are logged as sent and
dispatched as ``rtwidget.sent`` (nothing goes anywhere: there is no socket); the session's own ``rtwidget.*``
events (``local.jsonl``) are logged and dispatched as the session's. The log's times are the recording's (each
event is fed with the session's clock set to its recorded time). No tool runs (the recorded ``rtwidget.tool.*``
events show what ran), the doctor is off (its recorded hints are replayed), nothing is ever sent: a
:class:`ReplaySession` refuses ``connect``, ``start``, ``send``, ``ask`` and the rest with :class:`ReplayOnly`.

Seeking backward starts over on a fresh :class:`ReplaySession` (a conversation, log, metrics and item audio
cannot be unwound) and replays instantly up to the position; ``Replay.session`` is then the new one, and the
``listeners`` are told (the widget moves to it). Seeking forward replays instantly what lies between.

Everything the player touches runs on the session's I/O thread; its public methods may be called from any thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import json
import time
from collections.abc import Callable
from typing import Any, cast

from ..cassette import Cassette, CassetteEvent, CassetteSource, load_cassette
from ..endpoints import Endpoint, EndpointKind
from ..errors import NotConnected
from ..protocol.events import Event
from ..protocol.session_config import DEFAULT_MODEL
from .local_events import SENT
from .session import Session

#: The speed that replays as fast as the machine can (no waiting, no audio).
INSTANT = "instant"
# Instant replay yields to the I/O loop every this many events, so the widget's flushes and messages still run.
_YIELD_EVERY = 200


class ReplayOnly(NotConnected):
    """A call that needs a connection, made on a session that replays a cassette (it has none)."""

    def __init__(self, what: str, cassette: str) -> None:
        super(NotConnected, self).__init__(
            f"{what}: this session replays the cassette {cassette!r}; it has no connection: use rtwidget.Session() "
            "to talk",
            code="replay_only",
        )


class ReplaySession(Session):
    """A Session filled from a cassette by a :class:`Replay`; it never connects and never sends."""

    def __init__(self, cassette: Cassette, replay: Replay | None = None, succeeds: Session | None = None) -> None:
        self.cassette = cassette
        #: The player feeding this session (None when fed by hand).
        self.replay = replay
        #: The session this one carries on from (a seek backward starts over on a fresh one). Set before the
        #: creation hooks run: the notebook's cell tracking puts this one in that one's place.
        self.succeeds = succeeds
        self._fed_at = 0.0  # the recorded time of the event being fed
        # Billed as it was when recorded: a recording against the local server never, one against OpenAI yes.
        kind = str((cassette.meta.get("endpoint") or {}).get("kind") or "local")
        self._recorded = Endpoint("", kind=cast(EndpointKind, kind))  # only its kind is read (billing)
        super().__init__(
            model=str(cassette.meta.get("model") or DEFAULT_MODEL),
            doctor=False,  # its hints are in the cassette
            reconnect=False,
            renew="off",
            response_timeout=None,
        )

    def _refuse(self, what: str) -> ReplayOnly:
        return ReplayOnly(what, self.cassette.path.name)

    def _require(self, what: str, *, socket: bool) -> None:
        raise self._refuse(what)  # every send, turn and audio call asks this first

    async def connect(self) -> Session:
        """Refused: a replaying session has no connection."""
        raise self._refuse("connect()")

    def start(self) -> concurrent.futures.Future[Session]:
        """Refused: a replaying session has no connection (the future carries the error, as a failed connect's)."""
        future: concurrent.futures.Future[Session] = concurrent.futures.Future()
        future.set_exception(self._refuse("start()"))
        return future

    @property
    def expires_at(self) -> float | None:
        """None: a replay has no server session to expire (the recorded ``expires_at`` is in ``session.created``)."""
        return None

    def _start_calls(self) -> None:
        """No tool runs in a replay: the recorded ``rtwidget.tool.*`` events show what ran."""

    def _billed_as(self) -> Endpoint:
        return self._recorded

    def _now(self) -> float:
        # The log's and the metrics' clock reads the recorded time of the event being fed, exactly.
        return self._fed_at

    def feed(self, recorded: CassetteEvent) -> None:
        """Play one recorded event through the session, as live (on the I/O thread, or with no loop running)."""
        self._fed_at = recorded.time
        data = self.cassette.with_audio(recorded.event)
        if recorded.direction == "server":
            self._receive(json.dumps(data, separators=(",", ":")))  # compact, as servers send (and sizes log)
        elif recorded.direction == "client":  # as _flush does, without a socket
            self._log("client", recorded.type, len(self._conn.codec.encode(data)), data)
            if self._bus.listening:
                self._bus.dispatch(Event(SENT, data))
        else:  # the session's own rtwidget.* event, as emitted live (each one admitted: it was recorded)
            self._emit_local(recorded.type, {k: v for k, v in data.items() if k != "type"}, admitted=True)


def check_speed(speed: float | str) -> float | str:
    """``speed`` if it is one the player knows (1, 2 or ``"instant"``), else ValueError naming them."""
    if speed == INSTANT:
        return INSTANT
    if isinstance(speed, (int, float)) and not isinstance(speed, bool) and speed > 0:
        return float(speed)
    raise ValueError(f"speed must be a positive number (1.0, 2.0) or {INSTANT!r}, not {speed!r}")


class Replay:
    """Plays a cassette into a :class:`ReplaySession`: ``play()``, ``pause()``, ``seek(seconds)``, ``speed``.

    ``Replay(path)`` opens the cassette and starts paused at 0 (``play()`` starts it). ``session`` is the session
    being filled (a new one after a seek backward); ``position`` and ``duration`` are in recorded seconds;
    ``audible`` says whether the events fed now are played in time (1x, not catching up), i.e. whether the
    model's audio should be heard. ``listeners`` are called (on the I/O thread, with the previous session when
    the session was replaced, else None) whenever the session, the speed or the play state changes.
    """

    def __init__(self, cassette: CassetteSource, *, speed: float | str = 1.0) -> None:
        self.cassette = load_cassette(cassette)
        # Wire and local events in recorded order (a wire event first when both have the same time).
        self.timeline = list(heapq.merge(self.cassette.events, self.cassette.local_events, key=lambda e: e.time))
        last = self.timeline[-1].time if self.timeline else 0.0
        #: Seconds from the start of the recording to its end.
        self.duration = max(self.cassette.duration, last)
        self._speed = check_speed(speed)
        self._index = 0  # the next event to feed
        self._pos = 0.0  # recorded seconds reached, at ``_anchor``
        self._anchor: float | None = None  # loop time when play started from ``_pos``; None: paused
        self._task: asyncio.Task[None] | None = None
        self._catching_up = False
        self._closed = False
        self.listeners: list[Callable[[Session | None], None]] = []
        #: The widget showing the replay, if any (set by ``rtwidget.replay``).
        self.widget: Any = None
        self.session = self._fresh()

    def _fresh(self, succeeds: Session | None = None) -> ReplaySession:
        session = ReplaySession(self.cassette, self, succeeds)
        session._io.start()  # the pump runs on the I/O thread, as live
        return session

    # ------------------------------------------------------------------ state (any thread)

    @property
    def name(self) -> str:
        """The cassette's file name."""
        return self.cassette.path.name

    @property
    def playing(self) -> bool:
        """True while playing (False when paused or at the end)."""
        return self._anchor is not None

    @property
    def ended(self) -> bool:
        """True once every event was fed."""
        return self._index >= len(self.timeline)

    @property
    def audible(self) -> bool:
        """Whether the events fed now play in time at 1x (so their audio should be heard)."""
        return self.playing and self._speed == 1.0 and not self._catching_up

    @property
    def position(self) -> float:
        """Recorded seconds reached."""
        anchor, loop = self._anchor, self.session._io.loop
        if anchor is None or loop is None or self._speed == INSTANT:
            return self._pos
        return min(self.duration, self._pos + (loop.time() - anchor) * float(self._speed))

    @property
    def speed(self) -> float | str:
        """1.0, 2.0 (any positive number) or ``"instant"``; settable while playing."""
        return self._speed

    @speed.setter
    def speed(self, value: float | str) -> None:
        speed = check_speed(value)
        self._on_loop(lambda: self._set_speed(speed))

    def state(self) -> dict[str, Any]:
        """What the widget's ``replay`` trait shows: name, duration, position, speed, playing."""
        return {
            "name": self.name,
            "duration": round(self.duration, 3),
            "position": round(self.position, 3),
            "speed": self._speed,
            "playing": self.playing,
        }

    # ------------------------------------------------------------------ controls (any thread)

    def play(self) -> None:
        """Play from the position (from the start again once it ended)."""
        self._on_loop(self._play)

    def pause(self) -> None:
        """Stop where it is; ``play()`` goes on from there."""
        self._on_loop(self._pause)

    def seek(self, seconds: float) -> None:
        """Go to ``seconds`` (clipped to the recording): backward starts over on a fresh session, forward feeds
        what lies between at once; playing goes on playing from there."""
        target = min(max(float(seconds), 0.0), self.duration)
        self._on_loop(lambda: self._seek(target))
        if not self.session._io.in_thread():
            self._on_loop(lambda: None)  # returns once what lies before the position has been fed

    def wait(self, timeout: float | None = None) -> None:
        """Block until the replay has ended (or ``timeout`` seconds passed: TimeoutError)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.ended or self.playing:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the replay of {self.name!r} did not end within {timeout} s")
            time.sleep(0.01)

    def close(self) -> None:
        """Stop playing and release the session's I/O thread (the session and its exports stay readable)."""
        if self._closed:
            return
        self._on_loop(self._pause)
        self._closed = True
        self.session.stop().result()

    def _on_loop(self, fn: Callable[[], None]) -> None:
        if self._closed:
            raise RuntimeError(f"this replay of {self.name!r} was closed: rtwidget.replay(path) replays it again")
        self.session._io.call(fn)

    # ------------------------------------------------------------------ on the I/O thread

    def _play(self) -> None:
        if self.playing:
            return
        if self.ended:
            self._seek(0.0)
            if self.playing:
                return
        self._start(self.session)

    def _start(self, session: ReplaySession) -> None:
        loop = session._io.loop
        assert loop is not None
        self._anchor = loop.time()
        self._task = session._spawn(self._run())
        self._changed()

    def _pause(self) -> None:
        if not self.playing:
            return
        self._pos = self.position
        self._anchor = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._changed()

    def _set_speed(self, speed: float | str) -> None:
        playing = self.playing
        self._pause()
        self._speed = speed
        if playing:
            self._start(self.session)
        else:
            self._changed()

    def _seek(self, target: float) -> None:
        playing = self.playing
        self._pause()
        old: Session | None = None
        session = self.session
        if target < self._pos or (self._index and target < self.timeline[self._index - 1].time):
            old, session = session, self._fresh(succeeds=session)  # a conversation cannot be unwound: start over
            self._index = 0
        self._catching_up = True
        while self._index < len(self.timeline) and self.timeline[self._index].time <= target:
            session.call_soon(session.feed, self.timeline[self._index])
            self._index += 1
        session.call_soon(self._caught_up)
        self.session = session  # once everything is queued on its loop: a call through it comes after
        self._pos = target
        self._changed(old)
        if old is not None:
            old.stop()  # its I/O thread ends; the replay goes on on the new one
        if playing:
            session.call_soon(self._start, session)

    def _caught_up(self) -> None:
        self._catching_up = False

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._index < len(self.timeline):
            recorded = self.timeline[self._index]
            if self._speed == INSTANT:
                self._pos = max(self._pos, recorded.time)
                if self._index % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            else:
                anchor = self._anchor if self._anchor is not None else loop.time()
                wait = (recorded.time - self._pos) / float(self._speed) - (loop.time() - anchor)
                if wait > 0:
                    await asyncio.sleep(wait)
            self._index += 1
            self.session.feed(recorded)
        self._pos = self.duration
        self._anchor = None
        self._task = None
        self._changed()

    def _changed(self, old: Session | None = None) -> None:
        for listener in list(self.listeners):
            listener(old)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """In a notebook: the replay's widget (made by ``rtwidget.replay``), else the text."""
        if self.widget is None:
            return {"text/plain": repr(self)}
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        state = "playing" if self.playing else "ended" if self.ended else "paused"
        return f"<rtwidget Replay {self.name!r} {self.position:.1f}/{self.duration:.1f} s {state} at {self._speed}>"
