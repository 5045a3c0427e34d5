"""One known session recorded against the local server, for the round-trip and export tests to share.

:func:`record_full_session` records, under server VAD and at the local server's realtime pace (so the model's
audio is still playing when the user speaks over it):

1. a typed message, answered (``ask``);
2. speech (``send_audio(..., commit=False)``: appended, heard by the server's VAD), answered;
3. a tool call: ``get_weather`` registered in Python, called by the local brain, its output sent, answered;
4. a barge-in: a typed request for a long answer, and while its audio plays the user speaks again: the server
   cancels the response (``turn_detected``), the client truncates the item at what was "heard", and the speech is
   answered.

It returns a :class:`RecordedSession`: the cassette's path, the microphone audio as sent, every event the session
saw with its full data (taps), and the closed :class:`~rtwidget.Session` itself (its exports still work).
"""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from rtwidget import Session
from rtwidget.server import LocalServer
from rtwidget.session.local_events import LogEntry
from tests.support import TIMEOUT, received, run, until

SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000
TEXT = "hello there"
TOOL_ASK = "get_weather city=Paris"
LONG_ASK = "tell me a long story about the sea, the ships, the storms and the sailors who crossed it"  # ~6 s of answer
# The assistant audio received before the user speaks over it, and where the barge-in cuts the item ("heard").
BEFORE_BARGE_IN_MS = 800
HEARD_MS = 300


def tone(ms: int, hz: float = 440.0) -> bytes:
    """A sine of ``ms`` milliseconds, PCM16 24 kHz: loud enough for the local server's energy VAD."""
    t = np.arange(ms * SAMPLE_RATE // 1000) / SAMPLE_RATE
    return (np.sin(2 * np.pi * hz * t) * 8000).astype("<i2").tobytes()


def silence(ms: int) -> bytes:
    return bytes(ms * BYTES_PER_MS)


# What the user "says" each time: a pause, a tone the VAD hears, then silence long enough for speech_stopped.
SPEECH = silence(300) + tone(1000) + silence(1200)
BARGE_IN = tone(800, hz=330.0) + silence(1200)


@dataclasses.dataclass
class RecordedSession:
    """A finished recording: ``path`` (the cassette), ``mic`` (every byte appended, in order), ``seen`` (every log
    entry with its full data, as the taps gave them), ``session`` (closed), ``calls`` (the tool's calls),
    ``truncated_item`` (the assistant item cut by the barge-in)."""

    path: Path
    mic: bytes
    seen: list[tuple[LogEntry, dict[str, Any]]]
    session: Session
    calls: list[dict[str, Any]]
    truncated_item: str

    def wire(self) -> list[tuple[LogEntry, dict[str, Any]]]:
        """The wire events (client and server), in order, with their full data."""
        return [(e, d) for e, d in self.seen if e.direction != "local"]


def audio_ms(seen: list[tuple[LogEntry, dict[str, Any]]], item_id: str) -> float:
    """Milliseconds of the item's audio received so far (from the taps: the log elides the audio)."""
    deltas = [d["delta"] for e, d in list(seen) if e.type == "response.output_audio.delta" and d["item_id"] == item_id]
    return sum(len(base64.b64decode(d)) for d in deltas) / BYTES_PER_MS


def dones(session: Session) -> int:
    return len(received(session, "response.done"))


async def _speak(session: Session, pcm: bytes, mic: list[bytes]) -> None:
    session.send_audio(pcm, commit=False)  # appended: the server's VAD decides the turn
    mic.append(pcm)


async def _session_of_everything(
    session: Session, mic: list[bytes], seen: list[tuple[LogEntry, dict[str, Any]]]
) -> str:
    """The four turns of the module docstring; the id of the item cut by the barge-in."""
    await session.ask(TEXT)
    before = dones(session)
    await _speak(session, SPEECH, mic)
    await until(lambda: dones(session) > before)
    await session.ask(TOOL_ASK)
    before = dones(session)
    first_audio = session.expect("response.output_audio.delta")
    session.send_text(LONG_ASK)
    item_id: str = (await first_audio)["item_id"]
    await until(lambda: audio_ms(seen, item_id) >= BEFORE_BARGE_IN_MS)
    await _speak(session, BARGE_IN, mic)  # over the model's audio: the server cancels the response
    await until(lambda: received(session, "input_audio_buffer.speech_started")[-1:] and dones(session) > before)
    cancelled = received(session, "response.done")[before]["response"]
    assert cancelled["status"] == "cancelled", cancelled  # the barge-in really interrupted it
    session.truncate(item_id, HEARD_MS)
    await until(lambda: received(session, "conversation.item.truncated"))
    await until(lambda: dones(session) > before + 1)  # the speech over it, answered
    return item_id


def record_full_session(tmp_path: Path, name: str = "full.cassette") -> RecordedSession:
    """Record the known session (module docstring) into ``tmp_path / name`` against a fresh realtime-paced local
    server; the session is closed (and the cassette written) on return."""
    seen: list[tuple[LogEntry, dict[str, Any]]] = []
    calls: list[dict[str, Any]] = []
    mic: list[bytes] = []

    def get_weather(city: str) -> dict[str, Any]:
        """Current weather for a city."""
        calls.append({"city": city})
        return {"city": city, "temp": 21}

    async def body() -> tuple[Path, Session, str]:
        async with LocalServer(pace="realtime") as server:
            session = Session(endpoint=server.url, tools=[get_weather])  # server VAD: the default
            session._taps.add(lambda entry, data: seen.append((entry, data)))  # no I/O loop yet: safe here
            path = session.record(tmp_path / name)
            try:
                await session.connect()
                item_id = await _session_of_everything(session, mic, seen)
            finally:
                await session.close()  # finishes the cassette
            return path, session, item_id

    path, session, item_id = run(body, TIMEOUT * 2)
    return RecordedSession(path, b"".join(mic), seen, session, calls, item_id)


_SHARED: dict[str, RecordedSession] = {}


def shared_recording(tmp_path_factory: Any) -> RecordedSession:
    """One recording per test process (it takes some seconds of real time), for module fixtures to share."""
    if "full" not in _SHARED:
        _SHARED["full"] = record_full_session(tmp_path_factory.mktemp("recorded"))
    return _SHARED["full"]
