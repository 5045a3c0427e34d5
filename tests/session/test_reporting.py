"""Failures made visible: server errors linked to their cause and logged at the right level; user code that
raises (handlers, log listeners, predicates, tools) kept in ``session.errors`` and announced as
``rtwidget.error``, without ever stopping the reader."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from rtwidget.protocol.events import Event
from rtwidget.session import ERROR, LogEntry
from rtwidget.session.reporting import FailureThrottle, tool_failure_data
from rtwidget.tools import ToolResult
from tests.support import run, scaled


def local_errors(session: Any) -> list[Event]:
    return [e for e in session.errors if e.type == ERROR]


def test_errors_are_linked_and_surfaced(open_session: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        async with open_session() as session:
            error_future = session.expect("error")
            event_id = session.send({"type": "conversation.item.delete", "item_id": "item_nope"})
            error = await asyncio.wait_for(error_future, scaled(10))
            assert error["error"]["event_id"] == event_id
            assert error.cause is not None and error.cause["type"] == "conversation.item.delete"
            assert list(session.errors)[-1] is error
            entry = next(e for e in session.log if e.type == "error")
            assert entry.cause_id == event_id
            harmless_future = session.expect("error")
            session.cancel()  # nothing running: a harmless race, not a warning
            harmless = await asyncio.wait_for(harmless_future, scaled(10))
            assert harmless["error"]["code"] == "response_cancel_not_active"

    with caplog.at_level(logging.DEBUG, logger="rtwidget"):
        run(body)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("item_nope" in m or "conversation.item.delete" in m for m in warnings)
    assert not any("response_cancel_not_active" in m for m in warnings)


def test_a_raising_handler_is_kept_in_errors_and_announced(
    open_session: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> None:
        async with open_session() as session:
            announced = session.expect(ERROR)

            def broken_handler(event: Event) -> None:
                raise ValueError("the handler broke")

            session.on("response.done", broken_handler)
            reply = await session.ask("hello")  # the turn is not disturbed
            assert reply.text == "You said: hello"
            error = await asyncio.wait_for(announced, scaled(10))
            assert error.data["source"] == "handler"
            assert error.data["name"] == broken_handler.__qualname__
            assert error.data["error_type"] == "ValueError" and error.data["message"] == "the handler broke"
            assert "Traceback" in error.data["traceback"] and "the handler broke" in error.data["traceback"]
            assert local_errors(session) == [error]
            logged = [e for e in session.log if e.type == ERROR]
            assert len(logged) == 1 and logged[0].direction == "local" and logged[0].data["name"] == error["name"]
            # The error comes after the event it is about.
            types = [e.type for e in session.log]
            assert types.index(ERROR) > types.index("response.done")
            session.off("response.done", broken_handler)
            assert (await session.ask("still fine")).text == "You said: still fine"
            assert len(local_errors(session)) == 1

    with caplog.at_level(logging.ERROR, logger="rtwidget"):
        run(body)
    assert any("handler" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)


def test_async_handlers_listeners_and_predicates_that_raise(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            three = asyncio.Event()
            errors: list[Event] = []

            def collect(event: Event) -> None:
                errors.append(event)
                if len(errors) == 3:
                    three.set()

            async def async_broken(event: Event) -> None:
                await asyncio.sleep(0)
                raise KeyError("async")

            def listener_broken(entry: LogEntry) -> None:
                if entry.type == "response.created":
                    raise TypeError("listener")

            def predicate_broken(event: Event) -> bool:
                raise ZeroDivisionError("predicate")

            session.on(ERROR, collect)
            session.on("response.done", async_broken)
            session.add_log_listener(listener_broken)
            never = session.expect("response.created", predicate_broken)
            await session.ask("break three things")
            await asyncio.wait_for(three.wait(), scaled(10))
            by_source = {e["source"]: e.data for e in errors}
            assert sorted(by_source) == ["handler", "listener", "predicate"]
            assert by_source["handler"]["error_type"] == "KeyError"
            assert by_source["handler"]["name"] == async_broken.__qualname__
            assert by_source["listener"]["error_type"] == "TypeError"
            assert by_source["listener"]["name"] == listener_broken.__qualname__
            assert by_source["predicate"]["error_type"] == "ZeroDivisionError"
            assert by_source["predicate"]["message"] == "predicate"
            assert not never.done()  # a failing predicate is no match
            assert local_errors(session) == errors
            never.cancel()

    run(body)


def test_a_failing_rtwidget_error_handler_does_not_recurse(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            calls: list[str] = []

            def broken_on_error(event: Event) -> None:
                calls.append(event["name"])
                raise RuntimeError("the error handler broke too")

            def broken_on_every_entry(entry: LogEntry) -> None:
                raise RuntimeError(f"listener on {entry.type}")

            def broken(event: Event) -> None:
                raise RuntimeError("first")

            session.on(ERROR, broken_on_error)
            session.on("response.done", broken)
            await session.ask("one failure")
            session.add_log_listener(broken_on_every_entry)
            settled = session.expect("session.updated")
            session.update(instructions="log this")
            await asyncio.wait_for(settled, scaled(10))
            session.remove_log_listener(broken_on_every_entry)
            assert calls[0] == broken.__qualname__
            names = [e["name"] for e in local_errors(session)]
            assert names[0] == broken.__qualname__
            # One report per entry the listener failed on, none for its failures on the reports themselves.
            listener_reports = [e for e in local_errors(session) if e["source"] == "listener"]
            assert listener_reports and all(e["message"] != f"listener on {ERROR}" for e in listener_reports)
            assert len(calls) == len(local_errors(session))
            assert (await session.ask("the reader lives")).text == "You said: the reader lives"

    run(body)


def test_a_raising_tool_is_kept_in_errors_and_announced(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:

            @session.tool
            def broken() -> str:
                """Always fails."""
                raise RuntimeError("the tool broke")

            @session.tool(timeout=0.05)
            async def stuck() -> str:
                """Never answers in time."""
                await asyncio.sleep(30)
                return "late"

            reply = await session.ask("broken then stuck")
            assert sorted(c.name for c in reply.tool_calls) == ["broken", "stuck"]
            assert not any(c.ok for c in reply.tool_calls)
            by_name = {e["name"]: e.data for e in local_errors(session)}
            assert sorted(by_name) == ["broken", "stuck"]
            assert by_name["broken"]["source"] == "tool"
            assert by_name["broken"]["error_type"] == "RuntimeError"
            assert by_name["broken"]["message"] == "the tool broke"
            assert "the tool broke" in by_name["broken"]["traceback"]
            assert by_name["stuck"]["error_type"] == "TimeoutError" and by_name["stuck"]["traceback"] == ""
            assert "timed out" in by_name["stuck"]["message"]
            done = [e.data["name"] for e in session.log if e.type in ("rtwidget.tool.done", ERROR)]
            assert done.index("broken") < len(done) - 1  # tool.done, then its error

    run(body)


@pytest.mark.parametrize(
    "kind, error, expected",
    [
        ("exception", "ValueError: bad", ("ValueError", "bad")),
        ("exception", "ValueError", ("ValueError", "")),
        ("exception", "KeyError: 'a: b'", ("KeyError", "'a: b'")),
        ("timeout", "timed out after 5 s", ("TimeoutError", "timed out after 5 s")),
        (
            "bad_output",
            "cannot convert the return value to a string: ValueError: Circular reference detected",
            ("ValueError", "cannot convert the return value to a string: ValueError: Circular reference detected"),
        ),
    ],
)
def test_tool_failure_data(kind: str, error: str, expected: tuple[str, str]) -> None:
    result = ToolResult("t", "c", {}, "{}", False, error, 0.1, "tb" if kind == "exception" else None, True, kind)
    data = tool_failure_data(result)
    assert data is not None and (data["error_type"], data["message"]) == expected
    assert data["source"] == "tool" and data["name"] == "t"
    assert data["traceback"] == ("tb" if kind == "exception" else "")


@pytest.mark.parametrize("kind", ["invalid_json", "invalid_arguments", "unknown_tool", None])
def test_tool_outcomes_that_are_not_user_code_failures(kind: str | None) -> None:
    result = ToolResult("t", "c", None, "{}", kind is None, None if kind is None else "x", 0.1, None, True, kind)
    assert tool_failure_data(result) is None


def test_the_same_failure_is_reported_at_most_once_a_window_with_the_count_held_back() -> None:
    now = [100.0]
    throttle = FailureThrottle(clock=lambda: now[0], window_s=1.0)
    first = {"source": "handler", "name": "h", "error_type": "ZeroDivisionError"}
    assert throttle.admit(first) and first["repeats"] == 0
    assert [throttle.admit(dict(first)) for _ in range(5)] == [False] * 5
    assert throttle.admit({**first, "name": "other"})  # another handler is another failure
    assert throttle.admit({**first, "error_type": "KeyError"})  # and so is another error type
    now[0] += 1.0
    later = dict(first)
    assert throttle.admit(later) and later["repeats"] == 5
    assert not throttle.admit(dict(first))


def test_a_handler_failing_on_every_event_is_one_error_not_a_flood(open_session: Callable[..., Any]) -> None:
    now = [0.0]

    async def body() -> None:
        async with open_session(modalities=["text"]) as session:
            session._failures = FailureThrottle(clock=lambda: now[0])  # a clock that stands still: one window
            calls: list[str] = []

            def broken(event: Event) -> None:
                calls.append(event.type)
                raise ZeroDivisionError("every time")

            session.on("response.", broken)
            await session.ask("hi")
            first_turn = len(calls)
            assert first_turn >= 4  # created, deltas, done...: it failed on each
            errors = [e.data for e in local_errors(session) if e.data["name"].endswith("broken")]
            assert len(errors) == 1 and errors[0]["repeats"] == 0
            now[0] += 5.0  # the window has passed: the next failure is reported, with the count held back
            await session.ask("again")
            errors = [e.data for e in local_errors(session) if e.data["name"].endswith("broken")]
            assert len(errors) == 2 and errors[1]["repeats"] == first_turn - 1

    run(body)


def test_a_key_in_a_failing_handlers_or_tools_exception_never_reaches_rtwidget_error(
    open_session: Callable[..., Any],
) -> None:
    key = "sk-" + "reporting-" + "SENTINEL" * 2  # built at run time: no key-shaped literal in the repo
    password = "pw" + "SENTINEL" * 2  # not key-shaped: only its place in the URL gives it away
    url = f"wss://bob:{password}@rt.example.com/v1/realtime?api-key={key}"

    async def body() -> None:
        async with open_session() as session:

            def leaky_handler(event: Event) -> None:
                raise ConnectionError(f"could not reach {url}")

            @session.tool
            def leaky_tool() -> str:
                """Fails quoting a URL with its credentials."""
                raise RuntimeError(f"upstream {url} said no; Authorization: Bearer {password}")

            session.on("response.done", leaky_handler)
            await session.ask("call leaky_tool")
            announced = {e["source"]: e.data for e in local_errors(session)}
            assert sorted(announced) == ["handler", "tool"]
            for data in announced.values():
                assert "<redacted>" in data["message"] and "<redacted>" in data["traceback"]
                assert "rt.example.com/v1/realtime?api-key=<redacted>" in data["message"]
            shown = repr(announced) + repr([e for e in session.log if e.type == ERROR]) + repr(local_errors(session))
            assert key not in shown and password not in shown
            # Nor does the error output the model reads, nor the tool call record, nor anything on the wire.
            (output,) = [
                e.data["item"]["output"]
                for e in session.log
                if e.type == "conversation.item.create" and e.data["item"]["type"] == "function_call_output"
            ]
            assert "upstream" in output and "<redacted>" in output
            wire = repr(list(session.log)) + repr(session.tool_calls) + repr(session.conversation)
            assert key not in wire and password not in wire

    run(body)
