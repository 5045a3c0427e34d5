"""Bad input to every public call of a connected Session: a TypeError or ValueError (ClientEventError for events)
that names the argument and the fix, and nothing sent or left queued (a marker sent afterwards is the only client
event on the wire). Against the local server over loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from rtwidget import ClientEventError, Session
from tests.support import run

NAN, INF = float("nan"), float("inf")


def client_events(session: Any) -> list[Any]:
    return [e for e in list(session.log) if e.direction == "client"]


class Checker:
    """Runs bad calls on one session and checks each error; ``done()`` proves nothing went out."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.baseline = len(client_events(session))
        self.tried = 0

    def refuses(self, error: type[Exception], call: Callable[[], Any], *words: str) -> None:
        with pytest.raises(error) as info:
            call()
        for word in words:
            assert word in str(info.value), (word, str(info.value))
        self.tried += 1

    def done(self) -> None:
        self.session.send_text("marker", respond=False)
        after = client_events(self.session)[self.baseline :]
        assert [(e.type, e.data["item"]["content"][0]["text"]) for e in after] == [
            ("conversation.item.create", "marker")
        ]


def item(value: Any) -> dict[str, Any]:
    part = {"type": "input_text", "text": "hi", "extra": value}
    return {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [part]}}


def test_events_and_text(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            check = Checker(session)
            where = "item.content[0].extra"
            check.refuses(ClientEventError, lambda: session.send(item(object())), where, "is a object", "Fix:")
            check.refuses(ClientEventError, lambda: session.send(item({1})), where, "use a list")
            check.refuses(ClientEventError, lambda: session.send(item(b"x")), where, "is a bytes")
            check.refuses(ClientEventError, lambda: session.send(item(NAN)), where, "is nan")
            check.refuses(ClientEventError, lambda: session.send(item([INF])), where + "[0]", "is inf")
            check.refuses(ClientEventError, lambda: session.send(item({3: "x"})), where, "int key 3")
            check.refuses(ClientEventError, lambda: session.send("response.create"), "must be a dict")  # type: ignore[arg-type]
            check.refuses(ClientEventError, lambda: session.respond(instructions=object()), "response.instructions")
            check.refuses(ClientEventError, lambda: session.respond(max_output_tokens=NAN), "response.max_output")
            check.refuses(ClientEventError, lambda: session.update(bogus_field=1), "bogus_field")
            check.refuses(ClientEventError, lambda: session.update(instructions={"a": {1}}), "session.instructions.a")
            for text in (5, None, b"hi", ["hi"]):
                check.refuses(TypeError, lambda t=text: session.send_text(t), "text must be a str", "pass the message")
            check.refuses(TypeError, lambda: session.send_text("hi", respond="yes"), "respond must be True or False")
            check.done()

    run(body)


def test_truncate(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            check = Checker(session)
            for bad in (INF, -INF, NAN, -5, -0.5):
                check.refuses(ValueError, lambda b=bad: session.truncate("item_1", b), "audio_end_ms must be a finite")
            for bad in ("abc", "100", True, None, [100]):
                check.refuses(TypeError, lambda b=bad: session.truncate("item_1", b), "audio_end_ms must be a number")
            for bad_id in (None, 5, b"item_1"):
                check.refuses(TypeError, lambda i=bad_id: session.truncate(i, 100), "item_id must be a str")
            check.refuses(ValueError, lambda: session.truncate("", 100), "item_id must not be empty")
            check.done()

    run(body)


def test_load_history_is_all_or_nothing(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            check = Checker(session)
            for bad in (None, 5, "text", {"role": "user", "content": "hi"}):
                check.refuses(TypeError, lambda b=bad: session.load_history(b), "history must be a list of messages")
            good = {"role": "user", "content": "first"}
            cases: list[tuple[type[Exception], list[Any], str]] = [
                (ValueError, [good, {"role": "user"}], "history[1].content is missing"),
                (ValueError, [good, {"role": "robot", "content": "x"}], "history[1].role is 'robot'"),
                (TypeError, [good, {"role": "assistant", "tool_calls": "f"}], "history[1].tool_calls must be a list"),
                (ValueError, [good, {"role": "assistant", "tool_calls": [{"id": "c"}]}], "function.name is None"),
                (ValueError, [good, {"role": "assistant", "tool_calls": [{"name": "f"}]}], "tool_calls[0].id is None"),
                (ValueError, [good, {"role": "tool", "content": "x"}], "history[1].tool_call_id is None"),
                (ValueError, [good, {"role": "tool", "tool_call_id": "c", "content": [NAN]}], "history[1].content"),
                (ClientEventError, [good, {"type": "message", "role": "user", "content": "x"}], "history[1].content"),
            ]
            for error, messages, words in cases:
                check.refuses(error, lambda m=messages: session.load_history(m), words)
            check.done()  # "first" was never left queued for this unrelated send

    run(body)


def test_audio(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            check = Checker(session)
            tone = np.zeros(480, np.int16)
            check.refuses(ValueError, lambda: session.send_audio(b""), "pcm is empty")
            check.refuses(ValueError, lambda: session.send_audio(np.zeros(0, np.float32), commit=False), "pcm is empty")
            check.refuses(
                ValueError, lambda: session.append_audio(b"\x00\x00\x00"), "pcm: PCM16 audio must have an even"
            )
            for bad in (NAN, INF):
                samples = np.array([0.1, bad], dtype=np.float32)
                check.refuses(ValueError, lambda s=samples: session.append_audio(s), "pcm holds 1 NaN or infinite")
            check.refuses(TypeError, lambda: session.send_audio(np.zeros(4, np.int64)), "pcm has dtype int64")
            check.refuses(ValueError, lambda: session.send_audio(np.zeros((20, 20))), "pcm: cannot tell the channel")
            check.refuses(ValueError, lambda: session.append_audio(np.zeros((2, 2, 2))), "pcm: audio array must be 1-D")
            check.refuses(TypeError, lambda: session.append_audio([0, 0]), "pcm must be bytes or a numpy array")
            for rate in ("24000", True, 24000.0, None):
                check.refuses(
                    TypeError, lambda r=rate: session.append_audio(tone, sample_rate=r), "sample_rate must be an int"
                )
            for rate in (1, 0, -16000, 7999, 384_001, 10**9):
                check.refuses(ValueError, lambda r=rate: session.send_audio(tone, sample_rate=r), "8000..384000")
            check.refuses(TypeError, lambda: session.send_audio(tone, commit="no"), "commit must be True or False")
            check.refuses(TypeError, lambda: session.send_audio(tone, respond=None), "respond must be True or False")
            assert session.append_audio(b"") == []  # documented no-op
            assert session.append_audio(np.zeros((0, 2), np.int16)) == []
            check.done()

    run(body)


def test_add_tool(open_session: Callable[..., Any]) -> None:
    def weather(city: str) -> str:
        """The weather."""
        return "sunny"

    async def body() -> None:
        async with open_session() as session:
            check = Checker(session)
            check.refuses(
                TypeError, lambda: session.add_tool(5), "a tool must be callable, got int", "add_tool(get_weather)"
            )
            check.refuses(TypeError, lambda: session.add_tool("weather"), "a tool must be callable, got str")
            check.refuses(
                TypeError, lambda: session.add_tool(weather, timeout="10"), "timeout must be seconds", "timeout=30"
            )
            check.refuses(TypeError, lambda: session.add_tool(weather, timeout=True), "timeout must be seconds")
            for bad in (0, -1, INF, NAN):
                check.refuses(
                    ValueError, lambda b=bad: session.add_tool(weather, timeout=b), "timeout must be positive"
                )
            check.refuses(TypeError, lambda: session.add_tool(weather, description=5), "description must be a str")
            check.refuses(TypeError, lambda: session.add_tool(weather, reply="no"), "reply must be True or False")
            check.refuses(ValueError, lambda: session.add_tool(weather, name="bad name!"), "invalid tool name")
            assert session.tools.names() == []  # none of them was registered
            check.done()

    run(body)


def test_bad_input_before_connect_leaves_nothing_queued(local_server: Any) -> None:
    async def body() -> None:
        session = Session(endpoint=local_server.url)
        try:
            check = Checker(session)
            good = {"role": "user", "content": "queued before connect"}
            check.refuses(ValueError, lambda: session.load_history([good, {"role": "user"}]), "history[1].content")
            check.refuses(ClientEventError, lambda: session.send(item(NAN)), "item.content[0].extra")
            check.refuses(ValueError, lambda: session.send_audio(b""), "pcm is empty")
            check.refuses(ValueError, lambda: session.truncate("item_1", INF), "audio_end_ms")
            await session.connect()
            check.baseline = len([e for e in client_events(session) if e.type == "session.update"])
            check.done()  # only the session's own update came before the marker
        finally:
            await session.close()

    run(body)
