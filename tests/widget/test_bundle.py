"""rtwidget.widget.bundle: the joined widget module and the worklet sources are valid JavaScript, and the join
order is read from the files' imports."""

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


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def imports(*names: str) -> str:
    return "".join(f'import {{ {Path(n).stem} }} from "./{n}";\n' for n in names)


def test_module_order_follows_the_imports(tmp_path: Path) -> None:
    static = write(
        tmp_path,
        {
            "widget.js": imports("view.js", "audio.js") + "export default {};\n",
            "view.js": imports("format.js") + "export const view = 1;\n",
            "audio.js": imports("dsp.js", "format.js") + "export const audio = 1;\n",
            "format.js": "export const format = 1;\n",
            "dsp.js": "export const dsp = 1;\n",
            "unused.js": "export const unused = 1;\n",  # imported by nobody: not joined
            "capture-worklet.js": imports("dsp.js") + "registerProcessor('c', class {});\n",
        },
    )
    assert assets.module_order("widget.js", static) == ["format.js", "view.js", "dsp.js", "audio.js", "widget.js"]
    assert assets.relative_imports((static / "audio.js").read_text()) == ["dsp.js", "format.js"]
    assert assets.worklets(static) == {"capture": "capture-worklet.js"}
    assert assets.worklet_source("capture", static) == (
        "// --- dsp.js ---\nexport const dsp = 1;\n\n// --- capture-worklet.js ---\nregisterProcessor('c', class {});\n"
    )
    esm = assets.esm(static)
    assert esm.startswith("const WORKLET_SOURCES = {capture: ")
    bodies = [line for line in esm.splitlines() if line.startswith("// --- ")]
    assert bodies == [f"// --- {n} ---" for n in ("format.js", "view.js", "dsp.js", "audio.js", "widget.js")]
    assert "import" not in esm and "unused" not in esm


def test_an_import_cycle_is_named(tmp_path: Path) -> None:
    static = write(
        tmp_path,
        {
            "widget.js": imports("a.js"),
            "a.js": imports("b.js"),
            "b.js": imports("c.js"),
            "c.js": imports("a.js"),
        },
    )
    with pytest.raises(RuntimeError, match=r"import cycle in .*: a\.js -> b\.js -> c\.js -> a\.js$"):
        assets.module_order("widget.js", static)
    write(tmp_path, {"self.js": imports("self.js")})
    with pytest.raises(RuntimeError, match=r"import cycle in .*: self\.js -> self\.js$"):
        assets.module_order("self.js", static)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    static = write(tmp_path, {"widget.js": imports("here.js"), "here.js": imports("gone.js")})
    with pytest.raises(RuntimeError, match=r"^here\.js imports gone\.js, which is not a file in "):
        assets.module_order("widget.js", static)
    with pytest.raises(RuntimeError, match=r"^nothing\.js is not a file in "):
        assets.module_order("nothing.js", static)


def test_a_worklet_is_never_joined_into_the_widget_module(tmp_path: Path) -> None:
    static = write(
        tmp_path, {"widget.js": imports("play-worklet.js"), "play-worklet.js": "registerProcessor('p', class {});\n"}
    )
    with pytest.raises(RuntimeError, match=r"^play-worklet\.js imported by the widget module"):
        assets.esm(static)


def test_the_shipped_files_join_in_an_order_their_imports_allow() -> None:
    order = assets.module_order(assets.ENTRY)
    assert order[-1] == "widget.js"
    for position, name in enumerate(order):
        imported = assets.relative_imports((assets.STATIC_DIR / name).read_text(encoding="utf-8"))
        assert set(imported) <= set(order[:position]), f"{name} is joined before what it imports"
    assert set(assets.worklets()) == {"capture", "playback"}


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
            if line.strip().startswith("--rtwidget-fam-"):
                continue  # the event families' colours: a light and a dark value each (families.css)
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
        # anywidget calls a default function (a factory) and uses what it returns, else the default object.
        "const d = typeof m.default === 'function' ? await m.default() : m.default;"
        "if (typeof d.initialize !== 'function' || typeof d.render !== 'function') throw new Error('bad default');"
        "if ('render' in m) throw new Error('a named export called render makes anywidget use the old API');"
        "console.log('ok');"
    )
    result = _node("--input-type=module", "-e", script, str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_every_stylesheet_is_joined_once() -> None:
    on_disk = {p.name for p in assets.STATIC_DIR.glob("*.css")}
    assert sorted(assets.CSS_FILES) == sorted(on_disk), "add a new .css file to bundle.CSS_FILES (cascade order)"
    for name in assets.CSS_FILES:
        assert (assets.STATIC_DIR / name).read_text(encoding="utf-8") in assets.css()
