"""dialects: GA <-> beta translation of sessions, items, responses and events, and the envelope."""

from __future__ import annotations

import copy

import pytest

from rtwidget.protocol import dialects as d
from rtwidget.protocol.event_types import (
    BETA_CLIENT_EVENTS,
    BETA_SERVER_EVENTS,
    BETA_TO_GA_SERVER,
    GA_CLIENT_EVENTS,
    GA_ONLY_SERVER_EVENTS,
    GA_SERVER_EVENTS,
)

PCM = {"type": "audio/pcm", "rate": 24000}

GA_SESSION = {
    "type": "realtime",
    "model": "gpt-realtime",
    "instructions": "Be brief.",
    "output_modalities": ["audio"],
    "max_output_tokens": 512,
    "audio": {
        "input": {
            "format": PCM,
            "transcription": {"model": "gpt-4o-transcribe"},
            "noise_reduction": {"type": "near_field"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500, "idle_timeout_ms": 6000},
        },
        "output": {"format": {"type": "audio/pcmu"}, "voice": "marin", "speed": 1.2},
    },
    "tools": [{"type": "function", "name": "lookup", "parameters": {}}],
}

BETA_SESSION = {
    "modalities": ["text", "audio"],
    "instructions": "Be brief.",
    "voice": "alloy",
    "speed": 1.1,
    "input_audio_format": "pcm16",
    "output_audio_format": "g711_alaw",
    "input_audio_transcription": {"model": "whisper-1"},
    "input_audio_noise_reduction": {"type": "far_field"},
    "turn_detection": {"type": "server_vad", "threshold": 0.6},
    "temperature": 0.8,
    "max_response_output_tokens": "inf",
    "client_secret": {"expires_after": {"anchor": "created_at", "seconds": 60}},
    "tools": [],
}


# ------------------------------------------------------------------------------------------- names


def test_vocabularies_match_the_reference_counts() -> None:
    assert len(GA_CLIENT_EVENTS) == 11
    assert {"transcription_session.update"} == BETA_CLIENT_EVENTS - GA_CLIENT_EVENTS
    assert len(GA_SERVER_EVENTS) == 46
    assert len(BETA_SERVER_EVENTS) == 34
    assert "response.text.delta" in BETA_SERVER_EVENTS
    assert "response.output_text.delta" not in BETA_SERVER_EVENTS
    assert set(BETA_TO_GA_SERVER.values()) <= GA_SERVER_EVENTS


# ----------------------------------------------------------------------------------------- dialect


def test_check_dialect_accepts_the_two_dialects() -> None:
    assert d.check_dialect("ga") == "ga"
    assert d.check_dialect("beta") == "beta"


def test_check_dialect_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown dialect 'v2'.*'ga'.*'beta'"):
        d.check_dialect("v2")


# ----------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("ga", "beta"),
    [(PCM, "pcm16"), ({"type": "audio/pcmu"}, "g711_ulaw"), ({"type": "audio/pcma"}, "g711_alaw")],
)
def test_formats_translate_both_ways(ga: dict[str, object], beta: str) -> None:
    assert d.format_to_beta(ga) == beta
    assert d.format_to_ga(beta) == ga


@pytest.mark.parametrize("fmt", [None, "opus", {"type": "audio/opus"}, 24000])
def test_unknown_formats_pass_through(fmt: object) -> None:
    assert d.format_to_beta(fmt) == fmt
    assert d.format_to_ga(fmt) == fmt


def test_format_to_ga_returns_a_fresh_dict() -> None:
    fmt = d.format_to_ga("pcm16")
    fmt["rate"] = 8000
    assert d.format_to_ga("pcm16") == PCM


# ---------------------------------------------------------------------------------------- sessions


def test_session_to_beta_flattens_the_nested_audio() -> None:
    before = copy.deepcopy(GA_SESSION)
    beta = d.session_to_beta(GA_SESSION)
    assert before == GA_SESSION
    assert beta == {
        "model": "gpt-realtime",
        "instructions": "Be brief.",
        "modalities": ["text", "audio"],
        "max_response_output_tokens": 512,
        "input_audio_transcription": {"model": "gpt-4o-transcribe"},
        "input_audio_noise_reduction": {"type": "near_field"},
        # idle_timeout_ms is GA only
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
        "input_audio_format": "pcm16",
        "voice": "marin",
        "speed": 1.2,
        "output_audio_format": "g711_ulaw",
        "tools": [{"type": "function", "name": "lookup", "parameters": {}}],
    }


