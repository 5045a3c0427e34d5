"""Types the test tools take and return, and a schema helper, shared by the tools tests.

The types are at module level so that the tests' string annotations (``from __future__ import annotations``)
resolve through the test modules' globals, which import them from here.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import pydantic


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Size(enum.IntEnum):
    SMALL = 1
    LARGE = 3


class Mood(str, enum.Enum):
    HAPPY = "happy"


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Address(pydantic.BaseModel):
    """A postal address."""

    street: str
    title: str = "home"  # a property named "title" must survive title stripping


class Order(pydantic.BaseModel):
    """An order."""

    address: Address
    points: list[Point]
    color: Color


class TreeNode(pydantic.BaseModel):
    name: str
    children: list[TreeNode] = []


def schema_keys(schema: dict[str, Any]) -> set[str]:
    """Keys of every schema object (the keys under "properties" are names, so they are skipped)."""
    keys: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                keys.add(key)
                if key in ("properties", "$defs"):
                    for sub in value.values():
                        visit(sub)
                elif key not in ("default", "enum", "const", "required"):
                    visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)
    return keys
