"""Session lifecycle over real loopback WebSockets: connect, state, endpoints, dialects, close, reconnect."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import pytest

import rtwidget
from rtwidget import Session, SessionClosed, endpoints
from rtwidget.server import LocalServer, Script
from rtwidget.session.endpoint_policy import choose_endpoint
from tests.support import TIMEOUT, received, run, scaled

from .sample_tools import tool_fns

ENV_NAMES = ("OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY")


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """No API key and no Azure settings in the environment."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_text_turn_and_session_state(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session(instructions="Be brief.", voice="cedar") as session:
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
            # The read accessors show the same state as the protocol core.
            assert session.conversation_state is session.connection.conversation
            assert session.conversation_state.items == session.conversation
            assert session.conversation_state.get(assistant.id) is assistant
            assert reply.response_ids[0] in session.conversation_state.responses
            assert session.response_active is False

    run(body)


def test_text_only_modality(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session(modalities=["text"]) as session:  # beta name, translated
            assert session.config["output_modalities"] == ["text"]
            reply = await session.ask("just text")
            assert reply.text == "You said: just text"
            assert received(session, "response.output_text.delta")
            assert not received(session, "response.output_audio.delta")

    run(body)


def test_blocked_thread_does_not_stall_the_session() -> None:
    # The server runs on a thread of its own, as it does in a kernel: only this thread blocks.
    server = LocalServer(pace="realtime").start_in_thread()

    async def body() -> None:
        session = Session(endpoint=server.url)
        await session.connect()
        try:
            first_audio = session.expect("response.output_audio.delta")
            session.send_text("please tell me a fairly long story about the sea and the wind")
            await asyncio.wait_for(first_audio, scaled(10))
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


def test_disconnect_surfaces_close_code() -> None:
    async def body() -> None:
        script = Script().disconnect_after(6, code=1011, reason="scripted")
        async with LocalServer(pace="realtime", script=script) as server:
            session = Session(endpoint=server.url)
            session.reconnect = False  # a drop closes the session (tests/session/test_reconnect.py: the default)
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


def test_beta_header_refused_by_ga_server(local_server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        session = Session(endpoint=local_server.url, dialect="beta")
        try:
            with pytest.raises(SessionClosed) as info:
                await session.connect()
            assert info.value.close_code == 4000
            codes = [e["error"]["code"] for e in session.errors]
            assert "beta_api_shape_disabled" in codes
        finally:
            await session.close()

    with caplog.at_level(logging.ERROR, logger="rtwidget.session"):
        run(body)
    logged = [r.getMessage() for r in caplog.records if "beta_api_shape_disabled" in r.getMessage()]
    # The server's message, then what to do, as two sentences (not "events.. This server").
    assert logged and "send GA events. This server no longer speaks the beta dialect" in logged[0]


@pytest.mark.parametrize("dialect, envelope", [("beta", False), ("ga", True), ("beta", True)])
def test_beta_dialect_and_envelope(dialect: Literal["ga", "beta"], envelope: bool) -> None:
    async def body() -> None:
        async with LocalServer(pace="fast", dialect=dialect, envelope=envelope) as server:
            calls: list[str] = []
            session = Session(
                endpoint=server.url,
                dialect=dialect,
                envelope=envelope,
                tools=tool_fns(calls)[:1],
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


def test_close_leaves_no_thread_and_events_iterator_ends(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        before = {t.name for t in threading.enumerate()}
        async with open_session() as session:
            seen: list[str] = []

            async def consume() -> None:
                async for event in session.events():
                    seen.append(event.type)

            consumer = asyncio.create_task(consume())
            await asyncio.sleep(0)
            await session.ask("hello")
            await session.close()
            await asyncio.wait_for(consumer, scaled(5))
            assert "response.done" in seen and "rtwidget.closed" in seen
            await session.close()  # twice is fine
        after = {t.name for t in threading.enumerate()}
        assert not [n for n in after - before if n.startswith("rtwidget-session")]

    run(body)


def test_default_endpoint_is_the_local_server(no_key: None, caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        session = Session(modalities=["text"])
        try:
            await session.connect()
            assert session.endpoint is not None and session.endpoint.kind == "local"
            reply = await session.ask("offline works")
            assert reply.text == "You said: offline works"
        finally:
            await session.close()

    with caplog.at_level(logging.INFO, logger="rtwidget"):
        run(body)
    notices = [r for r in caplog.records if "OPENAI_API_KEY" in r.getMessage()]
    # Said once, at INFO: the local server is a normal way to start (a widget says it in an info line).
    assert [r.levelno for r in notices] == [logging.INFO]


def test_injected_endpoint_factory_is_used_once_when_nothing_names_an_endpoint(
    no_key: None, local_server: LocalServer
) -> None:
    models: list[str] = []

    def factory(model: str) -> endpoints.Endpoint:
        models.append(model)
        return endpoints.local(local_server.url, model=model)

    async def body() -> None:
        session = rtwidget.Session(model="gpt-realtime-mini", modalities=["text"], endpoint_factory=factory)
        try:
            await session.connect()
            assert session.endpoint is not None and session.endpoint.kind == "local"
            assert session.endpoint.url == f"{local_server.url}?model=gpt-realtime-mini"
            assert (await session.ask("factory made")).text == "You said: factory made"
            await session.close()
            await session.connect()  # the endpoint was decided once: no second call
            assert (await session.ask("again")).text == "You said: again"
        finally:
            await session.close()

    run(body)
    assert models == ["gpt-realtime-mini"]


def test_endpoint_factory_is_not_called_when_an_endpoint_is_given(no_key: None, local_server: LocalServer) -> None:
    def factory(model: str) -> endpoints.Endpoint:
        raise AssertionError("the factory must not be called")

    async def body() -> None:
        session = Session(endpoint=local_server.url, modalities=["text"], endpoint_factory=factory)
        try:
            await session.connect()
            assert session.endpoint is not None and session.endpoint.kind == "custom"
        finally:
            await session.close()

    run(body)


@pytest.mark.parametrize(
    "given, env, kind",
    [
        ({"endpoint": "ws://127.0.0.1:9/v1/realtime"}, {}, "custom"),
        ({"endpoint": endpoints.custom("ws://h/rt")}, {}, "custom"),
        ({"api_key": "sk-arg"}, {}, "openai"),
        ({}, {"OPENAI_API_KEY": "sk-env"}, "openai"),
        ({}, {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "AZURE_OPENAI_API_KEY": "k"}, "azure"),
    ],
)
def test_endpoint_policy_calls_the_factory_only_when_nothing_else_names_one(
    given: dict[str, Any], env: dict[str, str], kind: str
) -> None:
    calls: list[str] = []

    def factory(model: str) -> endpoints.Endpoint:
        calls.append(model)
        return endpoints.local("ws://127.0.0.1:1/v1/realtime", model=model)

    options: dict[str, Any] = {"api_key": None, "dialect": None, "headers": None, **given}
    found = choose_endpoint(options.pop("endpoint", None), model="m", factory=factory, env=env, **options)
    assert found.kind == kind and calls == []
    fallback = choose_endpoint(None, model="m", api_key=None, dialect=None, headers=None, factory=factory, env={})
    assert fallback.kind == "local" and calls == ["m"]


def test_import_rtwidget_gives_the_session_without_the_widget_or_the_server() -> None:
    script = (
        "import sys, rtwidget\n"
        "Session = rtwidget.Session\n"
        "import rtwidget.session\n"
        "loaded = [m for m in ('rtwidget.widget', 'anywidget', 'ipywidgets', 'rtwidget.server') if m in sys.modules]\n"
        "print(Session.__module__, Session.__qualname__, loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT, check=True)
    assert out.stdout.split() == ["rtwidget.session.session", "Session", "[]"]


def test_api_key_never_in_log_or_repr(local_server: LocalServer) -> None:
    async def body() -> None:
        secret = "sk-" + "test-SECRET-0123456789abcdef"  # built at run time: no key-shaped literal in the repo
        session = Session(endpoint=local_server.url, api_key=secret, modalities=["text"])
        assert secret not in repr(vars(session))  # what the session keeps until it connects shows no key either
        await session.connect()
        try:
            await session.ask("hi")
            assert secret not in repr(vars(session))
            dumped = json.dumps([e.data for e in session.log], default=str)
            assert secret not in dumped
            assert secret not in repr(session) and secret not in repr(session.endpoint)
            assert secret not in json.dumps(session.endpoint.describe())
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
            session = Session(endpoint=server.url)
            await session.connect()
            try:
                reply = await session.ask("still alive?")
                assert reply.text == "You said: still alive?"
                types = [e.type for e in session.log if e.direction == "server"]
                assert "brand.new.event" in types
                assert any(e["error"] == "a bare string instead of an object" for e in session.errors)
                # The session's own turn watcher read the odd events without failing.
                assert not [e for e in session.errors if e.type == "rtwidget.error"]
                first_session = session.connection.session_id
                await session.close()
                await session.connect()
                assert session.connection.session_id != first_session
                assert session.conversation == []
                assert (await session.ask("again")).text == "You said: again"
            finally:
                await session.close()

    run(body)


def test_sends_made_before_connect_go_out_after_the_session_config(local_server: LocalServer) -> None:
    async def body() -> None:
        session = Session(endpoint=local_server.url, instructions="Be brief.", modalities=["text"])
        try:
            session.send_text("queued before connect")
            await session.connect()
            async with asyncio.timeout(TIMEOUT):
                while not received(session, "response.done"):
                    await asyncio.sleep(0.02)
            order = [e.type for e in session.log if e.direction == "client"]
            assert order[:3] == ["session.update", "conversation.item.create", "response.create"]
        finally:
            await session.close()

    run(body)
