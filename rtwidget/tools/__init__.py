"""Tool registry: JSON schema from a Python signature, validated calls, execution (floor 2).

A *tool* is a Python function the model may call. Registering it builds, through pydantic, a model of its
arguments from the signature, the type hints and the docstring; that model gives both the JSON schema sent to
the Realtime API and the validation of the arguments the model sends back::

    registry = ToolRegistry()

    @registry.tool
    def get_weather(city: str, units: Literal["c", "f"] = "c") -> dict:
        '''Current weather for a city.

        Args:
            city: City name, e.g. "Paris".
            units: Temperature units.
        '''
        ...

    registry.schemas()                    # -> [{"type": "function", "name": "get_weather", ...}]
    result = await registry.call("get_weather", '{"city": "Paris"}', call_id="call_1")
    result.output                         # -> the string to send as the function_call_output

Conventions:

- Every call ends in a :class:`ToolResult` with a string ``output``; :meth:`ToolRegistry.call` and
  :meth:`Tool.run` never raise (except the :class:`asyncio.CancelledError` of a real cancel); a tool raising
  ``KeyboardInterrupt``, ``SystemExit`` or any other ``BaseException`` gives an ``"exception"`` result.
- Return values become strings with :func:`output_to_string`: a ``str`` is kept exactly, everything else,
  ``None`` included, is JSON (so ``None`` becomes ``"null"``). NaN and infinities are not JSON: a return value
  holding one is refused as unconvertible (the error says where), never sent as ``NaN``.
- Failures (unknown tool, invalid JSON, invalid arguments, exception, timeout, unconvertible return value)
  give ``{"error": "<short text>", "tool": "<name>"}`` as the output, so the model can read what went wrong.
- Sync tools run in a worker thread, async tools on the running loop. A timed-out sync tool cannot be killed:
  its output says it timed out and its thread keeps running until the function returns. :class:`ToolThreads`
  gives each call its own thread (reused when idle), so such stuck calls never hold up the next ones. An async
  tool that runs without awaiting holds the whole loop and cannot be pre-empted either: ``LoopWatchdog`` names it.

The modules, one job each: ``registry`` (:class:`ToolRegistry`), ``tool`` (:class:`Tool`: wrapping and
running one function), ``signature`` (type hints -> pydantic model), ``docstring`` (Google, reST, NumPy),
``schema`` (JSON schema clean-up), ``threads`` (:class:`ToolThreads`), ``watchdog`` (``LoopWatchdog``: an
async tool holding its loop), ``output`` (:class:`ToolResult`, return values as strings, error outputs).
All log to the ``rtwidget.tools`` logger.
"""

from .docstring import parse_docstring
from .output import ToolResult, output_to_string
from .registry import ToolRegistry
from .threads import RunningCall, ToolThreads, ToolThreadsExhausted
from .tool import DEFAULT_TIMEOUT, NAME_PATTERN, Tool

__all__ = [
    "DEFAULT_TIMEOUT",
    "NAME_PATTERN",
    "RunningCall",
    "Tool",
    "ToolRegistry",
    "ToolResult",
    "ToolThreads",
    "ToolThreadsExhausted",
    "output_to_string",
    "parse_docstring",
]
