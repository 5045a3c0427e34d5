"""Conversation contents: text-history-then-response, voice-after-audio."""

from __future__ import annotations

from rtwidget.protocol.pcm import BYTES_PER_MS

from .. import wire_events as S
from .flow import Flow, create, message, session_update


def spoke(flow: Flow, item: str = "item_a") -> None:
    flow.receive(*S.audio_turn("resp_a", item, [(BYTES_PER_MS * 500, "Hello.")], previous_item_id=None))


def test_text_history_then_a_spoken_response() -> None:
    flow = Flow()
    flow.receive(S.session_created())
    flow.send(message("user", "input_text", event_id="evt_u"), message("assistant", "output_text", event_id="evt_a"))
    [hint] = flow.send(create("evt_c"))
    assert (hint.rule, hint.level) == ("text-history-then-response", "info")
    assert hint.event_ids == ("evt_u", "evt_a", "evt_c") and "text only" in hint.what and "evt_c" in hint.what
    assert 'output_modalities ["audio"]' in hint.fix and "instructions" in hint.fix
    flow.send(create())
    assert flow.rules().count("text-history-then-response") == 1


def test_text_history_counts_user_messages_and_beta_text_parts() -> None:
    flow = Flow()
    flow.send(message("system", "input_text"), message("user", "input_text"))
    assert flow.send(create())[0].rule == "text-history-then-response"
    flow = Flow()
    flow.send(message("assistant", "text"))
    assert flow.send(create())[0].rule == "text-history-then-response"


def test_one_typed_question_is_not_history() -> None:
    flow = Flow()
    flow.send(message("user", "input_text"), create())
    assert flow.hints == []


def test_text_history_quiet_when_the_create_or_session_says_what_it_wants() -> None:
    flow = Flow()
    flow.send(message("assistant", "output_text"), create(output_modalities=["audio"]))
    flow.receive(S.response_created("resp_1"), S.response_done("resp_1"))
    flow.send(create(output_modalities=["text"]))
    assert flow.hints == []
    flow = Flow()
    flow.receive(S.session_updated(output_modalities=["text"]))
    flow.send(message("assistant", "output_text"), create())
    assert flow.hints == []


def test_text_history_quiet_once_audio_is_in_the_conversation() -> None:
    flow = Flow()
    flow.send({"type": "input_audio_buffer.append", "audio": "AAAA"})
    flow.send(message("assistant", "output_text"), message("user", "input_text"), create())
    flow = Flow()
    spoke(flow)
    flow.send(message("assistant", "output_text"), create())
    audio_part = {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "AAAA"}]},
    }
    flow.send(audio_part, {"type": "conversation.item.create", "item": {"type": "message", "content": []}})
    assert flow.hints == []


def test_voice_after_audio() -> None:
    flow = Flow()
    flow.receive(S.session_created())
    assert flow.send(session_update(audio={"output": {"voice": "ash"}})) == []  # before the model spoke: fine
    flow.receive(S.session_updated(audio={"output": {"voice": "ash"}}))
    spoke(flow)
    [hint] = flow.send(session_update("evt_v", audio={"output": {"voice": "cedar"}}))
    assert (hint.rule, hint.level, hint.event_ids) == ("voice-after-audio", "warning", ("evt_v",))
    assert "'cedar'" in hint.what and "item_a" in hint.what and "cannot_update_voice" in hint.what
    assert "stays ash" in hint.what and "Session(voice=...)" in hint.fix
    error = S.error("cannot_update_voice", "Cannot update a conversation's voice", event_id="evt_v")
    assert flow.receive(error) == []  # explained already; unhandled-error stays quiet too


def test_voice_after_audio_quiet_on_the_same_voice_and_other_updates() -> None:
    flow = Flow()
    flow.receive(S.session_created())
    spoke(flow)
    flow.send(session_update(audio={"output": {"voice": "marin"}}), session_update(instructions="x"))
    flow.send({"type": "response.create", "session": {"audio": {"output": {"voice": "ash"}}}})
    assert flow.hints == []


def test_voice_refusal_the_doctor_could_not_foresee() -> None:
    flow = Flow()
    [hint] = flow.receive(S.error("cannot_update_voice", "no", event_id="evt_v"))
    assert hint.rule == "voice-after-audio" and hint.event_ids[0] == "evt_v"
