"""Tests for rtwidget.tools.signature: which parameters a tool may have, and how their types resolve."""

from __future__ import annotations

import dataclasses
import logging
from typing import Annotated, Any, Literal

import pydantic
import pytest

from rtwidget.tools import Tool, ToolRegistry
from rtwidget.tools.signature import ToolSignature
from tests.support import run


def test_none_default_allows_null() -> None:
    def f(
        a: int = None,  # type: ignore[assignment]  # noqa: RUF013 - the sloppy form on purpose
        b: Annotated[str, pydantic.Field(description="B.")] = None,  # type: ignore[assignment]  # noqa: RUF013
        b2: Annotated[str, pydantic.Field(description="B2.")] | None = None,
        c: int | None = None,
        d: Literal["x", None] = None,
        e: Any = None,
    ) -> str:
        """F.

        Args:
            b: Loses to the annotation.
            b2: Loses too.
            e: Anything.
        """
        return repr((a, b, c, d, e))

    tool = Tool(f)
    props = tool.parameters["properties"]
    assert props["a"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
    assert props["b"]["description"] == "B." and {"type": "null"} in props["b"]["anyOf"]
    assert props["b2"]["description"] == "B2." and {"type": "null"} in props["b2"]["anyOf"]
    assert props["c"] == props["a"]
    assert props["d"] == {"enum": ["x", None], "default": None}
    assert props["e"] == {"default": None, "description": "Anything."}
    args = '{"a": null, "b": null, "c": null, "d": null, "e": null}'
    assert run(tool.run(args)).output == "(None, None, None, None, None)"


def test_none_default_keeps_every_annotated_constraint() -> None:
    # Widening Annotated[T, a, b] to accept None keeps all its metadata, outermost and in order.
    def f(
        n: Annotated[int, pydantic.Field(ge=0), pydantic.Field(description="How many.")] = None,  # type: ignore[assignment]  # noqa: RUF013
    ) -> str:
        return repr(n)

    tool = Tool(f)
    assert tool.parameters["properties"]["n"] == {
        "anyOf": [{"minimum": 0, "type": "integer"}, {"type": "null"}],
        "default": None,
        "description": "How many.",
    }
    assert run(tool.run('{"n": null}')).output == "None"
    assert run(tool.run('{"n": 2}')).output == "2"
    assert run(tool.run('{"n": -1}')).error == "invalid arguments: n: Input should be greater than or equal to 0"


def test_signature_binds_positional_only_by_position_and_others_only_when_given() -> None:
    def f(a: int, /, b: int = 5, *, c: str = "c") -> None:
        pass

    signature = ToolSignature.of("f", f, {"a": "First."}, None)
    assert [(field, p.name) for field, p in signature.fields] == [("p0", "a"), ("p1", "b"), ("p2", "c")]
    assert signature.parameters["properties"]["a"] == {"type": "integer", "description": "First."}
    assert signature.bind({"a": 1}) == ([1], {})
    assert signature.bind({"a": "2", "c": "x"}) == ([2], {"c": "x"})
    with pytest.raises(pydantic.ValidationError):
        signature.bind({"b": 1})


def test_var_args_and_kwargs_are_rejected() -> None:
    def f(a: int, *rest: int) -> None:
        pass

    def g(a: int, **options: Any) -> None:
        pass

    with pytest.raises(TypeError, match=r"parameter \*rest"):
        Tool(f)
    with pytest.raises(TypeError, match=r"parameter \*\*options"):
        Tool(g)


def test_unbound_self_is_rejected_and_bound_method_works() -> None:
    class Greeter:
        def __init__(self, greeting: str) -> None:
            self.greeting = greeting

        def greet(self, name: str) -> str:
            """Greet someone."""
            return f"{self.greeting}, {name}"

        @classmethod
        def make(cls, name: str) -> str:
            return name

    with pytest.raises(TypeError, match="parameter 'self'"):
        Tool(Greeter.greet)
    with pytest.raises(TypeError, match="parameter 'cls'"):
        Tool(Greeter.make.__func__)  # type: ignore[attr-defined]
    tool = Tool(Greeter("Hello").greet)
    assert tool.name == "greet"
    assert tool.description == "Greet someone."
    assert list(tool.parameters["properties"]) == ["name"]
    assert run(tool.run('{"name": "Ada"}')).output == "Hello, Ada"
    assert Tool(Greeter.make).name == "make"  # a classmethod is bound to its class


def test_unsupported_parameter_type_is_a_type_error() -> None:
    class Opaque:
        pass

    def f(ok: int, thing: Opaque) -> None:
        pass

    with pytest.raises(TypeError, match="parameter 'thing' has a type pydantic cannot"):
        Tool(f)


def test_unresolvable_annotations_fall_back_to_any(caplog: pytest.LogCaptureFixture) -> None:
    # This module uses `from __future__ import annotations`, so these annotations are strings.
    def f(a: Missing, b: list[AlsoMissing], c: int = 2, d=None) -> Nowhere:  # type: ignore[name-defined]  # noqa: F821
        return a

    with caplog.at_level(logging.WARNING, logger="rtwidget.tools"):
        tool = Tool(f)
    props = tool.parameters["properties"]
    assert props["a"] == {}
    assert props["b"] == {}
    assert props["c"] == {"type": "integer", "default": 2}
    assert props["d"] == {"default": None}
    assert "'a'" in caplog.text and "'b'" in caplog.text
    assert run(tool.run('{"a": 1, "b": [2]}')).output == "1"


def test_nested_forward_ref_object_falls_back_to_any(caplog: pytest.LogCaptureFixture) -> None:
    def f(a: Any, c: int = 2) -> None:
        pass

    f.__annotations__ = {"a": list["Missing"], "c": int}  # type: ignore[name-defined]  # noqa: F821
    with caplog.at_level(logging.WARNING, logger="rtwidget.tools"):
        tool = Tool(f)
    assert tool.parameters["properties"]["a"] == {}
    assert "unresolved type" in caplog.text


def test_classes_local_to_a_function_resolve_through_the_caller() -> None:
    @dataclasses.dataclass
    class LocalPoint:
        x: int

    registry = ToolRegistry()

    @registry.tool
    def move(to: LocalPoint) -> int:
        return to.x

    registry.add(move, name="move2")
    for name in ("move", "move2"):
        props = registry.get(name).parameters["properties"]  # type: ignore[union-attr]
        assert props["to"]["properties"] == {"x": {"type": "integer"}}
    result = run(registry.call("move", '{"to": {"x": 4}}'))
    assert result.output == "4"


def test_local_classes_resolve_through_rtwidget_wrappers() -> None:
    # A wrapper living in an rtwidget module (like Session.tool) must not hide the user's scope.
    namespace: dict[str, Any] = {"__name__": "rtwidget.fake_session"}
    exec("def register(registry, fn):\n    return registry.tool(fn)\n", namespace)

    @dataclasses.dataclass
    class Local:
        n: int

    def use(item: Local) -> int:
        return item.n

    registry = ToolRegistry()
    namespace["register"](registry, use)
    assert registry.get("use").parameters["properties"]["item"]["required"] == ["n"]  # type: ignore[union-attr]
