"""Tool changes while connected go out as one debounced session.update with the whole list (not one per
registration); a tool added before connect goes out with the handshake's config; a tool added just before a
turn reaches the server before that turn does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from rtwidget import Session
from rtwidget.server import LocalServer
from rtwidget.session import session as session_module
from tests.support import run, scaled, sent

MANY = 1000


def numbered_tool(n: int) -> Callable[..., Any]:
    def tool(q: str = "") -> str:
        return f"tool {n}: {q}"

    tool.__name__ = tool.__qualname__ = f"tool_{n}"
    tool.__doc__ = f"Tool number {n}."
    return tool


def has_all(event: Any) -> bool:
    return len(event["session"].get("tools", [])) == MANY


def test_a_thousand_tools_registered_on_the_io_loop_send_one_session_update(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            before = len(sent(session, "session.update"))
            updated = session.expect("session.updated", has_all)

            def register_all() -> None:  # a handler or a tool registering many: all within one loop callback
                for n in range(MANY):
                    session.add_tool(numbered_tool(n))

            session.call_soon(register_all)
            await asyncio.wait_for(updated, scaled(30))
            updates = sent(session, "session.update")[before:]
            assert len(updates) == 1
            assert [t["name"] for t in updates[0]["session"]["tools"]] == [f"tool_{n}" for n in range(MANY)]

    run(body)


def test_a_thousand_tools_registered_from_a_cell_send_one_session_update(
    open_session: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # From the caller's thread, registrations are spaced by the caller's own work: a debounce well above a
    # registration's cost (a loaded test machine can pause a thread for tens of milliseconds).
    monkeypatch.setattr(session_module, "TOOLS_DEBOUNCE_S", scaled(0.5))

    async def body() -> None:
        async with open_session() as session:
            before = len(sent(session, "session.update"))
            updated = session.expect("session.updated", has_all)
            for n in range(MANY):
                session.add_tool(numbered_tool(n))
            assert len(sent(session, "session.update")) == before  # nothing sent while the changes keep coming
            await asyncio.wait_for(updated, scaled(30))
            assert len(sent(session, "session.update")) == before + 1
            await session.close()
            assert session._tools_timer is None and not session._tools_pending

    run(body)


def test_a_tool_added_before_connect_goes_out_with_the_handshake(local_server: LocalServer) -> None:
    async def body() -> None:
        session = Session(endpoint=local_server.url, modalities=["text"])
        try:
            session.add_tool(numbered_tool(1))
            await session.connect()
            (config,) = sent(session, "session.update")
            assert [t["name"] for t in config["session"]["tools"]] == ["tool_1"]
            assert not session._tools_pending
            reply = await session.ask("tool_1 q=owls")
            assert [c.output for c in reply.tool_calls] == ["tool 1: owls"]
            assert len(sent(session, "session.update")) == 1
        finally:
            await session.close()

    run(body)


def test_a_tool_added_just_before_a_turn_reaches_the_server_first(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session(modalities=["text"]) as session:
            session.add_tool(numbered_tool(7))
            reply = await session.ask("tool_7 q=now")  # well within the debounce: the update goes out ahead
            assert [c.output for c in reply.tool_calls] == ["tool 7: now"]
            client = [e.type for e in session.log if e.direction == "client"]
            assert client.index("session.update", 1) < client.index("conversation.item.create")
            assert client.count("session.update") == 2  # the handshake's, and this one

    run(body)
