"""Shared harness of the real-browser benchmarks (``browser_latency.py``, ``browser_cpu.py``, ``eventlog_frames.py``).

It reuses the browser-test helpers of ``tests/browser/jlab.py`` (speech WAV, JupyterLab under test, notebook page
driver) and adds what a benchmark needs on top: one isolated JupyterLab + one headless Debian Chromium with a fake
microphone per run, CPU accounting per process tree (psutil), percentiles, the machine's load, and clean-up of
every process started here, by process id. The reference widget is in ``_reference.py``.

Kernel-side instrumentation lives in ``_kernel_probe.py``; the Jupyter server's optional TCP_NODELAY patch in
``_nodelay.py``. Both are imported by the processes JupyterLab starts: the bench directory is put on their
``PYTHONPATH``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _p in (ROOT / "tests" / "browser", ROOT):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import jlab  # noqa: E402  (tests/browser/jlab.py, the browser tests' helpers)

try:
    import psutil
except ImportError:  # pragma: no cover - said once, plainly
    sys.exit("the browser benchmarks need psutil: pip install psutil (see bench/README.md)")

# What the fake microphone says, between silences; the file loops.
SPEECH_TEXT = "what is the weather in Paris"

# The newest live widget model's debug record in the page (docs/widget-contract.md, "test hooks").
STATS_JS = """
() => {
    const models = (globalThis.__rtwidget && globalThis.__rtwidget.models) || [];
    const live = models.filter((m) => !m.closed);
    return live.length ? live[live.length - 1].stats : null;
}
"""

# A requestAnimationFrame loop recording the gap between frames, plus long tasks (> 50 ms) when the browser
# reports them. `window.__rtFrames.reset()` starts a new window; `.take()` returns it.
FRAMES_JS = """
() => {
    if (window.__rtFrames) return true;
    const f = {gaps: [], long: [], last: 0};
    f.reset = () => { f.gaps = []; f.long = []; f.last = 0; };
    f.take = () => ({gaps: f.gaps.slice(), long: f.long.slice()});
    const loop = (t) => { if (f.last) f.gaps.push(t - f.last); f.last = t; requestAnimationFrame(loop); };
    requestAnimationFrame(loop);
    try {
        new PerformanceObserver((list) => {
            for (const e of list.getEntries()) f.long.push(e.duration);
        }).observe({type: 'longtask', buffered: false});
    } catch (e) { /* no long-task API: gaps only */ }
    window.__rtFrames = f;
    return true;
}
"""


# ================================================================================ figures


def summary(values: Iterable[float]) -> dict[str, float]:
    """n, p50, p95, p99, max and mean of `values` (NaN when empty)."""
    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan"), "mean": 0}
    return {
        "n": int(x.size),
        "p50": float(np.percentile(x, 50)),
        "p95": float(np.percentile(x, 95)),
        "p99": float(np.percentile(x, 99)),
        "max": float(x.max()),
        "mean": float(x.mean()),
    }


def fmt_ms(s: dict[str, float], keys: Sequence[str] = ("p50", "p95", "max")) -> str:
    parts = "/".join(f"{s[k]:.0f}" if s["n"] else "-" for k in keys)
    return f"{parts} ms (n={s['n']})"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} CPUs)"


def log(*parts: Any) -> None:
    print(*parts, flush=True)


# ================================================================================ CPU per process tree


def _cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


class CpuMeter:
    """CPU time of named groups of processes over a window, as % of one core.

    `groups` maps a name to a function returning the group's current pids (re-evaluated while measuring, so
    processes that start during the window count). A sampling thread keeps the last value seen of every pid,
    so a process that exits during the window still counts up to its last sample.
    """

    def __init__(self, groups: dict[str, Callable[[], list[int]]], interval: float = 0.5) -> None:
        self.groups = groups
        self.interval = interval
        self._start: dict[tuple[str, int, float], float] = {}
        self._last: dict[tuple[str, int, float], float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self.wall = 0.0

    def _sample(self, first: bool) -> None:
        for name, pids in self.groups.items():
            for pid in pids():
                try:
                    proc = psutil.Process(pid)
                    key = (name, pid, proc.create_time())
                    value = _cpu_seconds(proc)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                if key not in self._start:
                    # Present at the start: count from now. Started later: count all of its CPU.
                    self._start[key] = value if first else 0.0
                self._last[key] = value

    def start(self) -> CpuMeter:
        self._start, self._last = {}, {}
        self._t0 = time.monotonic()
        self._sample(first=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample(first=False)

    def stop(self) -> dict[str, float]:
        """% of one core per group over the window."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample(first=False)
        self.wall = time.monotonic() - self._t0
        used: dict[str, float] = dict.fromkeys(self.groups, 0.0)
        for key, last in self._last.items():
            used[key[0]] += last - self._start[key]
        return {name: 100.0 * seconds / self.wall for name, seconds in used.items()}


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def browser_pids() -> list[int]:
    """Every Chromium process this Python process launched (through Playwright's driver): the pid tree."""
    out = []
    for p in descendants(os.getpid()):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if "chrom" in p.name().lower():
                out.append(p.pid)
    return out


