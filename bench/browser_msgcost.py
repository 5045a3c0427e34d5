"""Where a comm message's cost goes, and what the options buy: the reference widget (``_reference.py``, a trivial
anywidget that only sends binary messages) in one JupyterLab and one headless Chromium, under several transports
and rates, the CPU of the browser, the Jupyter server and the kernel (% of one core) for each. Prints figures;
asserts nothing.

Rows (each ``--seconds`` long, in this order, ``--repeat`` times):

- idle: the widget shown, no messages: the page's own cost.
- comm up 10/s: browser -> kernel only (the microphone at 100 ms chunks).
- comm 10/10: 10/s each way (microphone and playback, 4.8 kB each).
- comm 5/5 x2: half the messages, twice the bytes (fewer, larger messages: 200 ms chunks).
- comm 20/20 /2: twice the messages, half the bytes.
- quiet 10/10: as comm 10/10, with this benchmark's kernel not publishing busy/idle for comm messages: the cost of
  the status churn (JupyterLab's execution indicator, status bar and favicon react to each pair; #12616).
- direct 10/10: a WebSocket from the page straight to a server in the kernel (127.0.0.1), no comm at all.
- direct up, comm down 10/10: the page's messages over that WebSocket, the kernel's over the comm (rtwidget's
  direct channel, rtwidget/widget/direct.py).

Run: ``python bench/browser_msgcost.py [--seconds 12] [--repeat 1]``. Needs psutil (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from _browser import Lab, machine_line
from _figures import load_average, log
from _reference import measure_reference

# name, mode, up_ms, down_ms, bytes per message
ROWS: list[tuple[str, str, float, float, int]] = [
    ("idle", "comm", 0, 0, 4800),
    ("comm up 10/s", "comm", 100, 0, 4800),
    ("comm 10/10", "comm", 100, 100, 4800),
    ("comm 5/5 x2 bytes", "comm", 200, 200, 9600),
    ("comm 20/20 /2 bytes", "comm", 50, 50, 2400),
    ("quiet 10/10 (no status)", "quiet", 100, 100, 4800),
    ("direct ws 10/10", "direct", 100, 100, 4800),
    ("direct up, comm down 10/10", "direct_up", 100, 100, 4800),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="window per row (12)")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the rows (1)")
    parser.add_argument("--only", default="", help="comma-separated row names to run (default: all)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    rows = [r for r in ROWS if not args.only or r[0] in args.only.split(",")]
    log(f"machine: {machine_line()}")
    results: list[dict[str, Any]] = []
    with Lab() as lab:
        for rep in range(args.repeat):
            for name, mode, up, down, size in rows:
                cpu = measure_reference(lab, up, args.seconds, down_ms=down, mode=mode, up_bytes=size, down_bytes=size)
                results.append(dict(cpu, row=name, rep=rep))
                log(
                    f"  {name:<24} up {cpu['up_per_s']:5.1f}/s down {cpu['down_per_s']:5.1f}/s   browser "
                    f"{cpu['browser']:5.1f} %  jupyter server {cpu['jupyter server']:5.1f} %  "
                    f"kernel {cpu['kernel']:5.1f} %   ({load_average()})"
                )
    log("\nsummary (mean over passes), % of one core:")
    for name, *_ in rows:
        mine = [r for r in results if r["row"] == name]
        b = [r["browser"] for r in mine]
        j = [r["jupyter server"] for r in mine]
        log(
            f"  {name:<24} browser {sum(b) / len(b):5.1f} % (min {min(b):.1f}, max {max(b):.1f})   "
            f"jupyter server {sum(j) / len(j):5.1f} %"
        )
    log(f"machine after: {load_average()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
