"""Server events and the codec that turns wire text into them (and client events into wire text).

Every server message becomes an :class:`Event` whose ``type`` is the wire ``type`` in GA form. A type this
module does not know becomes an :class:`UnknownEvent` (raw dict kept); text that is not a JSON object with a
string ``type`` becomes an :class:`InvalidEvent`. Decoding never raises.
"""

from __future__ import annotations

import json
from typing import Any

from .dialects import (
    Dialect,
    check_dialect,
    client_event_from_ga,
    server_event_to_ga,
    unwrap_envelope,
    wrap_envelope,
)
from .event_types import ENVELOPE_PREFIX, GA_SERVER_EVENTS

Json = dict[str, Any]

INVALID = "invalid"
# Deepest nesting of objects and arrays taken from the server. Real events (tool schemas included) stay far
# below; Python's json reads up to ~990 levels, and such an event breaks repr() and json.dumps() later.
MAX_DEPTH = 128


class Event:
    """One server event: ``type`` is the GA wire type, ``data`` the whole event as a dict.

    ``cause`` is set on ``error`` events when the server named the client event that caused it (the client
    event as it was sent, without audio payloads). Index it like the dict: ``event["response"]``.
    ``duplicate`` is True when the connection had seen the event already (its ``event_id``, or a second
    ``response.done`` for one response) and did not act on it again: log it, do nothing else. ``fold_error``
    says what failed (``"KeyError: 'x'"``) when the connection could not fold the event into its state; the
    event is delivered all the same.
    """

    __slots__ = ("cause", "data", "duplicate", "fold_error", "type")

    def __init__(self, type: str, data: Json) -> None:
        self.type = type
        self.data = data
        self.cause: Json | None = None
        # True when the connection saw this event before (same event_id, or a response that already ended)
        # and did not act on it again; the session logs it.
        self.duplicate = False
        # Why the connection could not fold this event into its state (an exception, as text), or None.
        self.fold_error: str | None = None

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        """The field ``key`` of the event, or ``default``."""
        return self.data.get(key, default)

    @property
    def event_id(self) -> str | None:
        """The server's ``event_id`` (absent on a few event types)."""
        value = self.data.get("event_id")
        return value if isinstance(value, str) else None

    @property
    def known(self) -> bool:
        """False for unknown and invalid events."""
        return True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.type} {_short(self.data)}>"


class UnknownEvent(Event):
    """A well-formed event of a type rtwidget does not know (new API events keep appearing)."""

    __slots__ = ()

    @property
    def known(self) -> bool:
        return False


class InvalidEvent(Event):
    """Text that is not a JSON object with a string ``type``; ``reason`` says why, ``text`` holds it."""

    __slots__ = ("reason", "text")

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(INVALID, {"type": INVALID, "reason": reason})
        self.reason = reason
        self.text = text

    @property
    def known(self) -> bool:
        return False


def _may_be_too_deep(text: str | bytes) -> bool:
    """Cheap test first: nesting deeper than MAX_DEPTH needs more than MAX_DEPTH opening brackets in the text
    (an audio delta has none, so the hot path never walks its tree)."""
    opening: Any = ("{", "[") if isinstance(text, str) else (b"{", b"[")
    return text.count(opening[0]) + text.count(opening[1]) > MAX_DEPTH


def _too_deep(data: Json) -> bool:
    """True if ``data`` nests objects and arrays more than MAX_DEPTH levels (walked without recursion)."""
    level: list[Any] = [data]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return False
    return True


def _short(data: Json, limit: int = 120) -> str:
    try:
        text = json.dumps({k: v for k, v in data.items() if k != "type"}, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):  # an event made by hand, nested too deep or circular
        text = "<not printable>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Codec:
    """Wire text <-> events for one connection: a dialect (``"ga"`` or ``"beta"``) and the envelope flag.

    Inbound envelopes are unwrapped whatever the flag says; outbound events are wrapped only when
    ``envelope`` is true.
    """

    def __init__(self, dialect: Dialect | str = "ga", envelope: bool = False) -> None:
        self.dialect: Dialect = check_dialect(dialect)
        self.envelope = envelope

    def decode(self, text: str | bytes) -> Event:
        """Parse one server message. Never raises."""
        try:
            data = _DECODER.decode(text if isinstance(text, str) else _decoded(text))
        except RecursionError:
            return InvalidEvent("JSON nested too deeply to read (a hostile or broken server)", _as_text(text))
        except (ValueError, TypeError) as exc:
            return InvalidEvent(f"not JSON: {exc}", _as_text(text))
        if not isinstance(data, dict):
            return InvalidEvent(f"not a JSON object but {type(data).__name__}", _as_text(text))
        if _may_be_too_deep(text) and _too_deep(data):
            return InvalidEvent(f"JSON nested more than {MAX_DEPTH} levels deep", _as_text(text))
        etype = data.get("type")
        if not isinstance(etype, str):
            return InvalidEvent("no string 'type' field", _as_text(text))
        try:
            data = self._to_ga(data)
        except Exception as exc:  # a field of a type the translation did not expect: still an event to log
            return InvalidEvent(f"{etype} not readable as a {self.dialect} event: {exc!r}", _as_text(text))
        etype = data["type"]
        if etype in GA_SERVER_EVENTS:
            return Event(etype, data)
        return UnknownEvent(etype, data)

    def _to_ga(self, data: Json) -> Json:
        if str(data["type"]).startswith(ENVELOPE_PREFIX):
            data = unwrap_envelope(data)
        if self.dialect == "beta":
            data = server_event_to_ga(data)
        return data

    def encode(self, event: Json) -> str:
        """Wire text for a (validated, GA-form) client event."""
        if self.dialect == "beta":
            event = client_event_from_ga(event)
        if self.envelope:
            event = wrap_envelope(event)
        return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259), though Python's json reads them.
    raise ValueError(f"{name} is not a JSON number")


# One decoder for every message: json.loads with any option builds a new JSONDecoder per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _decoded(raw: bytes) -> str:
    # What json.loads does with bytes: detect UTF-8/16/32; invalid bytes raise (a ValueError: "not JSON").
    return bytes(raw).decode(json.detect_encoding(raw), "surrogatepass")


def _as_text(text: str | bytes) -> str:
    if isinstance(text, (bytes, bytearray)):
        return bytes(text).decode("utf-8", "replace")
    return str(text)
