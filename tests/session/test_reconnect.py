"""The automatic reconnect: a scripted local server drops the connection (reset with no close frame, or a close
code), and the session comes back on a new connection with its config, tools and history, over real sockets."""

from __future__ import annotations

import asyncio
import threading

import pytest

import rtwidget.session.reconnect as reconnect_mod
from rtwidget import ConnectionLost, RealtimeError, Session, SessionClosed
from rtwidget.protocol.events import Event
from rtwidget.server import LocalServer, Script

from ..support import TIMEOUT, local, run, until
from .reconnect_support import MID_SECOND_RESPONSE, through_a_drop


def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconnect_mod, "backoff_delay", lambda attempt: 0.05)


@pytest.mark.parametrize("reset", [True, False], ids=["reset-no-close-frame", "close-1011"])
def test_a_drop_mid_audio_reconnects_with_config_tools_and_history(reset: bool) -> None:
    script = Script().disconnect_after(MID_SECOND_RESPONSE, code=1011, reason="scripted", reset=reset, connection=1)

    async def body() -> None:
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url, instructions="Be brief.", voice="marin")

            @session.tool
            def get_time(zone: str = "UTC") -> str:
                """The time in a zone."""
                return f"noon {zone}"

            try:
                await session.connect()
                first = await session.ask("hello there")
                before = [(item.id, item.role, item.text) for item in session.conversation]
                with pytest.raises(ConnectionLost) as lost:
                    await session.ask("tell me more")
                assert isinstance(lost.value, SessionClosed)  # code written for a close still catches it
                why = lost.value.why
                assert ("reset with no close frame" in why) if reset else ("code 1011 (server error): scripted" in why)
                assert "ask" not in why and "then session.respond() asks for the answer again" in str(lost.value)

                await session.connect()  # waits for the reconnect instead of opening a second socket
                assert session.state == "open" and server.connections_served == 2
                (done,) = local(session, "rtwidget.reconnected")
                assert done["attempt"] == 1 and done["not_restored"] == []
                # The first turn (user, assistant) and the interrupted turn (user, partial assistant) came back.
                assert done["restored"] == 4
                after = [(item.id, item.role, item.text) for item in session.conversation]
                assert after[:2] == before and after[2][1:] == ("user", "tell me more")
                assert first.text and after[1][2] == first.text
                # The new server session has the config and the tool, sent before the history.
                assert session.config["instructions"] == "Be brief."
                assert session.config["audio"]["output"]["voice"] == "marin"
                assert [t["name"] for t in session.config["tools"]] == ["get_time"]
                states = [(e["state"], e.get("attempt")) for e in local(session, "rtwidget.state")]
                assert ("reconnecting", 1) in states and states[-1] == ("open", None)

                reply = await session.ask("get_time zone=CET")
                assert reply.text and [c.name for c in reply.tool_calls] == ["get_time"]
            finally:
                await session.close()

    run(body)


def test_the_new_connection_gets_config_then_history_then_what_was_sent_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reconnect_mod, "QUEUE_LIMIT", 3)
    script = Script().disconnect_after(MID_SECOND_RESPONSE, reset=True, connection=1)

    async def body() -> None:
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url)
            refused: list[BaseException] = []

            def while_reconnecting(event: Event) -> None:
                # Runs on the I/O thread as the reconnecting state is announced, before the backoff's wait.
                if event.get("state") == "reconnecting" and event.get("attempt") == 1:
                    try:  # one second of audio is ten appends at once: all of them past the bound
                        session.append_audio(bytes(48_000))
                    except RealtimeError as exc:
                        refused.append(exc)
                    session.send_text("queued one", respond=False)
                    session.send_text("queued two", respond=False)
                    session.send_text("queued three", respond=False)
                    try:
                        session.send_text("one too many", respond=False)
                    except RealtimeError as exc:
                        refused.append(exc)

            session.on("rtwidget.state", while_reconnecting)
            try:
                await through_a_drop(session)
                (done,) = local(session, "rtwidget.reconnected")
                assert done["queued"] == 3
                assert len(refused) == 2 and "0 sends already wait" in str(refused[0]) and "adds 10" in str(refused[0])
                assert "3 sends already wait" in str(refused[1])
                assert getattr(refused[0], "code", None) == "reconnect_queue_full"

                entries = list(session.log)
                drop = max(
                    i for i, e in enumerate(entries) if e.type == "rtwidget.state" and e.data["state"] == "reconnecting"
                )
                sent = [e.data for e in entries[drop:] if e.direction == "client"]
                assert sent[0]["type"] == "session.update"
                texts = [
                    e["item"]["content"][0].get("text")
                    for e in sent
                    if e["type"] == "conversation.item.create" and e["item"].get("type") == "message"
                ]
                # The replay (the first turn and the interrupted one), then the three queued, in order.
                assert texts[-3:] == ["queued one", "queued two", "queued three"]
                assert texts[0] == "hello there" and "one too many" not in texts
                await until(lambda: session.conversation[-1].text == "queued three")
                words = [item.text for item in session.conversation]
                assert words[-3:] == ["queued one", "queued two", "queued three"]
            finally:
                await session.close()

    run(body)


