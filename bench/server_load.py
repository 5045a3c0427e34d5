"""How many live audio connections can one local server keep up with?

Setup: the server runs in its own process (``python -m rtwidget.server --pace realtime``); the clients run
in two other processes (plain ``websockets`` clients, many per asyncio loop), so clients and server never
share a GIL. Every client connection streams 20 ms chunks of real synthesized speech and silence at real
time (0.6 s silence, ~1.5 s of speech, 1.2 s silence, repeated, each connection starting at a random
point of the cycle), so the server VAD fires and real-time-paced spoken responses are generated (and
barge-in cancels them when the next utterance starts).

Measured per level of N connections, over a fixed window:

- VAD lag: when ``input_audio_buffer.speech_stopped`` arrives with ``audio_end_ms = X``, the wall time
  since the client sent the chunk holding audio position X. This is how far the server's processing of
  appended audio trails real time (it includes network and client receive time; on loopback that is small).
- first audio: from receiving ``speech_stopped`` to receiving the response's first ``output_audio.delta``.
- client send lag: how late the clients' own 20 ms sends were (if this grows, the clients are the
  bottleneck, not the server, and the level's figures say little about the server).
- server CPU / client CPU: CPU time of the server process / of all client processes over the level, divided
  by its wall time (1.0 = one full core). On a 2-core machine, when the clients need most of a core or more,
  they compete with the server and the latencies measure the machine, not the server alone.

"Keeps up" means: p95 VAD lag <= 200 ms, p95 first audio <= 300 ms, every connection connected, no errors,
and every connection got at least one response. The ramp stops after two levels that do not keep up, or
when the time budget (4.5 minutes) would be exceeded. It prints a table and the highest N that kept up.

Run: ``python bench/server_load.py [--levels 10,20,50,100] [--window 8] [--processes 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rtwidget.protocol.pcm import BYTES_PER_MS, BYTES_PER_SECOND  # noqa: E402 (the checkout is on the path now)

CHUNK_MS = 20
CHUNK_BYTES = BYTES_PER_MS * CHUNK_MS
BUDGET_S = 270.0


def _cycle_audio() -> bytes:
    from rtwidget.server.voice import default_voice

    speech = default_voice().synthesize("Hello there, a load test.", voice="alloy")
    return bytes(BYTES_PER_MS * 600) + speech + bytes(BYTES_PER_MS * 1200)


async def _client(url: str, cycle: bytes, window: float, seed: int, out: dict[str, Any]) -> None:
    import websockets
    from websockets.asyncio.client import connect

    rng = random.Random(seed)
    n_chunks = len(cycle) // CHUNK_BYTES
    start_chunk = rng.randrange(n_chunks)
    # Pre-serialized append messages for every chunk of the cycle.
    messages = [
        json.dumps(
            {
                "type": "input_audio_buffer.append",
                "audio": _b64(cycle[i * CHUNK_BYTES : (i + 1) * CHUNK_BYTES]),
            }
        )
        for i in range(n_chunks)
    ]
    sent_at: dict[int, float] = {}  # chunk index on the timeline -> wall time sent
    try:
        ws = await asyncio.wait_for(connect(url, max_size=None, compression=None), 10)
    except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
        out["connect_failures"] += 1
        return
    read_task = asyncio.create_task(_read(ws, sent_at, out))
    try:
        await _stream(ws, messages[start_chunk:] + messages[:start_chunk], window, sent_at, out)
        await asyncio.sleep(0.5)  # let the last turn's answer start
        out["connected_with_response"] += 1 if out["responses"] > 0 else 0
    except websockets.exceptions.ConnectionClosed:
        out["errors"] += 1
    finally:
        read_task.cancel()
        await ws.close()


async def _stream(
    ws: Any, cycle_messages: list[str], window: float, sent_at: dict[int, float], out: dict[str, Any]
) -> None:
    """Send the cycle's append messages (from the client's starting point, repeating) every CHUNK_MS, at real
    time, for ``window`` seconds; note when each went out and how late the sends were."""
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.05
    k = 0
    while True:
        due = t0 + k * CHUNK_MS / 1000
        if due - t0 > window:
            break
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            out["send_lag"].append(-delay)
        await ws.send(cycle_messages[k % len(cycle_messages)])
        sent_at[k] = loop.time()
        k += 1


async def _read(ws: Any, sent_at: dict[int, float], out: dict[str, Any]) -> None:
    """Time the server's answers: VAD lag at each speech_stopped, first audio after it; count turns and errors."""
    loop = asyncio.get_running_loop()
    stopped_at: list[float] = []
    async for message in ws:
        assert isinstance(message, str)
        head = message[:48]
        if head.startswith('{"type":"response.output_audio.delta"'):
            if stopped_at:
                out["first_audio"].append(loop.time() - stopped_at.pop())
        elif head.startswith('{"type":"input_audio_buffer.speech_stopped"'):
            event = json.loads(message)
            chunk = (event["audio_end_ms"] - 1) // CHUNK_MS
            if chunk in sent_at:
                out["vad_lag"].append(loop.time() - sent_at[chunk])
            stopped_at[:] = [loop.time()]
            out["turns"] += 1
        elif head.startswith('{"type":"response.done"'):
            out["responses"] += 1
        elif head.startswith('{"type":"error"'):
            out["errors"] += 1


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def _worker(url: str, n: int, window: float, seed: int, cycle: bytes) -> dict[str, Any]:
    async def main() -> list[dict[str, Any]]:
        outs = [
            {"first_audio": [], "vad_lag": [], "send_lag": [], "turns": 0, "responses": 0, "errors": 0,
             "connect_failures": 0, "connected_with_response": 0}
            for _ in range(n)
        ]  # fmt: skip
        await asyncio.gather(*(_client(url, cycle, window, seed * 1000 + i, outs[i]) for i in range(n)))
        return outs

    cpu0, t0 = time.process_time(), time.monotonic()
    outs = asyncio.run(main())
    merged: dict[str, Any] = {"first_audio": [], "vad_lag": [], "send_lag": []}
    merged["cpu"] = (time.process_time() - cpu0) / (time.monotonic() - t0)
    for key in ("turns", "responses", "errors", "connect_failures"):
        merged[key] = sum(o[key] for o in outs)
    merged["silent_connections"] = sum(1 for o in outs if o["responses"] == 0)
    for o in outs:
        for key in ("first_audio", "vad_lag", "send_lag"):
            merged[key] += o[key]
    return merged


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="10,20,30,40,50,60,80,100,150,200,300,400,500")
    parser.add_argument("--window", type=float, default=8.0, help="seconds of streaming per level")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    started = time.monotonic()

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    server = subprocess.Popen(
        [sys.executable, "-m", "rtwidget.server", "--pace", "realtime", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    cycle = _cycle_audio()
    cycle_s = len(cycle) / BYTES_PER_SECOND
    print(f"server {url} (pid {server.pid}); cycle {cycle_s:.2f} s; window {args.window:.0f} s per level")
    print(
        f"machine: {os.cpu_count()} CPUs; {args.processes} client processes; "
        "criteria: p95 VAD lag <= 200 ms, p95 first audio <= 300 ms, no errors, every connection answered"
    )
    header = (
        f"{'N':>4} {'turns':>6} {'resp':>5} {'VAD lag p50/p95/max ms':>24} {'1st audio p50/p95 ms':>21} "
        f"{'send lag p95':>12} {'srv CPU':>7} {'cli CPU':>7}  ok"
    )
    print(header)
    print("-" * len(header))
    best = 0
    failures = 0
    ctx = multiprocessing.get_context("spawn")
    try:
        with ctx.Pool(args.processes) as pool:
            for n in levels:
                if time.monotonic() - started + args.window + 6 > BUDGET_S:
                    print("(time budget reached)")
                    break
                shares = [n // args.processes + (1 if i < n % args.processes else 0) for i in range(args.processes)]
                cpu0, t0 = _cpu_seconds(server.pid), time.monotonic()
                parts = pool.starmap(_worker, [(url, k, args.window, n * 10 + i, cycle) for i, k in enumerate(shares)])
                cpu = (_cpu_seconds(server.pid) - cpu0) / (time.monotonic() - t0)
                res: dict[str, Any] = {k: [] for k in ("first_audio", "vad_lag", "send_lag")}
                for key in ("turns", "responses", "errors", "connect_failures", "silent_connections", "cpu"):
                    res[key] = sum(p[key] for p in parts)
                for p in parts:
                    for key in ("first_audio", "vad_lag", "send_lag"):
                        res[key] += p[key]
                vad, first, send = res["vad_lag"], res["first_audio"], res["send_lag"]
                ok = (
                    _pct(vad, 0.95) <= 0.2
                    and _pct(first, 0.95) <= 0.3
                    and res["errors"] == 0
                    and res["connect_failures"] == 0
                    and res["silent_connections"] == 0
                )
                vad_ms = "/".join(f"{v * 1000:.0f}" for v in (_pct(vad, 0.5), _pct(vad, 0.95), max(vad, default=0)))
                first_ms = f"{_pct(first, 0.5) * 1000:.0f}/{_pct(first, 0.95) * 1000:.0f}"
                send_ms = (_pct(send, 0.95) if send else 0.0) * 1000
                why = (
                    f"  (errors {res['errors']}, connect failures {res['connect_failures']}, "
                    f"unanswered {res['silent_connections']})"
                )
                print(
                    f"{n:>4} {res['turns']:>6} {res['responses']:>5} {vad_ms:>24} {first_ms:>21} "
                    f"{send_ms:>9.0f} ms {cpu:>7.2f} {res['cpu']:>7.2f}  {'yes' if ok else 'NO' + why}",
                    flush=True,
                )
                if ok:
                    best = max(best, n)
                    failures = 0
                else:
                    failures += 1
                    if failures >= 2:
                        break
    finally:
        server.terminate()
        server.wait(10)
    print(f"highest N that kept up: {best} (total {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
