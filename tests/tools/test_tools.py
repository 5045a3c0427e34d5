"""Tests for rtwidget.tools: schemas from signatures, validated calls, execution and outputs."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import datetime as dt
import enum
import functools
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Literal, Optional

import pydantic
import pytest

from rtwidget.tools import (
    DEFAULT_TIMEOUT,
    Tool,
    ToolRegistry,
    ToolResult,
    output_to_string,
    parse_docstring,
)
from rtwidget.tools.schema import clean_schema as _clean_schema

# ----------------------------------------------------------------------------------------------------------
# Types used by the tools below (module level, so string annotations resolve)


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


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def walk(node: Any) -> Any:
    """Yield every dict inside a JSON-like value."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def schema_keys(schema: dict) -> set[str]:
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


# ----------------------------------------------------------------------------------------------------------
# Schemas


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
    assert _clean_schema(raw) == {
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


def test_explicit_description_overrides_docstring() -> None:
    def f() -> None:
        """Docstring summary."""

    assert Tool(f, description="Given.").description == "Given."
    assert Tool(f, description="").description == ""
    assert Tool(lambda: None, name="anon").description == ""


# ----------------------------------------------------------------------------------------------------------
# Docstrings


def test_docstring_google_style() -> None:
    def weather(city: str, units: str = "c", days: int = 1) -> dict:
        """Current weather for a city.

        Uses the cache when it can.

        Args:
            city (str): City name,
                for example "Paris".
            units (str, optional): Temperature units (c or f): default c.
            days: Number of days.

        Returns:
            dict: the weather.
        """
        return {}

    tool = Tool(weather)
    assert tool.description == "Current weather for a city.\n\nUses the cache when it can."
    props = tool.parameters["properties"]
    assert props["city"]["description"] == 'City name, for example "Paris".'
    assert props["units"]["description"] == "Temperature units (c or f): default c."
    assert props["days"]["description"] == "Number of days."


def test_docstring_rest_style() -> None:
    def convert(amount: float, currency: str) -> float:
        """Convert money.

        :param amount: How much,
            in the source currency.
        :param str currency: ISO code.
        :returns: the converted amount.
        """
        return amount

    tool = Tool(convert)
    assert tool.description == "Convert money."
    props = tool.parameters["properties"]
    assert props["amount"]["description"] == "How much, in the source currency."
    assert props["currency"]["description"] == "ISO code."


def test_docstring_numpy_style() -> None:
    def area(width: float, height: float, unit: str = "m") -> float:
        """Area of a rectangle.

        Parameters
        ----------
        width, height : float
            Side lengths,
            both positive.
        unit : str, optional
            Length unit.

        Returns
        -------
        float
        """
        return width * height

    tool = Tool(area)
    assert tool.description == "Area of a rectangle."
    props = tool.parameters["properties"]
    assert props["width"]["description"] == "Side lengths, both positive."
    assert props["height"]["description"] == "Side lengths, both positive."
    assert props["unit"]["description"] == "Length unit."
    assert "returns" not in json.dumps(props).lower()


def test_parse_docstring_edge_cases() -> None:
    assert parse_docstring(None) == ("", {})
    assert parse_docstring("Just a summary.") == ("Just a summary.", {})
    summary, params = parse_docstring(
        """Summary.

        Args:
            *args: Positional things.
            **kwargs: Keyword things.
            data (dict(str, int)): A mapping.

        Raises:
            ValueError: never listed as a parameter.
        """
    )
    assert summary == "Summary."
    assert params == {"args": "Positional things.", "kwargs": "Keyword things.", "data": "A mapping."}
    summary, params = parse_docstring(
        """Summary.

        Parameters
        ----------
        a : int
            First.
        Returns
        -------
        int
        """
    )
    assert params == {"a": "First."}


# ----------------------------------------------------------------------------------------------------------
# Registration errors and names


@pytest.mark.parametrize("bad", ["", "has space", "dot.name", "x" * 65, "ünicode", "<lambda>"])
def test_invalid_names_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match=r"invalid tool name .*\^\[a-zA-Z0-9_-\]\{1,64\}\$"):
        Tool(lambda: None, name=bad)


def test_lambda_needs_a_name_and_valid_names_pass() -> None:
    with pytest.raises(ValueError, match=r"'<lambda>'.*pass name="):
        Tool(lambda: None)
    assert Tool(lambda: None, name="a-b_C9" + "x" * 58).name.startswith("a-b_C9")


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


