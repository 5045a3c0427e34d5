"""Tests for rtwidget.tools.registry: registration, replacement, listeners and calls by name."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from rtwidget.tools import ToolRegistry, ToolResult
from tests.support import run


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
