"""Tests for the JSON schema a tool gets from its signature (rtwidget.tools.schema and signature)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Optional

import pydantic

from rtwidget.tools import Tool
from rtwidget.tools.schema import clean_schema
from tests.support import run

from .models import Address, Color, Order, Point, Size, TreeNode, schema_keys


def test_schema_shape_and_scalar_types() -> None:
    def book(city: str, nights: int, budget: float, breakfast: bool = False) -> str:
        """Book a hotel room."""
        return city

    tool = Tool(book)
    schema = tool.schema
    assert schema["type"] == "function"
    assert schema["name"] == "book"
    assert schema["description"] == "Book a hotel room."
    params = schema["parameters"]
    assert params["type"] == "object"
    assert params["properties"] == {
        "city": {"type": "string"},
        "nights": {"type": "integer"},
        "budget": {"type": "number"},
        "breakfast": {"type": "boolean", "default": False},
    }
    assert params["required"] == ["city", "nights", "budget"]
    assert params["additionalProperties"] is False
    assert list(params)[:2] == ["type", "properties"]
    assert "title" not in schema_keys(params)


def test_schema_literal_enum_optional() -> None:
    def paint(
        color: Color,
        size: Size = Size.SMALL,
        finish: Literal["matte", "gloss"] = "matte",
        note: Optional[str] = None,  # noqa: UP045 - typing.Optional on purpose
        tag: str | None = None,
    ) -> None:
        pass

    props = Tool(paint).parameters["properties"]
    assert props["color"] == {"enum": ["red", "blue"], "type": "string"}
    assert props["size"]["enum"] == [1, 3]
    assert props["size"]["default"] == 1
    assert props["finish"] == {"enum": ["matte", "gloss"], "type": "string", "default": "matte"}
    assert props["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    assert props["tag"] == props["note"]


def test_schema_list_dict_and_untyped() -> None:
    def stats(values: list[float], labels: dict[str, int], extra=3, anything: Any = None) -> None:
        pass

    props = Tool(stats).parameters["properties"]
    assert props["values"] == {"type": "array", "items": {"type": "number"}}
    assert props["labels"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert props["extra"] == {"default": 3}  # no hint: Any, so no "type"
    assert props["anything"] == {"default": None}


def test_schema_without_parameters() -> None:
    def ping() -> str:
        return "pong"

    params = Tool(ping).parameters
    assert params["type"] == "object"
    assert params["properties"] == {}
    assert "required" not in params


def test_schema_dataclass_and_nested_models_are_inlined() -> None:
    def place(order: Order, where: Point) -> None:
        """Place an order."""

    params = Tool(place).parameters
    text = json.dumps(params)
    assert "$ref" not in text and "$defs" not in text
    assert "title" not in schema_keys(params)
    order = params["properties"]["order"]
    assert order["type"] == "object"
    assert order["description"] == "An order."
    address = order["properties"]["address"]
    assert address["description"] == "A postal address."
    assert address["properties"]["title"] == {"type": "string", "default": "home"}
    assert order["properties"]["points"]["items"]["properties"]["x"] == {"type": "integer"}
    assert order["properties"]["color"]["enum"] == ["red", "blue"]
    assert params["properties"]["where"]["required"] == ["x"]


def test_schema_parameter_description_overrides_model_description() -> None:
    def ship(address: Address) -> None:
        """Ship.

        Args:
            address: Where to deliver.
        """

    prop = Tool(ship).parameters["properties"]["address"]
    assert prop["description"] == "Where to deliver."
    assert prop["required"] == ["street"]


def test_schema_recursive_model_keeps_only_needed_defs() -> None:
    def plant(tree: TreeNode, color: Color) -> None:
        pass

    params = Tool(plant).parameters
    assert set(params["$defs"]) == {"TreeNode"}
    assert params["properties"]["tree"]["properties"]["children"]["items"] == {"$ref": "#/$defs/TreeNode"}
    assert params["properties"]["color"]["enum"] == ["red", "blue"]  # the non-recursive one is inlined
    assert "title" not in schema_keys(params)


def test_clean_schema_merges_single_allof_and_keeps_foreign_refs() -> None:
    # pydantic < 2.9 wrapped a described reference in a one-element allOf.
    raw = {
        "$defs": {"P": {"title": "P", "type": "object", "description": "model doc"}},
        "properties": {
            "p": {"allOf": [{"$ref": "#/$defs/P"}], "description": "field doc", "title": "P"},
            "q": {"$ref": "https://example.com/q.json"},
        },
        "title": "root",
        "type": "object",
    }
    assert clean_schema(raw) == {
        "properties": {
            "p": {"type": "object", "description": "field doc"},
            "q": {"$ref": "https://example.com/q.json"},
        },
        "type": "object",
    }


def test_schema_annotated_field_description_wins_over_docstring() -> None:
    def count(n: Annotated[int, pydantic.Field(ge=0, description="How many.")], m: int = 1) -> None:
        """Count.

        Args:
            n: Ignored in favour of the annotation.
            m: Docstring text.
        """

    props = Tool(count).parameters["properties"]
    assert props["n"] == {"type": "integer", "minimum": 0, "description": "How many."}
    assert props["m"]["description"] == "Docstring text."


def test_schema_reserved_names_work_as_parameters() -> None:
    def odd(model_config: str, _private: int = 0, json: bool = False) -> str:
        return f"{model_config}-{_private}-{json}"

    tool = Tool(odd)
    assert set(tool.parameters["properties"]) == {"model_config", "_private", "json"}
    result = run(tool.run('{"model_config": "a", "_private": 2, "json": true}'))
    assert result.output == "a-2-True"


def test_schema_is_a_fresh_copy() -> None:
    def f(x: int) -> None:
        pass

    tool = Tool(f)
    tool.schema["parameters"]["properties"]["x"]["type"] = "string"
    assert tool.schema["parameters"]["properties"]["x"]["type"] == "integer"


def test_schema_drops_unserialisable_default_silently() -> None:
    marker = object()

    def f(x: Any = marker) -> bool:
        return x is marker

    tool = Tool(f)
    assert tool.parameters["properties"]["x"] == {}
    assert run(tool.run("")).output == "true"