def test_not_callable_and_bad_timeout() -> None:
    with pytest.raises(TypeError, match="must be callable"):
        Tool("nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout must be positive"):
        Tool(lambda: None, name="t", timeout=0)
    assert Tool(lambda: None, name="t", timeout=None).timeout is None
    assert Tool(lambda: None, name="t").timeout == DEFAULT_TIMEOUT == 30.0


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


# ----------------------------------------------------------------------------------------------------------
# Calls


def test_call_with_valid_arguments_passes_instances() -> None:
    seen: dict[str, Any] = {}

    def place(order: Order, color: Color, where: Point, size: Size = Size.SMALL) -> str:
        seen.update(order=order, color=color, where=where, size=size)
        return "ok"

    tool = Tool(place)
    args = {
        "order": {"address": {"street": "Main"}, "points": [{"x": 1}], "color": "blue"},
        "color": "red",
        "where": {"x": 2, "y": 3},
    }
    result = run(tool.run(json.dumps(args), call_id="call_1"))
    assert result.ok and result.output == "ok" and result.error is None
    assert result.call_id == "call_1"
    assert result.arguments == args
    assert result.duration_s >= 0
    assert isinstance(seen["order"], Order) and isinstance(seen["order"].points[0], Point)
    assert seen["color"] is Color.RED
    assert seen["where"] == Point(2, 3)
    assert seen["size"] is Size.SMALL


def test_call_uses_function_defaults_and_positional_only() -> None:
    default_list: list[int] = []

    def f(a: int, /, b: int = 5, *, items: list[int] = default_list) -> str:
        return f"{a} {b} {items is default_list}"

    tool = Tool(f)
    assert run(tool.run('{"a": 1}')).output == "1 5 True"
    assert run(tool.run({"a": 2, "b": 3, "items": [1]})).output == "2 3 False"


def test_call_with_empty_or_missing_arguments() -> None:
    def f(x: int = 7) -> int:
        return x

    tool = Tool(f)
    for arguments in ("", "  ", None, {}):
        result = run(tool.run(arguments))
        assert result.ok and result.output == "7" and result.arguments == {}


def test_invalid_json_arguments() -> None:
    def f(x: int) -> int:
        return x

    tool = Tool(f)
    result = run(tool.run('{"x": 1', call_id="c"))
    assert not result.ok
    assert result.error_kind == "invalid_json"
    assert result.arguments is None
    body = json.loads(result.output)
    assert body["tool"] == "f"
    assert body["error"].startswith("arguments are not valid JSON: Expecting")
    assert result.error == body["error"]

    result = run(tool.run("[1, 2]"))
    assert result.error == "arguments must be a JSON object, got list"
    result = run(tool.run(42))  # type: ignore[arg-type]
    assert result.error == "arguments must be a JSON object string, got int"


def test_validation_errors_are_compact() -> None:
    def f(order: Order, count: int, mode: Literal["a", "b"] = "a") -> None:
        raise AssertionError("never called")

    args = '{"order": {"address": {}, "points": [{"x": "z"}], "color": "red"}, "mode": "c", "zz": 1}'
    result = run(Tool(f).run(args))
    assert not result.ok and result.error_kind == "invalid_arguments"
    assert result.arguments == json.loads(args)
    assert result.error == (
        "invalid arguments: order.address.street: Field required; "
        "order.points[0].x: Input should be a valid integer, unable to parse string as an integer; "
        "count: Field required; mode: Input should be 'a' or 'b'; zz: Extra inputs are not permitted"
    )
    assert json.loads(result.output) == {"error": result.error, "tool": "f"}
    assert "https://" not in result.output


def test_unknown_tool_lists_known_tools() -> None:
    registry = ToolRegistry()
    result = run(registry.call("nope", '{"a": 1}', call_id="c1"))
    assert not result.ok and result.error_kind == "unknown_tool"
    assert json.loads(result.output) == {
        "error": "unknown tool 'nope'; no tools are registered",
        "tool": "nope",
    }
    assert result.arguments == {"a": 1} and result.call_id == "c1" and result.reply

    registry.add(lambda: None, name="alpha")
    registry.add(lambda: None, name="beta")
    result = run(registry.call("gamma", "not json"))
    assert result.error == "unknown tool 'gamma'; known tools: alpha, beta"
    assert result.arguments is None


def test_exception_in_tool_keeps_traceback_out_of_output() -> None:
    def explode(x: int) -> None:
        raise ValueError(f"bad value {x}")

    result = run(Tool(explode, reply=False).run('{"x": 3}'))
    assert not result.ok and result.error_kind == "exception"
    assert result.error == "ValueError: bad value 3"
    assert json.loads(result.output) == {"error": "ValueError: bad value 3", "tool": "explode"}
    assert result.traceback is not None and "Traceback" in result.traceback and "explode" in result.traceback
    assert "Traceback" not in result.output
    assert result.reply is False


