"""The doctor's hints in the widget: each ``rtwidget.hint`` event becomes a notice (what happened, what to do).

A hint is also a logged local event, so the event log shows it as a row where it happened (its summary is the
hint's ``what``: :func:`~.eventlog.summary`) and the flow view as a mark on the client lane; the browser colours
both by the hint's level. The notice is the part that asks for attention, so the same rule's notice is shown at
most once per ``every_s`` seconds (a flow that repeats a mistake in a loop does not bury the widget in notices);
every hint still has its row. Rules whose news the widget already tells in its own notice (a server error, the
session's end nearing) add no second notice, only their row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: The least time (seconds) between two notices of the same rule.
HINT_NOTICE_EVERY_S = 5.0
#: Rules the widget has its own notice for (the bridge's server-error and expiring notices): row only.
SHOWN_ELSEWHERE = frozenset({"unhandled-error", "session-expiring"})
# Hint levels -> notice levels (the same words; anything else reads as a warning).
_NOTICE_LEVEL = {"info": "info", "warning": "warning", "error": "error"}


def hint_notice_text(data: dict[str, Any]) -> str:
    """The notice for a hint's data: who speaks (the doctor, and which rule), what happened and what to do."""
    fix = data.get("fix")
    return f"Doctor ({data.get('rule') or '?'}): {data.get('what') or ''}{' Fix: ' + fix if fix else ''}".strip()


class HintNotices:
    """Turns ``rtwidget.hint`` event data into notices through ``notice(level, text)``, one per rule per
    ``every_s`` seconds (``held``: how many were not shown as notices)."""

    def __init__(
        self,
        notice: Callable[[str, str], None],
        every_s: float = HINT_NOTICE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._notice = notice
        self.every_s = every_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self.held = 0

    def __call__(self, data: dict[str, Any]) -> None:
        """One hint (its event's data)."""
        rule = str(data.get("rule") or "")
        if rule in SHOWN_ELSEWHERE:
            return
        now = self._clock()
        last = self._last.get(rule)
        if last is not None and now - last < self.every_s:
            self.held += 1
            return
        self._last[rule] = now
        self._notice(_NOTICE_LEVEL.get(str(data.get("level")), "warning"), hint_notice_text(data))
