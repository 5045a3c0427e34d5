"""Tests for rtwidget.tools.output: return values as the strings the model reads."""

from __future__ import annotations

import datetime as dt
import json

from rtwidget.tools import output_to_string

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
