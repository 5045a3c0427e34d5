"""The widget's event log: session log entries -> bounded rows, with streams of deltas merged into one row.

A realtime session emits tens of deltas per second per item (audio, transcript, text, arguments) and the
microphone appends ten times a second. One row per event would drown the log, so a *run* of such events of one
type and one item merges into one row with a count, the summed size and the assembled text. A run ends when any
other event is logged. Rows are dicts in the shape of ``docs/widget-contract.md`` ("Row"), ready to send.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from ..audio import BYTES_PER_SECOND
from ..endpoints import redact
from ..session import HINT, error_info

# Events that come in streams: merged into one row per run and item.
_STREAMS = ("input_audio_buffer.append",)
# How long a string in a row's ``data`` may be before it is cut (rows are for reading, not replaying).
MAX_STRING = 1000
_AUDIO_MARK = re.compile(r"^<(\d+) bytes>$")


def is_stream(etype: str) -> bool:
    """True for event types that arrive as a stream of small pieces (deltas, mic appends)."""
    return etype.endswith(".delta") or etype in _STREAMS


def clip(value: Any, limit: int = MAX_STRING) -> Any:
    """A copy of ``value`` with every string longer than ``limit`` cut, saying how long it was."""
    if isinstance(value, str):
        return value if len(value) <= limit else f"{value[:limit]}… ({len(value)} characters)"
    if isinstance(value, dict):
        return {k: clip(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [clip(v, limit) for v in value]
    return value


def _audio_bytes(data: dict[str, Any]) -> int:
    """Bytes of audio an elided event carried (the log keeps ``"<N bytes>"`` in place of base64)."""
    for key in ("delta", "audio"):
        mark = data.get(key)
        if isinstance(mark, str):
            found = _AUDIO_MARK.match(mark)
            if found:
                return int(found.group(1))
    return 0


def summary(etype: str, data: dict[str, Any]) -> str:
    """A few words that say what a non-stream event was about, for the row's text column."""
    if etype == "error":
        info = error_info(data.get("error"))
        return str(info) if info.code or info.type else info.message
    item = data.get("item")
    if isinstance(item, dict):
        what = item.get("role") or item.get("type") or ""
        name = item.get("name")
        return f"{what} {name}" if name else str(what)
    response = data.get("response")
    if isinstance(response, dict) and response.get("status"):
        return str(response.get("status"))
    if etype == HINT:  # the doctor's hint: what it saw
        return str(data.get("what") or "")
    if etype.startswith("rtwidget.tool."):
        return str(data.get("name") or "")
    if "audio_end_ms" in data:
        return f"at {data['audio_end_ms']} ms"
    return ""


class RowLog:
    """Bounded rows of the event log; :meth:`add` returns the row it created or changed.

    ``limit`` rows are kept; older ones are counted in :attr:`dropped`, not kept.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.rows: deque[dict[str, Any]] = deque(maxlen=limit)
        self.dropped = 0
        self._next_id = 1
        # Open runs: (direction, type, item_id) -> the row a stream event of that key merges into.
        self._runs: dict[tuple[str, str, str], dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def add(
        self,
        t: float,
        direction: str,
        etype: str,
        size: int,
        data: dict[str, Any],
        cause_id: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Log one event; returns ``(row, created)``: a new row, or the existing run row it merged into."""
        item_id = str(data.get("item_id") or "")
        if is_stream(etype):
            key = (direction, etype, item_id)
            row = self._runs.get(key)
            if row is not None:
                row["count"] += 1
                row["size"] += size
                row["data"] = clip(data)
                self._extend_text(row, data)
                return row, False
        else:
            self._runs.clear()  # any other event ends every open run
        row = {
            "id": self._next_id,
            "t": round(t, 4),
            "dir": direction,
            "type": etype,
            "size": size,
            "count": 1,
            "text": "" if is_stream(etype) else summary(etype, data),
            "item_id": item_id or None,
            "event_id": data.get("event_id") if direction == "client" else None,
            "cause_id": cause_id,
            "data": clip(data),
        }
        self._next_id += 1
        if is_stream(etype):
            row["_audio"] = 0
            self._extend_text(row, data)
            self._runs[(direction, etype, item_id)] = row
        if len(self.rows) == self.rows.maxlen:
            self.dropped += 1
        self.rows.append(row)
        return row, True

    @staticmethod
    def _extend_text(row: dict[str, Any], data: dict[str, Any]) -> None:
        audio = _audio_bytes(data)
        if audio:
            row["_audio"] += audio
            row["text"] = f"{row['_audio'] / BYTES_PER_SECOND:.2f} s of audio"
        elif isinstance(data.get("delta"), str):
            row["text"] += data["delta"]

    def last(self, n: int) -> list[dict[str, Any]]:
        """The newest ``n`` rows, oldest first."""
        if n >= len(self.rows):
            return list(self.rows)
        return list(self.rows)[-n:]

    @property
    def total(self) -> int:
        """Rows ever created (kept + dropped)."""
        return self._next_id - 1


def public(row: dict[str, Any]) -> dict[str, Any]:
    """The row as sent to the browser (without bookkeeping keys)."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


def redacted(value: Any) -> Any:
    """A copy of ``value`` (dicts and lists of JSON values) with every string passed through ``redact``."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value
