"""What the status line and the notices say about the session's state: reconnecting, reconnected, expiring.

Pure functions of a local event's data (``rtwidget.state``, ``rtwidget.reconnected``, ``rtwidget.expiring``; see
:mod:`rtwidget.session.local_events`), so the words are tested without a connection. The bridge redacts them.
"""

from __future__ import annotations

import time
from typing import Any

from ..session.lifecycle import CLOSING, CONNECTING, OPEN
from ..session.local_events import CONNECTED
from ..session.reconnect import RECONNECTING

# The widget's ``status`` trait for each session state (docs/widget-contract.md). "open" reads "connected", as it
# did before the state machine; "idle" is left to whoever knows why (a failed connect says "error").
STATUS_OF_STATE = {
    CONNECTING: "connecting",
    OPEN: "connected",
    RECONNECTING: "reconnecting",
    CLOSING: "closing",
}


def _seconds(value: Any) -> str:
    try:
        return f"{float(value):g} s"
    except (TypeError, ValueError):
        return "? s"


def reconnecting_text(data: dict[str, Any]) -> str:
    """``reconnecting (attempt 2, in 1.5 s): <why>``."""
    why = data.get("why")
    head = f"reconnecting (attempt {data.get('attempt', '?')}, in {_seconds(data.get('delay_s'))})"
    return f"{head}: {why}" if why else head


def _short(reason: Any) -> str:
    """A reason's first clause: "audio without a transcript (turn on ...)" -> "audio without a transcript"."""
    return str(reason or "unknown").split(" (", 1)[0]


def reconnected_text(data: dict[str, Any]) -> tuple[str, str | None]:
    """The status line after a reconnect, and a notice listing what was not restored (None if everything was).

    ``reconnected: 6 items restored, 1 not restored (audio without a transcript), 2 queued sends sent``.
    """
    restored = int(data.get("restored") or 0)
    missing = [m for m in data.get("not_restored") or () if isinstance(m, dict)]
    queued = int(data.get("queued") or 0)
    line = f"reconnected: {restored} item{'' if restored == 1 else 's'} restored"
    if missing:
        reasons = list(dict.fromkeys(_short(m.get("reason")) for m in missing))
        line += f", {len(missing)} not restored ({'; '.join(reasons)})"
    if queued:
        line += f", {queued} queued send{'' if queued == 1 else 's'} sent"
    if data.get("lost_response"):
        line += ", the response in progress was lost"
    if not missing:
        return line, None
    listed = "; ".join(f"{m.get('role') or m.get('type')} item {m.get('item_id')}: {m.get('reason')}" for m in missing)
    return line, f"Reconnected, but {len(missing)} item(s) could not be restored: {listed}."


def expiring_text(data: dict[str, Any]) -> str:
    """The status line when the session nears its time limit, saying what happens next."""
    try:
        left = max(0, round(float(data.get("seconds_left") or 0)))
    except (TypeError, ValueError):
        left = 0
    head = f"the session ends in {left // 60}:{left % 60:02d} (its time limit)"
    if data.get("renew") == "auto":
        return f"{head}: renewing it (a new connection with the history) when no response is running"
    return f"{head}: start a new session then, or set session.renew = 'auto'"


def connected_at(session: Any, entries: list[Any]) -> float:
    """Unix time of the session's last ``rtwidget.connected`` log entry while it is connected, else 0."""
    if session.state not in STATUS_OF_STATE:
        return 0.0
    for entry in reversed(entries):
        if entry.type == CONNECTED:
            # Log times are monotonic seconds since the session was made.
            return float(time.time() - (time.monotonic() - session._t0 - entry.time))
    return 0.0
