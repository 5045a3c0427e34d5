"""Panel views: conversation items, tool calls, responses (with latency and cost) and usage as plain dicts for
the browser.

The shapes are those of ``docs/widget-contract.md`` (ItemView, ToolView, ResponseView). Everything here reads
what the session already knows; nothing here talks to the wire.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..session.approvals import declined_output
from ..session.metrics import Metrics
from .eventlog import clip

# How long a text in a panel view (an item's text, a tool's output, an exception's traceback) may be before it is cut.
MAX_TEXT = 20_000


def item_view(item: Any, *, index: int | None, out_of_band: bool) -> dict[str, Any]:
    """One conversation item (a ``protocol.conversation.Item``) as an ItemView."""
    return {
        "id": item.id,
        "type": item.type,
        "role": item.role,
        "status": item.status,
        "text": clip(item.text, MAX_TEXT),
        "name": item.name,
        "call_id": item.call_id,
        "arguments": clip(item.arguments, MAX_TEXT),
        "output": clip(item.output, MAX_TEXT) if item.output is not None else None,
        "response_id": item.response_id,
        "audio_ms": round(item.audio_ms, 1),
        "heard_ms": item.truncated_at_ms,
        "lane": "out_of_band" if out_of_band else "default",
        "index": index,
        "deleted": False,
    }


def item_views(conversation: Any, ids: Iterable[str]) -> list[dict[str, Any]]:
    """ItemViews of the items ``ids`` that the conversation state (``session.conversation_state``) knows."""
    ids = list(ids)
    if not ids:
        return []
    order = {item.id: i for i, item in enumerate(conversation.items)}
    views = []
    for item_id in ids:
        item = conversation.get(item_id)
        if item is None:
            continue
        lane = conversation.responses.get(item.response_id or "")
        views.append(item_view(item, index=order.get(item_id), out_of_band=bool(lane and lane.out_of_band)))
    return views


def all_item_ids(conversation: Any) -> set[str]:
    """Every item a new view shows: the default conversation's and those of out-of-band responses."""
    ids = {item.id for item in conversation.items}
    for lane in conversation.out_of_band():
        ids.update(lane.item_ids)
    return ids


def deleted_view(item_id: str) -> dict[str, Any]:
    """The ItemView that removes an item from the browser's conversation panel."""
    return {"id": item_id, "deleted": True}


def response_view(lane: Any, metrics: Metrics | None = None) -> dict[str, Any]:
    """One response (a ``protocol.conversation.ResponseLane``) as a ResponseView; with the session's metrics
    (``session._metrics``), its turn's ``latency`` (ms from its start; None out of band) and its ``cost_usd``
    (None until done, or without a price)."""
    turn = metrics.turn(lane.id) if metrics is not None else None
    return {
        "id": lane.id,
        "status": lane.status,
        "lane": "out_of_band" if lane.out_of_band else "default",
        "usage": lane.usage,
        "metadata": lane.metadata,
        "latency": turn.latency_ms() if turn is not None else None,
        "cost_usd": metrics.response_cost(lane.id) if metrics is not None else None,
    }


def response_views(conversation: Any, metrics: Metrics | None) -> dict[str, dict[str, Any]]:
    """Every response the conversation state knows, id -> ResponseView (a new view's snapshot)."""
    return {r: response_view(lane, metrics) for r, lane in conversation.responses.items()}


