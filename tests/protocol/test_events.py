"""events: the codec turns wire text into Event / UnknownEvent / InvalidEvent (never raising) and back."""

from __future__ import annotations

import json

import pytest

from rtwidget.protocol.events import INVALID, Codec, Event, InvalidEvent, UnknownEvent

from . import wire_events as S

GA = Codec()
BETA = Codec("beta")


def test_codec_rejects_an_unknown_dialect() -> None:
    with pytest.raises(ValueError, match="unknown dialect"):
        Codec("preview")


def test_codec_defaults() -> None:
    assert GA.dialect == "ga"
    assert GA.envelope is False
    assert Codec("beta", envelope=True).envelope is True


# ------------------------------------------------------------------------------------ known events


def test_decode_a_known_event() -> None:
    data = S.response_created("resp_1")
    event = GA.decode(S.wire(data))
    assert type(event) is Event
    assert event.type == "response.created"
    assert event.known is True
    assert event.data == data
    assert event.event_id == data["event_id"]
    assert event["response"]["id"] == "resp_1"
    assert "response" in event
    assert "item" not in event
    assert event.get("item") is None
    assert event.get("item", 3) == 3
    assert event.cause is None


def test_decode_accepts_bytes() -> None:
    event = GA.decode(S.wire(S.speech_started("item_1", 120)).encode("utf-8"))
    assert event.type == "input_audio_buffer.speech_started"
    assert event["audio_start_ms"] == 120


def test_event_without_event_id() -> None:
    event = GA.decode(json.dumps({"type": "input_audio_buffer.dtmf_event_received", "event": "5", "received_at": 1}))
    assert event.known
    assert event.event_id is None
    assert GA.decode(json.dumps({"type": "error", "event_id": 7})).event_id is None


def test_repr_is_short() -> None:
    event = GA.decode(S.wire(S.text_delta("resp_1", "item_1", "x" * 500)))
    text = repr(event)
    assert text.startswith("<Event response.output_text.delta {")
    assert text.endswith("...>")
    assert len(text) < 200
    small = GA.decode(json.dumps({"type": "input_audio_buffer.cleared", "event_id": "event_9"}))
    assert repr(small) == '<Event input_audio_buffer.cleared {"event_id": "event_9"}>'


# ----------------------------------------------------------------------------- unknown and invalid


def test_unknown_type_keeps_the_raw_dict() -> None:
    data = {"type": "response.hologram.delta", "event_id": "event_1", "delta": "✨"}
    event = GA.decode(json.dumps(data))
    assert isinstance(event, UnknownEvent)
    assert event.known is False
    assert event.type == "response.hologram.delta"
    assert event.data == data
    assert repr(event).startswith("<UnknownEvent response.hologram.delta")


def test_beta_names_are_unknown_to_a_ga_codec() -> None:
    event = GA.decode(json.dumps({"type": "response.text.delta", "delta": "hi"}))
    assert isinstance(event, UnknownEvent)
    assert event.type == "response.text.delta"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"type": "response.done",', "not JSON"),
        ("", "not JSON"),
        (b"\xff\xfe{", "not JSON"),
        ("[1, 2]", "not a JSON object but list"),
        ('"response.done"', "not a JSON object but str"),
        ("42", "not a JSON object but int"),
        ("null", "not a JSON object but NoneType"),
        ('{"event_id": "event_1"}', "no string 'type' field"),
        ('{"type": 7}', "no string 'type' field"),
        ('{"type": null}', "no string 'type' field"),
    ],
)
def test_invalid_messages_become_invalid_events(text: str | bytes, reason: str) -> None:
    event = GA.decode(text)
    assert isinstance(event, InvalidEvent)
    assert event.type == INVALID
    assert event.known is False
    assert event.reason.startswith(reason)
    assert event.data == {"type": INVALID, "reason": event.reason}
    assert isinstance(event.text, str)


def test_invalid_event_keeps_the_raw_text() -> None:
    event = GA.decode(b"\xff{oops")
    assert isinstance(event, InvalidEvent)
    assert event.text == "\ufffd{oops"
    event = GA.decode("{oops")
    assert isinstance(event, InvalidEvent)
    assert event.text == "{oops"


def test_decode_never_raises_on_a_wrong_argument_type() -> None:
    event = GA.decode(None)  # type: ignore[arg-type]
    assert isinstance(event, InvalidEvent)
    assert event.reason.startswith("not JSON")
    assert event.text == "None"


# ---------------------------------------------------------------------------------------- envelope


def test_envelope_wrapped_events_are_unwrapped() -> None:
    wrapped = {"type": "realtime.response.output_text.delta", "data": {"event_id": "event_1", "delta": "hi"}}
    event = GA.decode(json.dumps(wrapped))
    assert type(event) is Event
    assert event.type == "response.output_text.delta"
    assert event.data == {"type": "response.output_text.delta", "event_id": "event_1", "delta": "hi"}


def test_envelope_wrapped_beta_events_are_unwrapped_then_translated() -> None:
    wrapped = {"type": "realtime.response.audio.delta", "data": {"delta": "AAAA", "item_id": "item_1"}}
    event = BETA.decode(json.dumps(wrapped))
    assert event.type == "response.output_audio.delta"
    assert event["item_id"] == "item_1"


