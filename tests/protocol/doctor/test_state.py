"""The state the rules share: what it folds in from odd and right events."""

from __future__ import annotations

from rtwidget.protocol.doctor.check import Timers
from rtwidget.protocol.doctor.state import State, audio_ms, field, trim
from rtwidget.protocol.events import Event
from rtwidget.protocol.pcm import BYTES_PER_MS

from .. import wire_events as S
from .flow import T0


def feed(state: State, *events: dict) -> None:  # type: ignore[type-arg]
    for data in events:
        state.server_received(S.decode(data), T0)


def test_helpers() -> None:
    table = {i: None for i in range(5)}
    trim(table, 3)
    assert list(table) == [2, 3, 4]
    assert field({"a": {"b": 1}}, "a", "b") == 1 and field({"a": 1}, "a", "b") is None
    assert audio_ms(S.b64(BYTES_PER_MS * 10)) == 10 and audio_ms(S.b64(1)) == 1 / BYTES_PER_MS
    assert audio_ms(None) == 0


def test_session_settings() -> None:
    state = State("ga")
    assert state.auto_responds() and state.vad_type() == "server_vad"
    feed(state, S.session_created(expires_at=T0 + 60))
    assert (state.session_id, state.expires_at, state.voice) == ("sess_001", T0 + 60, "marin")
    feed(state, S.session_updated(audio={"input": {"turn_detection": None}}, output_modalities=["text", 3]))
    assert not state.auto_responds() and state.vad_type() is None and state.output_modalities == ["text"]
    feed(
        state,
        S.session_updated(audio={"input": {"turn_detection": {"type": "semantic_vad", "create_response": False}}}),
    )
    assert not state.auto_responds() and state.vad_type() == "semantic_vad"
    feed(state, {"type": "session.updated", "session": "odd"}, S.session_updated(expires_at=float("inf")))
    assert state.vad_type() == "semantic_vad" and state.expires_at == T0 + 60


def test_odd_responses_are_skipped() -> None:
    state = State("ga")
    feed(state, {"type": "response.created", "response": {"id": 3}}, {"type": "response.done", "response": "x"})
    feed(state, {"type": "response.function_call_arguments.done", "response_id": 1, "call_id": "c"})
    feed(state, {"type": "response.function_call_arguments.done", "response_id": "r", "call_id": 5})
    feed(state, {"type": "response.output_audio.delta", "item_id": None, "delta": "AAAA"})
    assert state.active is None and state.calls == {} and state.audio == {}


def test_calls_and_outputs() -> None:
    state = State("ga")
    feed(state, S.arguments_done("resp_1", "item_1", "call_1", "f", "{}"))
    feed(state, S.response_done("resp_1", output=[S.function_call_item("item_1", "call_1", "", "{}")]))
    assert state.calls == {"resp_1": {"call_1": "f"}} and state.latest == "resp_1"
    state.client_sent(
        {"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": "call_1"}}, T0
    )
    assert state.owed("resp_1") == {} and state.owed(None) == {}


def test_input_audio_marks_the_conversation() -> None:
    for event in ({"type": "input_audio_buffer.append", "audio": ""}, {"type": "input_audio_buffer.commit"}):
        state = State("ga")
        state.client_sent(event, T0)
        assert state.input_audio
    state = State("ga")
    feed(state, S.committed("item_1"))
    assert state.input_audio


def at(state: State, item_id: str, now: float) -> tuple[float, bool]:
    position = state.played_ms(item_id, now)
    assert position is not None
    return round(position[0], 3), position[1]


def test_playback_estimated_and_reported() -> None:
    state = State("ga")
    assert state.played_ms("item_1", T0) is None
    state.server_received(
        Event("response.output_audio.delta", S.audio_delta("resp_1", "item_1", BYTES_PER_MS * 1000)), T0
    )
    assert state.model_spoke and state.last_audio_item == "item_1"
    assert at(state, "item_1", T0 + 0.4) == (400, True)
    assert at(state, "item_1", T0 + 2) == (1000, False)  # all of it played
    state.playback("item_1", 100, True, T0 + 0.5)  # the listener is behind the estimate
    assert at(state, "item_1", T0 + 0.6) == (200, True)
    state.playback("item_1", 300, False, T0 + 0.7)  # paused
    assert at(state, "item_1", T0 + 5) == (300, False)
    state.playback("item_x", 50, True, T0)  # reported, but its audio was never seen
    assert at(state, "item_x", T0 + 0.1) == (150, True)


def test_timers() -> None:
    timers = Timers()
    timers.arm("a", 2, "A")
    timers.arm("b", 1, "B")
    assert timers.next() == 1
    timers.cancel("b")
    assert timers.expired(1.5) == [] and timers.expired(2) == [("a", "A")] and timers.next() is None
