"""conversation: out-of-band lanes, ordering, truncation and deletion, content parts, and the beta sequence."""

from __future__ import annotations

from . import wire_events as S
from .conversation_helpers import Json, fold, ids, user_turn

# ------------------------------------------------------------------------------------- out-of-band


def test_out_of_band_response_stays_out_of_the_conversation() -> None:
    meta = {"purpose": "summary", "rtwidget_request": "evt_1"}
    oob = "resp_oob"
    final = S.assistant_item("item_s1", status="completed", content=[{"type": "output_text", "text": "Sum."}])
    conv = fold(
        [
            *user_turn("item_u1", "Long story...", None),
            S.response_created(oob, conversation_id=None, metadata=meta),
            S.output_item_added(oob, S.assistant_item("item_s1")),
            S.content_part_added(oob, "item_s1", {"type": "text", "text": ""}),
            S.text_delta(oob, "item_s1", "Su"),
            S.text_delta(oob, "item_s1", "m."),
            S.output_item_done(oob, final),
            S.response_done(oob, output=[final], conversation_id=None, metadata=meta),
        ]
    )
    assert ids(conv) == ["item_u1"]
    assert conv.get("item_s1").text == "Sum."  # type: ignore[union-attr]
    assert conv.get("item_s1").response_id == oob  # type: ignore[union-attr]
    [lane] = conv.out_of_band()
    assert (lane.id, lane.out_of_band, lane.metadata, lane.item_ids) == (oob, True, meta, ["item_s1"])
    assert lane.status == "completed"


def test_out_of_band_response_seen_only_at_done() -> None:
    conv = fold([S.response_done("resp_x", conversation_id=None, metadata={"k": "v"})])
    [lane] = conv.out_of_band()
    assert (lane.id, lane.metadata, lane.status) == ("resp_x", {"k": "v"}, "completed")
    conv = fold([S.response_done("resp_y", status="failed")])
    assert conv.responses["resp_y"].out_of_band is False
    assert conv.responses["resp_y"].status == "failed"


def test_parallel_out_of_band_and_default_responses() -> None:
    oob_item = S.assistant_item("item_o", status="completed", content=[{"type": "output_text", "text": "label: A"}])
    main_item = S.assistant_item("item_m", status="completed", content=[{"type": "output_text", "text": "Sure."}])
    conv = fold(
        [
            S.response_created("resp_m"),
            S.response_created("resp_o", conversation_id=None, metadata={"purpose": "classify"}),
            S.output_item_added("resp_o", S.assistant_item("item_o")),
            S.output_item_added("resp_m", S.assistant_item("item_m")),
            S.item_added(S.assistant_item("item_m"), previous_item_id=None),
            S.text_delta("resp_m", "item_m", "Sure."),
            S.text_delta("resp_o", "item_o", "label: A"),
            S.output_item_done("resp_o", oob_item),
            S.response_done("resp_o", output=[oob_item], conversation_id=None, metadata={"purpose": "classify"}),
            S.output_item_done("resp_m", main_item),
            S.response_done("resp_m", output=[main_item]),
        ]
    )
    assert ids(conv) == ["item_m"]
    assert [r.id for r in conv.out_of_band()] == ["resp_o"]
    assert conv.get("item_o").text == "label: A"  # type: ignore[union-attr]
    assert conv.get("item_m").text == "Sure."  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------- ordering


def test_previous_item_id_orders_items() -> None:
    conv = fold(
        [
            *user_turn("item_1", "one", None),
            *user_turn("item_2", "two", "item_1"),
            *user_turn("item_3", "three", "item_2"),
            *user_turn("item_1b", "after one", "item_1"),  # insert after an earlier item
            *user_turn("item_0", "first", "root"),
            *user_turn("item_9", "unknown predecessor", "item_missing"),
        ]
    )
    assert ids(conv) == ["item_0", "item_1", "item_1b", "item_2", "item_3", "item_9"]
    assert conv.get("item_1b").previous_item_id == "item_1"  # type: ignore[union-attr]
    assert conv.get("item_0").previous_item_id == "root"  # type: ignore[union-attr]


