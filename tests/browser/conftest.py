"""Fixtures for the real-browser tests: Debian Chromium driven by Playwright, JupyterLab 4 / Notebook 7 servers.

Every test in this directory is marked `browser`. Without /usr/bin/chromium, Playwright, JupyterLab or
Notebook 7 the tests skip with the reason, except in CI (`CI=true`), where they fail: a broken install must not
pass silently. Screenshots and the browser console of each test go to `tests/browser/artifacts/<test>/`
(or `$RTWIDGET_BROWSER_ARTIFACTS/<test>/`).

One JupyterLab server and one browser serve the whole session; each test gets a fresh browser context and page,
and its kernels are shut down when it ends.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .jlab import CHROMIUM, CHROMIUM_ARGS, JupyterServer, NotebookPage, fake_mic_args, make_speech_wav

HERE = Path(__file__).parent
# What the fake microphone says, between 1.5 s of silence on each side; the file loops.
SPEECH_TEXT = "what is the weather in Paris"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing_prerequisites() -> list[str]:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    for module, package in (("playwright", "playwright"), ("jupyterlab", "jupyterlab"), ("notebook", "notebook")):
        if importlib.util.find_spec(module) is None:
            missing.append(f"the Python package {package}")
    if not shutil.which("espeak-ng") and importlib.util.find_spec("espeakng_loader") is None:
        missing.append("espeak-ng (apt-get install espeak-ng) or the espeakng-loader package")
    return missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = missing_prerequisites()
    for item in items:
        if HERE not in item.path.parents:
            continue
        item.add_marker(pytest.mark.browser)
        if missing and not in_ci():
            item.add_marker(pytest.mark.skip(reason="browser test needs " + ", ".join(missing)))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# ============================================ per test module (Playwright's sync API keeps an event loop running
# in the main thread while it is started: tests after the browser ones must not see it, so it stops per module)


@pytest.fixture(scope="module")
def artifacts_root() -> Path:
    root = Path(os.environ.get("RTWIDGET_BROWSER_ARTIFACTS") or HERE / "artifacts")
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16-bit mono 48 kHz WAV: 1.5 s silence, SPEECH_TEXT spoken by espeak-ng, 1.5 s silence."""
    return make_speech_wav(tmp_path_factory.mktemp("audio") / "speech.wav", SPEECH_TEXT)


@pytest.fixture(scope="module")
def browser(speech_wav: Path) -> Iterator[Any]:
    """Headless Debian Chromium with the fake microphone playing `speech_wav` in a loop."""
    missing = missing_prerequisites()
    if missing:
        # Only reached in CI (elsewhere the tests were skipped at collection).
        pytest.fail("browser tests cannot run in CI without " + ", ".join(missing), pytrace=False)
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *fake_mic_args(speech_wav)]
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        pw.stop()


def _serve(
    tmp_path_factory: pytest.TempPathFactory, name: str, kind: str, settings: Any = None
) -> Iterator[JupyterServer]:
    server = JupyterServer(tmp_path_factory.mktemp(name), kind, settings).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[JupyterServer]:
    """One JupyterLab 4 server per test module (default settings: widget comms on kernel subshells)."""
    yield from _serve(tmp_path_factory, "jupyterlab", "lab")


@pytest.fixture(scope="module")
def lab_server_main_thread_comms(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[JupyterServer]:
    """JupyterLab with `commsOverSubshells: disabled`: widget comm handlers run on the kernel's main thread (as in
    front ends without subshells). Started only when a test asks for it."""
    settings = {"@jupyterlab/apputils-extension:kernels-settings": {"commsOverSubshells": "disabled"}}
    yield from _serve(tmp_path_factory, "jupyterlab-main-thread", "lab", settings)


@pytest.fixture(scope="module")
def notebook_server(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[JupyterServer]:
    """One Notebook 7 server per test module, started only when a test asks for it."""
    yield from _serve(tmp_path_factory, "notebook7", "notebook")


# ================================================================================ per test


def _test_dir_name(item: pytest.Item) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name)[:120]


def _page(request: pytest.FixtureRequest, browser: Any, server: JupyterServer, artifacts: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    test_dir = artifacts / _test_dir_name(request.node)
    shutil.rmtree(test_dir, ignore_errors=True)  # only this run's screenshots
    nb = NotebookPage(page, server, test_dir)
    try:
        yield nb
    finally:
        failed = any(getattr(getattr(request.node, f"rep_{w}", None), "failed", False) for w in ("setup", "call"))
        try:
            if failed:
                nb.screenshot("failure")
            nb.save_console()
        finally:
            context.close()
            server.shutdown_sessions()


@pytest.fixture
def lab(request: pytest.FixtureRequest, browser: Any, lab_server: JupyterServer, artifacts_root: Path) -> Iterator[Any]:
    """A fresh page on the session's JupyterLab; open a notebook with `lab.open(name, cells)`."""
    yield from _page(request, browser, lab_server, artifacts_root)


@pytest.fixture
def lab_main_thread_comms(
    request: pytest.FixtureRequest, browser: Any, lab_server_main_thread_comms: JupyterServer, artifacts_root: Path
) -> Iterator[Any]:
    """A fresh page on the JupyterLab whose widget comms run on the kernel's main thread."""
    yield from _page(request, browser, lab_server_main_thread_comms, artifacts_root)


@pytest.fixture
def nb7(
    request: pytest.FixtureRequest, browser: Any, notebook_server: JupyterServer, artifacts_root: Path
) -> Iterator[Any]:
    """A fresh page on the session's Notebook 7 server."""
    yield from _page(request, browser, notebook_server, artifacts_root)
