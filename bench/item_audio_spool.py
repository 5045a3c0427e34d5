"""The item audio's temporary files: what they cost the I/O thread per delta, and reading the audio back.

An ``ItemAudioStore`` alone (no server, no session) is fed ``--minutes`` of assistant audio as 50 ms deltas
(``response.output_audio.delta`` through its tap, base64 decoding included, items of 10 s), once with the spool as
it is (temporary files, a 256 kB RAM tail) and once with a tail that is never written (all in RAM: the store as it
was before the spool), alternately ``--repeat`` times. Then the read-back: every item (as ``export_wav`` reads it)
and one item at a time (as a click in the widget does).

Run: ``python bench/item_audio_spool.py [--minutes 30] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from rtwidget.session.audio_spool import AudioSpool
from rtwidget.session.item_audio import ItemAudioStore
from rtwidget.session.local_events import LogEntry

DELTA_MS = 50
ITEM_DELTAS = 200  # 10 s per item
MB = 1024 * 1024


def feed(store: ItemAudioStore, deltas: int) -> float:
    """Seconds per delta to feed ``deltas`` deltas through the store's tap."""
    pcm = np.random.default_rng(0).integers(-8000, 8000, DELTA_MS * 24).astype("<i2").tobytes()
    data = {"type": "response.output_audio.delta", "item_id": "", "delta": base64.b64encode(pcm).decode()}
    entries = [LogEntry(i * DELTA_MS / 1000, "server", data["type"], 0, {}) for i in range(deltas)]
    started = time.perf_counter()
    for i, entry in enumerate(entries):
        data["item_id"] = f"item_{i // ITEM_DELTAS}"
        store.tap(entry, data)
    return (time.perf_counter() - started) / deltas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes of audio fed per run (default 30)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind, alternating (default 3)")
    args = parser.parse_args()
    deltas = round(args.minutes * 60_000 / DELTA_MS)
    costs: dict[str, list[float]] = {"temporary files": [], "all in RAM": []}
    store = ItemAudioStore()
    for _ in range(args.repeat):
        ram = ItemAudioStore(spool=AudioSpool(segment_bytes=1 << 62, tail_bytes=1 << 62))
        costs["all in RAM"].append(feed(ram, deltas))
        del ram
        store.spool.close()
        store = ItemAudioStore()
        costs["temporary files"].append(feed(store, deltas))
    print(f"{deltas:,} deltas of {DELTA_MS} ms ({args.minutes:g} min) per run, {args.repeat} runs of each, alternating")
    for name, values in costs.items():
        us = sorted(v * 1e6 for v in values)
        runs = ", ".join(f"{u:.1f}" for u in us)
        print(f"tap per delta, {name}: median {statistics.median(us):.1f} us (runs: {runs})")
    spool = store.spool
    print(
        f"spool: {len(spool.files)} files, {spool.disk_bytes / MB:.1f} MB on disk, {spool.ram_bytes / 1024:.0f} kB in "
        f"RAM, {store.kept_ms / 60000:.1f} min kept"
    )
    r = read_back(store)
    print(
        f"read back: every item ({r['items']}, {r['bytes'] / MB:.1f} MB) in {r['all_s'] * 1000:.0f} ms; "
        f"one 10 s item {r['one_ms']:.2f} ms"
    )


def read_back(store: ItemAudioStore) -> dict[str, float]:
    """The cost of reading the item audio back from its files: every item (as export_wav does), and one item at a
    time (as a click in the widget does), from this thread while the store is idle."""
    started = time.perf_counter()
    clips = store.items()
    all_s = time.perf_counter() - started
    total = sum(len(c.pcm) for c in clips)
    ids = [c.item_id for c in clips]
    del clips
    started = time.perf_counter()
    for item_id in ids:
        store.get(item_id)
    one_s = (time.perf_counter() - started) / max(1, len(ids))
    return {"all_s": all_s, "bytes": total, "items": len(ids), "one_ms": one_s * 1000}


if __name__ == "__main__":
    main()
