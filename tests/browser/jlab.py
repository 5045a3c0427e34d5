"""Helpers for the real-browser tests: speech WAV, a Jupyter server under test, and a notebook page driver.

Nothing here is a fixture; `conftest.py` wires these into pytest. Every wait polls a condition with a timeout
(never a fixed sleep), and every process started here is stopped by its process id.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# Debian's Chromium (a browser that Playwright downloads does not work on these machines).
CHROMIUM = os.environ.get("RTWIDGET_CHROMIUM", "/usr/bin/chromium")
# Generous: the machine is small and shared.
TIMEOUT_S = 60.0

# Chromium flags that work here (see the project's browser-testing notes): no sandbox as root, no GPU, no
# background traffic to the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
]


def fake_mic_args(wav: Path) -> list[str]:
    """Chromium flags that make `getUserMedia` capture `wav` (16-bit PCM; the file loops) with no prompt."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ]


# ================================================================================ speech


def make_speech_wav(path: Path, text: str, *, pad_s: float = 1.5, rate: int = 48000) -> Path:
    """Write `text` spoken by espeak-ng as a 16-bit mono WAV at `rate`, with `pad_s` of silence on both sides.

    The fake microphone loops the file, so the padding gives the VAD a clear start and stop on every pass.
    Uses the espeak-ng program (+ sox when present); without the program, the espeak-ng library that the
    `espeakng-loader` wheel ships (through rtwidget's local-server voice).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = path.with_name(path.stem + "-raw.wav")
    if shutil.which("espeak-ng"):
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), text], check=True, timeout=60)
        if shutil.which("sox"):
            cmd = ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed-integer", str(path)]
            subprocess.run([*cmd, "norm", "-3", "pad", str(pad_s), str(pad_s)], check=True, timeout=60)
            return path
        with wave.open(str(raw), "rb") as w:
            src_rate, pcm = w.getframerate(), w.readframes(w.getnframes())
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise RuntimeError("espeak-ng wrote something other than 16-bit mono")
    else:
        from rtwidget.server.voice import EspeakLibraryVoice

        src_rate, pcm = 24000, EspeakLibraryVoice().synthesize(text)
    _write_padded(path, pcm, src_rate, rate, pad_s)
    return path


def _write_padded(path: Path, pcm: bytes, src_rate: int, rate: int, pad_s: float) -> None:
    import numpy as np

    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    n = round(len(x) * rate / src_rate)
    y = np.interp(np.arange(n) * src_rate / rate, np.arange(len(x)), x)
    peak = float(np.max(np.abs(y))) or 1.0
    y = y * (0.7 * 32767 / peak)
    pad = np.zeros(round(pad_s * rate))
    out = np.concatenate([pad, y, pad]).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(out.tobytes())


# ================================================================================ the Jupyter server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float = TIMEOUT_S, interval: float = 0.1, what: str = "") -> Any:
    """Poll `predicate` until it returns something truthy (returned); TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


