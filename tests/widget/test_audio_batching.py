"""Assistant audio coalesced into ``audio`` messages: the first delta of an item at once, later ones at most one
message per interval (an injected clock and timer), a flush drops what was not sent (and the playhead never
counted it), closing sends what is pending, and the panel batch rides with the audio."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import pytest

from rtwidget import Session
from rtwidget.audio import BYTES_PER_MS
from rtwidget.widget.batch import AudioChunk, AudioCoalescer
from rtwidget.widget.bridge import Bridge


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Timers:
    """A fake timer: records (delay, callback); ``fire()`` runs the pending one."""

    class Handle:
        def __init__(self, timers: Timers, delay: float, callback: Callable[[], None]) -> None:
            self.timers, self.delay, self.callback, self.cancelled = timers, delay, callback, False

        def cancel(self) -> None:
            self.cancelled = True

    def __init__(self) -> None:
        self.made: list[Timers.Handle] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> Timers.Handle:
        self.made.append(Timers.Handle(self, delay, callback))
        return self.made[-1]

    def live(self) -> list[Timers.Handle]:
        return [h for h in self.made if not h.cancelled]

    def fire(self) -> None:
        (handle,) = self.live()
        handle.cancelled = True
        handle.callback()


def chunk(item: str = "a", ms: int = 100, t: float = 0.0) -> AudioChunk:
    return AudioChunk(item, "r1", bytes(ms * BYTES_PER_MS), t)


def coalescer(interval_s: float = 0.1) -> tuple[AudioCoalescer, list[list[AudioChunk]], Clock, Timers]:
    sent: list[list[AudioChunk]] = []
    clock, timers = Clock(), Timers()
    out: AudioCoalescer

    def send() -> None:
        sent.append(out.take())

    out = AudioCoalescer(send, interval_s=interval_s, clock=clock, timer=timers)
    return out, sent, clock, timers


def test_first_delta_of_an_item_leaves_at_once() -> None:
    out, sent, _, timers = coalescer()
    out.add(chunk("a", 20))
    assert [len(m) for m in sent] == [1] and not out.pending and not timers.live()


def test_later_deltas_wait_for_the_next_message_due_an_interval_after_the_last() -> None:
    out, sent, clock, timers = coalescer()
    out.add(chunk("a", 400, t=1))  # at once; the browser now holds 400 ms
    clock.now += 0.03
    out.add(chunk("a", 100, t=2))
    clock.now += 0.03
    out.add(chunk("a", 100, t=3))
    assert len(sent) == 1 and [c.t for c in out.pending] == [2, 3]
    (handle,) = timers.live()
    assert handle.delay == pytest.approx(0.1 - 0.03)  # due 100 ms after the last message, not after this delta
    clock.now += 0.04
    timers.fire()
    assert [[c.t for c in m] for m in sent] == [[1], [2, 3]]
    assert out.last_sent == clock.now and not out.pending


def test_a_delta_after_a_quiet_interval_leaves_at_once() -> None:
    out, sent, clock, timers = coalescer()
    out.add(chunk("a", 500))
    clock.now += 0.11  # nothing sent for an interval: waiting gains nothing
    out.add(chunk("a", 100))
    assert len(sent) == 2 and not timers.live()


def test_a_delta_goes_at_once_while_the_browser_may_run_dry() -> None:
    out, sent, clock, timers = coalescer()
    out.add(chunk("a", 40))  # the browser holds 40 ms: less than an interval plus the margin
    clock.now += 0.01
    out.add(chunk("a", 40))
    assert len(sent) == 2, "waiting 100 ms with 70 ms in hand would make playback stall"
    clock.now += 0.01
    out.add(chunk("a", 200))  # now about 60 ms in hand: still at once
    clock.now += 0.01
    out.add(chunk("a", 100))  # about 250 ms in hand: this one waits
    assert len(sent) == 3 and len(out.pending) == 1 and timers.live()


def test_the_first_delta_of_a_new_item_does_not_wait() -> None:
    out, sent, clock, timers = coalescer()
    out.add(chunk("a", 1000))
    clock.now += 0.02
    out.add(chunk("a", 100))
    assert len(out.pending) == 1
    out.add(chunk("b", 100))  # a new reply's audio: at once, carrying what was pending before it
    assert [[c.item_id for c in m] for m in sent] == [["a"], ["a", "b"]]
    assert not out.pending and not timers.live()


def test_drop_forgets_pending_and_the_timer() -> None:
    out, sent, clock, timers = coalescer()
    out.add(chunk("a", 1000))
    clock.now += 0.02
    out.add(chunk("a", 100))
    assert out.drop() == {"a"}
    assert not out.pending and not timers.live() and len(sent) == 1


def test_rate_at_most_one_message_per_interval_for_a_fast_stream() -> None:
    """A server sending 20 ms deltas five times faster than real time: after the start (until the browser holds
    150 ms, each delta at once), one message per 100 ms; no delta lost or reordered."""
    out, sent, clock, timers = coalescer()
    times: list[float] = []
    send = out._send

    def timed() -> None:
        times.append(clock.now)
        send()

    out._send = timed
    for _ in range(250):  # 5 s of audio in 1 s
        clock.now += 0.004
        if timers.live() and clock.now >= out.last_sent + 0.1 - 1e-9:  # the armed timer is due
            timers.fire()
        out.add(chunk("a", 20))
    while timers.live():
        clock.now += 0.1
        timers.fire()
    assert sum(len(m) for m in sent) == 250
    start = next(i for i in range(len(times)) if sum(len(m) for m in sent[: i + 1]) * 20 >= 150 + 16 * i)
    assert start <= 12, f"the start took {start} messages"
    gaps = [b - a for a, b in zip(times[start:], times[start + 1 :], strict=False)]
    assert gaps and min(gaps) >= 0.1 - 0.005, gaps
    assert len(sent) - start <= 1.0 / 0.1 + 2


# ------------------------------------------------------------------ the bridge's audio path


def bridge() -> tuple[Bridge, list[tuple[dict[str, Any], list[bytes]]], Clock, Timers]:
    sent: list[tuple[dict[str, Any], list[bytes]]] = []
    traits: dict[str, Any] = {
        "voice_locked": False,
        "counters": {},
        "log_limit": 100,
        "status": "idle",
        "turn_mode": "server_vad",
    }

    def send(content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        sent.append((content, list(buffers or [])))

    b = Bridge(Session(), send=send, set_traits=traits.update, trait=traits.__getitem__)
    clock, timers = Clock(), Timers()
    b.audio_out = AudioCoalescer(b._send_audio, clock=clock, timer=timers)
    return b, sent, clock, timers


def delta(item: str, ms: int, value: int = 1) -> dict[str, Any]:
    pcm = value.to_bytes(2, "little") * (ms * BYTES_PER_MS // 2)
    return {"item_id": item, "response_id": "r1", "delta": base64.b64encode(pcm).decode()}


def audio_of(sent: list[tuple[dict[str, Any], list[bytes]]]) -> list[tuple[dict[str, Any], list[bytes]]]:
    return [(c, b) for c, b in sent if c["kind"] == "audio"]


def test_audio_messages_carry_chunks_with_sequence_numbers_and_count_what_was_sent() -> None:
    b, sent, clock, timers = bridge()
    b._forward_audio(delta("a", 300))
    clock.now += 0.02
    b._forward_audio(delta("a", 100, 2))
    b._forward_audio(delta("a", 100, 3))
    assert len(audio_of(sent)) == 1 and b.playhead.forwarded == {"a": 300 * 24}
    timers.fire()
    messages = audio_of(sent)
    assert [len(c["chunks"]) for c, _ in messages] == [1, 2]
    assert [[x["seq"] for x in c["chunks"]] for c, _ in messages] == [[1], [2, 3]]
    assert all(len(c["chunks"]) == len(bufs) for c, bufs in messages)  # one buffer per chunk
    assert [bufs[1][:2] for c, bufs in messages[1:]] == [b"\x03\x00"], "buffers in order"
    assert b.playhead.forwarded == {"a": 500 * 24} and b.counters["audio_out_ms"] == 500
    assert all(x["item_id"] == "a" and x["response_id"] == "r1" for c, _ in messages for x in c["chunks"])


def test_a_flush_drops_audio_not_sent_and_the_truncate_counts_only_what_was_sent() -> None:
    b, sent, clock, timers = bridge()
    b._forward_audio(delta("a", 300))
    clock.now += 0.02
    b._forward_audio(delta("a", 100))
    b._flush_playback("interrupt")
    assert not b.audio_out.pending and not timers.live()
    assert [c["kind"] for c, _ in sent if c["kind"] in ("audio", "flush")] == ["audio", "flush"]
    b._forward_audio(delta("a", 100))  # still in flight for the flushed item: dropped
    assert len(audio_of(sent)) == 1 and b.playhead.forwarded == {"a": 300 * 24}
    cut = b.playhead.report("a", 100 * 24, final=True)
    assert cut is not None and cut.audio_end_ms == 100
    assert b.playhead.report("a", 300 * 24, final=True) is None


def test_speech_started_flushes_while_audio_is_only_pending() -> None:
    b, sent, clock, _ = bridge()
    b._forward_audio(delta("a", 300))
    b.actions.msg_played({"item_id": "a", "samples": 300 * 24, "final": False}, [])
    clock.now += 0.02
    b._forward_audio(delta("a", 100))
    assert not b.playhead.unplayed() and b.audio_out.pending
    b._on_speech_started({})
    assert [c["reason"] for c, _ in sent if c["kind"] == "flush"] == ["speech_started"]


def test_closing_sends_what_is_pending_before_the_stop() -> None:
    b, sent, clock, _ = bridge()
    b._forward_audio(delta("a", 300))
    clock.now += 0.02
    b._forward_audio(delta("a", 100))
    b._on_closed({"code": 1000})
    kinds = [c["kind"] for c, _ in sent if c["kind"] in ("audio", "stop")]
    assert kinds == ["audio", "audio", "stop"] and not b.audio_out.pending


def test_the_panel_batch_rides_with_audio() -> None:
    b, sent, clock, timers = bridge()
    b._forward_audio(delta("a", 300))
    clock.now += 0.02
    b._forward_audio(delta("a", 100))
    b.batch.tools([{"call_id": "c1", "name": "f", "status": "running"}])
    b.flush()  # the batch is due while audio waits: one message carries both
    (last, bufs) = audio_of(sent)[-1]
    assert last["batch"]["tools"][0]["call_id"] == "c1" and len(bufs) == 1
    assert not [c for c, _ in sent if c["kind"] == "batch"] and not timers.live()


def test_a_batch_due_soon_rides_with_later_audio_but_not_with_a_reply_s_first() -> None:
    async def run() -> list[tuple[dict[str, Any], list[bytes]]]:
        b, sent, _, _ = bridge()
        b.batch.tools([{"call_id": "c1", "name": "f", "status": "running"}])
        b.batch.event("response.created", {"response": {"id": "r1"}})
        b.batch.schedule()  # due within 50 ms
        b._forward_audio(delta("a", 100))  # the reply's first audio: alone, as small as it can be
        await asyncio.sleep(0.1)  # the batch leaves on its own timer
        b.batch.tools([{"call_id": "c1", "name": "f", "status": "done"}])
        b.batch.event("response.output_item.done", {"item": {"id": "a"}})
        b.batch.schedule()
        b._forward_audio(delta("a", 100))  # later audio takes the batch due soon
        await asyncio.sleep(0.1)
        return sent

    sent = asyncio.run(run())
    assert [c["kind"] for c, _ in sent] == ["audio", "batch", "audio"]
    assert "batch" not in sent[0][0] and sent[1][0]["tools"][0]["status"] == "running"
    assert sent[2][0]["batch"]["tools"][0]["status"] == "done"


def test_a_played_report_riding_with_a_mic_chunk_counts() -> None:
    b, _, _, _ = bridge()
    b._forward_audio(delta("a", 300))
    b.actions.msg_mic({"kind": "mic", "seq": 0, "t": 0, "played": {"item_id": "a", "samples": 1200}}, [bytes(96)])
    assert b.playhead.played == {"a": 1200} and not b.playhead.awaiting_final


def test_a_malformed_riding_report_does_not_cost_the_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    b, sent, _, _ = bridge()
    appended: list[bytes] = []
    monkeypatch.setattr(b.session, "append_audio", appended.append)
    monkeypatch.setattr(type(b.session), "connected", property(lambda self: True))
    b.actions.msg_mic({"kind": "mic", "played": {"item_id": "a", "samples": "many"}}, [bytes(96)])
    assert appended == [bytes(96)] and not [c for c, _ in sent if c["kind"] == "notice"]
