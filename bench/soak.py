"""Soak: an hour-long session simulated at fast pace, with two forced disconnects and one renewal.

A Session in this process talks to a local server in another process (``python -m rtwidget.server --pace fast``,
so the server's memory is not counted as the kernel's). One simulated hour is 360 turns of ten seconds each,
in a fixed mix: a tool call (``get_weather``), a spoken turn (synthesized speech appended, committed, answered,
with input transcription on), a barge-in (a spoken answer cut after its first audio with a truncate and a
cancel), and plain text turns. The server's script drops the first connection with no close frame (a reset)
and closes the second with 1011; at simulated minute 47 the session renews itself (``renew="auto"``, its
margin set so that the renewal falls due at once), as it would five minutes before the 60-minute cap.

Printed: events processed, turns done and turns cut by a drop, reconnects survived, items restored and what
could not be (by reason), and whether every item present before a drop came back or was named as not
restorable; the kernel's RSS before and after, and its threads and file descriptors before the session and
after close. Goals: nothing lost that could be restored, RSS growth <= 50 MB, no thread or fd left behind.

Run: ``python bench/soak.py [--turns 360]``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rtwidget import ConnectionLost, Session  # noqa: E402 (the checkout is on the path now)
from rtwidget.server import Script  # noqa: E402

TURN_TIMEOUT_S = 60.0
RENEW_AT = 280 / 360  # simulated minute 47 of 60
WARMUP_TURNS = 6  # one of each kind of turn, before the baseline
EVENTS_PER_TURN = 40  # about, on the server's side
RSS_GOAL_MB = 50.0


def rss_mb() -> float:
    """This process's resident set size (VmRSS) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(turns: int, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The local server in its own process, scripted to drop connection 1 and close connection 2 a third of
    the way into their measured turns (about 40 server events per turn; the warm-up's are not counted)."""
    third = EVENTS_PER_TURN * (WARMUP_TURNS + max(1, (turns - WARMUP_TURNS) // 3))
    script = Script(pace="fast").disconnect_after(third, reset=True, connection=1)
    script = script.disconnect_after(third, code=1011, reason="soak: server restart", connection=2)
    path = workdir / "script.json"
    path.write_text(json.dumps(script.to_dict()))
    return serve_fast("--script", str(path))


def serve_fast(*options: str) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m rtwidget.server --pace fast`` (and ``options``) in its own process, once it listens; its URL."""
    port = free_port()
    command = [sys.executable, "-m", "rtwidget.server", "--pace", "fast", "--port", str(port), *options]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"ws://127.0.0.1:{port}/v1/realtime"
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the local server did not listen on port {port} within 30 s")


def speech() -> bytes:
    from rtwidget.server.voice import default_voice

    return default_voice().synthesize("What is the weather like in Oslo today?", voice="alloy")


class Tally:
    """Counts taken from the session's log (a listener on the I/O thread), independent of the session's own
    conversation: the item ids the server added, in order, per connection."""

    def __init__(self, session: Session) -> None:
        self.events: collections.Counter[str] = collections.Counter()
        self.reconnects: list[dict[str, Any]] = []
        self.items: dict[str, None] = {}
        # For each drop: the item ids the server had added before it, and those missing once reconnected.
        self.before_drop: list[list[str]] = []
        self.missing: list[list[str]] = []
        session.add_log_listener(self.on_entry)

    def on_entry(self, entry: Any) -> None:
        self.events[entry.direction] += 1
        data = entry.data
        if entry.type == "conversation.item.added":
            self.items[str((data.get("item") or {}).get("id"))] = None
        elif entry.type == "conversation.item.deleted":
            self.items.pop(str(data.get("item_id")), None)
        elif entry.type == "rtwidget.state" and data.get("state") == "reconnecting" and data["previous"] == "open":
            self.before_drop.append(list(self.items))
            self.items = {}  # the new server session starts empty and is filled by the replay
        elif entry.type == "rtwidget.reconnected":
            self.reconnects.append(data)
            left_out = {note["item_id"] for note in data["not_restored"]}
            self.missing.append([i for i in self.before_drop[-1] if i not in left_out and i not in self.items])


async def turn(session: Session, index: int, pcm: bytes) -> None:
    """One simulated ten seconds: a tool call, a spoken turn, a barge-in or a text turn."""
    kind = index % 6
    if kind == 0:
        await session.ask(f"get_weather city=Oslo{index}", timeout=TURN_TIMEOUT_S)
    elif kind == 1:
        done = session.expect("response.done")
        session.append_audio(pcm)
        session.commit_audio()
        session.respond()
        await asyncio.wait_for(done, TURN_TIMEOUT_S)
    elif kind == 2:
        first_audio = session.expect("response.output_audio.delta")
        done = session.expect("response.done")
        session.send_text(f"tell me a long story about the sea, part {index}")
        delta = await asyncio.wait_for(first_audio, TURN_TIMEOUT_S)
        session.truncate(delta["item_id"], 150)  # the user spoke over it 150 ms in
        session.cancel()
        await asyncio.wait_for(done, TURN_TIMEOUT_S)
    else:
        await session.ask(f"turn {index}: say something short", timeout=TURN_TIMEOUT_S)


async def guarded_turn(session: Session, index: int, pcm: bytes) -> bool:
    """One turn; False when a drop cut it (then once the session has reconnected)."""
    try:
        await turn(session, index, pcm)
        return True
    except ConnectionLost:
        await session.connect()  # waits for the reconnect
        return False


async def soak(url: str, turns: int) -> dict[str, Any]:
    pcm = speech()
    session = Session(
        endpoint=url,
        instructions="Answer briefly.",
        turn_detection=None,
        input_audio_transcription={"model": "whisper-1"},
    )
    session.renew = "auto"

    @session.tool
    def get_weather(city: str) -> dict[str, Any]:
        """The weather in a city."""
        return {"city": city, "temperature_c": 3, "sky": "clear"}

    tally = Tally(session)
    await session.connect()
    for index in range(WARMUP_TURNS):  # warm up before the baseline: caches, pools, the first of every kind of turn
        await guarded_turn(session, index, pcm)
    gc.collect()
    rss_start = rss_mb()
    started = time.monotonic()
    done = cut = 0
    for index in range(WARMUP_TURNS, turns):
        if index == int(turns * RENEW_AT):
            left = session.time_left or 0.0
            session.renew_margin = max(1.0, left - 0.5)  # as if the cap were five minutes away
        if await guarded_turn(session, index, pcm):
            done += 1
        else:
            cut += 1
        if session.renew_margin != 300.0 and len(tally.reconnects) >= 3:
            session.renew_margin = 300.0
    elapsed = time.monotonic() - started
    renewal_due = time.monotonic() + 10  # a short run may end before the renewal it asked for began
    while len(tally.reconnects) < 3 and time.monotonic() < renewal_due:
        await asyncio.sleep(0.1)
    await session.connect()  # a renewal still under way ends before the figures are taken
    gc.collect()
    rss_end = rss_mb()
    conversation_len = len(session.conversation)
    await session.close()
    return {
        "tally": tally,
        "turns_done": done,
        "turns_cut": cut,
        "elapsed_s": elapsed,
        "rss_start": rss_start,
        "rss_end": rss_end,
        "conversation_len": conversation_len,
    }


def report(result: dict[str, Any], turns: int) -> None:
    tally: Tally = result["tally"]
    measured = turns - WARMUP_TURNS
    print(f"turns: {result['turns_done']} done, {result['turns_cut']} cut by a drop (of {measured} measured)")
    total = sum(tally.events.values())
    print(
        f"events processed: {total:,} ({tally.events['server']:,} received, {tally.events['client']:,} sent, "
        f"{tally.events['local']:,} local) in {result['elapsed_s']:.1f} s"
    )
    print(f"reconnects survived: {len(tally.reconnects)} (2 drops + 1 renewal expected)")
    lost_total = 0
    for number, (data, before, missing) in enumerate(
        zip(tally.reconnects, tally.before_drop, tally.missing, strict=True), start=1
    ):
        reasons = collections.Counter(note["reason"] for note in data["not_restored"])
        lost_total += len(missing)
        print(
            f"  reconnect {number} (attempt {data['attempt']}): {len(before)} items before, {data['restored']} "
            f"restored, {len(data['not_restored'])} not restorable, {len(data['shortened'])} shortened to what "
            f"was heard, {data['queued']} queued sends; restorable but missing: {len(missing)}"
        )
        for reason, n in reasons.most_common():
            print(f"      not restored x{n}: {reason}")
    print(f"items in the conversation at the end: {result['conversation_len']}")
    growth = result["rss_end"] - result["rss_start"]
    print(f"kernel RSS: {result['rss_start']:.1f} MB -> {result['rss_end']:.1f} MB (growth {growth:+.1f} MB)")
    print(f"file descriptors: {result['fds_before']} before the session, {result['fds_after']} after close")
    print(f"threads left after close: {result['threads_left'] or 'none'}")
    goals = {
        "nothing restorable lost": lost_total == 0 and len(tally.reconnects) >= 3,
        f"RSS growth <= {RSS_GOAL_MB:g} MB": growth <= RSS_GOAL_MB,
        "no thread left": not result["threads_left"],
        "no fd left": result["fds_after"] <= result["fds_before"],
    }
    for goal, met in goals.items():
        print(f"goal {goal}: {'met' if met else 'NOT MET'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=360, help="ten-second turns to simulate (360: one hour)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_server(args.turns, Path(tmp))
        # Counted around asyncio.run: its loop and default executor are the script's, not the session's.
        threads_before = {t.name for t in threading.enumerate()}
        fds_before = open_fds()
        try:
            result = asyncio.run(soak(url, args.turns))
            gc.collect()
            result["threads_left"] = sorted({t.name for t in threading.enumerate()} - threads_before)
            result["fds_before"], result["fds_after"] = fds_before, open_fds()
        finally:
            process.terminate()
            process.wait(10)
    report(result, args.turns)


if __name__ == "__main__":
    main()
