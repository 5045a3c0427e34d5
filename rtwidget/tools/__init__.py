"""Tool registry: JSON schema from a Python signature, validated calls, execution (floor 2)."""

from .tool import (
    DEFAULT_TIMEOUT,
    NAME_PATTERN,
    Tool,
    ToolRegistry,
    ToolResult,
    output_to_string,
    parse_docstring,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "NAME_PATTERN",
    "Tool",
    "ToolRegistry",
    "ToolResult",
    "output_to_string",
    "parse_docstring",
]
