"""A response the server goes silent on, over real loopback sockets: after ``response_timeout`` the session says
which response was lost (rtwidget.error, a warning), fails the ask() or respond_out_of_band() waiting for it with
a RealtimeError (not a bare timeout), sends a reply held back meanwhile, and takes new turns."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets
from websockets.asyncio.server import ServerConnection

from rtwidget import RealtimeError, Session
from rtwidget.errors import WaitTimeout
from rtwidget.protocol.events import Event
from rtwidget.session.response_watch import LOST_CODE, RESPONSE_TIMEOUT_S
from tests.protocol import wire_events as S
from tests.support import run, scaled, sent

Json = dict[str, Any]
# Short enough for a quick test, long enough that a loaded machine answers a live response in time.
SILENCE = scaled(0.4)


class ScriptedServer:
    """A Realtime server on loopback that answers the handshake and user messages, and each response.create with
    the next step of ``plan``: ``"silent"`` (no answer at all), ``"stall"`` (response.created, then nothing) or
    ``"answer"`` (a whole text reply, the default once the plan is used up)."""

    def __init__(self, plan: list[str]) -> None:
        self.plan = plan
        self.responses = itertools.count(1)
        self.user_items = itertools.count(1)

    async def handler(self, ws: ServerConnection) -> None:
        await send(ws, S.session_created())
        async for message in ws:
            event = json.loads(message)
            etype = event["type"]
            if etype == "session.update":
                await send(ws, S.session_updated(**event["session"]))
            elif etype == "conversation.item.create":
                item = {**event["item"], "id": f"item_u{next(self.user_items)}"}
                await send(ws, S.item_added(item, previous_item_id=None))
            elif etype == "response.create":
                await self.answer(ws, event.get("response") or {})

    async def answer(self, ws: ServerConnection, response: Json) -> None:
        step = self.plan.pop(0) if self.plan else "answer"
        n = next(self.responses)
        rid = f"resp_{n}"
        if step == "silent":
            return
        if response.get("conversation") == "none":  # out of band: no conversation, the request's metadata
            meta = response.get("metadata")
            await send(ws, S.response_created(rid, conversation_id=None, metadata=meta))
            if step == "answer":
                await send(ws, S.response_done(rid, conversation_id=None, metadata=meta))
        elif step == "stall":
            await send(ws, S.response_created(rid))
        else:
            await send(ws, *S.text_turn(rid, f"item_a{n}", ["ok ", str(n)], previous_item_id=None))


async def send(ws: ServerConnection, *events: Json) -> None:
    for event in events:
        await ws.send(json.dumps(event))


@asynccontextmanager
async def scripted_server(plan: list[str]) -> AsyncIterator[str]:
    """A :class:`ScriptedServer` following ``plan``; yields its URL."""
    async with websockets.serve(ScriptedServer(plan).handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime"


def lost_errors(session: Session) -> list[Event]:
    return [e for e in session.errors if e.type == "rtwidget.error" and e["source"] == "response"]


def test_a_response_that_never_ends_fails_its_ask_and_the_next_ask_works(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        async with scripted_server(["stall"]) as url, Session(endpoint=url, response_timeout=SILENCE) as session:
            with caplog.at_level(logging.WARNING, "rtwidget.session"), pytest.raises(RealtimeError) as info:
                await session.ask("hello")  # its own timeout (120 s) is far away: the loss ends it
            assert not isinstance(info.value, TimeoutError) and info.value.code == LOST_CODE
            message = str(info.value)
            assert "response resp_1 got no event from the server for" in message
            assert "declared lost; the session accepts new turns" in message
            (error,) = lost_errors(session)
            assert (error["name"], error["kind"], error["message"]) == ("resp_1", "response", message)
            assert error["silent_s"] >= SILENCE and error["out_of_band"] is False
            assert info.value.event is error
            assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [f"rtwidget: {message}"]
            assert not session.response_active
            reply = await session.ask("again")
            assert reply.text == "ok 2" and reply.response_ids == ["resp_2"]
            assert len(lost_errors(session)) == 1

    run(body)


def test_a_create_never_answered_fails_its_ask_and_names_the_create() -> None:
    async def body() -> None:
        async with scripted_server(["silent"]) as url, Session(endpoint=url, response_timeout=SILENCE) as session:
            with pytest.raises(RealtimeError, match="got no answer") as info:
                await session.ask("hello")
            (create,) = sent(session, "response.create")
            assert f"the response.create {create['event_id']} got no answer (no response.created)" in str(info.value)
            assert lost_errors(session)[0]["kind"] == "create"
            assert (await session.ask("again")).text == "ok 2"

    run(body)


def test_a_reply_held_back_by_a_silent_response_goes_out_when_it_is_lost() -> None:
    async def body() -> None:
        async with scripted_server(["stall"]) as url, Session(endpoint=url, response_timeout=SILENCE) as session:
            started = session.expect("response.created")
            session.send_text("first")
            await asyncio.wait_for(started, scaled(10))
            answered = session.expect("response.done")
            session.send_text("second")  # the conversation is busy: its reply waits
            assert len(sent(session, "response.create")) == 1
            done = await asyncio.wait_for(answered, scaled(10))
            assert done["response"]["id"] == "resp_2"
            log = [(e.type, e.data.get("source")) for e in session.log if e.direction in ("client", "local")]
            lost_at = log.index(("rtwidget.error", "response"))
            assert [i for i, entry in enumerate(log) if entry[0] == "response.create"][1] > lost_at

    run(body)


def test_a_silent_out_of_band_response_fails_its_call_only() -> None:
    async def body() -> None:
        async with scripted_server(["stall"]) as url, Session(endpoint=url, response_timeout=SILENCE) as session:
            with pytest.raises(RealtimeError, match="the out-of-band response resp_1 got no event") as info:
                await session.respond_out_of_band("Summarise.")
            assert info.value.code == LOST_CODE
            (error,) = lost_errors(session)
            assert error["out_of_band"] is True
            assert error["request_id"] == sent(session, "response.create")[0]["event_id"]
            assert (await session.ask("still here?")).text == "ok 2"
            result = await session.respond_out_of_band("Summarise again.")
            assert result.response["id"] == "resp_3"

    run(body)


def test_an_out_of_band_request_never_answered_fails_its_call() -> None:
    async def body() -> None:
        async with scripted_server(["silent"]) as url, Session(endpoint=url, response_timeout=SILENCE) as session:
            with pytest.raises(RealtimeError) as info:
                await session.respond_out_of_band("Summarise.")
            (create,) = sent(session, "response.create")
            assert f"the out-of-band response.create {create['event_id']} got no answer" in str(info.value)
            assert (await session.respond_out_of_band("Again.")).response["id"] == "resp_2"

    run(body)


def test_without_a_response_timeout_only_the_asks_own_timeout_ends_it() -> None:
    async def body() -> None:
        async with scripted_server(["stall"]) as url, Session(endpoint=url, response_timeout=None) as session:
            assert session.response_timeout is None
            with pytest.raises(WaitTimeout):
                await session.ask("hello", timeout=SILENCE * 2)
            assert lost_errors(session) == [] and session.response_active
            assert session._response_watch._timer is None  # nothing was ever armed
            session.response_timeout = SILENCE  # turned on later: the stalled response is given up
            lost = session.expect("rtwidget.error")
            session.send_text("anyone?")
            error = await asyncio.wait_for(lost, scaled(10))
            assert error["name"] == "resp_1"

    run(body)


def test_the_timer_runs_only_while_a_response_is_awaited_and_stops_at_close() -> None:
    async def body() -> None:
        async with scripted_server(["stall"]) as url:
            session = Session(endpoint=url)
            assert session.response_timeout == RESPONSE_TIMEOUT_S == 60.0
            await session.connect()
            assert session._response_watch._timer is None  # idle: no timer
            started = session.expect("response.created")
            session.send_text("hello")
            await asyncio.wait_for(started, scaled(10))
            assert session._response_watch._timer is not None
            await session.close()
            assert session._response_watch._timer is None
            assert lost_errors(session) == []

    run(body)


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "60", True])
def test_a_bad_response_timeout_names_the_argument_and_the_fix(value: Any) -> None:
    with pytest.raises(ValueError, match=r"response_timeout must be a positive number of seconds \(or None"):
        Session(response_timeout=value)
    session = Session()
    with pytest.raises(ValueError, match="response_timeout must be"):
        session.response_timeout = value
    assert session.response_timeout == RESPONSE_TIMEOUT_S
