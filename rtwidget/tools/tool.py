"""One tool: a Python function wrapped with its arguments model, run safely with a timeout.

Sync tools run in a worker thread (through an executor, best a :class:`~.threads.ToolThreads`, which a stuck
tool cannot starve), async tools on the running loop; both under the tool's timeout. A timed-out sync tool
cannot be killed: its output says it timed out and its thread keeps running until the function returns.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import dataclasses
import functools
import inspect
import json
import logging
import math
import re
import time
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any

import pydantic

from .docstring import parse_docstring
from .output import ToolResult, failed_result, output_to_string, validation_error_text
from .signature import ToolSignature, caller_locals, target_of
from .threads import ToolThreads

__all__ = ["DEFAULT_TIMEOUT", "NAME_PATTERN", "Tool", "parse_arguments"]

logger = logging.getLogger("rtwidget.tools")

#: Seconds a tool may run before its call ends with a timeout output.
DEFAULT_TIMEOUT = 30.0

#: Function names the Realtime API accepts.
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class Tool:
    """One registered function, with its arguments model and its JSON schema.

    ``fn`` may be a function, an ``async def`` function, a bound method, a ``functools.partial`` or a callable
    object. ``description`` defaults to the docstring summary; each parameter's description comes from the
    docstring (Google ``Args:``, reST ``:param x:`` or NumPy ``Parameters``) unless its annotation already
    carries one (``Annotated[int, Field(description=...)]``). ``timeout`` is in seconds, ``None`` for none.
    ``reply`` says whether a ``response.create`` should follow this tool's output (``False`` for tools whose
    result the model need not comment on). ``localns`` is a fallback namespace for string annotations that
    the function's module cannot resolve (with ``from __future__ import annotations``, a class defined inside
    a function); it defaults to the locals of the code that creates the tool. ``approve=True`` makes each call
    wait for a person's decision before it runs (a session's ``approve`` / ``reject``, or the widget's buttons);
    ``approval_timeout`` (seconds, ``None`` to wait for ever) rejects a call nobody decided on in time.

    Raises ``TypeError`` for ``*args``/``**kwargs``, an unbound ``self``/``cls`` parameter, or a parameter
    type pydantic cannot describe; ``ValueError`` for an invalid name or timeout.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        reply: bool = True,
        timeout: float | None = DEFAULT_TIMEOUT,
        localns: Mapping[str, Any] | None = None,
        approve: bool = False,
        approval_timeout: float | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(
                f"a tool must be callable, got {type(fn).__name__} {fn!r:.60}: pass the function itself, "
                "e.g. add_tool(get_weather), not its name or its result"
            )
        if localns is None:
            localns = caller_locals()
        name = _checked_name(_default_name(fn) if name is None else name)
        _check_options(name, description, reply, timeout)
        _check_approval(name, approve, approval_timeout)

        self.name: str = name
        self.fn = fn
        self.reply = bool(reply)
        self.timeout = timeout
        self.approve = approve
        self.approval_timeout = approval_timeout
        self.is_async = _is_async(fn)

        doc = inspect.getdoc(target_of(fn) if isinstance(fn, functools.partial) else fn)
        summary, param_docs = parse_docstring(doc)
        self.description: str = summary if description is None else description
        self.signature = ToolSignature.of(name, fn, param_docs, localns)
        #: The pydantic model that validates the arguments.
        self.arguments_model: type[pydantic.BaseModel] = self.signature.model

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments (a fresh copy): self-contained, no ``title`` keys."""
        return copy.deepcopy(self.signature.parameters)

    @property
    def schema(self) -> dict[str, Any]:
        """The tool as the Realtime API wants it in ``session.tools``: type, name, description, parameters."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }

    def __repr__(self) -> str:
        kind = "async " if self.is_async else ""
        approve = f", approve=True, approval_timeout={self.approval_timeout}" if self.approve else ""
        return f"<Tool {self.name!r}: {kind}{self.fn!r}, reply={self.reply}, timeout={self.timeout}{approve}>"

    async def run(
        self,
        arguments: str | dict[str, Any] | None,
        *,
        call_id: str | None = None,
        executor: Executor | None = None,
    ) -> ToolResult:
        """Parse, validate and run one call; always return a :class:`ToolResult`.

        ``arguments`` is the JSON text the model sent (an empty string means no arguments) or an already
        parsed dict. A sync tool runs through ``loop.run_in_executor(executor, ...)`` (``None``: the loop's
        default executor) with the caller's context variables; an async tool is awaited on the running loop.
        Only the ``asyncio.CancelledError`` of a real cancel propagates: anything else the tool raises,
        ``KeyboardInterrupt``, ``SystemExit`` and other ``BaseException`` included, is an ``"exception"`` result.
        """
        start = time.perf_counter()

        def fail(kind: str, error: str, args: dict[str, Any] | None, tb: str | None = None) -> ToolResult:
            elapsed = time.perf_counter() - start
            return failed_result(
                self.name, call_id, args, kind=kind, error=error, duration_s=elapsed, reply=self.reply, traceback=tb
            )

        args, problem = parse_arguments(arguments)
        if args is None:
            return fail("invalid_json", problem or "", None)
        try:
            pos, kw = self.signature.bind(args)
        except pydantic.ValidationError as exc:
            return fail("invalid_arguments", f"invalid arguments: {validation_error_text(exc)}", args)

        try:
            outcome = await asyncio.wait_for(self._invoke(pos, kw, executor, call_id), self.timeout)
        except asyncio.TimeoutError:
            where = "its thread keeps running" if not self.is_async else "it was cancelled"
            logger.warning("tool %r timed out after %s s; %s", self.name, self.timeout, where)
            return fail("timeout", f"timed out after {self.timeout:g} s", args)
        if isinstance(outcome, _Failure):
            logger.warning("tool %r raised %s", self.name, outcome.error)
            return fail("exception", outcome.error, args, outcome.traceback)
        try:
            output = output_to_string(outcome)
        except Exception as exc:
            error = f"cannot convert the return value to a string: {type(exc).__name__}: {exc}"
            return fail("bad_output", error, args, traceback.format_exc())
        return ToolResult(
            name=self.name,
            call_id=call_id,
            arguments=args,
            output=output,
            ok=True,
            error=None,
            duration_s=time.perf_counter() - start,
            reply=self.reply,
        )

    async def _invoke(self, pos: list[Any], kw: dict[str, Any], executor: Executor | None, call_id: str | None) -> Any:
        # The tool's own exceptions are caught here, inside the timeout, so a TimeoutError the tool raises
        # itself is not mistaken for our timeout. Every BaseException too: a KeyboardInterrupt or SystemExit
        # reaching the task would end the whole event loop (argparse inside a tool calls sys.exit()).
        try:
            if self.is_async:
                return await self._await(pos, kw, call_id)
            job = functools.partial(_caught, contextvars.copy_context().run, self.fn, *pos, **kw)
            if isinstance(executor, ToolThreads):  # names the call, for a report of what is still running
                result = await asyncio.wrap_future(executor.start(self._label(call_id), job))
            else:
                result = await asyncio.get_running_loop().run_in_executor(executor, job)
            if inspect.isawaitable(result):  # a sync wrapper around a coroutine function
                result = await result
            return result
        except asyncio.CancelledError as exc:
            # A real cancel (or our timeout) goes through; Python 3.10 cannot tell one apart, so treats all as real.
            cancelling = getattr(asyncio.current_task(), "cancelling", None)
            if cancelling is None or cancelling():
                raise
            return _Failure.of(exc)
        except BaseException as exc:
            return _Failure.of(exc)

    async def _await(self, pos: list[Any], kw: dict[str, Any], call_id: str | None) -> Any:
        # Named by its task while it runs, for the LoopWatchdog to say which tool holds the loop.
        task = asyncio.current_task()
        if task is not None:
            _ASYNC_CALLS[task] = (self.name, call_id)
        try:
            return await self.fn(*pos, **kw)
        finally:
            if task is not None:
                _ASYNC_CALLS.pop(task, None)

    def _label(self, call_id: str | None) -> str:
        return f"{self.name!r} (call {call_id})" if call_id else repr(self.name)


