"""The :class:`Doctor`: feeds in, hints out. (Contract only; the rules are being built.)"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..events import Event
from .hint import Hint, Rule


class Doctor:
    """Watches one session's events and raises :class:`Hint` objects.

    Every feed takes ``now`` (Unix seconds) and returns the hints it raised, in order; :meth:`tick` raises those
    that are due by time alone (a silence), and :meth:`next_deadline` says when to call it next. A rule is
    switched off with :meth:`disable` (all of them with ``enabled = False``). Feeds never raise.
    """

    def __init__(self, dialect: str = "ga", *, disabled: Iterable[str] = ()) -> None:
        self.dialect = dialect
        #: False: no rule runs (the feeds still keep the state, so switching back on is accurate).
        self.enabled = True
        #: True while the user's code reads server errors (a handler for ``error`` or ``*``): the unhandled-error
        #: rule stays quiet.
        self.errors_watched = False
        self.rules: dict[str, Rule] = {}
        self._disabled: set[str] = set()
        self.disable(*disabled)

    def disable(self, *rule_ids: str) -> None:
        """Switch rules off (an unknown id raises ValueError naming the known ones)."""
        self._disabled.update(self._known(rule_ids))

    def enable(self, *rule_ids: str) -> None:
        """Switch rules back on."""
        self._disabled.difference_update(self._known(rule_ids))

    def is_enabled(self, rule_id: str) -> bool:
        """True when ``rule_id`` runs."""
        return self.enabled and rule_id in self._known((rule_id,)) and rule_id not in self._disabled

    def _known(self, rule_ids: Iterable[str]) -> list[str]:
        ids = list(rule_ids)
        unknown = [r for r in ids if r not in self.rules]
        if unknown:
            raise ValueError(f"unknown doctor rule {', '.join(unknown)}: the rules are {', '.join(self.rules)}")
        return ids

    def client_sent(self, event: dict[str, Any], now: float) -> list[Hint]:
        """A client event went out (as sent, with its ``event_id``)."""
        return []

    def client_refused(self, event: Any, error: str, now: float) -> list[Hint]:
        """A client event was refused before sending (validation): ``error`` is the refusal's message."""
        return []

    def server_received(self, event: Event, now: float) -> list[Hint]:
        """A server event arrived (parsed; ``event.cause`` is the client event an ``error`` names)."""
        return []

    def input_level(self, dbfs: float, duration_ms: float, now: float) -> list[Hint]:
        """Microphone audio of ``duration_ms`` at level ``dbfs`` (RMS, dB full scale) was appended."""
        return []

    def playback(self, item_id: str, played_ms: float, playing: bool, now: float) -> list[Hint]:
        """Where the listener's playback of assistant audio is (a widget reports it). Without these reports the
        doctor estimates playback from the audio received, as if played in real time from its first delta."""
        return []

    def handled(self, event_id: str) -> None:
        """The client event ``event_id`` was sent by a call that reports its error itself (``ask()``)."""

    def tick(self, now: float) -> list[Hint]:
        """Hints due by time alone (a silence after a mistake)."""
        return []

    def next_deadline(self) -> float | None:
        """When (Unix seconds) :meth:`tick` could next raise a hint; None when nothing waits."""
        return None

    def reset(self) -> None:
        """A new connection: forget the conversation's state (hints already raised stay raised)."""
