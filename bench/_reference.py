"""The reference widget of the browser benchmarks, and a comm message counter for the kernel.

The reference is a trivial anywidget that sends binary messages at fixed rates and does nothing else: the
browser sends one ``up_bytes`` message every ``up_ms`` (like the microphone), a thread in the kernel sends one
``down_bytes`` message every ``down_ms`` (like playback audio). Its CPU is what JupyterLab itself charges for
that message traffic, the yardstick for rtwidget's own figures (``browser_cpu.py`` runs it at the rates
rtwidget was counted sending, in the same run).

Transports (``mode``), to weigh the options of docs/widget-contract.md ("Chunk size and batching"):

- ``comm``: widget comm messages, as rtwidget sends them.
- ``quiet``: the same, with this kernel (only the benchmark's own) not publishing the busy/idle ``status`` pair
  for comm messages: what the status churn costs. Not something to do to a user's kernel (JupyterLab disposes a
  comm message's future on that idle status; without it the futures pile up in the page).
- ``direct``: a WebSocket from the page straight to a server in the kernel (127.0.0.1), bypassing the Jupyter
  server and the comm, both ways: what a direct channel would cost.
- ``direct_up``: the page's messages over that WebSocket, the kernel's over the comm (what rtwidget does when
  the page can reach its kernel: rtwidget/widget/direct.py).
"""

from __future__ import annotations

import time
from typing import Any

# Kernel-side: count comm messages each way on one widget (custom messages and trait updates alike).
# ``_rt_count_comm(w)`` returns a dict updated in place: out/in messages and bytes of their buffers.
COMM_COUNTER = """
def _rt_count_comm(w):
    comm = w.comm
    c = {"out": 0, "in": 0, "out_bytes": 0, "in_bytes": 0}
    send, handle = comm.send, comm.handle_msg
    def counted_send(*a, **k):
        c["out"] += 1
        c["out_bytes"] += sum(len(b) for b in (k.get("buffers") or ()))
        return send(*a, **k)
    def counted_handle(msg):
        c["in"] += 1
        c["in_bytes"] += sum(len(b) for b in (msg.get("buffers") or ()))
        return handle(msg)
    comm.send, comm.handle_msg = counted_send, counted_handle
    return c
"""

REFERENCE = """\
import anywidget, threading, time, traitlets
class _Ping(anywidget.AnyWidget):
    _esm = '''
    export default {{ render({{ model, el }}) {{
        const up = model.get("up_ms"), size = model.get("up_bytes"), url = model.get("ws_url");
        el.textContent = "reference: " + (url ? "direct websocket" : "comm") + ", one message up every " + up + " ms";
        let ws = null;
        if (url) {{ ws = new WebSocket(url); ws.binaryType = "arraybuffer"; ws.onmessage = () => {{}}; }}
        const send = () => {{
            const t = Date.now();
            if (ws) {{ if (ws.readyState === 1) ws.send(new ArrayBuffer(size)); }}
            else model.send({{kind: "mic", t}}, undefined, [new ArrayBuffer(size)]);
        }};
        const timer = up > 0 ? setInterval(send, up) : null;
        return () => {{ if (timer) clearInterval(timer); if (ws) ws.close(); }};
    }} }}'''
    up_ms = traitlets.Int(100).tag(sync=True)
    up_bytes = traitlets.Int(4800).tag(sync=True)
    ws_url = traitlets.Unicode("").tag(sync=True)
ping = _Ping(up_ms={up_ms}, up_bytes={up_bytes})
ping.on_msg(lambda *args: None)
_down = {{"ms": {down_ms}, "bytes": {down_bytes}, "stop": threading.Event(), "ws": None}}
{mode_setup}
def _downlink():
    payload, n = bytes(_down["bytes"]), 0
    t0 = time.monotonic()
    while not _down["stop"].is_set() and _down["ms"] > 0:
        n += 1
        _down["stop"].wait(max(0.0, t0 + n * _down["ms"] / 1000 - time.monotonic()))
        if {down_ws}:
            try:
                _down["ws"] and _down["ws"].send(payload)
            except Exception:
                pass
        else:
            ping.send({{"kind": "audio", "t": time.time() * 1000}}, buffers=[payload])
threading.Thread(target=_downlink, daemon=True).start()
ping
"""

