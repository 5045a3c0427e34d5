"""The doctor in a real browser (Debian Chromium, JupyterLab) against the local server: a notebook makes the
silent-model mistake with raw ``session.send(...)`` (turn detection off, a tool declared by a raw
``session.update``, the model made to call it, the ``function_call_output`` sent by hand and no
``response.create``), and the widget shows the doctor's hint as a row of the event log (selecting it marks the
output's row), as a notice, and as a mark on the client lane of the flow view. Screenshots go to
``tests/browser/artifacts/<test>/``.
"""

from __future__ import annotations

from typing import Any

import pytest

from .jlab import NotebookPage
from .test_widget_browser import open_widget

pytestmark = pytest.mark.browser

SETUP = """\
import json
import rtwidget
session = rtwidget.Session(turn_detection=None)
widget = rtwidget.RealtimeWidget(session)
widget
"""
# The mistake, as people make it from a cell: every event raw, the output by hand, and then nothing.
MISTAKE = """\
session.send({"type": "session.update", "session": {"type": "realtime", "tools": [{
    "type": "function", "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}]}})
done = session.expect("response.done")
session.send({"type": "conversation.item.create", "item": {
    "type": "message", "role": "user", "content": [{"type": "input_text", "text": "get_weather city=Paris"}]}})
session.send({"type": "response.create"})
call = next(o for o in (await done)["response"]["output"] if o["type"] == "function_call")
output_id = session.send({"type": "conversation.item.create", "item": {
    "type": "function_call_output", "call_id": call["call_id"], "output": json.dumps({"temp_c": 21})}})
# (no response.create: the model stays silent)
"""

# The event log's drawn rows: type, summary, classes, event id (from the row's data).
LOG_ROWS_JS = """
() => Array.from(document.querySelectorAll('[data-rt=log-row]')).map((el) => ({
    id: Number(el.dataset.id), type: el.children[2].textContent, text: el.children[5].textContent,
    title: el.children[5].title, cls: el.className,
}))
"""


def hint_row(nb: NotebookPage) -> dict[str, Any]:
    rows = nb.wait_js(
        "() => { const r = (" + LOG_ROWS_JS + ")().filter((r) => r.type === 'rtwidget.hint'); return r.length && r; }",
        what="the hint's row in the event log",
    )
    return dict(rows[0])


def test_the_silent_model_mistake_shows_the_doctors_hint(lab: NotebookPage) -> None:
    root = open_widget(lab, "doctor.ipynb", SETUP, extra_cells=(MISTAKE,))
    lab.run_cell(1)
    rules = lab.wait_kernel(
        "[h.rule for h in session.hints if h.rule == 'silent-after-output']", what="the doctor's hint in the kernel"
    )
    assert rules == ["silent-after-output"]
    hint = lab.kernel_json("session.hints[-1].to_dict()")
    assert hint["event_ids"] == [lab.kernel_json("output_id")], "the hint is about the output sent by hand"
    assert "stay silent" in hint["what"] and "response.create" in hint["fix"]

    # The notice: the doctor, the rule, what happened and what to do, at the hint's level.
    notice = lab.page.locator(f"[data-rt=notice] .rtwidget-notice-{hint['level']}").filter(has_text="Doctor").first
    notice.wait_for(state="visible")
    said = notice.inner_text()
    assert "Doctor (silent-after-output)" in said and hint["what"] in said and hint["fix"] in said, said

    # The row: where it happened (after the output's row), reading as a hint, its fix and docs path as its tooltip.
    row = hint_row(lab)
    assert row["text"] == hint["what"]
    assert "rtwidget-log-hint" in row["cls"] and f"rtwidget-log-hint-{hint['level']}" in row["cls"]
    assert f"Fix: {hint['fix']}" in row["title"] and "docs/doctor.md#silent-after-output" in row["title"]
    assert not lab.js("() => !!document.querySelector('.rtwidget-root a[href*=\"doctor.md\"]')"), "no broken link"
    log_types = [t for _d, t in lab.kernel_json("[(e.direction, e.type) for e in list(session.log)]")]
    assert log_types.index("rtwidget.hint") > max(
        i for i, t in enumerate(log_types) if t == "conversation.item.create"
    ), "the hint follows the output it is about"

    # Selecting the hint shows its JSON (fix, url) and marks the output's row.
    lab.page.locator(f"[data-rt=log-row][data-id='{row['id']}']").first.click()
    detail = lab.wait_js(
        "() => { const d = document.querySelector('[data-rt=log-detail]');"
        " return d && d.textContent.includes('docs/doctor.md') && d.textContent; }",
        what="the hint's JSON in the detail pane",
    )
    assert '"fix"' in detail and '"url": "docs/doctor.md#silent-after-output"' in detail
    marked = lab.wait_js(
        "() => { const m = Array.from(document.querySelectorAll('[data-rt=log-row].rtwidget-log-marked'));"
        " return m.length && m.map((el) => el.children[2].textContent); }",
        what="the output's row marked",
    )
    assert marked == ["conversation.item.create"]
    lab.screenshot("hint-notice", lab.page.locator("[data-rt=notice]").first)
    lab.screenshot("hint-row-marked-output", lab.page.locator("[data-rt=panel-log]").first)

    # The flow view: a mark of the hint's level on the client lane.
    lab.page.locator("[data-rt=log-mode-flow]").first.click()
    mark = lab.page.locator("[data-rt=ladder-row][data-type='rtwidget.hint']").first
    mark.wait_for(state="visible")
    assert f"rtwidget-ladder-hint-{hint['level']}" in (mark.get_attribute("class") or "")
    assert mark.locator(".rtwidget-ladder-mark").count() == 1
    lab.screenshot("hint-in-flow", root)
