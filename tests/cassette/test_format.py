"""The cassette format on its own: a writer's events and audio read back exactly, secrets never written, and clear
errors for bad paths and files that are not cassettes (or are newer)."""

from __future__ import annotations

import base64
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rtwidget.cassette import VERSION, Cassette, CassetteWriter
from rtwidget.cassette.format import EVENTS, META

SECRET = "sk-" + "SENTINEL-0123456789abcdef"  # built at run time: no key-shaped literal in the repo


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode("ascii")


def pcm(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(-32768, 32767, n, dtype="<i2").tobytes()


def wire() -> list[tuple[float, str, dict[str, Any]]]:
    """A small session as the session's taps see it: audio as base64."""
    return [
        (0.0, "server", {"type": "session.created", "event_id": "e1", "session": {"voice": "alloy"}}),
        (0.1, "client", {"type": "input_audio_buffer.append", "event_id": "c1", "audio": b64(pcm(2400, 1))}),
        (0.2, "client", {"type": "input_audio_buffer.append", "event_id": "c2", "audio": b64(pcm(1200, 2))}),
        (0.3, "local", {"type": "rtwidget.state", "state": "open", "previous": "connecting"}),
        (0.4, "server", {"type": "response.output_audio.delta", "event_id": "e2", "delta": b64(pcm(960, 3))}),
        (0.5, "server", {"type": "response.output_audio.delta", "event_id": "e3", "delta": b64(pcm(480, 4))}),
        (0.6, "client", {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [
            {"type": "input_audio", "audio": b64(pcm(100, 5))}, {"type": "input_text", "text": "hi"}]}}),
        (0.7, "server", {"type": "response.output_audio.delta", "event_id": "e4", "delta": "not base64!"}),
    ]  # fmt: skip


def test_events_and_audio_read_back_exactly(tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path / "a.cassette", {"config": {"voice": "alloy"}})
    for t, direction, event in wire():
        writer.add(t, direction, event)
    path = writer.close()
    tape = Cassette.open(path)
    wire_rows = [row for row in wire() if row[1] != "local"]
    assert [(e.time, e.direction, tape.with_audio(e.event)) for e in tape.events] == wire_rows
    assert [tape.event_with_audio(i) for i in range(len(tape.events))] == [row[2] for row in wire_rows]
    assert [(e.time, e.direction, e.event) for e in tape.local_events] == [row for row in wire() if row[1] == "local"]
    assert tape.audio("mic") == pcm(2400, 1) + pcm(1200, 2) + pcm(100, 5)
    assert tape.audio("model") == pcm(960, 3) + pcm(480, 4)
    assert tape.audio("server") == b""
    assert tape.events[1].event["audio"] == {"$audio": "mic", "offset": 0, "bytes": 4800}
    assert tape.events[-1].event["delta"] == "not base64!"  # kept as it was, so it reads back exactly
    assert [e.type for e in tape.client_events()] == ["input_audio_buffer.append"] * 2 + ["conversation.item.create"]
    assert tape.types("server")[0] == "session.created" and len(list(tape.server_events())) == 4
    assert tape.meta["version"] == tape.version == VERSION and tape.meta["config"] == {"voice": "alloy"}
    assert tape.meta["streams"] == {"mic": {"bytes": 7400}, "model": {"bytes": 2880}}
    assert tape.duration == 0.7 and tape.meta["counts"] == {"client": 3, "server": 4, "local": 1}
    shown = f"<rtwidget Cassette {str(path)!r}: 7 wire events, 1 local, 0.7 s; audio mic 0.2 s, model 0.1 s>"
    assert repr(tape) == shown  # short: a notebook shows it, not thousands of events
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("mic.pcm").compress_type == zipfile.ZIP_STORED
        assert b64(pcm(2400, 1)).encode() not in archive.read(EVENTS)  # the audio is not in the JSON