def test_async_exception_and_system_exit_are_outputs() -> None:
    async def aexplode() -> None:
        raise KeyError("k")

    def quits() -> None:
        raise SystemExit(2)

    result = run(Tool(aexplode).run(""))
    assert result.error == "KeyError: 'k'"
    result = run(Tool(quits).run(""))
    assert result.error == "SystemExit: 2" and result.error_kind == "exception"

    def silent() -> None:
        raise RuntimeError

    assert run(Tool(silent).run("")).error == "RuntimeError"


def test_timeout_raised_by_the_tool_is_an_exception_not_a_timeout() -> None:
    async def f() -> None:
        raise TimeoutError("upstream slow")

    result = run(Tool(f, timeout=5).run(""))
    assert result.error_kind == "exception"
    assert result.error == "TimeoutError: upstream slow"


def test_sync_timeout_leaves_thread_running() -> None:
    release = threading.Event()
    finished = threading.Event()

    def slow() -> str:
        release.wait(5)
        finished.set()
        return "late"

    async def main() -> ToolResult:
        with ThreadPoolExecutor(1) as executor:
            result = await Tool(slow, timeout=0.2).run("", executor=executor)
            assert not finished.is_set()  # the thread is still running after the timeout
            release.set()
        return result

    result = run(main())
    assert finished.is_set()
    assert not result.ok and result.error_kind == "timeout"
    assert result.error == "timed out after 0.2 s"
    assert json.loads(result.output) == {"error": "timed out after 0.2 s", "tool": "slow"}
    assert 0.15 < result.duration_s < 2


def test_async_timeout_cancels_the_coroutine() -> None:
    cancelled = []

    async def slow() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    result = run(Tool(slow, timeout=0.2).run(""))
    assert result.error_kind == "timeout" and result.error == "timed out after 0.2 s"
    assert cancelled == [True]


def test_no_timeout() -> None:
    async def quick() -> str:
        await asyncio.sleep(0.01)
        return "done"

    assert run(Tool(quick, timeout=None).run("")).output == "done"


def test_async_tool_runs_on_the_loop_thread_and_sync_tool_in_a_worker() -> None:
    threads: dict[str, int] = {}

    async def on_loop() -> None:
        threads["async"] = threading.get_ident()

    def in_worker() -> None:
        threads["sync"] = threading.get_ident()

    async def main() -> int:
        registry = ToolRegistry()
        registry.add(on_loop)
        registry.add(in_worker)
        assert registry.get("on_loop").is_async  # type: ignore[union-attr]
        assert not registry.get("in_worker").is_async  # type: ignore[union-attr]
        await registry.call("on_loop", "")
        await registry.call("in_worker", "")
        return threading.get_ident()

    loop_thread = run(main())
    assert threads["async"] == loop_thread
    assert threads["sync"] != loop_thread


def test_sync_tool_uses_given_executor_and_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    def where() -> str:
        return f"{threading.current_thread().name} {var.get()}"

    async def main() -> str:
        var.set("from-loop")
        with ThreadPoolExecutor(1, thread_name_prefix="tools-test") as executor:
            result = await Tool(where).run("", executor=executor)
        return result.output

    thread_name, value = run(main()).split()
    assert thread_name.startswith("tools-test")
    assert value == "from-loop"


def test_sync_wrapper_returning_a_coroutine_is_awaited() -> None:
    async def inner(x: int) -> int:
        return x * 2

    def wrapper(x: int) -> Any:
        return inner(x)

    assert run(Tool(wrapper).run('{"x": 21}')).output == "42"


def test_partial_and_callable_objects() -> None:
    def scale(value: float, factor: float) -> float:
        """Scale a value."""
        return value * factor

    class Adder:
        """Add a fixed amount."""

        def __call__(self, x: int) -> int:
            return x + 1

    class AsyncEcho:
        async def __call__(self, text: str) -> str:
            return text

    double = Tool(functools.partial(scale, factor=2.0))
    assert double.name == "scale" and double.description == "Scale a value."
    assert double.parameters["properties"]["factor"]["default"] == 2.0
    assert run(double.run('{"value": 1.5}')).output == "3.0"

    adder = Tool(Adder())
    assert adder.name == "Adder" and adder.description == "Add a fixed amount."
    assert run(adder.run('{"x": 1}')).output == "2"

    echo = Tool(AsyncEcho(), name="echo")
    assert echo.is_async
    assert run(echo.run('{"text": "hi"}')).output == "hi"


