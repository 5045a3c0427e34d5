"""Audio latency of RealtimeWidget in a real browser (Debian Chromium, headless) in JupyterLab, against rtwidget's
local Realtime server running in the kernel. Prints figures; asserts nothing about time.

a. Playback: the kernel receives a ``response.output_audio.delta`` -> the playback worklet starts playing it.
   The bridge stamps each ``audio`` message with ``t`` = ``time.time()`` in ms when the delta arrived; the page
   records ``Date.now() - t`` when the playback worklet's ``started`` report for the chunk reaches the page
   (``stats.playStarts``). Both are the machine's epoch clock. Two figures:
   - spaced: one synthetic reply whose deltas (``--spaced-chunk-ms`` long) arrive every ``--gap-ms`` through the
     session's reader path (``_kernel_probe.AudioInjector``), so each chunk finds the playback queue empty and
     its figure is the pipeline's delay alone (kernel -> Jupyter server -> browser -> worklet). This is the
     figure for the goal (p95 <= 60 ms), over ``--chunks`` chunks.
   - replies: the local server's spoken replies to typed messages (about 3 s each, ``--replies`` of them, one
     after the other has played out; deltas released ``--lead-ms`` ahead of real time, 250 ms by the server's
     default, as real servers also send faster than real time). Every chunk after a reply's first waits in the
     playback queue behind the audio before it, so "every chunk" measures the queue's depth; "first chunk of
     each reply" is again the pipeline's delay.
b. Capture: the mic worklet captures a chunk (``t`` in the ``mic`` message: epoch ms of its last sample) -> the
   local server receives the ``input_audio_buffer.append`` carrying it (paired by event id in the kernel, see
   ``_kernel_probe.CaptureProbe``). For each ``--mic-chunk-ms`` (the widget's ``mic_chunk_ms`` trait, set from the
   kernel before the mic starts), with the CPU of the browser, the Jupyter server and the kernel (which also
   hosts the local server) over the window. Server VAD runs with ``create_response: false``: mic traffic only.
   ``--reference S`` adds, per chunk length, the CPU of a trivial anywidget that sends only mic-sized messages at
   that rate: JupyterLab's own price of the message rate.
c. Nagle: both, with the stock Jupyter server and with TCP_NODELAY set on its kernel websockets
   (``_nodelay.py``, a jupyter_server extension enabled in the run's isolated config dir).

Run: ``python bench/browser_latency.py [--servers default,nodelay] [--chunks 200] [--gap-ms 250]
[--reply-chunks 200] [--mic-chunk-ms 20,50,100] [--capture-seconds 15] [--json out.json]``. Needs psutil
(bench/README.md). Takes about 6 minutes with both servers.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from _browser import STATS_JS, Lab, machine_line
from _cpu import CpuMeter, browser_pids
from _figures import fmt_ms, load_average, log, summary
from _reference import measure_reference

# Answered with "You said: ..." spoken by the local server: about 3 s of audio (30 deltas of 100 ms).
REPLY_TEXT = "Let us count together slowly: one, two, three, four, five, six."

SETUP = """\
import rtwidget
from _kernel_probe import AudioInjector, CaptureProbe, local_server
server = local_server(lead_ms={lead_ms}, chunk_ms={chunk_ms})
session = rtwidget.Session(endpoint=server.url, turn_detection={{"type": "server_vad", "create_response": False}})
from rtwidget.widget import RealtimeWidget
widget = RealtimeWidget(session)
widget.bridge.direct_enabled = {direct}
probe = CaptureProbe(session, widget)
widget
"""

PLAY_STARTS_JS = f"""
(seq0) => {{
    const s = ({STATS_JS})();
    return s ? s.playStarts.filter((p) => p.seq > seq0) : [];
}}
"""


def _played_all(lab: Lab, item: str, timeout: float = 60.0) -> None:
    nb = lab.nb
    assert nb is not None
    forwarded = int(nb.kernel_json(f"widget.bridge.playhead.forwarded.get({item!r}, 0)"))
    nb.wait_js(
        f"""() => {{ const s = ({STATS_JS})(); return s && (s.playedSamples[{item!r}] || 0) >= {forwarded}; }}""",
        timeout=timeout,
        what=f"the audio of {item} to be played",
    )


def measure_spaced(lab: Lab, chunks: int, chunk_ms: int, gap_ms: int, tag: str) -> dict[str, Any]:
    """Synthetic deltas `gap_ms` apart through the session's reader path: every chunk starts on an empty queue."""
    nb = lab.nb
    assert nb is not None
    seq0 = int(nb.kernel_json("widget.bridge._audio_seq"))
    item = nb.kernel_json(
        f"injector.start({chunks}, {chunk_ms}, {gap_ms}, {tag!r})", "injector = AudioInjector(session)"
    )
    nb.wait_kernel("injector.finished.is_set()", timeout=chunks * gap_ms / 1000 + 60, what="the injected reply")
    _played_all(lab, item)
    starts = nb.js(PLAY_STARTS_JS, seq0)
    latencies = [float(p["latency_ms"]) for p in starts]
    return {"chunks_received": int(nb.kernel_json("widget.bridge._audio_seq")) - seq0, "all": summary(latencies)}


