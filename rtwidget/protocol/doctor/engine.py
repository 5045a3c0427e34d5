"""The :class:`Doctor`: feeds in, hints out. Each rule is a :class:`~.check.Check` in :mod:`.rules`."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
from typing import Any

from ..events import Event
from .check import Check
from .hint import Hint, Rule
from .rules import CHECKS
from .state import LIMIT, State, text, trim


class Doctor:
    """Watches one session's events and raises :class:`Hint` objects.

    Every feed takes ``now`` (Unix seconds) and returns the hints it raised, in order; :meth:`tick` raises those
    that are due by time alone (a silence), and :meth:`next_deadline` says when to call it next. A rule is
    switched off with :meth:`disable` (all of them with ``enabled = False``). Feeds never raise.
    """

    def __init__(self, dialect: str = "ga", *, disabled: Iterable[str] = ()) -> None:
        self._enabled = True
        self._state = State(dialect)
        self.dialect = dialect
        self.errors_watched = False
        self._checks: list[Check] = [check(self._state) for check in CHECKS]
        # Per hook, the checks that implement it (the receive path runs per audio delta: no call for nothing).
        self._hooks: dict[str, list[Check]] = {name: _implementing(self._checks, name) for name in _HOOKS}
        # ... and, for the two event feeds, per event type (filled as types come).
        self._by_type: dict[str, dict[str | None, list[Check]]] = {"server_received": {}, "client_sent": {}}
        self.rules: dict[str, Rule] = {c.rule.id: c.rule for c in self._checks}
        self._disabled: set[str] = set()
        # next_deadline(), asked after every event, kept until a check runs or the settings change (most events
        # are audio deltas that no rule reads: no deadline can have moved).
        self._deadline: float | None = None
        self._deadline_stale = True
        self.disable(*disabled)

    @property
    def enabled(self) -> bool:
        """False: no rule runs (the feeds still keep the state, so switching back on is accurate)."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        if not isinstance(value, bool):  # "no" is a true string: it would leave the doctor on
            raise TypeError(
                f"doctor.enabled must be True or False, not {type(value).__name__} {value!r:.40}: "
                'use doctor.disable("rule-id") to switch one rule off'
            )
        self._enabled = value

    def __repr__(self) -> str:
        off = sorted(self._disabled)
        running = f"{len(self.rules) - len(off)} of {len(self.rules)} rules"
        running += f"; off: {', '.join(off)}" if off else ""
        return f"<Doctor {'on' if self._enabled else 'off'} ({self.dialect}): {running}>"

    def disable(self, *rule_ids: str) -> None:
        """Switch rules off (an unknown id raises ValueError naming the known ones)."""
        self._disabled.update(self._known(rule_ids))
        self._deadline_stale = True

    def enable(self, *rule_ids: str) -> None:
        """Switch rules back on."""
        self._disabled.difference_update(self._known(rule_ids))
        self._deadline_stale = True

    def is_enabled(self, rule_id: str) -> bool:
        """True when ``rule_id`` runs."""
        return self.enabled and rule_id in self._known((rule_id,)) and rule_id not in self._disabled

    def _known(self, rule_ids: Iterable[str]) -> list[str]:
        # disable(["a", "b"]) as Session(doctor=["a", "b"]) takes them: one list is as good as several ids.
        ids = [r for group in rule_ids for r in (group if isinstance(group, (list, tuple, set)) else [group])]
        unknown = [repr(r) for r in ids if not isinstance(r, str) or r not in self.rules]
        if unknown:
            raise ValueError(f"unknown doctor rule {', '.join(unknown)}: the rules are {', '.join(self.rules)}")
        return ids

    @property
    def dialect(self) -> str:
        """The connection's dialect, ``"ga"`` or ``"beta"`` (set it when a new connection speaks another)."""
        return self._state.dialect

    @dialect.setter
    def dialect(self, value: str) -> None:
        self._state.dialect = value

    @property
    def errors_watched(self) -> bool:
        """True while the user's code reads server errors (a handler for ``error`` or ``*``): the unhandled-error
        rule stays quiet."""
        return self._state.errors_watched

    @errors_watched.setter
    def errors_watched(self, value: bool) -> None:
        self._state.errors_watched = bool(value)

    # ---------------------------------------------------------------- feeds

    def client_sent(self, event: dict[str, Any], now: float) -> list[Hint]:
        """A client event went out (as sent, with its ``event_id``)."""
        if not isinstance(event, dict):
            return []
        try:
            etype = event.get("type")
        except Exception:  # a mapping whose reads fail: no rule could read it either
            return []
        hints = self._run(self._for("client_sent", etype), lambda c: c.client_sent(event, now))
        with contextlib.suppress(Exception):  # a shape the state cannot fold: it keeps what it had
            self._state.client_sent(event, now)
        return hints

    def client_refused(self, event: Any, error: str, now: float) -> list[Hint]:
        """A client event was refused before sending (validation): ``error`` is the refusal's message."""
        return self._run(self._hooks["client_refused"], lambda c: c.client_refused(event, str(error), now))

    def server_received(self, event: Event, now: float) -> list[Hint]:
        """A server event arrived (parsed; ``event.cause`` is the client event an ``error`` names)."""
        if not isinstance(event, Event) or not isinstance(event.data, dict):
            return []
        checks = self._for("server_received", event.type)
        hints = self._run(checks, lambda c: c.server_received(event, now)) if checks else []
        try:
            if self._state.server_received(event, now):
                self._deadline_stale = True
        except Exception:  # a shape the state cannot fold: it keeps what it had
            self._deadline_stale = True
        return hints

    def input_level(self, dbfs: float, duration_ms: float, now: float) -> list[Hint]:
        """Microphone audio of ``duration_ms`` at level ``dbfs`` (RMS, dB full scale) was appended."""
        return self._run(self._hooks["input_level"], lambda c: c.input_level(float(dbfs), float(duration_ms), now))

    def playback(self, item_id: str, played_ms: float, playing: bool, now: float) -> list[Hint]:
        """Where the listener's playback of assistant audio is (a widget reports it). Without these reports the
        doctor estimates playback from the audio received, as if played in real time from its first delta."""
        if text(item_id) is not None and isinstance(played_ms, (int, float)) and math.isfinite(played_ms):
            self._safely(lambda: self._state.playback(item_id, float(played_ms), bool(playing), now))
        return []

    def handled(self, event_id: str) -> None:
        """The client event ``event_id`` was sent by a call that reports its error itself (``ask()``)."""
        if isinstance(event_id, str):
            self._state.handled[event_id] = None
            trim(self._state.handled, LIMIT * 4)

    def no_reply(self, call_id: str) -> None:
        """The output for ``call_id`` asks for no reply on purpose (a tool registered with ``reply=False``): the
        silence after it is wanted. Call it before sending that output."""
        if isinstance(call_id, str):
            self._state.no_reply[call_id] = None
            trim(self._state.no_reply, LIMIT * 4)

    def tick(self, now: float) -> list[Hint]:
        """Hints due by time alone (a silence after a mistake)."""
        return self._run(self._hooks["tick"], lambda c: c.tick(now))

    def next_deadline(self) -> float | None:
        """When (Unix seconds) :meth:`tick` could next raise a hint; None when nothing waits."""
        if not self.enabled:
            return None
        if self._deadline_stale:
            times = (c.deadline() for c in self._hooks["deadline"] if c.rule.id not in self._disabled)
            self._deadline = min((t for t in times if t is not None), default=None)
            self._deadline_stale = False
        return self._deadline

    def reset(self) -> None:
        """A new connection: forget the conversation's state (hints already raised stay raised)."""
        self._state.reset()
        for check in self._checks:
            check.reset()
        self._deadline_stale = True

    # ---------------------------------------------------------------- running the rules

    def _for(self, hook: str, etype: Any) -> list[Check]:
        """The checks of ``hook`` (server_received or client_sent) that read events of type ``etype``."""
        key = etype if isinstance(etype, str) else None  # (a list is no key: only the checks of every type)
        by_type = self._by_type[hook]
        checks = by_type.get(key)
        if checks is None:
            attr = "server_types" if hook == "server_received" else "client_types"
            checks = [c for c in self._hooks[hook] if getattr(c, attr) is None or key in getattr(c, attr)]
            if len(by_type) < LIMIT:  # a hostile server's made-up types: not kept
                by_type[key] = checks
        return checks

    def _run(self, checks: list[Check], hook: Callable[[Check], list[Hint]]) -> list[Hint]:
        """Every rule sees the feed (a disabled one too: its state stays accurate); only enabled rules' hints
        come out. A rule that stumbles on odd input is skipped for that feed."""
        out: list[Hint] = []
        if checks:  # a rule's timers or named mistakes may change
            self._deadline_stale = True
        for check in checks:
            try:
                hints = hook(check)
            except Exception:  # odd input a rule did not foresee: the doctor watches, it never breaks traffic
                continue
            if self.enabled and check.rule.id not in self._disabled:
                for hint in hints:
                    out.append(hint)
                    for event_id in hint.event_ids:
                        self._state.explained[event_id] = None
                trim(self._state.explained, LIMIT * 4)
        return out

    @staticmethod
    def _safely(fold: Callable[[], None]) -> None:
        with contextlib.suppress(Exception):  # a shape the state cannot fold: it keeps what it had
            fold()


# The hooks a check may implement (Check's own do nothing).
_HOOKS = ("client_sent", "client_refused", "server_received", "input_level", "tick", "deadline")


def _implementing(checks: list[Check], name: str) -> list[Check]:
    """The checks whose class overrides ``Check.<name>``, in order."""
    return [c for c in checks if getattr(type(c), name) is not getattr(Check, name)]
