"""The engine's input audio buffer: push-to-talk, server and semantic VAD turns, barge-in, the idle timeout."""

from __future__ import annotations

import base64

import pytest

from rtwidget.protocol.pcm import BYTES_PER_MS
from rtwidget.server.engine import SEMANTIC_SILENCE_MS
from rtwidget.server.input_buffer import MAX_APPEND_BYTES, MAX_BUFFER_MS

from .engine_harness import T0, Harness, error, silence, tone, types


def test_push_to_talk_buffer(h: Harness) -> None:
    h.send("session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
    assert h.append(tone(50)) == []  # no ack, no VAD
    err = error(h.send("input_audio_buffer.commit", event_id="c"))
    assert err["code"] == "input_audio_buffer_commit_empty" and err["event_id"] == "c"
    assert err["message"] == (
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
        "but buffer only has 50.00ms of audio."
    )
    assert h.append(tone(500)) == []
    events = h.send("input_audio_buffer.commit")
    assert types(events) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    item = events[1]["item"]
    assert events[0]["item_id"] == item["id"] and item["content"] == [{"type": "input_audio", "transcript": None}]
    (retrieved,) = h.send("conversation.item.retrieve", item_id=item["id"])
    assert len(base64.b64decode(retrieved["item"]["content"][0]["audio"])) == 550 * 48
    h.append(tone(200))
    assert types(h.send("input_audio_buffer.clear")) == ["input_audio_buffer.cleared"]
    assert error(h.send("input_audio_buffer.commit"))["code"] == "input_audio_buffer_commit_empty"
    assert error(h.send("input_audio_buffer.append", audio="@@@"))["param"] == "audio"


def test_server_vad_turn_with_real_speech(h: Harness) -> None:
    from rtwidget.server.voice import default_voice

    speech = default_voice().synthesize("Hello there, how are you today?", voice="alloy")
    h.send(
        "session.update",
        session={"type": "realtime", "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}},
    )
    events = h.append(silence(1000) + speech + silence(600))
    assert types(events)[:7] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.delta",
    ]
    started, stopped, committed, added = events[:4]
    item_id = added["item"]["id"]
    assert started["item_id"] == stopped["item_id"] == committed["item_id"] == item_id
    speech_ms = len(speech) // 48
    assert 1000 - 300 - 60 <= started["audio_start_ms"] <= 1000
    assert 1000 + speech_ms <= stopped["audio_end_ms"] <= 1000 + speech_ms + 300
    completed = next(e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed")
    heard_ms = stopped["audio_end_ms"] - started["audio_start_ms"]
    assert completed["transcript"] == f"[{heard_ms / 1000:.1f} seconds of audio]"
    assert completed["usage"]["type"] == "tokens"
    (retrieved,) = h.send("conversation.item.retrieve", item_id=item_id)
    assert len(base64.b64decode(retrieved["item"]["content"][0]["audio"])) == heard_ms * 48
    assert retrieved["item"]["content"][0]["transcript"] == completed["transcript"]
    # create_response: a response follows the commit and answers with the duration.
    done = next(e for e in events if e["type"] == "response.done")
    assert (
        done["response"]["output"][0]["content"][0]["transcript"] == f"I heard {heard_ms / 1000:.1f} seconds of audio."
    )
    # Input audio tokens counted: 100 ms per token.
    assert done["response"]["usage"]["input_token_details"]["audio_tokens"] == -(-heard_ms // 100)


def test_server_vad_without_create_response_and_semantic_vad(h: Harness) -> None:
    td = {"type": "server_vad", "create_response": False}
    h.send("session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": td}}})
    events = h.append(silence(400) + tone(600) + silence(400))
    assert "input_audio_buffer.committed" in types(events) and "response.created" not in types(events)
    (updated,) = h.send(
        "session.update",
        session={
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}},
        },
    )
    assert updated["session"]["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "low",
        "create_response": True,
        "interrupt_response": True,
    }
    assert h.engine._input.vad.silence_duration_ms == SEMANTIC_SILENCE_MS["low"] == 1000
    # 600 ms of silence is not the end of a turn for eagerness low; 1000 ms is.
    events = h.append(tone(600) + silence(700))
    assert types(events) == ["input_audio_buffer.speech_started"]
    events = h.append(silence(400))
    assert types(events)[:3] == [
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
    ]
    assert "response.done" in types(events)


