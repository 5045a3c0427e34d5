"""conversation: server events folded into ordered items with text, transcripts, arguments and audio spans."""

from __future__ import annotations

import base64
import json

import pytest

from rtwidget.protocol.conversation import Conversation, Item, Part, b64_decoded_len
from rtwidget.protocol.pcm import BYTES_PER_MS

from . import wire_events as S
from .conversation_helpers import fold, ids, user_turn

# ----------------------------------------------------------------------------------------- helpers


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 100, 4801])
def test_b64_decoded_len_matches_decoding(n: int) -> None:
    text = base64.b64encode(bytes(n)).decode()
    assert b64_decoded_len(text) == len(base64.b64decode(text)) == n


def test_item_part_creates_missing_parts() -> None:
    item = Item("item_1", "message")
    part = item.part(2, "output_audio")
    assert [p.type for p in item.parts] == ["output_audio"] * 3
    assert part is item.parts[2]
    assert item.part(0) is item.parts[0]
    untyped = Item("item_2", "message")
    untyped.part(0)
    assert untyped.part(0, "output_text").type == "output_text"
    assert untyped.part(0, "text").type == "output_text"  # the first type seen stays


def test_item_text_prefers_text_then_transcript() -> None:
    item = Item("i", "message", parts=[Part("output_text", text="Hi. "), Part("output_audio", transcript="Bye.")])
    assert item.text == "Hi. Bye."
    assert Item("j", "message").text == ""


def test_item_audio_ms_falls_back_to_input_audio() -> None:
    item = Item("i", "message")
    assert item.audio_ms == 0.0
    item.input_audio_ms = 250.0
    assert item.audio_ms == 250.0
    item.parts.append(Part("output_audio", audio_bytes=4800))
    assert item.audio_ms == 4800 / BYTES_PER_MS == 100.0


# --------------------------------------------------------------------------------------- text turn


def test_text_turn() -> None:
    conv = fold(
        [
            S.session_created(),
            *user_turn("item_u1", "What's the capital of France?", None),
            *S.text_turn("resp_1", "item_a1", ["The capital ", "is ", "Paris."], previous_item_id="item_u1"),
        ]
    )
    assert ids(conv) == ["item_u1", "item_a1"]
    assert len(conv) == 2
    user, assistant = conv.items
    assert (user.role, user.status, user.text) == ("user", "completed", "What's the capital of France?")
    assert user.previous_item_id is None
    assert (assistant.role, assistant.status, assistant.text) == (
        "assistant",
        "completed",
        "The capital is Paris.",
    )
    assert assistant.previous_item_id == "item_u1"
    assert assistant.response_id == "resp_1"
    assert [p.type for p in assistant.parts] == ["output_text"]
    lane = conv.responses["resp_1"]
    assert (lane.status, lane.out_of_band, lane.item_ids) == ("completed", False, ["item_a1"])
    assert lane.usage == {"total_tokens": 30, "input_tokens": 20, "output_tokens": 10}
    assert conv.out_of_band() == []


def test_text_deltas_assemble_before_done() -> None:
    events = S.text_turn("resp_1", "item_a1", ["Bon", "jour"], previous_item_id=None)
    conv = fold(events[:6])  # up to and including the second delta
    item = conv.get("item_a1")
    assert item is not None
    assert item.text == "Bonjour"
    assert item.status == "in_progress"
    assert conv.responses["resp_1"].status == "in_progress"


def test_text_done_replaces_the_assembled_text() -> None:
    conv = fold(
        [
            S.response_created("resp_1"),
            S.output_item_added("resp_1", S.assistant_item("item_a1")),
            S.text_delta("resp_1", "item_a1", "garbled"),
            S.text_done("resp_1", "item_a1", "clean"),
            {**S.text_done("resp_1", "item_a1", "x"), "text": None},
        ]
    )
    assert conv.get("item_a1").text == "clean"  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------- audio turns


def test_audio_turn_with_interleaved_audio_and_transcript() -> None:
    chunks = [(4800, "Hello "), (9600, "there, "), (2400, "friend.")]
    conv = fold(S.audio_turn("resp_1", "item_a1", chunks, previous_item_id=None))
    item = conv.get("item_a1")
    assert item is not None
    assert item.text == "Hello there, friend."
    assert item.parts[0].type == "output_audio"
    assert item.parts[0].audio_bytes == 16800
    assert item.audio_ms == 350.0
    assert item.summary() == {
        "id": "item_a1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "text": "Hello there, friend.",
        "name": None,
        "call_id": None,
        "arguments": None,
        "output": None,
        "audio_ms": 350.0,
        "truncated_at_ms": None,
    }