# The task running each async call -> (tool name, call id) (read by the LoopWatchdog's thread).
_ASYNC_CALLS: dict[asyncio.Task[Any], tuple[str, str | None]] = {}


def async_call_of(task: asyncio.Task[Any]) -> tuple[str, str | None] | None:
    """``(tool name, call id)`` of the async tool call that ``task`` is running, if it runs one."""
    return _ASYNC_CALLS.get(task)


def _caught(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in a worker thread, any exception returned as a :class:`_Failure`.

    Caught in the thread: a KeyboardInterrupt set on the future would be re-raised by the awaiting task and
    stop the event loop.
    """
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:
        return _Failure.of(exc)


@dataclasses.dataclass(frozen=True)
class _Failure:
    """An exception the tool raised, told apart from a return value."""

    error: str  # "ValueError: bad value 3" (just the type when the message is empty)
    traceback: str

    @classmethod
    def of(cls, exc: BaseException) -> _Failure:
        error = type(exc).__name__ + (f": {exc}" if str(exc) else "")
        return cls(error, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def parse_arguments(arguments: str | dict[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    """The arguments of a call as a dict: ``(arguments, None)``, or ``(None, error text)``.

    ``None`` and blank text mean no arguments; text must be a JSON object.
    """
    if arguments is None:
        return {}, None
    if isinstance(arguments, Mapping):
        return dict(arguments), None
    if not isinstance(arguments, (str, bytes, bytearray)):
        return None, f"arguments must be a JSON object string, got {type(arguments).__name__}"
    if not arguments.strip():
        return {}, None
    try:
        parsed = json.loads(arguments)
    except ValueError as exc:
        return None, f"arguments are not valid JSON: {exc}"
    if not isinstance(parsed, dict):
        return None, f"arguments must be a JSON object, got {type(parsed).__name__}"
    return parsed, None


def _check_options(name: str, description: Any, reply: Any, timeout: Any) -> None:
    """TypeError / ValueError naming the option of tool ``name`` that is wrong, and the fix."""
    if description is not None and not isinstance(description, str):
        raise TypeError(f"tool {name!r}: description must be a str or None, not {type(description).__name__}")
    if not isinstance(reply, bool):
        raise TypeError(f"tool {name!r}: reply must be True or False, not {type(reply).__name__} {reply!r:.60}")
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"tool {name!r}: timeout must be seconds (a number) or None, not {type(timeout).__name__} "
            f"{timeout!r:.60}: pass e.g. timeout=30"
        )
    if not 0 < timeout < math.inf:
        raise ValueError(f"tool {name!r}: timeout must be positive seconds or None, got {timeout!r}")


def _check_approval(name: str, approve: Any, approval_timeout: Any) -> None:
    """TypeError / ValueError naming the approval option of tool ``name`` that is wrong, and the fix."""
    if not isinstance(approve, bool):
        raise TypeError(f"tool {name!r}: approve must be True or False, not {type(approve).__name__} {approve!r:.60}")
    if approval_timeout is None:
        return
    if isinstance(approval_timeout, bool) or not isinstance(approval_timeout, (int, float)):
        raise TypeError(
            f"tool {name!r}: approval_timeout must be seconds (a number) or None, not "
            f"{type(approval_timeout).__name__} {approval_timeout!r:.60}: pass e.g. approval_timeout=60"
        )
    if not 0 < approval_timeout < math.inf:
        raise ValueError(f"tool {name!r}: approval_timeout must be positive seconds or None, got {approval_timeout!r}")
    if not approve:
        raise ValueError(
            f"tool {name!r}: approval_timeout only applies to a tool that waits for approval: add approve=True"
        )


def _checked_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(
            f"invalid tool name {name!r}: names must match {NAME_PATTERN.pattern} "
            "(1 to 64 letters, digits, '_' or '-'); pass name=... to choose one"
        )
    return name


def _default_name(fn: Callable[..., Any]) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__  # a callable object: its class name


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    return not inspect.isfunction(fn) and inspect.iscoroutinefunction(type(fn).__call__)