def test_an_envelope_without_data_is_unknown() -> None:
    event = GA.decode(json.dumps({"type": "realtime.response.done", "data": None}))
    assert isinstance(event, UnknownEvent)
    assert event.type == "realtime.response.done"


# -------------------------------------------------------------------------------------- beta input


def test_beta_codec_translates_renamed_events() -> None:
    pairs = {
        "response.text.delta": "response.output_text.delta",
        "response.text.done": "response.output_text.done",
        "response.audio.delta": "response.output_audio.delta",
        "response.audio.done": "response.output_audio.done",
        "response.audio_transcript.delta": "response.output_audio_transcript.delta",
        "response.audio_transcript.done": "response.output_audio_transcript.done",
    }
    for beta, ga in pairs.items():
        event = BETA.decode(json.dumps({"type": beta, "event_id": "event_1", "delta": "x"}))
        assert type(event) is Event
        assert event.type == ga
        assert event.data["type"] == ga


def test_beta_codec_nests_a_flat_session() -> None:
    flat = {
        "type": "session.created",
        "event_id": "event_1",
        "session": {
            "id": "sess_1",
            "object": "realtime.session",
            "model": "gpt-4o-realtime-preview",
            "modalities": ["text", "audio"],
            "voice": "alloy",
            "input_audio_format": "pcm16",
            "output_audio_format": "pcm16",
            "turn_detection": {"type": "server_vad"},
            "temperature": 0.8,
            "max_response_output_tokens": "inf",
        },
    }
    event = BETA.decode(json.dumps(flat))
    assert event.type == "session.created"
    assert event["session"] == {
        "type": "realtime",
        "id": "sess_1",
        "object": "realtime.session",
        "model": "gpt-4o-realtime-preview",
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "turn_detection": {"type": "server_vad"},
            },
            "output": {"voice": "alloy", "format": {"type": "audio/pcm", "rate": 24000}},
        },
    }


def test_beta_codec_reads_transcription_sessions() -> None:
    event = BETA.decode(
        json.dumps(
            {
                "type": "transcription_session.updated",
                "event_id": "event_2",
                "session": {
                    "input_audio_transcription": {"model": "gpt-4o-transcribe"},
                    "turn_detection": None,
                },
            }
        )
    )
    assert event.type == "session.updated"
    assert event["session"]["type"] == "transcription"
    assert event["session"]["audio"]["input"]["transcription"] == {"model": "gpt-4o-transcribe"}


def test_beta_codec_maps_item_content_types() -> None:
    event = BETA.decode(
        json.dumps(
            {
                "type": "conversation.item.created",
                "event_id": "event_3",
                "previous_item_id": None,
                "item": {
                    "id": "item_1",
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "audio", "transcript": "hello"}],
                },
            }
        )
    )
    assert event.type == "conversation.item.created"
    assert event["item"]["content"] == [{"type": "output_audio", "transcript": "hello"}]


# ---------------------------------------------------------------------------------------- encoding


def test_encode_is_compact_json_and_keeps_non_ascii() -> None:
    text = GA.encode({"type": "conversation.item.create", "item": {"type": "message", "text": "Grüße"}})
    assert text == '{"type":"conversation.item.create","item":{"type":"message","text":"Grüße"}}'


def test_encode_translates_for_beta() -> None:
    text = BETA.encode({"type": "response.create", "response": {"output_modalities": ["text"]}})
    assert json.loads(text) == {"type": "response.create", "response": {"modalities": ["text"]}}


def test_encode_wraps_in_the_envelope_only_when_asked() -> None:
    event = {"type": "input_audio_buffer.commit", "event_id": "e1"}
    assert json.loads(Codec(envelope=True).encode(event)) == {
        "type": "realtime.input_audio_buffer.commit",
        "data": {"event_id": "e1"},
    }
    assert json.loads(GA.encode(event)) == event
    beta_wrapped = json.loads(
        Codec("beta", envelope=True).encode({"type": "session.update", "session": {"type": "transcription"}})
    )
    assert beta_wrapped == {"type": "realtime.transcription_session.update", "data": {"session": {}}}


def test_encode_does_not_mutate_its_argument() -> None:
    event = {"type": "response.create", "response": {"output_modalities": ["text"]}}
    Codec("beta", envelope=True).encode(event)
    assert event == {"type": "response.create", "response": {"output_modalities": ["text"]}}


def test_many_brackets_but_shallow_is_still_an_event() -> None:
    # More opening brackets than MAX_DEPTH sends the event through the depth walk, which lets a wide one pass.
    many = json.dumps({"type": "rate_limits.updated", "rate_limits": [{"name": "t", "x": [{}]} for _ in range(200)]})
    event = GA.decode(many)
    assert event.known and len(event["rate_limits"]) == 200
    assert GA.decode(many.encode("utf-8")).known  # bytes take the same path


def test_invalid_utf8_bytes_are_not_json() -> None:
    event = GA.decode(b'{"type": "error", "x": "\xff"}')
    assert isinstance(event, InvalidEvent) and event.reason.startswith("not JSON")
