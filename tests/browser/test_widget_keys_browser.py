"""Keys inside the widget, and re-run cells, in a real browser (issue 9, bugs 3 and 5).

- While the widget has focus, JupyterLab's and Notebook 7's command-mode shortcuts ("dd", "b", "m") leave the
  notebook alone (rtwidget/widget/static/keys.js), the space bar still holds push-to-talk, and outside the widget
  the same keys still act (so the check can fail).
- Re-running the cell that creates a session closes the session of its earlier run; another cell's session stays.
"""

from __future__ import annotations

from typing import Any

import pytest

from .jlab import NotebookPage
from .test_widget_browser import STATS_JS, open_widget, set_turn_mode, stats

pytestmark = pytest.mark.browser

# The open notebook's cells: (id, type), and its mode.
CELLS_JS = """
(path) => {
    const nb = window.__rtFindPanel(path).content;
    return {cells: nb.widgets.map((c) => [c.model.id, c.model.type]), mode: nb.mode};
}
"""

# Whether the focused element is inside a widget view.
FOCUS_IN_WIDGET_JS = "() => !!(document.activeElement && document.activeElement.closest('.rtwidget-root'))"


def notebook_state(nb: NotebookPage) -> dict[str, Any]:
    return dict(nb.js(CELLS_JS, nb.path))


def focus_widget_panel(nb: NotebookPage) -> None:
    """Click a panel title of the widget (not a text field): the widget's root takes the focus."""
    nb.page.locator("[data-rt=panel-log] .rtwidget-panel-title").first.click()
    assert nb.js(FOCUS_IN_WIDGET_JS), "the click did not put the focus inside the widget"


def press_command_keys(nb: NotebookPage) -> dict[str, Any]:
    """Press "d", "d", "b", "m" with the widget focused; returns the notebook's state before them."""
    focus_widget_panel(nb)
    before = notebook_state(nb)
    # Command mode, or the keys could not act whatever the widget does.
    assert before["mode"] == "command", before
    for key in ("d", "d", "b", "m"):
        nb.page.keyboard.press(key)
    return before


def keys_act_outside_the_widget(nb: NotebookPage, before: dict[str, Any]) -> None:
    """The control: with a cell (not the widget) focused in command mode, "b" does insert a cell."""
    nb.js(
        """(path) => {
            const nb = window.__rtFindPanel(path).content;
            nb.mode = 'command';
            nb.activeCell.node.focus();
        }""",
        nb.path,
    )
    assert not nb.js(FOCUS_IN_WIDGET_JS)
    nb.page.keyboard.press("b")
    nb.wait_js(
        f"(path) => ({CELLS_JS})(path).cells.length === {len(before['cells']) + 1}",
        nb.path,
        what='"b" outside the widget to insert a cell',
    )


def test_command_keys_leave_the_notebook_alone_and_space_still_talks(lab: NotebookPage) -> None:
    root = open_widget(lab, "keys.ipynb", extra_cells=("x = 1",))
    set_turn_mode(lab, "push_to_talk")
    before = press_command_keys(lab)
    after = notebook_state(lab)
    lab.record(before=before, after=after)
    assert after["cells"] == before["cells"]  # none deleted ("dd") or inserted ("b"), none made Markdown ("m")
    assert lab.kernel_json("session.connected") is True

    # The space bar, held with the widget focused, is push-to-talk (turn detection off).
    focus_widget_panel(lab)
    chunks0 = stats(lab)["micChunks"]
    lab.page.keyboard.down("Space")
    try:
        chunk_ms = lab.kernel_json("widget.mic_chunk_ms")
        lab.wait_js(f"() => ({STATS_JS})().micChunks >= {chunks0 + 1000 // chunk_ms}", what="mic audio sent")
    finally:
        lab.page.keyboard.up("Space")
    lab.wait_kernel(
        "[e for e in list(session.log) if e.direction == 'server' and e.type == 'input_audio_buffer.committed']",
        what="the push-to-talk turn to be committed",
    )
    assert notebook_state(lab)["cells"] == before["cells"]
    lab.screenshot("widget-after-keys", root)
    keys_act_outside_the_widget(lab, before)


def test_command_keys_leave_the_notebook_alone_in_notebook_7(nb7: NotebookPage) -> None:
    # Notebook 7 handles keys while they go down the page (capture), before any listener of the widget.
    open_widget(nb7, "keys7.ipynb", extra_cells=("x = 1",))
    before = press_command_keys(nb7)
    after = notebook_state(nb7)
    nb7.record(before=before, after=after)
    assert after["cells"] == before["cells"]
    keys_act_outside_the_widget(nb7, before)


CREATE = """\
import rtwidget
session = rtwidget.Session()
session
"""
OTHER = """\
other = rtwidget.Session()
other
"""

# The sessions alive in the kernel that are connected.
CONNECTED = "sum(1 for o in __import__('gc').get_objects() if isinstance(o, rtwidget.Session) and o.connected)"


def test_rerunning_the_creating_cell_leaves_one_session(lab: NotebookPage) -> None:
    lab.open("rerun.ipynb", [CREATE, OTHER])
    lab.run_cell(0)
    lab.wait_kernel("session.state == 'open'", what="the first session to open")
    lab.run_cell(1)
    lab.wait_kernel("other.state == 'open'", what="the other cell's session to open")
    lab.kernel_exec("first = session")  # no cellId: creates nothing, keeps a handle
    lab.run_cell(0)
    lab.wait_kernel("session is not first and session.state == 'open'", what="the re-run's session to open")
    states = lab.kernel_json(
        "{'first': first.state, 'other': other.state, 'connected': " + CONNECTED + ", 'message': "
        "__import__('rtwidget.widget.realtime_widget').widget.realtime_widget._WIDGETS[first].status_message}"
    )
    lab.record(states=states)
    assert states["first"] == "closed" and states["other"] == "open"
    assert states["connected"] == 2  # the re-run's session and the other cell's
    assert "replaced" in states["message"]
    lab.page.locator("[data-rt=status]").first.wait_for(state="visible")
    lab.screenshot("after-rerun")
