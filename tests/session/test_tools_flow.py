"""Tools in a live session: every output sent, then exactly one response.create; reply=False; outputs that
land while a VAD response is active; re-registering a tool; tools raising BaseException, stuck sync tools, and
async tools that hold the I/O loop."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from rtwidget.protocol.events import Event
from rtwidget.protocol.tracker import FunctionCall
from rtwidget.server import LocalServer
from rtwidget.server.voice import default_voice
from rtwidget.session.local_events import ERROR, TOOL_DONE
from rtwidget.session.tool_runner import ToolRunner
from rtwidget.tools import ToolRegistry
from rtwidget.tools.watchdog import LOOP_BLOCK_S
from tests.support import open_session as session_at
from tests.support import run, scaled, sent

from .sample_tools import tool_fns


@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("get_weather city=Paris", ["get_weather"]),
        ("get_weather city=Paris and get_time zone=CET", ["get_weather", "get_time"]),
        (
            "get_weather city=Oslo units=f, get_time and roll_dice sides=20",
            ["get_weather", "get_time", "roll_dice"],
        ),
        ("get_weather city=Rome then broken", ["get_weather", "broken"]),
    ],
)
def test_tool_calls_get_exactly_one_response_create(
    open_session: Callable[..., Any], prompt: str, expected: list[str]
) -> None:
    async def body() -> None:
        calls: list[str] = []
        async with open_session(tools=tool_fns(calls)) as session:
            reply = await session.ask(prompt)
            assert sorted(calls) == sorted(expected)
            assert sorted(c.name for c in reply.tool_calls) == sorted(expected)
            # One response with the calls, then exactly one response.create after ALL outputs.
            creates = sent(session, "response.create")
            outputs = [
                e for e in sent(session, "conversation.item.create") if e["item"]["type"] == "function_call_output"
            ]
            assert len(outputs) == len(expected)
            assert len(creates) == 2  # the ask's own, and the single follow-up
            order = [e.data.get("event_id") for e in session.log if e.direction == "client"]
            assert order.index(creates[1]["event_id"]) > max(order.index(o["event_id"]) for o in outputs)
            assert all(isinstance(o["item"]["output"], str) for o in outputs)
            assert len(reply.response_ids) == 2
            for record in reply.tool_calls:
                assert record.output in reply.text or record.name in reply.text
            assert reply.tool_calls == session.tool_calls
            failed = [r for r in reply.tool_calls if not r.ok]
            if "broken" in expected:
                assert failed and "the tool broke" in failed[0].output
                assert [e["name"] for e in session.errors if e.type == "rtwidget.error"] == ["broken"]
            else:
                assert not failed
                assert not session.errors
            assert not [e for e in session.errors if e.type == "error"]

    run(body)


def test_reply_false_tool_gets_no_follow_up(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        # Push-to-talk: nothing else creates a response, so the doctor would call an unanswered output silent.
        async with open_session(turn_detection=None) as session:
            noted: list[str] = []

            @session.tool(reply=False)
            def note(text: str = "") -> str:
                """Remember something silently."""
                noted.append(text)
                return "noted"

            reply = await session.ask("note text=milk")
            assert noted == ["milk"]
            assert len(sent(session, "response.create")) == 1
            assert [c.name for c in reply.tool_calls] == ["note"]
            await asyncio.sleep(0.3)
            assert len(sent(session, "response.create")) == 1
            await asyncio.sleep(2.0)  # past the doctor's grace after an output (1.5 s)
            assert not session.hints, "a reply=False output asks for no reply: the silence is wanted"

    run(body)


def test_output_after_vad_response_started_waits_for_it() -> None:
    """A tool output that lands while a VAD-made response is active: no create until it ends, then one."""

    async def body() -> None:
        speech = default_voice().synthesize("hello, this is me talking over the tool")
        silence = bytes(48_000)
        async with LocalServer(pace="realtime") as server, session_at(server.url) as session:
            vad_response = asyncio.Event()
            responses: list[str] = []

            def on_created(event: Event) -> None:
                responses.append(event["response"]["id"])
                if len(responses) == 2:
                    vad_response.set()

            session.on("response.created", on_created)

            @session.tool
            async def slow_lookup(topic: str = "x") -> str:
                """Waits until the user has barged in with speech."""
                await asyncio.wait_for(vad_response.wait(), 20)
                return f"facts about {topic}"

            def answers_tool(event: Any) -> bool:
                return "facts about owls" in json.dumps(event.data)

            tool_started = session.expect("rtwidget.tool.started")
            answered = session.expect("response.done", answers_tool)
            session.send_text("slow_lookup topic=owls")
            await asyncio.wait_for(tool_started, scaled(10))
            session.append_audio(silence + speech + silence * 2)
            await asyncio.wait_for(answered, scaled(30))
            log = [e for e in session.log if e.direction in ("client", "server")]
            idx_output = next(
                i
                for i, e in enumerate(log)
                if e.type == "conversation.item.create" and e.data["item"]["type"] == "function_call_output"
            )
            vad_id = responses[1]
            idx_vad_done = next(
                i for i, e in enumerate(log) if e.type == "response.done" and e.data["response"]["id"] == vad_id
            )
            creates_after_output = [i for i, e in enumerate(log) if e.type == "response.create" and i > idx_output]
            assert idx_output < idx_vad_done, "the output must land while the VAD response is active"
            assert len(creates_after_output) == 1
            assert creates_after_output[0] > idx_vad_done
            assert not [e for e in session.errors if e.type == "error"]

    run(body, timeout=scaled(90))


def test_reregistering_a_tool_sends_one_session_update(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            before = len(sent(session, "session.update"))

            def lookup(q: str) -> str:
                """First version."""
                return "v1"

            first = session.expect("session.updated")
            session.add_tool(lookup)
            await asyncio.wait_for(first, scaled(10))

            def lookup(q: str) -> str:  # type: ignore[no-redef]
                """Second version."""
                return "v2"

            second = session.expect("session.updated")
            session.add_tool(lookup)
            updated = await asyncio.wait_for(second, scaled(10))
            assert len(sent(session, "session.update")) == before + 2
            tools = updated["session"]["tools"]
            assert [t["name"] for t in tools] == ["lookup"] and tools[0]["description"] == "Second version."
            reply = await session.ask("lookup q=x")
            assert reply.tool_calls[0].output == "v2"

    run(body)


class Fatal(BaseException):
    """A BaseException that is neither KeyboardInterrupt nor SystemExit."""


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(1), Fatal("fatal")])
@pytest.mark.parametrize("is_async", [False, True])
def test_base_exception_in_a_tool_is_an_error_output(
    open_session: Callable[..., Any], exc: BaseException, is_async: bool
) -> None:
    """The I/O thread lives: the model gets the error output and exactly one follow-up, and the next ask works."""

    async def body() -> None:
        async with open_session() as session:

            def quits() -> str:
                """Raises a BaseException."""
                raise exc

            async def aquits() -> str:
                """Raises a BaseException."""
                raise exc

            updated = session.expect("session.updated")
            session.add_tool(aquits if is_async else quits, name="quits")
            await asyncio.wait_for(updated, scaled(10))
            reply = await session.ask("quits")
            [record] = reply.tool_calls
            assert not record.ok and record.error is not None and record.error.startswith(type(exc).__name__)
            outputs = [
                e for e in sent(session, "conversation.item.create") if e["item"]["type"] == "function_call_output"
            ]
            assert [json.loads(o["item"]["output"])["tool"] for o in outputs] == ["quits"]
            assert len(sent(session, "response.create")) == 2  # the ask's own, and one follow-up
            assert [e["error_type"] for e in session.errors if e.type == "rtwidget.error"] == [type(exc).__name__]
            assert session.connected
            again = await session.ask("hello again")
            assert not again.tool_calls and len(sent(session, "response.create")) == 3

    run(body)


def test_timed_out_sync_tools_do_not_starve_the_next_tool(
    open_session: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Five sync tools stuck past their timeout hold five threads; a quick tool still runs; close() names them."""
    release = threading.Event()

    async def body() -> None:
        async with open_session() as session:
            updated = session.expect("session.updated", lambda e: len(e["session"].get("tools", [])) == 6)
            for i in range(5):

                def stuck() -> str:
                    """Blocks until the test ends."""
                    release.wait()
                    return "late"

                session.add_tool(stuck, name=f"stuck{i}", timeout=0.3)

            def quick() -> str:
                """Answers at once."""
                return "quick answer"

            session.add_tool(quick, timeout=scaled(5))
            await asyncio.wait_for(updated, scaled(10))
            reply = await session.ask("stuck0 stuck1 stuck2 stuck3 stuck4")
            assert sorted((c.name, c.ok) for c in reply.tool_calls) == [(f"stuck{i}", False) for i in range(5)]
            assert all("timed out" in (c.error or "") for c in reply.tool_calls)
            reply = await session.ask("quick")
            assert [(c.name, c.ok, c.output) for c in reply.tool_calls] == [("quick", True, "quick answer")]
            caplog.clear()

    try:
        with caplog.at_level(logging.WARNING, logger="rtwidget"):
            run(body)
        [report] = [r.getMessage() for r in caplog.records if "still running" in r.getMessage()]
        assert all(f"'stuck{i}' (call " in report for i in range(5)) and "quick" not in report
    finally:
        release.set()


