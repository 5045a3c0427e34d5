"""The local server in the beta dialect against the official ``openai`` client's beta realtime API.

``client.beta.realtime.connect`` drives a text turn, an audio turn (server VAD) and a tool round trip against
``LocalServer(dialect="beta")``. Every raw frame is validated strictly with
``pydantic.TypeAdapter(<beta RealtimeServerEvent>).validate_json`` and then walked for fields the SDK's beta types
do not declare (see :func:`tests.server.conformance_support.extras`). The one documented exception: ``session.object``
and ``session.expires_at`` of ``session.created`` / ``session.updated``, which the real beta server sends but the
SDK's beta ``Session`` type does not declare.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pydantic
import pytest

openai = pytest.importorskip("openai")
beta_events = pytest.importorskip("openai.types.beta.realtime.realtime_server_event")
beta_client_events = pytest.importorskip("openai.types.beta.realtime.realtime_client_event")

from rtwidget.protocol.connection import Connection  # noqa: E402
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

ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(beta_events.RealtimeServerEvent)
CLIENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(beta_client_events.RealtimeClientEvent)
SESSION_READ_ONLY = {"session.object", "session.expires_at"}
BETA_TOOLS = [{k: v for k, v in tool.items()} for tool in TOOLS]


def beta_checked() -> Checked:
    return Checked(ADAPTER, SESSION_READ_ONLY, dialect="beta ")


async def conversation(server: LocalServer) -> Checked:
    checked = beta_checked()
    client = openai.AsyncOpenAI(api_key="sk-local-test", websocket_base_url=server.url.removesuffix("/realtime"))
    async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
        created = await until(conn, checked, "session.created")
        assert created["session"]["model"] == "gpt-4o-realtime-preview"
        assert created["session"]["input_audio_format"] == "pcm16"
        await conn.session.update(
            session={
                "tools": BETA_TOOLS,
                "input_audio_transcription": {"model": "gpt-4o-transcribe"},
                "max_response_output_tokens": 500,
            }
        )
        updated = await until(conn, checked, "session.updated")
        assert updated["session"]["max_response_output_tokens"] == 500

        # Text turn, spoken answer.
        await conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello!"}]}
        )
        await conn.response.create()
        created_response = await until(conn, checked, "response.created")
        assert created_response["response"]["max_output_tokens"] == 500
        done = await until(conn, checked, "response.done")
        assert done["response"]["status"] == "completed"
        assert done["response"]["max_output_tokens"] == 500
        assert done["response"]["modalities"] == ["text", "audio"]
        assistant = done["response"]["output"][0]
        assert assistant["content"][0]["type"] == "audio"
        assert assistant["content"][0]["transcript"] == "You said: Hello!"

        # Retrieve (with audio) and truncate.
        await conn.send({"type": "conversation.item.retrieve", "item_id": assistant["id"]})
        retrieved = await until(conn, checked, "conversation.item.retrieved")
        assert retrieved["item"]["content"][0]["audio"]
        await conn.conversation.item.truncate(item_id=assistant["id"], content_index=0, audio_end_ms=200)
        await until(conn, checked, "conversation.item.truncated")

        # Text-only answer with its own token limit.
        await conn.response.create(response={"modalities": ["text"], "max_response_output_tokens": 7})
        done = await until(conn, checked, "response.done")
        assert done["response"]["modalities"] == ["text"] and done["response"]["max_output_tokens"] == 7
        assert done["response"]["output"][0]["content"][0]["type"] == "text"

        await audio_turn(conn, checked)
        await tool_round_trip(conn, checked, "conversation.item.created")
        await clear_delete_and_a_refused_cancel(conn, checked, assistant["id"])
        # An error names the field as the beta client spelled it.
        await conn.send({"type": "session.update", "session": {"voice": 5}})
        error = await until(conn, checked, "error")
        assert error["error"]["param"] == "session.voice" and "'session.voice'" in error["error"]["message"]

        # The rest of the beta session (not the voice: fixed once audio was sent), reported back in beta names.
        await conn.session.update(
            session={
                "instructions": "Be brief.",
                "speed": 1.2,
                "temperature": 0.7,
                "tool_choice": "required",
                "tracing": "auto",
                "input_audio_noise_reduction": {"type": "far_field"},
                "input_audio_transcription": {"model": "whisper-1", "language": "en", "prompt": "weather"},
                "turn_detection": {"type": "semantic_vad", "eagerness": "high", "interrupt_response": True},
            }
        )
        session = (await until(conn, checked, "session.updated"))["session"]
        assert session["input_audio_noise_reduction"] == {"type": "far_field"}
        assert session["turn_detection"]["eagerness"] == "high" and session["tracing"] == "auto"
    return checked


def test_official_beta_client_and_strict_sdk_beta_types() -> None:
    async def main() -> Checked:
        async with LocalServer(dialect="beta", pace="fast") as server:
            return await conversation(server)

    checked = run(main())
    expected = {
        "SessionCreatedEvent",
        "SessionUpdatedEvent",
        "ConversationItemCreatedEvent",
        "ConversationItemInputAudioTranscriptionCompletedEvent",
        "ConversationItemInputAudioTranscriptionDeltaEvent",
        "InputAudioBufferSpeechStartedEvent",
        "InputAudioBufferSpeechStoppedEvent",
        "InputAudioBufferCommittedEvent",
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
        "ConversationItemRetrieved",
        "ConversationItemTruncatedEvent",
        "ConversationItemDeletedEvent",
        "InputAudioBufferClearedEvent",
        "ErrorEvent",
    }
    assert expected <= set(checked.models), sorted(expected - set(checked.models))
    print("SDK beta types validated:", ", ".join(f"{k} x{v}" for k, v in sorted(checked.models.items())))


def test_cancelled_beta_response_validates_too() -> None:
    """pace "realtime": cancel mid-audio; the cancelled response.done is a beta one too."""

    async def main() -> Checked:
        checked = beta_checked()
        async with LocalServer(dialect="beta", pace="realtime") as server:
            client = openai.AsyncOpenAI(
                api_key="sk-local-test", websocket_base_url=server.url.removesuffix("/realtime")
            )
            async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
                await until(conn, checked, "session.created")
                await conn.conversation.item.create(
                    item={
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "Please say something rather long, thanks."}],
                    }
                )
                await conn.response.create()
                delta = await until(conn, checked, "response.audio.delta")
                await conn.response.cancel()
                done = await until(conn, checked, "response.done")
                assert done["response"]["status"] == "cancelled"
                assert done["response"]["status_details"]["reason"] == "client_cancelled"
                await conn.conversation.item.truncate(item_id=delta["item_id"], content_index=0, audio_end_ms=50)
                await until(conn, checked, "conversation.item.truncated")
        return checked

    checked = run(main())
    assert checked.models["ResponseDoneEvent"] == 1


def test_rtwidget_client_frames_are_strict_sdk_beta_client_events() -> None:
    """The other direction: what rtwidget's own client writes to a beta server, every frame, no undeclared field."""
    conn = Connection("beta")
    conn.update_session(
        voice="alloy",
        instructions="Be brief.",
        modalities=["text", "audio"],
        input_audio_format="pcm16",
        turn_detection="semantic_vad",
        tools=TOOLS,
        tool_choice="auto",
        input_audio_transcription={"model": "gpt-4o-transcribe"},
        max_response_output_tokens=100,
    )
    conn.send_text("Hello")
    conn.append_audio(bytes(4800))
    conn.commit_audio()
    conn.clear_audio()
    conn.send_audio_item(bytes(4800))
    conn.respond(voice="echo", max_response_output_tokens=10, modalities=["text"])
    conn.respond_out_of_band(instructions="Summarise.", metadata={"purpose": "test"})
    conn.cancel()
    conn.truncate("item_1", 100)
    conn.function_output("call_1", {"temp_c": 21})
    conn.load_history([{"role": "user", "content": "Hi."}, {"role": "assistant", "content": "Earlier answer."}])
    types = Counter[str]()
    for _, text in conn.data_to_send():
        model = CLIENT_ADAPTER.validate_json(text)
        assert extras(model) == [], f"{model.type}: fields the SDK's beta types do not declare: {extras(model)}"
        types[model.type] += 1
    assert types == {
        "session.update": 1,
        "conversation.item.create": 5,
        "response.create": 4,
        "input_audio_buffer.append": 1,
        "input_audio_buffer.commit": 1,
        "input_audio_buffer.clear": 1,
        "response.cancel": 1,
        "conversation.item.truncate": 1,
    }


def test_beta_extras_check_catches_ga_only_fields() -> None:
    """The strict check itself: a GA-only field in a beta response object is reported, not accepted."""
    raw = json.dumps(
        {
            "type": "response.done",
            "event_id": "event_1",
            "response": {"id": "resp_1", "max_response_output_tokens": 5, "usage": {"image_tokens": 0}},
        }
    )
    assert sorted(extras(ADAPTER.validate_json(raw))) == [
        "response.max_response_output_tokens",
        "response.usage.image_tokens",
    ]