def test_session_to_beta_text_only_and_partial_audio() -> None:
    assert d.session_to_beta({"type": "realtime", "output_modalities": ["text"]}) == {"modalities": ["text"]}
    # turn_detection null (push-to-talk) is kept as null; missing input/output sections are fine
    assert d.session_to_beta({"audio": {"input": {"turn_detection": None}, "output": None}}) == {"turn_detection": None}
    assert d.session_to_beta({"audio": {"output": {"voice": "ash"}}}) == {"voice": "ash"}
    # a non-object audio value is not ours to interpret
    assert d.session_to_beta({"audio": "loud"}) == {"audio": "loud"}


def test_session_to_ga_nests_the_flat_fields() -> None:
    before = copy.deepcopy(BETA_SESSION)
    ga = d.session_to_ga(BETA_SESSION)
    assert before == BETA_SESSION
    assert ga == {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": "Be brief.",
        "max_output_tokens": "inf",
        "tools": [],
        "audio": {
            "input": {
                "format": PCM,
                "transcription": {"model": "whisper-1"},
                "noise_reduction": {"type": "far_field"},
                "turn_detection": {"type": "server_vad", "threshold": 0.6},
            },
            "output": {"voice": "alloy", "speed": 1.1, "format": {"type": "audio/pcma"}},
        },
    }
    assert "temperature" not in ga
    assert "client_secret" not in ga


def test_session_to_ga_variants() -> None:
    assert d.session_to_ga({"modalities": ["text"]}) == {"type": "realtime", "output_modalities": ["text"]}
    assert d.session_to_ga({"voice": "echo"}) == {"type": "realtime", "audio": {"output": {"voice": "echo"}}}
    assert d.session_to_ga({"turn_detection": None}) == {
        "type": "realtime",
        "audio": {"input": {"turn_detection": None}},
    }
    assert d.session_to_ga({"object": "realtime.transcription_session"}, "transcription") == {
        "type": "transcription",
        "object": "realtime.session",
    }
    assert d.session_to_ga({"object": "realtime.session", "id": "sess_1"}) == {
        "type": "realtime",
        "object": "realtime.session",
        "id": "sess_1",
    }


def test_session_round_trip_without_ga_only_fields() -> None:
    ga = copy.deepcopy(GA_SESSION)
    del ga["audio"]["input"]["turn_detection"]["idle_timeout_ms"]
    assert d.session_to_ga(d.session_to_beta(ga)) == ga


# ------------------------------------------------------------------------------------------- items


def test_item_to_beta_maps_assistant_parts_only() -> None:
    item = {
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "output_text", "text": "hi"},
            {"type": "output_audio", "transcript": "yo"},
            "raw",
        ],
    }
    before = copy.deepcopy(item)
    beta = d.item_to_beta(item)
    assert item == before
    assert [p["type"] for p in beta["content"][:2]] == ["text", "audio"]
    assert beta["content"][2] == "raw"
    assert d.item_to_ga(beta) == item


def test_item_translation_leaves_other_items_alone() -> None:
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
    assert d.item_to_beta(user) == user
    assert d.item_to_beta(user) is not user
    call = {"type": "function_call", "name": "f", "arguments": "{}", "call_id": "c"}
    assert d.item_to_ga(call) == call
    no_content = {"type": "message", "role": "assistant", "content": None}
    assert d.item_to_ga(no_content) == no_content
    odd = {"type": "message", "role": "assistant", "content": [{"type": "future_part"}, {"text": "typeless"}]}
    assert d.item_to_beta(odd) == {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "future_part"}, {"text": "typeless", "type": None}],
    }


# --------------------------------------------------------------------------------------- responses


def test_response_params_to_beta() -> None:
    params = {
        "conversation": "none",
        "output_modalities": ["text"],
        "max_output_tokens": 100,
        "audio": {"output": {"voice": "coral", "format": PCM}},
        "input": [
            {"type": "item_reference", "id": "item_1"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
            "oddity",
        ],
        "metadata": {"purpose": "summary"},
    }
    assert d.response_params_to_beta(params) == {
        "conversation": "none",
        "modalities": ["text"],
        "max_response_output_tokens": 100,
        "voice": "coral",
        "output_audio_format": "pcm16",
        "input": [
            {"type": "item_reference", "id": "item_1"},
            {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "a"}]},
            "oddity",
        ],
        "metadata": {"purpose": "summary"},
    }
    assert d.response_params_to_beta({"output_modalities": ["audio"], "audio": {}}) == {"modalities": ["text", "audio"]}
    assert d.response_params_to_beta({"audio": None, "input": None}) == {"audio": None, "input": None}


