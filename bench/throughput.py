"""Receive-path throughput: rtwidget's Session vs the official openai SDK's typed parsing, in one run.

A realistic stream of server events (user turns with VAD events, assistant audio responses with audio and
transcript deltas interleaved, items, responses, rate limits, an occasional function call) is generated
once as wire text, then fed

- through ``Session._receive`` (parse, dialect handling, conversation state, response tracker, bounded log,
  handler dispatch: everything the session does with a message except reading the socket), and
- through ``openai``'s ``RealtimeConnection.parse_event`` (json.loads + construct_type_unchecked into the
  SDK's GA event models), which is what the SDK does for every message.

Prints both rates, their ratio (goal: rtwidget at least 5x) and memory after. Run:

    python bench/throughput.py [--events 120000] [--delta-ms 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from rtwidget import Session


def _event(counter: list[int], etype: str, **fields: Any) -> str:
    counter[0] += 1
    return json.dumps({"type": etype, "event_id": f"event_{counter[0]:08d}", **fields}, separators=(",", ":"))


# Words of the transcripts and texts (the browser benchmarks' event feeder speaks them too).
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "the",
    "lazy",
    "dog",
    "while",
    "the",
    "weather",
    "in",
    "Paris",
    "stays",
    "mild",
]


def in_progress_response(rid: str) -> dict[str, Any]:
    """The ``response`` object of a ``response.created`` for an audio reply in the default conversation."""
    return {
        "id": rid,
        "object": "realtime.response",
        "status": "in_progress",
        "output": [],
        "conversation_id": "conv_1",
        "output_modalities": ["audio"],
        "usage": None,
    }


def make_stream(n_events: int, delta_ms: int = 50, seed: int = 1) -> list[str]:
    """Wire texts of whole turns until at least ``n_events`` events."""
    rng = np.random.default_rng(seed)
    chunk = base64.b64encode(rng.integers(-3000, 3000, 24 * delta_ms, dtype=np.int16).tobytes()).decode()
    out: list[str] = []
    c = [0]
    turn = 0
    prev = None
    audio_ms = 0
    while len(out) < n_events:
        turn += 1
        user = f"item_u{turn}"
        out.append(_event(c, "input_audio_buffer.speech_started", audio_start_ms=audio_ms, item_id=user))
        audio_ms += 1500
        out.append(_event(c, "input_audio_buffer.speech_stopped", audio_end_ms=audio_ms, item_id=user))
        out.append(_event(c, "input_audio_buffer.committed", item_id=user, previous_item_id=prev))
        user_item = {
            "id": user,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        out.append(_event(c, "conversation.item.added", item=user_item, previous_item_id=prev))
        out.append(_event(c, "conversation.item.done", item=user_item, previous_item_id=prev))
        prev = user
        rid, aid = f"resp_{turn}", f"item_a{turn}"
        response = in_progress_response(rid)
        out.append(_event(c, "response.created", response=response))
        out.append(
            _event(
                c,
                "rate_limits.updated",
                rate_limits=[{"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 0.06}],
            )
        )
        item = {
            "id": aid,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        base = {"response_id": rid, "item_id": aid, "output_index": 0, "content_index": 0}
        out.append(_event(c, "response.output_item.added", response_id=rid, output_index=0, item=item))
        out.append(_event(c, "conversation.item.added", item=item, previous_item_id=prev))
        out.append(_event(c, "response.content_part.added", part={"type": "audio", "transcript": ""}, **base))
        transcript = []
        for k in range(int(rng.integers(80, 200))):  # 4-10 s of speech in 50 ms deltas
            out.append(_event(c, "response.output_audio.delta", delta=chunk, **base))
            if k % 3 == 0:
                word = WORDS[k % len(WORDS)] + " "
                transcript.append(word)
                out.append(_event(c, "response.output_audio_transcript.delta", delta=word, **base))
        text = "".join(transcript)
        out.append(_event(c, "response.output_audio.done", **base))
        out.append(_event(c, "response.output_audio_transcript.done", transcript=text, **base))
        out.append(_event(c, "response.content_part.done", part={"type": "audio", "transcript": text}, **base))
        done_item = {**item, "status": "completed", "content": [{"type": "output_audio", "transcript": text}]}
        out.append(_event(c, "response.output_item.done", response_id=rid, output_index=0, item=done_item))
        out.append(_event(c, "conversation.item.done", item=done_item, previous_item_id=prev))
        prev = aid
        usage = {
            "total_tokens": 900,
            "input_tokens": 400,
            "output_tokens": 500,
            "input_token_details": {
                "text_tokens": 100,
                "audio_tokens": 300,
                "image_tokens": 0,
                "cached_tokens": 0,
            },
            "output_token_details": {"text_tokens": 100, "audio_tokens": 400},
        }
        out.append(
            _event(
                c,
                "response.done",
                response={**response, "status": "completed", "output": [done_item], "usage": usage},
            )
        )
    return out


def run_rtwidget(stream: list[str]) -> tuple[float, Session]:
    session = Session()
    session.on("response.done", lambda e: None)  # one handler, as a widget would have
    receive = session._receive
    t0 = time.perf_counter()
    for text in stream:
        receive(text)
    return time.perf_counter() - t0, session


def run_sdk(stream: list[str]) -> float:
    from openai.resources.realtime.realtime import RealtimeConnection

    parse = RealtimeConnection.parse_event
    t0 = time.perf_counter()
    for text in stream:
        parse(None, text)  # type: ignore[arg-type]  # parse_event does not use self
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=120_000)
    parser.add_argument("--delta-ms", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    args = parser.parse_args()

    stream = make_stream(args.events, args.delta_ms)
    n = len(stream)
    mib = sum(map(len, stream)) / 2**20
    types: dict[str, int] = {}
    for text in stream:
        etype = json.loads(text)["type"]
        types[etype] = types.get(etype, 0) + 1
    print(
        f"stream: {n} server events, {mib:.1f} MiB of JSON, {len(types)} types; "
        f"audio deltas {types['response.output_audio.delta']}, "
        f"transcript deltas {types['response.output_audio_transcript.delta']}, "
        f"responses {types['response.done']}"
    )

    rt_best = sdk_best = float("inf")
    session = None
    for _ in range(args.repeat):
        gc.collect()
        sdk_best = min(sdk_best, run_sdk(stream))
        gc.collect()
        elapsed, session = run_rtwidget(stream)
        rt_best = min(rt_best, elapsed)
    assert session is not None
    print(f"rtwidget Session._receive : {n / rt_best:>10,.0f} events/s  ({rt_best:.2f} s, best of {args.repeat})")
    print(f"openai SDK parse_event    : {n / sdk_best:>10,.0f} events/s  ({sdk_best:.2f} s, best of {args.repeat})")
    print(f"ratio rtwidget / SDK      : {sdk_best / rt_best:.1f}x  (goal: >= 5x)")

    items = session.conversation
    audio_s = sum(i.audio_ms for i in items) / 1000
    print(
        f"state after one pass: {len(items)} conversation items, {audio_s:,.0f} s of assistant audio counted, "
        f"log {len(session.log)} entries (bounded)"
    )
    gc.collect()
    tracemalloc.start()
    _, fresh = run_rtwidget(stream)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"memory: session state after {n} events {current / 2**20:.1f} MiB (traced peak {peak / 2**20:.1f} MiB); "
        f"process max RSS {rss:.0f} MiB (includes the {mib:.0f} MiB stream)"
    )
    del fresh


if __name__ == "__main__":
    main()