def chromium_kind(pid: int) -> str:
    """`browser`, `renderer`, `gpu`, `audio`, `network` or `other`, from a Chromium process's command line."""
    try:
        cmd = " ".join(psutil.Process(pid).cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "gone"
    if "--type=" not in cmd:
        return "browser"
    for needle, kind in (
        ("--type=renderer", "renderer"),
        ("--type=gpu-process", "gpu"),
        ("AudioService", "audio"),
        ("NetworkService", "network"),
    ):
        if needle in cmd:
            return kind
    return "other"


CHROMIUM_KINDS = ("browser", "renderer", "gpu", "audio", "network", "other")


def chromium_groups() -> dict[str, Callable[[], list[int]]]:
    """CpuMeter groups: one per Chromium process kind (see chromium_kind)."""

    def group(kind: str) -> Callable[[], list[int]]:
        return lambda: [pid for pid in browser_pids() if chromium_kind(pid) == kind]

    return {f"chromium {kind}": group(kind) for kind in CHROMIUM_KINDS}


def _thread_times(pids: Iterable[int]) -> dict[tuple[int, int], tuple[str, float]]:
    """(pid, tid) -> (``process kind/thread name``, CPU seconds) for every thread of `pids` (Linux /proc)."""
    out = {}
    for pid in pids:
        kind = chromium_kind(pid)
        for task in Path(f"/proc/{pid}/task").glob("[0-9]*"):
            try:
                name = (task / "comm").read_text().strip()
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError, ValueError):
                continue
            out[(pid, int(task.name))] = (f"{kind}/{name}", seconds)
    return out


class ThreadCpu:
    """CPU per thread name of a set of processes over a window (% of one core): which Chromium threads work."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self.pids = pids
        self._start: dict[tuple[int, int], tuple[str, float]] = {}
        self._t0 = 0.0

    def start(self) -> ThreadCpu:
        self._start = _thread_times(self.pids())
        self._t0 = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        end = _thread_times(self.pids())
        wall = time.monotonic() - self._t0
        used: dict[str, float] = {}
        for key, (name, seconds) in end.items():
            before = self._start.get(key, (name, 0.0))[1]
            used[name] = used.get(name, 0.0) + seconds - before
        return {name: 100.0 * s / wall for name, s in sorted(used.items(), key=lambda kv: -kv[1])}


def kill_pids(pids: Iterable[int]) -> None:
    """SIGKILL each pid still alive (only pids this process started)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


# ================================================================================ a separate local server


