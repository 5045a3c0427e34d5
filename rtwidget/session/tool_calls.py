"""The tool methods of :class:`~rtwidget.session.session.Session` (a mixin): registering tools, sending the tool
list as one debounced ``session.update``, and answering the model's function calls.

A burst of registrations (1,000 tools registered in a loop) sends ONE ``session.update`` with the whole list,
once no change came for :data:`TOOLS_DEBOUNCE_S`, or ahead of the next client event, whichever comes first: the
model must know the tools before what comes next.

Raw-event flows are the user's. A call to a registered tool runs here; a call to a tool the session has but
Python does not (declared by the user with a raw ``session.update``, as the server reports it or as it was sent)
is left to the user: no output and no ``response.create`` from rtwidget, and none of the outputs of that response
(rtwidget's own for registered calls included) makes rtwidget send the follow-up: the user sends it, after the
outputs. Only a name in no tool list at all gets the automatic "unknown tool" output (and the usual one reply).
The debounced tool list keeps the user's declared tools: registered schemas, then the declared ones whose names
are not registered.

Tools registered with ``approve=True`` wait for a person (:mod:`.approvals`): :meth:`ToolsMixin.approve` and
:meth:`ToolsMixin.reject` decide from any thread, :attr:`ToolsMixin.pending_approvals` lists the waiting calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from .._loopthread import LoopThread
from ..protocol.connection import Connection
from ..protocol.tracker import FunctionCall
from ..tools import Tool, ToolRegistry
from .approvals import PendingApproval, check_decision, no_such_call
from .lifecycle import CLOSING, CONNECTING, IDLE, OPEN
from .reconnect import RECONNECTING
from .tool_runner import ToolRunner

logger = logging.getLogger("rtwidget.session")

# Tools registered in a burst go out as one session.update, once no change came for this long (seconds).
TOOLS_DEBOUNCE_S = 0.05


class ToolsMixin:
    """``tool``, ``add_tool`` and what runs the model's calls."""

    tools: ToolRegistry
    _conn: Connection
    _io: LoopThread
    _state: str
    _connected: bool
    _config_sent: str | Exception | None
    _tool_runner: ToolRunner
    # A tool change waits to go out (set in any thread), when the last one came, and its timer (I/O loop).
    _tools_pending: bool
    _tools_touched: float
    _tools_timer: asyncio.TimerHandle | None
    _flush: Callable[..., None]
    _doctor_no_reply: Callable[[str], None]
    _spawn: Callable[..., Any]

    def tool(self, fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Decorator: ``@session.tool`` or ``@session.tool(name=..., reply=False, timeout=5)``;
        ``@session.tool(approve=True)`` for a tool whose calls wait for a person (see :meth:`approve`)."""
        return self.tools.tool(fn, **options)

    def add_tool(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        reply: bool = True,
        timeout: float | None = 30.0,
        approve: bool = False,
        approval_timeout: float | None = None,
    ) -> Tool:
        """Register ``fn`` as a tool (same name replaces; one ``session.update`` when connected).

        ``approve=True``: each call waits for a person's :meth:`approve` or :meth:`reject` before it runs;
        ``approval_timeout`` (seconds; None waits for ever) rejects it when nobody decided in time.
        """
        return self.tools.add(
            fn,
            name=name,
            description=description,
            reply=reply,
            timeout=timeout,
            approve=approve,
            approval_timeout=approval_timeout,
        )

    @property
    def pending_approvals(self) -> list[PendingApproval]:
        """The tool calls waiting for a person's decision (tools registered with ``approve=True``), oldest first."""
        return self._tool_runner.approvals.pending

    def approve(self, call_id: str) -> None:
        """Let the waiting call ``call_id`` run (from any thread). ValueError when no call by that id is waiting
        (unknown, or decided already): the message names those that are (see :attr:`pending_approvals`)."""
        self._decide(call_id, True, None)

    def reject(self, call_id: str, reason: str | None = None) -> None:
        """Decline the waiting call ``call_id`` (from any thread): it does not run, and the model reads
        ``{"declined": true, "reason": ...}`` as its output. ValueError as for :meth:`approve`."""
        self._decide(call_id, False, reason)

    def _approvals_note(self) -> str:
        """For a wait's timeout message: the calls still waiting for a person, if any (what the wait waits on)."""
        pending = self.pending_approvals
        if not pending:
            return ""
        calls = ", ".join(f"{p.call_id} ({p.name})" for p in pending)
        return f"; waiting for approval: {calls}: decide with session.approve(call_id) or session.reject(call_id)"

    def _decide(self, call_id: str, approved: bool, reason: str | None) -> None:
        approvals = self._tool_runner.approvals
        check_decision(call_id, reason)
        try:
            self._io.call(lambda: approvals.decide(call_id, approved, reason), start=False)
        except RuntimeError:  # no I/O loop (never connected, or closed): nothing can be waiting
            why = {IDLE: "the session was never connected", CLOSING: "the session is closing"}.get(
                self._state, "the session is closed: the calls waiting when it closed were cancelled"
            )
            raise ValueError(f"{no_such_call(call_id, [])}; {why}") from None

    def _tools_changed(self) -> None:
        # Called in whatever thread changed the registry. A burst of changes (1,000 tools registered in a loop)
        # sends ONE session.update with the whole list, once no change came for TOOLS_DEBOUNCE_S.
        self._tools_touched = time.monotonic()
        if self._connected and not self._tools_pending:
            self._tools_pending = True
            self._io.call_soon(self._send_tools)

    def _send_tools(self) -> None:
        """On the I/O loop: send the tool list once the changes settled and the handshake is done (or with the
        next client event, whichever comes first)."""
        self._tools_timer = None
        if not self._tools_pending:
            return  # sent already, ahead of a client event
        handshake = self._state in (CONNECTING, RECONNECTING)
        config_due = handshake and self._config_sent is None  # it will carry the tools
        if not self._connected or not (handshake or self._state == OPEN) or config_due:
            self._tools_pending = False  # the next handshake's config sends the tools
            return
        wait = TOOLS_DEBOUNCE_S - (time.monotonic() - self._tools_touched)
        if wait > 0 or self._state != OPEN:
            delay = wait if wait > 0 else TOOLS_DEBOUNCE_S  # settling, or still connecting: look again later
            self._tools_timer = asyncio.get_running_loop().call_later(delay, self._send_tools)
            return
        self._flush(tools_due=True)

    def _tools_update(self, now: float) -> list[tuple[dict[str, Any], str]]:
        """The whole tool list as one ``session.update``, queued and drained now."""
        if self._tools_timer is not None:
            self._tools_timer.cancel()
            self._tools_timer = None
        self._tools_pending = False  # before reading the list: a change from now on schedules another update
        try:
            self._conn.update_session(tools=self._tool_list())
        except Exception:  # refused by the core: the server keeps the tools it had
            logger.exception("rtwidget: could not send the tool list")
        return self._conn.data_to_send(now)

    def _tool_list(self) -> list[dict[str, Any]]:
        """The registered schemas, then the tools the user declared with raw events (registered wins a name)."""
        return self.tools.schemas() + list(self._users_tools().values())

    def _users_tools(self) -> dict[str, dict[str, Any]]:
        """The tools the session has (as reported or sent) that the user declared, by name: a name ever registered
        in Python is rtwidget's (a removed tool is not kept alive as the user's)."""
        ours = self.tools.names_ever
        return {name: t for name, t in self._conn.declared_tools().items() if name not in ours}

    def _start_calls(self) -> None:
        """On the I/O loop, after a server event: start the function calls a finished response made (registered
        tools and unknown names), and hand the user's own (declared with raw events) over to the user."""
        for call in self._conn.function_calls_to_run():
            if call.name not in self.tools and call.name in self._users_tools():
                self._conn.hand_over(call)
                self._conn.reply_if_due()  # a reply the user requested meanwhile may be due now
            else:
                self._spawn(self._answer_call(call), self._tool_runner.tasks)

    async def _answer_call(self, call: FunctionCall) -> None:
        result = await self._tool_runner.run(call)
        # While reconnecting the output is queued in the core: it goes out on the new connection.
        if self._connected or self._state == RECONNECTING:
            if not result.reply:  # the silence after it is wanted: the doctor must not call it a mistake
                self._doctor_no_reply(call.call_id)
            self._conn.function_output(call.call_id, result.output, reply=result.reply)
            self._conn.reply_if_due()
            self._flush()