def test_response_params_to_ga() -> None:
    params = {
        "modalities": ["text", "audio"],
        "max_response_output_tokens": 50,
        "voice": "verse",
        "output_audio_format": "g711_ulaw",
        "temperature": 0.7,
        "input": [{"type": "message", "role": "assistant", "content": [{"type": "text", "text": "a"}]}, 7],
        "instructions": "Summarize.",
    }
    assert d.response_params_to_ga(params) == {
        "output_modalities": ["audio"],
        "max_output_tokens": 50,
        "input": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
            7,
        ],
        "instructions": "Summarize.",
        "audio": {"output": {"voice": "verse", "format": {"type": "audio/pcmu"}}},
    }
    assert d.response_params_to_ga({"modalities": ["text"]}) == {"output_modalities": ["text"]}


def test_response_objects_translate_their_output() -> None:
    ga = {
        "id": "resp_1",
        "status": "completed",
        "output_modalities": ["audio"],
        "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_audio"}]}],
    }
    beta = d.response_to_beta(ga)
    assert beta["modalities"] == ["text", "audio"]
    assert beta["output"][0]["content"][0]["type"] == "audio"
    back = d.response_to_ga({**beta, "temperature": 0.8})
    assert back == ga
    assert d.response_to_beta({"id": "r"}) == {"id": "r"}
    assert d.response_to_ga({"id": "r"}) == {"id": "r"}


# ----------------------------------------------------------------------------------- server events


def test_server_event_to_ga_renames_beta_types() -> None:
    for beta, ga in BETA_TO_GA_SERVER.items():
        if beta.startswith("transcription_session"):
            continue
        event = {"type": beta, "event_id": "event_1", "delta": "x"}
        assert d.server_event_to_ga(event) == {"type": ga, "event_id": "event_1", "delta": "x"}


def test_server_event_to_ga_transcription_session() -> None:
    for kind in ("created", "updated"):
        event = {
            "type": f"transcription_session.{kind}",
            "session": {
                "object": "realtime.transcription_session",
                "input_audio_format": "pcm16",
                "input_audio_transcription": {"model": "gpt-4o-transcribe"},
                "turn_detection": None,
            },
        }
        assert d.server_event_to_ga(event) == {
            "type": f"session.{kind}",
            "session": {
                "type": "transcription",
                "object": "realtime.session",
                "audio": {
                    "input": {
                        "format": PCM,
                        "transcription": {"model": "gpt-4o-transcribe"},
                        "turn_detection": None,
                    }
                },
            },
        }


def test_server_event_to_ga_payloads() -> None:
    session = d.server_event_to_ga({"type": "session.updated", "session": {"voice": "ash", "modalities": ["text"]}})
    assert session["session"] == {
        "type": "realtime",
        "output_modalities": ["text"],
        "audio": {"output": {"voice": "ash"}},
    }
    done = d.server_event_to_ga(
        {
            "type": "response.done",
            "response": {"id": "r", "modalities": ["text"], "temperature": 0.8, "output": []},
        }
    )
    assert done["response"] == {"id": "r", "output_modalities": ["text"], "output": []}
    created = d.server_event_to_ga(
        {
            "type": "conversation.item.created",
            "previous_item_id": "item_0",
            "item": {
                "id": "i",
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": "hi"}],
            },
        }
    )
    assert created["item"]["content"] == [{"type": "output_text", "text": "hi"}]
    assert created["previous_item_id"] == "item_0"
    # no object where one is expected: copied, not failed
    assert d.server_event_to_ga({"type": "session.created", "session": None}) == {
        "type": "session.created",
        "session": None,
    }
    plain = {"type": "input_audio_buffer.committed", "item_id": "i"}
    copied = d.server_event_to_ga(plain)
    assert copied == plain
    assert copied is not plain


def test_server_event_from_ga() -> None:
    for ga_only in GA_ONLY_SERVER_EVENTS - {"conversation.item.added"}:
        assert d.server_event_from_ga({"type": ga_only, "item": {}}) is None, ga_only
    added = d.server_event_from_ga(
        {
            "type": "conversation.item.added",
            "item": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "t"}],
            },
        }
    )
    assert added == {
        "type": "conversation.item.created",
        "item": {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "t"}]},
    }
    assert d.server_event_from_ga({"type": "response.output_audio.delta", "delta": "AA=="}) == {
        "type": "response.audio.delta",
        "delta": "AA==",
    }
    updated = d.server_event_from_ga(
        {"type": "session.updated", "session": {"type": "realtime", "output_modalities": ["text"]}}
    )
    assert updated == {"type": "session.updated", "session": {"modalities": ["text"]}}
    created = d.server_event_from_ga(
        {"type": "response.created", "response": {"id": "r", "max_output_tokens": 10, "output": []}}
    )
    # the response object says max_output_tokens in beta too (only the create parameter is renamed)
    assert created == {
        "type": "response.created",
        "response": {"id": "r", "max_output_tokens": 10, "output": []},
    }
    item_added = d.server_event_from_ga(
        {
            "type": "response.output_item.added",
            "item": {"type": "message", "role": "assistant", "content": [{"type": "output_audio"}]},
        }
    )
    assert item_added is not None
    assert item_added["item"]["content"] == [{"type": "audio"}]
    assert d.server_event_from_ga({"type": "rate_limits.updated", "rate_limits": []}) == {
        "type": "rate_limits.updated",
        "rate_limits": [],
    }


