"""Tests for rtwidget.tools.tool: names and options, validated calls, execution, timeouts and failures."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import pytest

from rtwidget.tools import DEFAULT_TIMEOUT, Tool, ToolRegistry, ToolResult
from tests.support import run

from .models import Color, Order, Point, Size


@pytest.mark.parametrize("bad", ["", "has space", "dot.name", "x" * 65, "ünicode", "<lambda>"])
def test_invalid_names_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match=r"invalid tool name .*\^\[a-zA-Z0-9_-\]\{1,64\}\$"):
        Tool(lambda: None, name=bad)


def test_lambda_needs_a_name_and_valid_names_pass() -> None:
    with pytest.raises(ValueError, match=r"'<lambda>'.*pass name="):
        Tool(lambda: None)
    assert Tool(lambda: None, name="a-b_C9" + "x" * 58).name.startswith("a-b_C9")


def test_not_callable_and_bad_timeout() -> None:
    with pytest.raises(TypeError, match="must be callable"):
        Tool("nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout must be positive"):
        Tool(lambda: None, name="t", timeout=0)
    assert Tool(lambda: None, name="t", timeout=None).timeout is None
    assert Tool(lambda: None, name="t").timeout == DEFAULT_TIMEOUT == 30.0


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"timeout": "10"}, TypeError, r"^tool 't': timeout must be seconds \(a number\) or None, not str '10'"),
        ({"timeout": True}, TypeError, r"timeout must be seconds .* not bool True"),
        ({"timeout": float("inf")}, ValueError, r"timeout must be positive seconds or None, got inf"),
        ({"timeout": float("nan")}, ValueError, r"timeout must be positive seconds or None, got nan"),
        ({"timeout": -1}, ValueError, r"timeout must be positive"),
        ({"description": 5}, TypeError, r"^tool 't': description must be a str or None, not int"),
        ({"reply": "no"}, TypeError, r"^tool 't': reply must be True or False, not str 'no'"),
        ({"reply": None}, TypeError, r"reply must be True or False, not NoneType"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        Tool(lambda: None, name="t", **options)
    assert Tool(lambda: None, name="t", timeout=0.5, description="d", reply=False).timeout == 0.5


def test_not_callable_names_the_fix() -> None:
    with pytest.raises(TypeError, match=r"must be callable, got int 5: pass the function itself"):
        Tool(5)  # type: ignore[arg-type]


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


class Fatal(BaseException):
    """A BaseException that is neither KeyboardInterrupt nor SystemExit."""


# Only Python 3.11+ (Task.cancelling) tells a tool's own CancelledError from a real cancel.
OWN_CANCEL = [asyncio.CancelledError("own")] if sys.version_info >= (3, 11) else []


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3), Fatal("boom"), *OWN_CANCEL])
@pytest.mark.parametrize("is_async", [False, True])
def test_base_exceptions_are_exception_outputs(exc: BaseException, is_async: bool) -> None:
    """A tool raising any BaseException (a CancelledError of its own too) is an error output; the loop lives."""

    def sync_raiser() -> None:
        raise exc

    async def async_raiser() -> None:
        raise exc

    async def main() -> tuple[ToolResult, str]:
        result = await Tool(async_raiser if is_async else sync_raiser, name="raiser").run("")
        after = await Tool(lambda: "alive", name="after").run("")  # the loop still runs tools
        return result, after.output

    result, after = run(main())
    assert not result.ok and result.error_kind == "exception"
    assert result.error is not None and result.error.startswith(type(exc).__name__)
    assert result.traceback is not None and "raiser" in result.traceback
    assert json.loads(result.output)["tool"] == "raiser"
    assert after == "alive"


def test_a_real_cancel_still_cancels() -> None:
    started = asyncio.Event()

    async def waits() -> None:
        started.set()
        await asyncio.sleep(30)

    async def main() -> None:
        task = asyncio.ensure_future(Tool(waits).run(""))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())


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
    assert result.duration_s >= 0.15  # it waited out the timeout (returning early is proved above, without a clock)


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
