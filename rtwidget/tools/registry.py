"""The tools a session offers: registration by name, change notifications, and calls by name."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from typing import Any

from .output import ToolResult, failed_result
from .signature import caller_locals
from .tool import DEFAULT_TIMEOUT, Tool, parse_arguments

__all__ = ["ToolRegistry"]

logger = logging.getLogger("rtwidget.tools")


class ToolRegistry:
    """The tools a session offers, by name, in registration order.

    Registering a function under a name already present replaces the old tool in its place (re-running a
    notebook cell updates the tool). After every change, each callable in ``listeners`` is called with no
    arguments, synchronously, in the thread that made the change: a Session appends one that schedules a
    single ``session.update`` on its own loop (with ``loop.call_soon_threadsafe``). A listener that raises is
    logged and does not undo the change. The registry may be changed from one thread while another reads it.
    """

    def __init__(self) -> None:
        # name -> Tool; dict order is registration order (a replacement keeps its place).
        self._tools: dict[str, Tool] = {}
        self._lock = threading.Lock()
        #: Every name ever registered here (removed ones too): a session tells its own tools from the user's by it.
        self.names_ever: set[str] = set()
        #: Called with no arguments after each add/remove/clear that changed something.
        self.listeners: list[Callable[[], None]] = []

    def add(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        reply: bool = True,
        timeout: float | None = DEFAULT_TIMEOUT,
        approve: bool = False,
        approval_timeout: float | None = None,
    ) -> Tool:
        """Register ``fn`` (see :class:`Tool` for the options and errors) and return its :class:`Tool`."""
        localns = caller_locals()
        options = {"reply": reply, "timeout": timeout, "approve": approve, "approval_timeout": approval_timeout}
        return self._add(fn, localns, name=name, description=description, **options)

    def _add(self, fn: Callable[..., Any], localns: Mapping[str, Any] | None, **options: Any) -> Tool:
        tool = Tool(fn, localns=localns, **options)
        with self._lock:
            replaced = tool.name in self._tools
            self._tools[tool.name] = tool
            self.names_ever.add(tool.name)
        logger.debug("%s tool %r", "replaced" if replaced else "added", tool.name)
        self._notify()
        return tool

    def tool(self, fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Decorator form of :meth:`add`: ``@registry.tool`` or ``@registry.tool(name=..., reply=False)``
        (``approve=True`` for a tool whose calls wait for a person).

        Returns the function unchanged, so it stays callable from Python.
        """
        if fn is not None and not callable(fn):
            raise TypeError(f"@tool takes a function, got {fn!r}; to choose a name write @tool(name=...)")
        localns = caller_locals()

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self._add(f, localns, **options)
            return f

        return register if fn is None else register(fn)

    def remove(self, name: str) -> bool:
        """Unregister a tool; ``False`` if there was none by that name."""
        with self._lock:
            found = self._tools.pop(name, None) is not None
        if found:
            self._notify()
        return found

    def clear(self) -> None:
        """Unregister every tool (one notification)."""
        with self._lock:
            had = bool(self._tools)
            self._tools.clear()
        if had:
            self._notify()

    def _notify(self) -> None:
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:
                logger.exception("tool registry listener %r failed", listener)

    def get(self, name: str) -> Tool | None:
        """The tool registered under ``name``, or ``None``."""
        return self._tools.get(name)

    def names(self) -> list[str]:
        """Tool names in registration order."""
        with self._lock:
            return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        with self._lock:
            tools = list(self._tools.values())
        return iter(tools)

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"<ToolRegistry {self.names()}>"

    def schemas(self) -> list[dict[str, Any]]:
        """Every tool's schema, in registration order: the value for ``session.tools``."""
        return [t.schema for t in self]

    async def call(
        self,
        name: str,
        arguments: str | dict[str, Any] | None,
        *,
        call_id: str | None = None,
        executor: Executor | None = None,
    ) -> ToolResult:
        """Run the tool ``name`` (see :meth:`Tool.run`). Never raises: an unknown name is an error result."""
        tool = self.get(name)
        if tool is not None:
            return await tool.run(arguments, call_id=call_id, executor=executor)
        known = self.names()
        error = f"unknown tool {name!r}; " + (
            f"known tools: {', '.join(known)}" if known else "no tools are registered"
        )
        logger.warning("%s", error)
        args, _ = parse_arguments(arguments)
        return failed_result(name, call_id, args, kind="unknown_tool", error=error, duration_s=0.0)
