"""The item audio out of RAM: its bytes in anonymous temporary files (segments, a small RAM tail), read back on
demand, released oldest first (a segment with nothing kept is closed), RAM when the disk fails, and every file
closed when the session is collected."""

from __future__ import annotations

import base64
import errno
import gc
import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from rtwidget import Session
from rtwidget.session import audio_spool
from rtwidget.session.audio_spool import AudioSpool
from rtwidget.session.item_audio import ItemAudioStore
from rtwidget.session.local_events import LogEntry
from tests.support import received, run, until

MS = 48  # bytes per ms of PCM16 at 24 kHz


def tone(ms: int, freq: float) -> bytes:
    t = np.arange(ms * 24) / 24000
    return (np.sin(2 * np.pi * freq * t) * 8000).astype("<i2").tobytes()


class Spy:
    """tempfile.TemporaryFile as it is, remembering each file it made (``wrap`` may replace one)."""

    def __init__(self, wrap: Callable[[Any], Any] = lambda f: f) -> None:
        self.files: list[Any] = []
        self.wrap = wrap
        self.real = tempfile.TemporaryFile

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        file = self.wrap(self.real(*args, **kwargs))
        self.files.append(file)
        return file


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    made = Spy()
    monkeypatch.setattr(audio_spool.tempfile, "TemporaryFile", made)
    yield made
    for file in made.files:
        file.close()


def delta(store: ItemAudioStore, time: float, item_id: str, pcm: bytes, step_ms: int = 50) -> None:
    """The assistant's audio of ``item_id`` as the server sends it: deltas of ``step_ms``."""
    step = step_ms * MS
    for at in range(0, len(pcm), step):
        data = {"type": "response.output_audio.delta", "item_id": item_id, "delta": b64(pcm[at : at + step])}
        store.tap(LogEntry(time + at / MS / 1000, "server", data["type"], 0, {}), data)


def user_item(store: ItemAudioStore, time: float, item_id: str, pcm: bytes) -> None:
    content = [{"type": "input_audio", "audio": b64(pcm)}]
    data = {"type": "conversation.item.create", "item": {"id": item_id, "role": "user", "content": content}}
    store.tap(LogEntry(time, "client", data["type"], 0, {}), data)


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode()


def test_the_spool_reads_back_across_segments_and_its_tail_and_closes_what_is_released(spy: Spy) -> None:
    spool = AudioSpool(segment_bytes=1000, tail_bytes=300)
    chunks = [bytes([i]) * 250 for i in range(12)]  # 3000 bytes: 3 segments of 1000
    offsets = [spool.append(c) for c in chunks]
    assert offsets == [i * 250 for i in range(12)]
    assert len(spy.files) == 3 and spool.ram_bytes < 300  # the newest bytes only are in RAM
    assert spool.read(0, 3000) == b"".join(chunks)  # files and the tail, across segment edges
    assert spool.read(900, 300) == chunks[3][150:] + chunks[4][:200]
    spool.release(0, 1100)  # the first segment has nothing kept: closed, the disk gives it back
    assert spy.files[0].closed and not spy.files[1].closed
    assert spool.read(1100, 100) == chunks[4][100:200]
    with pytest.raises(ValueError, match="not kept"):
        spool.read(500, 10)
    spool.close()
    assert all(f.closed for f in spy.files) and spool.files == []


def test_item_audio_across_the_window_on_disk_reads_back_what_was_received(spy: Spy) -> None:
    spool = AudioSpool(segment_bytes=500 * MS, tail_bytes=60 * MS)
    store = ItemAudioStore(keep_s=2.5, spool=spool)
    u1, a1, u2, a2 = tone(1000, 300), tone(2000, 400), tone(800, 500), tone(1200, 600)
    user_item(store, 1.0, "u1", u1)
    delta(store, 2.0, "a1", a1)
    truncated = {"type": "conversation.item.truncated", "item_id": "a1", "audio_end_ms": 1800}
    store.tap(LogEntry(4.0, "server", truncated["type"], 0, {}), truncated)
    user_item(store, 5.0, "u2", u2)
    delta(store, 6.0, "a2", a2)
    # 5 s received, 2.5 s kept: u1 (1 s) and the first 1.5 s of a1 dropped, counted.
    assert store.get("u1") is None and store.dropped_ms == 2500 and store.kept_ms == 2500
    cut = store.get("a1")
    assert cut is not None and cut.dropped_ms == 1500 and cut.pcm == a1[1500 * MS :]
    assert cut.started_at == pytest.approx(3.5) and cut.heard_ms == 1800
    assert cut.heard_pcm == a1[1500 * MS : 1800 * MS]  # heard up to 1.8 s of the item, 1.5 s of it dropped
    assert [(c.item_id, c.pcm) for c in store.items()] == [("a1", a1[1500 * MS :]), ("u2", u2), ("a2", a2)]
    # 5 s went through 0.5 s segments: the ones holding only dropped audio are closed.
    open_files = [f for f in spy.files if not f.closed]
    assert len(spy.files) == 9 and open_files == spool.files and len(open_files) <= 6  # (an append is not split)
    assert spool.disk_bytes <= 3000 * MS and spool.ram_bytes <= 60 * MS
    store.keep_s = 0.5  # lowering the bound releases more now
    assert store.get("a1") is None and store.get("u2") is None
    last = store.get("a2")
    assert last is not None and last.pcm == a2[700 * MS :] and len(spool.files) <= 2


def test_a_store_that_keeps_nothing_writes_nothing(spy: Spy) -> None:
    store = ItemAudioStore(keep_s=0, spool=AudioSpool(segment_bytes=100 * MS, tail_bytes=10 * MS))
    delta(store, 1.0, "a1", tone(1000, 300))
    assert store.get("a1") is None and store.dropped_ms == 1000 and store.kept_ms == 0
    assert spy.files == [] and store.spool.ram_bytes == 0


