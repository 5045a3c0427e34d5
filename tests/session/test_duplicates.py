"""Duplicate server events and events the core cannot fold, end to end with a scripted local server: a repeated
event_id and a second response.done are logged (flagged) but reach no handler and run no tool twice; a fold
failure is logged, reported once as an rtwidget.error (source "protocol") and still delivered."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from rtwidget import Session
from rtwidget.protocol.events import Event
from rtwidget.server import LocalServer, Script
from rtwidget.session.reporting import FailureThrottle
from tests.support import open_session as session_at
from tests.support import run, scaled, sent

CALL = {
    "id": "item_dup_fc",
    "object": "realtime.item",
    "type": "function_call",
    "status": "completed",
    "name": "lookup",
    "call_id": "call_dup",
    "arguments": '{"q": "owls"}',
}


def response(status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": "resp_dup", "object": "realtime.response", "status": status, "output": output}


# Played when the test sends its own session.update (the handshake's is the first): a response that makes one
# function call, with its response.created sent twice under one event_id and its response.done sent twice.
DUPLICATES = [
    {"type": "response.created", "event_id": "event_dup_created", "response": response("in_progress", [])},
    {"type": "response.created", "event_id": "event_dup_created", "response": response("in_progress", [])},
    {"type": "response.done", "event_id": "event_dup_done_1", "response": response("completed", [CALL])},
    {"type": "response.done", "event_id": "event_dup_done_2", "response": response("completed", [CALL])},
]


def test_duplicate_events_are_logged_but_never_delivered_or_acted_on_twice() -> None:
    async def body() -> None:
        script = Script(pace="fast").emit(DUPLICATES, on="session.update", nth=2)
        calls: list[str] = []

        def lookup(q: str) -> str:
            """Look something up."""
            calls.append(q)
            return f"facts about {q}"

        async with LocalServer(pace="fast", script=script) as server, session_at(server.url, tools=[lookup]) as s:
            seen: list[tuple[str, str]] = []
            s.on("response.created", lambda e: seen.append((e.type, e["response"]["id"])))
            s.on("response.done", lambda e: seen.append((e.type, e["response"]["id"])))
            follow_up = s.expect("response.done", lambda e: e["response"]["id"] != "resp_dup")
            s.update(instructions="be brief")
            await asyncio.wait_for(follow_up, scaled(10))
            assert calls == ["owls"]
            outputs = [e for e in sent(s, "conversation.item.create") if e["item"]["type"] == "function_call_output"]
            assert [o["item"]["call_id"] for o in outputs] == ["call_dup"]
            assert len(sent(s, "response.create")) == 1  # the one follow-up after the output
            scripted = [e for e in s.log if str(e.data.get("event_id")).startswith("event_dup")]
            assert [(e.type, e.duplicate) for e in scripted] == [
                ("response.created", False),
                ("response.created", True),
                ("response.done", False),
                ("response.done", True),
            ]
            assert seen.count(("response.created", "resp_dup")) == 1
            assert seen.count(("response.done", "resp_dup")) == 1
            assert not [e for e in s.log if e.direction != "server" and e.duplicate]
            assert not s.errors

    run(body)


def test_an_event_the_core_cannot_fold_is_reported_once_and_still_delivered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    odd = {"type": "rate_limits.updated", "rate_limits": [], "scripted_fold_failure": True}

    async def body() -> None:
        script = Script(pace="fast").emit([odd], on="session.update", nth=2)
        async with LocalServer(pace="fast", script=script) as server, session_at(server.url) as session:
            conversation = session.connection.conversation
            real_apply = conversation.apply

            def apply(event: Event) -> None:  # a bug in the core, on this one kind of event
                if event.get("scripted_fold_failure"):
                    raise KeyError("scripted")
                real_apply(event)

            session.call_soon(setattr, conversation, "apply", apply)
            delivered = session.expect("rate_limits.updated")
            reported = session.expect("rtwidget.error")
            with caplog.at_level(logging.WARNING, "rtwidget.session"):
                session.update(instructions="be brief")
                event = await asyncio.wait_for(delivered, scaled(10))
                error = await asyncio.wait_for(reported, scaled(10))
            assert event.fold_error == "KeyError: 'scripted'" and event.get("scripted_fold_failure") is True
            assert (error["source"], error["name"], error["error_type"]) == ("protocol", event.type, "KeyError")
            assert "rate_limits.updated could not be folded into the session state (KeyError: 'scripted')" in str(
                error["message"]
            )
            assert [e["source"] for e in session.errors] == ["protocol"]
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert warnings == ["rtwidget: could not fold the server event rate_limits.updated: KeyError: 'scripted'"]
            logged = [e for e in session.log if e.data.get("scripted_fold_failure")]
            assert [(e.direction, e.duplicate) for e in logged] == [("server", False)]

    run(body)


def test_a_flood_of_unfoldable_events_is_reported_once_per_window(caplog: pytest.LogCaptureFixture) -> None:
    session = Session()
    session._failures = FailureThrottle(clock=lambda: 0.0)  # a frozen clock: every event in one window

    def apply(event: Event) -> None:
        raise KeyError("scripted")

    session.connection.conversation.apply = apply  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, "rtwidget.session"):
        events = [session._receive(json.dumps({"type": "rate_limits.updated", "rate_limits": []})) for _ in range(50)]
    assert all(e.fold_error == "KeyError: 'scripted'" for e in events)
    assert len([e for e in session.log if e.type == "rate_limits.updated"]) == 50  # every one logged
    assert [e["source"] for e in session.errors] == ["protocol"]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
