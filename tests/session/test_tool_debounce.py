"""Tool changes while connected go out as one debounced session.update with the whole list (not one per
registration); a tool added before connect goes out with the handshake's config; a tool added just before a
turn reaches the server before that turn does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets
from websockets.asyncio.server import ServerConnection

from rtwidget import Session
from rtwidget.server import LocalServer
from rtwidget.session import tool_calls as tool_calls_module
from tests.protocol import wire_events as S
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
    # registration's cost (a loaded test machine can pause a thread for hundreds of milliseconds: seen in a full run).
    monkeypatch.setattr(tool_calls_module, "TOOLS_DEBOUNCE_S", scaled(2.0))

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


@asynccontextmanager
async def gated_server(gate: asyncio.Event) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A server that opens the socket but sends session.created only once ``gate`` is set, then answers each
    session.update; yields its URL and the session.update events it received."""
    updates: list[dict[str, Any]] = []

    async def handler(ws: ServerConnection) -> None:
        await gate.wait()
        await ws.send(json.dumps(S.session_created()))
        async for message in ws:
            event = json.loads(message)
            if event["type"] == "session.update":
                updates.append(event)
                await ws.send(json.dumps(S.session_updated(**event["session"])))

    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime", updates


def test_a_tool_added_while_connecting_goes_out_with_the_handshake_only() -> None:
    async def body() -> None:
        gate = asyncio.Event()
        async with gated_server(gate) as (url, updates):
            session = Session(endpoint=url)
            try:
                connecting = asyncio.ensure_future(session.connect())
                opened = asyncio.ensure_future(session.wait_for("rtwidget.connected", timeout=scaled(10)))
                await opened  # the socket is open, the handshake waits for session.created
                session.add_tool(numbered_tool(3))
                await asyncio.sleep(0)
                gate.set()
                await asyncio.wait_for(connecting, scaled(10))
                assert [[t["name"] for t in u["session"]["tools"]] for u in updates] == [["tool_3"]]
                later = session.expect("session.updated")
                session.add_tool(numbered_tool(4))  # once open, a change is sent by itself
                await asyncio.wait_for(later, scaled(10))
                assert [[t["name"] for t in u["session"].get("tools", [])] for u in updates][1] == ["tool_3", "tool_4"]
            finally:
                await session.close()

    run(body)
