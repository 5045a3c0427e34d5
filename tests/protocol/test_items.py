"""items: builders put the content type each role requires, per dialect; history_items loads chat messages."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from rtwidget.protocol import items as build
from rtwidget.protocol.connection import Connection
from rtwidget.protocol.errors import ClientEventError
from rtwidget.protocol.validate import validate_item


def test_user_and_system_text_use_input_text_in_both_dialects() -> None:
    for dialect in ("ga", "beta"):
        assert build.user_text("hi", dialect=dialect) == {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hi"}],
        }
        assert build.system_text("be nice", item_id="sys_1", dialect=dialect) == {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "be nice"}],
            "id": "sys_1",
        }


def test_assistant_text_is_output_text_in_ga_and_text_in_beta() -> None:
    assert build.assistant_text("ok")["content"] == [{"type": "output_text", "text": "ok"}]
    assert build.assistant_text("ok", dialect="beta")["content"] == [{"type": "text", "text": "ok"}]


def test_builders_stringify_text_and_check_the_dialect() -> None:
    assert build.user_text(42)["content"][0]["text"] == "42"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown dialect"):
        build.user_text("x", dialect="v3")


def test_user_audio_from_bytes_or_base64() -> None:
    pcm = bytes(range(10))
    item = build.user_audio(pcm, transcript="hello", item_id="item_a")
    assert item == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "audio": base64.b64encode(pcm).decode(), "transcript": "hello"}],
        "id": "item_a",
    }
    assert build.user_audio("AAAA")["content"] == [{"type": "input_audio", "audio": "AAAA"}]
    validate_item(item)


def test_output_string() -> None:
    assert build.output_string("already text") == "already text"
    assert build.output_string({"temp": 21.5, "city": "Zürich"}) == '{"temp": 21.5, "city": "Zürich"}'
    assert build.output_string([1, None, True]) == "[1, null, true]"
    assert build.output_string(None) == "null"

    class Odd:
        def __str__(self) -> str:
            return "odd!"

    assert build.output_string({"x": Odd()}) == '{"x": "odd!"}'


def test_function_call_and_output_items() -> None:
    call = build.function_call("get_weather", {"city": "Paris"}, "call_1", item_id="item_fc")
    assert call == {
        "type": "function_call",
        "name": "get_weather",
        "call_id": "call_1",
        "arguments": '{"city": "Paris"}',
        "id": "item_fc",
    }
    assert build.function_call("f", "{}", "c")["arguments"] == "{}"
    assert "id" not in build.function_call("f", "{}", "c")
    out = build.function_call_output("call_1", {"temp": 20}, item_id="item_out")
    assert out == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": '{"temp": 20}',
        "id": "item_out",
    }
    assert build.function_call_output("call_2", "sunny") == {
        "type": "function_call_output",
        "call_id": "call_2",
        "output": "sunny",
    }
    validate_item(call)
    validate_item(out)


def test_item_reference() -> None:
    assert build.item_reference("item_9") == {"type": "item_reference", "id": "item_9"}


# ----------------------------------------------------------------------------------------- history


def test_history_items_gives_each_role_its_content_type() -> None:
    history = [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": "Prefer metric units."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {"id": "call_2", "name": "get_time"},  # flat shape, no arguments
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": {"temp": 18}},
        {"role": "tool", "tool_call_id": "call_2", "content": "12:00"},
        {"role": "assistant", "content": [{"type": "text", "text": "18 degrees "}, "at noon."]},
    ]
    items = build.history_items(history)
    assert items == [
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "You are terse."}]},
        {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "Prefer metric units."}],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
        {
            "type": "function_call",
            "name": "get_weather",
            "call_id": "call_1",
            "arguments": '{"city":"Paris"}',
        },
        {"type": "function_call", "name": "get_time", "call_id": "call_2", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 18}'},
        {"type": "function_call_output", "call_id": "call_2", "output": "12:00"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "18 degrees at noon."}],
        },
    ]
    for item in items:
        validate_item(item)


def test_history_items_in_beta_uses_text_for_the_assistant() -> None:
    items = build.history_items(
        [{"role": "assistant", "content": "hi"}, {"role": "user", "content": "yo"}], dialect="beta"
    )
    assert items[0]["content"] == [{"type": "text", "text": "hi"}]
    assert items[1]["content"] == [{"type": "input_text", "text": "yo"}]


def test_history_items_passes_ready_items_through_and_skips_empty_text() -> None:
    ready = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "AAAA"}]}
    items = build.history_items([ready, {"role": "user", "content": ""}, {"role": "assistant"}])
    assert items == [ready]
    assert items[0] is not ready


def test_history_tool_message_without_fields() -> None:
    # It used to give a function_call_output with call_id "", which the validator refuses when it is sent.
    with pytest.raises(ValueError, match=r"history\[0\]\.tool_call_id is None: a tool result needs the id"):
        build.history_items([{"role": "tool"}])
    assert build.history_items([{"role": "tool", "tool_call_id": "c1"}]) == [
        {"type": "function_call_output", "call_id": "c1", "output": ""}
    ]


@pytest.mark.parametrize(
    ("messages", "error", "match"),
    [
        (["hello"], TypeError, r"history\[0\] must be a dict"),
        (
            [{"role": "robot", "content": "x"}],
            ValueError,
            r"history\[0\]\.role is 'robot'.*'user', 'assistant'",
        ),
        ([{"content": "x"}], ValueError, r"history\[0\]\.role is None"),
        (
            [
                {"role": "user", "content": "ok"},
                {"role": "user", "content": [{"type": "image_url", "image_url": "u"}]},
            ],
            ValueError,
            r"history\[1\]\.content: only text parts can be loaded",
        ),
        (
            [{"role": "user", "content": 3}],
            ValueError,
            r"history\[0\]\.content must be a string or a list.*not int",
        ),
    ],
)
def test_history_items_refusals(messages: list[object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        build.history_items(messages)  # type: ignore[arg-type]


def test_history_items_accepts_any_mapping_and_iterable() -> None:
    from types import MappingProxyType

    items = build.history_items(iter([MappingProxyType({"role": "user", "content": "hi"})]))
    assert items == [build.user_text("hi")]
    assert json.loads(json.dumps(items)) == items


# ------------------------------------------------------------------------------ history: bad input


def _call(**fields: object) -> dict[str, object]:
    return {"role": "assistant", "content": None, "tool_calls": [fields]}


@pytest.mark.parametrize(
    ("messages", "error", "match"),
    [
        (None, TypeError, r"history must be a list of messages, not NoneType"),
        (5, TypeError, r"history must be a list of messages, not int"),
        ("text", TypeError, r"history must be a list of messages, not str"),
        (b"text", TypeError, r"not bytes"),
        ({"role": "user", "content": "hi"}, TypeError, r"not dict: .*a single message goes in a list"),
        ([None], TypeError, r"history\[0\] must be a dict"),
        ([{"role": "user"}], ValueError, r"history\[0\]\.content is missing: add the text of the user message"),
        ([{"role": "system", "content": None}], ValueError, r"history\[0\]\.content is missing"),
        ([{"role": "tool", "tool_call_id": 7}], ValueError, r"history\[0\]\.tool_call_id is 7"),
        ([{"role": "tool", "tool_call_id": ""}], ValueError, r"history\[0\]\.tool_call_id is ''"),
        (
            [{"role": "tool", "tool_call_id": "c", "content": {"t": float("nan")}}],
            ValueError,
            r"history\[0\]\.content: Out of range float.*use finite numbers",
        ),
        (
            [{"role": "user", "content": "x", "tool_calls": []}],
            ValueError,
            r"history\[0\]\.tool_calls: only assistant messages",
        ),
        (
            [{"role": "assistant", "tool_calls": "get_weather"}],
            TypeError,
            r"history\[0\]\.tool_calls must be a list of .*not str",
        ),
        ([{"role": "assistant", "tool_calls": 3}], TypeError, r"tool_calls must be a list.*not int"),
        ([{"role": "assistant", "tool_calls": [None]}], TypeError, r"tool_calls\[0\] must be a dict.*not NoneType"),
        ([_call(id="c", function="f")], TypeError, r"tool_calls\[0\]\.function must be a dict.*not str"),
        ([_call(id="c", function={})], ValueError, r"tool_calls\[0\]\.function\.name is None: give the name"),
        ([_call(id="c", function={"name": 3})], ValueError, r"tool_calls\[0\]\.function\.name is 3"),
        ([_call(function={"name": "f"})], ValueError, r"tool_calls\[0\]\.id is None: give the call id"),
        ([_call(id=5, name="f")], ValueError, r"tool_calls\[0\]\.id is 5"),
        (
            [_call(id="c", name="f", arguments={"x": float("inf")})],
            ValueError,
            r"tool_calls\[0\]\.function\.arguments: Out of range float",
        ),
    ],
)
def test_history_bad_input_names_the_message_and_field(messages: object, error: type[Exception], match: str) -> None:
    conn = Connection()
    with pytest.raises(error, match=match):
        conn.load_history(messages)  # type: ignore[arg-type]
    assert conn.data_to_send() == []


def test_history_ready_items_are_validated_with_their_index() -> None:
    conn = Connection()
    bad = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x", "tags": {1, 2}}]}
    with pytest.raises(ClientEventError) as info:
        conn.load_history([{"role": "user", "content": "first"}, bad])
    assert info.value.event_type == "load_history" and info.value.path == "history[1].content[0].tags"
    assert "is a set, which is not JSON" in str(info.value) and "use a list" in str(info.value)
    with pytest.raises(ClientEventError, match=r"load_history: history\[0\]\.type: unknown item type 'mesage'"):
        conn.load_history([{"type": "mesage", "role": "user"}])
    assert conn.data_to_send() == []  # all or nothing: "first" is not left queued for the next send
    conn.send_text("unrelated", respond=False)
    assert [json.loads(wire)["item"]["content"][0]["text"] for _, wire in conn.data_to_send()] == ["unrelated"]


def test_history_half_bad_is_all_or_nothing_even_from_a_generator() -> None:
    conn = Connection()

    def messages() -> Iterator[dict[str, object]]:
        yield {"role": "user", "content": "one"}
        yield {"role": "assistant", "content": "two"}
        yield {"role": "user", "content": 3}

    with pytest.raises(ValueError, match=r"history\[2\]\.content must be a string"):
        conn.load_history(messages())
    assert conn.data_to_send() == []


def test_history_beta_assistant_items_are_read_as_ga_and_written_per_dialect() -> None:
    beta_item = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "hi"}]}
    assert build.history_items([beta_item]) == [build.assistant_text("hi")]
    assert build.history_items([beta_item], dialect="beta") == [beta_item]
    with pytest.raises(ValueError, match="unknown dialect"):
        build.history_items([], dialect="v3")


def test_output_string_refuses_nan() -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        build.output_string([float("nan")])
    with pytest.raises(ValueError, match="Out of range float"):
        build.function_call_output("c1", {"x": float("inf")})
