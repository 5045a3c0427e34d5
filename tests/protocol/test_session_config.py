"""session_config: friendly and beta keyword names become the nested GA session object."""

from __future__ import annotations

import pytest

from rtwidget.protocol import session_config as sc
from rtwidget.protocol.errors import ClientEventError
from rtwidget.protocol.session_config import (
    BETA_SESSION_FIELDS,
    GA_SESSION_FIELDS,
    merge,
    modalities,
    session_fields,
    turn_detection,
)
from rtwidget.protocol.validate import validate_client_event

PCM = {"type": "audio/pcm", "rate": 24000}


# ---------------------------------------------------------------------------------- turn detection


@pytest.mark.parametrize("mode", ["server_vad", "semantic_vad"])
def test_turn_detection_modes(mode: str) -> None:
    assert turn_detection(mode) == {"type": mode}


@pytest.mark.parametrize("value", [None, "none", "manual", "push_to_talk", "push-to-talk", False])
def test_turn_detection_push_to_talk_is_null(value: object) -> None:
    assert turn_detection(value) is None


def test_turn_detection_dict_is_copied() -> None:
    value = {"type": "server_vad", "silence_duration_ms": 500}
    result = turn_detection(value)
    assert result == value
    assert result is not value


@pytest.mark.parametrize("value", ["vad", True, 3, ["server_vad"]])
def test_turn_detection_refuses_other_values(value: object) -> None:
    with pytest.raises(ClientEventError) as info:
        turn_detection(value)
    err = info.value
    assert err.path == "session.audio.input.turn_detection"
    assert f"{value!r} is not a turn detection mode" in str(err)
    assert "'server_vad', 'semantic_vad'" in err.fix
    assert "None for push-to-talk" in err.fix


# -------------------------------------------------------------------------------------- modalities


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["text", "audio"], ["audio"]),
        (["audio"], ["audio"]),
        ("audio", ["audio"]),
        (["text"], ["text"]),
        ("text", ["text"]),
        (("audio", "text"), ["audio"]),
    ],
)
def test_modalities(value: object, expected: list[str]) -> None:
    assert modalities(value) == expected


@pytest.mark.parametrize("value", [[], ["video"], ["text", "text"], "speech"])
def test_modalities_refuses(value: object) -> None:
    with pytest.raises(ClientEventError, match=r"session\.output_modalities: .* is not a valid output modality"):
        modalities(value)


# ------------------------------------------------------------------------------------------- merge


def test_merge_is_deep_and_does_not_mutate() -> None:
    base = {"audio": {"input": {"format": PCM}, "output": {"voice": "ash"}}, "tools": [1]}
    update = {"audio": {"output": {"voice": "marin", "speed": 1.2}}, "tools": [2], "instructions": "x"}
    merged = merge(base, update)
    assert merged == {
        "audio": {"input": {"format": PCM}, "output": {"voice": "marin", "speed": 1.2}},
        "tools": [2],
        "instructions": "x",
    }
    assert base == {"audio": {"input": {"format": PCM}, "output": {"voice": "ash"}}, "tools": [1]}
    assert merge({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}


# ---------------------------------------------------------------------------------- session_fields


def test_session_fields_type_only() -> None:
    assert session_fields() == {"type": "realtime"}


def test_session_fields_friendly_names() -> None:
    session = session_fields(
        voice="marin",
        speed=1.1,
        output_format="pcm16",
        input_format={"type": "audio/pcmu"},
        turn_detection="semantic_vad",
        transcription="gpt-4o-transcribe",
        noise_reduction="near_field",
        modalities=["text"],
        instructions="Speak slowly.",
        tools=[],
    )
    assert session == {
        "type": "realtime",
        "audio": {
            "output": {"voice": "marin", "speed": 1.1, "format": PCM},
            "input": {
                "format": {"type": "audio/pcmu"},
                "turn_detection": {"type": "semantic_vad"},
                "transcription": {"model": "gpt-4o-transcribe"},
                "noise_reduction": {"type": "near_field"},
            },
        },
        "output_modalities": ["text"],
        "instructions": "Speak slowly.",
        "tools": [],
    }
    validate_client_event({"type": "session.update", "session": session})


def test_session_fields_beta_names_are_moved() -> None:
    session = session_fields(
        input_audio_format="g711_ulaw",
        output_audio_format="g711_alaw",
        input_audio_transcription={"model": "whisper-1", "language": "en"},
        input_audio_noise_reduction={"type": "far_field"},
        max_response_output_tokens=256,
        turn_detection=None,
    )
    assert session == {
        "type": "realtime",
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": "whisper-1", "language": "en"},
                "noise_reduction": {"type": "far_field"},
                "turn_detection": None,
            },
            "output": {"format": {"type": "audio/pcma"}},
        },
        "max_output_tokens": 256,
    }
    validate_client_event({"type": "session.update", "session": session})
    # every beta field has a friendly translation or an explicit drop
    assert set(BETA_SESSION_FIELDS) - {"temperature"} <= set(session_fields.__globals__["_FRIENDLY"])


def test_session_fields_ga_names_and_audio_merge() -> None:
    session = session_fields(
        voice="cedar",
        audio={"output": {"speed": 0.9}, "input": {"turn_detection": None}},
        output_modalities="audio",
        type="transcription",
        tracing="auto",
    )
    assert session == {
        "type": "transcription",
        "audio": {"output": {"voice": "cedar", "speed": 0.9}, "input": {"turn_detection": None}},
        "output_modalities": ["audio"],
        "tracing": "auto",
    }


def test_session_fields_drops_temperature_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="temperature is not a GA Realtime session field"):
        session = session_fields(temperature=0.7, voice="ash")
    assert session == {"type": "realtime", "audio": {"output": {"voice": "ash"}}}


def test_session_fields_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ClientEventError) as info:
        session_fields(instrucions="hi")
    err = info.value
    assert err.event_type == "session.update"
    assert err.path == "session.instrucions"
    assert str(err) == "session.update: session.instrucions: unknown session field. Fix: did you mean 'instructions'?"


def test_session_fields_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ClientEventError) as info:
        session_fields(zzz=1)
    fix = info.value.fix
    assert fix.startswith("valid names: ")
    names = fix.removeprefix("valid names: ").split(", ")
    assert names == sorted(names)
    assert {"voice", "instructions", "turn_detection", "modalities"} <= set(names)
    # 'type' is fixed by session_fields itself: it is not offered as a name to pass
    assert "type" not in names
    assert set(names) >= GA_SESSION_FIELDS - {"type"}


def test_session_fields_validates_values() -> None:
    with pytest.raises(ClientEventError, match="turn detection mode"):
        session_fields(turn_detection="loud")
    with pytest.raises(ClientEventError, match="output modality"):
        session_fields(output_modalities=["video"])


@pytest.mark.parametrize(
    ("detection", "mode"),
    [({"type": "semantic_vad", "eagerness": "low"}, "semantic_vad"), ({}, "server_vad"), (None, "push_to_talk")],
)
def test_turn_mode_reads_back_what_the_user_picked(detection: object, mode: str) -> None:
    assert sc.turn_mode(detection) == mode