def test_a_normal_close_ends_the_session_with_the_reason_in_plain_words() -> None:
    script = Script().disconnect_after(6, code=1000, reason="done here")

    async def body() -> None:
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url)
            try:
                await session.connect()
                with pytest.raises(SessionClosed) as info:
                    await session.ask("hello there")
                assert not isinstance(info.value, ConnectionLost) and info.value.close_code == 1000
                assert session.state == "closed" and server.connections_served == 1
                assert (
                    session.close_why == "the server closed the connection with code 1000 (normal closure): done here"
                )
                assert local(session, "rtwidget.reconnected") == []
            finally:
                await session.close()

    run(body)


def test_it_gives_up_after_its_attempts_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_backoff(monkeypatch)

    async def body() -> None:
        server = await LocalServer(pace="fast").start()
        session = Session(endpoint=server.url)
        session.reconnect_attempts = 2
        try:
            await session.connect()
            ended = asyncio.ensure_future(_drain(session))
            await server.stop()  # the server goes away: every attempt is refused
            closed = await asyncio.wait_for(session.wait_for("rtwidget.closed"), TIMEOUT)
            assert session.state == "closed"
            assert closed["why"].startswith("gave up reconnecting after 2 attempts; last: reconnect attempt 2 failed")
            attempts = [e["attempt"] for e in local(session, "rtwidget.state") if e["state"] == "reconnecting"]
            assert attempts == [1, 2]
            assert await asyncio.wait_for(ended, TIMEOUT) >= 1  # events() ended at the give-up, not before
            with pytest.raises(SessionClosed):
                await session.ask("anyone?")
        finally:
            await session.close()

    run(body)


async def _drain(session: Session) -> int:
    """Iterate session.events() until it ends; how many events it saw."""
    seen = 0
    async for _ in session.events():
        seen += 1
    return seen


def test_reconnect_off_closes_like_before() -> None:
    script = Script().disconnect_after(MID_SECOND_RESPONSE, reset=True)

    async def body() -> None:
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url)
            session.reconnect = False
            try:
                await session.connect()
                await session.ask("hello there")
                with pytest.raises(SessionClosed) as info:
                    await session.ask("tell me more")
                assert not isinstance(info.value, ConnectionLost)
                assert session.state == "closed" and server.connections_served == 1
                assert "reset with no close frame" in (session.close_why or "")
            finally:
                await session.close()

    run(body)


def test_close_while_reconnecting_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconnect_mod, "backoff_delay", lambda attempt: 30.0)
    script = Script().disconnect_after(MID_SECOND_RESPONSE, reset=True)

    async def body() -> None:
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url)
            await session.connect()
            await session.ask("hello there")
            with pytest.raises(ConnectionLost):
                await session.ask("tell me more")
            assert session.state == "reconnecting"
            waiting = asyncio.ensure_future(session.connect())
            await asyncio.sleep(0)
            await asyncio.wait_for(session.close(), TIMEOUT)
            assert session.state == "closed" and server.connections_served == 1
            with pytest.raises(SessionClosed):
                await asyncio.wait_for(waiting, TIMEOUT)

    run(body)