def measure_replies(lab: Lab, want: int, replies: int, timeout_s: float) -> dict[str, Any]:
    """Spoken replies of the local server to typed messages, until at least `replies` replies and `want` chunks
    were played (each reply starts after the previous one was played out: its first chunk finds the queue empty)."""
    nb = lab.nb
    assert nb is not None
    seq0 = int(nb.kernel_json("widget.bridge._audio_seq"))
    firsts: list[int] = []
    deadline = time.monotonic() + timeout_s
    assistant = "[i for i in session.conversation if getattr(i, 'role', '') == 'assistant']"
    while (len(firsts) < replies or len(nb.js(PLAY_STARTS_JS, seq0)) < want) and time.monotonic() < deadline:
        first = int(nb.kernel_json("widget.bridge._audio_seq")) + 1
        n = int(nb.kernel_json(f"len({assistant})"))
        nb.kernel_exec(f"session.send_text({REPLY_TEXT!r})")
        item = nb.wait_kernel(
            f"(lambda a: len(a) > {n} and a[{n}].status in ('completed', 'incomplete') and a[{n}].id)({assistant})",
            timeout=120,
            what="the reply to finish",
        )
        _played_all(lab, item)
        firsts.append(first)
    starts = nb.js(PLAY_STARTS_JS, seq0)
    first_set = set(firsts)
    return {
        "responses": len(firsts),
        "chunks_received": int(nb.kernel_json("widget.bridge._audio_seq")) - seq0,
        "all": summary(float(p["latency_ms"]) for p in starts),
        "first": summary(float(p["latency_ms"]) for p in starts if p["seq"] in first_set),
    }