def test_unconvertible_return_value_is_an_error_output() -> None:
    def loop() -> list:
        items: list = []
        items.append(items)
        return items

    result = run(Tool(loop).run(""))
    assert result.error_kind == "bad_output"
    assert result.error is not None and result.error.startswith("cannot convert the return value to a string")
    assert result.traceback is not None


def test_cancellation_propagates() -> None:
    async def main() -> None:
        event = asyncio.Event()

        async def forever() -> None:
            event.set()
            await asyncio.sleep(10)

        task = asyncio.ensure_future(Tool(forever, timeout=None).run(""))
        await event.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())


def test_registry_call_copies_reply_flag_and_result_fields() -> None:
    registry = ToolRegistry()

    @registry.tool(reply=False)
    def note(text: str) -> None:
        pass

    result = run(registry.call("note", '{"text": "x"}', call_id="call_9"))
    assert result == ToolResult(
        name="note",
        call_id="call_9",
        arguments={"text": "x"},
        output="null",
        ok=True,
        error=None,
        duration_s=result.duration_s,
        reply=False,
    )
    failed = run(registry.call("note", "{}"))
    assert failed.reply is False and not failed.ok


# ----------------------------------------------------------------------------------------------------------
# Output conversion


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


# ----------------------------------------------------------------------------------------------------------
# Registry


def test_registry_add_replace_remove_and_listeners() -> None:
    registry = ToolRegistry()
    changes: list[list[str]] = []
    registry.listeners.append(lambda: changes.append(registry.names()))

    def first() -> str:
        return "1"

    def second() -> str:
        return "2"

    t1 = registry.add(first)
    registry.add(second)
    assert changes == [["first"], ["first", "second"]]

    def first_again() -> str:
        """New version."""
        return "1b"

    t1b = registry.add(first_again, name="first", timeout=5)
    assert t1b is not t1
    assert registry.names() == ["first", "second"]  # a replacement keeps its place
    assert registry.get("first") is t1b
    assert [s["description"] for s in registry.schemas()] == ["New version.", ""]
    assert run(registry.call("first", "")).output == "1b"
    assert len(changes) == 3

    assert registry.remove("second") is True
    assert registry.remove("second") is False
    assert len(changes) == 4
    assert "first" in registry and "second" not in registry
    assert len(registry) == 1
    assert [t.name for t in registry] == ["first"]
    assert repr(registry) == "<ToolRegistry ['first']>"
    assert "first_again" in repr(t1b) and "timeout=5" in repr(t1b)

    registry.clear()
    registry.clear()  # nothing left: no second notification
    assert len(registry) == 0 and len(changes) == 5


def test_failing_listener_is_logged_and_does_not_undo(caplog: pytest.LogCaptureFixture) -> None:
    registry = ToolRegistry()
    calls = []

    def broken() -> None:
        raise RuntimeError("listener bug")

    registry.listeners += [broken, lambda: calls.append(1)]
    with caplog.at_level(logging.ERROR, logger="rtwidget.tools"):
        registry.add(lambda: None, name="x")
    assert "x" in registry
    assert calls == [1]
    assert "listener bug" in caplog.text


def test_decorator_forms_return_the_function() -> None:
    registry = ToolRegistry()

    @registry.tool
    def plain(x: int) -> int:
        return x

    @registry.tool()
    async def empty_parens() -> None:
        pass

    @registry.tool(name="custom", reply=False, timeout=1.5, description="Custom tool.")
    def named() -> str:
        return "named"

    assert plain(2) == 2  # still the plain function
    assert named() == "named"
    assert asyncio.iscoroutinefunction(empty_parens)
    assert registry.names() == ["plain", "empty_parens", "custom"]
    custom = registry.get("custom")
    assert custom is not None
    assert (custom.reply, custom.timeout, custom.description) == (False, 1.5, "Custom tool.")
    assert registry.schemas()[2] == {
        "type": "function",
        "name": "custom",
        "description": "Custom tool.",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    }
    with pytest.raises(TypeError, match=r"@tool\(name=\.\.\.\)"):
        registry.tool("custom")  # type: ignore[arg-type]


def test_registration_errors_leave_registry_unchanged() -> None:
    registry = ToolRegistry()
    changes = []
    registry.listeners.append(lambda: changes.append(1))
    with pytest.raises(ValueError):
        registry.add(lambda: None)
    assert len(registry) == 0 and changes == []
