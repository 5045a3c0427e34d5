"""Reconnect edge cases found in review: the beta dialect, a second drop soon after a reconnect, an item sent as the
connection drops, a failed attempt after the replay went out, and a session collected while reconnecting."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings

import pytest

import rtwidget.session.reconnect as reconnect_mod
from rtwidget import ConnectionLost, Session
from rtwidget.protocol.events import Event
from rtwidget.server import LocalServer, Script

from ..support import local, run, scaled, until
from .reconnect_support import MID_SECOND_RESPONSE, through_a_drop


def test_the_beta_dialect_reconnects_with_its_history() -> None:
    script = Script().disconnect_after(MID_SECOND_RESPONSE, reset=True, connection=1)

    async def body() -> None:
        async with LocalServer(pace="fast", dialect="beta", script=script) as server:
            session = Session(endpoint=server.url, dialect="beta")
            try:
                await session.connect()
                first = await session.ask("hello there")
                with pytest.raises(ConnectionLost):
                    await session.ask("tell me more")
                await session.connect()
                (done,) = local(session, "rtwidget.reconnected")
                assert done["attempt"] == 1 and done["restored"] == 4 and done["not_restored"] == []
                assert [item.text for item in session.conversation][:2] == ["hello there", first.text]
            finally:
                await session.close()

    run(body)


def test_an_ask_under_a_second_drop_soon_after_a_reconnect_fails_too() -> None:
    # Connection 1 drops during the first ask, connection 2 during the next: a drop within STABLE_S of a
    # reconnect goes on counting attempts (2), and the ask in flight must still be failed, not answered empty.
    script = Script().disconnect_after(10, reset=True, connection=1).disconnect_after(12, reset=True, connection=2)

    async def body() -> None:
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url)
            try:
                await session.connect()
                with pytest.raises(ConnectionLost):
                    await session.ask("hello there")
                await session.connect()
                with pytest.raises(ConnectionLost):
                    await session.ask("say something long")
                drops = [
                    (e["attempt"], e["previous"])
                    for e in local(session, "rtwidget.state")
                    if e["state"] == "reconnecting"
                ]
                assert drops == [(1, "open"), (2, "open")]
            finally:
                await session.close()

    run(body)


def test_an_item_sent_as_the_connection_drops_is_sent_again_after_the_replay() -> None:
    # Event 17 of a text ask on the local server is its response.done; the reset follows it at once, before the
    # server can answer a message sent from that event's handler.
    script = Script().disconnect_after(17, reset=True, connection=1)

    async def body() -> None:
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url, modalities=["text"])
            sent: list[list[str]] = []

            def note(event: Event) -> None:
                if not sent:
                    sent.append(session.send_text("a note sent at response.done", respond=False))

            session.on("response.done", note)
            try:
                await session.connect()
                await session.ask("hello")  # its response.done is event 17
                await until(lambda: local(session, "rtwidget.reconnected"))
                await until(lambda: [i for i in session.conversation if i.text == "a note sent at response.done"])
                texts = [item.text for item in session.conversation]
                assert texts.count("a note sent at response.done") == 1 and texts[0] == "hello"
            finally:
                await session.close()

    run(body)


def test_sends_made_while_reconnecting_survive_an_attempt_that_fails_after_the_replay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reconnect_mod, "backoff_delay", lambda attempt: 0.05)
    # Connection 2 is reset right after session.created (event 1): its attempt fails after the sends went out.
    script = Script().disconnect_after(MID_SECOND_RESPONSE, reset=True, connection=1)
    script = script.disconnect_after(1, reset=True, connection=2)

    async def body() -> None:
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url)

            def while_reconnecting(event: Event) -> None:
                if event.get("state") == "reconnecting" and event.get("attempt") == 1:
                    session.send_text("sent while reconnecting", respond=False)

            session.on("rtwidget.state", while_reconnecting)
            try:
                await through_a_drop(session)
                (done,) = local(session, "rtwidget.reconnected")
                assert done["attempt"] == 2 and done["queued"] == 1 and server.connections_served == 3
                await until(lambda: [i for i in session.conversation if i.text == "sent while reconnecting"])
            finally:
                await session.close()

    run(body)


def test_a_session_collected_while_reconnecting_is_released(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconnect_mod, "backoff_delay", lambda attempt: 30.0)
    script = Script().disconnect_after(MID_SECOND_RESPONSE, reset=True)
    before = {t.name for t in threading.enumerate()}

    async def drop_and_forget(server: LocalServer) -> str:
        session = Session(endpoint=server.url)
        await session.connect()
        await session.ask("hello there")
        with pytest.raises(ConnectionLost):
            await session.ask("tell me more")
        assert session.state == "reconnecting"  # waiting 30 s before its first attempt
        return session._io.name

    async def body() -> None:
        async with LocalServer(pace="fast", script=script) as server:
            name = await drop_and_forget(server)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                for _ in range(int(scaled(100))):
                    gc.collect()
                    if name not in {t.name for t in threading.enumerate()}:
                        break
                    await asyncio.sleep(0.05)
            assert name not in {t.name for t in threading.enumerate()} - before
            assert any(issubclass(w.category, ResourceWarning) for w in caught)

    run(body)
