"""The README's promise: a new user opens the quickstart notebook, runs it, talks to the local server and hears
it answer. This runs the very notebook the README opens, cell by cell in JupyterLab, then uses its widget."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .jlab import NotebookPage
from .test_widget_browser import SAMPLES_PER_MS, send_text, wait_played, wait_reply

pytestmark = pytest.mark.browser

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "01-quickstart.ipynb"


def test_quickstart_notebook_talks_and_is_heard(lab: NotebookPage) -> None:
    shutil.copy(QUICKSTART, lab.server.root_dir / "quickstart.ipynb")
    lab.open("quickstart.ipynb")
    cells = json.loads(QUICKSTART.read_text())["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            lab.run_cell(index)  # raises with the traceback if a cell fails
    lab.page.locator("[data-rt=status]").first.wait_for(state="visible")
    lab.wait_kernel(
        "session.connected and rtwidget.RealtimeWidget(session).status == 'connected'", what="the session to connect"
    )
    before = int(lab.kernel_json("len([i for i in session.conversation if i.role == 'assistant'])"))
    send_text(lab, "Hello from the quickstart")
    reply = wait_reply(lab, after=before)
    assert "Hello from the quickstart" in reply["text"]
    heard = wait_played(lab, reply["id"], int(reply["audio_ms"] * SAMPLES_PER_MS) - SAMPLES_PER_MS)
    assert heard >= reply["audio_ms"] * SAMPLES_PER_MS - SAMPLES_PER_MS
    lab.record(reply_audio_ms=reply["audio_ms"], played_samples=heard)
