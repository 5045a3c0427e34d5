"""Client events from the session: truncation, history, audio (numpy at any rate, push to talk), validation
before sending, and text typed while a response is still speaking."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from rtwidget import ClientEventError
from rtwidget.server import LocalServer
from rtwidget.server.voice import default_voice
from tests.support import open_session as session_at
from tests.support import run, scaled, sent


def test_truncate_marks_what_was_heard(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            await session.ask("say something long enough to interrupt")
            assistant = session.conversation[-1]
            assert assistant.audio_ms > 1000
            assert session.truncate(assistant.id, assistant.audio_ms + 5000) is None  # all heard
            truncated = session.expect("conversation.item.truncated")
            session.truncate(assistant.id, 400)
            event = await asyncio.wait_for(truncated, scaled(10))
            assert event["audio_end_ms"] == 400
            assert assistant.truncated_at_ms == 400

    run(body)


def test_load_history_content_types(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
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
            await asyncio.wait_for(three.wait(), scaled(10))
            parts = [(i.role, i.parts[0].type, i.text) for i in session.conversation]
            assert parts == [
                ("system", "input_text", "You are terse."),
                ("user", "input_text", "My name is Ada."),
                ("assistant", "output_text", "Hello Ada."),
            ]
            assert not session.errors
            assert len(sent(session, "response.create")) == 0  # history asks for no reply

    run(body)


def test_audio_input_numpy_at_16khz(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session(turn_detection=None) as session:
            t = np.arange(16_000 * 2) / 16_000
            tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)  # 2 s at 16 kHz, float
            done_future = session.expect("response.done")
            session.send_audio(tone, sample_rate=16_000)
            done = await asyncio.wait_for(done_future, scaled(15))
            assert done["response"]["status"] == "completed"
            user = next(i for i in session.conversation if i.role == "user")
            assert abs(user.audio_ms - 2000) < 50 or user.input_audio_ms is None
            assistant = session.conversation[-1]
            assert "2.0 seconds" in assistant.text

    run(body)


def test_push_to_talk_commit_and_empty_commit_error(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        speech = default_voice().synthesize("push to talk")
        async with open_session(turn_detection=None) as session:
            assert session.config["audio"]["input"]["turn_detection"] is None
            committed_future = session.expect("input_audio_buffer.committed")
            item_done = session.expect("conversation.item.done")
            session.append_audio(speech)
            session.commit_audio()
            committed = await asyncio.wait_for(committed_future, scaled(10))
            await asyncio.wait_for(item_done, scaled(10))
            item = session.connection.conversation.get(committed["item_id"])
            assert item is not None and abs(item.audio_ms - len(speech) / 48) < 1
            error_future = session.expect("error")
            session.commit_audio()  # nothing left: the server says so, and we see it
            error = await asyncio.wait_for(error_future, scaled(10))
            assert error["error"]["code"] == "input_audio_buffer_commit_empty"
            assert error.cause is not None and error.cause["type"] == "input_audio_buffer.commit"

    run(body)


def test_bad_input_is_refused_before_sending(open_session: Callable[..., Any]) -> None:
    async def body() -> None:
        async with open_session() as session:
            n = sum(e.direction == "client" for e in session.log)  # (the doctor's hints on refusals are local)
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
            assert sum(e.direction == "client" for e in session.log) == n  # nothing was sent
            # A refused update is not kept: reconnecting sends only the fields the core accepted.
            session.update(instructions="Accepted.")
            await session.close()
            await session.connect()
            assert session.config["instructions"] == "Accepted."

    run(body)


def test_text_typed_during_a_response_is_answered_after_it() -> None:
    async def body() -> None:
        async with LocalServer(pace="realtime") as server, session_at(server.url) as session:
            first_audio = session.expect("response.output_audio.delta")
            answered = session.expect("response.done", lambda e: "second message" in json.dumps(e.data))
            session.send_text("first message, answered at length")
            await asyncio.wait_for(first_audio, scaled(10))
            session.send_text("second message")  # the first response is still speaking
            await asyncio.wait_for(answered, scaled(30))
            assert len(sent(session, "response.create")) == 2
            assert not session.errors  # no conversation_already_has_active_response
            texts = [i.text for i in session.conversation if i.role == "assistant"]
            assert texts == ["You said: first message, answered at length", "You said: second message"]

    run(body)
