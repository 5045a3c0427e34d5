"""The audio of each conversation item, kept in the kernel: what the user said and what the assistant said.

Fed by a session tap (see :mod:`.taps`), on the I/O thread, with each event's full data:

- user audio: the microphone's ``input_audio_buffer.append`` audio is held until the server commits it; the
  committed item (``input_audio_buffer.committed``) takes the audio between ``speech_started`` and
  ``speech_stopped`` when the server's VAD measured it (on the connection's cumulative audio timeline), else all
  the audio appended since the last commit. ``input_audio`` content sent with ``conversation.item.create`` is
  kept for the item the server adds for it.
- assistant audio: ``response.output_audio.delta`` by ``item_id``; ``conversation.item.truncated`` marks what was
  heard (``heard_ms``), the audio is kept whole.

Each item's audio is PCM16 mono at 24 kHz with ``started_at``: the session time (seconds since the session was
created, as ``LogEntry.time``) its audio began, and ``spans``: where each run of it goes on the session's timeline.
A user item's audio may have been appended in runs seconds apart (a script sending utterances with
``send_audio(..., commit=False)``, the VAD's prefix padding reaching back into the send before): each contiguous
run of appends is placed when it was appended. An assistant item is one run from its first delta (deltas arrive
faster than real time and are played back to back: as heard). Bounded: at most ``keep_s`` seconds in all
(default 30 minutes), the oldest audio dropped first and counted in ``dropped_ms``.

The bytes are not in RAM: they go to anonymous temporary files (see :mod:`.audio_spool`; the disk holds the kept
audio plus at most one 16 MB segment, the files closed when the store is collected with its session), each item
holding only where its audio is; ``get`` and ``items`` read it back. The tap writes on the I/O thread while a
user's thread may read: a lock guards both.
"""

from __future__ import annotations

import binascii
import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..audio import BYTES_PER_MS, BYTES_PER_SAMPLE, SAMPLES_PER_MS
from .audio_spool import AudioSpool
from .local_events import CONNECTED, LogEntry
from .taps import pcm_of

if TYPE_CHECKING:
    from .._loopthread import LoopThread

#: The default bound of the kept audio, in seconds (30 minutes).
AUDIO_KEEP_S = 1800.0

_DELTAS = ("response.output_audio.delta", "response.audio.delta")
_ADDED = ("conversation.item.added", "conversation.item.created")
_SESSION = ("session.created", "session.updated")
# With turn detection on, audio appended while nobody speaks belongs to no item until the VAD says where speech
# began (a little before it says so): only the last seconds of it are held.
PRE_SPEECH_S = 10.0
#: An append that comes at most this late after the audio before it would have ended (played from the run's start
#: in real time) continues that run: a live microphone's jitter makes no gap; a longer pause starts a new run.
JOIN_S = 0.2
_SAMPLE_RATE = SAMPLES_PER_MS * 1000


