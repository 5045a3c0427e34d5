"""The house rules of docs/architecture.md, checked: floors import only downward, the protocol core and
``import rtwidget`` stay light, no import cycles, and no module or test file outgrows its limit."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rtwidget"

# Floor of each part of the package (docs/architecture.md). ``rtwidget`` itself (its __init__) is the
# composition root above every floor: it may name anything, nothing may import it.
FLOORS = {
    "rtwidget.errors": 0,
    "rtwidget.protocol": 1,
    "rtwidget.audio": 2,
    "rtwidget.endpoints": 2,
    "rtwidget.tools": 2,
    "rtwidget.prices": 2,
    "rtwidget._loopthread": 2,
    "rtwidget.cassette": 2,
    "rtwidget.session": 3,
    "rtwidget.server": 3,
    "rtwidget.widget": 4,
    "rtwidget.cli": 4,
    "rtwidget.testing": 4,
    "rtwidget": 5,
}
# Same-floor imports that are allowed, by (importer part, imported part): the session's default endpoint factory
# starts the local server; the server never imports the session.
SIDEWAYS = {("rtwidget.session", "rtwidget.server")}
# Parts a floor may not import although they are below it.
FORBIDDEN = {("rtwidget.widget", "rtwidget.protocol")}  # the widget reads the protocol through the session

MAX_MODULE_LINES = 500
MAX_TEST_LINES = 600


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def part_of(module: str) -> str:
    """The entry of FLOORS a module belongs to (the longest matching prefix)."""
    best = ""
    for part in FLOORS:
        if (module == part or module.startswith(part + ".")) and len(part) > len(best):
            best = part
    return best


def imports_of(path: Path) -> list[tuple[str, bool]]:
    """Every rtwidget module a file imports: (module, at top level?). ``from x import y`` counts as ``x.y`` when
    ``y`` is a module of ours, else ``x``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    top_level = {id(node) for node in tree.body}
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names if alias.name.startswith("rtwidget")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("rtwidget"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                is_module = (ROOT / Path(*sub.split("."))).with_suffix(".py").exists() or (
                    ROOT / Path(*sub.split(".")) / "__init__.py"
                ).exists()
                found.append((sub if is_module else target, id(node) in top_level))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_run_downward_only(path: Path) -> None:
    source = part_of(module_name(path))
    assert source, f"{module_name(path)} belongs to no floor: add it to FLOORS and docs/architecture.md"
    if source == "rtwidget":
        return
    for target, _ in imports_of(path):
        dest = part_of(target)
        if dest == source or (source, dest) in SIDEWAYS:
            continue
        assert (source, dest) not in FORBIDDEN, f"{module_name(path)} imports {target}: {source} may not use {dest}"
        assert FLOORS[dest] < FLOORS[source], (
            f"{module_name(path)} (floor {FLOORS[source]}) imports {target} (floor {FLOORS[dest]}): "
            "imports run downward only (docs/architecture.md)"
        )


def test_no_import_cycles() -> None:
    graph = {module_name(p): {t for t, top in imports_of(p) if top} for p in MODULES}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt == node or nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycle = [*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_protocol_core_loads_only_the_standard_library() -> None:
    loaded = _loaded_after("import rtwidget.protocol, rtwidget.protocol.connection")
    ours = {m for m in loaded if m.startswith("rtwidget")}
    assert ours - {"rtwidget", "rtwidget.errors"} == {m for m in ours if m.startswith("rtwidget.protocol")}
    third_party = {m.split(".")[0] for m in loaded if not m.startswith("rtwidget")} - set(sys.stdlib_module_names)
    assert third_party - {"__main__", "_distutils_hack"} == set()  # setuptools' .pth hook may load in any process


def test_import_rtwidget_does_not_load_the_widget_stack() -> None:
    heavy = {"anywidget", "ipywidgets", "IPython", "websockets", "numpy", "pydantic"}
    assert heavy & _loaded_after("import rtwidget") == set()
    assert {"anywidget", "ipywidgets"} & _loaded_after("import rtwidget\nrtwidget.Session") == set()
    assert {"anywidget", "ipywidgets"} <= _loaded_after("import rtwidget\nrtwidget.RealtimeWidget")


def test_public_names_all_resolve() -> None:
    loaded = _loaded_after("import rtwidget\nfor n in rtwidget.__all__: getattr(rtwidget, n)")
    assert "rtwidget.widget" in loaded


@pytest.mark.parametrize(
    ("folder", "pattern", "limit"),
    [
        ("rtwidget", "*.py", MAX_MODULE_LINES),
        ("rtwidget", "*.js", MAX_MODULE_LINES),
        ("tests", "*.py", MAX_TEST_LINES),
        ("js/test", "*.js", MAX_TEST_LINES),
    ],
)
def test_no_file_outgrows_its_limit(folder: str, pattern: str, limit: int) -> None:
    too_long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / folder).rglob(pattern)
        if "node_modules" not in p.parts and (n := len(p.read_text().splitlines())) > limit
    }
    assert too_long == {}, f"over {limit} lines: split by job"


def test_subpackages_are_attributes_of_rtwidget_imported_on_first_use() -> None:
    loaded = _loaded_after("import rtwidget\nrtwidget.audio.SAMPLE_RATE\nrtwidget.endpoints.Endpoint")
    assert {"rtwidget.audio", "rtwidget.endpoints"} <= loaded and "rtwidget.widget" not in loaded
