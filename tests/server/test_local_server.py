"""LocalServer over real loopback WebSockets, with the plain ``websockets`` client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rtwidget.server import LocalServer, Script, shared_server
from rtwidget.server.local_server import _model_from
from tests.support import run, scaled

ROOT = Path(__file__).resolve().parents[2]


async def recv(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), scaled(5)))  # type: ignore[no-any-return]


async def recv_until(ws: ClientConnection, type_: str) -> list[dict[str, Any]]:
    events = []
    while True:
        events.append(await recv(ws))
        if events[-1]["type"] == type_:
            return events


def test_ga_server_refuses_beta_clients_with_close_4000(local_server: LocalServer) -> None:
    async def main() -> tuple[dict[str, Any], int | None]:
        headers = {"Authorization": "Bearer sk-whatever", "OpenAI-Beta": "realtime=v1"}
        async with connect(local_server.url + "?model=gpt-realtime", additional_headers=headers) as ws:
            event = await recv(ws)
            with pytest.raises(ConnectionClosed):
                await recv(ws)
            return event, ws.close_code

    event, code = run(main())
    assert event["type"] == "error" and event["error"]["code"] == "beta_api_shape_disabled"
    assert event["error"]["message"].startswith("The Realtime Beta API is no longer supported")
    assert code == 4000


def test_beta_server_speaks_beta() -> None:
    async def main() -> list[dict[str, Any]]:
        server = await LocalServer(dialect="beta", pace="fast").start()
        async with server, connect(server.url, additional_headers={"OpenAI-Beta": "realtime=v1"}) as ws:
            created = await recv(ws)
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
            await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            await ws.send(json.dumps({"type": "response.create"}))
            return [created, *await recv_until(ws, "response.done")]

    events = run(main())
    assert events[0]["session"]["modalities"] == ["text", "audio"] and "audio" not in events[0]["session"]
    names = [e["type"] for e in events]
    assert "conversation.item.created" in names and "response.audio.delta" in names
    assert "conversation.item.added" not in names


def test_paths_models_subprotocol_and_404(local_server: LocalServer) -> None:
    async def main() -> list[Any]:
        out: list[Any] = []
        base = f"ws://127.0.0.1:{local_server.port}"
        for path in (
            "/v1/realtime",
            "/v1/realtime?model=gpt-realtime-mini",
            "/openai/v1/realtime?model=my-deployment",
            "/openai/realtime?api-version=2025-04-01-preview&deployment=preview-dep",
            "/",
        ):
            async with connect(base + path, additional_headers={"api-key": "x"}) as ws:
                out.append((await recv(ws))["session"]["model"])
        async with connect(local_server.url, subprotocols=["realtime", "openai-insecure-api-key.ek_1"]) as ws:  # type: ignore[list-item]
            out.append(ws.subprotocol)
        with pytest.raises(InvalidStatus) as info:
            async with connect(base + "/v2/elsewhere"):
                pass
        out.append(info.value.response.status_code)
        return out

    assert run(main()) == [
        "gpt-realtime",
        "gpt-realtime-mini",
        "my-deployment",
        "preview-dep",
        "gpt-realtime",
        "realtime",
        404,
    ]
    assert _model_from("/openai/realtime?deployment=a&model=b") == "b"


def test_scripted_disconnect_and_ping() -> None:
    script = Script().disconnect_after(3, code=1011, reason="scripted failure")

    async def main() -> tuple[list[str], int | None, str | None]:
        async with LocalServer(pace="fast", script=script) as server, connect(server.url) as ws:
            pong = await ws.ping()
            await asyncio.wait_for(pong, 5)
            types = [(await recv(ws))["type"]]
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
            await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            types += [(await recv(ws))["type"], (await recv(ws))["type"]]
            with pytest.raises(ConnectionClosed):
                await recv(ws)
            return types, ws.close_code, ws.close_reason

    types, code, reason = run(main())
    assert types == ["session.created", "conversation.item.added", "conversation.item.done"]
    assert code == 1011 and reason == "scripted failure"


def test_realtime_pace_streams_audio_at_real_time() -> None:
    async def main() -> tuple[float, float]:
        async with LocalServer(pace="realtime") as server, connect(server.url) as ws:
            await recv(ws)
            text = "one two three four five six seven eight nine ten eleven twelve"
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
            await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            await ws.send(json.dumps({"type": "response.create"}))
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            audio_bytes = 0
            for event in await recv_until(ws, "response.done"):
                if event["type"] == "response.output_audio.delta":
                    audio_bytes += len(event["delta"]) * 3 // 4
            return loop.time() - t0, audio_bytes / 48000

    elapsed, seconds = run(main())
    assert seconds > 2.0
    assert seconds - 0.4 < elapsed < seconds + scaled(0.5)  # released at real time, a quarter second ahead


def test_envelope_server() -> None:
    async def main() -> dict[str, Any]:
        async with LocalServer(pace="fast", envelope=True) as server, connect(server.url) as ws:
            return await recv(ws)

    created = run(main())
    assert created["type"] == "realtime.session.created" and "session" in created["data"]


def test_stop_closes_connections_and_leaves_no_task() -> None:
    async def main() -> tuple[int | None, int]:
        before = asyncio.all_tasks()
        server = await LocalServer(pace="fast").start()
        ws = await connect(server.url)
        await recv(ws)
        assert server.open_connections == 1
        await server.stop()
        with pytest.raises(ConnectionClosed):
            await recv(ws)
        await ws.close()
        await asyncio.sleep(0)
        others = asyncio.all_tasks() - before
        return ws.close_code, len(others)

    code, tasks = run(main())
    assert code == 1001 and tasks == 0


def test_in_thread_server_and_shared_server() -> None:
    threads_before = threading.active_count()
    server = LocalServer(pace="fast").start_in_thread()
    try:

        async def talk(url: str) -> str:
            async with connect(url) as ws:
                return str((await recv(ws))["type"])

        assert run(talk(server.url)) == "session.created"
    finally:
        server.stop_in_thread()
    assert not server.running and threading.active_count() == threads_before
    shared = shared_server()
    assert shared is shared_server() and shared.pace == "realtime"
    assert run(talk(shared.url)) == "session.created"


@contextlib.contextmanager
def serving(*args: str) -> Iterator[str]:
    """A server run from the command line with ``args``: its printed URL; SIGTERM ends it with status 0."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        assert proc.wait(scaled(10)) == 0


