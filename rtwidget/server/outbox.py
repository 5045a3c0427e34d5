"""The server events of one connection on their way out: fresh ids, the dialect and envelope at the edge, the
count that scripts trigger on, and the close.

Every collaborator of the engine emits through one :class:`Outbox`, so ids come from one seeded generator (the
same seed gives the same ids) and nothing is queued once the connection is to be closed.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable

from rtwidget.protocol import dialects

from .api_errors import ApiError
from .config import Json

__all__ = ["Outbox"]

_ID_ALPHABET = string.ascii_letters + string.digits


class Outbox:
    """Serialized server events waiting for :meth:`take`, oldest first (GA inside; beta and envelope at the edge)."""

    def __init__(self, *, seed: int | None, dialect: str, envelope: bool) -> None:
        self.dialect = dialects.check_dialect(dialect)
        self.envelope = envelope
        self._rng = random.Random(seed)
        self._out: list[str] = []
        # Server events queued so far (the count scripts trigger on).
        self.events_sent = 0
        # Set when the socket must be closed; nothing is queued after that.
        self.close_code: int | None = None
        self.close_reason = ""
        # True: drop the TCP connection with no close frame (a scripted network failure).
        self.close_reset = False
        # Called after each queued event (scripts count them) and once on close (pending work is dropped).
        self.on_emit: Callable[[], None] | None = None
        self.on_close: Callable[[], None] | None = None

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    def new_id(self, prefix: str, length: int = 21) -> str:
        """A fresh id like the real server's (``item_`` + 21 letters and digits)."""
        return prefix + "".join(self._rng.choices(_ID_ALPHABET, k=length))

    def emit(self, event: Json) -> None:
        """Queue one GA server event (its ``event_id`` assigned here), translated to the connection's dialect."""
        if self.closed:
            return
        event = {"type": event["type"], "event_id": self.new_id("event_"), **event}
        if self.dialect == "beta":
            beta = _to_beta(event)
            if beta is None:  # no beta counterpart
                return
            event = beta
        if self.envelope:
            event = dialects.wrap_envelope(event)
        self._out.append(json.dumps(event, separators=(",", ":")))
        self.events_sent += 1
        if self.on_emit is not None:
            self.on_emit()

    def error(self, err: ApiError, event_id: str | None) -> None:
        """Queue the ``error`` event for ``err``, naming the client event it answers (or None)."""
        self.emit(err.event(event_id))

    def close(self, code: int, reason: str, *, reset: bool = False) -> None:
        """Ask for the socket to be closed with ``code`` (the first call wins; ``reset``: with no close frame);
        nothing more is queued."""
        if self.closed:
            return
        self.close_code = code
        self.close_reason = reason
        self.close_reset = reset
        if self.on_close is not None:
            self.on_close()

    def take(self) -> list[str]:
        """The queued events, in order; the queue is emptied."""
        out, self._out = self._out, []
        return out


def _to_beta(event: Json) -> Json | None:
    beta = dialects.server_event_from_ga(event)
    if beta is None:
        return None
    if beta["type"] == "response.function_call_arguments.done":
        beta.pop("name", None)  # beta had no name there
    if beta["type"] in ("session.created", "session.updated"):
        beta["session"].setdefault("temperature", 0.8)
    return beta