class JupyterServer:
    """A JupyterLab 4 (`kind="lab"`) or Notebook 7 (`kind="notebook"`) server on 127.0.0.1, isolated under `base`.

    No token, no password, `window.jupyterapp` exposed, no news or update checks. The kernel is this Python
    (`sys.executable`) with the repository first on its path, so it imports the rtwidget under test.
    `lab_settings` are JupyterLab user settings: `{"@jupyterlab/apputils-extension:kernels-settings": {...}}`.
    """

    def __init__(self, base: Path, kind: str = "lab", lab_settings: dict[str, dict[str, Any]] | None = None) -> None:
        if kind not in ("lab", "notebook"):
            raise ValueError(kind)
        self.kind = kind
        self.base = base
        self.root_dir = base / "notebooks"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = base / f"jupyter-{kind}.log"
        self.lab_settings = {
            "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
            **(lab_settings or {}),
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI", "JUPYTER"))}
        dirs = {
            "JUPYTER_CONFIG_DIR": "config",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTER_DATA_DIR": "data",
            "IPYTHONDIR": "ipython",
            "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
            "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
        }
        for name, sub in dirs.items():
            env[name] = str(self.base / sub)
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _prepare(self, env: dict[str, str]) -> None:
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR"):
            Path(env[name]).mkdir(parents=True, exist_ok=True)
        self.root_dir.mkdir(parents=True, exist_ok=True)
        # The kernel: this very interpreter (it has rtwidget, ipykernel, anywidget).
        spec_dir = Path(env["JUPYTER_DATA_DIR"]) / "kernels" / "python3"
        spec_dir.mkdir(parents=True, exist_ok=True)
        spec = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "metadata": {"debugger": True},
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
        for plugin, values in self.lab_settings.items():
            package, _, name = plugin.partition(":")
            target = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / package / f"{name}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))

    def start(self, timeout: float = TIMEOUT_S) -> JupyterServer:
        env = self.env()
        self._prepare(env)
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            self.kind,
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--ServerApp.root_dir={self.root_dir}",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            "--expose-app-in-browser",
            # No news or update checks (Notebook 7 loads the JupyterLab extension too).
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=self.root_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            wait_until(self._ready, timeout, 0.2, f"jupyter {self.kind} on port {self.port}")
        except BaseException:
            self.stop()
            raise RuntimeError(f"jupyter {self.kind} did not start; its log:\n{self.log_tail()}") from None
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"jupyter {self.kind} exited with {self.proc.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"{self.url}/api/status", timeout=2) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
        return json.loads(text) if text else None

    def shutdown_sessions(self) -> None:
        """Shut down every kernel session (each test's kernel runs its own local Realtime server)."""
        for session in self.api("GET", "/api/sessions"):
            with contextlib.suppress(urllib.error.HTTPError):
                self.api("DELETE", f"/api/sessions/{session['id']}")

    def write_notebook(self, name: str, cells: Sequence[str]) -> str:
        """Write `name` (.ipynb) into the notebook dir, one code cell per source; returns its path for URLs."""
        code = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
        nb = {
            "cells": [{**code, "id": f"c{i}", "source": source} for i, source in enumerate(cells)],
            "metadata": {
                "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (self.root_dir / name).write_text(json.dumps(nb, indent=1))
        return name

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}" if self.kind == "lab" else f"{self.url}/notebooks/{name}"

    def stop(self) -> None:
        """Shut the kernels down, then stop the server by its process id (and its group, and any child left)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(Exception):
                self.shutdown_sessions()
        children = _descendants(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        # Kernels run in their own process groups: stop any the server left behind.
        for pid in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    """Process ids of every descendant of `pid` (Linux /proc; empty elsewhere)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


# ================================================================================ the page


# Terminal colours in kernel tracebacks.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Marks the line of kernel output that carries a result (other threads may print meanwhile).
_JSON_MARK = "__rtwidget_test_json__ "

# Finds the notebook panel of `path` in JupyterLab or Notebook 7 (both expose `window.jupyterapp`).
_FIND_PANEL = """
(path) => {
    const app = window.jupyterapp;
    if (!app) return null;
    for (const w of Array.from(app.shell.widgets('main'))) {
        if (w.content && w.sessionContext && w.context && w.context.path === path) return w;
    }
    return null;
}
"""


class NotebookPage:
    """Drives one notebook open in a Playwright page: cells, kernel code, waits on conditions, theme, screenshots."""

    def __init__(self, page: Any, server: JupyterServer, artifacts: Path) -> None:
        self.page = page
        self.server = server
        self.artifacts = artifacts
        self.path = ""
        self.console: list[str] = []
        self.measurements: dict[str, Any] = {}
        page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}"))
        page.set_default_timeout(TIMEOUT_S * 1000)
        # Every page.evaluate below can call window.__rtFindPanel(path).
        page.add_init_script(f"window.__rtFindPanel = {_FIND_PANEL};")

    # ---------------------------------------------------------------- opening and cells

    def open(self, name: str, cells: Sequence[str] | None = None) -> NotebookPage:
        """Write the notebook (when `cells` is given), open it, and wait until its kernel is ready."""
        if cells is not None:
            self.server.write_notebook(name, cells)
        self.path = name
        self.page.goto(self.server.notebook_url(name))
        self.wait_js(
            """(path) => {
                const p = window.__rtFindPanel(path);
                if (!p || !p.sessionContext.isReady) return false;
                const k = p.sessionContext.session && p.sessionContext.session.kernel;
                return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
            }""",
            name,
            what="the notebook's kernel to be ready",
        )
        return self

    def run_cell(self, index: int, *, wait: bool = True) -> list[dict[str, Any]]:
        """Run cell `index` with `notebook:run-cell`. With `wait`, wait until it finishes and return its outputs;
        an `error` output raises AssertionError with the traceback. Without `wait`, returns [] at once (see
        `cell_done`)."""
        done = self.page.evaluate(
            """async ([path, index, wait]) => {
                const panel = window.__rtFindPanel(path);
                window.jupyterapp.shell.activateById(panel.id);
                panel.content.activeCellIndex = index;
                window.__rtCellDone = window.__rtCellDone || {};
                window.__rtCellDone[index] = false;
                const run = window.jupyterapp.commands.execute('notebook:run-cell')
                    .then(() => { window.__rtCellDone[index] = true; });
                if (wait) await run;
                return window.__rtCellDone[index];
            }""",
            [self.path, index, wait],
        )
        if not wait:
            return []
        assert done, f"cell {index} did not finish"
        return self.cell_outputs(index, check=True)

    def cell_done(self, index: int) -> bool:
        """Whether the last `run_cell(index, wait=False)` finished."""
        return bool(self.page.evaluate("(i) => !!(window.__rtCellDone && window.__rtCellDone[i])", index))

    def cell_outputs(self, index: int, *, check: bool = False) -> list[dict[str, Any]]:
        outputs = self.page.evaluate(
            """([path, index]) => {
                const panel = window.__rtFindPanel(path);
                return panel.content.widgets[index].model.outputs.toJSON();
            }""",
            [self.path, index],
        )
        if check:
            errors = [o for o in outputs if o.get("output_type") == "error"]
            if errors:
                tb = _ANSI.sub("", "\n".join(errors[0].get("traceback", [])))
                raise AssertionError(f"cell {index} raised {errors[0].get('ename')}: {errors[0].get('evalue')}\n{tb}")
        return outputs

    # ---------------------------------------------------------------- the kernel, without touching cells

    def kernel_exec(self, code: str, timeout: float = TIMEOUT_S) -> str:
        """Run `code` in the notebook's kernel with `kernel.requestExecute` (no cell, no history); return stdout.
        An exception in the kernel raises AssertionError with its traceback. (Stderr is ignored: log lines from the
        session's threads land in whatever request is current.)"""
        result = self.page.evaluate(
            """async ([path, code, timeoutMs]) => {
                const panel = window.__rtFindPanel(path);
                const kernel = panel.sessionContext.session.kernel;
                const future = kernel.requestExecute({code, silent: false, store_history: false,
                                                      allow_stdin: false, stop_on_error: false});
                const out = [], err = [];
                future.onIOPub = (msg) => {
                    const t = msg.header.msg_type;
                    if (t === 'stream' && msg.content.name === 'stdout') out.push(msg.content.text);
                    if (t === 'error') err.push(msg.content.ename + ': ' + msg.content.evalue + '\\n'
                                                + msg.content.traceback.join('\\n'));
                };
                let timer;
                const timedOut = new Promise((resolve) => {
                    timer = setTimeout(() => resolve('timeout'), timeoutMs);
                });
                const end = await Promise.race([future.done.then(() => 'done'), timedOut]);
                clearTimeout(timer);
                return {end, out: out.join(''), err: err.join('')};
            }""",
            [self.path, code, timeout * 1000],
        )
        if result["end"] != "done":
            raise TimeoutError(f"kernel code did not finish in {timeout:.0f} s: {code!r}")
        if result["err"]:
            raise AssertionError(f"kernel code failed: {code!r}\n{_ANSI.sub('', result['err'])}")
        return str(result["out"])

    def kernel_json(self, expr: str, setup: str = "") -> Any:
        """The JSON value of the Python expression `expr` evaluated in the kernel (after running `setup`)."""
        code = f"{setup}\nimport json as _rt_json\nprint({_JSON_MARK!r} + _rt_json.dumps({expr}, default=str))"
        out = self.kernel_exec(code)
        lines = [line for line in out.splitlines() if line.startswith(_JSON_MARK)]
        assert lines, f"no result from the kernel for {expr!r}; its output: {out!r}"
        return json.loads(lines[-1][len(_JSON_MARK) :])

    def session_log(self, session: str = "session", types: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """`session.log` of the kernel as dicts (time, direction, type, size, data), optionally only `types`."""
        wanted = sorted(set(types)) if types is not None else None
        expr = (
            f"[{{'time': e.time, 'direction': e.direction, 'type': e.type, 'size': e.size, 'data': e.data}}"
            f" for e in list({session}.log) if {wanted!r} is None or e.type in {wanted!r}]"
        )
        return list(self.kernel_json(expr))

    def wait_kernel(self, expr: str, timeout: float = TIMEOUT_S, what: str = "", setup: str = "") -> Any:
        """Poll the kernel until the Python expression `expr` is truthy; returns its JSON value."""
        return wait_until(lambda: self.kernel_json(expr, setup), timeout, 0.25, what or expr)

    # ---------------------------------------------------------------- the page

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def wait_js(self, expression: str, arg: Any = None, timeout: float = TIMEOUT_S, what: str = "") -> Any:
        """Wait until the JS function/expression `expression` (called with `arg`) is truthy; returns its value."""
        try:
            handle = self.page.wait_for_function(expression, arg=arg, timeout=timeout * 1000, polling=100)
        except Exception as exc:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what or expression}") from exc
        return handle.json_value()

    def set_theme(self, theme: str) -> None:
        """Switch to `JupyterLab Light` / `JupyterLab Dark` and wait until the page shows it."""
        self.page.evaluate("(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme)
        light = "true" if "Light" in theme else "false"
        # JupyterLab shows its splash screen while it swaps the theme's CSS: wait until it is gone.
        self.wait_js(
            f"() => document.body.dataset.jpThemeLight === '{light}' && !document.getElementById('jupyterlab-splash')",
            what=f"theme {theme}",
        )

    def screenshot(self, name: str, locator: Any = None) -> Path:
        """Save a PNG under the test's artifacts dir (of `locator` when given, else the page); returns its path."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{name}.png"
        (locator or self.page).screenshot(path=str(path))
        return path

    def record(self, **values: Any) -> None:
        """Keep figures measured by the test in `measurements.json` beside its screenshots (for reports)."""
        self.measurements.update(values)
        self.artifacts.mkdir(parents=True, exist_ok=True)
        (self.artifacts / "measurements.json").write_text(json.dumps(self.measurements, indent=1, default=str))

    def save_console(self) -> Path:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / "console.log"
        path.write_text("\n".join(self.console) + "\n")
        return path