class ToolBoard:
    """Tool calls as the Tools panel shows them, including whether the follow-up ``response.create`` went out."""

    def __init__(self) -> None:
        self.calls: dict[str, dict[str, Any]] = {}
        # Tool name -> call_id of its latest failed call: the ``rtwidget.error`` that follows carries its traceback.
        self._failed: dict[str, str] = {}

    def started(self, data: dict[str, Any], status: str = "running") -> dict[str, Any]:
        """A ``rtwidget.tool.started`` event (an approved call keeps its approval on its row)."""
        view = self.calls.setdefault(str(data.get("call_id")), {})
        view.update(
            {
                "call_id": data.get("call_id"),
                "name": data.get("name"),
                "arguments": clip(str(data.get("arguments") or ""), MAX_TEXT),
                "output": None,
                "status": status,
                "duration_ms": None,
                "response_id": data.get("response_id"),
                "followup": "pending",
            }
        )
        return view

    def approval(self, data: dict[str, Any]) -> dict[str, Any]:
        """A ``rtwidget.tool.approval`` event: the call waits for a person (``approval`` ``"pending"``, and the
        Approve / Reject buttons), or was decided (``"approved"``, ``"rejected"`` with ``approval_reason`` and
        ``approval_by``, or ``"cancelled"`` when the session closed first)."""
        decision = str(data.get("status"))
        view = self.calls.get(str(data.get("call_id")))
        if view is None or decision == "pending":
            view = self.started(data, status="waiting")
        view["approval"] = decision
        view["approval_timeout"] = data.get("timeout")
        view["approval_reason"] = data.get("reason")
        view["approval_by"] = data.get("by")
        if decision == "rejected":
            view["status"] = "declined"
            view["output"] = clip(declined_output(data.get("reason")), MAX_TEXT)
        elif decision == "cancelled":
            view["status"] = "cancelled"
            view["followup"] = "none"
        return view

    def done(self, data: dict[str, Any]) -> dict[str, Any]:
        """A ``rtwidget.tool.done`` event."""
        view = self.calls.get(str(data.get("call_id"))) or self.started(data)
        kind = data.get("error_kind")
        view["status"] = "done" if data.get("ok") else "timeout" if kind == "timeout" else "error"
        view["output"] = clip(str(data.get("output") or ""), MAX_TEXT)
        view["error"] = data.get("error")
        view["duration_ms"] = round(float(data.get("duration_s") or 0.0) * 1000, 1)
        if view["status"] != "done":
            self._failed[str(view["name"])] = str(view["call_id"])
        if not data.get("reply", True):
            view["followup"] = "none"
        return view

    def failure(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """An ``rtwidget.error`` from a tool (it follows that call's ``rtwidget.tool.done``, which has no
        traceback): the failed call's view with the traceback, or None when it is not about a call shown."""
        if data.get("source") != "tool":
            return None
        view = self.calls.get(self._failed.pop(str(data.get("name")), ""))
        if view is None:
            return None
        view["traceback"] = clip(str(data.get("traceback") or ""), MAX_TEXT)
        return view

    def response_requested(self) -> list[dict[str, Any]]:
        """A ``response.create`` went out: every finished call still waiting for one got its follow-up."""
        changed = []
        for view in self.calls.values():
            if view["followup"] == "pending" and view["status"] not in ("running", "waiting"):
                view["followup"] = "sent"
                changed.append(view)
        return changed


def registered_tool_views(tools: Iterable[Any]) -> list[dict[str, Any]]:
    """The registered tools (a ``ToolRegistry``) as RegisteredToolViews: name, description, the generated JSON
    schema of the arguments, whether a reply follows, the timeout in seconds (None: none), and whether its calls
    wait for approval (with the approval timeout)."""
    return [
        {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
            "reply": tool.reply,
            "timeout": tool.timeout,
            "approve": tool.approve,
            "approval_timeout": tool.approval_timeout,
        }
        for tool in tools
    ]


def usage_view(usage: dict[str, Any], latency: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``usage`` trait from the session's own figures (``session.usage``, ``session.latency_summary()``):
    the token totals as the session counts them, their cost (``cost_usd`` None: no price, ``cost_note`` says
    why; ``billed`` False on the local server, and ``cost_note`` says so), the prices' date, and each latency
    step's ``{n, p50_ms, p95_ms}`` over the session."""
    cost = usage["cost"]
    return {
        **usage["totals"],
        "model": usage["model"],
        "cost_usd": cost.total,
        "billed": usage["billed"],
        "cost_note": cost.reason or usage["note"],
        "prices_as_of": cost.as_of,
        "latency": {
            step: {"n": v["n"], "p50_ms": _ms(v["p50"]), "p95_ms": _ms(v["p95"])} for step, v in latency.items()
        },
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
