"""The engine's conversation items: create (with previous_item_id), retrieve with audio, truncate, delete."""

from __future__ import annotations

import base64

from rtwidget import audio

from .engine_harness import Harness, error, tone, types


def test_item_create_added_then_done_with_previous_item_ids(h: Harness) -> None:
    first = h.say("one")
    assert types(first) == ["conversation.item.added", "conversation.item.done"]
    assert first[0]["previous_item_id"] is None and first[0]["item"]["status"] == "completed"
    item = first[0]["item"]
    assert item["id"].startswith("item_") and item["object"] == "realtime.item"
    assert item["content"] == [{"type": "input_text", "text": "one"}]
    second = h.say("two")
    assert second[0]["previous_item_id"] == item["id"]
    root = h.send(
        "conversation.item.create",
        previous_item_id="root",
        item={
            "id": "item_mine",
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "s"}],
        },
    )
    assert root[0]["previous_item_id"] is None and root[0]["item"]["id"] == "item_mine"
    assert h.engine.conversation[0]["id"] == "item_mine"
    err = error(h.send("conversation.item.create", event_id="x", previous_item_id="item_nope", item=item))
    assert err["param"] == "previous_item_id" and err["event_id"] == "x"
    err = error(
        h.send(
            "conversation.item.create",
            item={"type": "message", "role": "user", "content": [{"type": "input_text"}]},
        )
    )
    assert err["code"] == "missing_required_parameter" and err["message"] == (
        "Missing required parameter: 'item.content[0].text'."
    )
    err = error(h.send("conversation.item.create", item={"type": "function_call_output", "call_id": "c", "output": {}}))
    assert err["code"] == "invalid_type" and err["param"] == "item.output"


def test_retrieve_includes_user_and_assistant_audio(h: Harness) -> None:
    pcm = tone(300)
    added = h.send(
        "conversation.item.create",
        item={
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": audio.b64encode(pcm)}],
        },
    )
    user_id = added[0]["item"]["id"]
    assert "audio" not in added[0]["item"]["content"][0]
    (retrieved,) = h.send("conversation.item.retrieve", item_id=user_id)
    assert retrieved["type"] == "conversation.item.retrieved"
    assert base64.b64decode(retrieved["item"]["content"][0]["audio"]) == pcm
    events = h.send("response.create")
    done = events[-1]["response"]
    assert done["output"][0]["content"][0] == {
        "type": "output_audio",
        "transcript": "I heard 0.3 seconds of audio.",
    }
    (retrieved,) = h.send("conversation.item.retrieve", item_id=done["output"][0]["id"])
    part = retrieved["item"]["content"][0]
    assert part["transcript"] == "I heard 0.3 seconds of audio." and len(base64.b64decode(part["audio"])) == 48 * 600
    err = error(h.send("conversation.item.retrieve", event_id="r", item_id="item_nope"))
    assert err["event_id"] == "r" and err["param"] == "item_id"


def test_truncate_bounds_and_transcript_removal(h: Harness) -> None:
    h.say("a b c d e")
    assistant = h.send("response.create")[-1]["response"]["output"][0]  # "You said: a b c d e" = 7 words
    err = error(
        h.send(
            "conversation.item.truncate",
            event_id="t",
            item_id=assistant["id"],
            content_index=0,
            audio_end_ms=800,
        )
    )
    assert err == {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "message": "Audio content of 700ms is already shorter than 800ms",
        "param": "audio_end_ms",
        "event_id": "t",
    }
    (truncated,) = h.send("conversation.item.truncate", item_id=assistant["id"], content_index=0, audio_end_ms=250)
    assert truncated == {
        "type": "conversation.item.truncated",
        "event_id": truncated["event_id"],
        "item_id": assistant["id"],
        "content_index": 0,
        "audio_end_ms": 250,
    }
    (retrieved,) = h.send("conversation.item.retrieve", item_id=assistant["id"])
    part = retrieved["item"]["content"][0]
    assert "transcript" not in part and len(base64.b64decode(part["audio"])) == 250 * 48
    user_id = h.engine.conversation[0]["id"]
    err = error(h.send("conversation.item.truncate", item_id=user_id, content_index=0, audio_end_ms=0))
    assert err["message"] == "Only model output audio messages can be truncated"


def test_delete(h: Harness) -> None:
    item_id = h.say("x")[0]["item"]["id"]
    (deleted,) = h.send("conversation.item.delete", item_id=item_id)
    assert deleted["type"] == "conversation.item.deleted" and deleted["item_id"] == item_id
    assert h.engine.conversation == []
    assert error(h.send("conversation.item.delete", item_id=item_id))["param"] == "item_id"