def test_barge_in_cancels_the_response_with_turn_detected() -> None:
    h = Harness(pace="realtime")
    h.start()
    h.say("one two three four five six seven eight nine ten eleven twelve thirteen")
    head = h.send("response.create")
    assert types(head)[:2] == ["response.created", "rate_limits.updated"]
    head += h.advance(0.3)
    events = h.append(tone(400) + silence(50))
    assert types(events)[0] == "input_audio_buffer.speech_started"
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["status"] == "cancelled" and done["status_details"] == {
        "type": "cancelled",
        "reason": "turn_detected",
    }
    assistant = done["output"][0]
    assert assistant["status"] == "incomplete"
    sent = sum(len(base64.b64decode(e["delta"])) for e in head + events if e["type"] == "response.output_audio.delta")
    assert 0 < sent < 15 * 100 * 48
    transcript = "".join(e["delta"] for e in head + events if e["type"] == "response.output_audio_transcript.delta")
    assert assistant["content"][0]["transcript"] == transcript
    (retrieved,) = h.send("conversation.item.retrieve", item_id=assistant["id"])
    assert len(base64.b64decode(retrieved["item"]["content"][0]["audio"])) == sent
    assert done["usage"]["output_token_details"]["audio_tokens"] == -(-(sent // 48) // 50)
    # Truncating beyond what was sent is refused; within it works.
    sent_ms = sent // 48
    assert (
        error(
            h.send(
                "conversation.item.truncate",
                item_id=assistant["id"],
                content_index=0,
                audio_end_ms=sent_ms + 1,
            )
        )["code"]
        == "invalid_value"
    )
    assert types(
        h.send("conversation.item.truncate", item_id=assistant["id"], content_index=0, audio_end_ms=sent_ms)
    ) == ["conversation.item.truncated"]


def test_idle_timeout_commits_and_responds() -> None:
    h = Harness(pace="fast")
    h.start()
    td = {"type": "server_vad", "idle_timeout_ms": 5000}
    h.send("session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": td}}})
    h.say("hi")
    h.send("response.create")  # "You said: hi" = 300 ms of audio
    h.append(silence(200))
    deadline = h.engine.next_deadline()
    assert deadline == pytest.approx(T0 + 0.3 + 5.0)
    assert h.advance(5.2) == []
    events = h.advance(0.2)
    assert types(events)[:4] == [
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert events[0]["item_id"] == events[1]["item_id"] and events[0]["audio_end_ms"] == 200
    assert "response.done" in types(events)


def test_append_and_buffer_limits_refuse_and_keep_nothing(h: Harness) -> None:
    h.send("session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
    most = base64.b64encode(bytes(MAX_APPEND_BYTES)).decode()
    over = base64.b64encode(bytes(MAX_APPEND_BYTES + 2)).decode()
    err = error(h.send("input_audio_buffer.append", audio=over, event_id="big"))
    assert (err["type"], err["code"], err["param"], err["event_id"]) == (
        "invalid_request_error",
        "invalid_value",
        "audio",
        "big",
    )
    assert "15 MiB" in err["message"] and str(MAX_APPEND_BYTES + 2) in err["message"]
    err = error(h.send("input_audio_buffer.append", audio="AAAA" * (MAX_APPEND_BYTES // 3 + 1)))
    assert "15 MiB" in err["message"]  # refused on its length, before decoding
    held = 0
    while held + MAX_APPEND_BYTES <= MAX_BUFFER_MS * BYTES_PER_MS:
        assert h.send("input_audio_buffer.append", audio=most) == []
        held += MAX_APPEND_BYTES
    err = error(h.send("input_audio_buffer.append", audio=most))
    assert err["code"] == "input_audio_buffer_full" and f"{MAX_BUFFER_MS}ms (15 minutes)" in err["message"]
    assert "Commit or clear" in err["message"]
    item = h.send("input_audio_buffer.commit")[1]["item"]
    (retrieved,) = h.send("conversation.item.retrieve", item_id=item["id"])
    assert len(base64.b64decode(retrieved["item"]["content"][0]["audio"])) == held  # nothing refused was kept
