"""The session's log is bounded in entries and in bytes, oldest first, and counts what it dropped."""

from __future__ import annotations

import pytest

from rtwidget import Session
from rtwidget.server import LocalServer
from rtwidget.session.local_events import LOG_MAX_BYTES, LogEntry, SessionLog
from tests.support import run


def entry(n: int) -> LogEntry:
    return LogEntry(float(n), "server", "x", 0, {"n": n})


def test_the_log_drops_the_oldest_beyond_its_bytes_and_counts_them() -> None:
    log = SessionLog(maxlen=100, max_bytes=1000)
    for n in range(30):
        log.add(entry(n), 100)
    assert [e.data["n"] for e in log] == list(range(20, 30))
    assert log.bytes == 1000 and log.dropped == 20
    log.add(entry(30), 5000)  # one entry bigger than the bound: kept alone, the newest is never dropped
    assert [e.data["n"] for e in log] == [30] and log.dropped == 30
    log.clear()
    assert len(log) == 0 and log.bytes == 0 and log.dropped == 30


def test_the_log_drops_the_oldest_beyond_its_entries() -> None:
    log = SessionLog(maxlen=3)
    for n in range(5):
        log.add(entry(n), 10)
    assert [e.data["n"] for e in log] == [2, 3, 4] and log.bytes == 30 and log.dropped == 2
    assert log.max_bytes == LOG_MAX_BYTES == 64 * 1024 * 1024


def test_a_log_bound_below_one_byte_is_refused() -> None:
    with pytest.raises(ValueError, match="log_max_bytes"):
        Session(log_max_bytes=0)


def test_a_sessions_log_stays_within_its_bytes() -> None:
    async def body() -> None:
        async with LocalServer(pace="fast") as server:
            session = Session(endpoint=server.url, log_max_bytes=20_000)
            try:
                await session.connect()
                for n in range(3):
                    await session.ask(f"turn {n}: " + "words " * 200)
                assert session.log.dropped > 0 and session.log.bytes <= 20_000
                assert sum(len(str(e.data)) for e in session.log) < 2 * 20_000  # the count is near the truth
            finally:
                await session.close()

    run(body)
