"""Tests for rtwidget.tools.output: return values as the strings the model reads."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from rtwidget.session.reporting import tool_failure_data
from rtwidget.tools import Tool, output_to_string

from .models import Address, Color, Mood, Order, Point, Size


def test_output_to_string_keeps_strings_exactly() -> None:
    for text in ("", "  spaced  \n", '{"already": "json"}', "héllo ✓", "null"):
        assert output_to_string(text) == text

    class Tagged(str):
        def __str__(self) -> str:
            return "not this"

    out = output_to_string(Tagged("plain"))
    assert out == "plain" and type(out) is str


def test_output_to_string_json_values() -> None:
    assert output_to_string(None) == "null"
    assert output_to_string(True) == "true"
    assert output_to_string(3) == "3"
    assert output_to_string(2.5) == "2.5"
    assert output_to_string({"city": "Zürich", "temp": [1, 2]}) == '{"city": "Zürich", "temp": [1, 2]}'
    assert output_to_string((1, "a")) == '[1, "a"]'
    assert output_to_string({3}) == "[3]"


def test_output_to_string_rich_values() -> None:
    order = Order(address=Address(street="Main"), points=[Point(1)], color=Color.BLUE)
    assert json.loads(output_to_string(order)) == {
        "address": {"street": "Main", "title": "home"},
        "points": [{"x": 1, "y": 0}],
        "color": "blue",
    }
    assert output_to_string(Point(1, 2)) == '{"x": 1, "y": 2}'
    assert output_to_string(Color.RED) == "red"
    assert output_to_string(Mood.HAPPY) == "happy"
    assert output_to_string(Size.LARGE) == "3"
    assert output_to_string({"c": Color.BLUE, "when": dt.date(2024, 5, 1)}) == '{"c": "blue", "when": "2024-05-01"}'


def test_output_to_string_fallbacks() -> None:
    class ArrayLike:
        def tolist(self) -> list[int]:
            return [1, 2]

    class Thing:
        def __str__(self) -> str:
            return "a thing"

    assert output_to_string({"a": ArrayLike()}) == '{"a": [1, 2]}'
    assert output_to_string([Thing()]) == '["a thing"]'
    assert output_to_string(Thing()) == '"a thing"'


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (float("nan"), "holds nan,"),
        (float("-inf"), "holds -inf,"),
        ({"temps": [1.0, float("inf")]}, "holds inf at ['temps'][1]"),
        ([{"a": float("nan")}], "holds nan at [0]['a']"),
        (Point(1, float("nan")), "holds nan at ['y']"),
    ],
)
def test_output_to_string_refuses_nan_and_infinities(value: object, where: str) -> None:
    with pytest.raises(ValueError) as info:
        output_to_string(value)
    assert where in str(info.value)
    assert "return None for a missing number" in str(info.value)


def test_output_to_string_refuses_nan_in_numpy_values() -> None:
    np = pytest.importorskip("numpy")
    with pytest.raises(ValueError, match=r"holds nan at \[1\]"):
        output_to_string(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="holds inf"):
        output_to_string({"x": np.float32("inf")})
    assert output_to_string("NaN") == "NaN"  # a string is the tool's own words


def test_a_tool_returning_nan_fails_with_a_json_error_output_and_a_reported_error() -> None:
    def reading() -> dict[str, float]:
        """A sensor reading."""
        return {"temp": float("nan")}

    result = asyncio.run(Tool(reading).run("{}"))
    assert not result.ok and result.error_kind == "bad_output"
    output = json.loads(result.output)  # the model reads valid JSON, never NaN
    assert output["tool"] == "reading"
    assert "nan at ['temp']" in output["error"] and "return None" in output["error"]
    data = tool_failure_data(result)  # what the session announces as rtwidget.error
    assert data is not None and data["error_type"] == "ValueError" and "nan at ['temp']" in data["message"]
