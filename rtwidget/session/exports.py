"""A session's record, exported: the transcript (Markdown), the audio (a stereo WAV), the log (JSONL) and pandas
DataFrames of the events, the items and the turns.

The item audio comes from :mod:`.item_audio` (``session.item_audio``); the items from the conversation state (read
on the I/O thread); the events from ``session.log``. Every text export passes through
:func:`rtwidget.endpoints.redact`: no credential reaches a file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import endpoints
from ..audio import SAMPLE_RATE
from ..protocol.conversation import Item
from .item_audio import ItemAudio, ItemAudioMixin
from .local_events import LogEntry, ToolCallRecord
from .metrics import TurnMetrics

DATAFRAME_KINDS = ("events", "items", "turns")
_PANDAS_MISSING = 'to_dataframe() needs pandas: pip install "rtwidget[data]" (or pip install pandas)'


class ExportsMixin(ItemAudioMixin):
    """``export_transcript``, ``export_wav``, ``export_events``, ``to_dataframe``; built on the item audio
    (``session.item_audio`` and its bound ``audio_keep_s``, from :class:`.item_audio.ItemAudioMixin`)."""

    log: Any  # SessionLog
    tool_calls: list[ToolCallRecord]

    if TYPE_CHECKING:  # the session's (read on the I/O thread)

        @property
        def conversation(self) -> list[Item]: ...

    # ------------------------------------------------------------------------------------------ transcript

    def export_transcript(self, path: str | Path | None = None) -> str:
        """The conversation as Markdown: each item's time, role and words (text, else transcript), tool calls
        with their arguments and outputs, and where an assistant's audio was cut (the rest never heard). Written
        to ``path`` (UTF-8) when given; returned either way."""
        target = _target(path, "export_transcript", "transcript.md") if path is not None else None
        seen = _item_times(list(self.log))

        def markdown() -> list[str]:  # on the I/O thread, where the items are assembled
            lines = ["# Conversation", ""]
            for item in self.conversation:
                lines += [*_item_markdown(item, seen.get(item.id, self.item_audio.started_at(item.id))), ""]
            return lines

        lines = self._io.call_or_here(markdown)
        text = endpoints.redact("\n".join(lines).rstrip() + "\n")
        if target is not None:
            _write(target, text.encode("utf-8"), "export_transcript")
        return text

    # ------------------------------------------------------------------------------------------ audio

    def export_wav(self, path: str | Path) -> float:
        """Write the session's audio as a stereo WAV (PCM16, 24 kHz): the user on the left channel, the assistant
        on the right, each item placed at the time its audio began (a user item appended in runs seconds apart: each
        run where it was appended), an assistant item cut where it was truncated (the rest was never heard). The
        timeline starts with the earliest audio kept. Returns its duration in seconds."""
        target = _target(path, "export_wav", "session.wav")
        data, seconds = self._wav()
        _write(target, data, "export_wav")
        return seconds

    def wav_bytes(self) -> bytes:
        """The WAV :meth:`export_wav` writes, as bytes (the widget's download)."""
        return self._wav()[0]

    def _wav(self) -> tuple[bytes, float]:
        clips = self._io.call_or_here(self.item_audio.items)
        frames = stereo_timeline(clips)
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(2)
            wav.setsampwidth(2)
            wav.setframerate(SAMPLE_RATE)
            wav.writeframes(frames.astype("<i2").tobytes())
        return buffer.getvalue(), len(frames) / SAMPLE_RATE

    # ------------------------------------------------------------------------------------------ events

    def export_events(self, path: str | Path) -> int:
        """Write ``session.log`` as JSON Lines: one event a line, ``{"time", "direction", "type", "data"}``
        (audio as in the log: its size only). Returns the number of lines."""
        target = _target(path, "export_events", "events.jsonl")
        text, count = self._events_jsonl()
        _write(target, text.encode("utf-8"), "export_events")
        return count

    def events_jsonl(self) -> str:
        """The JSON Lines :meth:`export_events` writes, as text (the widget's download)."""
        return self._events_jsonl()[0]

    def _events_jsonl(self) -> tuple[str, int]:
        entries: list[LogEntry] = list(self.log)
        lines = [json.dumps(_event_row(e), default=str, ensure_ascii=False) for e in entries]
        return endpoints.redact("".join(line + "\n" for line in lines)), len(lines)

    # ------------------------------------------------------------------------------------------ dataframes

    def to_dataframe(self, kind: str = "events") -> Any:
        """A pandas DataFrame of the session: ``"events"`` (one row per log entry: time, direction, type, size,
        data), ``"items"`` (one per conversation item: its summary, when its audio began, how much was heard) or
        ``"turns"`` (one per response: latency and cost, from ``session.turn_metrics``). Needs pandas
        (``pip install "rtwidget[data]"``)."""
        if kind not in DATAFRAME_KINDS:
            raise ValueError(f"to_dataframe() takes one of {', '.join(map(repr, DATAFRAME_KINDS))}, not {kind!r}")
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(_PANDAS_MISSING) from None
        if kind == "events":
            rows = [_scrub(_event_row(e, size=True)) for e in list(self.log)]
            return pd.DataFrame(rows, columns=["time", "direction", "type", "size", "data"])
        if kind == "items":
            items = self._io.call_or_here(lambda: [(i.summary(), self.item_audio.get(i.id)) for i in self.conversation])
            return pd.DataFrame([_scrub(_item_row(s, a)) for s, a in items], columns=_ITEM_COLUMNS)
        metrics = self._io.call_or_here(lambda: list(getattr(self, "turn_metrics", []) or []))
        columns = [f.name for f in dataclasses.fields(TurnMetrics)]
        return pd.DataFrame([_scrub(dataclasses.asdict(m)) for m in metrics], columns=columns)


_ITEM_COLUMNS = [
    "id",
    "type",
    "role",
    "status",
    "text",
    "name",
    "call_id",
    "arguments",
    "output",
    "audio_ms",
    "truncated_at_ms",
    "audio_started_at",
    "heard_ms",
]


def _item_row(summary: dict[str, Any], audio: ItemAudio | None) -> dict[str, Any]:
    heard = None if audio is None else audio.duration_ms + audio.dropped_ms
    if audio is not None and audio.heard_ms is not None:
        heard = min(float(audio.heard_ms), heard or 0.0)
    return {**summary, "audio_started_at": audio.started_at if audio else None, "heard_ms": heard}


def _scrub(value: Any) -> Any:
    """``value`` with every string redacted (see :func:`rtwidget.endpoints.redact`), dicts and lists walked."""
    if isinstance(value, str):
        return endpoints.redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def _event_row(entry: LogEntry, *, size: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {"time": round(entry.time, 6), "direction": entry.direction, "type": entry.type}
    if size:
        row["size"] = entry.size
    row["data"] = entry.data
    return row


def stereo_timeline(clips: list[ItemAudio]) -> np.ndarray:
    """Frames ``(n, 2)`` int16: user clips mixed on the left, assistant clips (as heard) on the right, each run of
    a clip's audio at its time (``ItemAudio.runs``: a user item appended in runs seconds apart lies where each was
    appended), the timeline starting with the earliest audio."""
    runs = [
        (at, 0 if clip.role == "user" else 1, pcm)
        for clip in clips
        for at, pcm in clip.runs(clip.heard_pcm if clip.role == "assistant" else clip.pcm)
    ]
    if not runs:
        return np.zeros((0, 2), dtype=np.int16)
    origin = min(at for at, _, _ in runs)
    placed = [
        (round((at - origin) * SAMPLE_RATE), channel, np.frombuffer(pcm, dtype="<i2")) for at, channel, pcm in runs
    ]
    total = max(start + len(samples) for start, _, samples in placed)
    mix = np.zeros((total, 2), dtype=np.int32)  # overlapping clips add up, then clip to 16 bits
    for start, channel, samples in placed:
        mix[start : start + len(samples), channel] += samples
    return np.clip(mix, -32768, 32767).astype(np.int16)


# ---------------------------------------------------------------------------------------------- Markdown


def _item_times(entries: list[LogEntry]) -> dict[str, float]:
    """When each item was first seen in the log (the server's event naming it)."""
    seen: dict[str, float] = {}
    for entry in entries:
        if entry.direction != "server":
            continue
        item = entry.data.get("item")
        item_id = item.get("id") if isinstance(item, dict) else entry.data.get("item_id")
        if isinstance(item_id, str) and item_id not in seen:
            seen[item_id] = entry.time
    return seen


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--.-"
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes):02d}:{rest:04.1f}"


