"""The doctor in a session: ``session.doctor`` watches the traffic and ``session.hints`` keeps what it said.

:class:`DoctorMixin` feeds the protocol core's :class:`~rtwidget.protocol.doctor.Doctor` (a sans-I/O rule engine)
with what the session sees, on the I/O thread, with the wall-clock time:

- every client event as it goes to the writer, every server event once the core folded it (not duplicates), a
  raw ``send()`` the validator refused, the level of the audio given to ``append_audio``/``send_audio`` (measured
  on the caller's thread), the ids ``ask()`` and ``respond_out_of_band()`` send (they report their own errors),
  and the widget's reports of the assistant audio heard;
- a new connection resets it (``rtwidget.connected``); one timer on the I/O loop calls its ``tick`` at its
  ``next_deadline()`` (a silence after a mistake), cancelled when the socket closes;
- ``doctor.errors_watched`` follows whether the user's code reads server errors (a handler or waiter of the
  user's for ``error`` or ``*``; rtwidget's own do not count).

Each :class:`~rtwidget.protocol.doctor.Hint` is appended to ``session.hints`` (newest last), logged at INFO on
the ``rtwidget.doctor`` logger and emitted as a local ``rtwidget.hint`` event (data: ``hint.to_dict()``), so it is
in ``session.log``, reaches ``session.on("rtwidget.hint", fn)``, ``events()`` and the widget.

The doctor only watches: it never blocks, delays or changes an event, and a failure inside it is logged once and
switches nothing else off (the session goes on; the doctor keeps being fed).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from .. import audio as audio_mod
from ..protocol.connection import Connection
from ..protocol.doctor import Doctor, Hint
from ..protocol.events import Event
from .dispatch import EventBus, matches
from .local_events import CONNECTED, HINT

logger = logging.getLogger("rtwidget.doctor")

#: Hints ``session.hints`` keeps (the newest).
HINTS_KEPT = 200
# The level of digital silence (no log of zero).
SILENCE_DBFS = -120.0
# The least delay of the doctor's timer (s): a doctor whose deadline stays in the past costs a tick per 50 ms, not
# a busy I/O loop.
MIN_TICK_S = 0.05
# Waiters whose predicate is defined in rtwidget are the session's own (the handshake's, the reconnect's).
_OWN_MODULE = "rtwidget."


def doctor_of(option: bool | Iterable[str], dialect: str) -> Doctor:
    """The session's Doctor for ``Session(doctor=...)``: True (every rule), False (none: ``enabled`` False) or an
    iterable of rule ids to switch off (an unknown id raises ValueError naming the known ones)."""
    if isinstance(option, bool):
        doctor = Doctor(dialect)
        doctor.enabled = option
        return doctor
    if isinstance(option, str) or not isinstance(option, Iterable):
        raise TypeError(f"doctor must be True, False or a list of rule ids to switch off, not {option!r}")
    return Doctor(dialect, disabled=list(option))


def input_dbfs(pcm: bytes) -> float:
    """The RMS level of 24 kHz PCM16 in dB full scale (a full-scale square wave is 0; silence ``SILENCE_DBFS``)."""
    rms = audio_mod.level(pcm) if pcm else 0.0
    return max(SILENCE_DBFS, 20.0 * math.log10(rms)) if rms > 0 else SILENCE_DBFS


class DoctorMixin:
    """``session.doctor`` and ``session.hints``, and the session's feeds of the doctor (a mixin of Session)."""

    _bus: EventBus
    _conn: Connection
    _emit_local: Callable[..., None]
    _doctor: Doctor
    #: The doctor's hints, newest last (at most ``HINTS_KEPT``).
    hints: deque[Hint]

    @property
    def doctor(self) -> Doctor:
        """The doctor: switch a rule off with ``session.doctor.disable("rule-id")``, all of them with
        ``session.doctor.enabled = False`` (or ``session.doctor = False``); ``session.doctor.rules`` lists them."""
        return self._doctor

    @doctor.setter
    def doctor(self, value: Doctor | bool) -> None:
        if isinstance(value, bool):  # as Session(doctor=False): the same doctor, switched off (or on)
            self._doctor.enabled = value
        elif isinstance(value, Doctor):
            self._doctor = value
        else:  # anything else would be fed as a doctor: every feed would fail
            raise TypeError(
                f"session.doctor takes a Doctor, True or False, not {type(value).__name__} {value!r:.60}: "
                'switch rules off with session.doctor.disable("rule-id")'
            )

    def _init_doctor(self, option: bool | Iterable[str], dialect: str) -> None:
        self._doctor = doctor_of(option, dialect)
        self.hints = deque(maxlen=HINTS_KEPT)
        self._doctor_timer: asyncio.TimerHandle | None = None
        self._doctor_deadline: float | None = None
        self._doctor_failed = False

    # ------------------------------------------------------------------ feeds (the I/O thread)

    def _doctor_feed(self, feed: Callable[..., list[Hint]], *args: Any) -> None:
        """Call one feed of the doctor with ``args`` and the time; raise what it returns. Never raises."""
        try:
            hints = feed(*args, time.time())
        except Exception:
            self._doctor_broke(getattr(feed, "__name__", "a feed"))
            return
        for hint in hints:
            try:
                self._raise_hint(hint)
            except Exception:  # not a Hint after all
                self._doctor_broke("a hint")
        self._doctor_arm()

    def _doctor_sent(self, event: dict[str, Any]) -> None:
        self._doctor_feed(self.doctor.client_sent, event)

    def _doctor_received(self, event: Event) -> None:
        self._doctor_feed(self.doctor.server_received, event)

    def _doctor_refused(self, event: Any, error: Exception) -> None:
        self._doctor_feed(self.doctor.client_refused, event, str(error))

    def _doctor_input(self, dbfs: float, duration_ms: float) -> None:
        self._doctor_feed(self.doctor.input_level, dbfs, duration_ms)

    def _doctor_playback(self, item_id: str, played_ms: float, playing: bool) -> None:
        """The widget's report of the assistant audio heard: ``played_ms`` of ``item_id``; ``playing``: some audio
        sent to the browser is not heard yet."""
        self._doctor_feed(self.doctor.playback, item_id, played_ms, playing)

    def _doctor_handled(self, event_ids: Iterable[str]) -> None:
        """The client events ``event_ids`` were sent by a call that reports its own errors (``ask()``)."""
        try:
            for event_id in event_ids:
                self.doctor.handled(event_id)
        except Exception:
            self._doctor_broke("handled")

    def _doctor_no_reply(self, call_id: str) -> None:
        """The output about to be sent for ``call_id`` asks for no reply on purpose (a ``reply=False`` tool)."""
        try:
            self.doctor.no_reply(call_id)
        except Exception:
            self._doctor_broke("no_reply")

    def _doctor_local(self, etype: str) -> None:
        """A local event is emitted: on ``rtwidget.connected`` (a new connection) the doctor forgets the
        conversation (its hints stay) and takes the connection's dialect."""
        if etype != CONNECTED:
            return
        try:
            self.doctor.dialect = self._conn.dialect
            self.doctor.reset()
        except Exception:
            self._doctor_broke("reset")
        self._doctor_cancel()

    def _raise_hint(self, hint: Hint) -> None:
        data = hint.to_dict()
        self.hints.append(hint)
        logger.info("rtwidget doctor [%s] %s %s (%s)", hint.rule, hint.what, hint.fix, hint.url)
        self._emit_local(HINT, data)

    def _doctor_broke(self, where: str) -> None:
        """A feed raised: logged (with its traceback) the first time only; the session goes on."""
        if not self._doctor_failed:
            self._doctor_failed = True
            logger.warning(
                "rtwidget: the doctor failed in %s (the session goes on; later failures unlogged)", where, exc_info=True
            )

    def _doctor_watch_errors(self) -> None:
        """``doctor.errors_watched``: does a handler or waiter of the user's take server ``error`` events?"""
        bus = self._bus
        try:
            handled = any(not internal and matches(p, "error") for p, _h, internal in bus._handlers)
            waited = any(
                matches(w.pattern, "error") and not str(getattr(w.predicate, "__module__", "")).startswith(_OWN_MODULE)
                for w in bus._waiters
                if not w.future.done()
            )
            self.doctor.errors_watched = handled or waited
        except Exception:
            self._doctor_broke("errors_watched")

    # ------------------------------------------------------------------ the timer (the I/O loop)

    def _doctor_arm(self) -> None:
        """Keep one timer at the doctor's next deadline (none when nothing waits, or with no I/O loop)."""
        try:
            deadline = self.doctor.next_deadline()
        except Exception:
            self._doctor_broke("next_deadline")
            deadline = None
        if deadline == self._doctor_deadline and (deadline is None or self._doctor_timer is not None):
            return
        self._doctor_cancel()
        if deadline is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no I/O loop (never connected, or closed): nothing to wait for
            return
        self._doctor_deadline = deadline
        # Held weakly by the loop, like the response watch: an unclosed session can still be collected.
        self._doctor_timer = loop.call_later(max(MIN_TICK_S, deadline - time.time()), _tick, weakref.ref(self))

    def _doctor_cancel(self) -> None:
        """Stop the timer (the socket closed, or a new connection)."""
        if self._doctor_timer is not None:
            self._doctor_timer.cancel()
        self._doctor_timer = None
        self._doctor_deadline = None

    def _doctor_tick(self) -> None:
        self._doctor_timer = None
        self._doctor_deadline = None
        self._doctor_watch_errors()
        self._doctor_feed(self.doctor.tick)


def _tick(session_ref: weakref.ref[DoctorMixin]) -> None:
    session = session_ref()
    if session is not None:
        session._doctor_tick()
