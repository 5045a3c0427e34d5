"""The widget's layout and controls in a real browser (issue 9, "Layout and controls").

- One primary control that says its action ("Start talking" -> "Stop" -> "Start talking"), the level meters
  labelled "you" and "model", the status line in plain words.
- No sideways scroll or clipped element at 600/1000/1400/1600 px of notebook width and at 800 px with the file
  browser open; screenshots at 600/1000/1400 px in the light and dark themes.
- Hiding panels gives their space to the others; the event log fills its panel's height.
- The no-key notice is a calm info line inside the widget, and nothing (not it, not a server error) prints a stderr
  block under the widget's cell.
- Text typed while disconnected stays in the box, and Send connects first, then sends it; Clear conversation; New
  session.
"""

from __future__ import annotations

from typing import Any

import pytest

from .jlab import NotebookPage
from .test_widget_browser import SETUP, open_widget, send_text, wait_reply
from .visual import clipping_of, clipping_problems, set_notebook_width, set_viewport_width, settle, sidebars

pytestmark = pytest.mark.browser

HEIGHT = 1000
# Tall enough that the whole widget (stacked at 600 px) is in the screenshots.
SHOT_HEIGHT = 2200
THEMES = ("JupyterLab Light", "JupyterLab Dark")
SHOT_WIDTHS = (600, 1000, 1400)
CHECK_WIDTHS = (600, 1000, 1400, 1600)

# The first widget's panels: visible or not, and their boxes.
PANELS_JS = """
() => {
    const out = {};
    for (const name of ['conversation', 'log', 'tools', 'session']) {
        const s = document.querySelector(`[data-rt=panel-${name}]`);
        const b = s.getBoundingClientRect();
        out[name] = {hidden: s.hidden, width: b.width, height: b.height, top: b.top, left: b.left};
    }
    const log = document.querySelector('[data-rt=panel-log] .rtwidget-log');
    const body = document.querySelector('[data-rt=panel-log] .rtwidget-panel-body');
    out.logFill = {log: log.getBoundingClientRect().height, body: body.getBoundingClientRect().height};
    out.row = document.querySelector('.rtwidget-row-main').getBoundingClientRect().width;
    return out;
}
"""


def text_of(nb: NotebookPage, rt: str) -> str:
    return str(nb.page.locator(f"[data-rt={rt}]").first.inner_text())


def stderr_outputs(nb: NotebookPage, cell: int) -> list[dict[str, Any]]:
    return [o for o in nb.cell_outputs(cell) if o.get("output_type") == "stream" and o.get("name") == "stderr"]


def panels(nb: NotebookPage) -> dict[str, Any]:
    settle(nb)
    return dict(nb.js(PANELS_JS))


def toggle(nb: NotebookPage, name: str) -> None:
    nb.page.locator(f"[data-rt=tab-{name}]").first.click()


# ================================================================================ controls, notices, widths


