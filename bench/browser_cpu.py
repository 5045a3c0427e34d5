"""CPU of RealtimeWidget's duplex audio in a real browser: Chromium (headless, Debian's), the Jupyter server and the
kernel, in % of one core, over a window of talking both ways with every panel open. Prints figures; asserts
nothing.

Setup: an isolated JupyterLab; rtwidget's local Realtime server in its own process (``python -m rtwidget.server
--pace realtime``, so the kernel's figure is the kernel's own, as with a remote API; its CPU is printed too, or
use ``--server-in-kernel`` for the default notebook setup where the kernel hosts it); the widget with all four
panels open; the microphone on in ``server_vad`` with the fake mic looping an espeak-ng WAV (speech between
silences, ``--pad-s``), so the server hears a turn every few seconds and answers aloud, and the next turn barges
in (the kernel flushes the browser's playback and truncates the reply).

Measured with psutil over ``--seconds`` (30) once the assistant has started talking: the browser is every
Chromium process this run launched (its pid tree), also broken down by process kind; the Jupyter server is its
own process (kernels excluded); the kernel is the notebook's kernel process. Goals: browser <= 15 %,
kernel <= 5 %.

Messages are counted in the kernel, each way: on the widget's comm (custom messages and trait updates alike),
and those that came over the direct channel (rtwidget/widget/direct.py; ``--direct off`` keeps the widget on the
comm). The message budget during duplex speech is about ten a second each way (docs/widget-contract.md).

Then, in the same run (``--reference S``, 15 s by default, 0 to skip), a trivial anywidget (``_reference.py``)
sends the same number of messages each way, of the same mean size, for S seconds: JupyterLab's own price of that
traffic, over the same transport (and, when the widget used the direct channel, over the comm as well). The
ratio rtwidget / reference is the widget's own overhead (goal <= 1.3x for the browser).

Run: ``python bench/browser_cpu.py [--seconds 30] [--mic-chunk-ms N] [--server-in-kernel] [--reference 15]
[--direct off] [--threads] [--profile 10]``. Needs psutil (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from _browser import Lab, ServerProcess, machine_line
from _cpu import CpuMeter, ThreadCpu, browser_pids, chromium_groups
from _figures import load_average, log
from _profile import profile_main_thread
from _reference import COMM_COUNTER, measure_reference

SETUP = """\
import rtwidget
session = rtwidget.Session({endpoint})
from rtwidget.widget import RealtimeWidget
widget = RealtimeWidget(session)
{chunk}{direct}widget
"""

COUNTS_JS = """
() => {
    const models = (globalThis.__rtwidget && globalThis.__rtwidget.models) || [];
    const live = models.filter((m) => !m.closed);
    const s = live.length ? live[live.length - 1].stats : null;
    if (!s) return null;
    const played = Object.values(s.playedSamples).reduce((a, b) => a + b, 0);
    return {micChunks: s.micChunks, audioChunks: s.audioChunks, flushes: s.flushes, played,
            playStarts: s.playStarts.length, views: s.views};
}
"""

# Messages each way on the widget's comm (COMM_COUNTER), and those that came over the direct channel.
COUNTS_KERNEL = "dict(_rt_counts, direct=widget.bridge.direct.received if widget.bridge.direct else 0)"

PANELS_JS = """
() => ['conversation', 'log', 'tools', 'session'].map((name) => {
    const el = document.querySelector(`[data-rt=panel-${name}]`);
    return [name, !!el && !el.hidden && el.getBoundingClientRect().height > 0];
})
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement window (30)")
    parser.add_argument(
        "--mic-chunk-ms", type=int, default=None, help="set the widget's mic_chunk_ms (default: its own)"
    )
    parser.add_argument(
        "--pad-s",
        type=float,
        default=0.8,
        help="silence around the spoken sentence in the looping mic file (0.8: replies overlap the next turn)",
    )
    parser.add_argument("--server-in-kernel", action="store_true", help="use the kernel's shared local server")
    parser.add_argument(
        "--reference",
        type=float,
        default=15.0,
        metavar="S",
        help="then measure a trivial anywidget sending as many messages each way for S seconds (15; 0: skip)",
    )
    parser.add_argument(
        "--direct",
        choices=("on", "off"),
        default="on",
        help="on: as shipped (the page's messages over the direct channel if it reaches the kernel); off: comm only",
    )
    parser.add_argument("--threads", action="store_true", help="also print the busiest Chromium threads")
    parser.add_argument(
        "--profile", type=float, default=0, metavar="S", help="then profile the page's main thread for S seconds"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the run's temporary directory (logs)")
    return parser.parse_args()


def print_cpu(cpu: dict[str, float], server_in_kernel: bool) -> None:
    log("\nCPU, % of one core:")
    goals = {"browser (all chromium)": 15.0, "kernel": 5.0}
    for name, value in cpu.items():
        if name.startswith("chromium ") and value < 0.05:
            continue
        goal = f"   (goal <= {goals[name]:.0f} %)" if name in goals else ""
        indent = "    " if name.startswith("chromium ") else "  "
        log(f"{indent}{name:<24} {value:6.1f} %{goal}")
    if server_in_kernel:
        log("  (the kernel hosts the local server in this run: its figure includes the server)")


def main() -> None:
    args = parse_args()
    log(f"machine: {machine_line()}")
    server = None if args.server_in_kernel else ServerProcess().start()
    try:
        with Lab(keep=args.keep, pad_s=args.pad_s) as lab:
            endpoint = "" if server is None else f"endpoint={server.url!r}"
            chunk = "" if args.mic_chunk_ms is None else f"widget.mic_chunk_ms = {args.mic_chunk_ms}\n"
            direct = "" if args.direct == "on" else "widget.bridge.direct_enabled = False\n"
            nb = lab.open_widget(SETUP.format(endpoint=endpoint, chunk=chunk, direct=direct))
            nb.page.locator("[data-rt=panel-log]").first.scroll_into_view_if_needed()
            panels = dict(nb.js(PANELS_JS))
            nb.kernel_exec(COMM_COUNTER + "\n_rt_counts = _rt_count_comm(widget)")
            chunk_ms = int(nb.kernel_json("widget.mic_chunk_ms"))
            lab.mic(True)
            # Duplex: wait until the assistant is talking (its first reply to the looping speech).
            nb.wait_js(f"() => {{ const c = ({COUNTS_JS})(); return c && c.playStarts > 0; }}", timeout=60)
            load_before = load_average()
            before = nb.js(COUNTS_JS)
            kernel_before = nb.kernel_json("dict(widget.counters, responses=widget.usage.get('responses', 0))")
            comm_before = nb.kernel_json(COUNTS_KERNEL)
            groups: dict[str, Any] = {
                "browser (all chromium)": browser_pids,
                "jupyter server": lambda: [lab.server_pid],
                "kernel": lambda: [lab.kernel_pid],
            }
            if server is not None:
                groups["local server process"] = lambda: [server.pid]
            groups.update(chromium_groups())
            meter = CpuMeter(groups).start()
            threads = ThreadCpu(browser_pids).start()
            time.sleep(args.seconds)
            cpu = meter.stop()
            by_thread = threads.stop()
            after = nb.js(COUNTS_JS)
            kernel_after = nb.kernel_json("dict(widget.counters, responses=widget.usage.get('responses', 0))")
            comm_after = nb.kernel_json(COUNTS_KERNEL)
            profile = profile_main_thread(nb.page, args.profile) if args.profile else []
            lab.mic(False)
            comm = {k: comm_after[k] - comm_before[k] for k in comm_after}
            up = comm["in"] + comm["direct"]
            rates = {"up": up / meter.wall, "down": comm["out"] / meter.wall, "direct": comm["direct"] / meter.wall}
            references = []
            if args.reference:
                direct_used = comm["direct"] > comm["in"]
                # The same transport first; over the direct channel, also the comm (what it saves).
                for mode in ("direct_up", "comm") if direct_used else ("comm",):
                    references.append(
                        measure_reference(
                            lab,
                            1000 / rates["up"] if rates["up"] else 0,
                            args.reference,
                            mode=mode,
                            down_ms=1000 / rates["down"] if rates["down"] else 0,
                            # Over the direct channel the bytes are not counted: a mic chunk is 48 bytes a ms.
                            up_bytes=48 * chunk_ms if direct_used else comm["in_bytes"] // max(comm["in"], 1),
                            down_bytes=comm["out_bytes"] // max(comm["out"], 1),
                        )
                    )
            load_after = load_average()
    finally:
        if server is not None:
            server.stop()

    delta = {k: after[k] - before[k] for k in ("micChunks", "audioChunks", "flushes", "played", "playStarts")}
    kdelta = {k: kernel_after.get(k, 0) - kernel_before.get(k, 0) for k in kernel_after}
    log(f"\nduplex audio for {meter.wall:.1f} s, all panels open ({', '.join(k for k, v in panels.items() if v)}),")
    log(
        f"mic_chunk_ms {chunk_ms}: {delta['micChunks']} mic chunks sent ({delta['micChunks'] / meter.wall:.1f}/s), "
        f"{delta['audioChunks']} audio chunks received, {delta['played'] / 24000:.1f} s of audio played, "
        f"{delta['flushes']} barge-in flushes, {kdelta.get('responses', 0)} replies, "
        f"{kdelta.get('events', 0)} events logged"
    )
    log(f"load before: {load_before}; after: {load_after}")
    print_cpu(cpu, args.server_in_kernel)
    log(
        f"messages per second: browser -> kernel {rates['up']:.1f} ({rates['direct']:.1f} of them over the direct "
        f"channel), kernel -> browser {rates['down']:.1f}"
        f"   (goal: about 10 each way); mean buffer bytes up {comm['in_bytes'] // max(comm['in'], 1)},"
        f" down {comm['out_bytes'] // max(comm['out'], 1)}"
    )
    for reference in references:
        log(
            f"reference widget, the same traffic ({reference['up_per_s']:.1f} up, {reference['down_per_s']:.1f} down"
            f" per s, {reference['mode']}; nothing else) for {args.reference:.0f} s: "
            f"browser {reference['browser']:.1f} %, jupyter server {reference['jupyter server']:.1f} %, "
            f"kernel {reference['kernel']:.1f} %"
        )
        ratio = cpu["browser (all chromium)"] / max(reference["browser"], 0.1)
        log(f"  browser: rtwidget / reference ({reference['mode']}) = {ratio:.2f}x   (goal <= 1.3x, same transport)")
    if args.threads:
        log("busiest Chromium threads (process kind/thread name):")
        for name, value in list(by_thread.items())[:12]:
            log(f"    {name:<32} {value:6.1f} %")
    if profile:
        log("\nprofile of the page's main thread (after the window; the profiler itself costs CPU):")
        for line in profile:
            log("  " + line)
    if args.json:
        with open(args.json, "w") as f:
            figures = {"cpu": cpu, "counts": delta, "kernel": kdelta, "panels": panels, "chunk_ms": chunk_ms}
            json.dump(dict(figures, comm=comm, rates=rates, references=references), f)


if __name__ == "__main__":
    main()
