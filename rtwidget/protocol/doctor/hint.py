"""What the doctor says: a :class:`Hint` (one mistake seen, what to do) and a :class:`Rule` (what it watches for)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Hint levels, mildest first.
LEVELS = ("info", "warning", "error")
# Where each rule is explained: this page, at the rule id's anchor (docs/doctor.md#silent-after-output).
DOCS_PAGE = "docs/doctor.md"


@dataclass(frozen=True)
class Rule:
    """A rule of the doctor: its id (kebab-case, stable: used to switch it off), level and one-line title."""

    id: str
    level: str
    title: str

    @property
    def url(self) -> str:
        """The rule's page in the docs."""
        return f"{DOCS_PAGE}#{self.id}"


@dataclass(frozen=True)
class Hint:
    """One mistake the doctor saw: ``what`` happened (one sentence), what to do (``fix``, one sentence), the
    ``event_ids`` involved (client and server), when (``time``, Unix seconds) and where the rule is explained."""

    rule: str
    level: str
    what: str
    fix: str
    event_ids: tuple[str, ...] = ()
    time: float = 0.0
    url: str = field(default="")

    def to_dict(self) -> dict[str, Any]:
        """The hint as plain JSON-able data (the ``rtwidget.hint`` event's fields)."""
        return {
            "rule": self.rule,
            "level": self.level,
            "what": self.what,
            "fix": self.fix,
            "event_ids": list(self.event_ids),
            "time": self.time,
            "url": self.url,
        }