def test_transcript_done_replaces_and_ignores_non_strings() -> None:
    conv = fold(
        [
            S.output_item_added("resp_1", S.assistant_item("item_a1")),
            S.transcript_delta("resp_1", "item_a1", "helo"),
            S.transcript_done("resp_1", "item_a1", "hello"),
            {**S.transcript_done("resp_1", "item_a1", ""), "transcript": None},
        ]
    )
    assert conv.get("item_a1").text == "hello"  # type: ignore[union-attr]


def test_vad_user_turn_measures_the_speech_and_takes_the_transcript() -> None:
    item = S.user_audio_item("item_u1")
    conv = fold(
        [
            S.speech_started("item_u1", 1000),
            S.speech_stopped("item_u1", 3500),
            S.committed("item_u1"),
            S.item_added(item, previous_item_id=None),
            S.item_done(item, previous_item_id=None),
            S.transcription_delta("item_u1", "Turn on "),
            S.transcription_delta("item_u1", "the light"),
        ]
    )
    user = conv.get("item_u1")
    assert user is not None
    assert ids(conv) == ["item_u1"]
    assert user.input_audio_ms == 2500.0
    assert user.audio_ms == 2500.0
    assert user.text == "Turn on the light"
    # the transcript can arrive after the response; the final one wins
    fold(
        [
            *S.audio_turn("resp_1", "item_a1", [(480, "Done.")], previous_item_id="item_u1"),
            S.transcription_completed("item_u1", "Turn on the light."),
            S.item_done(S.user_audio_item("item_u1"), previous_item_id=None),  # transcript null: kept
        ],
        conv,
    )
    assert user.text == "Turn on the light."
    assert ids(conv) == ["item_u1", "item_a1"]


def test_speech_events_that_do_not_pair_are_ignored() -> None:
    conv = fold(
        [
            S.speech_stopped("item_x", 900),
            {**S.speech_started("item_y", 0), "audio_start_ms": "soon"},
            S.speech_stopped("item_y", 900),
            S.speech_started("item_z", 100),
            {**S.speech_stopped("item_z", 0), "audio_end_ms": None},
        ]
    )
    assert conv.get("item_x") is None
    assert conv.get("item_y") is None
    assert conv.get("item_z") is None


def test_set_input_audio_before_the_item_arrives() -> None:
    conv = Conversation()
    conv.set_input_audio("item_u1", 640)
    placeholder = conv.get("item_u1")
    assert placeholder is not None
    assert (placeholder.type, placeholder.role, placeholder.input_audio_ms) == ("message", "user", 640.0)
    assert ids(conv) == []  # not in the conversation until the server adds it
    fold([S.item_added(S.user_audio_item("item_u1", transcript="hi"), previous_item_id=None)], conv)
    assert conv.items == [placeholder]
    assert placeholder.audio_ms == 640.0
    assert placeholder.text == "hi"


def test_input_transcription_for_an_unknown_item_is_dropped() -> None:
    conv = fold([S.transcription_delta("item_gone", "x"), S.transcription_completed("item_gone", "x")])
    assert conv.get("item_gone") is None
    conv = fold(
        [
            S.item_added(S.user_audio_item("item_u1"), previous_item_id=None),
            {**S.transcription_completed("item_u1", ""), "transcript": None},
        ]
    )
    assert conv.get("item_u1").text == ""  # type: ignore[union-attr]


def test_retrieved_item_carries_audio() -> None:
    audio = S.b64(9600)
    conv = fold(
        [
            S.item_added(S.user_audio_item("item_u1"), previous_item_id=None),
            S.item_retrieved(
                {
                    "id": "item_u1",
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_audio", "audio": audio, "transcript": "hey"}, "junk"],
                }
            ),
            {"type": "conversation.item.retrieved", "item": None},
        ]
    )
    user = conv.get("item_u1")
    assert user is not None
    assert user.parts[0].audio_bytes == 9600
    assert user.audio_ms == 200.0
    assert user.text == "hey"
    assert len(user.parts) == 1


def test_retrieved_audio_does_not_double_count_streamed_audio() -> None:
    conv = fold(S.audio_turn("resp_1", "item_a1", [(4800, "Hi.")], previous_item_id=None))
    full = {**S.assistant_item("item_a1", status="completed")}
    full["content"] = [{"type": "output_audio", "audio": S.b64(4800), "transcript": "Hi."}]
    fold([S.item_retrieved(full)], conv)
    assert conv.get("item_a1").audio_ms == 100.0  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------- function calls