QUIET = """
_k = get_ipython().kernel
_publish = _k._publish_status
def _quiet(status, channel, parent=None):
    p = parent or _k.get_parent(channel)
    if p and p.get("header", {}).get("msg_type") in ("comm_msg", "comm_close"):
        return
    _publish(status, channel, parent)
_k._publish_status = _quiet
"""

DIRECT = """
from websockets.sync.server import serve as _serve
_received = {"in": 0}
def _handler(ws):
    _down["ws"] = ws
    try:
        for _ in ws:
            _received["in"] += 1
    finally:
        _down["ws"] = None
_ws_server = _serve(_handler, "127.0.0.1", 0, compression=None)
threading.Thread(target=_ws_server.serve_forever, daemon=True).start()
ping.ws_url = "ws://127.0.0.1:%d/" % _ws_server.socket.getsockname()[1]
"""


def reference_cell(
    up_ms: float, down_ms: float, mode: str = "comm", up_bytes: int = 4800, down_bytes: int = 4800
) -> str:
    """The reference widget's cell: one message up every `up_ms`, one down every `down_ms` (0: none)."""
    setup = {"comm": "", "quiet": QUIET, "direct": DIRECT, "direct_up": DIRECT}[mode]
    return REFERENCE.format(
        up_ms=round(up_ms),
        up_bytes=up_bytes,
        down_ms=down_ms,
        down_bytes=down_bytes,
        mode_setup=setup,
        down_ws=mode == "direct",
    )


def measure_reference(
    lab: Any,
    up_ms: float,
    seconds: float,
    *,
    down_ms: float = 0,
    mode: str = "comm",
    up_bytes: int = 4800,
    down_bytes: int = 4800,
) -> dict[str, Any]:
    """CPU (browser, Jupyter server, kernel; % of one core) of the reference widget for `seconds`, and the
    messages it was counted sending each way per second (``up_per_s``, ``down_per_s``; for ``direct`` the
    WebSocket's). Shuts every kernel of the lab's server down afterwards (its own, and any other)."""
    from _cpu import CpuMeter, browser_pids

    nb = lab.nb
    assert nb is not None and lab.server is not None
    nb.open("reference.ipynb", [reference_cell(up_ms, down_ms, mode, up_bytes, down_bytes)])
    nb.run_cell(0)
    kernel = int(nb.kernel_json("os.getpid()", setup="import os"))
    nb.kernel_exec(COMM_COUNTER + "\n_rt_counts = _rt_count_comm(ping)")
    time.sleep(2)
    groups = {"browser": browser_pids, "jupyter server": lambda: [lab.server_pid], "kernel": lambda: [kernel]}
    count = "dict(_rt_counts, ws_in=globals().get('_received', {}).get('in', 0))"
    before = nb.kernel_json(count)
    meter = CpuMeter(groups).start()
    time.sleep(seconds)
    cpu: dict[str, Any] = dict(meter.stop())  # the figures, then what was sent
    after = nb.kernel_json(count)
    nb.kernel_exec("_down['stop'].set()")
    lab.server.shutdown_sessions()
    up = (after["ws_in"] - before["ws_in"]) if mode.startswith("direct") else (after["in"] - before["in"])
    down = (seconds * 1000 / down_ms) if mode == "direct" and down_ms else (after["out"] - before["out"])
    cpu["mode"] = mode
    cpu["up_per_s"] = up / meter.wall
    cpu["down_per_s"] = down / meter.wall
    return cpu
