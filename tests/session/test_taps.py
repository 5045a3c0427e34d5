"""Taps see every log entry with its full data (the log elides audio); a failing tap is removed, nothing breaks."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rtwidget.cassette import Cassette, CassetteWriter
from rtwidget.session import taps as taps_module
from rtwidget.session.item_audio import ItemAudioStore
from rtwidget.session.local_events import LogEntry
from rtwidget.session.taps import Taps
from tests.support import run, until


def test_a_tap_sees_the_audio_the_log_elides_in_log_order(
    open_session: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[LogEntry, dict[str, Any]]] = []

    def broken(entry: LogEntry, data: dict[str, Any]) -> None:
        raise RuntimeError("a broken tap")

    async def body() -> None:
        async with open_session(turn_detection=None) as session:
            session.call_soon(session._taps.add, lambda entry, data: seen.append((entry, data)))
            session.call_soon(session._taps.add, broken)
            session.append_audio(bytes(4800))
            session.send_text("hello")
            await until(lambda: any(e.type == "response.done" for e, _ in seen))
            entries = [e for e, _ in seen]
            assert entries == [e for e in session.log if e in entries]  # the log's own entries, in its order
            append = next(d for e, d in seen if e.type == "input_audio_buffer.append")
            delta = next(d for e, d in seen if e.type == "response.output_audio.delta")
            logged = next(e for e in session.log if e.type == "response.output_audio.delta")
            assert len(append["audio"]) == 6400 and len(delta["delta"]) > 100  # base64 as on the wire
            assert logged.data["delta"].startswith("<")  # the log keeps only the size
            assert broken not in session._taps._taps  # removed (rtwidget's own taps stay); the session went on

    with caplog.at_level(logging.ERROR, logger="rtwidget.session"):
        run(body)
    assert any("an internal tap failed" in r.getMessage() for r in caplog.records)


def test_an_entrys_audio_is_decoded_once_for_all_taps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[str] = []
    real = taps_module.b64decode
    monkeypatch.setattr(taps_module, "b64decode", lambda text: decoded.append(text) or real(text))
    store = ItemAudioStore()
    writer = CassetteWriter(tmp_path / "t.cassette", decode=taps_module.pcm_of)
    taps = Taps()
    taps.add(store.tap)
    taps.add(lambda entry, data: writer.add(entry.time, entry.direction, data))
    pcm = bytes(range(256)) * 10
    for n, item_id in enumerate(["a", "a", "b"]):  # the item audio and the recorder each read every delta
        data = {"type": "response.output_audio.delta", "item_id": item_id, "delta": base64.b64encode(pcm).decode()}
        taps(LogEntry(n * 0.1, "server", data["type"], 0, {}), data)
    assert len(decoded) == 3  # once per entry
    writer.close()
    assert Cassette.open(writer.path).audio("model") == pcm * 3
    assert [a.pcm for a in store.items()] == [pcm * 2, pcm]
    assert taps_module.pcm_of(decoded[0]) is not taps_module.pcm_of(decoded[0])  # outside the taps: no memo