def test_controls_notices_and_no_clipping_at_any_width(lab: NotebookPage) -> None:
    root = open_widget(lab, "layout.ipynb")
    # The status line in plain words, "connected" once.
    status = text_of(lab, "status")
    assert status.startswith("Connected to the local server (offline stand-in)"), status
    assert status.lower().count("connected") == 1, status
    # The no-key notice: a calm info line inside the widget, and no stderr block under the cell.
    info = lab.page.locator("[data-rt=notice] .rtwidget-notice-info").first
    info.wait_for(state="visible")
    assert info.inner_text().startswith("No API key found: talking to rtwidget's local server (offline stand-in)")
    assert stderr_outputs(lab, 0) == []

    # A server error is a notice in the widget too, not a stderr block under the widget's cell.
    lab.kernel_exec("session.send({'type': 'conversation.item.delete', 'item_id': 'no_such_item'})")
    error = lab.page.locator("[data-rt=notice] .rtwidget-notice-error").first
    error.wait_for(state="visible")
    assert "no_such_item" in error.inner_text()
    send_text(lab, "hello there")  # content for the panels in the screenshots
    wait_reply(lab)
    assert stderr_outputs(lab, 0) == []

    # The meters, labelled.
    for label, rt in (("you", "mic-meter"), ("model", "out-meter")):
        group = lab.page.locator(f".rtwidget-level:has([data-rt={rt}])").first
        assert group.is_visible() and group.inner_text().strip() == label

    # The primary control says its action, and is styled as the one primary control.
    mic = lab.page.locator("[data-rt=mic]").first
    assert mic.inner_text() == "Start talking"
    look = mic.evaluate(
        "(b) => { const s = getComputedStyle(b); return {bg: s.backgroundColor, fg: s.color, h: b.offsetHeight,"
        " other: document.querySelector('[data-rt=send]').offsetHeight}; }"
    )
    assert look["fg"] == "rgb(255, 255, 255)" and look["h"] > look["other"], look
    mic.click()
    lab.wait_js("() => document.querySelector('[data-rt=mic]').textContent === 'Stop'", what="the label Stop")
    lab.wait_kernel("widget.bridge.counters['audio_in_ms'] > 0", what="microphone audio in the kernel")
    mic.click()
    lab.wait_js("() => document.querySelector('[data-rt=mic]').textContent === 'Start talking'", what="Start again")

    problems: dict[str, list[str]] = {}
    for theme in THEMES:
        lab.set_theme(theme)
        sidebars(lab, file_browser=False)
        for width in CHECK_WIDTHS:
            set_notebook_width(lab, width, SHOT_HEIGHT)
            settle(lab)
            clip = clipping_of(lab)
            lab.record(**{f"{theme}/{width}": clip})
            problems[f"{theme} {width}px"] = clipping_problems(clip)
            if width in SHOT_WIDTHS:
                root.scroll_into_view_if_needed()
                lab.screenshot(f"widget-{theme.split()[-1].lower()}-{width}", root)
        sidebars(lab, file_browser=True)
        set_viewport_width(lab, 800, SHOT_HEIGHT)
        settle(lab)
        clip = clipping_of(lab)
        problems[f"{theme} 800px window, file browser open"] = clipping_problems(clip)
        root.scroll_into_view_if_needed()
        lab.screenshot(f"widget-{theme.split()[-1].lower()}-800-filebrowser", root)
    bad = {k: v for k, v in problems.items() if v}
    assert not bad, bad


# ================================================================================ panels share the space


def test_hidden_panels_give_their_space_and_the_log_fills_its_panel(lab: NotebookPage) -> None:
    open_widget(lab, "panels-space.ipynb")
    sidebars(lab, file_browser=False)
    set_notebook_width(lab, 1400, HEIGHT)
    both = panels(lab)
    lab.record(both=both)
    conv, log = both["conversation"], both["log"]
    # Wide: the conversation (the main area: first, and it takes most of the extra width) and the log side by
    # side, tools and session below.
    assert abs(conv["top"] - log["top"]) < 2 and conv["left"] < log["left"], both
    assert conv["width"] >= log["width"] - 20 and log["width"] >= 540, both
    assert both["tools"]["top"] > conv["top"] + conv["height"] - 2, both
    # The log fills the height its panel's body gives it.
    assert abs(both["logFill"]["log"] - both["logFill"]["body"]) <= 2, both["logFill"]

    toggle(lab, "conversation")
    alone = panels(lab)
    assert alone["conversation"]["hidden"] and alone["log"]["width"] >= alone["row"] - 2, alone
    assert abs(alone["logFill"]["log"] - alone["logFill"]["body"]) <= 2, alone["logFill"]
    toggle(lab, "conversation")
    toggle(lab, "log")
    conv_alone = panels(lab)
    assert conv_alone["conversation"]["width"] >= conv_alone["row"] - 2, conv_alone
    toggle(lab, "log")
    toggle(lab, "tools")
    session_alone = panels(lab)
    assert session_alone["session"]["width"] > both["session"]["width"] + 100, (both, session_alone)
    toggle(lab, "session")
    none_below = panels(lab)
    assert lab.js("() => document.querySelector('.rtwidget-row-aux').hidden") is True
    assert none_below["session"]["height"] == 0 and none_below["tools"]["height"] == 0
    lab.record(alone=alone, conv_alone=conv_alone, session_alone=session_alone)

    # Narrow: stacked, each of the two still wide and tall.
    toggle(lab, "tools")
    set_notebook_width(lab, 600, HEIGHT)
    narrow = panels(lab)
    lab.record(narrow=narrow)
    assert narrow["log"]["top"] >= narrow["conversation"]["top"] + narrow["conversation"]["height"] - 2, narrow
    assert abs(narrow["log"]["width"] - narrow["conversation"]["width"]) < 2
    assert abs(narrow["logFill"]["log"] - narrow["logFill"]["body"]) <= 2, narrow["logFill"]


