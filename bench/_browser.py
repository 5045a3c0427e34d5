"""The real-browser benchmarks' driver: one isolated JupyterLab + one headless Debian Chromium with a fake
microphone per run (``Lab``: open the widget, read its debug record, press its buttons), a local server in its
own process (``ServerProcess``), the page-side probes (``STATS_JS``, ``FRAMES_JS``), and clean-up of every
process started here, by process id.

It reuses the browser-test helpers of ``tests/browser/jlab.py`` (speech WAV, JupyterLab under test, notebook page
driver). The rest of the harness, one job a module: CPU per process tree and per thread in ``_cpu.py``,
percentiles and the machine's load in ``_figures.py``, the DevTools main-thread profile in ``_profile.py``; the
reference widget in ``_reference.py``.

Kernel-side instrumentation lives in ``_kernel_probe.py``; the Jupyter server's optional TCP_NODELAY patch in
``_nodelay.py``. Both are imported by the processes JupyterLab starts: the bench directory is put on their
``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _p in (ROOT / "tests" / "browser", ROOT):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import jlab  # noqa: E402  (tests/browser/jlab.py, the browser tests' helpers)
from _cpu import browser_pids, descendants, kill_pids, living  # noqa: E402
from _figures import load_average, log  # noqa: E402

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
        kill_pids(living([*self._started_pids, *([self.kernel_pid] if self.kernel_pid else [])]))
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


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def machine_line() -> str:
    return f"{load_average()}; python {sys.version.split()[0]}; chromium {jlab.CHROMIUM}"