class ServerProcess:
    """`python -m rtwidget.server --pace realtime` in its own process (so the kernel's CPU is its own)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> ServerProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rtwidget.server", "--pace", "realtime"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and not line.startswith("ws://"):
            line = self.proc.stdout.readline().strip()
            if self.proc.poll() is not None:
                raise RuntimeError("the local server exited before printing its URL")
        if not line.startswith("ws://"):
            self.stop()
            raise TimeoutError("the local server did not print its URL")
        self.url = line
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ================================================================================ JupyterLab + Chromium


class Lab:
    """One isolated JupyterLab (127.0.0.1, free port) and one headless Debian Chromium with a fake microphone
    playing an espeak-ng WAV; stops both (by pid) on exit.

    ``nodelay=True`` makes the Jupyter server set TCP_NODELAY on its kernel websockets (``_nodelay.py``, a server
    extension enabled in the isolated config dir). ``lab_settings`` are JupyterLab user settings (see
    ``jlab.JupyterServer``).
    """

    def __init__(
        self,
        *,
        nodelay: bool = False,
        lab_settings: dict[str, dict[str, Any]] | None = None,
        speech_text: str = SPEECH_TEXT,
        pad_s: float = 1.5,
        keep: bool = False,
        viewport: tuple[int, int] = (1400, 1000),
    ) -> None:
        self.nodelay = nodelay
        self.lab_settings = lab_settings
        self.speech_text = speech_text
        self.pad_s = pad_s
        self.keep = keep
        self.viewport = viewport
        self.base = Path(tempfile.mkdtemp(prefix="rtwidget-bench-"))
        self.server: jlab.JupyterServer | None = None
        self._pw: Any = None
        self.browser: Any = None
        self.context: Any = None
        self.nb: jlab.NotebookPage | None = None
        self._started_pids: set[int] = set()
        self.kernel_pid = 0

    # ---------------------------------------------------------------- start / stop

    def __enter__(self) -> Lab:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Lab:
        missing = [m for m in ("playwright", "jupyterlab") if not _importable(m)]
        if missing or not Path(jlab.CHROMIUM).exists():
            sys.exit(f"needs {jlab.CHROMIUM} (apt-get install chromium) and pip packages: {missing or 'ok'}")
        wav = jlab.make_speech_wav(self.base / "speech.wav", self.speech_text, pad_s=self.pad_s)
        # The processes JupyterLab starts (server, kernels) import the bench helpers from here.
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH), os.environ.get("PYTHONPATH", "")) if p)
        self.server = jlab.JupyterServer(self.base / "lab", "lab", self.lab_settings)
        if self.nodelay:
            config = self.base / "lab" / "config"
            config.mkdir(parents=True, exist_ok=True)
            settings = {"ServerApp": {"jpserver_extensions": {"_nodelay": True}}}
            (config / "jupyter_server_config.json").write_text(json.dumps(settings))
        self.server.start()
        assert self.server.proc is not None
        self._started_pids.add(self.server.proc.pid)

        from playwright.sync_api import sync_playwright

        before = {p.pid for p in descendants(os.getpid())}
        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(
            executable_path=jlab.CHROMIUM, headless=True, args=[*jlab.CHROMIUM_ARGS, *jlab.fake_mic_args(wav)]
        )
        self._started_pids.update(p.pid for p in descendants(os.getpid()) if p.pid not in before)
        width, height = self.viewport
        self.context = self.browser.new_context(viewport={"width": width, "height": height})
        page = self.context.new_page()
        self.nb = jlab.NotebookPage(page, self.server, self.base / "artifacts")
        return self

    def stop(self) -> None:
        """Close the browser and Playwright, stop JupyterLab (kernels included), then SIGKILL any process this
        run started that is still alive, by pid."""
        self._started_pids.update(browser_pids())
        if self.nb is not None:
            problems = [line for line in self.nb.console if line.startswith(("[error]", "[pageerror]", "[warning]"))]
            if problems:
                log(f"page console: {len(problems)} errors/warnings, the first ones:")
                for line in problems[:8]:
                    log(f"  {line[:300]}")
        for step in (
            lambda: self.context and self.context.close(),
            lambda: self.browser and self.browser.close(),
            lambda: self._pw and self._pw.stop(),
            lambda: self.server and self.server.stop(),
        ):
            try:
                step()
            except Exception as exc:  # keep stopping the rest
                log(f"(clean-up step failed: {exc!r})")
        self.context = self.browser = self._pw = None
        alive = [pid for pid in self._started_pids if psutil.pid_exists(pid)]
        if self.kernel_pid and psutil.pid_exists(self.kernel_pid):
            alive.append(self.kernel_pid)
        kill_pids(alive)
        if not self.keep:
            shutil.rmtree(self.base, ignore_errors=True)
        else:
            log(f"kept {self.base}")

    # ---------------------------------------------------------------- the widget

    def open_widget(self, setup: str, name: str = "bench.ipynb", timeout: float = 120.0) -> jlab.NotebookPage:
        """Open a notebook whose one cell is `setup` (it must leave `session` and `widget` and display the widget),
        run it, wait until the widget is rendered and connected. Records the kernel's pid."""
        nb = self.nb
        assert nb is not None
        nb.open(name, [setup])
        nb.run_cell(0)
        nb.wait_js(
            "() => !!(globalThis.__rtwidget && globalThis.__rtwidget.models.length)",
            timeout=timeout,
            what="the widget's debug record",
        )
        nb.page.locator("[data-rt=status]").first.wait_for(state="visible")
        nb.wait_kernel("widget.status == 'connected' and session.connected", timeout, "the widget to connect")
        self.kernel_pid = int(nb.kernel_json("os.getpid()", setup="import os"))
        self._started_pids.add(self.kernel_pid)
        return nb

    @property
    def server_pid(self) -> int:
        assert self.server is not None and self.server.proc is not None
        return self.server.proc.pid

    def stats(self) -> dict[str, Any]:
        assert self.nb is not None
        value = self.nb.js(STATS_JS)
        if value is None:
            raise RuntimeError("no live globalThis.__rtwidget.models record in the page")
        return dict(value)

    def click(self, rt: str) -> None:
        assert self.nb is not None
        self.nb.page.locator(f"[data-rt={rt}]").first.click()

    def mic(self, on: bool, timeout: float = 30.0) -> None:
        """Press the Mic button and wait until the capture is on (or off)."""
        assert self.nb is not None
        if bool(self.stats().get("micOn")) != on:
            self.click("mic")
        self.nb.wait_js(
            f"() => {{ const s = ({STATS_JS})(); return !!s && s.micOn === {'true' if on else 'false'}; }}",
            timeout=timeout,
            what=f"the microphone to turn {'on' if on else 'off'}",
        )


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


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def machine_line() -> str:
    return f"{load_average()}; python {sys.version.split()[0]}; chromium {jlab.CHROMIUM}"
