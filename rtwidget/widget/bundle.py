"""The widget's front end as the strings anywidget loads: one ES module and one stylesheet.

The files in ``rtwidget/widget/static/`` import each other with relative imports (so Node can unit-test
them) and ship as they are; no build step. anywidget loads the module from a Blob URL, where relative imports
cannot resolve, so :func:`esm` joins them into one module:

- the files ``widget.js`` imports, directly or not, each after the files it imports (the order is read from
  their ``import ... from "./<file>.js";`` statements, which are removed: the top-level names share one scope),
  then ``widget.js`` itself;
- preceded by ``const WORKLET_SOURCES = {capture: "...", playback: "..."};``: one entry per ``<name>-worklet.js``
  file, its source being the files it imports joined the same way, then the worklet. The widget loads each
  with ``audioWorklet.addModule(URL.createObjectURL(new Blob([source])))``; worklets are never imported.

Only relative imports of a sibling ``.js`` file are read and removed; any other import is left in place. An
import cycle or an import of a missing file is a RuntimeError that names it.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

__all__ = [
    "CSS_FILES",
    "ENTRY",
    "STATIC_DIR",
    "css",
    "esm",
    "module_order",
    "relative_imports",
    "strip_imports",
    "worklets",
]

STATIC_DIR = Path(__file__).parent / "static"
# The module anywidget runs (it exports initialize and render); everything else is joined in before it.
ENTRY = "widget.js"
_WORKLET_SUFFIX = "-worklet.js"

# `import {a, b} from "./x.js";` at the start of a line, possibly spread over several lines.
_RELATIVE_IMPORT = re.compile(
    r"""^import\s[^;]*?\sfrom\s+(["'])\./(?P<file>[\w.-]+\.js)\1;[ \t]*(?:\r?\n|$)""", re.MULTILINE
)


def strip_imports(source: str) -> str:
    """Remove the ``import ... from "./<file>.js";`` statements of one static file."""
    return _RELATIVE_IMPORT.sub("", source)


def relative_imports(source: str) -> list[str]:
    """The sibling files one static file imports, in the order of its import statements."""
    return [m.group("file") for m in _RELATIVE_IMPORT.finditer(source)]


def module_order(entry: str, static_dir: Path = STATIC_DIR) -> list[str]:
    """``entry`` and every file it imports, directly or not, each after the files it imports (a depth-first
    topological sort, in import order). Raises RuntimeError naming an import cycle or a missing file."""
    order: list[str] = []

    def visit(name: str, trail: list[str]) -> None:
        if name in order:
            return
        if name in trail:
            cycle = " -> ".join([*trail[trail.index(name) :], name])
            raise RuntimeError(f"import cycle in {static_dir}: {cycle}")
        path = static_dir / name
        if not path.is_file():
            what = f"{trail[-1]} imports {name}, which is not" if trail else f"{name} is not"
            raise RuntimeError(f"{what} a file in {static_dir}")
        for imported in relative_imports(path.read_text(encoding="utf-8")):
            visit(imported, [*trail, name])
        order.append(name)

    visit(entry, [])
    return order


def worklets(static_dir: Path = STATIC_DIR) -> dict[str, str]:
    """Worklet name -> file: every ``<name>-worklet.js`` in ``static_dir``, by name."""
    files = sorted(p.name for p in static_dir.glob(f"*{_WORKLET_SUFFIX}"))
    return {name.removesuffix(_WORKLET_SUFFIX): name for name in files}


def _join(files: list[str], static_dir: Path) -> str:
    return "\n".join(
        f"// --- {name} ---\n{strip_imports((static_dir / name).read_text(encoding='utf-8'))}" for name in files
    )


def worklet_source(name: str, static_dir: Path = STATIC_DIR) -> str:
    """The source text of one AudioWorklet module (``"capture"``, ``"playback"``): its imports, then itself."""
    return _join(module_order(worklets(static_dir)[name], static_dir), static_dir)


@functools.cache
def esm(static_dir: Path = STATIC_DIR) -> str:
    """The widget's ES module: the worklet sources, then the files of :data:`ENTRY` in dependency order."""
    files = module_order(ENTRY, static_dir)
    imported = [f for f in files if f.endswith(_WORKLET_SUFFIX)]
    if imported:
        raise RuntimeError(f"{', '.join(imported)} imported by the widget module: worklets load by URL, not import")
    sources = ", ".join(f"{name}: {json.dumps(worklet_source(name, static_dir))}" for name in worklets(static_dir))
    return f"const WORKLET_SOURCES = {{{sources}}};\n{_join(files, static_dir)}"


# The stylesheets, in cascade order: the theme variables and bars first, each panel's own after.
CSS_FILES = (
    "widget.css",
    "families.css",
    "controls.css",
    "media.css",
    "notices.css",
    "layout.css",
    "panels.css",
    "tools.css",
    "sessionform.css",
    "log.css",
    "ladder.css",
    "replay.css",
)


@functools.cache
def css(static_dir: Path = STATIC_DIR) -> str:
    """The widget's stylesheet: :data:`CSS_FILES` joined in order (a missing file is an error, not a gap)."""
    return "\n".join((static_dir / name).read_text(encoding="utf-8") for name in CSS_FILES)
