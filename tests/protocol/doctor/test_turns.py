"""Spoken turns: committed-no-response, barge-in-no-truncate, vad-never-triggers."""

from __future__ import annotations

from rtwidget.protocol.pcm import BYTES_PER_MS

from .. import wire_events as S
from .flow import Flow, create

VAD_NO_CREATE = {"audio": {"input": {"turn_detection": {"type": "server_vad", "create_response": False}}}}
PUSH_TO_TALK = {"audio": {"input": {"turn_detection": None}}}
TRUNCATE = {"type": "conversation.item.truncate", "item_id": "item_a", "content_index": 0, "audio_end_ms": 900}


def test_committed_no_response_under_vad_without_create_response() -> None:
    flow = Flow()
    flow.receive(S.session_updated(**VAD_NO_CREATE))
    commit = S.committed("item_u")
    flow.receive(commit)
    assert flow.tick(1) == []
    [hint] = flow.tick(2)
    assert (hint.rule, hint.level, hint.event_ids) == ("committed-no-response", "warning", (commit["event_id"],))
    assert "item_u" in hint.what and "create_response: false" in hint.what and "response.create" in hint.fix
    assert hint.what == (
        "The user's audio was committed as item_u, but no response.create followed and server_vad has "
        "create_response: false, so the model will not answer this turn."
    )
    assert "turn create_response back on" in hint.fix


def test_committed_no_response_in_push_to_talk() -> None:
    flow = Flow()
    flow.receive(S.session_updated(**PUSH_TO_TALK), S.committed("item_u"))
    [hint] = flow.tick(5)
    assert "turn detection is off" in hint.what
    assert "create_response" not in hint.fix  # there is no VAD to turn it on in: push-to-talk asks each time


def test_committed_then_response_is_quiet() -> None:
    flow = Flow()
    flow.receive(S.session_updated(**PUSH_TO_TALK), S.committed("item_u"))
    flow.send(create())
    flow.receive(S.session_updated(**VAD_NO_CREATE), S.committed("item_v"), S.response_created("resp_1"))
    flow.receive(S.session_updated(audio={"input": {"turn_detection": {"type": "semantic_vad"}}}), S.committed("w"))
    assert flow.tick(10) == [] and flow.hints == []


def speaking(flow: Flow, seconds: float = 3.0) -> None:
    """The model sends ``seconds`` of audio for item_a at once (faster than real time, as the API does)."""
    flow.receive(S.audio_delta("resp_a", "item_a", int(BYTES_PER_MS * 1000 * seconds)))


def test_barge_in_without_truncate_estimated_playback() -> None:
    flow = Flow()
    speaking(flow)
    flow.at(1.0)
    start = S.speech_started("item_u", 1000)
    flow.receive(start)
    assert flow.tick(2.5) == []
    [hint] = flow.tick(3.1)
    assert (hint.rule, hint.level, hint.event_ids) == ("barge-in-no-truncate", "warning", (start["event_id"],))
    assert "item_a" in hint.what and "1000 ms of 3000 ms" in hint.what and "never heard" in hint.what
    assert "conversation.item.truncate" in hint.fix and "item_a" in hint.fix


def test_barge_in_with_truncate_is_quiet() -> None:
    flow = Flow()
    speaking(flow)
    flow.at(1.0)
    flow.receive(S.speech_started("item_u", 1000))
    flow.send({"type": "response.cancel"}, TRUNCATE)
    assert flow.tick(10) == []


def test_a_truncate_sent_by_a_speech_started_handler_counts() -> None:
    # The user's handlers run before the doctor hears of speech_started: their truncate comes first.
    flow = Flow()
    speaking(flow)
    flow.at(1.0)
    flow.send(TRUNCATE)
    flow.receive(S.speech_started("item_u", 1000))
    assert flow.tick(10) == []
    # A truncate of another item, or long before, does not excuse a later barge-in.
    flow.at(10.0)
    flow.receive(S.audio_delta("resp_b", "item_b", int(BYTES_PER_MS * 3000)))
    flow.at(11.0)
    flow.receive(S.speech_started("item_v", 11000))
    assert [h.rule for h in flow.tick(20)] == ["barge-in-no-truncate"]


def test_speech_after_playback_ended_is_not_a_barge_in() -> None:
    flow = Flow()
    speaking(flow, 1.0)
    flow.at(5)
    flow.receive(S.speech_started("item_u", 5000))
    assert flow.tick(10) == []
    Flow().receive(S.speech_started("item_u", 0))  # no assistant audio at all