def _item_markdown(item: Item, at: float | None) -> list[str]:
    when = f"`{_clock(at)}`"
    if item.type == "function_call":
        return [f"{when} **tool call** `{item.name or '?'}` (call `{item.call_id}`)", "", _fenced(item.arguments)]
    if item.type == "function_call_output":
        return [f"{when} **tool output** (call `{item.call_id}`)", "", _fenced(item.output or "")]
    words = item.text.strip() or ("(audio, no transcript)" if item.audio_ms else "(empty)")
    lines = [f"{when} **{item.role or item.type}**: {words}"]
    if item.truncated_at_ms is not None:
        lines += ["", f"[cut at {item.truncated_at_ms / 1000:.1f} s: the rest was never heard]"]
    return lines


def _fenced(text: str) -> str:
    with contextlib.suppress(ValueError):  # arguments that are JSON, indented; anything else as it is
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return f"```\n{text}\n```"


# ---------------------------------------------------------------------------------------------- files


def _target(path: Any, method: str, example: str) -> Path:
    """``path`` as a Path to write, or a clear error naming the fix (not a path, a directory, no such folder)."""
    if not isinstance(path, (str, Path)) or not str(path):
        raise TypeError(f"{method}() needs a file path (str or pathlib.Path), not {path!r}: e.g. {method}({example!r})")
    target = Path(path).expanduser()
    if target.is_dir():
        raise IsADirectoryError(
            f"{method}(): {str(target)!r} is a directory; pass a file path, e.g. {str(target / example)!r}"
        )
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"{method}(): the folder {str(target.parent)!r} does not exist; create it first or choose another path"
        )
    return target


def _write(target: Path, content: bytes, method: str) -> None:
    try:
        target.write_bytes(content)
    except PermissionError:
        raise PermissionError(
            f"{method}(): cannot write {str(target)!r} (permission denied); choose a path you can write to"
        ) from None
    except OSError as exc:
        raise OSError(f"{method}(): cannot write {str(target)!r}: {exc.strerror or exc}; choose another path") from None


__all__ = ["DATAFRAME_KINDS", "ExportsMixin", "stereo_timeline"]
