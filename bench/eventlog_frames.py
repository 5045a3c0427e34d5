"""Frame times of RealtimeWidget's event log in a real browser (Debian Chromium, headless) in JupyterLab, while the
kernel logs 100k events in bulk and then 1000 events/s for 10 s. Prints figures; asserts nothing.

Events take the path real ones take: on the session's I/O thread, ``session._log(direction, type, size, data)``
with realistic event dicts (``_kernel_probe.EventFeeder``: VAD events, mic appends, items, responses, audio and
transcript deltas interleaved, rate limits; the shape of ``bench/throughput.py``'s stream), so the bridge merges
delta runs and batches rows to the browser (at most one ``batch`` message per 50 ms) exactly as in real use.
The bulk phase hands the I/O loop ``--chunk`` events per callback, so the batch timer runs between them as it
does between socket reads. ``--mix rows`` drops the stream events (deltas, appends) from that stream, so every
event is a new row: the log's worst case.

Measured in the page, per phase: the gap between consecutive ``requestAnimationFrame`` callbacks (a frame that
took longer than 16.7 ms shows as a longer gap; this includes JupyterLab's own work on each comm message), long
tasks (> 50 ms) when the browser reports them, and the widget's own ``stats.frameTimes`` (the event log's render
durations). Goal: no frame over 50 ms.

Run: ``python bench/eventlog_frames.py [--bulk 100000] [--rate 1000] [--seconds 10] [--chunk 200]
[--mix realistic|rows]``. Needs psutil (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from _browser import FRAMES_JS, STATS_JS, Lab, machine_line
from _cpu import CpuMeter, browser_pids
from _figures import load_average, log, summary

SETUP = """\
import rtwidget
session = rtwidget.Session()
from rtwidget.widget import RealtimeWidget
widget = RealtimeWidget(session)
from _kernel_probe import EventFeeder
feeder = EventFeeder(session, mix={mix!r})
widget
"""

RESET_JS = f"""
() => {{
    window.__rtFrames.reset();
    const s = ({STATS_JS})();
    s.frameTimes.length = 0;  // the benchmark's own window (the widget only appends to it)
    return true;
}}
"""

TAKE_JS = f"""
() => {{
    const f = window.__rtFrames.take();
    const s = ({STATS_JS})();
    const total = document.querySelector('[data-rt=panel-log] .rtwidget-log-total');
    const dropped = document.querySelector('[data-rt=panel-log] .rtwidget-log-dropped');
    return {{gaps: f.gaps, long: f.long, render: s.frameTimes.slice(),
             rows: total ? total.textContent : '', dropped: dropped ? dropped.textContent : ''}};
}}
"""

MARK_SHOWN_JS = """
(mark) => Array.from(document.querySelectorAll('[data-rt=panel-log] [data-rt=log-row]'))
    .some((row) => row.textContent.includes(mark))
"""


def run_phase(lab: Lab, name: str, start_code: str, mark: str, timeout: float) -> dict[str, Any]:
    nb = lab.nb
    assert nb is not None
    nb.js(RESET_JS)
    fed0 = int(nb.kernel_json("feeder.fed"))
    busy0 = float(nb.kernel_json("feeder.busy_s"))
    meter = CpuMeter(
        {"browser": browser_pids, "jupyter server": lambda: [lab.server_pid], "kernel": lambda: [lab.kernel_pid]}
    ).start()
    t0 = time.monotonic()
    nb.kernel_exec(start_code)
    nb.wait_kernel("feeder.finished.is_set()", timeout=timeout, what=f"the kernel to log the {name} events")
    fed_s = time.monotonic() - t0
    # Until the phase's last row is on screen (the log follows the newest row).
    nb.wait_js(MARK_SHOWN_JS, f"bench.mark.{mark}", timeout=timeout, what=f"the {name} mark row in the log")
    shown_s = time.monotonic() - t0
    time.sleep(0.5)  # a few quiet frames after the last batch
    cpu = meter.stop()
    taken = nb.js(TAKE_JS)
    fed = int(nb.kernel_json("feeder.fed")) - fed0
    busy = float(nb.kernel_json("feeder.busy_s")) - busy0
    gaps = taken["gaps"]
    return {
        "phase": name,
        "events": fed,
        "fed_s": fed_s,
        "shown_s": shown_s,
        "kernel_log_s": busy,
        "gaps": summary(gaps),
        "over_50": sum(1 for g in gaps if g > 50),
        "long_tasks": summary(taken["long"]),
        "render": summary(taken["render"]),
        "rows": taken["rows"],
        "dropped": taken["dropped"],
        "cpu": cpu,
    }


def report(r: dict[str, Any]) -> None:
    g, lt, rd = r["gaps"], r["long_tasks"], r["render"]
    log(
        f"{r['phase']}: {r['events']} events logged in {r['fed_s']:.1f} s (kernel _log time {r['kernel_log_s']:.1f} s),"
        f" last row on screen after {r['shown_s']:.1f} s; log shows {r['rows']} ({r['dropped'] or 'none dropped'})"
    )
    log(
        f"  frame gaps (rAF): n={g['n']} p50 {g['p50']:.1f} / p99 {g['p99']:.1f} / worst {g['max']:.1f} ms; "
        f"{r['over_50']} over 50 ms   (goal: none over 50 ms)"
    )
    if lt["n"]:
        log(f"  long tasks (> 50 ms): {lt['n']}, p50 {lt['p50']:.0f} / worst {lt['max']:.0f} ms")
    else:
        log("  long tasks (> 50 ms): none reported")
    log(f"  event-log render (stats.frameTimes): n={rd['n']} p99 {rd['p99']:.2f} / worst {rd['max']:.2f} ms")
    cpu = r["cpu"]
    log(
        f"  CPU: browser {cpu['browser']:.0f} %, jupyter server {cpu['jupyter server']:.0f} %, "
        f"kernel {cpu['kernel']:.0f} % of one core"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bulk", type=int, default=100_000, help="events logged in bulk first (100000)")
    parser.add_argument("--chunk", type=int, default=200, help="bulk events per I/O-loop callback (200)")
    parser.add_argument("--rate", type=int, default=1000, help="then this many events a second (1000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="for this long (10)")
    parser.add_argument(
        "--mix",
        choices=("realistic", "rows"),
        default="realistic",
        help="realistic: deltas merge into run rows; rows: no stream events, every event a new row (worst case)",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the run's temporary directory (logs)")
    args = parser.parse_args()

    log(f"machine: {machine_line()}")
    with Lab(keep=args.keep) as lab:
        nb = lab.open_widget(SETUP.format(mix=args.mix))
        nb.page.locator("[data-rt=panel-log]").first.scroll_into_view_if_needed()
        nb.js(FRAMES_JS)
        limits = nb.kernel_json("[widget.log_limit, widget.bridge.rows.rows.maxlen]")
        results = [
            run_phase(lab, "bulk", f"feeder.bulk({args.bulk}, {args.chunk}, 'bulk')", "bulk", 600),
            run_phase(
                lab,
                "steady",
                f"feeder.steady({args.rate}, {args.seconds}, mark='steady')",
                "steady",
                args.seconds + 120,
            ),
        ]
        load_after = load_average()
    log(f"\nevent log ({args.mix} events): browser keeps {limits[0]} rows, kernel {limits[1]}")
    for r in results:
        report(r)
    log(f"machine after: {load_after}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
