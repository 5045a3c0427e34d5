"""session.record(): a cassette of a real loopback session reads back exactly what the session sent and received
(events, times, audio sample-exact), never holds the API key, and is about the size of its audio."""

from __future__ import annotations

import base64
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rtwidget import Session
from rtwidget.cassette import Cassette
from rtwidget.server import LocalServer
from rtwidget.session.local_events import LogEntry
from tests.support import open_session, received, run, until

from .sample_tools import tool_fns

SENTINEL = "sk-" + "SENTINEL-7f3a9c2e51d84b06"  # built at run time: no key-shaped literal in the repo
# A custom header's token: not shaped like a key, so only scrubbing by value keeps it out.
OPAQUE = "OPAQUE-0c9e8d7f6a5b"
HEADERS = {"X-Gateway-Auth": OPAQUE}


def tone(seconds: float, hz: float = 440.0) -> bytes:
    t = np.arange(int(24000 * seconds)) / 24000
    return (np.sin(2 * np.pi * hz * t) * 8000).astype("<i2").tobytes()


def responses_done(session: Session) -> int:
    return len(received(session, "response.done"))


async def a_session_of_everything(session: Session, mic: bytes) -> None:
    """Text, audio appended and committed, and a tool call, each answered."""
    await session.ask("hello there")
    session.append_audio(mic)
    session.commit_audio()
    done = responses_done(session)
    session.respond()
    await until(lambda: responses_done(session) > done)
    await session.ask("get_weather city=Paris")


def test_a_cassette_reads_back_what_went_over_the_wire(local_server: LocalServer, tmp_path: Path) -> None:
    seen: list[tuple[LogEntry, dict[str, Any]]] = []
    calls: list[str] = []
    mic = tone(1.0)

    async def body() -> Path:
        session = Session(endpoint=local_server.url, turn_detection=None, tools=tool_fns(calls))
        session._taps.add(lambda entry, data: seen.append((entry, data)))  # no I/O loop yet: safe here
        path = session.record(tmp_path / "session.cassette")
        try:
            await session.connect()
            await a_session_of_everything(session, mic)
        finally:
            await session.close()  # finishes the cassette
        assert session.stop_recording() is None  # nothing records any more
        return path

    path = run(body)
    assert calls == ["get_weather"]
    tape = Cassette.open(path)
    wire = [(entry, data) for entry, data in seen if entry.direction != "local"]
    assert [(e.direction, tape.with_audio(e.event)) for e in tape.events] == [(e.direction, d) for e, d in wire]
    start = wire[0][0].time - tape.events[0].time
    assert all(abs(e.time + start - entry.time) < 2e-6 for e, (entry, _) in zip(tape.events, wire, strict=True))
    assert tape.types()[:2] == ["session.created", "session.update"] and not tape.meta["mid_session"]
    assert "response.function_call_arguments.done" in tape.types("server")
    local = [entry.type for entry, _ in seen if entry.direction == "local" and entry.type != "rtwidget.recording"]
    assert [e.type for e in tape.local_events] == local  # every rtwidget.* event but the recording's own marks
    assert tape.local_events[-1].event["why"] == "closed by session.close()"  # recorded up to the close
    # The audio, sample-exact: the microphone's as appended, the model's deltas as received.
    model = b"".join(base64.b64decode(d["delta"]) for e, d in wire if e.type == "response.output_audio.delta")
    assert tape.audio("mic") == mic and len(model) > 24000 and tape.audio("model") == model
    # Stored once: the cassette is about the size of its audio.
    audio_bytes = len(mic) + len(model)
    assert path.stat().st_size < 1.2 * audio_bytes + 32_000
    assert tape.meta["endpoint"]["kind"] == "custom" and tape.meta["config_at_end"]["tools"][0]["name"]


