"""Tool approval in the widget (over the comm double, against the local server): a waiting call's view, the
browser's Approve / Reject messages, session.approve from a cell updating the panel, and a bad call id's notice."""

from __future__ import annotations

import itertools
import json
from typing import Any

from rtwidget.widget import RealtimeWidget
from tests.support import sent

from .comm_double import MockComm, barrier, browser_says, wait_until

_views = itertools.count()


def tool_view(w: RealtimeWidget, comm: MockComm, call_id: str, **expected: Any) -> dict[str, Any]:
    """The call's ToolView in a fresh snapshot, once it has the ``expected`` fields."""

    def matching() -> dict[str, Any] | None:
        views = [v for v in barrier(w, comm, f"a{next(_views)}")["tools"] if v["call_id"] == call_id]
        return views[0] if views and all(views[0].get(k) == v for k, v in expected.items()) else None

    return wait_until(matching, what=f"the view of {call_id} with {expected}")


def ask_for(w: RealtimeWidget, ran: list[str], text: str) -> str:
    """Register ``delete_file`` (approve=True), type ``text`` in the browser; the call id waiting for approval."""

    @w.session.tool(approve=True, approval_timeout=60)
    def delete_file(path: str) -> str:
        """Delete a file."""
        ran.append(path)
        return f"deleted {path}"

    wait_until(lambda: w.registered_tools and w.registered_tools[0]["approve"], what="the tool published")
    browser_says(w, {"kind": "text", "text": text})
    return str(wait_until(lambda: w.session.pending_approvals, what="the call to wait")[0].call_id)


def outputs(w: RealtimeWidget) -> list[dict[str, Any]]:
    items = [e["item"] for e in sent(w.session, "conversation.item.create")]
    return [i for i in items if i["type"] == "function_call_output"]


def test_the_approve_message_runs_the_waiting_call(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    ran: list[str] = []
    call_id = ask_for(w, ran, "delete_file path=a.txt")
    view = tool_view(w, comm, call_id, approval="pending")
    assert (view["name"], json.loads(view["arguments"]), view["status"]) == (
        "delete_file",
        {"path": "a.txt"},
        "waiting",
    )
    assert view["approval_timeout"] == 60 and view["followup"] == "pending"
    assert w.registered_tools[0]["approval_timeout"] == 60
    browser_says(w, {"kind": "approve", "call_id": call_id})
    view = tool_view(w, comm, call_id, status="done")
    assert (view["approval"], view["approval_by"], view["output"]) == ("approved", "user", "deleted a.txt")
    assert ran == ["a.txt"]
    wait_until(lambda: tool_view(w, comm, call_id)["followup"] == "sent", what="the follow-up")


def test_the_reject_message_declines_with_the_reason_typed(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    ran: list[str] = []
    call_id = ask_for(w, ran, "delete_file path=b.txt")
    browser_says(w, {"kind": "reject", "call_id": call_id, "reason": "  keep it  "})
    view = tool_view(w, comm, call_id, approval="rejected")
    assert (view["status"], view["approval_reason"]) == ("declined", "keep it")
    assert json.loads(view["output"]) == {"declined": True, "reason": "keep it"}
    [output] = wait_until(lambda: outputs(w), what="the declined output")
    assert json.loads(output["output"]) == {"declined": True, "reason": "keep it"}
    assert ran == []
    wait_until(lambda: tool_view(w, comm, call_id)["followup"] == "sent", what="the follow-up")


def test_a_decision_from_a_cell_updates_the_panel_and_a_second_one_is_a_notice(
    live: tuple[RealtimeWidget, MockComm],
) -> None:
    w, comm = live
    ran: list[str] = []
    call_id = ask_for(w, ran, "delete_file path=c.txt")
    w.session.reject(call_id)  # in a cell
    view = tool_view(w, comm, call_id, approval="rejected")
    assert view["approval_reason"] is None and "declined to run" in view["output"]
    browser_says(w, {"kind": "approve", "call_id": call_id})  # a stale button: the kernel says why, nothing runs
    notice = wait_until(lambda: [c for c, _ in comm.custom("notice") if call_id in c.get("text", "")], what="notice")
    assert "waiting for approval" in notice[0]["text"] and notice[0]["level"] == "error"
    assert ran == [] and len(outputs(w)) == 1
