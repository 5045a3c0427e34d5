"""Secrets never leak: websockets' loggers filtered, cross-origin redirects refused, sentinel keys nowhere.

Sentinels are built at run time (no key-shaped literal in the repo). Servers are real, on loopback.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import pathlib
import re
import sys
import traceback
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
import websockets
from websockets.asyncio.server import Request, Response, ServerConnection, serve
from websockets.exceptions import SecurityError

import rtwidget
from rtwidget import RealtimeError, Session, endpoints
from rtwidget.server import LocalServer
from rtwidget.session import secrets
from tests.support import run


def sentinel(tag: str) -> str:
    """A fresh key-shaped secret, unique per place it enters."""
    return "sk-" + tag + "-" + "SENTINEL" * 2


@pytest.fixture
def filtered(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """DEBUG captured on the root logger (so on websockets.* too), with the redacting filter installed."""
    secrets.install_log_filter()
    caplog.set_level(logging.DEBUG)
    yield caplog


def every_text(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the captured records would print: messages and tracebacks, as a handler formats them."""
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(formatter.format(r) for r in caplog.records)


# ================================================================================ the filter


def test_the_filter_is_installed_once_and_redacts_messages_args_and_tracebacks() -> None:
    first = secrets.install_log_filter()
    assert secrets.install_log_filter() is first
    for name in secrets.WEBSOCKETS_LOGGERS + secrets.RTWIDGET_LOGGERS:
        assert logging.getLogger(name).filters.count(first) == 1
    key = sentinel("filter")
    try:
        raise ValueError(f"bad uri wss://h/rt?api-key={key}")
    except ValueError:
        record = logging.LogRecord("websockets.client", logging.DEBUG, __file__, 1, "> %s: %s", None, None)
        record.args = ("Authorization", f"Bearer {key}")
        record.exc_info = sys.exc_info()
    assert first.filter(record) is True  # kept, never dropped
    assert record.getMessage() == "> Authorization: <redacted>"
    assert record.exc_text is not None and "ValueError" in record.exc_text and key not in record.exc_text
    assert key not in logging.Formatter().format(record)


def test_websockets_debug_logs_show_no_key(filtered: pytest.LogCaptureFixture, local_server: LocalServer) -> None:
    key, azure_key = sentinel("header"), sentinel("azure")

    async def body() -> None:
        headers = {"Authorization": f"Bearer {key}", "api-key": azure_key, "OpenAI-Beta": "realtime=v1"}
        ws = await secrets.open_socket(local_server.url, additional_headers=headers)
        await ws.recv()  # session.created
        await ws.close()

    run(body)
    text = every_text(filtered)
    # The headers were logged (by the client, and by the local server that received them), redacted.
    assert "websockets.client > Authorization: <redacted>" in text
    assert "websockets.client > api-key: <redacted>" in text
    assert "< Authorization: " in text and "< api-key: " in text
    assert "OpenAI-Beta: realtime=v1" in text  # not a secret: kept
    assert key not in text and azure_key not in text


def test_every_rtwidget_logger_is_filtered() -> None:
    """A filter applies only on the logger it is on: each logger the package names must be in the list."""
    package = pathlib.Path(rtwidget.__file__).parent
    named = {
        name
        for path in package.rglob("*.py")
        for name in re.findall(r"getLogger\(\s*[\"']([^\"']+)[\"']", path.read_text(encoding="utf-8"))
    }
    assert {n for n in named if n.startswith("rtwidget")} <= set(secrets.RTWIDGET_LOGGERS)
    assert {n for n in named if n.startswith("websockets")} <= set(secrets.WEBSOCKETS_LOGGERS)
    assert "rtwidget.server" in named  # the scan found the package's loggers


# ================================================================================ redirects


class Recorder:
    """A WebSocket server on loopback that records the request headers it receives, and may redirect."""

    def __init__(self, location: str | None = None) -> None:
        self.location = location
        self.requests: list[dict[str, str]] = []

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.requests.append({k.lower(): v for k, v in request.headers.raw_items()})
        if self.location and request.path.startswith("/old"):
            response = connection.respond(HTTPStatus.FOUND, "moved\n")
            response.headers["Location"] = self.location
            return response
        return None

    async def handler(self, connection: ServerConnection) -> None:
        await connection.send("hello")


async def redirect_pair(body: Any) -> tuple[Recorder, Recorder]:
    """A server (``old``) redirecting ``/old`` to a second server on another port (another origin)."""
    there = Recorder()
    async with serve(there.handler, "127.0.0.1", 0, process_request=there.process_request) as server_b:
        port_b = server_b.sockets[0].getsockname()[1]
        here = Recorder(f"ws://127.0.0.1:{port_b}/new")
        async with serve(here.handler, "127.0.0.1", 0, process_request=here.process_request) as server_a:
            port_a = server_a.sockets[0].getsockname()[1]
            await body(f"ws://127.0.0.1:{port_a}")
    return here, there


