"""The notebook tour (``notebooks/*.ipynb``) runs top to bottom offline, against the local server at fast pace.

Every notebook is executed with nbclient in a fresh kernel: no OpenAI or Azure settings in the environment, a
temporary IPYTHONDIR, and ``RTWIDGET_LOCAL_PACE=fast``, so the shared local server that sessions naming no endpoint
talk to releases its audio at once (the notebooks themselves say nothing about pace: a student's kernel gets the
real-time one). A run fails on any error output, and unless the output holds each of the notebook's key strings
from :data:`EXPECTED`.

The quick checks (not slow) read the saved files: no outputs, no execution counts, no widget state, and an
:data:`EXPECTED` entry for every notebook, so a new notebook cannot skip the run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest

from rtwidget.server.local_server import PACE_ENV

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))

# Strings each notebook's outputs must contain (two or three per notebook: the outputs that show its idea).
EXPECTED: dict[str, tuple[str, ...]] = {
    "01-quickstart.ipynb": (
        "'kind': 'local'",
        "You said: Hello! What can you do?",
        "get_weather({'city': 'Paris'})",
        '"temperature": 21',
        "out of band: You said: I love this widget!",
        "conversation items before: 6, after: 6",
    ),
    "02-event-flow.ipynb": (
        "the server said: item_not_found - Item with item_id 'item_does_not_exist' not found.",
        "refused before sending: response.create: response.modalities",
        "WaitTimeout: waited 1 s for a 'response.done' event",
    ),
    "03-function-calling.ipynb": (
        "get_weather({'city': 'Paris'})",
        "[warning] silent-after-output",
        "response.create sent since the output: 0",
        'the model said: get_time returned: {"city": "Tokyo", "time": "21:04"}.',
        "response.create sent: 2 (one for the message, one after both outputs)",
        'output sent: {"declined": true, "reason": "Not without a backup."}',
        "the model said: delete_file returned: deleted old-draft.txt.",
    ),
    "04-turn-detection.ipynb": (
        "nothing: the server heard no speech",
        "doctor: [warning] committed-no-response",
        "turn detection: None",
    ),
    "05-conversation-state.ipynb": (
        "out of band: You said: I am going to Lisbon in May.",
        "error - Only model output audio messages can be truncated",
        "conversation items before: 5, after: 5",
    ),
    "06-barge-in.ipynb": (
        "server's copy: 1.5 s of audio, transcript=None",
        "doctor: [warning] barge-in-no-truncate",
        "conversation.item.truncated:",
    ),
    "07-scripted-servers.ipynb": (
        "RealtimeError: server_error: The scripted server refuses this one.",
        "state after the drop: open",
        "scripted: You said: still here?",
        "'remaining': 0",
    ),
    "08-real-endpoints.ipynb": (
        "beta wire: conversation.item.created, response.created",
        "response.audio_transcript.delta",
        "beta: You said: hello from the beta dialect | session.dialect: beta",
        "close code: 4000",
        "first message: type realtime.session.created",
        "envelope: You said: hello inside the envelope",
    ),
    "09-record-replay-measure.ipynb": (
        "the model answered the spoken question: I heard",
        "billed: False - local server: nothing is billed",
        "tool turn: created",
        "lesson.wav:",
        "the replayed conversation is the recorded one: True",
        "a replay cannot talk: ask(): this session replays the cassette 'lesson.cassette'",
        "the recording answers: You said: Hello! Where should I go in May?",
        "a different question: cassette_mismatch: client event #3",
    ),
}

ENV_UNSET = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_REALTIME_DEPLOYMENT",
    "AZURE_OPENAI_DEPLOYMENT",
    "AZURE_OPENAI_API_VERSION",
    "OPENAI_API_VERSION",
    "RTWIDGET_SERVER_TOKEN",
)


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _output_text(nb: Any) -> str:
    parts: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif out.get("output_type") in ("execute_result", "display_data"):
                parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _errors(nb: Any) -> list[str]:
    found = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                found.append(f"cell {index}: {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr" and "Traceback" in out["text"]:
                found.append(f"cell {index}: a traceback on stderr:\n{out['text']}")
    return found


def test_the_tour_has_notebooks() -> None:
    assert PATHS, f"expected the notebook tour in {NOTEBOOKS}"


@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
def test_every_notebook_has_expected_outputs(path: Path) -> None:
    assert EXPECTED.get(path.name), (
        f"{path.name} has no entry in EXPECTED (tests/test_notebook_tour.py): add two or three strings its "
        "outputs must show"
    )


@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
def test_saved_without_outputs_or_widget_state(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        index
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} were saved with outputs or execution counts: clear them"
    assert "widgets" not in nb.metadata, f"{path.name} was saved with widget state: clear it"
    titles = [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("# ")]
    assert titles and nb.cells[0].cell_type == "markdown", f"{path.name} must open with a title cell"


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
def test_notebook_runs_offline(path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    for name in ENV_UNSET:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv(PACE_ENV, "fast")  # the kernel's shared local server: audio at once
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}, allow_errors=False
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed: {exc}")
    assert not _errors(nb), "\n".join(_errors(nb))
    text = _output_text(nb)
    missing = [s for s in EXPECTED.get(path.name, ()) if s not in text]
    assert not missing, f"{path.name}: outputs lack {missing}; they were:\n{text[-4000:]}"
    assert os.environ.get("OPENAI_API_KEY") is None
