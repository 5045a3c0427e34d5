"""How a connection ended, in plain words (``session.close_why``), and which endings are worth a reconnect."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest
import websockets
from websockets.asyncio.server import ServerConnection
from websockets.frames import Close

from rtwidget import Session, SessionClosed
from rtwidget.server import LocalServer, Script
from rtwidget.session.reconnect import why_closed

from ..support import TIMEOUT, run


def ended(received: Close | None, sent: Close | None) -> Any:
    """A stand-in for a closed ClientConnection: only its protocol's close frames are read."""
    return SimpleNamespace(protocol=SimpleNamespace(close_rcvd=received, close_sent=sent))


@pytest.mark.parametrize(
    "received, sent, words, retry",
    [
        (None, None, "the connection was reset with no close frame", True),
        (None, Close(1011, "keepalive ping timeout"), "the client's keepalive ping got no answer", True),
        (None, Close(1007, ""), "the server sent text that is not valid UTF-8", False),
        (None, Close(1009, ""), "a message too big to read", False),
        (Close(1001, "going away"), Close(1001, ""), "code 1001 (going away): going away", True),
        (Close(1013, ""), None, "code 1013 (try again later)", True),
        (Close(1000, "bye"), None, "code 1000 (normal closure): bye", False),
        (Close(1008, "bad key"), None, "code 1008 (policy violation): bad key", False),
        (Close(4321, ""), None, "with code 4321", False),
    ],
)
def test_each_ending_in_plain_words(received: Close | None, sent: Close | None, words: str, retry: bool) -> None:
    text, again = why_closed(ended(received, sent))
    assert words in text and again is retry


def test_invalid_utf8_from_the_server_ends_the_session_and_says_so() -> None:
    async def handler(ws: ServerConnection) -> None:
        created = {"type": "session.created", "event_id": "event_1", "session": {"id": "sess_1", "expires_at": 0}}
        await ws.send(json.dumps(created))
        await ws.recv()  # the session config
        await ws.send(json.dumps({"type": "session.updated", "event_id": "event_2", "session": {"id": "sess_1"}}))
        await ws.recv()  # the test's message: the session is open
        await ws.send(b'{"type": "\xff"}', text=True)  # a text frame that is not UTF-8
        await ws.wait_closed()

    async def body() -> None:
        async with websockets.serve(handler, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            session = Session(endpoint=f"ws://127.0.0.1:{port}/v1/realtime")
            try:
                await session.connect()
                session.send_text("hello", respond=False)
                with pytest.raises(SessionClosed):
                    await session.wait_for("response.done", timeout=TIMEOUT)
                assert session.state == "closed"
                assert session.close_why == "the server sent text that is not valid UTF-8"
                assert [e for e in session.log if e.type == "rtwidget.reconnected"] == []
            finally:
                await session.close()

    run(body)


def test_the_closed_event_and_the_exception_say_why(local_server: LocalServer) -> None:
    async def body() -> None:
        script = Script().disconnect_after(4, code=1008, reason="policy")
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url, reconnect=False)
            try:
                await session.connect()
                with pytest.raises(SessionClosed) as info:
                    await session.ask("hello there")
                why = "the server closed the connection with code 1008 (policy violation): policy"
                assert info.value.why == why and why in str(info.value) and info.value.close_code == 1008
                (closed,) = [e.data for e in session.log if e.type == "rtwidget.closed"]
                assert closed["why"] == why and closed["code"] == 1008
            finally:
                await session.close()
        session = Session(endpoint=local_server.url)
        await session.connect()
        await session.close()
        assert session.close_why == "closed by session.close()"

    run(body)


def test_constructor_settings_are_checked() -> None:
    assert Session(reconnect=False, renew="auto").renew == "auto"
    with pytest.raises(TypeError, match="reconnect must be True or False"):
        Session(reconnect="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="renew must be one of"):
        Session(renew="sometimes")


HANDSHAKE_DROP = """
import asyncio, gc
from rtwidget import Session, SessionClosed
from rtwidget.server import LocalServer, Script

async def main():
    async with LocalServer(pace="fast", script=Script().disconnect_after(1, reset=True)) as server:
        session = Session(endpoint=server.url)
        try:
            await session.connect()
        except SessionClosed as exc:
            print("refused:", exc)
        await session.close()
    gc.collect()

asyncio.run(main())
"""


def test_a_handshake_cut_short_leaves_no_never_retrieved_noise() -> None:
    done = subprocess.run([sys.executable, "-c", HANDSHAKE_DROP], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0 and "refused: connection closed (the connection was reset" in done.stdout
    assert "never retrieved" not in done.stderr and "Traceback" not in done.stderr
