"""The ``approve`` and ``approval_timeout`` options of a tool: checked, kept, shown, and passed by the registry."""

from __future__ import annotations

from typing import Any

import pytest

from rtwidget.tools import Tool, ToolRegistry


def delete_file(path: str) -> str:
    """Delete a file."""
    return path


def test_a_tool_runs_without_approval_by_default() -> None:
    tool = Tool(delete_file)
    assert (tool.approve, tool.approval_timeout) == (False, None)
    assert "approve" not in repr(tool)


def test_the_registry_passes_the_approval_options() -> None:
    registry = ToolRegistry()
    tool = registry.add(delete_file, approve=True, approval_timeout=30)
    assert (tool.approve, tool.approval_timeout) == (True, 30)
    assert "approve=True, approval_timeout=30" in repr(tool)

    @registry.tool(approve=True)
    def drop_table(name: str) -> str:
        """Drop a table."""
        return name

    assert registry.get("drop_table").approve is True  # type: ignore[union-attr]
    assert "approve" not in registry.get("drop_table").schema  # type: ignore[union-attr]  # not the API's business


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"approve": "yes"}, TypeError, r"^tool 'delete_file': approve must be True or False, not str 'yes'"),
        ({"approve": True, "approval_timeout": "5"}, TypeError, r"approval_timeout must be seconds .* not str '5'"),
        ({"approve": True, "approval_timeout": True}, TypeError, r"approval_timeout must be seconds .* not bool"),
        ({"approve": True, "approval_timeout": 0}, ValueError, "approval_timeout must be positive seconds or None"),
        ({"approve": True, "approval_timeout": float("inf")}, ValueError, "must be positive seconds"),
        ({"approval_timeout": 5}, ValueError, "only applies to a tool that waits for approval: add approve=True"),
    ],
)
def test_wrong_approval_options_say_what_to_fix(options: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        Tool(delete_file, **options)