def measure_capture(lab: Lab, chunk_ms: int, seconds: float, warmup_s: float = 2.0) -> dict[str, Any]:
    nb = lab.nb
    assert nb is not None
    nb.kernel_exec(f"probe.reset(enabled=False); widget.mic_chunk_ms = {chunk_ms}")
    lab.mic(True)
    time.sleep(warmup_s)  # the capture context and the first chunks settle
    chunks0 = int(lab.stats()["micChunks"])
    meter = CpuMeter(
        {
            "browser": browser_pids,
            "jupyter server": lambda: [lab.server_pid],
            "kernel + local server": lambda: [lab.kernel_pid],
        }
    ).start()
    nb.kernel_exec("probe.reset(enabled=True)")
    time.sleep(seconds)
    nb.kernel_exec("probe.enabled = False")
    cpu = meter.stop()
    chunks = int(lab.stats()["micChunks"]) - chunks0
    lab.mic(False)
    result = nb.kernel_json("probe.result()")
    pairs = result["pairs"]
    sizes = sorted(p["bytes"] for p in pairs)
    return {
        "chunk_ms": chunk_ms,
        "measured_chunk_ms": (sizes[len(sizes) // 2] / 48) if sizes else float("nan"),
        "messages_per_s": chunks / meter.wall,
        "paired": len(pairs),
        "unpaired": result["chunks"] - len(pairs),
        "total": summary(p["total"] for p in pairs),
        "to_bridge": summary(p["to_bridge"] for p in pairs),
        "to_server": summary(p["to_server"] for p in pairs),
        "cpu": cpu,
        "wall_s": meter.wall,
    }


def run_server(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"server": kind, "load_before": load_average()}
    log(f"\n=== Jupyter server: {kind} ({'TCP_NODELAY on kernel websockets' if kind == 'nodelay' else 'stock'})")
    with Lab(nodelay=kind == "nodelay", keep=args.keep) as lab:
        references = {}
        if args.reference and not args.skip_capture:
            references = {ms: measure_reference(lab, ms, args.reference) for ms in args.mic_chunk_ms}
        setup = SETUP.format(lead_ms=args.lead_ms, chunk_ms=args.audio_chunk_ms, direct=args.direct == "on")
        lab.open_widget(setup)
        if kind == "nodelay":
            assert lab.server is not None
            if "TCP_NODELAY set" not in lab.server.log_path.read_text(errors="replace"):
                log("   WARNING: the Jupyter server's log does not say TCP_NODELAY was set on the kernel websocket")
            else:
                log("   (the Jupyter server's log confirms TCP_NODELAY on the kernel websocket)")
        if not args.skip_playback:
            # The first audio creates the browser's playback context: warm it up outside the figures.
            measure_spaced(lab, 3, args.spaced_chunk_ms, args.gap_ms, "warmup")
            spaced = measure_spaced(lab, args.chunks, args.spaced_chunk_ms, args.gap_ms, "1")
            out["spaced"] = spaced
            log(
                f"a. playback latency, kernel receive -> worklet start ({spaced['all']['n']}/"
                f"{spaced['chunks_received']} chunks started/received):"
            )
            log(
                f"   spaced deltas ({args.spaced_chunk_ms} ms every {args.gap_ms} ms, empty queue) "
                f"p50/p95/max {fmt_ms(spaced['all'])}   (goal p95 <= 60 ms)"
            )
            replies = measure_replies(lab, args.reply_chunks, args.replies, args.playback_timeout)
            out["replies"] = replies
            lead = "the server's default 250" if args.lead_ms is None else args.lead_ms
            log(
                f"   local-server replies ({replies['responses']}, deltas {args.audio_chunk_ms} ms released {lead} ms"
                " ahead of real time):"
            )
            log(f"     every chunk (includes the wait in the playback queue) p50/p95/max {fmt_ms(replies['all'])}")
            log(f"     first chunk of each reply                             p50/p95/max {fmt_ms(replies['first'])}")
        if not args.skip_capture:
            rows = [measure_capture(lab, ms, args.capture_seconds) for ms in args.mic_chunk_ms]
            out["capture"] = rows
            out["reference"] = references
            log("b. capture latency (chunk's last sample captured -> local server receives its append):")
            log(
                f"   {'chunk':>5} {'msg/s':>6} {'capture->server p50/p95/max':>30} {'goal p95':>8} "
                f"{'->kernel p50/p95':>17} {'browser':>8} {'jupyter':>8} {'kernel+srv':>10}"
                + (f" {'reference browser/jupyter':>26}" if references else "")
            )
            for cap in rows:
                t, b = cap["total"], cap["to_bridge"]
                cpu = cap["cpu"]
                ref = references.get(cap["chunk_ms"])
                log(
                    f"   {cap['measured_chunk_ms']:>3.0f}ms {cap['messages_per_s']:>6.1f} {fmt_ms(t):>30} "
                    f"{cap['chunk_ms'] + 40:>6} ms {b['p50']:>6.0f}/{b['p95']:.0f} ms "
                    f"{cpu['browser']:>7.1f}% {cpu['jupyter server']:>7.1f}% {cpu['kernel + local server']:>9.1f}%"
                    + (f" {ref['browser']:>16.1f}%/{ref['jupyter server']:.1f}%" if ref else "")
                )
            unpaired = sum(c["unpaired"] for c in rows)
            if unpaired:
                log(f"   ({unpaired} chunks sent but not (yet) received by the server at the window's end)")
    out["load_after"] = load_average()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="default,nodelay", help="default and/or nodelay (comma-separated)")
    parser.add_argument("--chunks", type=int, default=200, help="spaced playback chunks (200)")
    parser.add_argument("--spaced-chunk-ms", type=int, default=100, help="length of each spaced chunk (100)")
    parser.add_argument("--gap-ms", type=int, default=250, help="time between spaced chunks (250)")
    parser.add_argument("--replies", type=int, default=10, help="spoken replies to play at least (10)")
    parser.add_argument("--reply-chunks", type=int, default=200, help="reply chunks to play at least (200)")
    parser.add_argument(
        "--lead-ms", type=int, default=None, help="server releases reply deltas this early (server default: 250)"
    )
    parser.add_argument("--audio-chunk-ms", type=int, default=100, help="server reply delta length (100)")
    parser.add_argument(
        "--mic-chunk-ms",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[20, 50, 100],
        help="capture chunk lengths to measure (20,50,100)",
    )
    parser.add_argument("--capture-seconds", type=float, default=15.0, help="window per chunk length (15)")
    parser.add_argument(
        "--reference",
        type=float,
        default=0,
        metavar="S",
        help="also measure, per chunk length, a trivial anywidget sending only mic messages at that rate, for S s",
    )
    parser.add_argument("--playback-timeout", type=float, default=300.0, help="give up on playback after (300 s)")
    parser.add_argument(
        "--direct",
        choices=("on", "off"),
        default="on",
        help="on: as shipped (the page's messages over the direct channel when it reaches the kernel); off: comm only",
    )
    parser.add_argument("--skip-playback", action="store_true")
    parser.add_argument("--skip-capture", action="store_true")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the run's temporary directory (logs)")
    args = parser.parse_args()

    log(f"machine: {machine_line()}")
    results = [run_server(kind.strip(), args) for kind in args.servers.split(",") if kind.strip()]
    if len(results) > 1 and all("spaced" in r for r in results):
        log("\nc. Nagle: playback latency p50/p95/max by Jupyter server")
        for r in results:
            log(
                f"   {r['server']:>8}: spaced {fmt_ms(r['spaced']['all'])}; reply chunks {fmt_ms(r['replies']['all'])};"
                f" first of reply {fmt_ms(r['replies']['first'])}"
            )
    log(f"\nmachine after: {load_average()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