CACHED = {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0}
IN_DETAILS = {"text_tokens": 12, "audio_tokens": 8, "cached_tokens": 0}
GA_USAGE = {"total_tokens": 30, "input_tokens": 20, "output_tokens": 10, "output_token_details": {"text_tokens": 10}}
GA_USAGE["input_token_details"] = {**IN_DETAILS, "image_tokens": 0, "cached_tokens_details": CACHED}
BETA_USAGE = {**GA_USAGE, "input_token_details": IN_DETAILS}


def test_session_events_from_ga_drop_what_beta_never_had() -> None:
    ga_only = {"include": None, "prompt": None, "truncation": "auto", "reasoning": {"effort": "low"}}
    ga = {**GA_SESSION, "id": "sess_1", "object": "realtime.session", "expires_at": 1, **ga_only}
    for kind in ("session.created", "session.updated"):
        beta = d.server_event_from_ga({"type": kind, "session": ga})
        assert beta is not None
        assert not set(ga_only) & set(beta["session"]), beta["session"]
        assert beta["session"]["max_response_output_tokens"] == 512
        assert {"id", "object", "expires_at"} <= set(beta["session"])
        # and back: the GA session, less only what beta cannot carry
        back = d.server_event_to_ga(beta)["session"]
        assert (back["id"], back["expires_at"], back["max_output_tokens"]) == ("sess_1", 1, 512)
        assert not set(ga_only) & set(back)
    # a transcription session kept include in beta, and its events had their own names
    transcription = {"type": "transcription", "include": ["item.input_audio_transcription.logprobs"]}
    for kind in ("created", "updated"):
        beta = d.server_event_from_ga({"type": f"session.{kind}", "session": transcription})
        assert beta == {"type": f"transcription_session.{kind}", "session": {"include": transcription["include"]}}
        assert d.server_event_to_ga(beta) == {"type": f"session.{kind}", "session": transcription}
    # a client's own update is not pruned: the beta server says what it refuses
    update = d.client_event_from_ga({"type": "session.update", "session": {"type": "realtime", "prompt": None}})
    assert update == {"type": "session.update", "session": {"prompt": None}}


def test_usage_to_beta_drops_image_and_cached_details() -> None:
    assert d.usage_to_beta(GA_USAGE) == BETA_USAGE
    assert "image_tokens" in GA_USAGE["input_token_details"]  # input not mutated
    assert d.usage_to_beta({"total_tokens": 1}) == {"total_tokens": 1}
    assert d.usage_to_beta(None) is None


def test_response_objects_keep_max_output_tokens_and_beta_usage() -> None:
    ga = {
        "object": "realtime.response",
        "id": "resp_1",
        "status": "completed",
        "max_output_tokens": "inf",
        "output_modalities": ["text"],
        "audio": {"output": {"voice": "marin", "format": PCM}},
        "usage": GA_USAGE,
        "output": [],
    }
    for kind in ("response.created", "response.done"):
        beta = d.server_event_from_ga({"type": kind, "response": ga})
        assert beta is not None
        assert beta["response"] == {
            **{k: ga[k] for k in ("object", "id", "status", "max_output_tokens", "output")},
            **{"modalities": ["text"], "voice": "marin", "output_audio_format": "pcm16", "usage": BETA_USAGE},
        }
        back = d.server_event_to_ga({**beta, "response": {**beta["response"], "temperature": 0.8}})
        assert back["response"] == {**ga, "usage": BETA_USAGE}
    # an old beta server that named it like the create parameter still reads as GA
    old = d.server_event_to_ga({"type": "response.done", "response": {"max_response_output_tokens": 3}})
    assert old["response"] == {"max_output_tokens": 3}


