"""The event bus: patterns, handlers, waiters, subscribers and log listeners, alone and in a live session;
registration from many threads at once while events flow."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import Callable
from typing import Any

import pytest

from rtwidget.errors import SessionClosed
from rtwidget.protocol.events import Event
from rtwidget.session import SENT, LogEntry
from rtwidget.session.dispatch import EventBus, matches
from tests.support import run, scaled

THREADS = 8
PER_THREAD = 150


def bus_with_failures() -> tuple[EventBus, list[tuple[str, str, str]]]:
    """A bus whose async handlers run on the current loop, and the failures it reported."""
    failures: list[tuple[str, str, str]] = []
    bus = EventBus(asyncio.ensure_future, lambda source, name, exc: failures.append((source, name, str(exc))))
    return bus, failures


@pytest.mark.parametrize(
    "pattern, etype, expected",
    [
        ("*", "response.done", True),
        ("response.done", "response.done", True),
        ("response.", "response.output_audio.delta", True),
        ("response.*", "response.done", True),
        ("response.*.delta", "response.output_audio.delta", True),
        ("response", "response.done", False),
        ("response.done", "response.created", False),
        ("rtwidget.", "rtwidget.tool.done", True),
        ("rtwidget.tool.*", "rtwidget.closed", False),
    ],
)
def test_patterns(pattern: str, etype: str, expected: bool) -> None:
    assert matches(pattern, etype) is expected


def test_handlers_waiters_and_subscribers_see_events_in_that_order() -> None:
    async def body() -> None:
        bus, failures = bus_with_failures()
        order: list[str] = []
        bus.on("response.", lambda e: order.append(f"handler {e.type}"))
        waiter = bus.expect("response.done", lambda e: e["n"] == 2)
        waiter.add_done_callback(lambda f: order.append(f"waiter {f.result()['n']}"))

        async def consume() -> list[str]:
            return [e.type async for e in bus.events()]

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0)  # the subscriber registers
        for n in (1, 2, 3):
            bus.dispatch(Event("response.done", {"type": "response.done", "n": n}))
        bus.dispatch(Event("session.updated", {"type": "session.updated"}))
        bus.end_subscribers()
        assert await asyncio.wait_for(consumer, scaled(5)) == ["response.done"] * 3 + ["session.updated"]
        assert (await waiter)["n"] == 2
        assert order == ["handler response.done"] * 3 + ["waiter 2"]
        assert failures == [] and bus.listening  # the handler stays registered


def test_listening_and_off_by_type_handler_or_both() -> None:
    bus, _ = bus_with_failures()
    seen: list[str] = []

    def first(event: Event) -> None:
        seen.append("first")

    def second(event: Event) -> None:
        seen.append("second")

    assert not bus.listening
    bus.on("a", first)
    bus.on("b", first)
    bus.on("a", second)
    assert bus.listening
    bus.off("a", first)  # only that pair
    bus.dispatch(Event("a", {}))
    bus.dispatch(Event("b", {}))
    assert seen == ["second", "first"]
    bus.off(handler=first)  # every type
    bus.off("a")  # every handler of the type
    seen.clear()
    bus.dispatch(Event("a", {}))
    bus.dispatch(Event("b", {}))
    assert seen == [] and not bus.listening


def test_the_users_off_never_removes_internal_handlers() -> None:
    bus, _ = bus_with_failures()
    seen: list[str] = []

    def mine(event: Event) -> None:
        seen.append(f"user {event.type}")

    def ours(event: Event) -> None:
        seen.append(f"internal {event.type}")

    bus.on("*", ours, internal=True)
    bus.on("*", mine)
    bus.on("*", mine, internal=True)  # the same callable as both: each registration keeps its own kind
    bus.off()  # every user handler
    bus.off("*")
    bus.off("*", ours)  # an internal handler passed to the user's off(): still not removed
    bus.off(handler=mine)
    bus.dispatch(Event("a", {}))
    assert seen == ["internal a", "user a"] and bus.listening
    bus.off_internal("*", ours)
    bus.off_internal("*", mine)
    seen.clear()
    bus.dispatch(Event("b", {}))
    assert seen == [] and not bus.listening


def test_session_off_leaves_internal_handlers_working(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            internal: list[str] = []
            user: list[str] = []

            def ours(event: Event) -> None:
                internal.append(event.type)

            session._on_internal("response.done", ours)
            session.on("response.done", lambda e: user.append(e.type))
            session.off()  # the user's "remove all my handlers"
            await session.ask("still heard inside?")
            assert internal == ["response.done"] and user == []
            session._off_internal("response.done", ours)
            await session.ask("and now?")
            assert internal == ["response.done"]

    run(body)


def test_off_from_a_handler_during_ask_does_not_strand_the_ask(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            session.on("response.created", lambda e: session.off())  # the user clears their handlers mid-turn
            reply = await session.ask("hello", timeout=scaled(10))
            assert reply.text == "You said: hello"

    run(body)


def test_a_handler_added_during_delivery_sees_the_next_event() -> None:
    bus, _ = bus_with_failures()
    seen: list[str] = []

    def late(event: Event) -> None:
        seen.append(f"late {event.type}")

    def adder(event: Event) -> None:
        seen.append(f"adder {event.type}")
        bus.on("*", late)
        bus.off("*", adder)  # removing itself mid-delivery is fine too

    bus.on("*", adder)
    bus.dispatch(Event("one", {}))
    bus.dispatch(Event("two", {}))
    assert seen == ["adder one", "late two"]


def test_log_listeners_add_remove_and_a_failing_one_is_reported() -> None:
    bus, failures = bus_with_failures()
    got: list[str] = []

    def listener(entry: LogEntry) -> None:
        got.append(entry.type)

    def broken(entry: LogEntry) -> None:
        raise ValueError(f"no {entry.type}")

    bus.add_log_listener(listener)
    bus.add_log_listener(broken)
    bus.deliver_log(LogEntry(0.0, "server", "x", 1, {}))
    bus.remove_log_listener(broken)
    bus.remove_log_listener(broken)  # not there any more: no error
    bus.deliver_log(LogEntry(0.0, "server", "y", 1, {}))
    bus.remove_log_listener(listener)
    bus.deliver_log(LogEntry(0.0, "server", "z", 1, {}))
    assert got == ["x", "y"]
    assert failures == [("listener", broken.__qualname__, "no x")]


def test_failures_while_delivering_rtwidget_error_are_not_reported_again() -> None:
    bus, failures = bus_with_failures()

    def broken(event: Event) -> None:
        raise RuntimeError(event.type)

    bus.on("*", broken)
    bus.add_log_listener(lambda entry: broken(Event(entry.type, {})))
    bus.dispatch(Event("rtwidget.error", {}))
    bus.deliver_log(LogEntry(0.0, "local", "rtwidget.error", 0, {}))
    assert failures == []
    bus.dispatch(Event("other", {}))
    assert failures == [("handler", broken.__qualname__, "other")]


def test_fail_waiters_and_a_waiter_whose_loop_is_gone() -> None:
    bus, _ = bus_with_failures()

    async def orphan() -> asyncio.Future[Event]:
        return bus.expect("x")

    gone = asyncio.run(orphan())  # its loop is closed now: settling it must not break delivery

    async def body() -> None:
        live = bus.expect("x")
        bus.dispatch(Event("x", {"n": 1}))
        assert (await live)["n"] == 1
        waiter = bus.expect("x")
        bus.fail_waiters(ConnectionError("closed"))
        with pytest.raises(ConnectionError):
            await waiter
        bus.dispatch(Event("x", {"n": 2}))  # nobody waits any more

    run(body)
    assert not gone.done()


def test_sent_events_reach_waiters_and_subscribers_without_any_handler(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            sent = session.expect(SENT, lambda e: e.get("type") == "conversation.item.create")
            session.send_text("no handler here", respond=False)
            event = await asyncio.wait_for(sent, scaled(10))
            assert event.type == SENT and event["item"]["content"][0]["text"] == "no handler here"

    run(body)


def test_handler_decorator_log_listeners_and_response_active(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            active: dict[str, bool] = {}
            entries: list[LogEntry] = []

            @session.on("response.output_audio.delta")
            def during(event: Event) -> None:
                active.setdefault("during", session.response_active)

            @session.on("response.done")
            def after(event: Event) -> None:
                active["after"] = session.response_active

            session.add_log_listener(entries.append)
            await session.ask("are you active?")
            session.remove_log_listener(entries.append)
            count = len(entries)
            await session.ask("not listened to")
            assert active == {"during": True, "after": False}
            assert count > 0 and len(entries) == count
            assert [e.type for e in entries if e.direction == "client"][:2] == [
                "conversation.item.create",
                "response.create",
            ]

    run(body)


MARK = "mark the registrations"


def note_if_marked(sink: list[tuple[int, int]], key: tuple[int, int], item: Event | LogEntry) -> None:
    """A handler or log listener (bound with functools.partial): note ``key`` for the marking session.updated."""
    if item.data.get("type") == "session.updated" and item.data["session"].get("instructions") == MARK:
        sink.append(key)


def register_and_remove(session: Any, i: int, sinks: tuple[list[Any], list[Any]], start: threading.Barrier) -> None:
    """From thread ``i``: PER_THREAD handlers and log listeners, each even one removed right after the next."""
    fired, logged = sinks
    handlers = [functools.partial(note_if_marked, fired, (i, k)) for k in range(PER_THREAD)]
    listeners = [functools.partial(note_if_marked, logged, (i, k)) for k in range(PER_THREAD)]
    start.wait()
    for k in range(PER_THREAD):
        session.on("*", handlers[k])
        session.add_log_listener(listeners[k])
        if k % 2:  # keep the odd ones
            session.off("*", handlers[k - 1])
            session.remove_log_listener(listeners[k - 1])


def produce_traffic(session: Any, start: threading.Barrier, stop: threading.Event) -> None:
    """Keep events flowing (sent and received) until ``stop``, at least five messages."""
    start.wait()
    n = 0
    while not stop.is_set() or n < 5:
        session.send_text(f"traffic {n}", respond=False)
        n += 1


def test_handlers_and_listeners_registered_from_eight_threads_while_events_flow(
    open_session: Callable[..., Any],
) -> None:
    """Registrations and removals race with each other and with deliveries: none is lost or doubled."""

    async def body() -> None:
        async with open_session() as session:
            sinks: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])  # appended on the I/O thread
            start, stop = threading.Barrier(THREADS + 1, timeout=scaled(30)), threading.Event()
            loop = asyncio.get_running_loop()
            registering = [
                loop.run_in_executor(pool, register_and_remove, session, i, sinks, start) for i in range(THREADS)
            ]
            producing = loop.run_in_executor(pool, produce_traffic, session, start, stop)
            await asyncio.gather(*registering)  # raises what a thread raised
            stop.set()
            await producing
            marked = session.expect("session.updated", lambda e: e["session"].get("instructions") == MARK)
            session.update(instructions=MARK)
            await asyncio.wait_for(marked, scaled(10))  # handlers and listeners ran before the waiter
            expected = sorted((i, k) for i in range(THREADS) for k in range(PER_THREAD) if k % 2)
            for sink in sinks:
                assert sorted(sink) == expected and len(sink) == len(set(sink))
            assert not [e for e in session.errors if e.type == "rtwidget.error"]
            assert len([e for e in session.log if e.type == "conversation.item.done"]) >= 5

    with concurrent.futures.ThreadPoolExecutor(THREADS + 1) as pool:
        run(body)


def test_events_iterator_sees_server_and_local_events(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            seen: list[str] = []
            done = asyncio.Event()

            async def consume() -> None:
                async for event in session.events():
                    seen.append(event.type)
                    if event.type == "response.done":
                        done.set()

            consumer = asyncio.create_task(consume())
            await asyncio.sleep(0)
            session.send_text("iterate")
            await asyncio.wait_for(done.wait(), scaled(10))
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
            assert SENT in seen and "response.created" in seen and seen[-1] == "response.done"

    run(body)


def test_a_drop_fails_waiters_for_server_events_and_keeps_those_for_local_ones() -> None:
    async def body() -> None:
        bus, _ = bus_with_failures()
        server_event = bus.expect("response.done")
        everything = bus.expect("*")
        reconnected = bus.expect("rtwidget.reconnected")
        bus.fail_waiters(SessionClosed(None, "dropped"), keep_local=True)
        await asyncio.sleep(0)
        for future in (server_event, everything):
            assert isinstance(future.exception(), SessionClosed)
        assert not reconnected.done()
        bus.dispatch(Event("rtwidget.reconnected", {"type": "rtwidget.reconnected"}))
        assert (await asyncio.wait_for(reconnected, 1)).type == "rtwidget.reconnected"
        late = bus.expect("rtwidget.closed")
        bus.fail_waiters(SessionClosed(None, "closed"))  # a real close ends every wait
        await asyncio.sleep(0)
        assert isinstance(late.exception(), SessionClosed)

    asyncio.run(body())
