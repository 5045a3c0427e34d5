"""The page's main thread under the DevTools CPU profiler: where the browser's time goes, per script and per
function (the real-browser benchmarks' ``--profile``)."""

from __future__ import annotations

import time
from typing import Any


def profile_main_thread(page: Any, seconds: float, top: int = 20, interval_us: int = 500) -> list[str]:
    """Sample the page's main thread with the DevTools CPU profiler for `seconds`; returns report lines: the time
    per script (URL) and the `top` functions by self time. (Worklets run on other threads: not in here.)"""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": interval_us})
        cdp.send("Profiler.start")
        time.sleep(seconds)
        profile = cdp.send("Profiler.stop")["profile"]
        cdp.send("Profiler.disable")
    finally:
        cdp.detach()
    nodes = {n["id"]: n for n in profile["nodes"]}
    self_ms: dict[int, float] = dict.fromkeys(nodes, 0.0)
    for node_id, dt in zip(profile.get("samples", []), profile.get("timeDeltas", []), strict=False):
        self_ms[node_id] = self_ms.get(node_id, 0.0) + dt / 1000.0
    by_url: dict[str, float] = {}
    by_fn: dict[tuple[str, str, int], float] = {}
    special: dict[str, float] = {}
    for node_id, ms in self_ms.items():
        frame = nodes[node_id]["callFrame"]
        name = frame.get("functionName") or "(anonymous)"
        if name in ("(idle)", "(program)", "(garbage collector)", "(root)"):
            special[name] = special.get(name, 0.0) + ms
            continue
        url = frame.get("url") or ""
        short = "blob: (the anywidget module)" if url.startswith("blob:") else url.rsplit("/", 1)[-1] or "(built-in)"
        by_url[short] = by_url.get(short, 0.0) + ms
        key = (name, short, int(frame.get("lineNumber", -1)) + 1)
        by_fn[key] = by_fn.get(key, 0.0) + ms

    def pct(ms: float) -> str:
        return f"{ms / seconds / 10:5.1f} %"

    js = sum(by_url.values())
    lines = [
        f"main thread over {seconds:.0f} s: JS {pct(js)}, GC {pct(special.get('(garbage collector)', 0))}, "
        f"native work outside JS (style, layout, paint, IPC) {pct(special.get('(program)', 0))}, "
        f"idle {pct(special.get('(idle)', 0))}",
        "JS by script:",
    ]
    for url, ms in sorted(by_url.items(), key=lambda kv: -kv[1])[:8]:
        lines.append(f"  {pct(ms)}  {url}")
    lines.append(f"top {top} JS functions by self time:")
    for (name, url, line), ms in sorted(by_fn.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {pct(ms)}  {name}  {url}:{line}")
    return lines
