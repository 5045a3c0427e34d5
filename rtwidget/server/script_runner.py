"""A :class:`~.script.Script` applied to one connection: which rules fired, and their delayed actions.

``fail`` rules refuse a client event before it is handled; other ``on`` rules act after the engine's normal
answer; ``after_events`` rules act once that many server events were queued. ``delay_ms`` puts the action on a
timer of the engine's clock.
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .api_errors import ApiError
from .outbox import Outbox
from .script import Rule, Script

__all__ = ["ScriptRunner"]


@dataclass
class _RuleState:
    rule: Rule
    done: bool = False

    def fires_on(self, etype: str, count: int) -> bool:
        """An ``on`` rule for the ``count``-th client event of type ``etype`` (``nth`` 0: every one)."""
        return self.rule.on == etype and not self.done and self.rule.nth in (0, count)


class ScriptRunner:
    """The script's rules for one connection (none without a script)."""

    def __init__(
        self,
        script: Script | None,
        outbox: Outbox,
        *,
        clock: Callable[[], float],
        known_ids: Callable[[], Mapping[str, Any]],
        connection: int = 1,
    ) -> None:
        self._outbox = outbox
        self._clock = clock
        # "$item_id" and "$response_id": the newest item and response, for emitted events.
        self._known_ids = known_ids
        rules = script.rules if script else ()
        self._rules = [_RuleState(r) for r in rules if r.connection in (None, connection)]
        self._client_counts: dict[str, int] = {}
        # Delayed actions: heap of (due, sequence number, action).
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = 0

    def refuses(self, etype: str, event_id: str | None) -> bool:
        """Count a client event; True (its ``error`` queued) when a ``fail`` rule refuses it."""
        count = self._client_counts[etype] = self._client_counts.get(etype, 0) + 1
        for state in self._rules:
            if state.rule.fail is not None and state.fires_on(etype, count):
                state.done = state.rule.nth != 0
                self._outbox.error(ApiError.from_spec(state.rule.fail, "invalid_request_error"), event_id)
                return True
        return False

    def after_client(self, etype: str) -> None:
        """Fire the other ``on`` rules of a client event the engine has handled."""
        count = self._client_counts.get(etype, 0)
        for state in self._rules:
            if state.rule.fail is None and state.fires_on(etype, count):
                state.done = state.rule.nth != 0
                self._act(state.rule)

    def after_event(self) -> None:
        """Fire the ``after_events`` rules whose count was reached (called after every queued server event)."""
        for state in self._rules:
            rule = state.rule
            if rule.after_events is not None and not state.done and self._outbox.events_sent >= rule.after_events:
                state.done = True
                self._act(rule)

    def _act(self, rule: Rule) -> None:
        if rule.delay_ms:
            self._timer_seq += 1
            heapq.heappush(
                self._timers, (self._clock() + rule.delay_ms / 1000, self._timer_seq, lambda: self._do(rule))
            )
        else:
            self._do(rule)

    def _do(self, rule: Rule) -> None:
        outbox = self._outbox
        if rule.emit is not None:
            fresh = {"$new_item_id": outbox.new_id("item_"), "$new_response_id": outbox.new_id("resp_")}
            table = {**fresh, **self._known_ids()}
            for event in rule.emit:
                outbox.emit(_substitute(copy.deepcopy(event), table))
        elif rule.error is not None:
            outbox.error(ApiError.from_spec(rule.error, "server_error"), None)
        elif rule.disconnect is not None:
            spec = rule.disconnect
            outbox.close(int(spec.get("code", 1011)), str(spec.get("reason", "")), reset=bool(spec.get("reset")))

    # -- timers ---------------------------------------------------------------------------------------

    def next_due(self) -> float | None:
        """When the next delayed action is due, or None."""
        return self._timers[0][0] if self._timers else None

    def run_next_timer(self) -> None:
        _, _, action = heapq.heappop(self._timers)
        action()

    def drop(self) -> None:
        """Forget every delayed action (the connection is closing)."""
        self._timers.clear()


def _substitute(value: Any, table: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value in table:
        return table[value]
    if isinstance(value, list):
        return [_substitute(v, table) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, table) for k, v in value.items()}
    return value