@pytest.mark.parametrize("n_calls", [1, 2, 3])
def test_function_calls_in_one_response(n_calls: int) -> None:
    calls = [(f"item_fc{i}", f"call_{i}", f"tool_{i}", json.dumps({"n": i, "city": "Oslo"})) for i in range(n_calls)]
    conv = fold(
        [
            *user_turn("item_u1", "Weather?", None),
            *S.function_call_turn("resp_1", calls, previous_item_id="item_u1"),
        ]
    )
    assert ids(conv) == ["item_u1", *[c[0] for c in calls]]
    for item_id, call_id, name, arguments in calls:
        item = conv.get(item_id)
        assert item is not None
        assert (item.type, item.call_id, item.name, item.arguments) == (
            "function_call",
            call_id,
            name,
            arguments,
        )
        assert item.status == "completed"
        assert json.loads(item.arguments)["city"] == "Oslo"
    assert conv.responses["resp_1"].item_ids == [c[0] for c in calls]


def test_function_call_arguments_stream_then_done_wins() -> None:
    conv = fold(
        [
            S.output_item_added("resp_1", S.function_call_item("item_fc", "call_1", "lookup", status="in_progress")),
            S.arguments_delta("resp_1", "item_fc", "call_1", '{"q": '),
            S.arguments_delta("resp_1", "item_fc", "call_1", '"rtw'),
        ]
    )
    item = conv.get("item_fc")
    assert item is not None
    assert item.arguments == '{"q": "rtw'
    assert item.summary()["arguments"] == '{"q": "rtw'
    beta_done = S.arguments_done("resp_1", "item_fc", "call_1", "lookup", '{"q": "rtwidget"}')
    del beta_done["name"]  # beta has no name here
    fold([beta_done], conv)
    assert (item.arguments, item.name) == ('{"q": "rtwidget"}', "lookup")
    fold([{**S.arguments_done("resp_1", "item_fc", "call_1", "lookup", ""), "arguments": None}], conv)
    assert item.arguments == '{"q": "rtwidget"}'
    fold(
        [
            S.arguments_delta("resp_1", "item_gone", "c", "x"),
            S.arguments_done("resp_1", "item_gone", "c", "f", "{}"),
        ],
        conv,
    )
    assert conv.get("item_gone") is None


def test_function_call_output_item() -> None:
    out = S.function_output_item("item_out", "call_1", '{"temp": 18}')
    conv = fold([S.item_added(out, previous_item_id="item_fc0"), S.item_done(out, previous_item_id="item_fc0")])
    item = conv.get("item_out")
    assert item is not None
    assert (item.type, item.call_id, item.output) == ("function_call_output", "call_1", '{"temp": 18}')
    assert item.summary()["output"] == '{"temp": 18}'


def test_cancelled_response_keeps_partial_output() -> None:
    events = S.audio_turn("resp_1", "item_a1", [(4800, "I was say")], previous_item_id=None, status="incomplete")
    events[-1] = S.response_done(
        "resp_1",
        output=[S.assistant_item("item_a1", status="incomplete")],
        status="cancelled",
        status_details={"type": "cancelled", "reason": "turn_detected"},
    )
    conv = fold(events)
    lane = conv.responses["resp_1"]
    assert lane.status == "cancelled"
    assert lane.status_details == {"type": "cancelled", "reason": "turn_detected"}
    item = conv.get("item_a1")
    assert item is not None
    assert (item.status, item.text, item.audio_ms) == ("incomplete", "I was say", 100.0)


def test_odd_shapes_in_deletes_and_item_contents_change_nothing_and_raise_nothing() -> None:
    conv = fold(user_turn("item_1", "hello", None))
    fold([{"type": "conversation.item.deleted", "event_id": "e1", "item_id": ["item_1"]}], conv)
    fold([{"type": "conversation.item.deleted", "event_id": "e2", "item_id": {"id": "item_1"}}], conv)
    odd = {**S.user_text_item("item_2", "x"), "content": 5}
    fold([S.item_added(odd, previous_item_id="item_1")], conv)
    assert ids(conv) == ["item_1", "item_2"] and conv.get("item_1").text == "hello"  # type: ignore[union-attr]
    assert conv.get("item_2").parts == []  # type: ignore[union-attr]
