"""validate: every client event refusal names the event, the field path, the problem and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from rtwidget.protocol import items as build
from rtwidget.protocol.errors import ClientEventError, ProtocolError
from rtwidget.protocol.validate import validate_client_event, validate_item

Json = dict[str, Any]


def refuse(event: Any) -> ClientEventError:
    with pytest.raises(ClientEventError) as info:
        validate_client_event(event)
    return info.value


def create(item: Any, **extra: Any) -> Json:
    return {"type": "conversation.item.create", "item": item, **extra}


def user(*parts: Any) -> Json:
    return {"type": "message", "role": "user", "content": list(parts)}


# ---------------------------------------------------------------------------------- the error type


def test_client_event_error_carries_its_parts() -> None:
    err = ClientEventError(
        "session.update", "session.voice", "is a beta field", "send it as session.audio.output.voice"
    )
    assert isinstance(err, ProtocolError)
    assert isinstance(err, ValueError)
    assert (err.event_type, err.path, err.problem, err.fix) == (
        "session.update",
        "session.voice",
        "is a beta field",
        "send it as session.audio.output.voice",
    )
    assert str(err) == "session.update: session.voice: is a beta field. Fix: send it as session.audio.output.voice"
    assert str(ClientEventError("x", "", "bad", "fix it")) == "x: bad. Fix: fix it"


# --------------------------------------------------------------------------------- accepted events


@pytest.mark.parametrize(
    "event",
    [
        {"type": "session.update", "session": {"type": "realtime"}},
        {
            "type": "session.update",
            "event_id": "mine_1",
            "session": {
                "type": "realtime",
                "id": "sess_1",
                "object": "realtime.session",
                "expires_at": 0,
                "output_modalities": ["text"],
                "audio": {"output": {"voice": "marin"}},
                "tools": [{"type": "function", "name": "f"}, {"type": "mcp", "server_label": "s"}],
            },
        },
        {"type": "session.update", "session": {"type": "transcription"}},
        {"type": "input_audio_buffer.append", "audio": "AAAA"},
        {"type": "input_audio_buffer.commit"},
        {"type": "input_audio_buffer.clear"},
        {"type": "output_audio_buffer.clear"},
        create(build.user_text("hi"), previous_item_id="root"),
        create(build.assistant_text("earlier answer")),
        create(build.system_text("rules")),
        create(build.user_audio(b"\x00\x00")),
        create({"type": "message", "role": "user", "content": [{"type": "input_image", "image_url": "data:"}]}),
        create(build.function_call("f", {}, "call_1")),
        create(build.function_call_output("call_1", "")),
        create({"type": "mcp_approval_response", "id": "a", "approval_request_id": "r", "approve": True}),
        {"type": "conversation.item.retrieve", "item_id": "item_1"},
        {"type": "conversation.item.delete", "item_id": "item_1"},
        {"type": "conversation.item.truncate", "item_id": "item_1", "content_index": 0, "audio_end_ms": 0},
        {"type": "response.create"},
        {"type": "response.create", "response": None},
        {
            "type": "response.create",
            "response": {
                "conversation": "none",
                "output_modalities": ["audio"],
                "metadata": {"purpose": "summary"},
                "input": [build.item_reference("item_1"), build.user_text("Summarize.")],
                "tools": [],
                "instructions": "Be short.",
            },
        },
        {"type": "response.cancel"},
        {"type": "response.cancel", "response_id": "resp_1"},
    ],
)
def test_valid_events_pass(event: Json) -> None:
    assert validate_client_event(event) is None


# --------------------------------------------------------------------------- envelope of the event


def test_not_a_dict() -> None:
    err = refuse(["response.create"])
    assert str(err) == "client event: must be a dict, not list. Fix: pass {'type': ..., ...}"


def test_unknown_type_with_did_you_mean() -> None:
    err = refuse({"type": "response.creat"})
    assert err.path == "type"
    assert str(err) == "response.creat: type: unknown client event type. Fix: did you mean 'response.create'?"
    err = refuse({"type": "conversation.item.created", "item": {}})
    assert "did you mean 'conversation.item.create'?" in str(err)


def test_unknown_type_without_a_close_match_lists_the_types() -> None:
    err = refuse({"type": "hello"})
    assert err.fix.startswith("client types: conversation.item.create, ")
    assert "response.cancel" in err.fix
    err = refuse({"event_id": "e1"})
    assert err.event_type == "None"
    assert "unknown client event type" in str(err)


def test_transcription_session_update_is_beta_only() -> None:
    err = refuse({"type": "transcription_session.update", "session": {}})
    assert str(err) == (
        "transcription_session.update: type: unknown client event type. "
        "Fix: in GA send session.update with session.type = 'transcription'"
    )


def test_event_id_must_be_a_string() -> None:
    err = refuse({"type": "response.create", "event_id": 12})
    assert (err.path, err.problem) == ("event_id", "must be a string")
    assert "rtwidget assigns one" in err.fix


# ---------------------------------------------------------------------------------- session.update


def test_session_must_be_an_object() -> None:
    for session in (None, "realtime"):
        err = refuse({"type": "session.update", "session": session})
        assert err.path == "session"
        assert "missing or not an object" in str(err)


@pytest.mark.parametrize(
    ("field", "value", "ga_path"),
    [
        ("modalities", ["text", "audio"], "session.output_modalities"),
        ("voice", "alloy", "session.audio.output.voice"),
        ("speed", 1.2, "session.audio.output.speed"),
        ("input_audio_format", "pcm16", "session.audio.input.format"),
        ("output_audio_format", "pcm16", "session.audio.output.format"),
        ("turn_detection", {"type": "server_vad"}, "session.audio.input.turn_detection"),
        ("input_audio_transcription", {"model": "whisper-1"}, "session.audio.input.transcription"),
        ("input_audio_noise_reduction", None, "session.audio.input.noise_reduction"),
        ("max_response_output_tokens", "inf", "session.max_output_tokens"),
    ],
)
def test_beta_session_fields_are_refused_with_their_ga_place(field: str, value: object, ga_path: str) -> None:
    err = refuse({"type": "session.update", "session": {"type": "realtime", field: value}})
    assert err.path == f"session.{field}"
    assert str(err) == (
        f"session.update: session.{field}: is a beta field that the GA API rejects. Fix: send it as {ga_path}"
    )


def test_temperature_is_refused_with_remove_it() -> None:
    err = refuse({"type": "session.update", "session": {"type": "realtime", "temperature": 0.8}})
    assert err.path == "session.temperature"
    assert err.fix == "remove it: GA has no temperature"


def test_beta_fields_are_named_even_without_session_type() -> None:
    """A pasted beta session gets the more useful message first."""
    err = refuse({"type": "session.update", "session": {"modalities": ["text"], "instructions": "x"}})
    assert err.path == "session.modalities"


@pytest.mark.parametrize("session_type", [None, "conversation", 1])
def test_session_type_is_required(session_type: object) -> None:
    session: Json = {"instructions": "hi"}
    if session_type is not None:
        session["type"] = session_type
    err = refuse({"type": "session.update", "session": session})
    assert err.path == "session.type"
    assert f"is required in GA and must be 'realtime' or 'transcription' (got {session_type!r})" in str(err)
    assert err.fix == "add 'type': 'realtime' to the session object"


def test_unknown_session_field() -> None:
    err = refuse({"type": "session.update", "session": {"type": "realtime", "instruction": "x"}})
    assert (
        str(err) == "session.update: session.instruction: unknown GA session field. Fix: did you mean 'instructions'?"
    )
    err = refuse({"type": "session.update", "session": {"type": "realtime", "zzz": 1}})
    assert err.fix == "remove it"


@pytest.mark.parametrize("value", [["text", "audio"], ["audio", "text"], [], "audio"])
def test_session_output_modalities(value: object) -> None:
    err = refuse({"type": "session.update", "session": {"type": "realtime", "output_modalities": value}})
    assert err.path == "session.output_modalities"
    assert f"{value!r} is not allowed" in str(err)
    assert "not both" in err.fix


def test_session_audio_must_be_an_object() -> None:
    err = refuse({"type": "session.update", "session": {"type": "realtime", "audio": "pcm16"}})
    assert (err.path, err.problem) == ("session.audio", "must be an object")
    assert "{'input': {...}, 'output': {...}}" in err.fix


def test_session_tools() -> None:
    err = refuse({"type": "session.update", "session": {"type": "realtime", "tools": {"name": "f"}}})
    assert (err.path, err.problem) == ("session.tools", "must be a list")
    err = refuse(
        {
            "type": "session.update",
            "session": {"type": "realtime", "tools": [{"type": "function", "name": "f"}, "g"]},
        }
    )
    assert (err.path, err.problem) == ("session.tools[1].type", "must be 'function' or 'mcp'")
    assert "'parameters'" in err.fix
    err = refuse({"type": "session.update", "session": {"type": "realtime", "tools": [{"name": "f"}]}})
    assert err.path == "session.tools[0].type"
    err = refuse({"type": "session.update", "session": {"type": "realtime", "tools": [{"type": "function"}]}})
    assert str(err) == "session.update: session.tools[0].name: function tools need a name. Fix: add 'name'"


# ------------------------------------------------------------------------------------------- items


def test_item_must_be_an_object() -> None:
    err = refuse({"type": "conversation.item.create"})
    assert (err.path, err.problem) == ("item", "missing or not an object")
    assert "items builders" in err.fix


def test_item_reference_is_not_an_item() -> None:
    err = refuse(create({"type": "item_reference", "id": "item_1"}))
    assert err.path == "item.type"
    assert "only allowed inside response.create input" in str(err)


def test_unknown_item_type() -> None:
    err = refuse(create({"type": "note", "text": "x"}))
    assert str(err) == (
        "conversation.item.create: item.type: unknown item type 'note'. "
        "Fix: use 'message', 'function_call' or 'function_call_output'"
    )


def test_message_role() -> None:
    err = refuse(create({"type": "message", "role": "developer", "content": []}))
    assert err.path == "item.role"
    assert "'developer' is not a message role" in str(err)
    assert err.fix == "use 'user', 'assistant' or 'system'"


def test_message_content_must_be_a_list() -> None:
    err = refuse(create({"type": "message", "role": "user", "content": "hello"}))
    assert (err.path, err.problem) == ("item.content", "must be a list of content parts")
    assert "input_text" in err.fix


@pytest.mark.parametrize(
    ("role", "ptype", "fix"),
    [
        ("user", "text", "use {'type': 'input_text', 'text': ...} in user messages"),
        ("system", "text", "use {'type': 'input_text', 'text': ...} in system messages"),
        ("user", "audio", "use {'type': 'input_audio', 'audio': <base64 PCM16>} in user messages"),
        (
            "user",
            "output_text",
            "use 'input_text' in user messages ('output_text' is for assistant messages)",
        ),
        ("system", "output_text", "use 'input_text' in system messages"),
        ("assistant", "input_text", "use 'output_text' in assistant messages (GA; 'text' in beta)"),
        ("assistant", "text", "use 'output_text' in assistant messages (the GA name of beta 'text')"),
        ("system", "input_audio", "system messages take input_text"),
        ("assistant", "input_image", "assistant messages take output_audio, output_text"),
        ("user", "item_reference", "user messages take input_audio, input_image, input_text"),
    ],
)
def test_content_type_must_fit_the_role(role: str, ptype: str, fix: str) -> None:
    item = {"type": "message", "role": role, "content": [{"type": ptype, "text": "x"}]}
    err = refuse(create(item))
    assert err.path == "item.content[0].type"
    assert err.problem == f"{ptype!r} is not allowed in {'an' if role == 'assistant' else 'a'} {role} message"
    assert err.fix == fix
    assert fix in str(err)


def test_text_part_in_a_user_message_names_input_text() -> None:
    """The most common mistake, as the brief spells it."""
    err = refuse(create(user({"type": "input_text", "text": "ok"}, {"type": "text", "text": "hello"})))
    assert str(err) == (
        "conversation.item.create: item.content[1].type: 'text' is not allowed in a user message. "
        "Fix: use {'type': 'input_text', 'text': ...} in user messages"
    )


def test_non_dict_content_part() -> None:
    err = refuse(create(user("hello")))
    assert err.problem == "None is not allowed in a user message"


def test_assistant_audio_cannot_be_created() -> None:
    item = {"type": "message", "role": "assistant", "content": [{"type": "output_audio", "transcript": "x"}]}
    err = refuse(create(item))
    assert (err.path, err.problem) == ("item.content[0].type", "clients cannot create assistant audio")
    assert "output_text" in err.fix


@pytest.mark.parametrize(
    ("role", "ptype"), [("user", "input_text"), ("system", "input_text"), ("assistant", "output_text")]
)
def test_text_must_be_a_string(role: str, ptype: str) -> None:
    err = refuse(create({"type": "message", "role": role, "content": [{"type": ptype, "text": 5}]}))
    assert str(err) == "conversation.item.create: item.content[0].text: must be a string. Fix: add the text"


def test_input_audio_must_be_base64_text() -> None:
    err = refuse(create(user({"type": "input_audio", "audio": b"\x00\x00"})))
    assert (err.path, err.problem) == ("item.content[0].audio", "must be base64 text")
    assert "base64-encode PCM16 24 kHz mono" in err.fix


def test_function_call_output_needs_a_call_id() -> None:
    for call_id in (None, "", 5):
        item = {"type": "function_call_output", "output": "ok"}
        if call_id is not None:
            item["call_id"] = call_id
        err = refuse(create(item))
        assert (err.path, err.problem) == ("item.call_id", "is required")
        assert "copy call_id from the function_call item" in str(err)


@pytest.mark.parametrize(
    ("output", "name"), [({"temp": 20}, "dict"), (None, "NoneType"), (3.5, "float"), ([1], "list")]
)
def test_function_call_output_must_be_a_string(output: object, name: str) -> None:
    err = refuse(create({"type": "function_call_output", "call_id": "call_1", "output": output}))
    assert str(err) == (
        f"conversation.item.create: item.output: must be a string, not {name}. "
        "Fix: JSON-encode structured results: json.dumps(result)"
    )


def test_function_call_item_fields() -> None:
    err = refuse(create({"type": "function_call", "arguments": "{}", "call_id": "c"}))
    assert (err.path, err.problem, err.fix) == ("item.name", "is required", "add the function name")
    err = refuse(create({"type": "function_call", "name": "f", "arguments": {"a": 1}, "call_id": "c"}))
    assert (err.path, err.problem, err.fix) == (
        "item.arguments",
        "must be a JSON string",
        "json.dumps(arguments)",
    )


def test_previous_item_id_must_be_a_string() -> None:
    err = refuse(create(build.user_text("x"), previous_item_id=0))
    assert (err.path, err.problem) == ("previous_item_id", "must be a string")
    assert "'root'" in err.fix


def test_validate_item_directly_uses_the_given_path() -> None:
    with pytest.raises(ClientEventError) as info:
        validate_item({"type": "message", "role": "user", "content": [{"type": "text"}]}, "response.create", "x.y")
    assert str(info.value).startswith("response.create: x.y.content[0].type: ")


# ---------------------------------------------------------------------------- audio buffer and ids


def test_append_audio_must_be_base64_text() -> None:
    for event in (
        {"type": "input_audio_buffer.append"},
        {"type": "input_audio_buffer.append", "audio": b"\x00"},
    ):
        err = refuse(event)
        assert (err.event_type, err.path, err.problem) == (
            "input_audio_buffer.append",
            "audio",
            "must be base64 text",
        )


@pytest.mark.parametrize("etype", ["conversation.item.retrieve", "conversation.item.delete"])
@pytest.mark.parametrize("item_id", [None, "", 3])
def test_item_id_events(etype: str, item_id: object) -> None:
    event: Json = {"type": etype}
    if item_id is not None:
        event["item_id"] = item_id
    err = refuse(event)
    assert err.path == "item_id"
    assert str(err) == (
        f"{etype}: item_id: missing or not a non-empty string (got {item_id!r}). "
        "Fix: pass the id of an item in the conversation"
    )


def test_truncate_needs_an_item_id() -> None:
    err = refuse({"type": "conversation.item.truncate", "content_index": 0, "audio_end_ms": 10})
    assert err.path == "item_id"
    assert "assistant item that was playing" in err.fix


@pytest.mark.parametrize("key", ["content_index", "audio_end_ms"])
@pytest.mark.parametrize("value", [None, -1, 1.5, True, "10"])
def test_truncate_numbers(key: str, value: object) -> None:
    event: Json = {
        "type": "conversation.item.truncate",
        "item_id": "item_1",
        "content_index": 0,
        "audio_end_ms": 100,
    }
    event[key] = value
    err = refuse(event)
    assert err.path == key
    assert f"must be a non-negative integer (got {value!r})" in str(err)
    assert "audio_end_ms is the audio actually played, in ms" in err.fix


# --------------------------------------------------------------------------------- response.create


def respond(**response: Any) -> Json:
    return {"type": "response.create", "response": response}


def test_response_must_be_an_object() -> None:
    err = refuse({"type": "response.create", "response": ["x"]})
    assert (err.path, err.problem) == ("response", "must be an object")


@pytest.mark.parametrize(
    ("field", "fix"),
    [
        ("modalities", "send it as response.output_modalities"),
        ("voice", "send it as response.audio.output.voice"),
        ("output_audio_format", "send it as response.audio.output.format"),
        ("max_response_output_tokens", "send it as response.max_output_tokens"),
        ("temperature", "remove it"),
    ],
)
def test_beta_response_fields(field: str, fix: str) -> None:
    err = refuse(respond(**{field: "x"}))
    assert str(err) == f"response.create: response.{field}: is a beta field that the GA API rejects. Fix: {fix}"


def test_response_output_modalities() -> None:
    err = refuse(respond(output_modalities=["text", "audio"]))
    assert err.path == "response.output_modalities"
    assert "['text', 'audio'] is not allowed" in str(err)


def test_response_conversation_must_be_a_string() -> None:
    assert validate_client_event(respond(conversation=None)) is None  # null is "not given"
    assert validate_client_event(respond(conversation="auto")) is None
    err = refuse(respond(conversation={"id": "conv_1"}))
    assert (err.path, err.problem) == ("response.conversation", "must be 'auto' or 'none'")
    assert "'none' for out-of-band" in err.fix


def test_response_metadata() -> None:
    err = refuse(respond(metadata=["purpose"]))
    assert (err.path, err.problem) == ("response.metadata", "must be an object of strings")
    err = refuse(respond(metadata={f"k{i}": "v" for i in range(17)}))
    assert (err.problem, err.fix) == ("has 17 pairs", "keep at most 16")
    assert validate_client_event(respond(metadata={f"k{i}": "v" for i in range(16)})) is None
    err = refuse(respond(metadata={"count": 3}))
    assert err.path == "response.metadata.count"
    assert "values strings <= 512 chars" in str(err)
    err = refuse(respond(metadata={"k" * 65: "v"}))
    assert err.path == "response.metadata." + "k" * 65
    err = refuse(respond(metadata={"note": "v" * 513}))
    assert err.fix == "shorten it or JSON-encode the value"
    assert validate_client_event(respond(metadata={"k" * 64: "v" * 512})) is None


def test_response_input() -> None:
    err = refuse(respond(input={"type": "item_reference", "id": "x"}))
    assert (err.path, err.problem) == ("response.input", "must be a list")
    err = refuse(respond(input=[build.item_reference("item_1"), {"type": "item_reference"}]))
    assert (err.path, err.problem) == ("response.input[1].id", "is required")
    err = refuse(respond(input=[user({"type": "text", "text": "hi"})]))
    assert str(err).startswith("response.create: response.input[0].content[0].type: 'text' is not allowed")
    err = refuse(respond(input=["just a string"]))
    assert (err.path, err.problem) == ("response.input[0]", "missing or not an object")


def test_response_tools() -> None:
    err = refuse(respond(tools=[{"type": "retrieval"}]))
    assert err.path == "response.tools[0].type"


def test_cancel_response_id_must_be_a_string() -> None:
    err = refuse({"type": "response.cancel", "response_id": 1})
    assert (err.path, err.problem) == ("response_id", "must be a string")
    assert "leave it out" in err.fix


@pytest.mark.parametrize(
    ("event", "path"),
    [
        ({"type": ["session.update"]}, "type"),
        ({"type": "conversation.item.create", "item": {"type": ["message"]}}, "item.type"),
        (
            {"type": "conversation.item.create", "item": {"type": "message", "role": ["user"], "content": []}},
            "item.role",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": [{"type": ["input_text"], "text": "x"}]},
            },
            "item.content[0].type",
        ),
    ],
)
def test_unhashable_names_are_refused_like_any_wrong_name(event: dict[str, object], path: str) -> None:
    with pytest.raises(ClientEventError) as info:
        validate_client_event(event)
    assert info.value.path == path
