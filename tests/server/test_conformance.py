"""The local server against the official ``openai`` client, every event validated by the SDK's GA types.

The SDK drives the conversation (text turn, audio turn with server VAD, tool round trip, and the other client
events). Every raw frame the server sends is validated strictly with
``pydantic.TypeAdapter(RealtimeServerEvent).validate_json`` and then walked recursively: no model may carry
fields its SDK type does not declare (the SDK's BaseModel allows extras, so validation alone would not see
them). The one documented exception: ``session.id``, ``session.object`` and ``session.expires_at`` of
``session.created`` / ``session.updated``, which the real server sends but the SDK types the session with its
*request* model; that session is therefore also validated, with no extras, against
``RealtimeSessionCreateResponse``, which declares them.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from typing import Any

import pydantic
import pytest

openai = pytest.importorskip("openai")
from openai.types.realtime import RealtimeServerEvent  # noqa: E402
from openai.types.realtime.realtime_session_create_response import RealtimeSessionCreateResponse  # noqa: E402

from rtwidget import audio  # noqa: E402
from rtwidget.server import LocalServer  # noqa: E402
from rtwidget.server.voice import default_voice  # noqa: E402
from tests.support import run, scaled  # noqa: E402

ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeServerEvent)
SESSION_READ_ONLY = {"id", "object", "expires_at"}
TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    }
]


def extras(value: Any, path: str = "") -> list[str]:
    """Dotted paths of every undeclared field in a validated SDK model tree."""
    found: list[str] = []
    if isinstance(value, pydantic.BaseModel):
        for key in value.model_extra or {}:
            found.append(f"{path}.{key}".lstrip("."))
        for name in type(value).model_fields:
            found += extras(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found += extras(v, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            found += extras(v, f"{path}.{k}")
    return found


class Checked:
    """Validates each raw server frame and remembers which SDK types were covered."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.models: Counter[str] = Counter()

    def check(self, raw: bytes | str) -> dict[str, Any]:
        model = ADAPTER.validate_json(raw)
        data: dict[str, Any] = json.loads(raw)
        assert model.type == data["type"]
        bad = extras(model)
        if data["type"] in ("session.created", "session.updated"):
            bad = [b for b in bad if b not in {f"session.{k}" for k in SESSION_READ_ONLY}]
            response_model = RealtimeSessionCreateResponse.model_validate(data["session"])
            assert extras(response_model) == [], extras(response_model)
        assert bad == [], f"{data['type']}: fields the SDK does not declare: {bad}"
        self.events.append(data)
        self.models[type(model).__name__] += 1
        return data


async def until(conn: Any, checked: Checked, type_: str, timeout: float = scaled(10.0)) -> dict[str, Any]:
    async def loop() -> dict[str, Any]:
        while True:
            raw = await conn.recv_bytes()
            conn.parse_event(raw)  # the SDK's own parser must accept it too
            event = checked.check(raw)
            if event["type"] == type_:
                return event

    return await asyncio.wait_for(loop(), timeout)


def speech_then_silence() -> bytes:
    pcm = default_voice().synthesize("Hello there, what is the weather like today?", voice="alloy")
    silence = bytes(audio.BYTES_PER_SECOND)  # 1 s
    return silence[: audio.BYTES_PER_SECOND // 2] + pcm + silence


async def conversation(server: LocalServer) -> Checked:
    checked = Checked()
    client = openai.AsyncOpenAI(api_key="sk-local-test", websocket_base_url=server.url.removesuffix("/realtime"))
    async with client.realtime.connect(model="gpt-realtime") as conn:
        created = await until(conn, checked, "session.created")
        assert created["session"]["model"] == "gpt-realtime"
        await conn.session.update(
            session={
                "type": "realtime",
                "tools": TOOLS,
                "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
            }
        )
        await until(conn, checked, "session.updated")

        # Text turn, spoken answer.
        await conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello!"}]}
        )
        await conn.response.create()
        done = await until(conn, checked, "response.done")
        assert done["response"]["status"] == "completed"
        assistant = done["response"]["output"][0]
        assert assistant["content"][0]["transcript"] == "You said: Hello!"

        # Text-only answer, out of band, with metadata.
        await conn.response.create(
            response={"conversation": "none", "output_modalities": ["text"], "metadata": {"purpose": "test"}}
        )
        done = await until(conn, checked, "response.done")
        assert done["response"]["conversation_id"] is None and done["response"]["metadata"] == {"purpose": "test"}

        # Retrieve (with audio), truncate, delete.
        await conn.conversation.item.retrieve(item_id=assistant["id"])
        retrieved = await until(conn, checked, "conversation.item.retrieved")
        assert retrieved["item"]["content"][0]["audio"]
        await conn.conversation.item.truncate(item_id=assistant["id"], content_index=0, audio_end_ms=200)
        await until(conn, checked, "conversation.item.truncated")

        # Audio turn: server VAD commits, transcribes and answers.
        pcm = speech_then_silence()
        for chunk in audio.chunks(pcm, 20):
            await conn.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
        await until(conn, checked, "conversation.item.input_audio_transcription.completed")
        done = await until(conn, checked, "response.done")
        assert "seconds of audio" in done["response"]["output"][0]["content"][0]["transcript"]

        # Tool round trip.
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "get_weather city=Paris days=2"}],
            }
        )
        await conn.response.create()
        done = await until(conn, checked, "response.done")
        call = done["response"]["output"][0]
        assert call["type"] == "function_call" and json.loads(call["arguments"]) == {
            "city": "Paris",
            "days": 2,
        }
        await conn.conversation.item.create(
            item={"type": "function_call_output", "call_id": call["call_id"], "output": '{"temp_c": 21}'}
        )
        await until(conn, checked, "conversation.item.done")
        await conn.response.create()
        done = await until(conn, checked, "response.done")
        assert done["response"]["output"][0]["content"][0]["transcript"] == 'get_weather returned: {"temp_c": 21}.'

        # Buffer clear, delete, and an error (cancel with nothing running).
        await conn.input_audio_buffer.clear()
        await until(conn, checked, "input_audio_buffer.cleared")
        await conn.conversation.item.delete(item_id=assistant["id"])
        await until(conn, checked, "conversation.item.deleted")
        await conn.response.cancel(event_id="cancel_1")
        error = await until(conn, checked, "error")
        assert error["error"]["code"] == "response_cancel_not_active"
        assert error["error"]["event_id"] == "cancel_1"
    return checked


