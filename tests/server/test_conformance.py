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

import json
from typing import Any

import pydantic
import pytest

openai = pytest.importorskip("openai")
from openai.types.realtime import RealtimeServerEvent  # noqa: E402
from openai.types.realtime.realtime_session_create_response import RealtimeSessionCreateResponse  # noqa: E402

from rtwidget.server import LocalServer  # noqa: E402
from tests.server.conformance_support import (  # noqa: E402
    TOOLS,
    Checked,
    audio_turn,
    clear_delete_and_a_refused_cancel,
    extras,
    tool_round_trip,
    until,
)
from tests.support import run  # noqa: E402

ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeServerEvent)
SESSION_READ_ONLY = {"session.id", "session.object", "session.expires_at"}


def _session_as_create_response(session: dict[str, Any]) -> None:
    response_model = RealtimeSessionCreateResponse.model_validate(session)
    assert extras(response_model) == [], extras(response_model)


def ga_checked() -> Checked:
    """GA frames: the read-only session fields are validated against ``RealtimeSessionCreateResponse``."""
    return Checked(ADAPTER, SESSION_READ_ONLY, _session_as_create_response)


async def conversation(server: LocalServer) -> Checked:
    checked = ga_checked()
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

        await audio_turn(conn, checked)
        await tool_round_trip(conn, checked, "conversation.item.done")
        error = await clear_delete_and_a_refused_cancel(conn, checked, assistant["id"])
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
        checked = ga_checked()
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
