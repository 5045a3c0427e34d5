"""Running the model's function calls for a session, on its I/O loop.

Sync tools run on tool threads (a slow tool never blocks the I/O loop; a stuck one, past its timeout, keeps its
thread and the next call gets another: see :class:`~rtwidget.tools.ToolThreads`), async tools on the loop itself.
Each call is announced (``rtwidget.tool.started``, then ``rtwidget.tool.done`` before its output goes out, and
``rtwidget.error`` when the tool's own code raised or timed out) and recorded as a :class:`ToolCallRecord`.
Sending the output is the session's business: :meth:`ToolRunner.run` returns the result.

A call to a tool registered with ``approve=True`` first waits for a person (see :mod:`.approvals`): approved, it
runs as any other; rejected (or timed out), it does not run, and its result is the "declined" output.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from .. import endpoints
from ..protocol.tracker import FunctionCall
from ..tools import RunningCall, Tool, ToolRegistry, ToolResult, ToolThreads
from ..tools.tool import parse_arguments
from ..tools.watchdog import LOOP_BLOCK_S, LoopBlock, LoopWatchdog
from .approvals import Approvals, Decision, declined_output
from .local_events import ERROR, TOOL_DONE, TOOL_STARTED, ToolCallRecord
from .reporting import tool_failure_data

logger = logging.getLogger("rtwidget.session")

Emit = Callable[[str, dict[str, Any]], None]


class ToolRunner:
    """Runs calls from ``registry``, tells ``emit(type, data)`` about them, keeps their :attr:`records`.

    Used on the I/O loop only. :attr:`tasks` holds the calls in flight (the session spawns them into it).
    While async tools run, a :class:`~rtwidget.tools.watchdog.LoopWatchdog` watches the loop: an async tool
    that holds it (no ``await``) for ``loop_block_s`` is logged at once, and reported as an ``rtwidget.error``
    (``error_type`` ``"LoopBlocked"``) when the loop is back. It cannot be stopped: its call ends as it ends.
    """

    def __init__(self, registry: ToolRegistry, emit: Emit, loop_block_s: float = LOOP_BLOCK_S) -> None:
        self.loop_block_s = loop_block_s
        self.registry = registry
        self.records: list[ToolCallRecord] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self._emit = emit
        #: The calls waiting for a person's decision (tools registered with ``approve=True``).
        self.approvals = Approvals(emit)
        self._threads: ToolThreads | None = None
        self._watchdog: LoopWatchdog | None = None

    async def run(self, call: FunctionCall) -> ToolResult:
        """Run one call (never raises but for cancellation) and announce and record it; a tool that wants
        approval waits for it first (a rejected call does not run)."""
        tool = self.registry.get(call.name)
        if tool is not None and tool.approve:
            waited = time.monotonic()
            decision = await self.approvals.wait(call, tool.approval_timeout)
            if not decision.approved:
                return self._declined(call, tool, decision, time.monotonic() - waited)
        self._emit(
            TOOL_STARTED,
            {"name": call.name, "call_id": call.call_id, "arguments": call.arguments, "response_id": call.response_id},
        )
        if self._threads is None:
            self._threads = ToolThreads()
        tool = self.registry.get(call.name)
        watched = tool is not None and tool.is_async
        if watched:
            self._watch()
        try:
            result = await self.registry.call(call.name, call.arguments, call_id=call.call_id, executor=self._threads)
        finally:
            if watched and self._watchdog is not None:
                self._watchdog.unwatch()
        if not result.ok:  # an exception's text may quote a URL or a header: the model never reads a key
            result = dataclasses.replace(
                result, output=endpoints.redact(result.output), error=endpoints.redact(result.error or "")
            )
        self.records.append(
            ToolCallRecord(
                call.name,
                call.call_id,
                result.arguments,
                result.output,
                result.ok,
                result.error,
                call.response_id,
                result.duration_s,
            )
        )
        self._emit(
            TOOL_DONE,
            {
                "name": call.name,
                "call_id": call.call_id,
                "output": result.output,
                "ok": result.ok,
                "error": result.error,
                "error_kind": result.error_kind,
                "reply": result.reply,
                "duration_s": result.duration_s,
                "response_id": call.response_id,
            },
        )
        failure = tool_failure_data(result)
        if failure is not None:  # the registry logged it; the user also sees it
            self._emit(ERROR, failure)
        return result

    def _declined(self, call: FunctionCall, tool: Tool, decision: Decision, waited_s: float) -> ToolResult:
        """The result of a rejected call (it did not run): the model reads that the user declined, and why."""
        arguments, _ = parse_arguments(call.arguments)
        reason = decision.reason or "the user declined to run this tool"
        result = ToolResult(
            name=call.name,
            call_id=call.call_id,
            arguments=arguments,
            output=declined_output(decision.reason),
            ok=False,
            error=f"declined: {reason}",
            duration_s=waited_s,
            reply=tool.reply,
            error_kind="declined",
        )
        self.records.append(
            ToolCallRecord(
                call.name, call.call_id, arguments, result.output, False, result.error, call.response_id, waited_s
            )
        )
        return result

    def running(self) -> bool:
        """True while a call other than the current task is still running."""
        current = asyncio.current_task()
        return any(not t.done() and t is not current for t in self.tasks)

    def _watch(self) -> None:
        if self._watchdog is None or self._watchdog.threshold_s != self.loop_block_s:
            if self._watchdog is not None:
                self._watchdog.close()
            self._watchdog = LoopWatchdog(asyncio.get_running_loop(), self._on_loop_block, self.loop_block_s)
        self._watchdog.watch()

    def _on_loop_block(self, block: LoopBlock) -> None:
        if block.name is None:  # logged by the watchdog; not a tool's failure
            return
        message = (
            f"held the session's I/O loop for {block.held_s:.1f} s without awaiting (the socket was frozen "
            "meanwhile, and its timeout could not fire): await inside it, or make it a plain def so it runs "
            "on a thread"
        )
        self._emit(
            ERROR,
            {"source": "tool", "name": block.name, "error_type": "LoopBlocked", "message": message, "traceback": ""},
        )

    def still_running(self) -> list[RunningCall]:
        """The sync calls still on their threads (those past their timeout included), longest first."""
        return [] if self._threads is None else self._threads.running()

    def shutdown(self) -> list[RunningCall]:
        """Stop the tool threads and return (and log) the sync calls still running, which end on their own.

        A thread cannot be stopped: a tool that never returns keeps its (daemon) thread until the process ends.
        """
        if self._watchdog is not None:
            self._watchdog.close()
            self._watchdog = None
        if self._threads is None:
            return []
        threads, self._threads = self._threads, None
        threads.shutdown(wait=False)
        running = threads.running()
        if running:
            listed = ", ".join(f"{c.label} for {c.running_s:.1f} s" for c in running)
            logger.warning("rtwidget: closing with tool calls still running on their threads: %s", listed)
        return running
