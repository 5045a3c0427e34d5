"""Taps: rtwidget's own listeners on every log entry WITH its full data (audio included), for the parts of the
session that keep what the log elides: a cassette recorder, the per-item audio store, usage and latency.

The log (``session.log``) keeps audio as ``"<N bytes>"``; a tap is called with the entry and the event as it went
over the wire (or as it was emitted, for local events), on the I/O thread, in order. A tap must be quick and must
not send; one that raises is logged once (with its traceback) and removed, and the session goes on.

A tap reads an entry's base64 audio with :func:`pcm_of`: decoded once per entry, however many taps read it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ..audio import b64decode
from .local_events import LogEntry

logger = logging.getLogger("rtwidget.session")
# The audio of the entry being tapped on this thread, by id() of its base64 text (the text is held, so its id
# stays its own): None outside a call of the taps.
_decoded = threading.local()


def pcm_of(text: str) -> bytes:
    """The bytes of base64 audio ``text`` (ValueError for bad base64); within a call of the taps, ``text`` of the
    entry's data is decoded once for all of them (the audio hot path: every delta and every microphone chunk)."""
    memo: dict[int, tuple[str, bytes]] | None = getattr(_decoded, "memo", None)
    if memo is None:
        return b64decode(text)
    found = memo.get(id(text))
    if found is None:
        found = memo[id(text)] = (text, b64decode(text))
    return found[1]


#: ``tap(entry, data)``: the log entry (time, direction, type, size) and the event's full data.
Tap = Callable[[LogEntry, dict[str, Any]], None]


class Taps:
    """The session's taps, called from its log in order; add and remove them on the I/O thread."""

    def __init__(self) -> None:
        self._taps: list[Tap] = []

    def add(self, tap: Tap) -> None:
        """Call ``tap`` for every log entry from now on."""
        self._taps.append(tap)

    def remove(self, tap: Tap) -> None:
        """Stop calling ``tap`` (no error if it is not there)."""
        if tap in self._taps:
            self._taps.remove(tap)

    def __bool__(self) -> bool:
        return bool(self._taps)

    def __call__(self, entry: LogEntry, data: dict[str, Any]) -> None:
        outer = getattr(_decoded, "memo", None)  # (a tap's local event is tapped within this call)
        _decoded.memo = {}
        try:
            for tap in list(self._taps):
                try:
                    tap(entry, data)
                except Exception:
                    logger.exception("rtwidget: an internal tap failed and was removed: %r", tap)
                    self.remove(tap)
        finally:
            _decoded.memo = outer
