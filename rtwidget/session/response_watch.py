"""Responses the server goes silent on: given up after ``Session(response_timeout=...)`` seconds.

A server can start a response and never end it, or never answer a ``response.create``. Left alone, the session
would stay busy for ever: every later ``ask()`` would wait out its own timeout, and a ``send_text`` would hold
its reply back for ever. :class:`ResponseWatch` keeps one timer on the I/O loop (``loop.call_later``, armed only
while a response is in progress or awaited, cancelled when the socket closes) and, when the server has said
nothing about a response for ``response_timeout`` seconds, has the protocol core declare it lost. The user then
sees:

- an ``rtwidget.error`` event (``source`` ``"response"``; ``name`` the response id or the create's event id;
  also ``kind``, ``silent_s``, ``out_of_band``) whose message names what was lost, how long the server was
  silent, and that the session accepts new turns; the same line is logged as a warning;
- an ``ask()`` or ``respond_out_of_band()`` waiting for it fails with a :class:`~rtwidget.errors.RealtimeError`
  (code ``"response_lost"``) saying the same, instead of a bare timeout;
- a reply requested meanwhile (a ``send_text`` during the lost response) goes out at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections.abc import Callable
from typing import Any

from ..errors import RealtimeError
from ..protocol.connection import Connection
from ..protocol.events import Event
from ..protocol.tracker import LostResponse
from .local_events import ERROR, SENT

logger = logging.getLogger("rtwidget.session")

#: The default of ``Session(response_timeout=...)``: seconds of silence after which a response is given up.
RESPONSE_TIMEOUT_S = 60.0
#: The ``source`` of the ``rtwidget.error`` for a lost response, and the ``code`` of the RealtimeError.
LOST_SOURCE = "response"
LOST_CODE = "response_lost"


def check_response_timeout(value: Any) -> float | None:
    """``response_timeout`` as given, checked: a positive number of seconds, or None to never give up."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise ValueError(
            f"response_timeout must be a positive number of seconds (or None: never give up on a response), "
            f"not {value!r}"
        )
    return float(value)


def lost_message(lost: LostResponse, timeout: float) -> str:
    """What the user reads about a lost response: what, how long the server was silent, and what now."""
    lane = "out-of-band " if lost.out_of_band else ""
    if lost.kind == "create":
        what = f"the {lane}response.create {lost.id} got no answer (no response.created)"
    else:
        what = f"the {lane}response {lost.id} got no event"
    return (
        f"{what} from the server for {lost.silent_s:.1f} s (response_timeout={timeout:g} s): declared lost; "
        "the session accepts new turns"
    )


def lost_data(lost: LostResponse, message: str) -> dict[str, Any]:
    """The data of the ``rtwidget.error`` for a lost response."""
    return {
        "source": LOST_SOURCE,
        "name": lost.id,
        "error_type": "ResponseLost",
        "message": message,
        "traceback": "",
        "kind": lost.kind,
        "silent_s": round(lost.silent_s, 3),
        "out_of_band": lost.out_of_band,
        "request_id": lost.request_id,
    }


class ResponseWatch:
    """The session's timer for responses the server goes silent on (on the I/O loop only).

    ``conn`` gives the current protocol core, ``emit`` emits a local event, ``resume`` sends what is due after
    a loss (a reply requested meanwhile) and flushes.
    """

    def __init__(
        self,
        timeout: float | None,
        conn: Callable[[], Connection],
        emit: Callable[[str, dict[str, Any]], None],
        resume: Callable[[], None],
    ) -> None:
        self.timeout = timeout
        self._conn = conn
        self._emit = emit
        self._resume = resume
        self._timer: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        """After every event in or out: make sure the timer runs while something is in progress or awaited."""
        if self._timer is not None or self.timeout is None:
            return
        deadline = self._conn().stall_deadline(self.timeout)
        if deadline is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no I/O loop (never connected, or closed): nothing to watch
            return
        # The loop holds the watch weakly: an unclosed session (which holds the watch) can still be collected.
        self._timer = loop.call_later(max(0.0, deadline - time.monotonic()), _check, weakref.ref(self))

    def cancel(self) -> None:
        """Stop the timer (the socket closed)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self.timeout is None:
            return
        lost = self._conn().check_stalled(time.monotonic(), self.timeout)
        for gone in lost:
            message = lost_message(gone, self.timeout)
            logger.warning("rtwidget: %s", message)
            self._emit(ERROR, lost_data(gone, message))
        if lost:
            self._resume()
        self.arm()


def _check(watch_ref: weakref.ref[ResponseWatch]) -> None:
    watch = watch_ref()
    if watch is not None:
        watch._check()


class LostTurnGuard:
    """Fails a turn (``ask()``: the default conversation; ``respond_out_of_band()``: its own request) whose
    response was declared lost, with a RealtimeError saying so. Wraps the turn's ``on("*")`` watcher."""

    def __init__(self, result: asyncio.Future[Any], watch: Callable[[Event], None], *, out_of_band: bool) -> None:
        self._result = result
        self._watch = watch
        self._out_of_band = out_of_band
        # The creates this turn sent and the responses it took as its own.
        self._ids: set[str] = set()

    def __call__(self, event: Event) -> None:
        """The turn's watcher: note the turn's requests and responses, fail it on a loss, then watch as usual."""
        etype = event.type
        if etype == SENT:
            self._note_create(event.data)
        elif etype == "response.created":
            self._note_response(event.get("response"))
        elif etype == ERROR and event.get("source") == LOST_SOURCE and event.get("name") in self._ids:
            if not self._result.done():
                self._result.set_exception(RealtimeError(str(event.get("message")), code=LOST_CODE, event=event))
            return
        self._watch(event)

    def _note_create(self, data: dict[str, Any]) -> None:
        if data.get("type") != "response.create":
            return
        response = data.get("response")
        out_of_band = isinstance(response, dict) and response.get("conversation") == "none"
        if out_of_band == self._out_of_band and (not out_of_band or not self._ids):
            self._ids.add(str(data.get("event_id")))

    def _note_response(self, response: Any) -> None:
        if not isinstance(response, dict):
            return
        if response.get("conversation_id", "") is not None:  # the default conversation (as AskTurn reads it)
            if not self._out_of_band:
                self._ids.add(str(response.get("id")))
            return
        metadata = response.get("metadata")
        if self._out_of_band and isinstance(metadata, dict) and metadata.get("rtwidget_request") in self._ids:
            self._ids.add(str(response.get("id")))


def fold_failure_data(event: Event) -> dict[str, Any]:
    """The data of the ``rtwidget.error`` for a server event the protocol core could not fold into its state."""
    error = event.fold_error or ""
    return {
        "source": "protocol",
        "name": event.type,
        "error_type": error.partition(":")[0] or "Exception",
        "message": f"the server event {event.type} could not be folded into the session state ({error}); "
        "it is logged and delivered as it came",
        "traceback": "",
    }
