"""The doctor's cost on the receive path: ``Session._receive`` with the doctor on and off, in one run.

The same realistic stream of server events as ``throughput.py`` (turns with VAD events, audio and transcript
deltas, items, responses, function calls) is fed through ``Session._receive`` of a session whose doctor is on
(every rule) and of one with no doctor at all (its feed replaced by a no-op), alternately,
best of ``--repeat``. Also the feed alone (``Doctor.server_received``) per event, and the hints the stream raised
(none expected: it is a correct flow). Budget: 20 us per event, 0.2% of a core at 100 events/s. Run:

    python bench/doctor.py [--events 60000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from throughput import make_stream

from rtwidget import Session
from rtwidget.protocol.doctor import Doctor
from rtwidget.protocol.events import Codec


def run(stream: list[str], doctor: bool) -> tuple[float, Session]:
    session = Session()
    if not doctor:  # no doctor at all (Session(doctor=False) still keeps its state): the feed does nothing
        session._doctor_feed = lambda *args: None  # type: ignore[method-assign]
    session.on("response.done", lambda e: None)  # one handler, as a widget would have
    receive = session._receive

    async def feed() -> float:  # on a running loop, as the session's I/O thread runs it (the doctor's timer)
        t0 = time.perf_counter()
        for text in stream:
            receive(text)
        return time.perf_counter() - t0

    return asyncio.run(feed()), session


def feed_alone(stream: list[str]) -> float:
    """Seconds for ``Doctor.server_received`` over the parsed stream (parsing not counted)."""
    codec = Codec()
    events = [codec.decode(text) for text in stream]
    doctor = Doctor()
    now = time.time()
    t0 = time.perf_counter()
    for event in events:
        doctor.server_received(event, now)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each; the best is reported")
    args = parser.parse_args()

    stream = make_stream(args.events)
    n = len(stream)
    on_best = off_best = alone_best = float("inf")
    hints = -1
    for _ in range(args.repeat):
        gc.collect()
        elapsed, _ = run(stream, doctor=False)
        off_best = min(off_best, elapsed)
        gc.collect()
        elapsed, session = run(stream, doctor=True)
        on_best = min(on_best, elapsed)
        hints = len(session.hints)
        gc.collect()
        alone_best = min(alone_best, feed_alone(stream))
    print(f"stream: {n} server events (best of {args.repeat})")
    print(f"Session._receive, no doctor  : {n / off_best:>10,.0f} events/s  ({off_best * 1e6 / n:.1f} us/event)")
    print(f"Session._receive, doctor on  : {n / on_best:>10,.0f} events/s  ({on_best * 1e6 / n:.1f} us/event)")
    extra_us = (on_best - off_best) * 1e6 / n
    print(
        f"doctor's cost                : {extra_us:.1f} us/event, {(on_best - off_best) / off_best:+.0%} of the "
        f"receive path; at 100 events/s (a busy audio session) {extra_us * 100 / 1e4:.2f}% of a core "
        "(budget: 20 us/event)"
    )
    print(f"Doctor.server_received alone : {alone_best * 1e6 / n:.1f} us/event")
    print(f"hints raised by the stream   : {hints} (a correct flow: 0 expected)")


if __name__ == "__main__":
    main()