def test_barge_in_follows_playback_reports() -> None:
    flow = Flow()
    speaking(flow)
    flow.at(5)  # by the estimate playback ended, but the listener reports it is still playing (it started late)
    flow.doctor.playback("item_a", 2000, True, flow.now)
    flow.receive(S.speech_started("item_u", 5000))
    [hint] = flow.tick(8)
    assert "2000 ms of 3000 ms" in hint.what
    flow = Flow()
    speaking(flow)
    flow.at(0.5)
    flow.doctor.playback("item_a", 500, False, flow.now)  # the listener stopped playback already
    flow.receive(S.speech_started("item_u", 500))
    assert flow.tick(8) == []


def test_vad_never_triggers() -> None:
    flow = Flow()
    flow.receive(S.session_updated(audio={"input": {"turn_detection": {"type": "server_vad", "threshold": 0.9}}}))
    for i in range(40):
        flow.hints += flow.doctor.input_level(-20.0, 100, flow.now + i / 10)
    [hint] = flow.hints
    assert (hint.rule, hint.level, hint.event_ids) == ("vad-never-triggers", "warning", ())
    assert "3.1 s" in hint.what and "threshold 0.9" in hint.what and "threshold" in hint.fix


def test_vad_that_hears_speech_is_quiet() -> None:
    flow = Flow()
    flow.receive(S.session_created())
    for i in range(100):
        flow.hints += flow.doctor.input_level(-20.0 if i % 2 else -70.0, 100, flow.now)
        if i % 50 == 0:
            flow.receive(S.speech_started("item_u", i * 100))
    flow.hints += flow.doctor.input_level(-10.0, 10_000, flow.now)  # one odd chunk counts for nothing
    assert flow.hints == []


def test_vad_never_triggers_only_under_server_vad() -> None:
    for settings in (PUSH_TO_TALK, {"audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}}):
        flow = Flow()
        flow.receive(S.session_updated(**settings))
        for _ in range(100):
            flow.hints += flow.doctor.input_level(-20.0, 100, flow.now)
        assert flow.hints == []


def test_with_playback_reports_only_the_reports_say_what_plays() -> None:
    flow = Flow()
    speaking(flow)
    flow.doctor.playback("item_a", 3000, False, flow.now)  # the listener says item_a has finished
    flow.receive(S.audio_delta("resp_b", "item_b", BYTES_PER_MS * 3000))  # not reported as playing (yet)
    flow.receive(S.speech_started("item_u", 0))
    assert flow.tick(10) == []


def test_playback_reports_that_are_not_numbers_are_ignored() -> None:
    flow = Flow()
    flow.doctor.playback("item_a", float("nan"), True, flow.now)
    flow.doctor.playback("item_a", "12", True, flow.now)  # type: ignore[arg-type]
    flow.receive(S.speech_started("item_u", 0))
    assert flow.tick(10) == []


def test_push_to_talk_commit_and_create_sent_together_is_quiet() -> None:
    """rtwidget's push-to-talk: commit and response.create go out before the server's committed comes back."""
    flow = Flow()
    flow.receive(S.session_updated(**PUSH_TO_TALK))
    flow.send({"type": "input_audio_buffer.commit"}, create())
    flow.receive(S.committed("item_u"), S.response_created("resp_1"))
    assert flow.tick(10) == [] and flow.hints == []


def test_vad_never_triggers_counts_speech_between_pauses_only() -> None:
    flow = Flow()
    flow.receive(S.session_created())
    for _ in range(5):  # 2 s of speech, then a pause: never 3 s in a row
        for level in [-20.0] * 20 + [-70.0] * 21:
            flow.hints += flow.doctor.input_level(level, 100, flow.now)
    flow.receive(S.speech_started("item_u", 0))
    for _ in range(50):  # a long utterance the VAD hears: not counted
        flow.hints += flow.doctor.input_level(-20.0, 100, flow.now)
    flow.receive(S.speech_stopped("item_u", 5000))
    for level in ([-20.0] * 5 + [-60.0] * 2) * 4:  # words with short gaps between them: 2 s of speech
        flow.hints += flow.doctor.input_level(level, 100, flow.now)
    assert flow.hints == []
    for _ in range(11):
        flow.hints += flow.doctor.input_level(-20.0, 100, flow.now)
    assert [h.rule for h in flow.hints] == ["vad-never-triggers"]