def test_plain_websockets_carries_the_key_across_origins() -> None:
    """Why the guard exists: websockets follows the redirect and sends the headers to the other origin."""
    key = sentinel("redirect-plain")

    async def body(base: str) -> None:
        ws = await websockets.connect(f"{base}/old", additional_headers={"Authorization": f"Bearer {key}"})
        await ws.close()

    _, there = run(redirect_pair(body))
    assert there.requests and there.requests[0]["authorization"] == f"Bearer {key}"


def test_a_cross_origin_redirect_is_refused_and_the_other_server_sees_nothing() -> None:
    key = sentinel("redirect")

    async def body(base: str) -> None:
        with pytest.raises(SecurityError, match="another origin") as caught:
            await secrets.open_socket(f"{base}/old?api-key={key}", additional_headers={"api-key": key})
        assert key not in str(caught.value) and "connect to its URL directly" in str(caught.value)

    here, there = run(redirect_pair(body))
    assert len(here.requests) == 1 and here.requests[0]["api-key"] == key  # the first origin got it, as asked
    assert there.requests == []  # the other origin got nothing: not the key, not even a request


def test_a_same_origin_redirect_is_followed_with_the_headers() -> None:
    key = sentinel("same-origin")
    here = Recorder()

    async def body() -> None:
        async with serve(here.handler, "127.0.0.1", 0, process_request=here.process_request) as server:
            base = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            here.location = f"{base}/new"
            ws = await secrets.open_socket(f"{base}/old", additional_headers={"Authorization": f"Bearer {key}"})
            assert await ws.recv() == "hello"
            await ws.close()

    run(body)
    assert [r["authorization"] for r in here.requests] == [f"Bearer {key}"] * 2


# ================================================================================ exceptions


def test_a_failure_that_would_show_the_url_is_raised_redacted() -> None:
    key, password = sentinel("bad-uri"), sentinel("password")

    async def body() -> None:
        with pytest.raises(RealtimeError) as caught:
            await secrets.open_socket(f"ws://bob:{password}@127.0.0.1:1/rt?api-key={key}#a-fragment")
        shown = "".join(traceback.format_exception(caught.value))
        assert "InvalidURI" in shown and "<redacted>" in shown
        assert key not in shown and password not in shown and caught.value.__context__ is None

    run(body)


def test_a_failure_with_nothing_secret_is_raised_as_it_came() -> None:
    async def body() -> None:
        with pytest.raises(OSError):  # nothing listens on port 1 of loopback
            await secrets.open_socket("ws://127.0.0.1:1/rt?model=m")

    run(body)


# ================================================================================ sentinels end to end


def leaks(session: Session, keys: list[str], caplog: pytest.LogCaptureFixture) -> list[str]:
    """Where a key (or the Basic credentials a URL's ``bob:key@`` becomes) shows: the session's vars and repr,
    its log, and every captured log record."""
    places = {
        "repr(vars(session))": repr(vars(session)),
        "repr(session)": repr(session),
        "session.log": repr(list(session.log)),
        "endpoint.describe()": repr(session.endpoint.describe() if session.endpoint else None),
        "logs": every_text(caplog),
    }
    forms = [*keys, *(base64.b64encode(f"bob:{key}".encode()).decode() for key in keys)]
    return [where for where, text in places.items() if any(form in text for form in forms)]


