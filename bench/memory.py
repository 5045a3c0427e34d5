"""Memory: a 60-minute session with its widget simulated at fast pace, once without recording and once recording.

A Session in this process (the "kernel"), with its RealtimeWidget attached to a comm that discards what it sends
(as a kernel's iopub does once sent; no browser), talks to a local server in another process (``python -m
rtwidget.server --pace fast``, so the server's memory is not counted as the kernel's). Talking half the time: the
session is a run of 20-second exchanges, each with 10 s of the user's speech appended in 100 ms chunks (the
widget's ``mic_chunk_ms``), committed and answered (a short spoken answer), then a text message answered with
about 8.5 s of speech. Every 20th exchange's text turn is a tool call (``get_weather``), every 15th is cut after
its first audio (truncate + cancel: a barge-in).

Printed per run: the kernel's RSS at the start (after a warm-up) and at the end (before close), its growth, and
how much of it the item-audio store holds in RAM (``session.item_audio``: kept and dropped minutes; its bytes are
in temporary files, see ``rtwidget/session/audio_spool.py``); the temporary files' size on disk and the cost of
reading the audio back (every item, as ``export_wav`` does; one item, as a click does); with recording:
the cassette's size against the PCM bytes of the microphone and model audio (goal: close to 1x); the saved
notebook (a small notebook with the widget displayed and the widget state JupyterLab saves in its metadata,
from ipywidgets' embed state; goal <= 1 MB). Goal: RSS growth <= 50 MB without recording.

The recording run comes second in the same process: its RSS start is after the first run closed, and the
allocator may hold on to the first run's freed memory, so its growth can read low.

Run: ``python bench/memory.py [--minutes 60] [--audio-keep-s 1800]`` (about 70 s for the default on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ipywidgets.widgets.widget as widget_module  # noqa: E402
import nbformat  # noqa: E402
from ipywidgets.embed import dependency_state, embed_data  # noqa: E402
from item_audio_spool import read_back  # noqa: E402
from soak import serve_fast, speech  # noqa: E402

from rtwidget import Session  # noqa: E402
from rtwidget.protocol.conversation import b64_decoded_len  # noqa: E402
from rtwidget.session.item_audio import AUDIO_KEEP_S  # noqa: E402
from rtwidget.widget import RealtimeWidget  # noqa: E402

TURN_TIMEOUT_S = 60.0
RSS_GOAL_MB = 50.0
NOTEBOOK_GOAL_MB = 1.0
EXCHANGE_S = 20  # 10 s of the user's speech, about 10 s of answers
USER_S = 10
CHUNK_MS = 100  # the widget's mic_chunk_ms
BYTES_PER_S = 48_000  # PCM16 mono 24 kHz
ANSWER = "tell me: " + " ".join(["the quick brown fox jumps over the lazy dog"] * 2)  # ~7.5 s spoken back
MB = 1024 * 1024

try:
    import psutil

    def rss_mb() -> float:
        return float(psutil.Process().memory_info().rss) / MB

except ImportError:  # VmRSS from /proc (resource's ru_maxrss is a peak, not the current size)

    def rss_mb() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


class NullComm:
    """The widget's comm: counts what the kernel would send to the browser and keeps none of it."""

    def __init__(self, **kwargs: Any) -> None:
        self.comm_id = kwargs.get("comm_id") or f"comm-{id(self):x}"
        self.kernel = object()  # ipywidgets sends only when the comm has a kernel
        self.messages = 0
        self.buffer_bytes = 0

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self.messages += 1
        self.buffer_bytes += sum(len(memoryview(b)) for b in buffers or ())

    def on_msg(self, callback: Any) -> None:
        pass

    def on_close(self, callback: Any) -> None:
        pass

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass


widget_module.comm.create_comm = NullComm  # type: ignore[attr-defined]  # no kernel here: the comm is ours


class AudioTally:
    """A session tap: PCM bytes of the microphone (appended) and of the model (output deltas), from the base64."""

    def __init__(self) -> None:
        self.mic = 0
        self.model = 0

    def __call__(self, entry: Any, data: dict[str, Any]) -> None:
        if entry.type == "input_audio_buffer.append" and entry.direction == "client":
            self.mic += b64_decoded_len(str(data.get("audio") or ""))
        elif entry.type == "response.output_audio.delta" and entry.direction == "server":
            self.model += b64_decoded_len(str(data.get("delta") or ""))