# ================================================================================ actions


CONVERSATION = "[(i.role, i.text) for i in session.conversation]"
# Click Send (not connected), return the box's value right after; record [status line, box value] at each change
# of the status line in window.__rtBoxWhile.
SEND_AND_WATCH_JS = """
() => {
    const status = document.querySelector('[data-rt=status]');
    const box = document.querySelector('[data-rt=text]');
    window.__rtBoxWhile = [];
    new MutationObserver(() => window.__rtBoxWhile.push([status.textContent, box.value]))
        .observe(status, {childList: true, characterData: true, subtree: true});
    document.querySelector('[data-rt=send]').click();
    return box.value;
}
"""
ITEMS_SHOWN = "() => document.querySelectorAll('[data-rt=panel-conversation] .rtwidget-item').length"


def test_text_while_disconnected_then_clear_and_new_session(lab: NotebookPage) -> None:
    open_widget(lab, "actions.ipynb", SETUP)
    lab.page.locator("[data-rt=disconnect]").first.click()
    lab.wait_kernel("widget.status == 'closed' and not session.connected", what="disconnected")
    box = lab.page.locator("[data-rt=text]").first
    box.fill("typed while disconnected")
    # Send, and watch the box while the status line changes (the local server connects fast).
    kept = lab.js(SEND_AND_WATCH_JS)
    assert kept == "typed while disconnected", kept  # kept: not sent yet
    lab.wait_kernel("widget.status == 'connected'", what="Send to connect first")
    seen = lab.js("() => window.__rtBoxWhile")
    lab.record(box_while_status=seen)
    connecting = [value for status, value in seen if status.startswith("Connecting")]
    assert connecting and all(v == "typed while disconnected" for v in connecting), seen
    reply = wait_reply(lab)
    assert reply["status"] == "completed"
    assert lab.kernel_json(CONVERSATION)[0] == ["user", "typed while disconnected"]
    lab.wait_js("() => document.querySelector('[data-rt=text]').value === ''", what="the box to empty once sent")
    lab.wait_js(f"() => ({ITEMS_SHOWN})() >= 2", what="the turn in the Conversation panel")
    lab.screenshot("after-text-while-disconnected")

    lab.page.locator("[data-rt=clear]").first.click()
    lab.wait_kernel("not session.conversation", what="the conversation deleted on the server")
    lab.wait_js(f"() => ({ITEMS_SHOWN})() === 0", what="the Conversation panel to empty")
    deleted = [e for e in lab.session_log(types=["conversation.item.deleted"]) if e["direction"] == "server"]
    assert len(deleted) >= 2

    send_text(lab, "one more")
    wait_reply(lab)
    lab.wait_js(f"() => ({ITEMS_SHOWN})() >= 2", what="the new turn shown")
    first = lab.kernel_json("[e.data['session']['id'] for e in session.log if e.type == 'session.created']")
    lab.page.locator("[data-rt=new-session]").first.click()
    ids = lab.wait_kernel(
        f"(lambda ids: len(ids) == {len(first) + 1} and widget.status == 'connected' and ids)"
        "([e.data['session']['id'] for e in session.log if e.type == 'session.created'])",
        what="a fresh server session",
    )
    assert ids[:-1] == first and ids[-1] not in first
    lab.wait_js(f"() => ({ITEMS_SHOWN})() === 0", what="the panels to clear for the new session")
    assert lab.kernel_json(CONVERSATION) == []
    assert stderr_outputs(lab, 0) == []
