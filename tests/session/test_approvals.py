"""Human approval of tool calls, in a live session against the local server: approve (from another thread),
reject with a reason, the approval timeout, closing with calls pending, bad call ids, and the reply rule across
auto-run, approved and rejected calls of one response."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from rtwidget import Session, SessionClosed, WaitTimeout
from rtwidget.server import LocalServer, Script
from rtwidget.server.script import Rule
from rtwidget.session.approvals import TOOL_APPROVAL
from rtwidget.session.local_events import TOOL_STARTED
from tests.support import local, received, run, scaled, sent, until
from tests.support import open_session as session_at

from .test_raw_tool_flow import outputs, said


def approval_tools(session: Any, ran: list[str], *, timeout: float | None = None) -> None:
    """``delete_file`` and ``drop_table`` (both wait for approval) and ``get_time`` (runs at once)."""

    @session.tool(approve=True, approval_timeout=timeout)
    def delete_file(path: str) -> str:
        """Delete a file."""
        ran.append(f"delete_file {path}")
        return f"deleted {path}"

    @session.tool(approve=True)
    def drop_table(name: str = "t") -> str:
        """Drop a table."""
        ran.append(f"drop_table {name}")
        return f"dropped {name}"

    @session.tool
    def get_time(zone: str = "UTC") -> str:
        """The time in a zone."""
        ran.append("get_time")
        return f"12:00 {zone}"


def test_an_approved_call_runs_once_a_person_approves_it_from_another_thread(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        ran: list[str] = []
        async with open_session() as session:
            approval_tools(session, ran)
            session.send_text("delete_file path=a.txt")
            await until(lambda: session.pending_approvals)
            [pending] = session.pending_approvals
            assert (pending.name, json.loads(pending.arguments), pending.timeout) == (
                "delete_file",
                {"path": "a.txt"},
                None,
            )
            [asked] = local(session, TOOL_APPROVAL)
            assert asked == {
                "name": "delete_file",
                "call_id": pending.call_id,
                "arguments": pending.arguments,
                "response_id": pending.response_id,
                "timeout": None,
                "status": "pending",
            }
            assert ran == [] and outputs(session) == [] and not local(session, TOOL_STARTED)
            assert len(sent(session, "response.create")) == 1  # the output is owed: no follow-up yet
            worker = threading.Thread(target=session.approve, args=(pending.call_id,))
            worker.start()
            await until(lambda: any("delete_file returned: deleted a.txt" in t for t in said(session)))
            worker.join()
            assert ran == ["delete_file a.txt"] and session.pending_approvals == []
            assert local(session, TOOL_APPROVAL)[-1]["status"] == "approved"
            assert local(session, TOOL_APPROVAL)[-1]["by"] == "user"
            assert len(sent(session, "response.create")) == 2 and len(outputs(session)) == 1

    run(body)


def test_a_rejected_call_does_not_run_and_the_model_reads_why(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        ran: list[str] = []
        async with open_session() as session:
            approval_tools(session, ran)
            session.send_text("delete_file path=b.txt")
            await until(lambda: session.pending_approvals)
            call_id = session.pending_approvals[0].call_id
            session.reject(call_id, reason="not that file")
            await until(lambda: any("delete_file returned" in t for t in said(session)))
            [output] = outputs(session)
            assert output["call_id"] == call_id
            assert json.loads(output["output"]) == {"declined": True, "reason": "not that file"}
            assert ran == []
            [record] = session.tool_calls
            assert (record.ok, record.error, record.arguments) == (False, "declined: not that file", {"path": "b.txt"})
            decided = local(session, TOOL_APPROVAL)[-1]
            assert (decided["status"], decided["reason"], decided["by"]) == ("rejected", "not that file", "user")
            assert len(sent(session, "response.create")) == 2
            assert not session.errors  # a rejection is no failure

    run(body)


def test_an_approval_timeout_rejects_and_says_so(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        ran: list[str] = []
        async with open_session() as session:
            approval_tools(session, ran, timeout=0.2)
            session.send_text("delete_file path=c.txt")
            await until(lambda: outputs(session))
            reason = json.loads(outputs(session)[0]["output"])["reason"]
            assert "approval_timeout" in reason and "0.2 s" in reason
            decided = local(session, TOOL_APPROVAL)[-1]
            assert (decided["status"], decided["by"], decided["timeout"]) == ("rejected", "timeout", 0.2)
            assert ran == []
            with pytest.raises(ValueError, match="waiting: none"):
                session.approve(decided["call_id"])  # too late

    run(body)


def test_one_follow_up_after_auto_approved_and_rejected_calls(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        ran: list[str] = []
        async with open_session() as session:
            approval_tools(session, ran)
            session.send_text("get_time zone=CET, delete_file path=d.txt and drop_table name=users")
            await until(lambda: len(session.pending_approvals) == 2)
            await until(lambda: len(outputs(session)) == 1)  # get_time ran at once
            delete, drop = sorted(session.pending_approvals, key=lambda p: p.name)
            session.approve(delete.call_id)
            await until(lambda: len(outputs(session)) == 2)
            assert len(sent(session, "response.create")) == 1  # drop_table's output is still owed
            session.reject(drop.call_id)
            await until(lambda: len(received(session, "response.done")) == 2)
            creates = sent(session, "response.create")
            assert len(creates) == 2
            order = [e.data.get("event_id") for e in session.log if e.direction == "client"]
            assert order.index(creates[1]["event_id"]) > max(
                order.index(o["event_id"]) for o in _output_events(session)
            )
            [answer] = [t for t in said(session) if "returned" in t]
            assert "get_time returned: 12:00 CET" in answer and "deleted d.txt" in answer and "declined" in answer
            assert sorted(ran) == ["delete_file d.txt", "get_time"]

    run(body)


def _output_events(session: Any) -> list[dict[str, Any]]:
    return [e for e in sent(session, "conversation.item.create") if e["item"]["type"] == "function_call_output"]


def test_closing_with_approvals_pending_ends_them_and_sends_nothing(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        ran: list[str] = []
        async with open_session() as session:
            approval_tools(session, ran)
            session.send_text("delete_file path=e.txt")
            await until(lambda: session.pending_approvals)
            call_id = session.pending_approvals[0].call_id
            client_events = len([e for e in session.log if e.direction == "client"])
            await session.close()
            assert session.pending_approvals == []
            assert len([e for e in session.log if e.direction == "client"]) == client_events
            decided = local(session, TOOL_APPROVAL)[-1]
            assert (decided["status"], decided["by"]) == ("cancelled", "close")
            with pytest.raises(ValueError, match=f"no tool call '{call_id}' is waiting"):
                session.reject(call_id)
            with pytest.raises(ValueError, match=r"the session is closed: the calls waiting when it closed were"):
                session.approve(call_id)  # says why, not only "decided already, or never asked for one"
            assert ran == []

    run(body)


def test_bad_call_ids_name_the_waiting_calls(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        ran: list[str] = []
        async with open_session() as session:
            approval_tools(session, ran)
            session.send_text("delete_file path=f.txt")
            await until(lambda: session.pending_approvals)
            call_id = session.pending_approvals[0].call_id
            with pytest.raises(ValueError, match=rf"'call_nope'.*waiting: {call_id} \(delete_file\)"):
                session.approve("call_nope")
            with pytest.raises(TypeError, match="call_id must be a str"):
                session.approve(7)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="reason must be a str or None"):
                session.reject(call_id, reason=3)  # type: ignore[arg-type]
            session.approve(call_id)
            with pytest.raises(ValueError, match="decided already"):
                session.reject(call_id)  # decided: once is all
            await until(lambda: outputs(session))
            assert ran == ["delete_file f.txt"] and len(outputs(session)) == 1

    run(body)


def test_a_session_never_connected_has_nothing_waiting() -> None:
    session = Session(endpoint="ws://127.0.0.1:9/never")
    assert session.pending_approvals == []
    with pytest.raises(ValueError, match="waiting: none; the session was never connected"):
        session.approve("call_1")


def test_a_decision_racing_the_timeout_is_taken_once() -> None:
    """Unit level: a decision set as the wait ends is reported once, and the entry is gone after."""
    from rtwidget.protocol.tracker import FunctionCall
    from rtwidget.session.approvals import Approvals

    async def body() -> None:
        seen: list[dict[str, Any]] = []
        approvals = Approvals(lambda etype, data: seen.append(data))
        call = FunctionCall("call_1", "delete_file", "{}", "item_1", "resp_1")
        waiting = asyncio.ensure_future(approvals.wait(call, None))
        await until(lambda: approvals.pending)
        approvals.decide("call_1", False, "no")
        with pytest.raises(ValueError, match="decided already"):
            approvals.decide("call_1", True)
        decision = await waiting
        assert (decision.approved, decision.reason, decision.by) == (False, "no", "user")
        assert [d["status"] for d in seen] == ["pending", "rejected"] and approvals.pending == []

    run(body)


def test_an_ask_that_times_out_on_an_undecided_call_says_it_waits_for_approval(
    open_session: Callable[..., Any],
) -> None:
    # Before, the WaitTimeout said only "nothing came. Last event received: response.done": nothing hinted that
    # the reply waited on a person's decision.
    async def body() -> None:
        ran: list[str] = []
        async with open_session() as session:
            approval_tools(session, ran)
            with pytest.raises(WaitTimeout) as timed_out:
                await session.ask("delete_file path=g.txt", timeout=scaled(0.5))
            [pending] = session.pending_approvals
            assert f"waiting for approval: {pending.call_id} (delete_file)" in str(timed_out.value)
            assert "session.approve(call_id) or session.reject(call_id)" in str(timed_out.value)
            reply = asyncio.ensure_future(session.ask("delete_file path=h.txt"))
            await until(lambda: len(session.pending_approvals) == 2)
            await session.close()
            with pytest.raises(SessionClosed):  # closing under an ask that waits on approval ends it
                await reply
            assert session.pending_approvals == [] and ran == []

    run(body)


def test_a_reconnect_keeps_a_pending_approval_and_its_output_goes_on_the_new_connection() -> None:
    # The scripted server drops the first connection when the client clears its (empty) audio buffer, a moment
    # chosen while the call waits for a person.
    drop = {"code": 1011, "reason": "scripted", "reset": False}
    script = Script().add(Rule(on="input_audio_buffer.clear", disconnect=drop, connection=1))

    async def body() -> None:
        ran: list[str] = []
        async with LocalServer(pace="fast", script=script) as server, session_at(server.url) as session:
            approval_tools(session, ran)
            session.send_text("delete_file path=r.txt")
            await until(lambda: session.pending_approvals)
            [pending] = session.pending_approvals
            session.send({"type": "input_audio_buffer.clear"})
            await until(lambda: server.connections_served == 2 and session.state == "open")
            assert session.pending_approvals == [pending]  # still waiting, same call
            creates = len(sent(session, "response.create"))
            session.approve(pending.call_id)
            await until(lambda: any("delete_file returned: deleted r.txt" in t for t in said(session)))
            assert ran == ["delete_file r.txt"] and [o["call_id"] for o in outputs(session)] == [pending.call_id]
            assert len(sent(session, "response.create")) == creates + 1 and not session.errors

    run(body)


def test_a_pending_approvals_repr_says_how_to_decide() -> None:
    # The dataclass repr showed since=1795834541.683408 and nothing on what to do with the call.
    from rtwidget.session.approvals import PendingApproval

    pending = PendingApproval("call_1", "delete_file", '{"path": "a.txt"}', "resp_1", 60.0, 0.0)
    text = repr(pending)
    assert text.startswith('<PendingApproval call_1: delete_file({"path": "a.txt"}), waiting ')
    assert "approval_timeout 60 s" in text and "session.approve('call_1') or session.reject('call_1')" in text
    assert "(no approval_timeout)" in repr(PendingApproval("call_2", "f", "{}", "resp_1", None, 0.0))
