"""The session's state machine over real loopback sockets: single-flight connect, failed handshakes, calls in
each state, waits that say what they waited for, and close() from anywhere."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets
from websockets.asyncio.server import ServerConnection

from rtwidget import Session, SessionClosed
from rtwidget.errors import NotConnected, RealtimeError, WaitTimeout
from rtwidget.server import LocalServer, Script
from tests.support import run, scaled, sent


def states(session: Session) -> list[str]:
    """Every state the session announced, in order."""
    return [e.data["state"] for e in session.log if e.type == "rtwidget.state"]


async def until_state(session: Session, state: str) -> None:
    """Poll (the state changes on the I/O thread) until the session is in ``state``."""

    async def poll() -> None:
        while session.state != state:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), scaled(10))


def session_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("rtwidget-session")}


@asynccontextmanager
async def silent_server() -> AsyncIterator[tuple[str, list[ServerConnection], asyncio.Event]]:
    """A WebSocket server that accepts and never says a word (no session.created); yields its URL, the
    connections it saw, and an event set when one of them was closed by the client."""
    seen: list[ServerConnection] = []
    closed = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        seen.append(ws)
        async for _ in ws:
            pass
        closed.set()

    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime", seen, closed


def test_states_are_announced_from_idle_to_closed(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session(modalities=["text"]) as session:
            assert session.state == "open" and session.connected
            assert "idle" in repr(Session()) and "open" in repr(session)
        assert session.state == "closed" and not session.connected
        assert states(session) == ["connecting", "open", "closing", "closed"]
        previous = [e.data["previous"] for e in session.log if e.type == "rtwidget.state"]
        assert previous == ["idle", "connecting", "open", "closing"]

    run(body)


def test_concurrent_connects_share_one_socket(local_server: LocalServer) -> None:
    async def body() -> None:
        session = Session(endpoint=local_server.url, modalities=["text"])
        try:
            started = session.start()  # a widget's background connect...
            first, second = await asyncio.gather(session.connect(), session.connect())  # ...and two cells'
            assert first is second is session is await asyncio.wrap_future(started)
            await session.connect()  # open: returns at once
            assert [e.type for e in session.log].count("rtwidget.connected") == 1
            assert len(sent(session, "session.update")) == 1
            assert (await session.ask("one socket")).text == "You said: one socket"
        finally:
            await session.close()
        assert states(session).count("open") == 1

    run(body)


def test_a_handshake_with_no_session_created_closes_its_socket_and_can_be_retried() -> None:
    async def body() -> None:
        async with silent_server() as (url, seen, closed):
            session = Session(endpoint=url)
            session.handshake_timeout = scaled(0.5)
            try:
                with pytest.raises(WaitTimeout) as info:
                    await session.connect()
                assert isinstance(info.value, TimeoutError) and isinstance(info.value, RealtimeError)
                assert "session.created" in str(info.value) and "Last event received: none" in str(info.value)
                assert not session.connected and session.state == "idle"
                await asyncio.wait_for(closed.wait(), scaled(5))  # the server saw the socket closed
                with pytest.raises(WaitTimeout):
                    await session.connect()  # really retried: a second socket
                assert len(seen) == 2
                assert states(session) == ["connecting", "idle", "connecting", "idle"]
            finally:
                await session.close()

    run(body)


def test_a_refused_config_leaves_the_session_idle_and_its_socket_closed() -> None:
    async def body() -> None:
        script = Script().fail("session.update", code="invalid_value", message="no such voice")
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url)
            try:
                with pytest.raises(RealtimeError, match="refused the session config"):
                    await session.connect()
                assert not session.connected and session.state == "idle"
                assert [e.type for e in session.log][-2:] == ["rtwidget.closed", "rtwidget.state"]
            finally:
                await session.close()

    run(body)


def test_close_while_connecting_ends_the_connect() -> None:
    async def body() -> None:
        async with silent_server() as (url, seen, closed):
            session = Session(endpoint=url)
            connecting = asyncio.ensure_future(session.connect())
            started = session.start()
            while not seen:
                await asyncio.sleep(0.01)
            await session.close()
            with pytest.raises(SessionClosed):
                await connecting
            # The background connect is cancelled, or ended by the socket closing under it: never left pending.
            assert started.cancelled() or isinstance(started.exception(timeout=scaled(5)), SessionClosed)
            assert session.state == "closed" and not session.connected
            await asyncio.wait_for(closed.wait(), scaled(5))

    run(body)


def test_calls_on_an_idle_session_name_the_fix_and_sends_are_queued(local_server: LocalServer) -> None:
    async def body() -> None:
        session = Session(endpoint=local_server.url, modalities=["text"])
        try:
            for call in (
                lambda: session.ask("hi"),
                lambda: session.respond_out_of_band("hi"),
                lambda: session.wait_for("response.done"),
            ):
                with pytest.raises(NotConnected, match=r"await session.connect\(\) first, or show the session's"):
                    await call()
            done = session.expect("response.done")  # registering is fine before connecting
            session.send_text("queued before connect")  # validated and queued...
            await session.connect()  # ...and sent once connected
            await asyncio.wait_for(done, scaled(10))
            assert session.conversation[-1].text == "You said: queued before connect"
        finally:
            await session.close()

    run(body)


def test_calls_on_a_closed_session_raise_at_once_and_start_nothing(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session(modalities=["text"]) as session:
            pass
        before = session_threads()
        for call in (
            lambda: session.send_text("after close"),
            lambda: session.send({"type": "response.create"}),
            lambda: session.update(voice="cedar"),
            lambda: session.cancel(),
            lambda: session.expect("response.done"),
        ):
            with pytest.raises(SessionClosed):
                call()
        for waiting in (lambda: session.ask("hi"), lambda: session.wait_for("response.done")):
            with pytest.raises(SessionClosed):
                await waiting()
        assert session_threads() == before
        await session.connect()  # connect() is how a closed session opens again
        assert (await session.ask("again")).text == "You said: again"
        await session.close()

    run(body)


def test_after_the_server_drops_the_session_ask_raises_at_once() -> None:
    async def body() -> None:
        script = Script().disconnect_after(4, code=1011, reason="dropped")
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url, modalities=["text"])
            session.reconnect = False  # a drop closes the session (test_reconnect.py: the default reconnects)
            try:
                await session.connect()
                session.send_text("the server drops the session while answering this")
                await until_state(session, "closed")
                with pytest.raises(SessionClosed) as info:
                    await session.ask("anyone?", timeout=None)  # would wait for ever if it waited at all
                assert info.value.close_code == 1011
                with pytest.raises(SessionClosed):
                    session.send_text("lost")
            finally:
                await session.close()

    run(body)


def test_a_timed_out_wait_says_what_it_waited_for_and_what_came_last(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session(modalities=["text"]) as session:
            with pytest.raises(WaitTimeout) as info:
                await session.wait_for("response.never", timeout=0.05)
            message = str(info.value)
            assert "'response.never'" in message and "0.05 s" in message
            assert "Last event received: session.updated" in message
            assert info.value.waited_for == "a 'response.never' event"

    run(body)


def test_ask_timeout_is_a_wait_timeout() -> None:
    async def body() -> None:
        async with LocalServer(pace="realtime") as server:
            session = Session(endpoint=server.url)
            try:
                await session.connect()
                with pytest.raises(WaitTimeout, match=r"the reply to ask\(\)") as info:
                    await session.ask("tell me a fairly long story about the sea", timeout=0.05)
                assert isinstance(info.value, TimeoutError)
            finally:
                await session.close()

    run(body)


@pytest.mark.parametrize("how", ["async handler", "sync handler stop()"])
def test_close_from_inside_a_handler(open_session: Callable[..., Any], how: str) -> None:
    async def body() -> None:
        before = session_threads()
        async with open_session(modalities=["text"]) as session:
            stopped: list[Any] = []

            async def closing(event: Any) -> None:
                await session.close()

            def stopping(event: Any) -> None:
                stopped.append(session.stop())

            session.on("response.done", closing if how == "async handler" else stopping)
            session.send_text("close from a handler")
            await until_state(session, "closed")
            if stopped:
                await asyncio.wait_for(asyncio.wrap_future(stopped[0]), scaled(10))
            await session.close()  # and again: fine
            await session.close()
        for _ in range(500):
            if session_threads() == before:
                break
            await asyncio.sleep(0.01)
        assert session_threads() == before

    run(body)


def test_close_from_another_thread_and_twice(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session(modalities=["text"]) as session:
            result: list[BaseException | None] = []

            def other() -> None:
                try:
                    asyncio.run(session.close())
                    asyncio.run(session.close())
                    result.append(None)
                except BaseException as exc:
                    result.append(exc)

            thread = threading.Thread(target=other)
            thread.start()
            await asyncio.get_running_loop().run_in_executor(None, thread.join)
            assert result == [None] and session.state == "closed"

    run(body)


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_close_from_inside_a_tool(local_server: LocalServer, kind: str) -> None:
    async def body() -> None:
        session = Session(endpoint=local_server.url, modalities=["text"])
        called: list[str] = []

        async def leave_async() -> str:
            """Leave the conversation."""
            called.append("async")
            await session.close()  # on the I/O thread: starts the closing, which then cancels this tool
            await asyncio.Event().wait()
            return "bye"

        def leave_sync() -> str:
            """Leave the conversation."""
            called.append("sync")
            session.stop().result(scaled(10))  # closed before this output could be sent
            return "bye"

        session.add_tool(leave_async if kind == "async" else leave_sync, name="leave")
        before = session_threads()
        await session.connect()
        try:
            with pytest.raises(SessionClosed):
                await session.ask("please leave now")
            await until_state(session, "closed")
            assert called == [kind]
            for _ in range(500):
                if session_threads() <= before:
                    break
                await asyncio.sleep(0.01)
            assert session_threads() <= before
        finally:
            await session.close()

    run(body)


def test_a_refused_update_leaves_the_config_and_the_next_connect_works() -> None:
    async def body() -> None:
        script = Script().fail("session.update", nth=2, code="invalid_value", message="no such voice")
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url, modalities=["text"], voice="alloy")
            try:
                await session.connect()
                refused = session.expect("error")
                event_id = session.update(voice="cedar", instructions="new")
                assert (await asyncio.wait_for(refused, scaled(10))).cause["event_id"] == event_id
                assert session._config["voice"] == "alloy" and "instructions" not in session._config
                await session.close()
                await session.connect()  # the refused fields are not sent again
                assert sent(session, "session.update")[-1]["session"].get("instructions") is None
                assert session.config["audio"]["output"]["voice"] == "alloy"
            finally:
                await session.close()

    run(body)


def test_a_socket_error_leaves_the_session_idle_and_a_retry_really_retries() -> None:
    async def body() -> None:
        async with silent_server() as (url, _seen, _closed):
            pass  # its port is free again: nothing listens there now
        session = Session(endpoint=url)
        try:
            for _ in range(2):
                with pytest.raises(OSError):
                    await session.connect()
                assert session.state == "idle" and not session.connected
            assert states(session) == ["connecting", "idle", "connecting", "idle"]
        finally:
            await session.close()

    run(body)


def test_close_from_a_handler_after_the_server_dropped_the_session_stops_its_thread() -> None:
    async def body() -> None:
        script = Script().disconnect_after(4, code=1011, reason="dropped")
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url, modalities=["text"])
            session.reconnect = False  # a drop closes the session (test_reconnect.py: the default reconnects)
            before = session_threads()
            await session.connect()

            async def close_on_closed(event: Any) -> None:
                await session.close()
                await session.close()  # twice, still from the I/O thread

            session.on("rtwidget.closed", close_on_closed)
            session.send_text("the server drops the session while answering this")
            await until_state(session, "closed")
            for _ in range(500):
                if session_threads() <= before:
                    break
                await asyncio.sleep(0.01)
            assert session_threads() <= before

    run(body)