def test_secrets_are_never_written(tmp_path: Path) -> None:
    azure = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"  # an Azure key: no sk- shape, scrubbed by value only
    writer = CassetteWriter(tmp_path / "s.cassette", {"endpoint": {"url": "wss://x"}, "note": SECRET}, [SECRET])
    writer.add_secrets([azure])
    writer.add(
        0.0,
        "client",
        {
            "type": "conversation.item.create",
            "item": {"content": [{"type": "input_text", "text": f"my key is {SECRET}, keep it, and {azure}"}]},
        },
    )
    writer.add(0.1, "server", {"type": "x", "headers": {"Authorization": "Bearer abc", "api-key": "zz"}})
    writer.add(0.2, "local", {"type": "rtwidget.connected", "client_secret": {"value": "ek_123"}})
    other_key = "sk-proj-" + "Q" * 40  # a key nobody registered, returned by a tool
    writer.add(0.3, "client", {"type": "conversation.item.create", "item": {"output": f"env: {other_key}; sk-short"}})
    path = writer.close()
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        raw += b"".join(archive.read(name) for name in archive.namelist())
    assert b"SENTINEL" not in raw and b"Bearer abc" not in raw and b"ek_123" not in raw and azure.encode() not in raw
    tape = Cassette.open(path)
    assert tape.events[0].event["item"]["content"][0]["text"] == "my key is <redacted>, keep it, and <redacted>"
    assert tape.events[1].event["headers"] == {"Authorization": "<redacted>", "api-key": "<redacted>"}
    assert tape.events[2].event["item"]["output"] == "env: <redacted>; sk-short"  # a short word is no key


def test_bad_paths_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        CassetteWriter(tmp_path / "nowhere" / "a.cassette")
    with pytest.raises(IsADirectoryError, match=re.escape(str(tmp_path))):
        CassetteWriter(tmp_path)
    with pytest.raises(TypeError, match="str or a Path"):
        CassetteWriter(3)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="no cassette at"):
        Cassette.open(tmp_path / "missing.cassette")


def test_files_that_are_not_cassettes_are_refused_by_name(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt.*not a zip"):
        Cassette.open(text)
    newer = tmp_path / "newer.cassette"
    with zipfile.ZipFile(newer, "w") as archive:
        archive.writestr(META, json.dumps({"format": "rtwidget-cassette", "version": VERSION + 1}))
        archive.writestr(EVENTS, "")
    with pytest.raises(ValueError, match=f"version {VERSION + 1}.*upgrade rtwidget"):
        Cassette.open(newer)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr(META, json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not an rtwidget-cassette file"):
        Cassette.open(other)


def test_a_closed_writer_refuses_more_and_an_aborted_one_writes_nothing(tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path / "c.cassette")
    writer.close()
    assert writer.close() == tmp_path / "c.cassette"  # twice: nothing more
    with pytest.raises(ValueError, match="closed"):
        writer.add(0.0, "client", {"type": "x"})
    aborted = CassetteWriter(tmp_path / "d.cassette")
    aborted.add(0.0, "client", {"type": "x"})
    aborted.abort()
    assert not (tmp_path / "d.cassette").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["c.cassette"]


def test_audio_that_is_not_canonical_base64_is_kept_as_it_was(tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path / "n.cassette")
    sent = ["QR==", "QUI", "QUJD", "AAB=", ""]  # stray bits, no padding, canonical, stray bits, empty
    for n, audio in enumerate(sent):
        writer.add(n * 0.1, "client", {"type": "input_audio_buffer.append", "audio": audio})
    tape = Cassette.open(writer.close())
    kept = [e.event["audio"] for e in tape.events]
    assert kept[0] == "QR==" and kept[1] == "QUI" and kept[3] == "AAB="  # read back exactly
    assert kept[2] == {"$audio": "mic", "offset": 0, "bytes": 3} and tape.audio("mic") == b"ABC"
    assert [tape.event_with_audio(i)["audio"] for i in range(len(sent))] == sent