def check_keep_s(value: object) -> float:
    """``value`` as a bound in seconds, or TypeError / ValueError naming the fix."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"audio_keep_s must be a number of seconds, not {value!r}: e.g. audio_keep_s=1800")
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"audio_keep_s must be a finite number of seconds >= 0, not {value!r}: e.g. 1800")
    return float(value)


@dataclass(frozen=True)
class ItemAudio:
    """A copy of one item's audio: ``pcm`` (PCM16 mono, 24 kHz), ``role`` (``"user"`` or ``"assistant"``),
    ``started_at`` (session seconds at which the kept audio begins: its first sample's), ``heard_ms`` (for an
    assistant item truncated by ``conversation.item.truncated``: how much of it was heard, from the item's start;
    None when not cut), ``dropped_ms`` (audio of its start dropped by the store's bound) and ``spans``: where its
    audio lies on the session's timeline, ``(session seconds, first sample in pcm, samples)`` for each run of it
    appended at one go (empty: one run from ``started_at``; see :meth:`runs`)."""

    item_id: str
    role: str
    pcm: bytes
    started_at: float
    heard_ms: int | None = None
    dropped_ms: float = 0.0
    spans: tuple[tuple[float, int, int], ...] = ()

    def runs(self, pcm: bytes | None = None) -> list[tuple[float, bytes]]:
        """``(session seconds, audio)`` of each run of ``pcm`` (default: all of it; e.g. ``heard_pcm``) where it
        goes on the session's timeline."""
        pcm = self.pcm if pcm is None else pcm
        spans = self.spans or ((self.started_at, 0, len(pcm) // BYTES_PER_SAMPLE),)
        found = [(at, pcm[first * BYTES_PER_SAMPLE : (first + n) * BYTES_PER_SAMPLE]) for at, first, n in spans]
        return [(at, run) for at, run in found if run]

    @property
    def duration_ms(self) -> float:
        """The kept audio's length in ms."""
        return len(self.pcm) / BYTES_PER_MS

    @property
    def heard_pcm(self) -> bytes:
        """The audio as it was heard: cut at ``heard_ms`` when the item was truncated, else all of it."""
        if self.heard_ms is None:
            return self.pcm
        keep = int(max(0.0, self.heard_ms - self.dropped_ms) * SAMPLES_PER_MS) * BYTES_PER_SAMPLE
        return self.pcm[:keep]


class _Entry:
    __slots__ = ("dropped_ms", "heard_ms", "places", "role", "size", "spans")

    def __init__(self, role: str) -> None:
        self.role = role
        self.spans: deque[list[int]] = deque()  # [offset, length] of its audio in the spool, in order
        self.places: deque[list[float]] = deque()  # [session time, samples] of each run of it, in order
        self.size = 0
        self.heard_ms: int | None = None
        self.dropped_ms = 0.0

    @property
    def started_at(self) -> float:
        return self.places[0][0]

    def timeline(self) -> tuple[tuple[float, int, int], ...]:
        """The public ``ItemAudio.spans``: each run's time, first sample and samples."""
        spans, first = [], 0
        for at, samples in self.places:
            spans.append((at, first, int(samples)))
            first += int(samples)
        return tuple(spans)

    def add(self, offset: int, length: int) -> None:
        last = self.spans[-1] if self.spans else None
        if last is not None and last[0] + last[1] == offset:  # contiguous (the usual case): one span grows
            last[1] += length
        else:
            self.spans.append([offset, length])
        self.size += length

    def cut(self, length: int, spool: AudioSpool) -> None:
        """Release the first ``length`` bytes (its first sample now later on the timeline)."""
        self.size -= length
        drop = length // BYTES_PER_SAMPLE
        while drop > 0 and self.places:
            place = self.places[0]
            take = min(drop, int(place[1]))
            place[0] += take / _SAMPLE_RATE
            place[1] -= take
            drop -= take
            if not place[1] and len(self.places) > 1:
                self.places.popleft()
        while length > 0:
            span = self.spans[0]
            take = min(length, span[1])
            spool.release(span[0], take)
            span[0] += take
            span[1] -= take
            length -= take
            if not span[1]:
                self.spans.popleft()


class ItemAudioStore:
    """Per-item audio (see the module's docstring). ``tap`` runs on the I/O thread; ``get``, ``items`` and the
    counters may be read from any thread (they copy, under the store's lock)."""

    def __init__(self, keep_s: float = AUDIO_KEEP_S, spool: AudioSpool | None = None) -> None:
        self._keep_s = check_keep_s(keep_s)
        # Re-entrant: a warning logged under it (the spool's disk failing) may reach a handler that logs an event.
        self._lock = threading.RLock()
        #: Where the audio's bytes are (temporary files; see .audio_spool).
        self.spool = spool if spool is not None else AudioSpool()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        #: Audio dropped to stay within ``keep_s``, in ms.
        self.dropped_ms = 0.0
        # The microphone's audio not yet committed, on the connection's cumulative timeline (in samples).
        self._pending = bytearray()
        self._pending_start = 0  # timeline sample of _pending[0]
        self._chunks: deque[tuple[int, float]] = deque()  # (timeline sample, session time) of each append
        self._speech: dict[str, list[int]] = {}  # item id -> [start, end] samples, measured by the server's VAD
        self._commits: deque[int] = deque()  # where each commit the client sent ends (timeline samples)
        self._created: deque[tuple[float, bytes]] = deque()  # input_audio sent in item.create without an id
        self._vad = True  # the server's turn detection is on (the API's default), from session.created/updated

    # ------------------------------------------------------------------------------------------ reading

    @property
    def keep_s(self) -> float:
        """The bound in seconds of audio kept in all; lowering it drops the oldest audio now."""
        return self._keep_s

    @keep_s.setter
    def keep_s(self, value: float) -> None:
        keep_s = check_keep_s(value)
        with self._lock:
            self._keep_s = keep_s
            self._enforce()

    @property
    def kept_ms(self) -> float:
        """Audio kept, in ms (all items)."""
        return self._bytes / BYTES_PER_MS

    def get(self, item_id: str) -> ItemAudio | None:
        """A copy of the audio of item ``item_id``, or None (no audio seen for it, or all of it dropped)."""
        with self._lock:
            entry = self._entries.get(item_id)
            return None if entry is None else self._copy(item_id, entry)

    def started_at(self, item_id: str) -> float | None:
        """When the kept audio of item ``item_id`` began (session seconds), or None."""
        with self._lock:
            entry = self._entries.get(item_id)
            return None if entry is None else entry.started_at

    def items(self) -> list[ItemAudio]:
        """Copies of every item's audio, oldest first."""
        with self._lock:
            return [self._copy(item_id, entry) for item_id, entry in self._entries.items()]

    def _copy(self, item_id: str, entry: _Entry) -> ItemAudio:
        pcm = b"".join(self.spool.read(offset, length) for offset, length in entry.spans)
        at = entry.started_at
        return ItemAudio(item_id, entry.role, pcm, at, entry.heard_ms, entry.dropped_ms, entry.timeline())

    def __len__(self) -> int:
        return len(self._entries)

    # ------------------------------------------------------------------------------------------ the tap

    def tap(self, entry: LogEntry, data: dict[str, Any]) -> None:
        """A session tap: take the audio of ``data`` (see the module's docstring)."""
        with self._lock:
            self._take(entry, data)

    def _take(self, entry: LogEntry, data: dict[str, Any]) -> None:
        etype = entry.type
        if etype in _DELTAS and entry.direction == "server":
            self._add(str(data.get("item_id")), "assistant", entry.time, _pcm(data.get("delta")))
        elif etype == "input_audio_buffer.append" and entry.direction == "client":
            self._append_mic(entry.time, _pcm(data.get("audio")))
        elif etype in _SESSION and entry.direction == "server":
            self._vad = _turn_detection_on(data, self._vad)
        elif entry.direction == "server":
            self._server(etype, data)
        elif etype == "conversation.item.create":
            self._item_create(entry.time, data.get("item"))
        elif etype == "input_audio_buffer.commit":  # the server's answer comes later: audio may be appended meanwhile
            self._commits.append(self._pending_end)
        elif etype == "input_audio_buffer.clear":
            self._consume(self._pending_end)
        elif etype == CONNECTED:  # a new connection: its audio timeline starts at zero
            self._pending.clear()
            self._chunks.clear()
            self._speech.clear()
            self._commits.clear()
            self._pending_start = 0

    def _server(self, etype: str, data: dict[str, Any]) -> None:
        item_id = data.get("item_id")
        if etype == "input_audio_buffer.committed" and isinstance(item_id, str):
            self._committed(item_id)
        elif etype == "input_audio_buffer.speech_started" and isinstance(item_id, str):
            start = _ms(data.get("audio_start_ms"))
            if start is not None:
                self._speech[item_id] = [start * SAMPLES_PER_MS, -1]
                if not self._commits:  # the audio before the speech is in no item
                    self._consume(start * SAMPLES_PER_MS)
        elif etype == "input_audio_buffer.speech_stopped" and item_id in self._speech:
            end = _ms(data.get("audio_end_ms"))
            if end is not None:
                self._speech[str(item_id)][1] = end * SAMPLES_PER_MS
        elif etype == "input_audio_buffer.cleared":
            self._consume(self._pending_end)
            self._speech.clear()
        elif etype == "error" and self._commits and "commit" in str((data.get("error") or {}).get("code")):
            self._commits.popleft()  # a commit refused (too little audio): the buffer stays as it was
        elif etype == "conversation.item.truncated" and isinstance(item_id, str) and item_id in self._entries:
            end = _ms(data.get("audio_end_ms"))
            self._entries[item_id].heard_ms = None if end is None else max(0, end)
        elif etype in _ADDED and self._created:
            item = data.get("item")
            if isinstance(item, dict) and _input_audio(item) is not None and item.get("id") not in self._entries:
                started_at, pcm = self._created.popleft()
                self._add(str(item.get("id")), "user", started_at, pcm)

    # ------------------------------------------------------------------------------------------ user audio

    @property
    def _pending_end(self) -> int:
        return self._pending_start + len(self._pending) // BYTES_PER_SAMPLE

    def _append_mic(self, time: float, pcm: bytes) -> None:
        self._chunks.append((self._pending_end, time))
        self._pending += pcm
        if self._vad and not self._commits and not self._speech:
            self._consume(self._pending_end - int(PRE_SPEECH_S * _SAMPLE_RATE))  # silence between turns
            return
        # Audio not committed yet (a microphone left open) is bounded like the rest, and counted when dropped.
        excess = (len(self._pending) - int(self._keep_s * 1000 * BYTES_PER_MS)) // BYTES_PER_SAMPLE
        if excess > 0:
            self._consume(self._pending_start + excess)
            self.dropped_ms += excess / SAMPLES_PER_MS

    def _committed(self, item_id: str) -> None:
        commit_end = self._commits.popleft() if self._commits else self._pending_end
        start, end = self._speech.pop(item_id, [self._pending_start, commit_end])
        start = max(start, self._pending_start)
        end = self._pending_end if end < 0 else min(end, self._pending_end)
        runs = self._runs(start, end)
        pcm = bytes(self._pending[(start - self._pending_start) * 2 : max(0, end - self._pending_start) * 2])
        self._consume(max(start, end))
        if pcm:
            self._add(item_id, "user", runs[0][0], pcm, runs)

    def _item_create(self, time: float, item: Any) -> None:
        pcm = _input_audio(item) if isinstance(item, dict) and item.get("role") == "user" else None
        if not pcm:
            return
        item_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(item_id, str) and item_id:
            if item_id not in self._entries:  # (a reconnect replays items the store holds already)
                self._add(item_id, "user", time, pcm)
        else:  # the server names it in conversation.item.added
            self._created.append((time, pcm))

    def _runs(self, start: int, end: int) -> list[list[float]]:
        """``[session time, samples]`` of each contiguous run of the appends holding timeline samples ``start`` to
        ``end``: an append joins the run before it unless it came more than ``JOIN_S`` after that run's audio would
        have ended; a run begins when its first sample was appended (its append's time, plus its place in it)."""
        runs: list[list[float]] = []
        chunks = list(self._chunks)
        for index, (first, time) in enumerate(chunks):
            last = chunks[index + 1][0] if index + 1 < len(chunks) else self._pending_end
            low, high = max(first, start), min(last, end)
            if low >= high:
                continue
            at = time + (low - first) / _SAMPLE_RATE
            if runs and at <= runs[-1][0] + runs[-1][1] / _SAMPLE_RATE + JOIN_S:
                runs[-1][1] += high - low
            else:
                runs.append([at, high - low])
        return runs

    def _consume(self, sample: int) -> None:
        """Drop the pending audio before timeline sample ``sample``."""
        cut = min(len(self._pending) // BYTES_PER_SAMPLE, max(0, sample - self._pending_start))
        del self._pending[: cut * BYTES_PER_SAMPLE]
        self._pending_start += cut
        while len(self._chunks) > 1 and self._chunks[1][0] <= self._pending_start:
            self._chunks.popleft()

    # ------------------------------------------------------------------------------------------ keeping

    def _add(self, item_id: str, role: str, time: float, pcm: bytes, runs: list[list[float]] | None = None) -> None:
        """Keep ``pcm`` for the item: at ``runs`` (``[time, samples]`` each) on the timeline, else as one run from
        ``time`` (or, for an item begun already, right after its audio: an assistant's deltas, as heard)."""
        if not pcm:
            return
        if self._keep_s * 1000 * BYTES_PER_MS < BYTES_PER_SAMPLE:  # keeps nothing: counted, never written
            self.dropped_ms += len(pcm) / BYTES_PER_MS
            return
        entry = self._entries.get(item_id)
        if entry is None:
            entry = self._entries[item_id] = _Entry(role)
        if runs is None and entry.places:
            entry.places[-1][1] += len(pcm) // BYTES_PER_SAMPLE
        else:
            entry.places.extend([list(run) for run in runs or [[time, len(pcm) // BYTES_PER_SAMPLE]]])
        entry.add(self.spool.append(pcm), len(pcm))
        self._bytes += len(pcm)
        self._enforce()

    def _enforce(self) -> None:
        """Drop the oldest audio beyond ``keep_s`` (from the front of the oldest items), counting it."""
        excess = self._bytes - int(self._keep_s * 1000 * BYTES_PER_MS)
        while excess > 0 and self._entries:
            item_id, entry = next(iter(self._entries.items()))
            cut = min(entry.size, excess + excess % BYTES_PER_SAMPLE)
            entry.cut(cut, self.spool)
            self._bytes -= cut
            excess -= cut
            entry.dropped_ms += cut / BYTES_PER_MS
            self.dropped_ms += cut / BYTES_PER_MS
            if not entry.size:
                del self._entries[item_id]


class ItemAudioMixin:
    """The session's item audio: ``session.item_audio`` (an :class:`ItemAudioStore`) and its bound
    ``audio_keep_s``."""

    item_audio: ItemAudioStore
    _io: LoopThread

    @property
    def audio_keep_s(self) -> float:
        """Seconds of item audio the kernel keeps (default 1800: the last 30 minutes); settable, lowering it drops
        the oldest audio (counted in ``session.item_audio.dropped_ms``)."""
        return self.item_audio.keep_s

    @audio_keep_s.setter
    def audio_keep_s(self, value: float) -> None:
        self._io.call_or_here(lambda: setattr(self.item_audio, "keep_s", value))


def _pcm(text: Any) -> bytes:
    """Base64 audio as bytes (decoded once for all taps); nothing for what is not (a malformed event is the
    protocol's business, not ours)."""
    if not isinstance(text, str) or not text:
        return b""
    try:
        pcm = pcm_of(text)
    except (binascii.Error, ValueError):
        return b""
    return pcm[: len(pcm) - len(pcm) % BYTES_PER_SAMPLE]


def _input_audio(item: dict[str, Any]) -> bytes | None:
    """The ``input_audio`` content of an item dict: its audio (possibly empty), or None when it has none."""
    content = item.get("content")
    parts = [p for p in content if isinstance(p, dict)] if isinstance(content, list) else []
    found = [p for p in parts if p.get("type") == "input_audio"]
    return b"".join(_pcm(p.get("audio")) for p in found) if found else None


def _turn_detection_on(data: dict[str, Any], was: bool) -> bool:
    """Whether a ``session.created`` / ``session.updated`` says turn detection is on (GA or beta shape)."""
    session = data.get("session")
    session = session if isinstance(session, dict) else {}
    audio_in = (session.get("audio") or {}).get("input") if isinstance(session.get("audio"), dict) else None
    holder = audio_in if isinstance(audio_in, dict) and "turn_detection" in audio_in else session
    return isinstance(holder.get("turn_detection"), dict) if "turn_detection" in holder else was


def _ms(value: Any) -> int | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return int(value) if ok else None