class FullDisk:
    """One temporary file whose disk fills after ``room`` bytes (ENOSPC), the rest of it real."""

    def __init__(self, file: Any, room: int) -> None:
        self.file = file
        self.room = room

    def write(self, data: Any) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return int(self.file.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)


def test_a_full_disk_keeps_the_audio_in_ram_with_one_warning(
    spy: Spy, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy.wrap = lambda f: FullDisk(f, room=300 * MS) if not spy.files else f
    store = ItemAudioStore(keep_s=60, spool=AudioSpool(segment_bytes=1000 * MS, tail_bytes=100 * MS))
    a1, a2 = tone(1500, 300), tone(2500, 700)
    with caplog.at_level(logging.WARNING, logger="rtwidget.session"):
        delta(store, 1.0, "a1", a1)  # the tap never raises: the session's reader goes on
        delta(store, 3.0, "a2", a2)
    warnings = [r for r in caplog.records if "temporary file" in r.getMessage()]
    assert len(warnings) == 1 and "No space left" in warnings[0].getMessage()
    assert not store.spool.on_disk and len(spy.files) == 1  # no new file tried after the failure
    assert store.spool.disk_bytes == 300 * MS  # what went to disk before it filled stays there
    got = [(c.item_id, c.pcm) for c in store.items()]
    assert got == [("a1", a1), ("a2", a2)]  # read back from the file, then RAM


def test_an_unwritable_temp_dir_keeps_the_audio_in_ram(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied", "/tmp")

    monkeypatch.setattr(audio_spool.tempfile, "TemporaryFile", refuse)
    store = ItemAudioStore(keep_s=60, spool=AudioSpool(segment_bytes=200 * MS, tail_bytes=50 * MS))
    pcm = tone(1000, 440)
    with caplog.at_level(logging.WARNING, logger="rtwidget.session"):
        delta(store, 1.0, "a1", pcm)
    assert len([r for r in caplog.records if "Permission denied" in r.getMessage()]) == 1
    kept = store.get("a1")
    assert kept is not None and kept.pcm == pcm and store.spool.files == []
    assert store.spool.ram_bytes == len(pcm)


def test_a_failed_read_back_names_the_cause(spy: Spy) -> None:
    store = ItemAudioStore(spool=AudioSpool(segment_bytes=1000 * MS, tail_bytes=10 * MS))
    delta(store, 1.0, "a1", tone(500, 300))
    spy.files[0].close()  # (as if the file had gone)
    with pytest.raises(OSError, match="cannot read item audio back from its temporary file"):
        store.get("a1")


def test_the_files_close_when_the_session_is_collected(spy: Spy) -> None:
    session = Session(audio_keep_s=60)
    delta(session.item_audio, 1.0, "a1", tone(6000, 300))  # more than the RAM tail: a file written
    files = list(session.item_audio.spool.files)
    assert files and not any(f.closed for f in files)
    del session
    gc.collect()
    assert all(f.closed for f in files)


def test_a_real_session_reads_back_from_disk_after_the_window_and_a_truncation(
    open_session: Callable[..., Any], spy: Spy
) -> None:
    async def body() -> None:
        async with open_session(turn_detection=None) as session:
            session.item_audio.spool = AudioSpool(segment_bytes=200 * MS, tail_bytes=20 * MS)  # before any audio
            wire: list[bytes] = []

            def keep(entry: LogEntry, data: dict[str, Any]) -> None:
                if entry.type == "response.output_audio.delta":
                    wire.append(base64.b64decode(data["delta"]))

            session.call_soon(session._taps.add, keep)
            session.send_text("tell me a long story about the sea")
            await until(lambda: received(session, "response.done"))
            item_id = received(session, "response.output_item.added")[0]["item"]["id"]
            whole = b"".join(wire)
            assert len(whole) > 1000 * MS and len(spy.files) > 3
            session.truncate(item_id, 900)
            await until(lambda: received(session, "conversation.item.truncated"))
            session.audio_keep_s = (len(whole) / MS - 500) / 1000  # the first 0.5 s dropped
            kept = session.item_audio.get(item_id)
            assert kept is not None and kept.pcm == whole[500 * MS :] and kept.dropped_ms == 500
            assert kept.heard_pcm == whole[500 * MS : 900 * MS]

    run(body)


class Watched(AudioSpool):
    """A spool that notes, at each call, whether another thread could take the store's lock then."""

    def __init__(self) -> None:
        super().__init__()
        self.lock: Any = None
        self.free: list[tuple[str, bool]] = []

    def _note(self, call: str) -> None:
        got: list[bool] = []

        def other() -> None:
            got.append(self.lock.acquire(blocking=False))
            if got[0]:
                self.lock.release()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        self.free.append((call, got[0]))

    def append(self, data: bytes) -> int:
        self._note("append")
        return super().append(data)

    def read(self, offset: int, length: int) -> bytes:
        self._note("read")
        return super().read(offset, length)

    def release(self, offset: int, length: int) -> None:
        self._note("release")
        super().release(offset, length)


def test_the_tap_and_the_readers_hold_the_store_lock_around_the_spool() -> None:
    spool = Watched()
    store = ItemAudioStore(keep_s=0.5, spool=spool)
    spool.lock = store._lock
    delta(store, 1.0, "a1", tone(1000, 300), step_ms=500)  # (the I/O thread's side) the second delta drops
    assert store.get("a1") is not None and store.items()  # (a user's thread's side)
    store.keep_s = 0.1
    calls = {call for call, _ in spool.free}
    assert calls == {"append", "read", "release"} and not any(free for _, free in spool.free)