def test_an_async_tool_holding_the_loop_is_reported_as_its_failure() -> None:
    """The runner's watchdog names the tool that ran without awaiting; the call still ends with its output."""
    registry = ToolRegistry()

    @registry.tool
    async def hog() -> str:
        """Blocks the loop."""
        time.sleep(1.0)  # five thresholds, no await
        return "finally"

    emitted: list[tuple[str, dict[str, Any]]] = []

    async def main() -> str:
        runner = ToolRunner(registry, lambda etype, data: emitted.append((etype, data)), loop_block_s=0.2)
        try:
            result = await runner.run(FunctionCall("call_1", "hog", "{}", "item_1", "resp_1"))
        finally:
            assert runner.shutdown() == []  # no sync call left running
        return result.output

    assert run(main()) == "finally"
    errors = [data for etype, data in emitted if etype == ERROR]
    assert [(e["source"], e["name"], e["error_type"]) for e in errors] == [("tool", "hog", "LoopBlocked")]
    assert "without awaiting" in errors[0]["message"] and "plain def" in errors[0]["message"]
    assert [etype for etype, _ in emitted].index(ERROR) < [etype for etype, _ in emitted].index(TOOL_DONE)


def test_a_session_reports_the_async_tool_that_held_its_loop(open_session: Callable[..., Any]) -> None:
    """Over the local server, at the default threshold: the user sees the tool's LoopBlocked, and the turn ends."""

    async def body() -> None:
        async with open_session() as session:
            updated = session.expect("session.updated")

            @session.tool
            async def hog() -> str:
                """Blocks the I/O loop."""
                time.sleep(3 * LOOP_BLOCK_S)  # no await
                return "finally"

            await asyncio.wait_for(updated, scaled(10))
            reply = await session.ask("hog")
            assert [(c.name, c.ok, c.output) for c in reply.tool_calls] == [("hog", True, "finally")]
            blocked = [e for e in session.errors if e.type == "rtwidget.error"]
            assert [(e["source"], e["name"], e["error_type"]) for e in blocked] == [("tool", "hog", "LoopBlocked")]
            assert len(sent(session, "response.create")) == 2

    run(body)