def test_no_key_is_ever_written(local_server: LocalServer, tmp_path: Path) -> None:
    async def body() -> Path:
        session = Session(endpoint=local_server.url, api_key=SENTINEL, headers=HEADERS, turn_detection=None)
        try:
            path = session.record(tmp_path / "secret.cassette")
            await session.connect()
            await session.ask(f"my key is {SENTINEL}, repeat it; my token is {OPAQUE}")
            return session.stop_recording() or path
        finally:
            await session.close()

    path = run(body)
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        raw += b"".join(archive.read(name) for name in archive.namelist())
    assert b"SENTINEL" not in raw and b"Bearer" not in raw and b"OPAQUE" not in raw
    tape = Cassette.open(path)
    asked = next(e.event for e in tape.client_events() if e.type == "conversation.item.create")
    assert asked["item"]["content"][0]["text"] == "my key is <redacted>, repeat it; my token is <redacted>"


def test_recording_mid_session_starts_with_the_current_config(local_server: LocalServer, tmp_path: Path) -> None:
    async def body() -> None:
        async with open_session(local_server.url, turn_detection=None, voice="verse") as session:
            await session.ask("before the recording")
            path = session.record(str(tmp_path / "mid.cassette"))
            with pytest.raises(RuntimeError, match=re.escape(f"already recording to {str(path)!r}")):
                session.record(tmp_path / "other.cassette")
            await session.ask("during the recording")
            assert session.recording == path
            assert session.stop_recording() == path
            assert session.stop_recording() is None and session.recording is None
            await session.ask("after the recording")
            tape = Cassette.open(path)
            assert tape.meta["mid_session"] and tape.meta["config"]["audio"]["output"]["voice"] == "verse"
            assert tape.types("client")[:2] == ["conversation.item.create", "response.create"]
            texts = [e.event["item"]["content"][0]["text"] for e in tape.client_events() if "item" in e.event]
            assert texts == ["during the recording"]
            assert tape.types("server")[-1] == "response.done" and 0 <= tape.events[0].time < tape.duration
            assert not (tmp_path / "other.cassette").exists()

    run(body)


def test_bad_paths_are_refused_by_name(tmp_path: Path) -> None:
    session = Session(endpoint="ws://127.0.0.1:9/v1/realtime")
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "missing"))):
        session.record(tmp_path / "missing" / "a.cassette")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        session.record(tmp_path)
    path = session.record(tmp_path / "unused.cassette")  # the refusals left no recording running
    assert session.stop_recording() == path and Cassette.open(path).events == []


def test_a_recording_that_breaks_off_keeps_what_came_before_and_says_why(
    local_server: LocalServer, tmp_path: Path
) -> None:
    async def body() -> None:
        async with open_session(local_server.url, turn_detection=None) as session:
            path = session.record(tmp_path / "full.cassette")
            await session.ask("first")
            recorder = session._recorder
            assert recorder is not None
            written = recorder.writer.add

            def disk_full(time: float, direction: str, event: dict[str, Any]) -> None:
                if direction == "client":
                    raise OSError(28, "No space left on device")
                written(time, direction, event)

            recorder.writer.add = disk_full  # type: ignore[method-assign]
            await session.ask("second")  # the session goes on
            with pytest.raises(OSError, match="No space left"):
                session.stop_recording()
            tape = Cassette.open(path)
            texts = [e.event["item"]["content"][0]["text"] for e in tape.client_events() if "item" in e.event]
            assert texts == ["first"] and tape.types()[-1] == "response.done"

    run(body)


def test_a_beta_wire_is_recorded_in_the_ga_form(tmp_path: Path) -> None:
    async def body() -> None:
        async with LocalServer(pace="fast", dialect="beta") as server:
            session = Session(endpoint=server.url, dialect="beta", turn_detection=None)
            path = session.record(tmp_path / "beta.cassette")
            try:
                await session.connect()
                await session.ask("hello in beta")
            finally:
                await session.close()
            tape = Cassette.open(path)
            assert tape.meta["endpoint"]["dialect"] == "beta"
            assert "response.output_audio.delta" in tape.types("server")  # beta's response.audio.delta, in GA
            assert "response.audio.delta" not in tape.types("server") and len(tape.audio("model")) > 0

    run(body)
