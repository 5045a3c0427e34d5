"""connection: both dialects at the edge (beta translation in and out, the realtime.-prefixed envelope)."""

import json

import pytest

from rtwidget.protocol.connection import Connection
from rtwidget.protocol.errors import ClientEventError

from . import wire_events as S
from .connection_helpers import feed, sent

# -------------------------------------------------------------------------------------------- beta


def test_beta_connection_translates_outgoing_events() -> None:
    conn = Connection("beta")
    assert conn.dialect == "beta"
    conn.update_session(voice="alloy", modalities=["text"], input_audio_format="pcm16", turn_detection="server_vad")
    conn.respond(voice="echo", max_response_output_tokens=10)
    conn.load_history([{"role": "assistant", "content": "Earlier answer."}])
    conn.send(
        {
            "type": "session.update",
            "session": {"type": "transcription", "audio": {"input": {"format": {"type": "audio/pcmu"}}}},
        }
    )
    update, respond, history, transcription = sent(conn)
    assert update["session"] == {
        "voice": "alloy",
        "modalities": ["text"],
        "input_audio_format": "pcm16",
        "turn_detection": {"type": "server_vad"},
    }
    assert respond["response"] == {"voice": "echo", "max_response_output_tokens": 10}
    assert history["item"]["content"] == [{"type": "text", "text": "Earlier answer."}]
    assert transcription["type"] == "transcription_session.update"
    assert transcription["session"] == {"input_audio_format": "g711_ulaw"}


def test_beta_connection_accepts_beta_shaped_events() -> None:
    conn = Connection("beta")
    update_id = conn.send(
        {
            "type": "session.update",
            "session": {
                "modalities": ["text", "audio"],
                "voice": "shimmer",
                "input_audio_format": "g711_alaw",
            },
        }
    )
    conn.send(
        {
            "type": "transcription_session.update",
            "session": {"input_audio_transcription": {"model": "whisper-1"}},
        }
    )
    conn.send({"type": "response.create", "response": {"modalities": ["text"], "voice": "ash"}})
    conn.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "a"}]},
        }
    )
    pairs = conn.data_to_send()
    # kept in GA form inside (what error causes show) ...
    assert pairs[0][0]["session"]["audio"]["output"]["voice"] == "shimmer"
    assert pairs[3][0]["item"]["content"] == [{"type": "output_text", "text": "a"}]
    # ... and beta on the wire
    wire = [json.loads(text) for _, text in pairs]
    assert wire[0] == {
        "type": "session.update",
        "event_id": update_id,
        "session": {"modalities": ["text", "audio"], "voice": "shimmer", "input_audio_format": "g711_alaw"},
    }
    assert wire[1]["type"] == "transcription_session.update"
    assert wire[1]["session"] == {"input_audio_transcription": {"model": "whisper-1"}}
    assert wire[2]["response"] == {"modalities": ["text"], "voice": "ash"}
    assert wire[3]["item"]["content"] == [{"type": "text", "text": "a"}]


def test_beta_connection_still_refuses_invalid_events() -> None:
    conn = Connection("beta")
    with pytest.raises(ClientEventError, match=r"clients cannot create assistant audio"):
        conn.send(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "assistant", "content": [{"type": "audio"}]},
            }
        )
    with pytest.raises(ClientEventError, match="must be a dict"):
        conn.send("response.create")  # type: ignore[arg-type]


def test_beta_connection_reads_a_beta_server() -> None:
    conn = Connection("beta")
    feed(
        conn,
        {
            "type": "session.created",
            "event_id": "e0",
            "session": {
                "id": "sess_b",
                "object": "realtime.session",
                "modalities": ["text", "audio"],
                "voice": "alloy",
                "temperature": 0.8,
            },
        },
        {
            "type": "conversation.item.created",
            "event_id": "e1",
            "previous_item_id": None,
            "item": S.user_text_item("item_u", "Hi"),
        },
        {
            "type": "response.created",
            "event_id": "e2",
            "response": {"id": "resp_1", "conversation_id": "conv_1"},
        },
        {
            "type": "conversation.item.created",
            "event_id": "e3",
            "previous_item_id": "item_u",
            "item": S.assistant_item("item_a"),
        },
        {
            "type": "response.audio.delta",
            "event_id": "e4",
            "response_id": "resp_1",
            "item_id": "item_a",
            "content_index": 0,
            "delta": S.b64(4800),
        },
        {
            "type": "response.audio_transcript.delta",
            "event_id": "e5",
            "response_id": "resp_1",
            "item_id": "item_a",
            "content_index": 0,
            "delta": "Hey",
        },
        {
            "type": "response.done",
            "event_id": "e6",
            "response": {"id": "resp_1", "status": "completed", "conversation_id": "conv_1", "output": []},
        },
        {
            "type": "transcription_session.updated",
            "event_id": "e7",
            "session": {"input_audio_transcription": {"model": "whisper-1"}},
        },
    )
    assert conn.session == {
        "type": "transcription",
        "audio": {"input": {"transcription": {"model": "whisper-1"}}},
    }
    assert [i.id for i in conn.conversation.items] == ["item_u", "item_a"]
    assistant = conn.conversation.get("item_a")
    assert assistant is not None
    assert (assistant.text, assistant.audio_ms) == ("Hey", 100.0)
    assert not conn.tracker.busy


# ---------------------------------------------------------------------------------------- envelope


def test_envelope_connection() -> None:
    conn = Connection(envelope=True)
    event_id = conn.commit_audio()
    [(_, text)] = conn.data_to_send()
    assert json.loads(text) == {"type": "realtime.input_audio_buffer.commit", "data": {"event_id": event_id}}
    [event] = [
        conn.receive_text(json.dumps({"type": "realtime.response.created", "data": {"response": {"id": "resp_1"}}}))
    ]
    assert event.type == "response.created"
    assert conn.tracker.active == "resp_1"
