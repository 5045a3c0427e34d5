"""The engine's responses: event order, text and token limits, one active response, pacing, out-of-band, tools."""

from __future__ import annotations

import json

import pytest

from .engine_harness import T0, TOOLS, Harness, error, types

AUDIO_ORDER = [
    "response.created",
    "rate_limits.updated",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
]
AUDIO_TAIL = [
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
]


def test_audio_response_events_in_the_real_order(h: Harness) -> None:
    h.say("Hello")
    events = h.send("response.create", event_id="rc")
    names = types(events)
    assert names[:5] == AUDIO_ORDER and names[-6:] == AUDIO_TAIL
    middle = names[5:-6]
    assert set(middle) == {"response.output_audio.delta", "response.output_audio_transcript.delta"}
    assert middle[0] == "response.output_audio_transcript.delta"  # interleaved, text first
    created = events[0]["response"]
    assert created["status"] == "in_progress" and created["output"] == [] and created["usage"] is None
    assert created["conversation_id"].startswith("conv_") and created["id"].startswith("resp_")
    assert events[4]["part"] == {"type": "audio", "transcript": ""}
    item_added = events[2]["item"]
    assert item_added["status"] == "in_progress" and item_added["content"] == []
    done = events[-1]["response"]
    assert done["status"] == "completed" and done["status_details"] == {"type": "completed"}
    assert done["output"][0]["content"] == [{"type": "output_audio", "transcript": "You said: Hello"}]
    assert done["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}
    usage = done["usage"]
    assert usage["output_token_details"] == {"text_tokens": 4, "audio_tokens": 6}  # 15 chars; 300 ms
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["input_token_details"]["cached_tokens_details"] == {
        "text_tokens": 0,
        "audio_tokens": 0,
        "image_tokens": 0,
    }
    limits = events[1]["rate_limits"]
    assert [r["name"] for r in limits] == ["requests", "tokens"]
    transcript_done = events[names.index("response.output_audio_transcript.done")]
    assert transcript_done["transcript"] == "You said: Hello"


def test_text_response_and_max_output_tokens(h: Harness) -> None:
    h.say("one two three four five six seven eight")
    events = h.send("response.create", response={"output_modalities": ["text"]})
    names = types(events)
    assert names[4] == "response.content_part.added" and events[4]["part"] == {"type": "text", "text": ""}
    assert names[-6:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ][-6:] or names[-5:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "You said: one two three four five six seven eight"
    assert events[-1]["response"]["output"][0]["content"] == [{"type": "output_text", "text": text}]
    events = h.send("response.create", response={"output_modalities": ["text"], "max_output_tokens": 5})
    done = events[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert done["usage"]["output_tokens"] <= 5


def test_one_active_response_and_cancel_errors() -> None:
    h = Harness(pace="realtime")
    h.start()
    h.say("hello there")
    h.send("response.create")
    err = error(h.send("response.create", event_id="second"))
    assert err["code"] == "conversation_already_has_active_response" and err["event_id"] == "second"
    assert h.engine.active_response_id is not None and h.engine.active_response_id in err["message"]
    events = h.send("response.cancel", event_id="c1")
    done = events[-1]
    assert done["type"] == "response.done" and done["response"]["status_details"]["reason"] == "client_cancelled"
    err = error(h.send("response.cancel", event_id="c2"))
    assert err == {
        "type": "invalid_request_error",
        "code": "response_cancel_not_active",
        "message": "Cancellation failed: no active response found",
        "param": None,
        "event_id": "c2",
    }


def test_realtime_pacing_releases_audio_over_time() -> None:
    h = Harness(pace="realtime")
    h.start()
    h.say("w " * 19)  # "You said: " + 19 words = 21 words = 2.1 s of audio, 21 chunks
    head = h.send("response.create")
    assert types(head).count("response.output_audio.delta") == 3  # chunks 0-2 are inside the 250 ms lead
    assert h.engine.next_deadline() == pytest.approx(T0 + 0.05)
    counts = [types(h.advance(0.5)).count("response.output_audio.delta") for _ in range(4)]
    assert counts == [5, 5, 5, 3]
    assert h.engine.active_response_id is None and h.engine.next_deadline() == pytest.approx(T0 + 3600)


def test_out_of_band_responses_run_in_parallel_and_leave_the_conversation_alone() -> None:
    h = Harness(pace="realtime")
    h.start()
    first = h.say("remember this")[0]["item"]
    h.send("response.create")
    conversation_before = [i["id"] for i in h.engine.conversation]
    oob = h.send(
        "response.create",
        response={
            "conversation": "none",
            "metadata": {"purpose": "summary"},
            "output_modalities": ["text"],
            "input": [
                {"type": "item_reference", "id": first["id"]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "summarize"}]},
            ],
        },
    )
    created = oob[0]["response"]
    assert created["conversation_id"] is None and created["metadata"] == {"purpose": "summary"}
    events = oob + h.advance(5)
    oob_events = [
        e for e in events if e.get("response_id") == created["id"] or e.get("response", {}).get("id") == created["id"]
    ]
    assert "conversation.item.added" not in types(oob_events)
    text = "".join(e["delta"] for e in oob_events if e["type"] == "response.output_text.delta")
    assert text == "You said: summarize"
    dones = [e["response"] for e in events if e["type"] == "response.done"]
    assert len(dones) == 2 and {d["metadata"] and d["metadata"].get("purpose") for d in dones} == {
        "summary",
        None,
    }
    assert [i["id"] for i in h.engine.conversation] == conversation_before
    # input: [] is an empty context.
    events = h.send("response.create", response={"conversation": "none", "input": [], "output_modalities": ["text"]})
    events += h.advance(5)
    assert events[-1]["response"]["output"][0]["content"][0]["text"].startswith("Hello!")
    err = error(
        h.send(
            "response.create",
            response={"conversation": "none", "input": [{"type": "item_reference", "id": "nope"}]},
        )
    )
    assert err["param"] == "response.input[0].id"


def test_function_calls_in_the_order_named_then_results_read_back(h: Harness) -> None:
    h.send("session.update", session={"type": "realtime", "tools": TOOLS})
    h.say("What time is it? get_time, then get weather city='New York' days=3")
    events = h.send("response.create")
    assert types(events)[:6] == [
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
    ]
    added = events[2]["item"]
    assert added["type"] == "function_call" and added["arguments"] == "" and added["status"] == "in_progress"
    dones = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [d["name"] for d in dones] == ["get_time", "get_weather"]
    assert [json.loads(d["arguments"]) for d in dones] == [{}, {"city": "New York", "days": 3}]
    output = events[-1]["response"]["output"]
    assert [o["type"] for o in output] == ["function_call", "function_call"] and output[1]["status"] == "completed"
    assert [o["call_id"] for o in output] == [d["call_id"] for d in dones]
    for call, result in zip(output, ['"12:00"', '{"temp_c": 21}'], strict=True):
        h.send(
            "conversation.item.create",
            item={"type": "function_call_output", "call_id": call["call_id"], "output": result},
        )
    done = h.send("response.create")[-1]["response"]
    assert done["output"][0]["content"][0]["transcript"] == (
        'get_time returned: "12:00". get_weather returned: {"temp_c": 21}.'
    )


def test_tool_choice_none_and_forced(h: Harness) -> None:
    h.send("session.update", session={"type": "realtime", "tools": TOOLS, "tool_choice": "none"})
    h.say("get_time please")
    assert h.send("response.create")[-1]["response"]["output"][0]["type"] == "message"
    done = h.send("response.create", response={"tool_choice": {"type": "function", "name": "get_weather"}})[-1]
    assert done["response"]["output"][0]["name"] == "get_weather"
