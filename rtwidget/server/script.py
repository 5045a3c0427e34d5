"""Scripted scenarios for tests and workshops: extra events, injected errors, disconnects and pacing.

A :class:`Script` is a list of rules plus an optional pace. Each rule has one trigger and one action:

triggers
    ``on="response.create"`` (optionally ``nth=2`` for the second such client event; default: the first;
    ``nth=0`` for every one), or ``after_events=N`` (once the server has sent N events on this connection,
    ``session.created`` being the first).
actions
    ``emit=[{...}, ...]``   raw server events, sent as given; ``event_id`` is filled in when missing, and the
                            strings ``"$item_id"`` / ``"$response_id"`` (the newest item / response) and
                            ``"$new_item_id"`` / ``"$new_response_id"`` (fresh ids) are replaced anywhere.
                            With ``on=``, they follow the engine's normal answer.
    ``fail={code, message, type?, param?}``   only with ``on=``: the client event is refused with this
                            ``error`` (its ``event_id`` echoed) instead of being handled.
    ``error={code, message, type?, param?}``  an extra ``error`` event (not tied to a client event).
    ``disconnect={code?, reason?, reset?}``   close the connection (default code 1011); nothing more is sent.
                            ``reset: true`` drops the TCP connection with no close frame (a network failure).
``delay_ms`` delays the action after its trigger (on the engine's clock). ``connection=N`` applies the rule
only on the server's N-th connection (1 for the first), so a client that reconnects is not hit again.

The JSON form (``rtwidget serve --script file.json``) is the same thing as a dict::

    {"pace": "fast",
     "rules": [{"on": "response.create", "fail": {"code": "server_error", "message": "boom"}},
               {"after_events": 12, "disconnect": {"code": 1011}}]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Json = dict[str, Any]
Pace = Literal["realtime", "fast"]

__all__ = ["Rule", "Script"]

_ACTIONS = ("emit", "fail", "error", "disconnect")


@dataclass(frozen=True)
class Rule:
    """One trigger (``on`` or ``after_events``) and one action (``emit``/``fail``/``error``/``disconnect``).

    See the module docstring for what each does.
    """

    on: str | None = None
    nth: int = 1
    after_events: int | None = None
    emit: tuple[Json, ...] | None = None
    fail: Json | None = None
    error: Json | None = None
    disconnect: Json | None = None
    delay_ms: int = 0
    connection: int | None = None

    def __post_init__(self) -> None:
        if (self.on is None) == (self.after_events is None):
            raise ValueError("a script rule needs exactly one trigger: 'on' or 'after_events'")
        actions = [name for name in _ACTIONS if getattr(self, name) is not None]
        if len(actions) != 1:
            raise ValueError(f"a script rule needs exactly one action of {_ACTIONS}, got {actions or 'none'}")
        if self.fail is not None and self.on is None:
            raise ValueError("'fail' refuses a client event, so it needs an 'on' trigger")
        for name in ("fail", "error"):
            spec = getattr(self, name)
            if spec is not None and not isinstance(spec.get("message"), str):
                raise ValueError(f"'{name}' needs a 'message' string")
        if self.nth < 0 or self.delay_ms < 0 or (self.after_events is not None and self.after_events < 1):
            raise ValueError("nth and delay_ms must be >= 0, after_events >= 1")
        if self.connection is not None and self.connection < 1:
            raise ValueError("connection counts the server's connections from 1 (or None for every one)")

    def to_dict(self) -> Json:
        out: Json = {}
        if self.on is not None:
            out["on"] = self.on
            if self.nth != 1:
                out["nth"] = self.nth
        else:
            out["after_events"] = self.after_events
        for name in _ACTIONS:
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if name == "emit" else dict(value)
        if self.delay_ms:
            out["delay_ms"] = self.delay_ms
        if self.connection is not None:
            out["connection"] = self.connection
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        known = {"on", "nth", "after_events", "delay_ms", "connection", *_ACTIONS}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown script rule keys {sorted(unknown)}; known: {sorted(known)}")
        emit = data.get("emit")
        if emit is not None:
            if not isinstance(emit, Sequence) or not all(isinstance(e, Mapping) and "type" in e for e in emit):
                raise ValueError("'emit' must be a list of events, each with a 'type'")
            emit = tuple(dict(e) for e in emit)
        return cls(
            on=data.get("on"),
            nth=int(data.get("nth", 1)),
            after_events=data.get("after_events"),
            emit=emit,
            fail=dict(data["fail"]) if data.get("fail") is not None else None,
            error=dict(data["error"]) if data.get("error") is not None else None,
            disconnect=dict(data["disconnect"]) if data.get("disconnect") is not None else None,
            delay_ms=int(data.get("delay_ms", 0)),
            connection=None if data.get("connection") is None else int(data["connection"]),
        )


@dataclass(frozen=True)
class Script:
    """An immutable scenario; each connection keeps its own progress through it.

    Build one with the chaining helpers (each returns a new Script)::

        Script(pace="fast").fail("response.create", code="server_error", message="boom").disconnect_after(20)
    """

    rules: tuple[Rule, ...] = field(default_factory=tuple)
    pace: Pace | None = None

    def __post_init__(self) -> None:
        if self.pace not in (None, "realtime", "fast"):
            raise ValueError(f"unknown pace {self.pace!r}: use 'realtime' or 'fast'")

    def add(self, rule: Rule) -> Script:
        return Script(rules=(*self.rules, rule), pace=self.pace)

    def emit(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        on: str | None = None,
        nth: int = 1,
        after_events: int | None = None,
        delay_ms: int = 0,
    ) -> Script:
        """Send raw ``events`` after a client event ``on`` (or after ``after_events`` server events)."""
        if on is None and after_events is None:
            after_events = 1
        return self.add(
            Rule(
                on=on,
                nth=nth,
                after_events=after_events,
                emit=tuple(dict(e) for e in events),
                delay_ms=delay_ms,
            )
        )

    def fail(
        self,
        on: str,
        *,
        code: str,
        message: str,
        type: str = "invalid_request_error",
        param: str | None = None,
        nth: int = 1,
    ) -> Script:
        """Refuse the ``nth`` client event of type ``on`` with an ``error`` of this code."""
        return self.add(Rule(on=on, nth=nth, fail=_error_spec(code, message, type, param)))

    def error_after(
        self, events: int, *, code: str, message: str, type: str = "server_error", param: str | None = None
    ) -> Script:
        """Send an ``error`` once ``events`` server events have been sent."""
        return self.add(Rule(after_events=events, error=_error_spec(code, message, type, param)))

    def disconnect_after(
        self, events: int, *, code: int = 1011, reason: str = "", reset: bool = False, connection: int | None = None
    ) -> Script:
        """Close the connection once ``events`` server events have been sent (``reset``: with no close frame;
        ``connection``: only on the server's N-th connection)."""
        spec: Json = {"code": code, "reason": reason, "reset": reset}
        return self.add(Rule(after_events=events, disconnect=spec, connection=connection))

    def to_dict(self) -> Json:
        out: Json = {"rules": [r.to_dict() for r in self.rules]}
        if self.pace is not None:
            out["pace"] = self.pace
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Script:
        unknown = set(data) - {"rules", "pace"}
        if unknown:
            raise ValueError(f"unknown script keys {sorted(unknown)}; known: ['pace', 'rules']")
        rules = data.get("rules", [])
        if not isinstance(rules, Sequence):
            raise ValueError("'rules' must be a list")
        return cls(rules=tuple(Rule.from_dict(r) for r in rules), pace=data.get("pace"))

    @classmethod
    def from_json(cls, text: str) -> Script:
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: str | Path) -> Script:
        """Read the JSON form from a file."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def _error_spec(code: str, message: str, type: str, param: str | None) -> Json:
    return {"type": type, "code": code, "message": message, "param": param}
