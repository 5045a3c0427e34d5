"""Kernel-side instruments of the browser benchmarks (imported in the notebook kernel: bench/ is on its path).

- :func:`local_server`: rtwidget's local Realtime server in this kernel, optionally with other output-audio
  pacing (delta size, lead over real time).
- :class:`CaptureProbe`: pairs each microphone chunk's capture time ``t`` (the browser's ``mic`` message) with
  the time the local server received the ``input_audio_buffer.append`` that carried it, by event id.
- :class:`AudioInjector`: a synthetic assistant response whose audio deltas arrive spaced apart, fed through the
  session's reader path (``session._receive`` on the I/O thread), so every chunk finds the playback queue empty.
- :class:`EventFeeder`: realistic server/client events fed through ``session._log`` on the session's I/O thread
  (the path real events take to the widget's event log), in bulk or at a steady rate.

Nothing here changes rtwidget's files: wrappers are set on instances, or on classes of this kernel process.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from throughput import WORDS, in_progress_response  # bench/ is on the path (see the docstring)

_EVENT_ID = re.compile(r'"event_id"\s*:\s*"([^"]+)"')


def local_server(lead_ms: int | None = None, chunk_ms: int | None = None) -> Any:
    """A LocalServer (pace realtime) on its own thread in this kernel. `lead_ms`: how far ahead of real time the
    output audio deltas are released (the server's default is 250 ms); `chunk_ms`: their length (default 100)."""
    from rtwidget.server import local_server as app
    from rtwidget.server.engine import EngineConfig

    overrides = {}
    if lead_ms is not None:
        overrides["audio_lead_ms"] = int(lead_ms)
    if chunk_ms is not None:
        overrides["audio_chunk_ms"] = int(chunk_ms)
    if overrides:
        app.EngineConfig = functools.partial(EngineConfig, **overrides)  # type: ignore[misc]
    return app.LocalServer(pace="realtime").start_in_thread()


class CaptureProbe:
    """Times of each mic chunk: captured (`t` from the browser), at the bridge, at the local server.

    Wraps ``widget.bridge.actions.msg_mic`` and ``session.append_audio`` on the instances (to learn which event ids
    carried which chunk) and ``Engine.receive_text`` on the class (the local server's receive, this kernel only).
    """

    def __init__(self, session: Any, widget: Any) -> None:
        from rtwidget.server.engine import Engine

        self.session = session
        self.bridge = widget.bridge
        self.chunks: dict[str, tuple[int, float, float, int]] = {}  # event_id -> (seq, t, at bridge, bytes)
        self.received: dict[str, float] = {}  # event_id -> epoch ms at the local server
        self._current: tuple[int, float, float, int] | None = None
        self.enabled = False

        on_mic = self.bridge.actions.msg_mic
        append = session.append_audio

        def on_mic_msg(content: dict[str, Any], buffers: list[bytes]) -> None:
            if self.enabled and buffers:
                size = len(buffers[0])
                self._current = (int(content.get("seq", -1)), float(content.get("t", 0)), time.time() * 1000, size)
            try:
                on_mic(content, buffers)
            finally:
                self._current = None

        def append_audio(*args: Any, **kwargs: Any) -> Any:
            ids = append(*args, **kwargs)
            if self._current is not None:
                for event_id in ids:
                    self.chunks[event_id] = self._current
            return ids

        self.bridge.actions.msg_mic = on_mic_msg
        session.append_audio = append_audio

        if not getattr(Engine, "_bench_wrapped", False):
            original = Engine.receive_text

            def receive_text(engine: Any, text: Any) -> Any:
                probe = CaptureProbe.active
                if (
                    probe is not None
                    and probe.enabled
                    and isinstance(text, str)
                    and "input_audio_buffer.append" in text
                ):
                    found = _EVENT_ID.search(text)
                    if found:
                        probe.received[found.group(1)] = time.time() * 1000
                return original(engine, text)

            Engine.receive_text = receive_text  # type: ignore[method-assign]
            Engine._bench_wrapped = True  # type: ignore[attr-defined]
        CaptureProbe.active = self

    active: CaptureProbe | None = None

    def reset(self, enabled: bool = True) -> None:
        self.chunks.clear()
        self.received.clear()
        self.enabled = enabled

    def pairs(self) -> list[dict[str, float]]:
        """One row per chunk the server received: seq, bytes, capture->bridge, bridge->server, capture->server."""
        out = []
        for event_id, (seq, t, at_bridge, size) in self.chunks.items():
            at_server = self.received.get(event_id)
            if at_server is None:
                continue
            out.append(
                {
                    "seq": seq,
                    "bytes": size,
                    "to_bridge": at_bridge - t,
                    "to_server": at_server - at_bridge,
                    "total": at_server - t,
                }
            )
        out.sort(key=lambda r: r["seq"])
        return out

    def result(self) -> dict[str, Any]:
        """pairs() plus how many chunks were sent and received."""
        return {"pairs": self.pairs(), "chunks": len(self.chunks), "received": len(self.received)}


# ================================================================================ spaced audio


class AudioInjector:
    """One synthetic assistant response (wire text, as the server sends it) whose ``response.output_audio.delta``
    events arrive every `gap_ms`, each `chunk_ms` long, handed to ``session._receive`` on the session's I/O thread
    (exactly what the reader does with a socket message). With `gap_ms` > `chunk_ms` each chunk finds the browser's
    playback queue empty, so its kernel-receive -> worklet-start time is the pipeline's delay alone."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.n = 0
        self.finished = threading.Event()
        self.item_id = ""

    def _wire(self, etype: str, **fields: Any) -> str:
        self.n += 1
        return json.dumps({"type": etype, "event_id": f"event_inj{self.n:07d}", **fields}, separators=(",", ":"))

    def start(self, chunks: int, chunk_ms: int = 100, gap_ms: int = 250, tag: str = "1") -> str:
        """Start feeding on a thread; returns the item id. `finished` is set after the response's done events."""
        rid, iid = f"resp_bench{tag}", f"item_bench{tag}"
        self.item_id = iid
        self.finished.clear()
        rng = np.random.default_rng(7)
        pcm = (np.sin(np.arange(24 * chunk_ms) * 2 * np.pi * 220 / 24000) * 8000).astype("<i2")
        delta = base64.b64encode((pcm + rng.integers(-200, 200, pcm.size)).astype("<i2").tobytes()).decode()
        response = in_progress_response(rid)
        item = {"id": iid, "object": "realtime.item", "type": "message", "role": "assistant", "status": "in_progress"}
        item["content"] = []
        base = {"response_id": rid, "item_id": iid, "output_index": 0, "content_index": 0}
        w = self._wire
        head = [
            w("response.created", response=response),
            w("response.output_item.added", response_id=rid, output_index=0, item=item),
            w("conversation.item.added", item=item, previous_item_id=None),
            w("response.content_part.added", part={"type": "audio", "transcript": ""}, **base),
        ]
        done_item = {**item, "status": "completed", "content": [{"type": "output_audio", "transcript": ""}]}
        tail = [
            w("response.output_audio.done", **base),
            w("response.output_audio_transcript.done", transcript="", **base),
            w("response.content_part.done", part={"type": "audio", "transcript": ""}, **base),
            w("response.output_item.done", response_id=rid, output_index=0, item=done_item),
            w("conversation.item.done", item=done_item, previous_item_id=None),
            w("response.done", response={**response, "status": "completed", "output": [done_item]}),
        ]
        receive = self.session._receive
        call = self.session.call_soon

        def run() -> None:
            for text in head:
                call(receive, text)
            t0 = time.monotonic() + 0.2
            for k in range(chunks):
                pause = t0 + k * gap_ms / 1000 - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                call(receive, w("response.output_audio.delta", delta=delta, **base))
                call(receive, w("response.output_audio_transcript.delta", delta=f"w{k} ", **base))
            for text in tail:
                call(receive, text)
            call(self.finished.set)

        threading.Thread(target=run, name="bench-audio", daemon=True).start()
        return iid


# ================================================================================ events for the event log


class EventFeeder:
    """Realistic events (the shape of ``bench/throughput.py``'s stream, plus the client's mic appends) logged
    with ``session._log(direction, type, size, data)`` on the session's I/O thread, as the reader logs them."""

    def __init__(self, session: Any, seed: int = 1, delta_ms: int = 50, mix: str = "realistic") -> None:
        """`mix`: ``realistic`` (deltas and appends merge into run rows: about one row per 11 events) or ``rows``
        (the same stream without its stream events: every event is a new row, the log's worst case)."""
        if mix not in ("realistic", "rows"):
            raise ValueError(mix)
        self.session = session
        self.mix = mix
        rng = np.random.default_rng(seed)
        self.rng = rng
        pcm = rng.integers(-3000, 3000, 24 * delta_ms, dtype=np.int16).tobytes()
        self.delta = base64.b64encode(pcm).decode()  # one shared string: the log only measures it
        self.mic = base64.b64encode(rng.integers(-3000, 3000, 2400, dtype=np.int16).tobytes()).decode()
        self._sizes: dict[str, int] = {}
        self._events = self._stream() if mix == "realistic" else self._rows_only()
        self._ids = 0
        self.fed = 0
        self.busy_s = 0.0  # time spent in _log on the I/O thread
        self.finished = threading.Event()

    # ---------------------------------------------------------------- the stream

    def _ev(self, etype: str, **fields: Any) -> dict[str, Any]:
        self._ids += 1
        return {"type": etype, "event_id": f"event_b{self._ids:08d}", **fields}

    def _size(self, data: dict[str, Any]) -> int:
        etype = data["type"]
        if etype not in self._sizes:
            self._sizes[etype] = len(json.dumps(data, separators=(",", ":")))
        return self._sizes[etype]

    def _rows_only(self) -> Iterator[tuple[str, dict[str, Any]]]:
        from rtwidget.widget.eventlog import is_stream

        for direction, data in self._stream():
            if not is_stream(data["type"]):
                yield direction, data

    def _stream(self) -> Iterator[tuple[str, dict[str, Any]]]:
        turn, prev, audio_ms = 0, None, 0
        ev = self._ev
        while True:
            turn += 1
            user = f"item_u{turn}"
            yield "server", ev("input_audio_buffer.speech_started", audio_start_ms=audio_ms, item_id=user)
            for _ in range(15):  # 1.5 s of mic audio in 100 ms appends
                yield "client", ev("input_audio_buffer.append", audio=self.mic)
            audio_ms += 1500
            yield "server", ev("input_audio_buffer.speech_stopped", audio_end_ms=audio_ms, item_id=user)
            yield "server", ev("input_audio_buffer.committed", item_id=user, previous_item_id=prev)
            user_item = {
                "id": user,
                "object": "realtime.item",
                "type": "message",
                "role": "user",
                "status": "completed",
                "content": [{"type": "input_audio", "transcript": None}],
            }
            yield "server", ev("conversation.item.added", item=user_item, previous_item_id=prev)
            yield "server", ev("conversation.item.done", item=user_item, previous_item_id=prev)
            prev = user
            rid, aid = f"resp_b{turn}", f"item_a{turn}"
            response = in_progress_response(rid)
            yield "server", ev("response.created", response=response)
            limits = [{"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 0.06}]
            yield "server", ev("rate_limits.updated", rate_limits=limits)
            item = {
                "id": aid,
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            base = {"response_id": rid, "item_id": aid, "output_index": 0, "content_index": 0}
            yield "server", ev("response.output_item.added", response_id=rid, output_index=0, item=item)
            yield "server", ev("conversation.item.added", item=item, previous_item_id=prev)
            yield "server", ev("response.content_part.added", part={"type": "audio", "transcript": ""}, **base)
            words = []
            for k in range(int(self.rng.integers(80, 200))):  # 4-10 s of speech in 50 ms deltas
                yield "server", ev("response.output_audio.delta", delta=self.delta, **base)
                if k % 3 == 0:
                    word = WORDS[k % len(WORDS)] + " "
                    words.append(word)
                    yield "server", ev("response.output_audio_transcript.delta", delta=word, **base)
            text = "".join(words)
            yield "server", ev("response.output_audio.done", **base)
            yield "server", ev("response.output_audio_transcript.done", transcript=text, **base)
            yield "server", ev("response.content_part.done", part={"type": "audio", "transcript": text}, **base)
            done_item = {**item, "status": "completed", "content": [{"type": "output_audio", "transcript": text}]}
            yield "server", ev("response.output_item.done", response_id=rid, output_index=0, item=done_item)
            yield "server", ev("conversation.item.done", item=done_item, previous_item_id=prev)
            prev = aid
            usage = {"total_tokens": 900, "input_tokens": 400, "output_tokens": 500}
            done = {**response, "status": "completed", "output": [done_item], "usage": usage}
            yield "server", ev("response.done", response=done)

    # ---------------------------------------------------------------- feeding (on the I/O thread)

    def _log_some(self, n: int) -> None:
        t0 = time.perf_counter()
        log = self.session._log
        for _ in range(n):
            direction, data = next(self._events)
            log(direction, data["type"], self._size(data), data)
        self.fed += n
        self.busy_s += time.perf_counter() - t0

    def _mark(self, name: str) -> None:
        self.session._log("local", f"bench.mark.{name}", 0, {"type": f"bench.mark.{name}"})
        self.finished.set()

    def bulk(self, n: int, chunk: int = 200, mark: str = "bulk") -> None:
        """Log `n` events as fast as the I/O loop goes, `chunk` per loop callback (so the widget's 50 ms batch
        timer runs in between, as between socket reads); then a `bench.mark.<mark>` row. Returns at once."""
        self.finished.clear()
        remaining = [n]

        def step() -> None:
            k = min(chunk, remaining[0])
            self._log_some(k)
            remaining[0] -= k
            if remaining[0] > 0:
                self.session.call_soon(step)
            else:
                self._mark(mark)

        self.session.call_soon(step)

    def steady(self, per_s: int, seconds: float, tick_s: float = 0.01, mark: str = "steady") -> None:
        """Log `per_s` events a second for `seconds` (a `tick_s` clock on a thread hands each tick's events to the
        I/O loop); then a `bench.mark.<mark>` row. Returns at once."""
        self.finished.clear()

        def run() -> None:
            t0 = time.monotonic()
            sent = 0
            total = int(per_s * seconds)
            while sent < total:
                due = min(total, int((time.monotonic() - t0) * per_s))
                if due > sent:
                    self.session.call_soon(self._log_some, due - sent)
                    sent = due
                time.sleep(tick_s)
            self.session.call_soon(self._mark, mark)

        threading.Thread(target=run, name="bench-feeder", daemon=True).start()
