"""Session <-> local server over real loopback WebSockets (no mocked sockets)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import numpy as np
import pytest

import rtwidget
from rtwidget import ClientEventError, RealtimeError, Session, SessionClosed
from rtwidget.server import LocalServer
from rtwidget.server.script import Script
from rtwidget.server.voice import default_voice

T = Any


def run(coro_fn: Callable[[], Awaitable[T]], timeout: float = 60) -> T:
    """Run an async test body with a hard time limit."""
    return asyncio.run(asyncio.wait_for(coro_fn(), timeout))


def sent(session: Session, etype: str) -> list[dict[str, Any]]:
    return [e.data for e in list(session.log) if e.direction == "client" and e.type == etype]


def received(session: Session, etype: str) -> list[dict[str, Any]]:
    return [e.data for e in list(session.log) if e.direction == "server" and e.type == etype]


async def connected(server: LocalServer, **kwargs: Any) -> Session:
    session = Session(endpoint=server.url, **kwargs)
    await session.connect()  # returns once session.updated has confirmed the config
    return session


def test_text_turn_and_session_state() -> None:
    async def body() -> None:
        async with LocalServer(pace="fast") as server:
            session = await connected(server, instructions="Be brief.", voice="cedar")
            try:
                assert session.connected and session.dialect == "ga"
                assert session.endpoint is not None and session.endpoint.kind == "custom"
                assert session.expires_at is not None and 3000 < session.time_left <= 3600
                assert session.config["audio"]["output"]["voice"] == "cedar"
                assert session.config["instructions"] == "Be brief."
                reply = await session.ask("hello there")
                assert reply.text == "You said: hello there"
                assert reply.tool_calls == [] and len(reply.response_ids) == 1
                roles = [(i.role, i.type) for i in session.conversation]
                assert roles == [("user", "message"), ("assistant", "message")]
                assistant = session.conversation[-1]
                assert assistant.audio_ms > 500  # spoken reply: audio was counted
                assert all(e.data.get("event_id") for e in session.log if e.direction == "client")
            finally:
                await session.close()

    run(body)


def test_text_only_modality() -> None:
    async def body() -> None:
        async with LocalServer(pace="fast") as server:
            session = await connected(server, modalities=["text"])  # beta name, translated
            try:
                assert session.config["output_modalities"] == ["text"]
                reply = await session.ask("just text")
                assert reply.text == "You said: just text"
                assert received(session, "response.output_text.delta")
                assert not received(session, "response.output_audio.delta")
            finally:
                await session.close()

    run(body)


def _tool_session_fns(log: list[str]) -> list[Callable[..., Any]]:
    def get_weather(city: str, units: Literal["c", "f"] = "c") -> dict[str, Any]:
        """Current weather for a city."""
        log.append("get_weather")
        return {"city": city, "temp": 21 if units == "c" else 70}

    def get_time(zone: str = "UTC") -> str:
        """The time in a zone."""
        log.append("get_time")
        return f"12:00 {zone}"

    async def roll_dice(sides: int = 6) -> int:
        """Roll a die."""
        log.append("roll_dice")
        return sides

    def broken() -> str:
        """Always fails."""
        log.append("broken")
        raise RuntimeError("the tool broke")

    return [get_weather, get_time, roll_dice, broken]


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
def test_tool_calls_get_exactly_one_response_create(prompt: str, expected: list[str]) -> None:
    async def body() -> None:
        calls: list[str] = []
        async with LocalServer(pace="fast") as server:
            session = await connected(server, tools=_tool_session_fns(calls))
            try:
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
                failed = [r for r in reply.tool_calls if not r.ok]
                if "broken" in expected:
                    assert failed and "the tool broke" in failed[0].output
                else:
                    assert not failed
                assert not [e for e in session.errors if e.type == "error"]
            finally:
                await session.close()

    run(body)


def test_reply_false_tool_gets_no_follow_up() -> None:
    async def body() -> None:
        async with LocalServer(pace="fast") as server:
            session = await connected(server)
            noted: list[str] = []

            @session.tool(reply=False)
            def note(text: str = "") -> str:
                """Remember something silently."""
                noted.append(text)
                return "noted"

            reply = await session.ask("note text=milk")
            try:
                assert noted == ["milk"]
                assert len(sent(session, "response.create")) == 1
                assert [c.name for c in reply.tool_calls] == ["note"]
                await asyncio.sleep(0.3)
                assert len(sent(session, "response.create")) == 1
            finally:
                await session.close()

    run(body)


def test_output_after_vad_response_started_waits_for_it() -> None:
    """A tool output that lands while a VAD-made response is active: no create until it ends, then one."""

    async def body() -> None:
        speech = default_voice().synthesize("hello, this is me talking over the tool")
        silence = bytes(48_000)
        async with LocalServer(pace="realtime") as server:
            session = await connected(server)
            vad_response = asyncio.Event()
            responses: list[str] = []

            def on_created(event: rtwidget.protocol.events.Event) -> None:
                responses.append(event["response"]["id"])
                if len(responses) == 2:
                    vad_response.set()

            session.on("response.created", on_created)

            @session.tool
            async def slow_lookup(topic: str = "x") -> str:
                """Waits until the user has barged in with speech."""
                await asyncio.wait_for(vad_response.wait(), 20)
                return f"facts about {topic}"

            done = asyncio.get_running_loop().create_future()

            def answers_tool(event: Any) -> bool:
                return "facts about owls" in json.dumps(event.data)

            tool_started = session.expect("rtwidget.tool.started")
            answered = session.expect("response.done", answers_tool)
            try:
                session.send_text("slow_lookup topic=owls")
                await asyncio.wait_for(tool_started, 10)
                session.append_audio(silence + speech + silence * 2)
                await asyncio.wait_for(answered, 30)
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
                done.set_result(True)
            finally:
                await session.close()
            assert done.result()

    run(body, timeout=90)


def test_blocked_thread_does_not_stall_the_session() -> None:
    # The server runs on a thread of its own, as it does in a kernel: only this thread blocks.
    server = LocalServer(pace="realtime").start_in_thread()

    async def body() -> None:
        if True:
            session = await connected(server)
            try:
                first_audio = session.expect("response.output_audio.delta")
                session.send_text("please tell me a fairly long story about the sea and the wind")
                await asyncio.wait_for(first_audio, 10)
                start = time.monotonic() - session._t0
                time.sleep(2.0)  # a cell that blocks this thread (and this loop) for seconds
                end = time.monotonic() - session._t0
                during = [e for e in session.log if e.direction == "server" and start < e.time < end]
                # Audio deltas kept arriving, timestamped while this thread was asleep.
                assert len([e for e in during if e.type == "response.output_audio.delta"]) >= 10
                spread = max(e.time for e in during) - min(e.time for e in during)
                assert spread > 1.0
            finally:
                await session.close()

    try:
        run(body)
    finally:
        server.stop_in_thread()


def test_errors_are_linked_and_surfaced(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        async with LocalServer(pace="fast") as server:
            session = await connected(server)
            try:
                error_future = session.expect("error")
                event_id = session.send({"type": "conversation.item.delete", "item_id": "item_nope"})
                error = await asyncio.wait_for(error_future, 10)
                assert error["error"]["event_id"] == event_id
                assert error.cause is not None and error.cause["type"] == "conversation.item.delete"
                assert list(session.errors)[-1] is error
                harmless_future = session.expect("error")
                session.cancel()  # nothing running: a harmless race, not a warning
                harmless = await asyncio.wait_for(harmless_future, 10)
                assert harmless["error"]["code"] == "response_cancel_not_active"
            finally:
                await session.close()

    with caplog.at_level(logging.DEBUG, logger="rtwidget"):
        run(body)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("item_nope" in m or "conversation.item.delete" in m for m in warnings)
    assert not any("response_cancel_not_active" in m for m in warnings)


def test_rejected_response_create_raises_from_ask() -> None:
    async def body() -> None:
        script = Script().fail("response.create", code="server_error", message="injected failure")
        async with LocalServer(pace="fast", script=script) as server:
            session = await connected(server)
            try:
                with pytest.raises(RealtimeError, match="injected failure") as info:
                    await session.ask("hello")
                assert info.value.code == "server_error"
                assert session.connection.tracker.busy is False
            finally:
                await session.close()

    run(body)


def test_disconnect_surfaces_close_code() -> None:
    async def body() -> None:
        script = Script().disconnect_after(6, code=1011, reason="scripted")
        async with LocalServer(pace="realtime", script=script) as server:
            session = Session(endpoint=server.url)
            await session.connect()
            try:
                with pytest.raises(SessionClosed) as info:
                    await session.ask("hello, tell me something long please")
                assert info.value.close_code == 1011
                assert session.close_code == 1011 and not session.connected
                closed = [e for e in session.log if e.type == "rtwidget.closed"]
                assert closed and closed[-1].data["code"] == 1011
            finally:
                await session.close()

    run(body)


def test_beta_header_refused_by_ga_server() -> None:
    async def body() -> None:
        async with LocalServer(pace="fast") as server:
            session = Session(endpoint=server.url, dialect="beta")
            try:
                with pytest.raises(SessionClosed) as info:
                    await session.connect()
                assert info.value.close_code == 4000
                codes = [e["error"]["code"] for e in session.errors]
                assert "beta_api_shape_disabled" in codes
            finally:
                await session.close()

    run(body)


@pytest.mark.parametrize("dialect, envelope", [("beta", False), ("ga", True), ("beta", True)])
def test_beta_dialect_and_envelope(dialect: Literal["ga", "beta"], envelope: bool) -> None:
    async def body() -> None:
        async with LocalServer(pace="fast", dialect=dialect, envelope=envelope) as server:
            calls: list[str] = []
            session = Session(
                endpoint=server.url,
                dialect=dialect,
                envelope=envelope,
                tools=_tool_session_fns(calls)[:1],
                voice="alloy",
            )
            await session.connect()
            try:
                # Inside, everything is GA whatever the wire spoke.
                assert session.config["audio"]["output"]["voice"] == "alloy"
                reply = await session.ask("hello")
                assert reply.text == "You said: hello"
                reply = await session.ask("get_weather city=Lima")
                assert calls == ["get_weather"] and "Lima" in reply.text
                types = {e.type for e in session.log if e.direction == "server"}
                assert "response.output_audio_transcript.delta" in types
                if dialect == "beta":
                    assert "conversation.item.done" not in types  # beta has only item.created
                wire = [e for e in session.log if e.direction == "client"]
                assert all(e.size > 0 for e in wire)
            finally:
                await session.close()

    run(body)


def test_out_of_band_response_stays_out_of_the_conversation() -> None:
    async def body() -> None:
        async with LocalServer(pace="fast") as server:
            session = await connected(server)
            try:
                await session.ask("the meeting is on Tuesday")
                before = [i.id for i in session.conversation]
                result = await session.respond_out_of_band(
                    "Summarise.",
                    input=["classify this: hello"],
                    metadata={"purpose": "classify"},
                    modalities=["text"],
                )
                assert "classify this: hello" in result.text
                assert result.metadata is not None and result.metadata["purpose"] == "classify"
                assert result.response["conversation_id"] is None
                assert [i.id for i in session.conversation] == before
                lanes = session.connection.conversation.out_of_band()
                assert len(lanes) == 1 and lanes[0].status == "completed"
                user_item = before[0]
                ref = await session.respond_out_of_band(input=[user_item], modalities=["text"])
                assert "Tuesday" in ref.text
            finally:
                await session.close()

    run(body)


def test_truncate_marks_what_was_heard() -> None:
    async def body() -> None:
        async with LocalServer(pace="fast") as server:
            session = await connected(server)
            try:
                await session.ask("say something long enough to interrupt")
                assistant = session.conversation[-1]
                assert assistant.audio_ms > 1000
                assert session.truncate(assistant.id, assistant.audio_ms + 5000) is None  # all heard
                truncated = session.expect("conversation.item.truncated")
                session.truncate(assistant.id, 400)
                event = await asyncio.wait_for(truncated, 10)
                assert event["audio_end_ms"] == 400
                assert assistant.truncated_at_ms == 400
            finally:
                await session.close()

    run(body)


def test_load_history_content_types() -> None:
    async def body() -> None:
        async with LocalServer(pace="fast") as server:
            session = await connected(server)
            try:
                n = 0
                three = asyncio.Event()

                def count(event: Any) -> None:
                    nonlocal n
                    n += 1
                    if n == 3:
                        three.set()

                session.on("conversation.item.done", count)
                session.load_history(
                    [
                        {"role": "system", "content": "You are terse."},
                        {"role": "user", "content": "My name is Ada."},
                        {"role": "assistant", "content": "Hello Ada."},
                    ]
                )
                await asyncio.wait_for(three.wait(), 10)
                parts = [(i.role, i.parts[0].type, i.text) for i in session.conversation]
                assert parts == [
                    ("system", "input_text", "You are terse."),
                    ("user", "input_text", "My name is Ada."),
                    ("assistant", "output_text", "Hello Ada."),
                ]
                assert not session.errors
                assert len(sent(session, "response.create")) == 0  # history asks for no reply
            finally:
                await session.close()

    run(body)


def test_audio_input_numpy_at_16khz() -> None:
    async def body() -> None:
        async with LocalServer(pace="fast") as server:
            session = await connected(server, turn_detection=None)
            try:
                t = np.arange(16_000 * 2) / 16_000
                tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)  # 2 s at 16 kHz, float
                done_future = session.expect("response.done")
                session.send_audio(tone, sample_rate=16_000)
                done = await asyncio.wait_for(done_future, 15)
                assert done["response"]["status"] == "completed"
                user = next(i for i in session.conversation if i.role == "user")
                assert abs(user.audio_ms - 2000) < 50 or user.input_audio_ms is None
                assistant = session.conversation[-1]
                assert "2.0 seconds" in assistant.text
            finally:
                await session.close()

    run(body)


def test_push_to_talk_commit_and_empty_commit_error() -> None:
    async def body() -> None:
        speech = default_voice().synthesize("push to talk")
        async with LocalServer(pace="fast") as server:
            session = await connected(server, turn_detection=None)
            try:
                assert session.config["audio"]["input"]["turn_detection"] is None
                committed_future = session.expect("input_audio_buffer.committed")
                item_done = session.expect("conversation.item.done")
                session.append_audio(speech)
                session.commit_audio()
                committed = await asyncio.wait_for(committed_future, 10)
                await asyncio.wait_for(item_done, 10)
                item = session.connection.conversation.get(committed["item_id"])
                assert item is not None and abs(item.audio_ms - len(speech) / 48) < 1
                error_future = session.expect("error")
                session.commit_audio()  # nothing left: the server says so, and we see it
                error = await asyncio.wait_for(error_future, 10)
                assert error["error"]["code"] == "input_audio_buffer_commit_empty"
                assert error.cause is not None and error.cause["type"] == "input_audio_buffer.commit"
            finally:
                await session.close()

    run(body)


def test_bad_input_is_refused_before_sending() -> None:
    async def body() -> None:
        async with LocalServer(pace="fast") as server:
            session = await connected(server)
            try:
                n = len(session.log)
                with pytest.raises(ClientEventError, match=r"item.content\[0\].type.*input_text"):
                    session.send(
                        {
                            "type": "conversation.item.create",
                            "item": {
                                "type": "message",
                                "role": "user",
                                "content": [{"type": "text", "text": "hi"}],
                            },
                        }
                    )
                with pytest.raises(ClientEventError, match=r"session\.modalities.*output_modalities"):
                    session.send({"type": "session.update", "session": {"type": "realtime", "modalities": ["text"]}})
                with pytest.raises(ClientEventError, match="did you mean"):
                    session.update(instrucions="typo")
                assert len(session.log) == n  # nothing was sent
            finally:
                await session.close()

    run(body)


def test_reregistering_a_tool_sends_one_session_update() -> None:
    async def body() -> None:
        async with LocalServer(pace="fast") as server:
            session = await connected(server)
            try:
                before = len(sent(session, "session.update"))

                def lookup(q: str) -> str:
                    """First version."""
                    return "v1"

                first = session.expect("session.updated")
                session.add_tool(lookup)
                await asyncio.wait_for(first, 10)

                def lookup(q: str) -> str:
                    """Second version."""
                    return "v2"

                second = session.expect("session.updated")
                session.add_tool(lookup)
                updated = await asyncio.wait_for(second, 10)
                assert len(sent(session, "session.update")) == before + 2
                tools = updated["session"]["tools"]
                assert [t["name"] for t in tools] == ["lookup"] and tools[0]["description"] == "Second version."
                reply = await session.ask("lookup q=x")
                assert reply.tool_calls[0].output == "v2"
            finally:
                await session.close()

    run(body)


def test_close_leaves_no_thread_and_events_iterator_ends() -> None:
    async def body() -> None:
        before = {t.name for t in threading.enumerate()}
        async with LocalServer(pace="fast") as server:
            session = await connected(server)
            seen: list[str] = []

            async def consume() -> None:
                async for event in session.events():
                    seen.append(event.type)

            consumer = asyncio.create_task(consume())
            await asyncio.sleep(0)
            await session.ask("hello")
            await session.close()
            await asyncio.wait_for(consumer, 5)
            assert "response.done" in seen and "rtwidget.closed" in seen
            await session.close()  # twice is fine
        after = {t.name for t in threading.enumerate()}
        assert not [n for n in after - before if n.startswith("rtwidget-session")]

    run(body)


def test_default_endpoint_is_the_local_server(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    async def body() -> None:
        session = Session(modalities=["text"])
        try:
            await session.connect()
            assert session.endpoint is not None and session.endpoint.kind == "local"
            reply = await session.ask("offline works")
            assert reply.text == "You said: offline works"
        finally:
            await session.close()

    with caplog.at_level(logging.WARNING, logger="rtwidget"):
        run(body)
    notices = [r.getMessage() for r in caplog.records if "OPENAI_API_KEY" in r.getMessage()]
    assert len(notices) == 1


def test_api_key_never_in_log_or_repr() -> None:
    async def body() -> None:
        secret = "sk-" + "test-SECRET-0123456789abcdef"  # built at run time: no key-shaped literal in the repo
        async with LocalServer(pace="fast") as server:
            session = Session(endpoint=server.url, api_key=secret, modalities=["text"])
            await session.connect()
            try:
                await session.ask("hi")
                dumped = json.dumps([e.data for e in session.log], default=str)
                assert secret not in dumped
                assert secret not in repr(session) and secret not in repr(session.endpoint)
                assert secret not in json.dumps(session.endpoint.describe())
            finally:
                await session.close()

    run(body)


def test_text_typed_during_a_response_is_answered_after_it() -> None:
    async def body() -> None:
        async with LocalServer(pace="realtime") as server:
            session = await connected(server)
            try:
                first_audio = session.expect("response.output_audio.delta")
                answered = session.expect("response.done", lambda e: "second message" in json.dumps(e.data))
                session.send_text("first message, answered at length")
                await asyncio.wait_for(first_audio, 10)
                session.send_text("second message")  # the first response is still speaking
                await asyncio.wait_for(answered, 30)
                assert len(sent(session, "response.create")) == 2
                assert not session.errors  # no conversation_already_has_active_response
                texts = [i.text for i in session.conversation if i.role == "assistant"]
                assert texts == ["You said: first message, answered at length", "You said: second message"]
            finally:
                await session.close()

    run(body)


def test_reader_survives_odd_server_messages_and_reconnect_starts_fresh() -> None:
    odd = [
        {"type": "error", "error": "a bare string instead of an object"},
        {"type": "response.done", "response": "not an object"},
        {"type": "brand.new.event", "payload": [1, 2, 3]},
    ]

    async def body() -> None:
        script = Script().emit(odd, after_events=1)
        async with LocalServer(pace="fast", script=script) as server:
            session = await connected(server)
            try:
                reply = await session.ask("still alive?")
                assert reply.text == "You said: still alive?"
                types = [e.type for e in session.log if e.direction == "server"]
                assert "brand.new.event" in types
                assert any(e["error"] == "a bare string instead of an object" for e in session.errors)
                first_session = session.connection.session_id
                await session.close()
                await session.connect()
                assert session.connection.session_id != first_session
                assert session.conversation == []
                assert (await session.ask("again")).text == "You said: again"
            finally:
                await session.close()

    run(body)
