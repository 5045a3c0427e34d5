"""The base of every rule: one :class:`Check` per rule, with a hook per feed (each returns the hints it raises)
and the memory of which mistakes it has already named (a hint fires once per mistake)."""

from __future__ import annotations

from typing import Any

from ..events import Event
from .hint import Hint, Rule
from .state import LIMIT, State, trim

Json = dict[str, Any]


class Check:
    """One rule's watcher. Subclasses set ``rule`` and override the hooks they need; hooks see the shared
    :class:`State` as it was before the event. ``deadline``/``tick`` serve the rules that wait for a silence."""

    rule: Rule
    # The event types its server_received / client_sent read (None: every type). Only those reach it: most of
    # the traffic is audio, which few rules read.
    server_types: frozenset[str] | None = None
    client_types: frozenset[str] | None = None

    def __init__(self, state: State) -> None:
        self.state = state
        self._named: dict[Any, None] = {}
        self.reset()

    def reset(self) -> None:
        """A new connection: forget what is pending (override to clear a rule's own tables)."""
        self._named.clear()

    def hint(self, key: Any, what: str, fix: str, event_ids: Any, now: float, level: str = "") -> list[Hint]:
        """The hint for mistake ``key``, or nothing if that mistake was named already."""
        if key in self._named:
            return []
        self._named[key] = None
        trim(self._named, LIMIT * 4)
        ids = tuple(i for i in event_ids if isinstance(i, str) and i)
        return [Hint(self.rule.id, level or self.rule.level, what, fix, ids, now, self.rule.url)]

    def client_sent(self, event: Json, now: float) -> list[Hint]:
        return []

    def client_refused(self, event: Any, error: str, now: float) -> list[Hint]:
        return []

    def server_received(self, event: Event, now: float) -> list[Hint]:
        return []

    def input_level(self, dbfs: float, duration_ms: float, now: float) -> list[Hint]:
        return []

    def tick(self, now: float) -> list[Hint]:
        return []

    def deadline(self) -> float | None:
        return None


class Timers:
    """Mistakes that become one only after a grace period: key -> (due time, what the hint needs)."""

    def __init__(self) -> None:
        self.due: dict[Any, tuple[float, Any]] = {}
        # The earliest due time, kept while known (asked after every event: no scan of every timer each time).
        self._next: float | None = None
        self._known = True

    def arm(self, key: Any, at: float, data: Any) -> None:
        replaced = key in self.due
        self.due[key] = (at, data)
        trim(self.due)
        if replaced or len(self.due) >= LIMIT:  # an earlier time may have gone
            self._known = False
        elif self._known:
            self._next = at if self._next is None else min(self._next, at)

    def cancel(self, key: Any = None) -> None:
        """Cancel one timer, or all of them (no key)."""
        if key is None:
            self.due.clear()
        else:
            self.due.pop(key, None)
        self._known = False

    def expired(self, now: float) -> list[tuple[Any, Any]]:
        """Pop and return the timers due at ``now``."""
        out = [(key, data) for key, (at, data) in self.due.items() if at <= now]
        for key, _ in out:
            del self.due[key]
        if out:
            self._known = False
        return out

    def next(self) -> float | None:
        if not self._known:
            self._next = min((at for at, _ in self.due.values()), default=None)
            self._known = True
        return self._next
