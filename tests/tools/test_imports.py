"""The tools package stays on floor 2: importing it loads no session, server or widget module."""

from __future__ import annotations

import json
import subprocess
import sys

# What floor 2 may use from the package: floors 0 and 1 (the package root is lazy and imports nothing itself).
LOWER_FLOORS = ("rtwidget.errors", "rtwidget.protocol")


def outside_floor(module: str) -> bool:
    """Whether ``module`` is an rtwidget module the tools package must not load."""
    if module == "rtwidget" or not module.startswith("rtwidget."):
        return False
    return not any(module == p or module.startswith(p + ".") for p in (*LOWER_FLOORS, "rtwidget.tools"))


def test_outside_floor() -> None:
    assert [m for m in ("rtwidget", "rtwidget.tools.tool", "rtwidget.errors", "json") if outside_floor(m)] == []
    assert outside_floor("rtwidget.session") and outside_floor("rtwidget.tools_extra")


def test_importing_tools_loads_only_lower_floors() -> None:
    code = "import json, sys, rtwidget.tools; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    assert "rtwidget.tools.registry" in loaded
    assert [m for m in loaded if outside_floor(m)] == []
    assert not {"websockets", "numpy", "anywidget", "ipywidgets"} & set(loaded)