def test_official_client_and_strict_sdk_types(local_server: LocalServer) -> None:
    checked = run(conversation(local_server))
    covered = set(checked.models)
    expected = {
        "SessionCreatedEvent",
        "SessionUpdatedEvent",
        "ConversationItemAdded",
        "ConversationItemDone",
        "ConversationItemRetrieved",
        "ConversationItemTruncatedEvent",
        "ConversationItemDeletedEvent",
        "ConversationItemInputAudioTranscriptionDeltaEvent",
        "ConversationItemInputAudioTranscriptionCompletedEvent",
        "InputAudioBufferSpeechStartedEvent",
        "InputAudioBufferSpeechStoppedEvent",
        "InputAudioBufferCommittedEvent",
        "InputAudioBufferClearedEvent",
        "ResponseCreatedEvent",
        "ResponseDoneEvent",
        "RateLimitsUpdatedEvent",
        "ResponseOutputItemAddedEvent",
        "ResponseOutputItemDoneEvent",
        "ResponseContentPartAddedEvent",
        "ResponseContentPartDoneEvent",
        "ResponseAudioDeltaEvent",
        "ResponseAudioDoneEvent",
        "ResponseAudioTranscriptDeltaEvent",
        "ResponseAudioTranscriptDoneEvent",
        "ResponseTextDeltaEvent",
        "ResponseTextDoneEvent",
        "ResponseFunctionCallArgumentsDeltaEvent",
        "ResponseFunctionCallArgumentsDoneEvent",
        "RealtimeErrorEvent",
    }
    assert expected <= covered, sorted(expected - covered)
    print("SDK types validated:", ", ".join(f"{k} x{v}" for k, v in sorted(checked.models.items())))


def test_cancelled_response_validates_too() -> None:
    """pace "realtime": cancel mid-audio, then truncate within what was sent."""

    async def main() -> Checked:
        checked = Checked()
        async with LocalServer(pace="realtime") as server:
            client = openai.AsyncOpenAI(
                api_key="sk-local-test", websocket_base_url=server.url.removesuffix("/realtime")
            )
            async with client.realtime.connect(model="gpt-realtime") as conn:
                await until(conn, checked, "session.created")
                await conn.conversation.item.create(
                    item={
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "Please say something rather long, thanks."}],
                    }
                )
                await conn.response.create()
                delta = await until(conn, checked, "response.output_audio.delta")
                await conn.response.cancel()
                done = await until(conn, checked, "response.done")
                assert done["response"]["status"] == "cancelled"
                assert done["response"]["status_details"] == {
                    "type": "cancelled",
                    "reason": "client_cancelled",
                }
                assert done["response"]["output"][0]["status"] == "incomplete"
                await conn.conversation.item.truncate(item_id=delta["item_id"], content_index=0, audio_end_ms=50)
                await until(conn, checked, "conversation.item.truncated")
        return checked

    checked = run(main())
    assert checked.models["ResponseDoneEvent"] == 1


def test_extras_check_catches_undeclared_fields() -> None:
    raw = json.dumps({"type": "input_audio_buffer.cleared", "event_id": "event_1", "surprise": 1})
    assert extras(ADAPTER.validate_json(raw)) == ["surprise"]
