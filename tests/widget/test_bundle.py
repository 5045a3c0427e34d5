"""rtwidget.assets: the joined widget module and the worklet sources are valid JavaScript."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rtwidget.widget import bundle as assets

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def _node(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run([NODE, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_esm_starts_with_the_worklet_sources() -> None:
    first = assets.esm().split("\n", 1)[0]
    assert first.startswith("const WORKLET_SOURCES = {capture: ")
    assert ", playback: " in first
    # The embedded strings are the worklet sources, exactly.
    match = re.fullmatch(r"const WORKLET_SOURCES = \{capture: (.*), playback: (.*)\};", first)
    assert match is not None
    assert json.loads(match.group(1)) == assets.worklet_source("capture")
    assert json.loads(match.group(2)) == assets.worklet_source("playback")


def test_relative_imports_are_stripped_and_nothing_else() -> None:
    for text in (assets.esm(), assets.worklet_source("capture"), assets.worklet_source("playback")):
        assert not re.search(r"^\s*import\s", text, re.MULTILINE)
    source = 'import { a,\n  b } from "./dsp.js";\nimport x from "https://example.org/x.js";\nconst y = 1;\n'
    assert assets.strip_imports(source) == 'import x from "https://example.org/x.js";\nconst y = 1;\n'


def test_esm_and_css_are_cached() -> None:
    assert assets.esm() is assets.esm()
    assert assets.css() is assets.css()


def test_css_uses_prefixed_classes_and_theme_variables() -> None:
    css = assets.css()
    classes = set(re.findall(r"(?<![\w.-])\.([A-Za-z_][\w-]*)", re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)))
    assert classes, "no class selectors found"
    assert all(c.startswith("rtwidget-") for c in classes), sorted(c for c in classes if not c.startswith("rtwidget-"))
    for line in css.splitlines():
        if re.search(r"#[0-9a-fA-F]{3,8}\b|rgba?\(", line):
            assert "var(--jp-" in line, f"colour outside a --jp-* fallback: {line.strip()}"


@needs_node
@pytest.mark.parametrize("name", ["esm", "capture", "playback"])
def test_sources_parse_as_modules(tmp_path: Path, name: str) -> None:
    text = assets.esm() if name == "esm" else assets.worklet_source(name)
    path = tmp_path / f"{name}.mjs"
    path.write_text(text, encoding="utf-8")
    result = _node("--check", str(path))
    assert result.returncode == 0, result.stderr


@needs_node
def test_esm_imports_in_node_and_exports_initialize_and_render(tmp_path: Path) -> None:
    path = tmp_path / "widget.mjs"
    path.write_text(assets.esm(), encoding="utf-8")
    script = (
        "const m = await import(process.argv[1]);"
        "const d = m.default;"
        "if (typeof d.initialize !== 'function' || typeof d.render !== 'function') throw new Error('bad default');"
        "if ('render' in m) throw new Error('a named export called render makes anywidget use the old API');"
        "console.log('ok');"
    )
    result = _node("--input-type=module", "-e", script, str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