def test_renew_setting_is_checked() -> None:
    session = Session(endpoint="ws://127.0.0.1:9/v1/realtime")
    assert session.renew == "warn"
    session.renew = "auto"
    with pytest.raises(ValueError, match="renew must be one of 'auto', 'warn', 'off', not 'always'"):
        session.renew = "always"
    assert session.renew == "auto"


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    low = [reconnect_mod.backoff_delay(n, rng=lambda: 0.0) for n in range(1, 10)]
    high = [reconnect_mod.backoff_delay(n, rng=lambda: 1.0) for n in range(1, 10)]
    assert low[:4] == [0.25, 0.5, 1.0, 2.0] and high[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(high) == reconnect_mod.BACKOFF_MAX_S and max(low) == reconnect_mod.BACKOFF_MAX_S / 2


def test_a_server_that_drops_every_new_connection_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_backoff(monkeypatch)
    script = Script().disconnect_after(4, code=1011, reason="flapping")  # every connection, just after the replay

    async def body() -> None:
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url, modalities=["text"])
            session.reconnect_attempts = 3
            try:
                await session.connect()
                closing = session.expect("rtwidget.closed")  # a local waiter outlives each drop
                session.send_text("hello", respond=False)
                closed = await asyncio.wait_for(closing, TIMEOUT)
                assert closed["why"].startswith("gave up reconnecting after 3 attempts")
                # Each reconnect "succeeded" and dropped at once: the count went on instead of starting over.
                attempts = [e["attempt"] for e in local(session, "rtwidget.state") if e["state"] == "reconnecting"]
                assert attempts == [1, 2, 3] and server.connections_served == 4
            finally:
                await session.close()

    run(body)


def test_a_drop_while_a_tool_runs_sends_its_output_and_one_reply_on_the_new_connection() -> None:
    # Server event 14 of this turn is the response.done that asks for the call: the drop comes right after it.
    script = Script().disconnect_after(14, reset=True, connection=1)

    async def body() -> None:
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url, modalities=["text"])
            release = threading.Event()

            @session.tool
            def slow_lookup(q: str) -> str:
                """Look something up, slowly."""
                release.wait(TIMEOUT)
                return f"found {q}"

            def on_state(event: Event) -> None:
                if event.get("state") == "reconnecting":
                    release.set()  # the tool finishes while the session is reconnecting

            session.on("rtwidget.state", on_state)
            try:
                await session.connect()
                with pytest.raises(ConnectionLost):
                    await session.ask("slow_lookup q=x")
                await session.connect()
                await until(lambda: [r for r in session.conversation if r.text == "slow_lookup returned: found x."])

                entries = list(session.log)
                drop = max(
                    i for i, e in enumerate(entries) if e.type == "rtwidget.state" and e.data["state"] == "reconnecting"
                )
                after = [e.data for e in entries[drop:] if e.direction == "client"]
                outputs = [
                    e
                    for e in after
                    if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
                ]
                assert [o["item"]["output"] for o in outputs] == ["found x"]
                creates = [i for i, e in enumerate(after) if e["type"] == "response.create"]
                assert len(creates) == 1 and creates[0] > after.index(outputs[0])
                calls = [item for item in session.conversation if item.type == "function_call"]
                assert [c.call_id for c in calls] == [outputs[0]["item"]["call_id"]]  # the call came back first
            finally:
                release.set()
                await session.close()

    run(body)


def test_a_message_sent_while_reconnecting_gets_its_reply_on_the_new_connection() -> None:
    script = Script().disconnect_after(MID_SECOND_RESPONSE, reset=True, connection=1)

    async def body() -> None:
        async with LocalServer(pace="fast", script=script) as server:
            session = Session(endpoint=server.url)

            def while_reconnecting(event: Event) -> None:
                if event.get("state") == "reconnecting" and event.get("attempt") == 1:
                    session.send_text("answer me")  # the lost response is no reason to hold its reply back

            session.on("rtwidget.state", while_reconnecting)
            try:
                await through_a_drop(session)
                await until(lambda: session.conversation and session.conversation[-1].text == "You said: answer me")
            finally:
                await session.close()

    run(body)


def test_a_reconnect_the_server_refuses_with_401_ends_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_backoff(monkeypatch)
    script = Script().disconnect_after(MID_SECOND_RESPONSE, reset=True, connection=1)

    async def body() -> None:
        async with LocalServer(host="0.0.0.0", pace="fast", script=script, token="right-token") as server:
            url = f"ws://127.0.0.1:{server.port}/v1/realtime"
            session = Session(endpoint=url, headers={"Authorization": "Bearer right-token"})
            try:
                await session.connect()
                await session.ask("hello there")
                server._token = "rotated-token"  # the key was revoked meanwhile: every new connection is refused
                with pytest.raises(ConnectionLost):
                    await session.ask("tell me more")
                await until(lambda: session.state == "closed")
                assert session.close_why is not None
                assert session.close_why.startswith("gave up reconnecting after 1 attempt; last: reconnect attempt 1")
                assert "401" in session.close_why and "right-token" not in session.close_why
            finally:
                await session.close()

    run(body)
