"""Taps see every log entry with its full data (the log elides audio); a failing tap is removed, nothing breaks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from rtwidget.session.local_events import LogEntry
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