@pytest.mark.parametrize("entry", ["api_key", "headers", "url_query", "url_userinfo", "env_openai", "env_azure"])
def test_a_sentinel_key_shows_nowhere(
    entry: str, filtered: pytest.LogCaptureFixture, local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = sentinel(entry.replace("_", "-"))
    keys = [key, key + "-custom"]
    url = local_server.url
    kwargs: dict[str, Any] = {"endpoint": url}
    if entry == "api_key":
        kwargs["api_key"] = key
    elif entry == "headers":
        kwargs["headers"] = {"api-key": key, "X-Custom-Auth": keys[1]}
    elif entry == "url_query":
        kwargs["endpoint"] = f"{url}?api-key={key}"
    elif entry == "url_userinfo":
        kwargs["endpoint"] = url.replace("ws://", f"ws://bob:{key}@")
    else:  # the environment: resolved as OpenAI or Azure would be, then pointed at the local server
        env = (
            {"OPENAI_API_KEY": key}
            if entry == "env_openai"
            else {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "AZURE_OPENAI_API_KEY": key}
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        unconnected = Session()  # resolves from the environment; shows nothing before connecting either
        assert key not in repr(vars(unconnected)) and key not in repr(unconnected)
        resolved = endpoints.resolve()
        assert resolved is not None and key in str(dict(resolved.headers))
        kwargs["endpoint"] = dataclasses.replace(resolved, url=url)

    async def body() -> None:
        session = Session(**kwargs)
        try:
            await session.connect()
            reply = await session.ask("hello")
            assert reply.text == "You said: hello"
            assert not leaks(session, keys, filtered)
        finally:
            await session.close()
        assert not leaks(session, keys, filtered)

    run(body)
    assert any(r.name.startswith("websockets") for r in filtered.records)  # their DEBUG lines were captured


def test_a_failed_connect_shows_no_key() -> None:
    key = sentinel("connect")

    async def body() -> None:
        session = Session(endpoint=f"ws://bob:{key}@127.0.0.1:1/rt?api-key={key}#a-fragment")
        try:
            with pytest.raises(Exception) as caught:  # any type: only what it shows matters
                await session.connect()
            assert key not in "".join(traceback.format_exception(caught.value))
            assert key not in repr(vars(session)) and key not in repr(list(session.log))
        finally:
            await session.close()

    run(body)


# ================================================================================ refused upgrades (401, 403, 404)


def test_a_wrong_or_missing_token_is_a_clear_401_and_the_session_stays_idle() -> None:
    token, wrong = sentinel("server-token"), sentinel("wrong-key")

    async def body() -> list[RealtimeError]:
        caught: list[RealtimeError] = []
        async with LocalServer(pace="fast", token=token) as server:
            for kwargs in ({"api_key": wrong}, {}):
                session = Session(endpoint=server.url, **kwargs)
                try:
                    with pytest.raises(RealtimeError) as info:
                        await session.connect()
                    caught.append(info.value)
                    assert session.state == "idle" and not session.connected
                    assert key_free(session, [token, wrong])
                finally:
                    await session.close()
            # The same session type gets in with the right token: the refusal was the key's, nothing else's.
            async with Session(endpoint=server.url, api_key=token) as admitted:
                assert admitted.state == "open"
        return caught

    bad_key, no_key = run(body)
    for error in (bad_key, no_key):
        shown = "".join(traceback.format_exception(error))
        assert error.code == "http_401" and "HTTP 401 Unauthorized" in str(error)
        assert "Check the API key: OPENAI_API_KEY" in str(error) and "the token it printed" in str(error)
        assert token not in shown and wrong not in shown and error.__cause__ is None
    assert "Incorrect API key provided" in str(bad_key)  # the server's own message
    assert "You didn't provide an API key" in str(no_key)


def key_free(session: Session, keys: list[str]) -> bool:
    text = repr(vars(session)) + repr(session) + repr(list(session.log))
    return not any(key in text for key in keys)


def test_a_wrong_path_is_a_clear_404_naming_the_model_or_deployment(local_server: LocalServer) -> None:
    key = sentinel("not-found")
    url = local_server.url.replace("/v1/realtime", "/v1/elsewhere") + f"?model=m&api-key={key}"

    async def body() -> RealtimeError:
        with pytest.raises(RealtimeError) as info:
            await secrets.open_socket(url)
        return info.value

    error = run(body)
    assert error.code == "http_404" and "HTTP 404 Not Found: Not found: /v1/elsewhere" in str(error)
    assert "model (or Azure deployment) name" in str(error)
    assert key not in str(error) and "api-key=<redacted>" in str(error)


class Refuser:
    """A server on loopback that refuses every upgrade with one status and body (as OpenAI or a proxy would)."""

    def __init__(self, status: int, body: str, content_type: str = "application/json") -> None:
        self.status, self.body, self.content_type = status, body, content_type

    def process_request(self, connection: ServerConnection, request: Request) -> Response:
        response = connection.respond(HTTPStatus(self.status), self.body)
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = self.content_type
        return response

    async def handler(self, connection: ServerConnection) -> None:
        raise AssertionError("never upgraded")


@pytest.mark.parametrize(
    "status, body, expected",
    [
        (
            403,
            {"error": {"message": "Country, region, or territory not supported", "type": "x", "code": "unsupported"}},
            "HTTP 403 Forbidden: Country, region, or territory not supported. The key is valid but may not use this",
        ),
        (
            401,
            {"error": {"message": "Incorrect API key provided: sk-proj-********************wxyz.", "code": "k"}},
            "HTTP 401 Unauthorized: Incorrect API key provided: <redacted>. Check the API key",
        ),
        (404, "<html>no such deployment</html>", "HTTP 404 Not Found: <html>no such deployment</html>. Check the URL"),
        (502, "", "HTTP 502 Bad Gateway. The server failed: try again later."),
    ],
)
def test_openai_shaped_refusals_say_the_status_the_servers_message_and_the_fix(
    status: int, body: Any, expected: str
) -> None:
    refuser = Refuser(status, json.dumps(body) if isinstance(body, dict) else body)
    key = sentinel("refused")

    async def main() -> RealtimeError:
        async with serve(refuser.handler, "127.0.0.1", 0, process_request=refuser.process_request) as server:
            url = f"ws://bob:{key}@127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/realtime?api-key={key}"
            with pytest.raises(RealtimeError) as info:
                await secrets.open_socket(url, additional_headers={"Authorization": f"Bearer {key}"})
            return info.value

    error = run(main)
    assert expected in str(error) and error.code == f"http_{status}"
    assert key not in "".join(traceback.format_exception(error))
