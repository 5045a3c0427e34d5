"""validate: values JSON cannot carry (objects, sets, bytes, NaN, infinities, odd keys, deep nesting) are refused
with the field path and the fix, before the encoder sees them; and nothing is queued."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtwidget.protocol.connection import Connection
from rtwidget.protocol.errors import ClientEventError
from rtwidget.protocol.events import MAX_DEPTH
from rtwidget.protocol.validate import check_bool, check_ms, check_str, validate_client_event

Json = dict[str, Any]


def text_item(value: Any) -> Json:
    part = {"type": "input_text", "text": "hi", "extra": value}
    return {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [part]}}


def refuse(event: Any) -> ClientEventError:
    conn = Connection()
    with pytest.raises(ClientEventError) as info:
        conn.send(event)
    assert conn.data_to_send() == []  # nothing queued
    return info.value


class Loud(enum.IntEnum):
    ON = 1


class Tag(str):
    pass


class Ratio(float):
    pass


class Arrayish:
    def tolist(self) -> list[int]:
        return [1]


@pytest.mark.parametrize(
    ("value", "problem", "fix"),
    [
        (object(), "is a object, which is not JSON", "convert it to a string"),
        ({1, 2}, "is a set, which is not JSON", "use a list"),
        (frozenset(), "is a frozenset, which is not JSON", "use a list"),
        (b"abc", "is a bytes, which is not JSON", "base64-encode audio"),
        (bytearray(b"a"), "is a bytearray, which is not JSON", "decode it"),
        (Arrayish(), "is a Arrayish, which is not JSON", ".tolist()"),
        (float("nan"), "is nan, which JSON cannot carry", "finite number, or None"),
        (float("inf"), "is inf, which JSON cannot carry", "finite number"),
        (-float("inf"), "is -inf, which JSON cannot carry", "finite number"),
        (Ratio("nan"), "is nan, which JSON cannot carry", "finite number"),
    ],
)
def test_a_value_json_cannot_carry_is_refused_with_its_path(value: Any, problem: str, fix: str) -> None:
    err = refuse(text_item(value))
    assert err.path == "item.content[0].extra"
    assert err.problem == problem
    assert fix in err.fix
    assert "item.content[0].extra" in str(err) and fix in str(err)


def test_nan_anywhere_is_refused_not_sent_as_NaN() -> None:
    err = refuse({"type": "response.create", "response": {"max_output_tokens": float("nan")}})
    assert err.path == "response.max_output_tokens"
    err = refuse(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "tools": [{"type": "function", "name": "f", "parameters": {"default": [1, (2, float("inf"))]}}],
            },
        }
    )
    assert err.path == "session.tools[0].parameters.default[1][1]"


def test_a_key_that_is_not_a_string_is_refused() -> None:
    err = refuse({"type": "response.create", "response": {"metadata": {1: "x"}}})
    assert (err.path, err.fix) == ("response.metadata", "use string keys")
    assert "int key 1" in err.problem
    # the session check stumbles on the int key (difflib); the walk's error is the one reported
    err = refuse({"type": "session.update", "session": {"type": "realtime", 5: "x"}})
    assert err.path == "session" and "int key 5" in err.problem


def test_nesting_past_the_limit_or_a_cycle_is_refused() -> None:
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    err = refuse({"type": "response.create", "response": {"instructions": deep}})
    assert err.path.startswith("response.instructions[0][0]") and f"deeper than {MAX_DEPTH}" in err.problem
    loop: list[Any] = []
    loop.append(loop)
    err = refuse({"type": "response.create", "response": {"x": loop}})
    assert "contains itself" in err.problem


def test_the_events_own_check_speaks_first_when_it_knows_the_field() -> None:
    err = refuse({"type": "input_audio_buffer.append", "audio": b"\x00\x00"})
    assert (err.path, err.problem) == ("audio", "must be base64 text")


def test_subclasses_of_json_types_pass_and_encode() -> None:
    event = text_item({"loud": Loud.ON, "tag": Tag("t"), "ratio": Ratio(0.5), "t": (1, 2), "n": None, "b": True})
    validate_client_event(event)
    conn = Connection()
    conn.send(event)
    [(_, wire)] = conn.data_to_send()
    assert json.loads(wire)["item"]["content"][0]["extra"] == {
        "loud": 1,
        "tag": "t",
        "ratio": 0.5,
        "t": [1, 2],
        "n": None,
        "b": True,
    }


def test_the_hot_path_event_passes() -> None:
    validate_client_event({"type": "input_audio_buffer.append", "audio": "AAAA", "event_id": "e1"})


# ------------------------------------------------------------------ arguments of the session's public calls


def test_check_str() -> None:
    assert check_str("text", "hi", "fix it") == "hi"
    assert check_str("text", "", "fix it") == ""
    with pytest.raises(TypeError, match=r"^text must be a str, not int 5: fix it$"):
        check_str("text", 5, "fix it")
    with pytest.raises(TypeError, match=r"^x must be a str, not Long 'x{56}\.\.\.: f$"):  # a long repr is cut
        check_str("x", Long(), "f")
    with pytest.raises(ValueError, match=r"^item_id must not be empty: pass an id$"):
        check_str("item_id", "", "pass an id", empty=False)


class Long:
    def __repr__(self) -> str:
        return "'" + "x" * 100 + "'"


def test_check_bool() -> None:
    assert check_bool("respond", False) is False
    for bad in (1, "yes", None):
        with pytest.raises(TypeError, match=r"^respond must be True or False, not "):
            check_bool("respond", bad)


def test_check_ms() -> None:
    assert check_ms("audio_end_ms", 1500) == 1500.0
    assert check_ms("audio_end_ms", 0.5) == 0.5
    for bad in ("abc", True, None, [1]):
        with pytest.raises(TypeError, match=r"^audio_end_ms must be a number of milliseconds, not .*pass e\.g\. 1500"):
            check_ms("audio_end_ms", bad)
    for bad in (float("inf"), float("nan"), -1, -float("inf")):
        with pytest.raises(ValueError, match=r"^audio_end_ms must be a finite number of milliseconds >= 0"):
            check_ms("audio_end_ms", bad)


# ------------------------------------------------------------------ property: validated means strict JSON

_BAD = st.sampled_from([object(), {1}, frozenset(), b"x", bytearray(b"y"), float("nan"), float("inf"), -float("inf")])
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6), _BAD)
_VALUES = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(0, 2)), inner, max_size=3),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["response.create", "conversation.item.create", "session.update"]), _VALUES, _VALUES)
def test_what_validates_encodes_as_strict_json(etype: str, value: Any, other: Any) -> None:
    event: Json = {"type": "response.create", "response": {"instructions": "x", "metadata": {}, "extra": value}}
    if etype == "conversation.item.create":
        event = text_item(value)
        event["item"]["content"][0]["more"] = other
    elif etype == "session.update":
        event = {"type": "session.update", "session": {"type": "realtime", "instructions": value}}
    conn = Connection()
    try:
        conn.send(event)
    except ClientEventError as exc:
        assert exc.path and exc.fix  # refused: it names where and what to do, and nothing is queued
        assert conn.data_to_send() == []
        return
    [(_, wire)] = conn.data_to_send()
    json.loads(wire, parse_constant=_no_constant)  # strict JSON: no NaN or Infinity on the wire


def _no_constant(name: str) -> Any:
    raise AssertionError(f"{name} on the wire")
