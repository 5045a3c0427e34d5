"""What a tool call gives back: the :class:`ToolResult`, return values as strings, and error outputs."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from typing import Any

import pydantic
import pydantic_core

__all__ = ["ToolResult", "error_output", "failed_result", "output_to_string", "validation_error_text"]


@dataclasses.dataclass
class ToolResult:
    """The outcome of one tool call; ``output`` is what goes back to the model.

    ``arguments`` holds the parsed arguments (``None`` when they were not a JSON object). ``error`` is a short
    human text (``None`` when ``ok``) and ``error_kind`` one of ``"unknown_tool"``, ``"invalid_json"``,
    ``"invalid_arguments"``, ``"exception"``, ``"timeout"``, ``"bad_output"``. ``traceback`` is kept here for
    exceptions, never put in the output. ``reply`` is copied from the tool: whether a ``response.create``
    should follow once all outputs of the response are sent.
    """

    name: str
    call_id: str | None
    arguments: dict[str, Any] | None
    output: str
    ok: bool
    error: str | None
    duration_s: float
    traceback: str | None = None
    reply: bool = True
    error_kind: str | None = None


def failed_result(
    name: str,
    call_id: str | None,
    arguments: dict[str, Any] | None,
    *,
    kind: str,
    error: str,
    duration_s: float,
    reply: bool = True,
    traceback: str | None = None,
) -> ToolResult:
    """A failed call: the model reads :func:`error_output`, the caller gets ``error``, ``error_kind`` and
    ``traceback``."""
    return ToolResult(
        name=name,
        call_id=call_id,
        arguments=arguments,
        output=error_output(name, error),
        ok=False,
        error=error,
        duration_s=duration_s,
        traceback=traceback,
        reply=reply,
        error_kind=kind,
    )


def error_output(name: str, error: str) -> str:
    """The output the model reads when a call fails: ``{"error": "<short text>", "tool": "<name>"}``."""
    return json.dumps({"error": error, "tool": name}, ensure_ascii=False)


def validation_error_text(exc: pydantic.ValidationError) -> str:
    """pydantic's errors in one line, without URLs or inputs.

    For example ``"city: Field required; order.items[0].qty: Input should be a valid integer"``.
    """
    parts = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        path = ""
        for loc in err["loc"]:
            path += f"[{loc}]" if isinstance(loc, int) else (f".{loc}" if path else str(loc))
        parts.append(f"{path}: {err['msg']}" if path else err["msg"])
    return "; ".join(parts)


def output_to_string(value: Any) -> str:
    """Turn a tool's return value into the string sent as a ``function_call_output``.

    - ``str`` is kept exactly as it is (a ``str`` subclass becomes a plain ``str`` with the same text);
    - an ``Enum`` member is converted through its value (a member whose value is a string gives that string);
    - everything else is JSON: ``None`` -> ``"null"``, ``True`` -> ``"true"``, dicts, lists, numbers;
      pydantic models, dataclasses, sets, tuples, datetimes, UUIDs, paths and the like are converted by
      ``pydantic_core.to_jsonable_python``; numpy arrays and scalars by their ``tolist()``; any other object
      by its ``str()``. Non-ASCII text stays as is (``ensure_ascii=False``).

    Raises ``ValueError`` for values JSON cannot represent, such as a list that contains itself, and for NaN or
    an infinity anywhere in the value (Python would write ``NaN``, which is not JSON and which the model cannot
    read reliably). They are refused rather than turned into ``null`` in silence: the call fails as
    ``"bad_output"``, so the model reads an error output naming where the number was, and the session reports an
    ``rtwidget.error``. Return ``None`` for a missing number (or a string such as ``"unknown"``).
    """
    if isinstance(value, enum.Enum):
        return output_to_string(value.value)
    if isinstance(value, str):
        return str.__str__(value)
    try:
        return json.dumps(value, ensure_ascii=False, default=_jsonable, allow_nan=False)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        where = _non_finite_path(json.loads(json.dumps(value, ensure_ascii=False, default=_jsonable)))
    raise ValueError(
        f"the return value holds {where}, which JSON cannot carry: return None for a missing number, or a string"
    )


def _non_finite_path(data: Any, path: str = "") -> str:
    """Where the first NaN or infinity is in decoded JSON data, as ``"nan at ['temps'][2]"``."""
    if isinstance(data, float) and not math.isfinite(data):
        return f"{data!r} at {path}" if path else repr(data)
    children = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, child in children:
        found = _non_finite_path(child, f"{path}[{key!r}]")
        if found:
            return found
    return ""


def _jsonable(value: Any) -> Any:
    return pydantic_core.to_jsonable_python(value, fallback=_fallback)


def _fallback(value: Any) -> Any:
    # numpy arrays and scalars (and look-alikes) without importing numpy; anything else reads as its str().
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    return str(value)
