"""The deterministic brain: echo, tool calls named in the text, tool results read back, heard audio."""

from __future__ import annotations

import json
from typing import Any

from rtwidget.server.brain import GREETING, Brain, FunctionCall, parse_arguments

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "ratio": {"type": "number"},
            "metric": {"type": "boolean"},
            "zip": {"type": ["integer", "null"]},
        },
    },
}
TIME = {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def test_echo_and_greeting() -> None:
    brain = Brain()
    assert brain.reply([user("hi there")]).text == "You said: hi there"
    assert brain.reply([]).text == GREETING
    assert brain.reply([user("a"), {"type": "message", "role": "assistant", "content": []}]).text == "You said: a"


def test_audio_without_recogniser_reports_seconds() -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio_ms": 1440}]}
    assert Brain().reply([item]).text == "I heard 1.4 seconds of audio."
    assert Brain().transcribe(bytes(48 * 2500)) == "[2.5 seconds of audio]"
    with_text = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "audio_ms": 5, "transcript": "yo"}],
    }
    assert Brain().reply([with_text]).text == "You said: yo"


def test_recogniser_plugs_in() -> None:
    brain = Brain(recognizer=lambda pcm: f"{len(pcm)} bytes")
    assert brain.transcribe(b"\0\0") == "2 bytes" and brain.recognize(b"") == "0 bytes"
    assert Brain(recognizer=lambda pcm: "  ").transcribe(bytes(4800)) == "[0.1 seconds of audio]"


def test_parse_arguments_coerces_with_the_schema() -> None:
    params = WEATHER["parameters"]
    text = "city=\"New York\" days=3 ratio=0.5 metric=yes zip=10001 note='a b' flag=true."
    assert parse_arguments(text, params) == {
        "city": "New York",
        "days": 3,
        "ratio": 0.5,
        "metric": True,
        "zip": 10001,
        "note": "a b",
        "flag": "true",
    }
    assert parse_arguments("days=many", params) == {"days": "many"}
    assert parse_arguments("no pairs here") == {}
    assert parse_arguments("city=Paris, days=2.", params) == {"city": "Paris", "days": 2}


def test_tools_named_in_order_with_their_own_arguments() -> None:
    reply = Brain().reply([user("city=Oslo get weather days=2 and then GET_TIME tz=UTC")], tools=[TIME, WEATHER])
    assert reply.text is None
    assert reply.calls == (
        FunctionCall("get_weather", json.dumps({"city": "Oslo", "days": 2})),
        FunctionCall("get_time", json.dumps({"tz": "UTC"})),
    )
    # A name inside another word does not count.
    assert Brain().reply([user("forget_timer")], tools=[TIME]).calls == ()


def test_tool_choice() -> None:
    brain = Brain()
    assert brain.reply([user("get_time")], tools=[TIME], tool_choice="none").text == "You said: get_time"
    assert brain.reply([user("hello")], tools=[TIME, WEATHER], tool_choice="required").calls[0].name == "get_time"
    forced = brain.reply(
        [user("get_time city=Rome")],
        tools=[TIME, WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
    )
    assert forced.calls == (FunctionCall("get_weather", json.dumps({"city": "Rome"})),)
    mcp_only = [{"type": "mcp", "server_label": "x", "name": "get_time"}]
    assert brain.reply([user("get_time")], tools=mcp_only).text == "You said: get_time"


def test_function_outputs_are_read_back() -> None:
    context: list[dict[str, Any]] = [
        user("get_weather and get_time"),
        {"type": "function_call", "name": "get_weather", "call_id": "c1", "arguments": "{}"},
        {"type": "function_call", "name": "get_time", "call_id": "c2", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": '{"temp": 20}'},
        {"type": "function_call_output", "call_id": "c2", "output": "noon"},
    ]
    assert Brain().reply(context, tools=[WEATHER, TIME]).text == (
        'get_weather returned: {"temp": 20}. get_time returned: noon.'
    )
    orphan: list[dict[str, Any]] = [
        user("x"),
        {"type": "function_call_output", "call_id": "zz", "output": "1"},
    ]
    assert Brain().reply(orphan).text == "the tool returned: 1."