def user_speech() -> list[bytes]:
    """USER_S seconds of synthesized speech (looped), in CHUNK_MS chunks."""
    pcm = speech()
    need = USER_S * BYTES_PER_S
    pcm = (pcm * (need // len(pcm) + 1))[:need]
    step = CHUNK_MS * BYTES_PER_S // 1000
    return [pcm[i : i + step] for i in range(0, need, step)]


async def exchange(session: Session, index: int, chunks: list[bytes]) -> None:
    """Twenty simulated seconds: the user speaks 10 s and is answered, then a text turn answered at length (a tool
    call or a barge-in now and then)."""
    done = session.expect("response.done")
    for chunk in chunks:
        session.append_audio(chunk)
    session.commit_audio()
    session.respond()
    await asyncio.wait_for(done, TURN_TIMEOUT_S)
    if index % 20 == 19:
        await session.ask(f"get_weather city=Oslo{index}", timeout=TURN_TIMEOUT_S)
    elif index % 15 == 14:
        first_audio = session.expect("response.output_audio.delta")
        done = session.expect("response.done")
        session.send_text(ANSWER)
        delta = await asyncio.wait_for(first_audio, TURN_TIMEOUT_S)
        session.truncate(delta["item_id"], 150)  # the user spoke over it 150 ms in
        session.cancel()
        await asyncio.wait_for(done, TURN_TIMEOUT_S)
    else:
        done = session.expect("response.done")
        session.send_text(ANSWER)
        await asyncio.wait_for(done, TURN_TIMEOUT_S)


def notebook_bytes(widget: RealtimeWidget) -> tuple[int, int, list[tuple[str, int]]]:
    """The saved notebook's size (a code cell showing the widget, the widget state in the notebook's metadata as
    JupyterLab saves it), the widget-state part alone, and the five largest traits of the widget's model."""
    # Every trait, defaults too: the browser's widget manager saves what its model holds, and the frontend model
    # holds the kernel's _esm/_css (its own defaults do not have them), so dropping defaults here would undercount.
    data = embed_data(views=[widget], state=dependency_state([widget], drop_defaults=False))
    state = data["manager_state"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A session\nTalk to the model; the widget below shows the conversation."),
        nbformat.v4.new_code_cell(
            "from rtwidget import Session\nsession = Session()\nsession",
            execution_count=1,
            outputs=[
                nbformat.v4.new_output(
                    "display_data",
                    data={
                        "text/plain": repr(widget)[:200],
                        "application/vnd.jupyter.widget-view+json": data["view_specs"][0],
                    },
                )
            ],
        ),
    ]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": state}
    text = nbformat.writes(nb)
    mine = state["state"].get(widget.model_id, {}).get("state", {})
    sizes = sorted(((k, len(json.dumps(v, default=str))) for k, v in mine.items()), key=lambda kv: -kv[1])
    return len(text.encode("utf-8")), len(json.dumps(state).encode("utf-8")), sizes[:5]


async def run(url: str, exchanges: int, cassette: Path | None, keep_s: float = AUDIO_KEEP_S) -> dict[str, Any]:
    chunks = user_speech()
    session = Session(endpoint=url, instructions="Answer briefly.", turn_detection=None, audio_keep_s=keep_s)
    tally = AudioTally()
    session._taps.add(tally)

    @session.tool
    def get_weather(city: str) -> dict[str, Any]:
        """The weather in a city."""
        return {"city": city, "temperature_c": 3, "sky": "clear"}

    widget = RealtimeWidget(session, autoconnect=False)
    comm: NullComm = widget.comm  # type: ignore[assignment]
    if cassette is not None:
        session.record(cassette)
    await session.connect()
    for index in range(2):  # warm up: caches, pools, the first of every kind of turn
        await exchange(session, index + 13, chunks)
    gc.collect()
    rss_start = rss_mb()
    mic0, model0 = tally.mic, tally.model
    started = time.monotonic()
    quarters: list[tuple[float, float, float]] = []  # (simulated minute, RSS, item-audio MB) every quarter
    for index in range(exchanges):
        await exchange(session, index, chunks)
        if (index + 1) % max(1, exchanges // 4) == 0 and index + 1 < exchanges:
            gc.collect()
            quarters.append(
                ((index + 1) * EXCHANGE_S / 60, rss_mb(), session.item_audio.kept_ms * BYTES_PER_S / 1000 / MB)
            )
    elapsed = time.monotonic() - started
    gc.collect()
    rss_end = rss_mb()
    nb_size, state_size, largest = notebook_bytes(widget)
    spool = session.item_audio.spool
    disk = spool_disk(spool)
    readback = read_back(session.item_audio)
    out: dict[str, Any] = {
        "elapsed_s": elapsed,
        "rss_start": rss_start,
        "rss_end": rss_end,
        "mic": tally.mic,
        "model": tally.model,
        "mic_measured": tally.mic - mic0,
        "model_measured": tally.model - model0,
        "kept_ms": session.item_audio.kept_ms,
        "dropped_ms": session.item_audio.dropped_ms,
        "items": len(session.conversation),
        "comm_messages": comm.messages,
        "comm_bytes": comm.buffer_bytes,
        "notebook": nb_size,
        "widget_state": state_size,
        "largest_traits": largest,
        "quarters": quarters,
        "spool_disk": disk,
        "spool_ram": spool.ram_bytes,
        "readback": readback,
    }
    closing = time.monotonic()
    if cassette is not None:
        session.stop_recording()
        out["cassette"] = cassette.stat().st_size
        out["cassette_close_s"] = time.monotonic() - closing
    await session.close()
    widget.close()
    del session, widget
    gc.collect()
    out["rss_after_close"] = rss_mb()
    return out


def spool_disk(spool: Any) -> tuple[int, int, int]:
    """The item audio's temporary files: how many, their bytes, and the disk they take (allocated blocks)."""
    files = spool.files
    sizes = [os.fstat(f.fileno()) for f in files]
    return len(files), sum(st.st_size for st in sizes), sum(getattr(st, "st_blocks", 0) * 512 for st in sizes)


def report(name: str, r: dict[str, Any]) -> None:
    minutes = (r["mic_measured"] + r["model_measured"]) / BYTES_PER_S / 60
    print(f"== {name}")
    print(
        f"simulated: {minutes:.1f} min of audio measured (mic {r['mic_measured'] / BYTES_PER_S / 60:.1f} min, "
        f"model {r['model_measured'] / BYTES_PER_S / 60:.1f} min) in {r['elapsed_s']:.1f} s; "
        f"{r['items']} items in the conversation; widget sent {r['comm_messages']:,} comm messages "
        f"({r['comm_bytes'] / MB:.1f} MB of buffers)"
    )
    growth = r["rss_end"] - r["rss_start"]
    kept_mb = r["kept_ms"] * BYTES_PER_S / 1000 / MB
    ram_mb = r["spool_ram"] / MB
    print(
        f"kernel RSS: {r['rss_start']:.1f} MB -> {r['rss_end']:.1f} MB (growth {growth:+.1f} MB; the item-audio "
        f"store keeps {kept_mb:.1f} MB of audio, {ram_mb:.2f} MB of it in RAM); after close "
        f"{r['rss_after_close']:.1f} MB"
    )
    steps = ", ".join(f"min {m:g}: {rss:.0f} MB ({audio:.0f} audio kept)" for m, rss, audio in r["quarters"])
    print(f"RSS along the way (item audio kept, on disk): {steps}")
    print(f"growth besides the item-audio store's RAM: {growth - ram_mb:+.1f} MB")
    print(
        f"item-audio store: kept {r['kept_ms'] / 60000:.1f} min, dropped {r['dropped_ms'] / 60000:.1f} min "
        f"(of {(r['mic'] + r['model']) / BYTES_PER_S / 60:.1f} min heard, warm-up included)"
    )
    files, size, blocks = r["spool_disk"]
    rb = r["readback"]
    print(
        f"item-audio temporary files: {files} open, {size / MB:.1f} MB written ({blocks / MB:.1f} MB on disk), "
        f"{r['spool_ram'] / 1024:.0f} kB in RAM (the newest audio); read back: all {rb['items']} items "
        f"({rb['bytes'] / MB:.1f} MB) in {rb['all_s'] * 1000:.0f} ms, one item {rb['one_ms']:.2f} ms on average"
    )
    if "cassette" in r:
        pcm = r["mic"] + r["model"]
        print(
            f"cassette: {r['cassette'] / MB:.1f} MB for {pcm / MB:.1f} MB of PCM (mic {r['mic'] / MB:.1f} + model "
            f"{r['model'] / MB:.1f}): {r['cassette'] / pcm:.3f}x; stop_recording() took {r['cassette_close_s']:.1f} s"
        )
    largest = ", ".join(f"{k} {v / 1024:.1f} kB" for k, v in r["largest_traits"])
    print(
        f"saved notebook: {r['notebook'] / 1024:.1f} kB (widget state {r['widget_state'] / 1024:.1f} kB; "
        f"largest traits: {largest})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="simulated minutes per run (default 60)")
    parser.add_argument(
        "--audio-keep-s", type=float, default=AUDIO_KEEP_S, help="the sessions' audio_keep_s (default: the package's)"
    )
    args = parser.parse_args()
    exchanges = max(1, round(args.minutes * 60 / EXCHANGE_S))
    process, url = serve_fast()
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results["recording off"] = asyncio.run(run(url, exchanges, None, args.audio_keep_s))
            cassette = Path(tmp) / "session.rtcassette"
            results["recording on"] = asyncio.run(run(url, exchanges, cassette, args.audio_keep_s))
    finally:
        process.terminate()
        process.wait(10)
    print(
        f"{exchanges} exchanges of {EXCHANGE_S} s per run (python bench/memory.py --minutes {args.minutes:g} "
        f"--audio-keep-s {args.audio_keep_s:g})"
    )
    for name, r in results.items():
        report(name, r)
    off = results["recording off"]
    on = results["recording on"]
    goals = {
        f"RSS growth <= {RSS_GOAL_MB:g} MB without recording": off["rss_end"] - off["rss_start"] <= RSS_GOAL_MB,
        "cassette within 1.1x of its PCM": on["cassette"] <= 1.1 * (on["mic"] + on["model"]),
        f"saved notebook <= {NOTEBOOK_GOAL_MB:g} MB": max(off["notebook"], on["notebook"]) <= NOTEBOOK_GOAL_MB * MB,
    }
    for goal, met in goals.items():
        print(f"goal {goal}: {'met' if met else 'NOT MET'}")


if __name__ == "__main__":
    main()
