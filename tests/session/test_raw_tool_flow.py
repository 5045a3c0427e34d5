"""Raw-event flows are the user's: a call to a tool declared with a raw ``session.update`` (not registered in
Python) gets no output and no ``response.create`` from rtwidget; a mixed response gets rtwidget's outputs and
leaves the follow-up to the user; only a name in no tool list at all gets the automatic "unknown tool" output.
Against the local server over real loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from rtwidget import ClientEventError
from rtwidget.server import LocalServer, Script
from rtwidget.session.local_events import TOOL_DONE, TOOL_STARTED
from tests.support import local, received, run, sent, until
from tests.support import open_session as session_at

RAW = {
    "type": "function",
    "name": "lookup_order",
    "description": "An order's status (answered by hand).",
    "parameters": {"type": "object", "properties": {"order": {"type": "integer"}}},
}


def outputs(session: Any) -> list[dict[str, Any]]:
    """The function_call_output items the session sent, in order."""
    items = [e["item"] for e in sent(session, "conversation.item.create")]
    return [i for i in items if i["type"] == "function_call_output"]


def calls_made(session: Any) -> list[dict[str, Any]]:
    """The function_call items of every response.done received, in order."""
    return [
        item for done in received(session, "response.done") for item in done["response"]["output"]
        if item["type"] == "function_call"
    ]  # fmt: skip


def said(session: Any) -> list[str]:
    """The texts of the assistant messages of every response.done received."""
    texts = []
    for done in received(session, "response.done"):
        for item in done["response"]["output"]:
            for part in item.get("content") or []:
                texts.append(part.get("text") or part.get("transcript") or "")
    return texts


async def declare_raw(session: Any, *tools: dict[str, Any]) -> None:
    """The user's raw session.update with ``tools``, confirmed by the server."""
    before = len(received(session, "session.updated"))
    session.send({"type": "session.update", "session": {"type": "realtime", "tools": list(tools)}})
    await until(lambda: len(received(session, "session.updated")) > before)


def test_a_raw_tool_is_answered_by_hand_alone(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            await declare_raw(session, RAW)
            session.send_text("lookup_order order=7")
            await until(lambda: calls_made(session))
            [call] = calls_made(session)
            assert call["name"] == "lookup_order" and json.loads(call["arguments"]) == {"order": 7}
            # The user answers by hand: the output, then the follow-up.
            session.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "function_call_output",
                        "call_id": call["call_id"],
                        "output": '{"status": "shipped"}',
                    },
                }
            )
            session.send({"type": "response.create"})
            await until(lambda: any("lookup_order returned" in t for t in said(session)))
            assert [o["call_id"] for o in outputs(session)] == [call["call_id"]]  # the user's, and only it
            assert len(sent(session, "response.create")) == 2  # send_text's and the user's: none of rtwidget's
            assert len(received(session, "response.done")) == 2
            assert not local(session, TOOL_STARTED) and not session.tool_calls  # not rtwidget's call
            assert not [e for e in session.errors if e.type == "error"]

    run(body)


