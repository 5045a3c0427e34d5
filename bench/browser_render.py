"""Where the page's rendering cost goes during RealtimeWidget's duplex audio: the renderer's own counters
(DevTools Protocol ``Performance.getMetrics``: layouts, style recalcs, their durations, script and task time, per
second of wall time) and the browser's CPU (% of one core), over windows in which parts of the widget are hidden
with a stylesheet (``display: none``), so that the difference to the window with everything shown is what that
part costs. Prints figures; asserts nothing.

Setup as ``browser_cpu.py`` (isolated JupyterLab, headless Chromium, the local server at real-time pace in its
own process, the fake mic looping speech in ``server_vad``, every panel open); windows of ``--seconds`` (10) each
once the assistant talks, in the order of ``--variants``; ``--rounds`` repeats the whole list (the machine is
noisy: compare rows of one run).

Run: ``python bench/browser_render.py [--seconds 10] [--rounds 2] [--variants all,no-meters,...]``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _browser import Lab, ServerProcess, machine_line
from _cpu import CpuMeter, browser_pids
from _figures import load_average, log

SETUP = """\
import rtwidget
session = rtwidget.Session({endpoint})
from rtwidget.widget import RealtimeWidget
widget = RealtimeWidget(session)
widget
"""

PLAYING_JS = """
() => {
    const models = (globalThis.__rtwidget && globalThis.__rtwidget.models) || [];
    const live = models.filter((m) => !m.closed);
    return live.length > 0 && live[live.length - 1].stats.playStarts.length > 0;
}
"""

# What each window hides (selectors under the widget's root); "all" hides nothing.
VARIANTS: dict[str, str] = {
    "all": "",
    "no-meters": ".rtwidget-meter",
    "no-status": ".rtwidget-status",
    "no-conversation": "[data-rt=panel-conversation]",
    "no-log": "[data-rt=panel-log]",
    "no-tools-session": "[data-rt=panel-tools], [data-rt=panel-session]",
    "no-panels": ".rtwidget-panels",
    "no-widget": ".rtwidget-root",
}

STYLE_JS = """
(css) => {
    let el = document.getElementById('rtwidget-bench-hide');
    if (!el) { el = document.createElement('style'); el.id = 'rtwidget-bench-hide'; document.head.appendChild(el); }
    el.textContent = css ? css + ' { display: none !important; }' : '';
}
"""

METRICS = ("LayoutCount", "RecalcStyleCount", "LayoutDuration", "RecalcStyleDuration", "ScriptDuration", "TaskDuration")


def metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: float(m["value"]) for m in cdp.send("Performance.getMetrics")["metrics"]}


def window(nb: Any, cdp: Any, seconds: float) -> dict[str, float]:
    """One window: the counters' increase per second, durations in ms per second, and the browser's CPU."""
    meter = CpuMeter({"browser": browser_pids}).start()
    start = metrics(cdp)
    t0 = time.monotonic()
    time.sleep(seconds)
    end = metrics(cdp)
    wall = time.monotonic() - t0
    cpu = meter.stop()
    out = {"browser %": cpu["browser"]}
    for name in METRICS:
        scale = 1000.0 if name.endswith("Duration") else 1.0
        out[name] = (end.get(name, 0.0) - start.get(name, 0.0)) * scale / wall
    return out


def print_row(name: str, row: dict[str, float]) -> None:
    log(
        f"  {name:<18} browser {row['browser %']:5.1f} %  layouts {row['LayoutCount']:5.1f}/s "
        f"({row['LayoutDuration']:5.1f} ms/s)  style recalcs {row['RecalcStyleCount']:5.1f}/s "
        f"({row['RecalcStyleDuration']:5.1f} ms/s)  script {row['ScriptDuration']:5.1f} ms/s  "
        f"tasks {row['TaskDuration']:6.1f} ms/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="each window (10)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the list of windows (1)")
    parser.add_argument(
        "--variants",
        default="all,no-meters,no-status,no-conversation,no-log,no-tools-session,no-widget",
        help=f"comma-separated, of: {', '.join(VARIANTS)}",
    )
    args = parser.parse_args()
    variants = args.variants.split(",")
    log(f"machine: {machine_line()}")
    server = ServerProcess().start()
    rows: list[tuple[str, dict[str, float]]] = []
    try:
        with Lab(pad_s=0.8) as lab:
            nb = lab.open_widget(SETUP.format(endpoint=f"endpoint={server.url!r}"))
            nb.page.locator("[data-rt=panel-log]").first.scroll_into_view_if_needed()
            lab.mic(True)
            nb.wait_js(PLAYING_JS, timeout=60)
            log(f"load before: {load_average()}")
            cdp = nb.page.context.new_cdp_session(nb.page)
            cdp.send("Performance.enable", {"timeDomain": "timeTicks"})
            for _ in range(args.rounds):
                for name in variants:
                    nb.js(STYLE_JS, VARIANTS[name])
                    time.sleep(1.0)
                    rows.append((name, window(nb, cdp, args.seconds)))
                    print_row(*rows[-1])
            nb.js(STYLE_JS, "")
            cdp.detach()
            lab.mic(False)
            log(f"load after: {load_average()}")
    finally:
        server.stop()
    log(f"\nduplex audio, every panel open; per second of wall time, windows of {args.seconds:.0f} s:")
    for name, row in rows:
        print_row(name, row)


if __name__ == "__main__":
    main()
