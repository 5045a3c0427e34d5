"""Turns: ask() settles once tools ran and no response is due; out-of-band responses stay out of the
conversation; a refused request fails its turn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rtwidget import RealtimeError, SessionClosed
from rtwidget.protocol.events import Event
from rtwidget.server import LocalServer, Script
from rtwidget.session.turns import OutOfBandTurn, Reply, refusal
from tests.support import open_session as session_at
from tests.support import received, run


def test_ask_returns_the_reply_with_its_items(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session(modalities=["text"]) as session:
            reply = await session.ask("just text")
            assert isinstance(reply, Reply) and str(reply) == reply.text == "You said: just text"
            assert reply.status == "completed"
            assert [i.role for i in reply.items] == ["assistant"] and reply.items[0] is session.conversation[-1]
            assert received(session, "response.output_text.delta")

    run(body)


def test_rejected_response_create_raises_from_ask() -> None:
    async def body() -> None:
        script = Script().fail("response.create", code="server_error", message="injected failure")
        async with LocalServer(pace="fast", script=script) as server, session_at(server.url) as session:
            with pytest.raises(RealtimeError, match="injected failure") as info:
                await session.ask("hello")
            assert info.value.code == "server_error"
            assert session.connection.tracker.busy is False
            assert session.response_active is False

    run(body)


def test_refusal_reads_any_error_shape() -> None:
    full = Event("error", {"type": "error", "error": {"code": "bad", "message": "no", "event_id": "e1"}})
    assert str(refusal(full)) == "bad: no" and refusal(full).code == "bad" and refusal(full).event is full
    bare = Event("error", {"type": "error", "error": "a bare string"})
    assert refusal(bare).code is None and "a bare string" in str(refusal(bare))


def test_out_of_band_response_stays_out_of_the_conversation(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            await session.ask("the meeting is on Tuesday")
            before = [i.id for i in session.conversation]
            result = await session.respond_out_of_band(
                "Summarise.",
                input=["classify this: hello"],
                metadata={"purpose": "classify"},
                modalities=["text"],
            )
            assert "classify this: hello" in result.text and str(result) == result.text
            assert result.metadata is not None and result.metadata["purpose"] == "classify"
            assert result.response["conversation_id"] is None
            assert [i.id for i in session.conversation] == before
            lanes = session.connection.conversation.out_of_band()
            assert len(lanes) == 1 and lanes[0].status == "completed"
            assert session.conversation_state.out_of_band() == lanes
            user_item = before[0]
            ref = await session.respond_out_of_band(input=[user_item], modalities=["text"])
            assert "Tuesday" in ref.text

    run(body)


def test_out_of_band_turn_ignores_responses_that_are_not_its_own() -> None:
    async def body() -> None:
        from rtwidget.protocol.connection import Connection

        turn = OutOfBandTurn(Connection(), "x", None, None, {})
        turn.send()
        for event in (
            Event("response.done", {"type": "response.done", "response": {"status": "completed"}}),
            Event("response.created", {"type": "response.created", "response": {"id": "r1", "metadata": "odd"}}),
            Event("response.done", {"type": "response.done", "response": "not an object"}),
        ):
            turn.watch(event)
        assert not turn.result.done()
        turn.watch(Event("rtwidget.closed", {"type": "rtwidget.closed", "code": 1006, "reason": ""}))
        with pytest.raises(SessionClosed) as info:
            await turn.result
        assert info.value.close_code == 1006

    run(body)
