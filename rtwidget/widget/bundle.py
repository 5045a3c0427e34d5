"""The widget's front end as the strings anywidget loads: one ES module and one stylesheet.

The files in ``rtwidget/widget/static/`` import each other with relative imports (so Node can unit-test
them) and ship as they are; no build step. anywidget loads the module from a Blob URL, where
relative imports cannot resolve, so :func:`esm` joins them into one module:

- ``dsp.js``, ``eventlog.js``, ``panels.js``, ``audio.js`` and ``widget.js`` in that order, each with its
  ``import ... from "./<file>.js";`` statements removed (their top-level names share one scope);
- preceded by ``const WORKLET_SOURCES = {capture: "...", playback: "..."};``, each worklet's source
  being ``dsp.js`` plus the worklet file, import-stripped the same way. The widget loads them with
  ``audioWorklet.addModule(URL.createObjectURL(new Blob([source])))``.

Only relative imports of a sibling ``.js`` file are removed; any other import is left in place.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

__all__ = ["STATIC_DIR", "css", "esm", "strip_imports", "worklet_source"]

STATIC_DIR = Path(__file__).parent / "static"

# Joined into the widget module, in dependency order.
_MODULE_FILES = ("dsp.js", "eventlog.js", "panels.js", "audio.js", "widget.js")
# Worklet name -> file; each is loaded after dsp.js in its own AudioWorkletGlobalScope.
_WORKLET_FILES = {"capture": "capture-worklet.js", "playback": "playback-worklet.js"}

# `import {a, b} from "./x.js";` at the start of a line, possibly spread over several lines.
_RELATIVE_IMPORT = re.compile(r'^import\s[^;]*?\sfrom\s+"\./[\w.-]+\.js";[ \t]*(?:\r?\n|$)', re.MULTILINE)


def strip_imports(source: str) -> str:
    """Remove the ``import ... from "./<file>.js";`` statements of one static file."""
    return _RELATIVE_IMPORT.sub("", source)


def _read(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def worklet_source(name: str) -> str:
    """The source text of one AudioWorklet module (``"capture"`` or ``"playback"``): dsp.js + the worklet."""
    parts = ("dsp.js", _WORKLET_FILES[name])
    return "\n".join(f"// --- {part} ---\n{strip_imports(_read(part))}" for part in parts)


@functools.cache
def esm() -> str:
    """The widget's ES module: the worklet sources, then dsp.js, eventlog.js, panels.js, audio.js and widget.js."""
    sources = ", ".join(f"{name}: {json.dumps(worklet_source(name))}" for name in _WORKLET_FILES)
    body = "\n".join(f"// --- {name} ---\n{strip_imports(_read(name))}" for name in _MODULE_FILES)
    return f"const WORKLET_SOURCES = {{{sources}}};\n{body}"


@functools.cache
def css() -> str:
    """The widget's stylesheet."""
    return _read("widget.css")
