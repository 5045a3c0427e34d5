"""Human approval of tool calls in a real browser (Debian Chromium, real JupyterLab) against the local server: a
call to an ``approve=True`` tool waits with Approve / Reject buttons in the Tools panel; clicking Approve runs it,
clicking Reject (with a reason typed) declines it and the model reads why; the buttons are reachable with the
keyboard, and every text of the widget reads at >= 4.5:1 in both themes while a call waits.
"""

from __future__ import annotations

from typing import Any

import pytest

from .jlab import NotebookPage
from .test_panels_browser import panel
from .test_widget_browser import open_widget, send_text
from .visual import contrast_of, settle

pytestmark = pytest.mark.browser

SETUP = """\
import rtwidget
session = rtwidget.Session()
ran = []

@session.tool(approve=True)
def delete_file(path: str) -> str:
    \"\"\"Delete a file.\"\"\"
    ran.append(path)
    return f"deleted {path}"

widget = rtwidget.RealtimeWidget(session)
widget
"""

OUTPUTS = (
    "[json.loads(e.data['item']['output']) if e.data['item']['output'].startswith('{') else e.data['item']['output']"
    " for e in session.log if e.direction == 'client' and e.type == 'conversation.item.create'"
    " and e.data['item']['type'] == 'function_call_output']"
)


def waiting_call(lab: NotebookPage, count: int) -> str:
    """The call id of the newest call waiting for approval, once ``count`` calls have asked."""
    return str(
        lab.wait_kernel(
            f"len(session.pending_approvals) == 1 and len([e for e in session.log if e.type == "
            f"'rtwidget.tool.approval' and e.data['status'] == 'pending']) == {count}"
            " and session.pending_approvals[0].call_id",
            what=f"call #{count} to wait for approval",
        )
    )


def contrast_failures(lab: NotebookPage, label: str) -> list[dict[str, Any]]:
    settle(lab)
    scan = contrast_of(lab)
    lab.record(**{f"contrast {label}": scan})
    assert scan["checked"] > 30, f"{label}: only {scan['checked']} texts checked"
    return [{"where": label, **f} for f in scan["failures"]]


def test_approve_and_reject_a_call_by_clicking(lab: NotebookPage) -> None:
    open_widget(lab, "approvals.ipynb", SETUP)
    tools = panel(lab, "tools")
    tools.locator("[data-rt=registered-tool][data-name=delete_file]").wait_for(state="visible")
    assert "asks for approval" in tools.locator("[data-rt=registered-tool]").inner_text()

    # Approve: the call waits with its name and arguments, then runs once clicked.
    send_text(lab, "delete_file path=notes.txt")
    call_id = waiting_call(lab, 1)
    approve = lab.page.locator(f"[data-testid=approve-{call_id}]")
    approve.wait_for(state="visible")
    row = tools.locator(f"[data-rt=tool-row][data-call-id='{call_id}']")
    assert row.get_attribute("data-status") == "waiting"
    assert "delete_file" in row.inner_text() and "notes.txt" in row.inner_text()
    assert "Run this call?" in row.locator("[data-rt=tool-approval]").inner_text()
    assert lab.kernel_json("ran") == [], "nothing runs before a person decides"
    failures = []
    for theme in ("JupyterLab Light", "JupyterLab Dark"):
        lab.set_theme(theme)
        short = theme.split()[-1].lower()
        lab.screenshot(f"approval-waiting-{short}", tools)
        failures += contrast_failures(lab, f"waiting, {short}")
    lab.set_theme("JupyterLab Light")
    assert not failures, f"text under 4.5:1: {failures}"
    # Keyboard: the buttons take the focus and Enter presses them (Approve is pressed with the keyboard here).
    approve.focus()
    assert lab.js("() => document.activeElement?.dataset?.testid") == f"approve-{call_id}"
    lab.page.keyboard.press("Enter")
    lab.wait_kernel("ran == ['notes.txt']", what="the approved call to run")
    lab.page.locator(f"[data-rt=tool-row][data-call-id='{call_id}'][data-status=done]").wait_for(state="visible")
    assert "Approved" in row.locator("[data-rt=tool-approval]").inner_text()
    assert not approve.is_visible(), "decided: the buttons are gone"
    lab.wait_kernel(f"{OUTPUTS} == ['deleted notes.txt']", setup="import json", what="the approved output")

    # Reject with a reason: the tool does not run; the model reads that the user declined, and why.
    lab.wait_kernel("not session.response_active", what="the reply to finish")
    send_text(lab, "delete_file path=thesis.tex")
    call_id = waiting_call(lab, 2)
    reject = lab.page.locator(f"[data-testid=reject-{call_id}]")
    reject.wait_for(state="visible")
    row = tools.locator(f"[data-rt=tool-row][data-call-id='{call_id}']")
    row.locator("[data-rt=tool-reason]").fill("keep my thesis")
    lab.screenshot("approval-reason-typed", tools)
    reject.click()
    row.locator("[data-rt=tool-approval][data-approval=rejected]").wait_for(state="visible")
    assert "Rejected by you: keep my thesis" in row.inner_text()
    assert row.get_attribute("data-status") == "declined"
    outputs = lab.wait_kernel(f"len({OUTPUTS}) == 2 and {OUTPUTS}", setup="import json", what="the declined output")
    assert outputs[1] == {"declined": True, "reason": "keep my thesis"}
    assert lab.kernel_json("ran") == ["notes.txt"]
    reply = lab.wait_kernel(
        "[i.text for i in session.conversation if i.role == 'assistant' and i.status == 'completed'"
        " and 'declined' in (i.text or '')]",
        what="the model to read the declined output",
    )
    assert "keep my thesis" in reply[0]
    lab.screenshot("approval-decided", tools)
    assert lab.kernel_json("[p.call_id for p in session.pending_approvals]") == []


RAW_SETUP = """\
import rtwidget
session = rtwidget.Session()
widget = rtwidget.RealtimeWidget(session)
widget
"""
RAW_TOOL = (
    "session.send({'type': 'session.update', 'session': {'type': 'realtime', 'tools': [{'type': 'function', "
    "'name': 'lookup_order', 'description': 'An order.', 'parameters': {'type': 'object', 'properties': {}}}]}})"
)


def test_a_call_of_a_raw_declared_tool_shows_as_yours_until_answered(lab: NotebookPage) -> None:
    open_widget(lab, "raw-tool.ipynb", RAW_SETUP)
    lab.kernel_exec(RAW_TOOL)
    lab.wait_kernel("[t['name'] for t in session.config.get('tools', [])] == ['lookup_order']", what="the raw tool")
    send_text(lab, "lookup_order order=7")
    tools = panel(lab, "tools")
    row = tools.locator("[data-rt=tool-row][data-status=yours]")
    row.wait_for(state="visible")
    assert "yours: answer it with a function_call_output" in row.inner_text()
    call_id = row.get_attribute("data-call-id")
    lab.screenshot("raw-call-yours", tools)
    lab.kernel_exec(
        "session.send({'type': 'conversation.item.create', 'item': {'type': 'function_call_output', "
        f"'call_id': {call_id!r}, 'output': 'shipped'}}}})"
    )
    answered = tools.locator(f"[data-rt=tool-row][data-call-id='{call_id}'][data-status=answered]")
    answered.wait_for(state="visible")
    assert "answered by you" in answered.inner_text() and "shipped" in answered.inner_text()
    lab.screenshot("raw-call-answered", tools)
    creates = "[e for e in session.log if e.direction == 'client' and e.type == 'response.create']"
    assert lab.kernel_json(f"len({creates})") == 1, "rtwidget sent no follow-up of its own"