def test_a_null_previous_item_id_means_first_and_an_absent_one_means_appended() -> None:
    # An item created with previous_item_id "root" comes back with null: it has no predecessor.
    conv = fold([*user_turn("item_1", "one", None), *user_turn("item_2", "two", "item_1")])
    fold([S.item_added(S.user_text_item("item_0", "zero"), previous_item_id=None)], conv)
    fold([S.item_added(S.user_text_item("item_3", "three"))], conv)
    assert ids(conv) == ["item_0", "item_1", "item_2", "item_3"]
    assert conv.get("item_0").previous_item_id is None  # type: ignore[union-attr]


def test_an_item_is_inserted_once() -> None:
    item = S.user_text_item("item_2", "two")
    conv = fold(
        [
            *user_turn("item_1", "one", None),
            S.item_added(item, previous_item_id="item_1"),
            S.item_added(item, kind="created", previous_item_id="root"),
            S.item_done(item, previous_item_id="root"),
        ]
    )
    assert ids(conv) == ["item_1", "item_2"]
    assert conv.get("item_2").previous_item_id == "item_1"  # type: ignore[union-attr]


def test_output_item_done_adds_items_a_server_never_announced() -> None:
    final = S.assistant_item("item_a1", status="completed", content=[{"type": "output_text", "text": "hi"}])
    conv = fold([S.response_created("resp_1"), S.output_item_added("resp_1", S.assistant_item("item_a1"))])
    assert ids(conv) == []  # output_item.added alone does not place it
    fold([S.output_item_done("resp_1", final), S.item_done(final, previous_item_id=None)], conv)
    assert ids(conv) == ["item_a1"]
    # no response.created seen at all: still the default conversation
    fold([S.output_item_done("resp_2", S.assistant_item("item_a2", status="completed"))], conv)
    assert ids(conv) == ["item_a1", "item_a2"]


def test_malformed_item_events_are_ignored() -> None:
    conv = fold(
        [
            {"type": "conversation.item.added", "item": None},
            {"type": "response.output_item.added", "response_id": "r", "item": "x"},
            {"type": "response.output_item.done", "response_id": "r", "item": 3},
            S.response_done("resp_1", output=[{"type": "message"}, "junk"]),
            S.rate_limits(),
        ]
    )
    assert ids(conv) == []
    assert conv.responses["resp_1"].item_ids == []


def test_item_without_id_or_type_gets_defaults() -> None:
    conv = fold([S.item_added({"role": "user", "content": None}, previous_item_id=None)])
    [item] = conv.items
    assert (item.id, item.type, item.role, item.parts) == ("", "message", "user", [])


# ------------------------------------------------------------------------- truncation and deletion


def test_truncation_marks_what_was_heard() -> None:
    conv = fold(S.audio_turn("resp_1", "item_a1", [(48000, "A long answer.")], previous_item_id=None))
    fold([S.item_truncated("item_a1", 420), S.item_truncated("item_unknown", 10)], conv)
    item = conv.get("item_a1")
    assert item is not None
    assert item.truncated_at_ms == 420
    assert item.summary()["truncated_at_ms"] == 420
    assert item.audio_ms == 1000.0
    assert item.text == "A long answer."  # ours is kept even though the server dropped its transcript
    fold([{**S.item_truncated("item_a1", 0), "audio_end_ms": None}], conv)
    assert item.truncated_at_ms == 0


def test_deletion_removes_the_item() -> None:
    conv = fold([*user_turn("item_1", "one", None), *user_turn("item_2", "two", "item_1")])
    fold([S.item_deleted("item_1"), S.item_deleted("item_never")], conv)
    assert ids(conv) == ["item_2"]
    assert conv.get("item_1") is None
    # an item re-created after deletion is a new item
    fold(user_turn("item_1", "one again", "item_2"), conv)
    assert ids(conv) == ["item_2", "item_1"]
    assert conv.get("item_1").text == "one again"  # type: ignore[union-attr]


# ----------------------------------------------------------------------------------- content parts


def test_content_parts_carry_text_and_transcript() -> None:
    conv = fold(
        [
            S.output_item_added("resp_1", S.assistant_item("item_a1")),
            S.content_part_added("resp_1", "item_a1", {"type": "audio", "transcript": ""}),
            S.content_part_done("resp_1", "item_a1", {"type": "audio", "transcript": "Spoken."}),
            S.content_part_added("resp_1", "item_a1", {"type": "output_text", "text": "Written."}, content_index=1),
            {**S.content_part_added("resp_1", "item_a1", {}, content_index=2), "part": None},
            S.content_part_added("resp_1", "item_gone", {"type": "text", "text": "lost"}),
        ]
    )
    item = conv.get("item_a1")
    assert item is not None
    assert [(p.type, p.text, p.transcript) for p in item.parts] == [
        ("audio", "", "Spoken."),
        ("output_text", "Written.", ""),
        ("", "", ""),
    ]
    assert item.text == "Spoken.Written."
    assert conv.get("item_gone") is None