def test_errors_name_the_beta_fields() -> None:
    ga, beta = "session.audio.output.voice", "session.voice"
    event = d.server_event_from_ga({"type": "error", "error": {"code": "x", "message": f"Bad '{ga}'.", "param": ga}})
    assert event == {"type": "error", "error": {"code": "x", "message": f"Bad '{beta}'.", "param": beta}}
    renamed = {
        "session.audio.input.format.type": "session.input_audio_format",
        "response.audio.output.format": "response.output_audio_format",
        "session.audio.input.transcription.model": "session.input_audio_transcription.model",
        "session.audio.input.turn_detection": "session.turn_detection",
        "session.tools[0].name": "session.tools[0].name",
        "response.max_output_tokens": "response.max_response_output_tokens",
        "session.output_modalities[1]": "session.modalities[1]",
        "session.audio.output_x": "session.audio.output_x",
        None: None,
    }
    assert {ga: d.param_to_beta(ga) for ga in renamed} == renamed
    assert d.error_to_beta({"param": "response.audio.output.voice"}) == {"param": "response.voice"}
    assert d.error_to_beta({"param": None, "message": "m"}) == {"param": None, "message": "m"}


# ----------------------------------------------------------------------------------- client events


def test_client_event_from_ga() -> None:
    update = {"type": "session.update", "event_id": "e1", "session": GA_SESSION}
    beta = d.client_event_from_ga(update)
    assert beta["type"] == "session.update"
    assert beta["event_id"] == "e1"
    assert beta["session"]["voice"] == "marin"
    assert "type" not in beta["session"]
    transcription = d.client_event_from_ga(
        {"type": "session.update", "session": {"type": "transcription", "audio": {"input": {"format": PCM}}}}
    )
    assert transcription == {
        "type": "transcription_session.update",
        "session": {"input_audio_format": "pcm16"},
    }
    assert d.client_event_from_ga({"type": "session.update", "session": "x"}) == {
        "type": "session.update",
        "session": "x",
    }
    create = d.client_event_from_ga({"type": "response.create", "response": {"output_modalities": ["text"]}})
    assert create == {"type": "response.create", "response": {"modalities": ["text"]}}
    item = d.client_event_from_ga(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "a"}],
            },
        }
    )
    assert item["item"]["content"] == [{"type": "text", "text": "a"}]
    assert d.client_event_from_ga({"type": "input_audio_buffer.commit"}) == {"type": "input_audio_buffer.commit"}


def test_client_event_to_ga() -> None:
    transcription = d.client_event_to_ga(
        {
            "type": "transcription_session.update",
            "session": {"input_audio_transcription": {"model": "whisper-1"}},
        }
    )
    assert transcription == {
        "type": "session.update",
        "session": {"type": "transcription", "audio": {"input": {"transcription": {"model": "whisper-1"}}}},
    }
    update = d.client_event_to_ga({"type": "session.update", "session": {"voice": "sage", "temperature": 1.0}})
    assert update == {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"output": {"voice": "sage"}}},
    }
    create = d.client_event_to_ga({"type": "response.create", "response": {"voice": "sage"}})
    assert create == {"type": "response.create", "response": {"audio": {"output": {"voice": "sage"}}}}
    item = d.client_event_to_ga(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "a"}]},
        }
    )
    assert item["item"]["content"] == [{"type": "output_text", "text": "a"}]
    assert d.client_event_to_ga({"type": "response.cancel"}) == {"type": "response.cancel"}


def test_ga_client_events_survive_client_event_to_ga() -> None:
    """A GA-form event read as beta keeps its meaning (a beta connection accepts GA events)."""
    update = {"type": "session.update", "session": GA_SESSION}
    assert d.client_event_to_ga(update) == update
    transcription = {"type": "session.update", "session": {"type": "transcription"}}
    assert d.client_event_to_ga(transcription) == transcription
    create = {"type": "response.create", "response": {"output_modalities": ["text"], "max_output_tokens": 5}}
    assert d.client_event_to_ga(create) == create


# ---------------------------------------------------------------------------------------- envelope


def test_envelope_wraps_and_unwraps() -> None:
    event = {"type": "response.create", "event_id": "e1", "response": {}}
    wrapped = d.wrap_envelope(event)
    assert wrapped == {"type": "realtime.response.create", "data": {"event_id": "e1", "response": {}}}
    assert d.unwrap_envelope(wrapped) == event


@pytest.mark.parametrize(
    "message",
    [
        {"type": "response.done", "data": {"x": 1}},
        {"type": "realtime.response.done", "data": "not an object"},
        {"type": 5, "data": {}},
    ],
)
def test_unwrap_leaves_non_envelopes_alone(message: dict[str, object]) -> None:
    assert d.unwrap_envelope(message) is message