@pytest.mark.parametrize("command", [["-m", "rtwidget.server"], ["-m", "rtwidget.cli", "serve"]])
def test_cli_serve_prints_the_url_and_stops_on_sigterm(tmp_path: Path, command: list[str]) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"pace": "fast", "rules": [{"after_events": 1, "error": {"message": "hi"}}]}))
    with serving(*command, "--port", "0", "--script", str(script)) as url:
        assert url.startswith("ws://127.0.0.1:") and url.endswith("/v1/realtime")

        async def talk() -> list[str]:
            async with connect(url) as ws:
                return [(await recv(ws))["type"], (await recv(ws))["type"]]

        assert run(talk()) == ["session.created", "error"]


def test_serve_envelope_flag_wraps_every_event() -> None:
    with serving("-m", "rtwidget.cli", "serve", "--envelope", "--pace", "fast") as url:

        async def talk() -> dict[str, Any]:
            async with connect(url) as ws:
                return await recv(ws)

        assert run(talk())["type"] == "realtime.session.created"


@pytest.mark.parametrize("value, pace", [("fast", "fast"), ("", "realtime"), ("slow", None)])
def test_shared_server_pace_from_the_environment(value: str, pace: str | None) -> None:
    # The shared server is process-wide: each case in a fresh interpreter.
    code = "from rtwidget.server import shared_server\nprint(shared_server().pace)"
    env = {**os.environ, "RTWIDGET_LOCAL_PACE": value, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=scaled(60))
    if pace is None:
        assert done.returncode != 0
        assert "RTWIDGET_LOCAL_PACE='slow' is not a pace: set it to 'realtime' or 'fast'" in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == pace
