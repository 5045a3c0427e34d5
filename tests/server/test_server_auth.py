"""The local server's token, over real loopback sockets: who gets in, what the others get, and what is logged."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from rtwidget.server import LocalServer
from rtwidget.server.auth import is_loopback, offered_key, redact_query, token_matches
from tests.support import run, scaled

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sentinel-token-Zq81xP"


async def first_event(url: str, **kwargs: Any) -> tuple[str, str | None]:
    async with connect(url, **kwargs) as ws:
        return json.loads(await ws.recv())["type"], ws.subprotocol


async def refusal(url: str, **kwargs: Any) -> tuple[int, str, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, **kwargs):
            pass
    response = info.value.response
    return response.status_code, response.headers["Content-Type"], json.loads(response.body)


def test_a_token_lets_in_only_clients_that_send_it_in_any_of_the_three_places() -> None:
    async def main() -> list[Any]:
        async with LocalServer(pace="fast", token=TOKEN) as server:
            return [
                await first_event(server.url, additional_headers={"Authorization": f"Bearer {TOKEN}"}),
                await first_event(server.url, additional_headers={"api-key": TOKEN}),
                await first_event(server.url, subprotocols=["realtime", f"openai-insecure-api-key.{TOKEN}"]),  # type: ignore[list-item]
                await refusal(server.url),
                await refusal(server.url, additional_headers={"Authorization": f"Bearer {TOKEN}x"}),
                await refusal(server.url, additional_headers={"api-key": TOKEN[:-1]}),
                await refusal(server.url, subprotocols=["realtime", "openai-insecure-api-key.nope"]),  # type: ignore[list-item]
                server.open_connections,
            ]

    ok1, ok2, ok3, missing, *wrong, left = run(main())
    assert ok1 == ok2 == ("session.created", None) and ok3 == ("session.created", "realtime")
    status, content_type, body = missing
    assert (status, content_type) == (401, "application/json")
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["code"] == "invalid_api_key"
    assert body["error"]["param"] is None and "didn't provide an API key" in body["error"]["message"]
    for status, _, body in wrong:
        assert status == 401 and body["error"]["message"].startswith("Incorrect API key provided")
        assert body["error"]["code"] == "invalid_api_key" and TOKEN[:6] not in json.dumps(body)
    assert left == 0


def test_the_token_never_reaches_the_log_even_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        async with LocalServer(pace="fast", token=TOKEN) as server:
            await first_event(server.url, additional_headers={"Authorization": f"Bearer {TOKEN}"})
            await first_event(server.url, subprotocols=["realtime", f"openai-insecure-api-key.{TOKEN}"])  # type: ignore[list-item]
            await refusal(server.url, additional_headers={"api-key": TOKEN + "-wrong"})
            await refusal(server.url + f"?model=m&api-key={TOKEN}")  # a key in the query is not one of the three

    run(main())
    server_lines = [r.getMessage() for r in caplog.records if r.name.startswith("rtwidget.server")]
    assert any("[redacted]" in line for line in server_lines)  # websockets did log the headers, hidden
    assert any("missing or wrong token" in line for line in server_lines)
    # Every line but the test client's own (websockets.client logs what it sends; not the server's concern).
    assert not [r for r in caplog.records if TOKEN in r.getMessage() and r.name != "websockets.client"]


def test_any_host_but_loopback_warns_and_generates_a_token(caplog: pytest.LogCaptureFixture) -> None:
    assert LocalServer().token is None and not LocalServer().exposed
    with pytest.raises(ValueError, match="token must be a non-empty string"):
        LocalServer(token=" ")
    with pytest.raises(TypeError, match="host must be a string"):
        LocalServer(host=127001)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port must be an integer from 0"):
        LocalServer(port=70000)

    async def main() -> list[Any]:
        async with LocalServer("0.0.0.0", pace="fast") as server:
            assert server.exposed and server.token is not None and len(server.token) >= 32
            url = f"ws://127.0.0.1:{server.port}/v1/realtime"
            return [await refusal(url), await first_event(url, additional_headers={"api-key": server.token})]

    with caplog.at_level(logging.WARNING, logger="rtwidget.server"):
        refused, admitted = run(main())
    assert refused[0] == 401 and admitted[0] == "session.created"
    assert any("reachable from other machines" in r.getMessage() for r in caplog.records)
    assert LocalServer("0.0.0.0").token != LocalServer("0.0.0.0").token  # random, not a fixed default


def test_loopback_and_key_parsing() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org", ""):
        assert not is_loopback(host), host
    assert offered_key({"Authorization": "bearer  abc "}) == "abc"
    assert offered_key({"Authorization": "Basic abc", "api-key": "k"}) == "k"
    assert offered_key({"Sec-WebSocket-Protocol": "realtime, openai-insecure-api-key.k2"}) == "k2"
    assert offered_key({"Sec-WebSocket-Protocol": "realtime"}) is None
    assert redact_query("/v1/realtime?model=m&api-key=K1&x=1") == "/v1/realtime?model=m&api-key=[redacted]&x=1"
    assert redact_query("/?Token=K2") == "/?Token=[redacted]" and redact_query("/?deployment=d") == "/?deployment=d"
    assert token_matches("abc", "abc") and not token_matches("abc", None)
    assert not token_matches("abc", "abd") and not token_matches("abc", "ab\u00e9")


def test_cli_on_all_interfaces_warns_and_prints_a_token() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtwidget.cli", "serve", "--host", "0.0.0.0", "--pace", "fast"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        url = proc.stdout.readline().strip()
        token_line = proc.stdout.readline().strip()
        assert url.startswith("ws://0.0.0.0:") and token_line.startswith("token: ")
        token = token_line.removeprefix("token: ")
        local = url.replace("0.0.0.0", "127.0.0.1")
        assert run(refusal(local))[0] == 401
        assert run(first_event(local, additional_headers={"Authorization": f"Bearer {token}"}))[0] == "session.created"
    finally:
        proc.terminate()
        assert proc.wait(scaled(10)) == 0
    assert "reachable from other machines" in proc.stderr.read()


def test_the_official_client_and_a_session_get_in_with_the_token_as_their_api_key() -> None:
    openai = pytest.importorskip("openai")
    import rtwidget

    async def main() -> tuple[str, str, int]:
        async with LocalServer(pace="fast", token=TOKEN) as server:
            base = server.url.removesuffix("/realtime")
            client = openai.AsyncOpenAI(api_key=TOKEN, websocket_base_url=base)
            async with client.realtime.connect(model="gpt-realtime") as conn:
                sdk_first = (await conn.recv()).type
            with pytest.raises(InvalidStatus) as info:
                wrong = openai.AsyncOpenAI(api_key="sk-wrong", websocket_base_url=base)
                async with wrong.realtime.connect(model="gpt-realtime") as conn:
                    await conn.recv()
            session = rtwidget.Session(endpoint=server.url, api_key=TOKEN)
            try:
                await session.connect()
                reply = await session.ask("hello", timeout=scaled(10))
            finally:
                await session.close()
            return sdk_first, reply.text, info.value.response.status_code

    assert run(main()) == ("session.created", "You said: hello", 401)


def test_the_cli_token_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from rtwidget.cli import build_parser
    from rtwidget.server.serve import TOKEN_ENV

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    assert build_parser().parse_args(["serve"]).token == TOKEN
    assert build_parser().parse_args(["serve", "--token", "other"]).token == "other"
    monkeypatch.delenv(TOKEN_ENV)
    assert build_parser().parse_args(["serve"]).token is None


def test_a_key_header_sent_twice_is_no_key() -> None:
    async def main() -> int:
        async with LocalServer(pace="fast", token=TOKEN) as server:
            twice = [("Authorization", f"Bearer {TOKEN}"), ("Authorization", f"Bearer {TOKEN}")]
            return (await refusal(server.url, additional_headers=twice))[0]

    assert run(main()) == 401
