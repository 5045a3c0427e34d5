"""Human approval of tool calls: a call to a tool registered with ``approve=True`` waits for a person.

The call is announced as a local ``rtwidget.tool.approval`` event with ``status`` ``"pending"`` (``name``,
``call_id``, ``arguments``, ``response_id``, ``timeout``), and again when it is decided: ``status``
``"approved"`` or ``"rejected"``, with ``reason`` and ``by`` (``"user"``, or ``"timeout"`` when its
``approval_timeout`` ran out), or ``"cancelled"`` (``by`` ``"close"``) when the session closed first: then nothing
is sent for it. A rejected call does not run; the model reads :func:`declined_output` as its output, so it is
never left waiting. Meanwhile the call's output stays owed: the one ``response.create`` after all the outputs of a
response waits for it. A reconnect leaves the call waiting (the history replay restores the call); its output
and that ``response.create`` go on the new connection once it is decided. An ``ask()`` that times out while
calls wait says which (``WaitTimeout``).

Decisions come from any thread (``Session.approve`` / ``Session.reject``, or the widget's buttons); they are taken
on the session's I/O loop, the only place :class:`Approvals` is changed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..protocol.tracker import FunctionCall

TOOL_APPROVAL = "rtwidget.tool.approval"

Emit = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class PendingApproval:
    """A tool call waiting for a person: approve it with ``session.approve(call_id)``, or reject it.

    ``timeout`` is its ``approval_timeout`` in seconds (None: it waits for ever); ``since`` the wall-clock time
    (``time.time()``) at which it started waiting.
    """

    call_id: str
    name: str
    arguments: str
    response_id: str
    timeout: float | None
    since: float

    def __repr__(self) -> str:
        waited = max(0.0, time.time() - self.since)
        limit = "no approval_timeout" if self.timeout is None else f"approval_timeout {self.timeout:g} s"
        return (
            f"<PendingApproval {self.call_id}: {self.name}({self.arguments:.200}), waiting {waited:.0f} s ({limit}): "
            f"session.approve({self.call_id!r}) or session.reject({self.call_id!r})>"
        )


@dataclass(frozen=True)
class Decision:
    """How a waiting call ended: ``approved``, the ``reason`` given (rejections), and ``by`` whom:
    ``"user"``, ``"timeout"`` or ``"close"``."""

    approved: bool
    reason: str | None
    by: str


def declined_output(reason: str | None) -> str:
    """The output the model reads for a rejected call: ``{"declined": true, "reason": "..."}`` as a string."""
    return json.dumps({"declined": True, "reason": reason or "the user declined to run this tool"}, ensure_ascii=False)


class Approvals:
    """The calls waiting for a decision, by call id (I/O loop only, but :attr:`pending` reads from any thread)."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._waiting: dict[str, tuple[PendingApproval, asyncio.Future[Decision]]] = {}

    @property
    def pending(self) -> list[PendingApproval]:
        """The calls waiting for a decision, oldest first."""
        return [entry for entry, _ in list(self._waiting.values())]

    async def wait(self, call: FunctionCall, timeout: float | None) -> Decision:
        """Announce ``call``, wait for its decision (at most ``timeout`` seconds: then it is rejected), announce
        the decision and return it. Cancelled (the session closes): announced as cancelled, and re-raised."""
        entry = PendingApproval(call.call_id, call.name, call.arguments, call.response_id, timeout, time.time())
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._waiting[call.call_id] = (entry, future)
        self._emit(TOOL_APPROVAL, {**_view(entry), "status": "pending"})
        try:
            decision = await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            decision = Decision(False, f"no one approved it within {timeout:g} s (its approval_timeout)", "timeout")
        except asyncio.CancelledError:
            self._emit(
                TOOL_APPROVAL, {**_view(entry), "status": "cancelled", "reason": "the session closed", "by": "close"}
            )
            raise
        finally:
            del self._waiting[call.call_id]
        status = "approved" if decision.approved else "rejected"
        self._emit(TOOL_APPROVAL, {**_view(entry), "status": status, "reason": decision.reason, "by": decision.by})
        return decision

    def decide(self, call_id: Any, approved: bool, reason: Any = None) -> None:
        """The person's decision on the waiting call ``call_id`` (on the I/O loop). ValueError when no call by that
        id is waiting (unknown, or decided already), naming those that are; TypeError for a wrong type."""
        check_decision(call_id, reason)
        waiting = self._waiting.get(call_id)
        if waiting is None or waiting[1].done():
            raise ValueError(no_such_call(call_id, self.pending))
        waiting[1].set_result(Decision(approved, None if approved else reason, "user"))


def check_decision(call_id: Any, reason: Any) -> None:
    """TypeError when a decision's ``call_id`` is not a string or its ``reason`` neither a string nor None."""
    if not isinstance(call_id, str):
        raise TypeError(f"call_id must be a str (a pending call's call_id), not {type(call_id).__name__}")
    if reason is not None and not isinstance(reason, str):
        raise TypeError(f"reason must be a str or None, not {type(reason).__name__}")


def no_such_call(call_id: str, pending: list[PendingApproval]) -> str:
    """The error text for a decision on a call that is not waiting: what is waiting instead."""
    waiting = ", ".join(f"{p.call_id} ({p.name})" for p in pending) or "none"
    return (
        f"no tool call {call_id!r} is waiting for approval (it was decided already, or never asked for one); "
        f"waiting: {waiting}"
    )


def _view(entry: PendingApproval) -> dict[str, Any]:
    return {
        "name": entry.name,
        "call_id": entry.call_id,
        "arguments": entry.arguments,
        "response_id": entry.response_id,
        "timeout": entry.timeout,
    }
