"""The kernel keeps each item's audio: the user's (appended and committed, measured by VAD, or sent with an item),
the assistant's (its deltas), the truncation point, and a bound that drops the oldest audio and counts it."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from rtwidget import Session
from rtwidget.session.exports import stereo_timeline
from rtwidget.session.item_audio import PRE_SPEECH_S, ItemAudio, ItemAudioStore
from rtwidget.session.local_events import LogEntry
from tests.support import received, run, sent, until


def tone(ms: int, freq: float = 440.0, amplitude: int = 8000) -> bytes:
    """A sine tone of ``ms`` milliseconds, PCM16 at 24 kHz."""
    t = np.arange(ms * 24) / 24000
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype("<i2").tobytes()


def done(session: Any, count: int = 1) -> Callable[[], bool]:
    return lambda: len(received(session, "response.done")) >= count


def deltas_of(session: Any, item_id: str) -> bytes:
    """The assistant audio the server sent for ``item_id``, decoded (through a tap-free reading: the events)."""
    return b"".join(
        base64.b64decode(d["delta"])
        for e, d in session._test_audio
        if e.type == "response.output_audio.delta" and d.get("item_id") == item_id
    )


def record(session: Any) -> None:
    """Keep every entry with its full data (a tap of the test's own), to compare the store with the wire."""
    session._test_audio = []
    session.call_soon(session._taps.add, lambda entry, data: session._test_audio.append((entry, data)))


def test_committed_user_audio_and_assistant_deltas_are_kept_per_item(open_session: Callable[..., Any]) -> None:
    pcm = tone(1000)

    async def body() -> None:
        async with open_session(turn_detection=None) as session:
            record(session)
            session.append_audio(pcm[:24000])
            session.append_audio(pcm[24000:])
            session.commit_audio()
            session.respond()
            await until(done(session))
            user_id = received(session, "input_audio_buffer.committed")[0]["item_id"]
            user = session.item_audio.get(user_id)
            assert isinstance(user, ItemAudio) and user.role == "user"
            assert user.pcm == pcm and user.duration_ms == 1000 and user.heard_ms is None
            appended = next(e.time for e in session.log if e.type == "input_audio_buffer.append")
            assert user.started_at == appended
            assistant_id = received(session, "response.output_item.added")[0]["item"]["id"]
            said = session.item_audio.get(assistant_id)
            assert said is not None and said.role == "assistant"
            assert said.pcm == deltas_of(session, assistant_id) and len(said.pcm) > 0
            first_delta = next(e.time for e in session.log if e.type == "response.output_audio.delta")
            assert said.started_at == first_delta > user.started_at
            assert session.item_audio.get("item_nope") is None and session.item_audio.dropped_ms == 0

    run(body)


@pytest.mark.parametrize("silence_s", [1, 12])
def test_server_vad_gives_the_item_the_audio_between_speech_start_and_stop(
    open_session: Callable[..., Any], silence_s: int
) -> None:
    stream = bytes(48000 * silence_s) + tone(1200) + bytes(48000)

    async def body() -> None:
        async with open_session(turn_detection="server_vad") as session:
            record(session)
            session.append_audio(stream)
            await until(lambda: received(session, "input_audio_buffer.committed"))
            started = received(session, "input_audio_buffer.speech_started")[0]
            stopped = received(session, "input_audio_buffer.speech_stopped")[0]
            item_id = received(session, "input_audio_buffer.committed")[0]["item_id"]
            kept = session.item_audio.get(item_id)
            assert kept is not None and kept.role == "user"
            start, end = started["audio_start_ms"] * 48, stopped["audio_end_ms"] * 48
            assert 0 < start < end < len(stream)
            assert kept.pcm == stream[start:end]  # exactly what the server's item holds
            # It began when the append holding its first sample went, plus that sample's place in the append.
            offset, at = 0, 0.0
            for entry, data in session._test_audio:
                size = len(base64.b64decode(data["audio"])) if entry.type == "input_audio_buffer.append" else 0
                if size and offset <= start < offset + size:
                    at = entry.time + (start - offset) / 48000
                offset += size
            assert kept.started_at == pytest.approx(at) and at > 0

    run(body)


def test_input_audio_sent_with_an_item_is_kept_under_the_id_the_server_gives(
    open_session: Callable[..., Any],
) -> None:
    pcm = tone(600, 330.0)

    async def body() -> None:
        async with open_session(turn_detection=None) as session:
            content = [{"type": "input_audio", "audio": base64.b64encode(pcm).decode()}]
            item = {"type": "message", "role": "user", "content": content}
            session.send({"type": "conversation.item.create", "item": item})
            await until(lambda: received(session, "conversation.item.added"))
            item_id = received(session, "conversation.item.added")[0]["item"]["id"]
            kept = session.item_audio.get(item_id)
            assert kept is not None and kept.role == "user" and kept.pcm == pcm
            named = {**item, "id": "item_mine"}  # an id of the client's own
            session.send({"type": "conversation.item.create", "item": named})
            await until(lambda: len(received(session, "conversation.item.added")) == 2)
            mine = session.item_audio.get("item_mine")
            assert mine is not None and mine.pcm == pcm and len(session.item_audio) == 2

    run(body)


def test_a_truncated_assistant_item_keeps_its_audio_and_knows_what_was_heard(
    open_session: Callable[..., Any],
) -> None:
    async def body() -> None:
        async with open_session(turn_detection=None) as session:
            session.send_text("tell me a long story about the sea")
            await until(done(session))
            item_id = received(session, "response.output_item.added")[0]["item"]["id"]
            whole = session.item_audio.get(item_id)
            assert whole is not None and whole.duration_ms > 500
            session.truncate(item_id, 500)
            await until(lambda: received(session, "conversation.item.truncated"))
            cut = session.item_audio.get(item_id)
            assert cut is not None and cut.heard_ms == 500
            assert cut.pcm == whole.pcm  # kept whole
            assert cut.heard_pcm == whole.pcm[: 500 * 48]

    run(body)


def test_the_bound_drops_the_oldest_audio_first_and_counts_it(open_session: Callable[..., Any]) -> None:
    first, second = tone(1000, 300.0), tone(1000, 500.0)

    async def body() -> None:
        async with open_session(turn_detection=None, audio_keep_s=1.5) as session:
            assert session.audio_keep_s == 1.5
            for count, pcm in enumerate((first, second), 1):
                session.append_audio(pcm)
                session.commit_audio()
                await until(lambda: len(received(session, "input_audio_buffer.committed")) == count)  # noqa: B023
            one, two = (c["item_id"] for c in received(session, "input_audio_buffer.committed"))
            old, new = session.item_audio.get(one), session.item_audio.get(two)
            assert old is not None and new is not None
            assert old.pcm == first[500 * 48 :] and old.dropped_ms == 500  # the oldest half second went
            assert new.pcm == second and session.item_audio.dropped_ms == 500
            session.audio_keep_s = 0.25  # lowering the bound drops more now
            assert session.item_audio.get(one) is None
            kept = session.item_audio.get(two)
            assert kept is not None and kept.pcm == second[750 * 48 :]
            assert session.item_audio.dropped_ms == 1750 and session.item_audio.kept_ms == 250

    run(body)


def test_the_bound_must_be_a_number_of_seconds() -> None:
    with pytest.raises(ValueError, match="audio_keep_s"):
        Session(audio_keep_s=-1)
    with pytest.raises(TypeError, match="audio_keep_s=1800"):
        Session(audio_keep_s="30 min")  # type: ignore[arg-type]
    store = ItemAudioStore()
    assert store.keep_s == 1800
    with pytest.raises(ValueError):
        store.keep_s = float("nan")


def test_audio_appended_before_the_server_confirms_a_commit_goes_to_the_next_item(
    open_session: Callable[..., Any],
) -> None:
    first, second = tone(400, 300.0), tone(700, 500.0)

    async def body() -> None:
        async with open_session(turn_detection=None) as session:
            for pcm in (first, second):  # no wait: the second append goes before the first commit is confirmed
                session.append_audio(pcm)
                session.commit_audio()
            await until(lambda: len(received(session, "input_audio_buffer.committed")) == 2)
            one, two = (c["item_id"] for c in received(session, "input_audio_buffer.committed"))
            assert [a.pcm for a in map(session.item_audio.get, (one, two)) if a] == [first, second]

    run(body)


def test_with_turn_detection_only_the_last_seconds_of_silence_are_held(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session(turn_detection="server_vad") as session:
            chunks = session.append_audio(bytes(48000 * 12))
            await until(lambda: len(sent(session, "input_audio_buffer.append")) == len(chunks))
            held = await asyncio.wrap_future(session._io.submit(_pending_len(session)))
            assert held == PRE_SPEECH_S * 48000  # silence in no item: not kept, and not counted as dropped
            assert session.item_audio.dropped_ms == 0 and len(session.item_audio) == 0

    run(body)


async def _pending_len(session: Any) -> int:
    return len(session.item_audio._pending)  # read on the I/O thread, where the tap writes it


# ---------------------------------------------------------------------------------------------- where it lies


def feed(store: ItemAudioStore, time: float, direction: str, data: dict[str, Any]) -> None:
    store.tap(LogEntry(time, direction, data["type"], 0, {}), data)


def mic(store: ItemAudioStore, time: float, pcm: bytes, step_s: float = 0.0) -> None:
    """``pcm`` appended in 100 ms chunks from ``time``, ``step_s`` apart (0: all at once, as send_audio does)."""
    for n, at in enumerate(range(0, len(pcm), 4800)):
        audio = base64.b64encode(pcm[at : at + 4800]).decode()
        feed(store, time + n * step_s, "client", {"type": "input_audio_buffer.append", "audio": audio})


def vad_item(store: ItemAudioStore, time: float, item_id: str, start_ms: int, end_ms: int) -> None:
    """The server's VAD: speech from ``start_ms`` to ``end_ms`` of the appended audio, committed as ``item_id``."""
    feed(
        store,
        time,
        "server",
        {"type": "input_audio_buffer.speech_started", "item_id": item_id, "audio_start_ms": start_ms},
    )
    feed(
        store, time, "server", {"type": "input_audio_buffer.speech_stopped", "item_id": item_id, "audio_end_ms": end_ms}
    )
    feed(store, time, "server", {"type": "input_audio_buffer.committed", "item_id": item_id})


def test_a_user_item_appended_in_runs_seconds_apart_lies_where_each_run_was_appended() -> None:
    store = ItemAudioStore()
    first, second = tone(500, 300.0), tone(1000, 500.0)
    mic(store, 1.0, first)  # a send (100 ms appends, all at once), a pause of the microphone, another send
    mic(store, 6.0, second)
    vad_item(store, 6.1, "item_u", 250, 1200)  # the padding before the speech reaches back into the first send
    kept = store.get("item_u")
    assert kept is not None and kept.pcm == first[250 * 48 :] + second[: 700 * 48]
    # Its first sample is 50 ms into an append sent at 1.0; the rest of it was sent at 6.0.
    assert kept.spans == (pytest.approx((1.05, 0, 6000)), (6.0, 6000, 16800))
    assert kept.started_at == store.started_at("item_u") == kept.spans[0][0]
    assert kept.runs() == [(kept.spans[0][0], first[250 * 48 :]), (6.0, second[: 700 * 48])]
    frames = stereo_timeline([kept])
    gap = round(4.95 * 24000)  # the second run lies where it was sent, not right after the first
    assert len(frames) == gap + 16800 and not frames[:, 1].any()
    assert frames[:6000, 0].tobytes() == first[250 * 48 :] and not frames[6000:gap, 0].any()
    assert frames[gap:, 0].tobytes() == second[: 700 * 48]


def test_a_microphone_streaming_in_real_time_with_jitter_is_one_run_and_a_pause_starts_another() -> None:
    store = ItemAudioStore()
    speech = tone(2000)
    late = [0.0, 0.05, 0.12, 0.02, 0.15, 0.0, 0.1, 0.03, 0.18, 0.01]  # each chunk up to 180 ms late
    for n, at in enumerate(range(0, len(speech) // 2, 4800)):
        mic(store, 2.0 + n * 0.1 + late[n % 10], speech[at : at + 4800])
    mic(store, 9.0, tone(500))  # after a pause of 5 s
    vad_item(store, 9.1, "item_u", 0, 1500)
    kept = store.get("item_u")
    assert kept is not None and kept.spans == ((2.0, 0, 24000), (9.0, 24000, 12000))
    assert sum(len(pcm) for _, pcm in kept.runs()) == len(kept.pcm)


def test_the_bound_drops_a_whole_run_and_the_item_then_begins_at_the_next() -> None:
    store = ItemAudioStore(keep_s=1.0)
    mic(store, 1.0, tone(500))
    mic(store, 6.0, tone(1000))
    vad_item(store, 6.1, "item_u", 0, 1500)  # 1.5 s: the first run (0.5 s) dropped
    kept = store.get("item_u")
    assert kept is not None and kept.dropped_ms == 500 and kept.spans == ((6.0, 0, 24000),)
    assert kept.started_at == 6.0
    store.keep_s = 0.75  # a quarter second more: the run begins later
    kept = store.get("item_u")
    assert kept is not None and kept.spans == ((6.25, 0, 18000),) and kept.started_at == 6.25


def test_an_assistant_item_is_one_run_from_its_first_delta_as_heard() -> None:
    store = ItemAudioStore()
    audio = base64.b64encode(tone(400)).decode()
    for at in (3.0, 3.01, 7.0):  # deltas faster than real time, then one late: played back to back
        feed(store, at, "server", {"type": "response.output_audio.delta", "item_id": "item_a", "delta": audio})
    kept = store.get("item_a")
    assert kept is not None and kept.spans == ((3.0, 0, 3 * 9600),) and kept.runs() == [(3.0, kept.pcm)]
