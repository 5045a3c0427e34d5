"""What a reconnect gives back of a conversation: items per role with the right content types, and notes."""

from __future__ import annotations

from rtwidget.protocol.event_types import ROLE_PARTS
from rtwidget.protocol.history_replay import replay_of
from rtwidget.protocol.pcm import BYTES_PER_MS
from rtwidget.protocol.validate import validate_client_event

from . import wire_events as S
from .conversation_helpers import fold, user_turn


def _system_item(item_id: str, text: str) -> dict[str, object]:
    item = S.user_text_item(item_id, text)
    item["role"] = "system"
    return item


def test_a_mixed_conversation_is_replayed_in_order_with_each_roles_content_types() -> None:
    events = [
        S.item_added(_system_item("item_sys", "Be brief.")),
        *user_turn("item_u1", "What is the weather?", "item_sys"),
        *S.function_call_turn(
            "resp_1", [("item_fc", "call_1", "weather", '{"city": "Oslo"}')], previous_item_id="item_u1"
        ),
        S.item_added(S.function_output_item("item_out", "call_1", '{"temp": 3}'), previous_item_id="item_fc"),
        *S.text_turn("resp_2", "item_a1", ["It is ", "3 degrees."], previous_item_id="item_out"),
        S.item_added(S.user_audio_item("item_u2", transcript="thanks"), previous_item_id="item_a1"),
    ]
    replay = replay_of(fold(events))

    assert [item.get("id") for item in replay.items] == [
        "item_sys",
        "item_u1",
        "item_fc",
        "item_out",
        "item_a1",
        "item_u2",
    ]
    assert replay.not_restored == [] and replay.shortened == []
    by_id = {item["id"]: item for item in replay.items}
    assert by_id["item_u2"]["content"] == [{"type": "input_text", "text": "thanks"}]  # a transcript, as text
    assert by_id["item_a1"]["content"] == [{"type": "output_text", "text": "It is 3 degrees."}]
    assert by_id["item_fc"] == {
        "type": "function_call",
        "id": "item_fc",
        "name": "weather",
        "call_id": "call_1",
        "arguments": '{"city": "Oslo"}',
    }
    assert by_id["item_out"]["output"] == '{"temp": 3}'
    for item in replay.items:  # every one is a client event the API accepts
        validate_client_event({"type": "conversation.item.create", "item": item})
        if item["type"] == "message":
            assert {part["type"] for part in item["content"]} <= ROLE_PARTS[item["role"]]


def test_what_cannot_be_restored_is_named_with_a_reason() -> None:
    events = [
        S.item_added(S.user_audio_item("item_spoken")),  # no transcript: input transcription was off
        S.committed("item_spoken"),
        *S.function_call_turn("resp_1", [("item_cut", "call_9", "slow", "")], previous_item_id="item_spoken"),
    ]
    conv = fold(events)
    conv.get("item_cut").status = "incomplete"  # type: ignore[union-attr]
    conv.get("item_spoken").input_audio_ms = 1200.0  # type: ignore[union-attr]
    replay = replay_of(conv)

    assert replay.items == []
    reasons = {note["item_id"]: note["reason"] for note in replay.not_restored}
    assert "spoken audio with no transcript" in reasons["item_spoken"]
    assert "cut off" in reasons["item_cut"]
    assert {note["role"] for note in replay.not_restored} == {"user", None}


def test_an_interrupted_assistant_turn_is_replayed_as_far_as_it_was_heard() -> None:
    words = [(int(500 * BYTES_PER_MS), "One two three "), (int(500 * BYTES_PER_MS), "four five six.")]
    events = [*S.audio_turn("resp_1", "item_a", words, previous_item_id=None), S.item_truncated("item_a", 500)]
    replay = replay_of(fold(events))

    (item,) = replay.items
    assert item["content"] == [{"type": "output_text", "text": "One two three…"}]
    assert replay.shortened == [{"item_id": "item_a", "heard_ms": 500.0, "audio_ms": 1000.0}]


def test_an_assistant_turn_cut_before_anything_was_heard_is_not_restored() -> None:
    events = [
        *S.audio_turn("resp_1", "item_a", [(int(300 * BYTES_PER_MS), "Hello there")], previous_item_id=None),
        S.item_truncated("item_a", 0),
    ]
    replay = replay_of(fold(events))

    assert replay.items == []
    assert "before a whole word of it was heard" in replay.not_restored[0]["reason"]


def test_a_cut_inside_a_word_keeps_only_whole_words_and_a_full_hearing_keeps_everything() -> None:
    chunk = int(1000 * BYTES_PER_MS)

    def heard(ms: int) -> list[str]:
        turn = S.audio_turn("r", "item_a", [(chunk, "abcdefgh ijkl")], previous_item_id=None)
        replay = replay_of(fold([*turn, S.item_truncated("item_a", ms)]))
        return [item["content"][0]["text"] for item in replay.items] or [replay.not_restored[0]["reason"]]

    assert heard(700) == ["abcdefgh…"]  # 9.1 of 13 characters: the cut falls inside "ijkl"
    assert heard(300) == ["an assistant turn interrupted before a whole word of it was heard"]
    whole = fold(
        [*S.audio_turn("r", "item_b", [(chunk, "all of it")], previous_item_id=None), S.item_truncated("item_b", 5000)]
    )
    assert replay_of(whole).items[0]["content"][0]["text"] == "all of it"


def test_an_assistant_turn_with_audio_and_no_words_yet_is_not_restored() -> None:
    started = S.assistant_item("item_a")
    events = [
        S.response_created("resp_1"),
        S.item_added(started),
        S.content_part_added("resp_1", "item_a", {"type": "output_audio", "transcript": ""}),
        S.audio_delta("resp_1", "item_a", 4800),
    ]
    replay = replay_of(fold(events))
    assert replay.items == []
    assert replay.not_restored[0]["reason"] == "an assistant turn cut off before any of its words arrived"


def test_items_a_client_cannot_create_and_odd_messages_are_reported() -> None:
    conv = fold([S.item_added(S.user_text_item("item_x", "hi"))])
    item = conv.get("item_x")
    assert item is not None
    item.type = "mcp_call"
    assert "cannot be created by a client" in replay_of(conv).not_restored[0]["reason"]
    item.type, item.role = "message", "critic"
    assert "role 'critic'" in replay_of(conv).not_restored[0]["reason"]
    item.role, item.parts = "user", []
    assert replay_of(conv).not_restored[0]["reason"] == "a message with no text"
    item.type, item.output = "function_call_output", None
    assert "no output" in replay_of(conv).not_restored[0]["reason"]


def test_a_call_with_no_output_is_replayed_only_while_its_tool_runs() -> None:
    events = S.function_call_turn("resp_1", [("item_fc", "call_1", "slow", "{}")], previous_item_id=None)
    conv = fold(events)
    (note,) = replay_of(conv).not_restored
    assert note["item_id"] == "item_fc" and "its tool never ran" in note["reason"]
    assert [item["id"] for item in replay_of(conv, pending_calls=frozenset({"call_1"})).items] == ["item_fc"]


def test_a_call_cut_off_mid_arguments_is_not_replayed_even_while_owed() -> None:
    events = S.function_call_turn("resp_1", [("item_fc", "call_1", "slow", '{"a"')], previous_item_id=None)
    conv = fold(events)
    conv.get("item_fc").status = "incomplete"  # type: ignore[union-attr]
    (note,) = replay_of(conv, pending_calls=frozenset({"call_1"})).not_restored
    assert note["reason"] == "a function call cut off before its arguments were complete"
