"""CPU accounting of the real-browser benchmarks: CPU time per named group of process trees (psutil, sampled, so
a process that exits during the window still counts), per Chromium process kind, per thread (Linux /proc), and
the processes a run started, found and killed by pid only."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

try:
    import psutil
except ImportError:  # pragma: no cover - said once, plainly
    sys.exit("the browser benchmarks need psutil: pip install psutil (see bench/README.md)")


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
        return list(psutil.Process(pid).children(recursive=True))
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


def living(pids: Iterable[int]) -> list[int]:
    """The pids of `pids` that are still running."""
    return [pid for pid in pids if psutil.pid_exists(pid)]


def kill_pids(pids: Iterable[int]) -> None:
    """SIGKILL each pid still alive (only pids this process started)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