def test_a_mixed_response_gets_rtwidgets_outputs_and_the_users_follow_up(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            clash = {"type": "function", "name": "get_time", "description": "Raw version.", "parameters": {}}
            await declare_raw(session, RAW, clash)
            updates = len(sent(session, "session.update"))

            @session.tool
            def get_time(zone: str = "UTC") -> str:
                """The time in a zone."""
                return f"12:00 {zone}"

            # rtwidget's tool list keeps the user's raw tool; the registered one wins the name it shares.
            await until(lambda: len(sent(session, "session.update")) > updates)
            tools = sent(session, "session.update")[-1]["session"]["tools"]
            assert [(t["name"], t["description"]) for t in tools] == [
                ("get_time", "The time in a zone."),
                ("lookup_order", RAW["description"]),
            ]
            await until(lambda: [t["name"] for t in received(session, "session.updated")[-1]["session"]["tools"]]
                        == ["get_time", "lookup_order"])  # fmt: skip

            session.send_text("get_time zone=CET and lookup_order order=9")
            await until(lambda: len(calls_made(session)) == 2)
            ours, users = calls_made(session)
            assert (ours["name"], users["name"]) == ("get_time", "lookup_order")
            await until(lambda: outputs(session))  # rtwidget answers its registered tool...
            assert [o["call_id"] for o in outputs(session)] == [ours["call_id"]]
            assert [d["call_id"] for d in local(session, TOOL_DONE)] == [ours["call_id"]]
            item = {"type": "function_call_output", "call_id": users["call_id"], "output": "in transit"}
            session.send({"type": "conversation.item.create", "item": item})
            assert len(sent(session, "response.create")) == 1  # ...and leaves the follow-up to the user
            session.send({"type": "response.create"})
            await until(lambda: any("lookup_order returned: in transit" in t for t in said(session)))
            [answer] = [t for t in said(session) if "returned" in t]
            assert "get_time returned: 12:00 CET" in answer
            assert len(sent(session, "response.create")) == 2
            assert len(outputs(session)) == 2
            assert not [e for e in session.errors if e.type == "error"]

    run(body)


GHOST = {"type": "function_call", "name": "ghost", "call_id": "call_ghost_1", "arguments": "{}", "status": "completed"}


def test_a_name_in_no_tool_list_still_gets_the_automatic_output() -> None:
    async def body() -> None:
        # After the user's message (no reply asked), the server "calls" a tool nobody declared.
        response = {"id": "resp_ghost_1", "object": "realtime.response", "conversation_id": "conv_1"}
        done = {**response, "status": "completed", "output": [{"id": "item_ghost_1", **GHOST}]}
        script = Script().emit(
            [
                {"type": "response.created", "response": {**response, "status": "in_progress", "output": []}},
                {"type": "response.done", "response": done},
            ],
            on="conversation.item.create",
        )
        async with LocalServer(pace="fast", script=script) as server, session_at(server.url) as session:
            await declare_raw(session, RAW)
            session.send_text("hello", respond=False)
            await until(lambda: len(sent(session, "response.create")) == 1)
            [output] = outputs(session)
            assert output["call_id"] == "call_ghost_1" and "unknown tool 'ghost'" in output["output"]
            [started] = local(session, TOOL_STARTED)
            assert started["name"] == "ghost"
            await until(
                lambda: any("the tool returned: " in t for t in said(session))
            )  # (the server never saw the call)
            assert len(sent(session, "response.create")) == 1

    run(body)


def test_registered_tools_still_run_and_reply_once(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:

            @session.tool
            def get_time(zone: str = "UTC") -> str:
                """The time in a zone."""
                return f"12:00 {zone}"

            reply = await session.ask("get_time zone=UTC")
            assert "get_time returned: 12:00 UTC" in reply.text
            assert len(outputs(session)) == 1 and len(sent(session, "response.create")) == 2

    run(body)


def test_raw_declared_tools_survive_a_reconnect_and_stay_the_users() -> None:
    # The server sends session.created, the config's session.updated, then the raw declare's: and drops.
    script = Script().disconnect_after(3, code=1011, reason="scripted", connection=1)

    async def body() -> None:
        async with LocalServer(pace="fast", script=script) as server, session_at(server.url) as session:
            session.send({"type": "session.update", "session": {"type": "realtime", "tools": [RAW]}})
            await until(lambda: server.connections_served == 2 and session.state == "open")
            # The new connection's config declares the user's tool again (the client's, not the server's, to keep).
            handshake = sent(session, "session.update")[-1]["session"]
            assert [t["name"] for t in handshake.get("tools", [])] == ["lookup_order"]
            session.send_text("lookup_order order=9")
            await until(lambda: calls_made(session))
            await until(lambda: len(received(session, "response.done")) >= 1)
            assert not outputs(session) and not session.tool_calls  # still the user's to answer

    run(body)


def test_a_dict_output_is_refused_with_the_doctors_hint_then_fixed(open_session: Callable[..., Any]) -> None:
    """The newcomer's raw answer as a dict: ClientEventError naming json.dumps, the output-not-string hint naming
    the call and its tool, nothing sent; the string answer and one response.create then leave the doctor quiet."""

    async def body() -> None:
        async with open_session(turn_detection=None) as session:
            await declare_raw(session, RAW)
            session.send_text("lookup_order order=8")
            await until(lambda: calls_made(session))
            [call] = calls_made(session)
            answer = {"type": "function_call_output", "call_id": call["call_id"], "output": {"status": "shipped"}}
            with pytest.raises(ClientEventError, match=r"item.output: must be a string, not dict.*json.dumps"):
                session.send({"type": "conversation.item.create", "item": answer})
            [hint] = session.hints
            assert hint.rule == "output-not-string" and hint.level == "error"
            assert f"{call['call_id']} (lookup_order) is a dict, not a string" in hint.what
            assert "json.dumps(result)" in hint.fix and outputs(session) == []
            session.send(
                {"type": "conversation.item.create", "item": {**answer, "output": json.dumps(answer["output"])}}
            )
            session.send({"type": "response.create"})
            await until(lambda: any("lookup_order returned" in t for t in said(session)))
            later = session._io.call(lambda: session.doctor.tick(time.time() + 60), start=False)
            assert [h.rule for h in session.hints] + [h.rule for h in later] == ["output-not-string"]

    run(body)
