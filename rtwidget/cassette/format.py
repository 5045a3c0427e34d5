"""The cassette format: one zip file holding a recorded Realtime session, and its reader :class:`Cassette`.

A cassette (format ``rtwidget-cassette``, version :data:`VERSION`; see ``docs/cassettes.md``) holds:

- ``meta.json``: the format and its version, rtwidget's version, when the recording started (Unix time), the
  endpoint's ``describe()`` (never its headers), the session's effective config (GA form) at the start and at the
  end, the audio streams (name, bytes, rate) and the counts of events;
- ``events.jsonl``: every wire event in both directions, one JSON object a line, in the order the session saw them:
  ``{"t": seconds from the start of recording, "dir": "client" | "server", "event": {...}}``, the event in GA form
  with each audio payload replaced by a reference ``{"$audio": stream, "offset": n, "bytes": m}``;
- ``local.jsonl``: the session's own ``rtwidget.*`` events (not on the wire), same shape with ``"dir": "local"``;
- ``<stream>.pcm``: raw PCM16 (24 kHz, mono, little-endian), stored once: ``mic`` (the audio the client sent),
  ``model`` (the model's ``response.output_audio.delta`` audio as received), ``server`` (any other audio a server
  event carried, e.g. an item's content; present only when some was seen).

Standard library only (and the wire's PCM numbers from the protocol core): the reader is what
``rtwidget serve --cassette`` and ``rtwidget.testing`` stand on.
"""

from __future__ import annotations

import base64
import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ..protocol.pcm import BYTES_PER_SECOND, SAMPLE_RATE

FORMAT = "rtwidget-cassette"
#: The version written; a reader opens this version and older ones, and refuses newer ones by name.
VERSION = 1
META = "meta.json"
EVENTS = "events.jsonl"
LOCAL = "local.jsonl"
PCM_SUFFIX = ".pcm"
#: Client audio (``input_audio_buffer.append``, ``input_audio`` parts of the items the client creates).
MIC = "mic"
#: The model's audio as received (``response.output_audio.delta``).
MODEL = "model"
#: Any other audio a server event carried (an item's content echoed back).
SERVER = "server"
STREAMS = (MIC, MODEL, SERVER)
#: The key of an audio reference in ``events.jsonl``: ``{"$audio": stream, "offset": n, "bytes": m}``.
AUDIO_REF = "$audio"
CLIENT, SERVER_DIR, LOCAL_DIR = "client", "server", "local"
DIRECTIONS = (CLIENT, SERVER_DIR, LOCAL_DIR)
#: The PCM every stream holds (the Realtime API's wire audio).
AUDIO_FORMAT = {"encoding": "pcm16le", "sample_rate": SAMPLE_RATE, "channels": 1}


class CassetteEvent(NamedTuple):
    """One recorded event: ``time`` (seconds from the start of recording), ``direction`` (``"client"``,
    ``"server"`` or ``"local"``) and the ``event`` (audio payloads as references; see :meth:`Cassette.with_audio`)."""

    time: float
    direction: str
    event: dict[str, Any]

    @property
    def type(self) -> str:
        """The event's ``type``."""
        return str(self.event.get("type", ""))


def is_audio_ref(value: Any) -> bool:
    """True for an audio reference ``{"$audio": stream, "offset": n, "bytes": m}``."""
    return isinstance(value, dict) and AUDIO_REF in value


