"""The Session panel's form (``config`` messages) and the Tools panel's registered tools, against the local server
over real loopback WebSockets: a change reaches the server's session (its ``session.updated`` says so, and the
``session_config`` trait follows), bad values give a notice that names the field, and nothing is sent for them.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from rtwidget.server.voice import default_voice
from rtwidget.widget import RealtimeWidget
from rtwidget.widget.settings import FormError, check_form
from tests.support import received, sent

from .comm_double import MockComm, barrier, browser_says, wait_until

_views = itertools.count()


def td_of(w: RealtimeWidget) -> Any:
    return w.session_config.get("audio", {}).get("input", {}).get("turn_detection")


def notices(comm: MockComm) -> list[dict[str, Any]]:
    return [c for c, _ in comm.custom("notice")]


def configure(w: RealtimeWidget, **session: Any) -> None:
    browser_says(w, {"kind": "config", "session": session})


def test_a_silence_duration_change_reaches_the_server_session(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    assert td_of(w)["type"] == "server_vad"
    updates = len(received(w.session, "session.updated"))
    form = {
        "type": "server_vad",
        "threshold": 0.6,
        "prefix_padding_ms": 250,
        "silence_duration_ms": 900,
        "create_response": True,
        "interrupt_response": False,
    }
    configure(w, turn_detection=form)
    wait_until(lambda: len(received(w.session, "session.updated")) > updates, what="session.updated")
    server_td = received(w.session, "session.updated")[-1]["session"]["audio"]["input"]["turn_detection"]
    assert {k: server_td[k] for k in form} == form
    wait_until(lambda: td_of(w) and td_of(w)["silence_duration_ms"] == 900, what="session_config to follow")
    assert w.turn_mode == "server_vad"
    assert notices(comm) == []


def test_semantic_vad_eagerness_and_push_to_talk(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, _comm = live
    configure(w, turn_detection={"type": "semantic_vad", "eagerness": "high", "create_response": True})
    wait_until(lambda: (td_of(w) or {}).get("eagerness") == "high", what="semantic_vad eagerness high")
    assert w.turn_mode == "semantic_vad"
    configure(w, turn_detection=None)
    wait_until(lambda: w.turn_mode == "push_to_talk", what="push-to-talk")
    assert td_of(w) is None
    # Push-to-talk starts from an empty input buffer.
    assert sent(w.session, "input_audio_buffer.clear")


def test_transcription_on_gives_spoken_turns_their_words(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, _comm = live
    session = w.session
    assert not w.session_config["audio"]["input"].get("transcription")
    # Push-to-talk in the same update: the test commits the buffer itself (as the widget's push-to-talk does).
    configure(w, transcription={"model": "gpt-4o-mini-transcribe"}, turn_detection=None)
    wait_until(
        lambda: (
            (w.session_config["audio"]["input"].get("transcription") or {}).get("model") == "gpt-4o-mini-transcribe"
        ),
        what="transcription in session_config",
    )
    assert w.turn_mode == "push_to_talk"
    session.append_audio(default_voice().synthesize("what is the weather in Paris"))
    session.commit_audio()
    wait_until(lambda: received(session, "conversation.item.input_audio_transcription.completed"), what="a transcript")
    user = next(i for i in session.conversation if i.role == "user")
    # The local server has no speech recogniser: its transcript says how long the audio was (still words).
    assert user.text.startswith("[") and "seconds of audio" in user.text
    configure(w, transcription=None)
    wait_until(lambda: w.session_config["audio"]["input"].get("transcription") is None, what="transcription off")


def test_instructions_voice_and_output_modalities(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, _comm = live
    configure(w, instructions="Answer in French.", voice="verse", output_modalities=["text"])
    wait_until(lambda: w.session_config.get("instructions") == "Answer in French.", what="instructions")
    assert w.session_config["audio"]["output"]["voice"] == "verse"
    assert w.session_config["output_modalities"] == ["text"]
    # The traits the control bar reads follow the config, and are not sent back as a browser change.
    assert w.instructions == "Answer in French." and w.voice == "verse"
    assert w.session._config["instructions"] == "Answer in French."  # what a reconnect sends again


@pytest.mark.parametrize(
    ("fields", "named", "why"),
    [
        ({"turn_detection": {"type": "server_vad", "threshold": 1.5}}, "turn_detection.threshold", "between 0 and 1"),
        ({"turn_detection": {"type": "server_vad", "silence_duration_ms": "long"}}, "silence_duration_ms", "number"),
        ({"turn_detection": {"type": "server_vad", "silence_duration_ms": 10.5}}, "silence_duration_ms", "whole"),
        ({"turn_detection": {"type": "semantic_vad", "eagerness": "sometimes"}}, "eagerness", "auto, low"),
        ({"turn_detection": {"type": "server_vad", "eagerness": "low"}}, "eagerness", "not a server_vad setting"),
        ({"turn_detection": {"type": "loud"}}, "turn_detection.type", "server_vad, semantic_vad"),
        ({"turn_detection": {"type": "server_vad", "create_response": "yes"}}, "create_response", "true or false"),
        ({"transcription": {"model": ""}}, "transcription.model", "no transcription model"),
        ({"output_modalities": ["audio", "text"]}, "output_modalities", "['audio'] or ['text']"),
        ({"instructions": 42}, "instructions", "not text"),
    ],
)
def test_bad_values_give_a_notice_naming_the_field(
    live: tuple[RealtimeWidget, MockComm], fields: dict[str, Any], named: str, why: str
) -> None:
    w, comm = live
    updates = len(sent(w.session, "session.update"))
    browser_says(w, {"kind": "config", "session": fields})
    barrier(w, comm, f"v{next(_views)}")  # the config message was handled before the hello
    [notice] = notices(comm)
    assert notice["level"] == "error"
    assert named in notice["text"] and why in notice["text"], notice
    assert len(sent(w.session, "session.update")) == updates, "nothing is sent for a bad value"


def test_unknown_field_and_empty_form(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    configure(w, temprature=0.5)
    browser_says(w, {"kind": "config", "session": {}})
    barrier(w, comm, "v")
    texts = [n["text"] for n in notices(comm)]
    assert len(texts) == 2, texts
    assert "session.temprature: unknown session field" in texts[0]
    assert "no fields" in texts[1]


def test_a_value_the_server_refuses_comes_back_as_a_notice(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    # The form does not check idle_timeout_ms (it has no field for it); the server does, and names it.
    configure(w, turn_detection={"type": "server_vad", "idle_timeout_ms": 100})
    wait_until(lambda: received(w.session, "error"), what="the server's error")
    wait_until(lambda: notices(comm), what="a notice")
    text = notices(comm)[0]["text"]
    assert text.startswith("Server error") and "idle_timeout_ms" in text, text
    assert td_of(w).get("idle_timeout_ms") is None


def test_the_voice_is_locked_once_the_model_spoke(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    browser_says(w, {"kind": "text", "text": "hello"})
    wait_until(lambda: w.voice_locked, what="the model to speak")
    updates = len(sent(w.session, "session.update"))
    configure(w, voice="verse")
    barrier(w, comm, "after")
    assert [n["level"] for n in notices(comm)] == ["warning"]
    assert len(sent(w.session, "session.update")) == updates


def test_a_refused_voice_from_the_menu_goes_back_to_the_sessions_voice(
    live: tuple[RealtimeWidget, MockComm],
) -> None:
    w, comm = live
    browser_says(w, {"kind": "text", "text": "hello"})
    wait_until(lambda: w.voice_locked, what="the model to speak")
    spoken = w.voice
    other = next(v for v in w.voices if v != spoken)
    w.voice = other  # the browser's voice menu (a trait it sets)
    wait_until(lambda: w.voice == spoken, what="the voice menu to go back to the session's voice")
    assert [n["level"] for n in notices(comm)] == ["warning"]
    assert w.session.config["audio"]["output"]["voice"] == spoken


def test_check_form_keeps_good_values() -> None:
    form = {"turn_detection": {"type": "server_vad", "threshold": 1, "silence_duration_ms": 500.0}, "voice": "ash"}
    checked = check_form(form)
    assert checked["turn_detection"] == {"type": "server_vad", "threshold": 1.0, "silence_duration_ms": 500}
    assert isinstance(checked["turn_detection"]["silence_duration_ms"], int)
    assert check_form({"turn_detection": None, "transcription": None}) == {
        "turn_detection": None,
        "transcription": None,
    }
    with pytest.raises(FormError) as info:
        check_form({"turn_detection": {"type": "server_vad", "prefix_padding_ms": -1}})
    assert info.value.field == "audio.input.turn_detection.prefix_padding_ms"


# ================================================================================ registered tools


def test_registered_tools_are_published_before_any_call(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, _comm = live
    assert w.registered_tools == []

    @w.session.tool
    def get_weather(city: str, days: int = 1) -> dict[str, Any]:
        """The weather in a city.

        Args:
            city: the city's name
        """
        return {"city": city}

    wait_until(lambda: w.registered_tools, what="the registered tool")
    [tool] = w.registered_tools
    assert tool["name"] == "get_weather" and tool["description"] == "The weather in a city."
    assert tool["parameters"] == w.session.tools.get("get_weather").parameters  # type: ignore[union-attr]
    assert tool["parameters"]["required"] == ["city"]
    assert tool["parameters"]["properties"]["city"]["description"] == "the city's name"
    assert tool["reply"] is True and tool["timeout"] == 30.0
    w.session.tools.remove("get_weather")
    wait_until(lambda: w.registered_tools == [], what="the tool to leave the list")


def test_a_failed_calls_view_carries_its_traceback(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live

    @w.session.tool
    def explode(city: str) -> str:
        """Fails on purpose."""
        raise ValueError(f"no weather for {city}")

    wait_until(lambda: received(w.session, "session.updated") and w.registered_tools, what="the tool published")
    browser_says(w, {"kind": "text", "text": "explode city=Paris"})
    wait_until(lambda: w.session.tool_calls, what="the tool call")
    snapshot = wait_until(
        lambda: (s := barrier(w, comm, f"t{next(_views)}"))["tools"] and s["tools"][0].get("traceback") and s,
        what="the traceback in the tool view",
    )
    [view] = snapshot["tools"]
    assert view["status"] == "error" and view["name"] == "explode"
    assert "ValueError: no weather for Paris" in view["traceback"]
    assert "Traceback (most recent call last)" in view["traceback"]
    assert "raise ValueError" in view["traceback"]
