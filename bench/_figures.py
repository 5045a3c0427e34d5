"""Figures of the benchmarks: percentiles of a series, their one-line form, the machine's load, and a print that
shows at once (the runs are long: what happened so far is on screen)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


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