@dataclass
class Cassette:
    """A cassette read back: open one with :meth:`Cassette.open`.

    ``meta`` (see the module docstring), ``events`` (the wire events, in order), ``local_events`` (the session's
    ``rtwidget.*`` events); ``audio(stream)`` gives a stream's whole PCM, ``with_audio(event)`` an event with its
    audio restored as base64 (as it went over the wire).
    """

    path: Path
    meta: dict[str, Any]
    events: list[CassetteEvent]
    local_events: list[CassetteEvent] = field(default_factory=list)
    _audio: dict[str, bytes] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Cassette:
        """Read the cassette at ``path`` (its events now, its audio on first use).

        Raises FileNotFoundError for a missing file, and ValueError naming the file for one that is not a
        cassette, or a cassette of a newer format version than this rtwidget reads.
        """
        where = Path(path)
        if not where.is_file():
            raise FileNotFoundError(f"no cassette at {str(where)!r}: record one with session.record(path)")
        try:
            with zipfile.ZipFile(where) as archive:
                meta = _read_meta(archive, where)
                events = _read_lines(archive, EVENTS, where)
                local = _read_lines(archive, LOCAL, where) if LOCAL in archive.namelist() else []
        except zipfile.BadZipFile:
            raise ValueError(
                f"{str(where)!r} is not a cassette (not a zip file): record one with session.record(path)"
            ) from None
        return cls(where, meta, events, local)

    @property
    def version(self) -> int:
        """The format version the file was written in."""
        return int(self.meta["version"])

    @property
    def duration(self) -> float:
        """Seconds from the start of recording to its end."""
        return float(self.meta.get("duration_s", self.events[-1].time if self.events else 0.0))

    @property
    def streams(self) -> list[str]:
        """The audio streams the file holds."""
        return list(self.meta.get("streams", {}))

    def audio(self, stream: str = MIC) -> bytes:
        """The whole PCM16 of ``stream`` (``"mic"``, ``"model"`` or ``"server"``); empty when it has none."""
        if stream not in self._audio:
            if stream not in STREAMS and stream not in self.streams:
                raise ValueError(f"no audio stream {stream!r} in a cassette: use one of {', '.join(STREAMS)}")
            with zipfile.ZipFile(self.path) as archive:
                name = stream + PCM_SUFFIX
                self._audio[stream] = archive.read(name) if name in archive.namelist() else b""
        return self._audio[stream]

    def audio_of(self, ref: dict[str, Any]) -> bytes:
        """The PCM16 an audio reference points to."""
        start = int(ref["offset"])
        return self.audio(str(ref[AUDIO_REF]))[start : start + int(ref["bytes"])]

    def with_audio(self, event: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``event`` with every audio reference replaced by its base64 (the event as on the wire)."""
        restored: dict[str, Any] = _restore(event, self)
        return restored

    def event_with_audio(self, index: int) -> dict[str, Any]:
        """``events[index]``'s event with its audio restored as base64."""
        return self.with_audio(self.events[index].event)

    def client_events(self) -> Iterator[CassetteEvent]:
        """The events the client sent, in order."""
        return (e for e in self.events if e.direction == CLIENT)

    def server_events(self) -> Iterator[CassetteEvent]:
        """The events the server sent, in order."""
        return (e for e in self.events if e.direction == SERVER_DIR)

    def __repr__(self) -> str:
        streams = self.meta.get("streams", {})
        audio = ", ".join(f"{name} {info.get('bytes', 0) / BYTES_PER_SECOND:.1f} s" for name, info in streams.items())
        return (
            f"<rtwidget Cassette {str(self.path)!r}: {len(self.events)} wire events, "
            f"{len(self.local_events)} local, {self.duration:.1f} s; audio {audio or 'none'}>"
        )

    def types(self, direction: str | None = None) -> list[str]:
        """The wire events' types in order (of one direction, if given)."""
        return [e.type for e in self.events if direction is None or e.direction == direction]


#: What names a cassette: a :class:`Cassette`, or its path.
CassetteSource = Cassette | str | os.PathLike[str]


def load_cassette(cassette: CassetteSource) -> Cassette:
    """A :class:`Cassette` (opened when given a path; FileNotFoundError / ValueError name the file)."""
    return cassette if isinstance(cassette, Cassette) else Cassette.open(cassette)


def _restore(value: Any, cassette: Cassette) -> Any:
    if isinstance(value, dict):
        if AUDIO_REF in value:
            return base64.b64encode(cassette.audio_of(value)).decode("ascii")
        return {k: _restore(v, cassette) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v, cassette) for v in value]
    return value


def _read_meta(archive: zipfile.ZipFile, where: Path) -> dict[str, Any]:
    if META not in archive.namelist():
        raise ValueError(f"{str(where)!r} is not a cassette (no {META}): record one with session.record(path)")
    meta = json.loads(archive.read(META))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{str(where)!r} is not an {FORMAT} file (its {META} names another format)")
    version = meta.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ValueError(
            f"{str(where)!r} is a cassette of format version {version!r}; this rtwidget reads versions up to "
            f"{VERSION}: upgrade rtwidget to read it"
        )
    return meta


def _read_lines(archive: zipfile.ZipFile, name: str, where: Path) -> list[CassetteEvent]:
    if name not in archive.namelist():
        raise ValueError(f"{str(where)!r} is not a whole cassette (no {name})")
    out: list[CassetteEvent] = []
    for number, line in enumerate(archive.read(name).decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(CassetteEvent(float(row["t"]), str(row["dir"]), dict(row["event"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{str(where)!r}: {name} line {number} is not a recorded event ({exc})") from None
    return out