def test_deltas_for_unknown_items_are_dropped() -> None:
    conv = fold(
        [
            S.text_delta("resp_1", "item_x", "a"),
            S.text_done("resp_1", "item_x", "a"),
            S.audio_delta("resp_1", "item_x", 480),
            S.transcript_delta("resp_1", "item_x", "a"),
            S.transcript_done("resp_1", "item_x", "a"),
        ]
    )
    assert conv.get("item_x") is None
    assert len(conv) == 0


# -------------------------------------------------------------------------------------------- beta


def test_beta_server_sequence_folds_like_ga() -> None:
    """A beta server's text and audio turns (beta names and content types) give the same state."""
    user = S.user_text_item("item_u1", "Hi")
    events: list[Json] = [
        {"type": "conversation.item.created", "event_id": "e1", "previous_item_id": None, "item": user},
        {
            "type": "response.created",
            "event_id": "e2",
            "response": {"id": "resp_1", "conversation_id": "conv_1"},
        },
        S.output_item_added("resp_1", S.assistant_item("item_a1")),
        {
            "type": "conversation.item.created",
            "event_id": "e3",
            "previous_item_id": "item_u1",
            "item": S.assistant_item("item_a1"),
        },
        S.content_part_added("resp_1", "item_a1", {"type": "audio", "transcript": ""}),
        {**S.audio_delta("resp_1", "item_a1", 2400), "type": "response.audio.delta"},
        {**S.transcript_delta("resp_1", "item_a1", "Hel"), "type": "response.audio_transcript.delta"},
        {**S.audio_delta("resp_1", "item_a1", 2400), "type": "response.audio.delta"},
        {**S.transcript_delta("resp_1", "item_a1", "lo!"), "type": "response.audio_transcript.delta"},
        {**S.transcript_done("resp_1", "item_a1", "Hello!"), "type": "response.audio_transcript.done"},
        S.output_item_done(
            "resp_1",
            S.assistant_item("item_a1", status="completed", content=[{"type": "audio", "transcript": "Hello!"}]),
        ),
        {
            "type": "response.done",
            "event_id": "e4",
            "response": {
                "id": "resp_1",
                "conversation_id": "conv_1",
                "status": "completed",
                "modalities": ["text", "audio"],
                "temperature": 0.8,
                "output": [
                    S.assistant_item("item_a1", status="completed", content=[{"type": "audio", "transcript": "Hello!"}])
                ],
            },
        },
        S.output_item_added("resp_2", S.assistant_item("item_a2")),
        {**S.text_delta("resp_2", "item_a2", "Typed"), "type": "response.text.delta"},
        {**S.text_done("resp_2", "item_a2", "Typed."), "type": "response.text.done"},
    ]
    conv = fold(events, dialect="beta")
    assert ids(conv) == ["item_u1", "item_a1"]
    assistant = conv.get("item_a1")
    assert assistant is not None
    assert (assistant.text, assistant.audio_ms, assistant.status) == ("Hello!", 100.0, "completed")
    assert conv.responses["resp_1"].status == "completed"
    assert conv.get("item_a2").text == "Typed."  # type: ignore[union-attr]


def test_response_items_and_text_for_both_lanes() -> None:
    oob = "resp_oob"
    final = S.assistant_item("item_s1", status="completed", content=[{"type": "output_text", "text": "Sum."}])
    call = S.function_call_item("item_f1", "call_1", "lookup", "{}")
    conv = fold(
        [
            S.response_created(oob, conversation_id=None),
            S.output_item_done(oob, final),
            S.response_done(oob, output=[final], conversation_id=None),
            S.response_created("resp_1"),
            S.output_item_done("resp_1", call),
            S.response_done("resp_1", output=[call]),
        ]
    )
    assert [i.id for i in conv.response_items(oob)] == ["item_s1"]
    assert conv.response_text(oob) == "Sum."
    assert [i.id for i in conv.response_items("resp_1")] == ["item_f1"]
    assert conv.response_text("resp_1") == ""  # a function call says nothing
    assert conv.response_items("resp_unknown") == [] and conv.response_text("resp_unknown") == ""
