"""Tool registry: JSON schema from a Python signature, validated calls, execution.

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
  :meth:`Tool.run` never raise (except :class:`asyncio.CancelledError`, and ``KeyboardInterrupt``).
- Return values become strings with :func:`output_to_string`: a ``str`` is kept exactly, everything else,
  ``None`` included, is JSON (so ``None`` becomes ``"null"``).
- Failures (unknown tool, invalid JSON, invalid arguments, exception, timeout, unconvertible return value)
  give ``{"error": "<short text>", "tool": "<name>"}`` as the output, so the model can read what went wrong.
- Sync tools run in a worker thread, async tools on the running loop. A timed-out sync tool cannot be killed:
  its output says it timed out and its thread keeps running until the function returns.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import dataclasses
import enum
import functools
import inspect
import json
import logging
import re
import sys
import threading
import time
import traceback
import types
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from typing import Any

import pydantic
import pydantic_core
from pydantic.fields import FieldInfo
from pydantic.json_schema import PydanticJsonSchemaWarning

__all__ = [
    "DEFAULT_TIMEOUT",
    "NAME_PATTERN",
    "Tool",
    "ToolRegistry",
    "ToolResult",
    "output_to_string",
    "parse_docstring",
]

logger = logging.getLogger("rtwidget.tools")

#: Seconds a tool may run before its call ends with a timeout output.
DEFAULT_TIMEOUT = 30.0

#: Function names the Realtime API accepts.
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


# ----------------------------------------------------------------------------------------------------------
# Results and output conversion


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


def _fallback(value: Any) -> Any:
    # numpy arrays and scalars (and look-alikes) without importing numpy; anything else reads as its str().
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    return str(value)


def _jsonable(value: Any) -> Any:
    return pydantic_core.to_jsonable_python(value, fallback=_fallback)


def output_to_string(value: Any) -> str:
    """Turn a tool's return value into the string sent as a ``function_call_output``.

    - ``str`` is kept exactly as it is (a ``str`` subclass becomes a plain ``str`` with the same text);
    - an ``Enum`` member is converted through its value (a member whose value is a string gives that string);
    - everything else is JSON: ``None`` -> ``"null"``, ``True`` -> ``"true"``, dicts, lists, numbers;
      pydantic models, dataclasses, sets, tuples, datetimes, UUIDs, paths and the like are converted by
      ``pydantic_core.to_jsonable_python``; numpy arrays and scalars by their ``tolist()``; any other object
      by its ``str()``. Non-ASCII text stays as is (``ensure_ascii=False``).

    Raises ``ValueError`` only for values JSON cannot represent at all, such as a list that contains itself.
    """
    if isinstance(value, enum.Enum):
        return output_to_string(value.value)
    if isinstance(value, str):
        return str.__str__(value)
    return json.dumps(value, ensure_ascii=False, default=_jsonable)


def _error_output(name: str, error: str) -> str:
    return json.dumps({"error": error, "tool": name}, ensure_ascii=False)


def _format_validation_error(exc: pydantic.ValidationError) -> str:
    # Compact: "city: Field required; order.items[0].qty: Input should be a valid integer".
    parts = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        path = ""
        for loc in err["loc"]:
            path += f"[{loc}]" if isinstance(loc, int) else (f".{loc}" if path else str(loc))
        parts.append(f"{path}: {err['msg']}" if path else err["msg"])
    return "; ".join(parts)


# ----------------------------------------------------------------------------------------------------------
# Docstrings: summary and per-parameter text (Google, reST and NumPy styles)

_GOOGLE_PARAMS = re.compile(
    r"^(args|arguments|parameters|params|keyword args|keyword arguments|kwargs|other parameters)\s*:\s*$",
    re.I,
)
_GOOGLE_SECTION = re.compile(
    r"^(args|arguments|attributes|example|examples|keyword args|keyword arguments|kwargs|methods|note|notes|"
    r"other parameters|parameters|params|return|returns|raise|raises|references|see also|todo|warning|"
    r"warnings|warns|yield|yields)\s*:\s*$",
    re.I,
)
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\(.*?\))?\s*:(.*)$")
_REST_PARAM = re.compile(r"^:(?:param|parameter|arg|argument|key|keyword)\s+(?:[^:]*\s)?\*{0,2}(\w+)\s*:(.*)$")
_REST_FIELD = re.compile(r"^:[a-zA-Z]")
_NUMPY_UNDERLINE = re.compile(r"^-{3,}$")
_NUMPY_PARAMS = {"parameters", "other parameters", "keyword arguments", "params"}
_NUMPY_ENTRY = re.compile(r"^(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::.*)?$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_numpy_header(lines: list[str], i: int) -> bool:
    return bool(lines[i].strip()) and i + 1 < len(lines) and bool(_NUMPY_UNDERLINE.match(lines[i + 1].strip()))


def _join(parts: list[str]) -> str:
    return " ".join(p.strip() for p in parts if p.strip())


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a docstring into its summary text and a ``{parameter: description}`` mapping.

    The summary is everything before the first section (a Google ``Args:``/``Returns:``-style header, a
    reST ``:field:`` or a NumPy header underlined with dashes). Parameter texts come from Google ``Args:``
    sections, reST ``:param x:`` fields and NumPy ``Parameters`` sections; continuation lines are joined
    with spaces.
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    end = len(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _GOOGLE_SECTION.match(stripped) or _REST_FIELD.match(stripped) or _is_numpy_header(lines, i):
            end = i
            break
    summary = "\n".join(lines[:end]).strip()

    params: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if _GOOGLE_PARAMS.match(stripped):
            i = _parse_google(lines, i, params)
        elif _is_numpy_header(lines, i) and stripped.lower() in _NUMPY_PARAMS:
            i = _parse_numpy(lines, i, params)
        elif m := _REST_PARAM.match(stripped):
            text, i = [m.group(2)], i + 1
            # Continuation lines are indented deeper than the field and are not fields themselves.
            while (
                i < len(lines)
                and lines[i].strip()
                and _indent(lines[i]) > _indent(line)
                and not _REST_FIELD.match(lines[i].strip())
            ):
                text.append(lines[i])
                i += 1
            params[m.group(1)] = _join(text)
        else:
            i += 1
    return summary, params


def _parse_google(lines: list[str], header: int, params: dict[str, str]) -> int:
    base = _indent(lines[header])
    i = header + 1
    entry_indent: int | None = None
    name: str | None = None
    text: list[str] = []
    while i < len(lines):
        line = lines[i]
        if line.strip():
            ind = _indent(line)
            if ind <= base:
                break
            if entry_indent is None:
                entry_indent = ind
            m = _GOOGLE_ENTRY.match(line.strip()) if ind <= entry_indent else None
            if m:
                if name:
                    params[name] = _join(text)
                name, text = m.group(1), [m.group(2)]
            else:
                text.append(line)
        i += 1
    if name:
        params[name] = _join(text)
    return i


def _parse_numpy(lines: list[str], header: int, params: dict[str, str]) -> int:
    base = _indent(lines[header])
    i = header + 2
    names: list[str] = []
    text: list[str] = []

    def flush() -> None:
        for n in names:
            params[n] = _join(text)

    while i < len(lines):
        line = lines[i]
        if line.strip():
            ind = _indent(line)
            if ind < base or _is_numpy_header(lines, i):
                break
            m = _NUMPY_ENTRY.match(line.strip()) if ind == base else None
            if m:
                flush()
                names, text = [n.strip().lstrip("*") for n in m.group(1).split(",")], []
            else:
                text.append(line)
        i += 1
    flush()
    return i


# ----------------------------------------------------------------------------------------------------------
# JSON schema clean-up: inline $refs, drop titles

# Keywords whose value is one schema, a list of schemas, or a mapping of names to schemas. Everything else
# (enum, const, default, examples, required...) is data and is copied untouched.
_SCHEMA_ONE = {"items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else"}
_SCHEMA_LIST = {"anyOf", "allOf", "oneOf", "prefixItems"}
_SCHEMA_MAP = {"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"}
_DEFS = "#/$defs/"


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline every ``$ref`` into ``$defs`` and drop pydantic's ``title`` keys.

    A recursive model cannot be inlined: its ``$ref`` stays, and only the definitions still referenced are
    kept under ``$defs`` at the root.
    """
    defs: dict[str, Any] = schema.get("$defs", {})
    kept: set[str] = set()

    def walk(node: Any, stack: tuple[str, ...]) -> Any:
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref[len(_DEFS) :] if ref.startswith(_DEFS) else None
            if name in defs and name not in stack:
                out.update(walk(defs[name], (*stack, name)))
            else:  # recursion, or a reference that is not ours: keep it
                if name is not None:
                    kept.add(name)
                out["$ref"] = ref
        for key, value in node.items():
            if key in ("$ref", "$defs", "title"):
                continue
            if key in _SCHEMA_ONE:
                out[key] = walk(value, stack)
            elif key in _SCHEMA_LIST and isinstance(value, list):
                out[key] = [walk(v, stack) for v in value]
            elif key in _SCHEMA_MAP and isinstance(value, dict):
                out[key] = {k: walk(v, stack) for k, v in value.items()}
            else:
                out[key] = value  # a sibling of $ref (description, default) overrides the definition's
        # allOf with a single schema is how older pydantic attached a description to a reference.
        all_of = out.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            only = out.pop("allOf")[0]
            out = {**only, **out}
        return out

    cleaned = walk(schema, ())
    # Keep definitions that recursion still needs (and those they need in turn).
    done: set[str] = set()
    kept_defs: dict[str, Any] = {}
    while kept - done:
        name = min(kept - done)
        done.add(name)
        if name in defs:
            kept_defs[name] = walk(defs[name], (name,))
    if kept_defs:
        cleaned["$defs"] = kept_defs
    return cleaned


# ----------------------------------------------------------------------------------------------------------
# Tools


def _target(fn: Callable[..., Any]) -> Any:
    """The plain function behind partials and callable objects (for hints, globals, name and docstring)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    call = type(fn).__call__
    if not (inspect.isfunction(fn) or inspect.ismethod(fn)) and inspect.isfunction(call):
        return call
    return fn


def _default_name(fn: Callable[..., Any]) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__  # a callable object: its class name


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    return not inspect.isfunction(fn) and inspect.iscoroutinefunction(type(fn).__call__)


def _accepts_none(ann: Any) -> bool:
    if ann is Any or ann is None or ann is type(None):
        return True
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        return _accepts_none(typing.get_args(ann)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_accepts_none(a) for a in typing.get_args(ann))
    if origin is typing.Literal:
        return None in typing.get_args(ann)
    return False


def _none_allowed(ann: Any) -> Any:
    """``ann`` widened to accept ``None``, with ``Annotated`` metadata outermost, where pydantic reads
    ``Field(...)``. Python 3.10's ``get_type_hints`` already wraps ``x: T = None`` in ``Optional[T]``, which
    buries ``Annotated`` inside the union: that nesting is undone here."""
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        args = typing.get_args(ann)
        rest = [a for a in args if a is not type(None)]
        if (
            len(args) == 2
            and len(rest) == 1
            and (_accepts_none(rest[0]) or typing.get_origin(rest[0]) is typing.Annotated)
        ):
            ann = rest[0]
    if _accepts_none(ann):
        return ann
    if typing.get_origin(ann) is typing.Annotated:
        inner, *meta = typing.get_args(ann)
        return typing.Annotated[(_none_allowed(inner), *meta)]
    return typing.Optional[ann]  # noqa: UP045 - a runtime type, not an annotation


def _resolve_hints(
    name: str, fn: Callable[..., Any], sig: inspect.Signature, localns: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Type hints of ``fn``'s parameters; an annotation that cannot be resolved becomes ``Any`` (logged)."""
    target = _target(fn)
    for ns in (None, localns) if localns is not None else (None,):
        try:
            return typing.get_type_hints(target, localns=ns, include_extras=True)  # type: ignore[arg-type]
        except Exception:
            pass
    # Resolve one parameter at a time so one bad name (a class local to a function, a typo) costs only itself.
    globalns = getattr(inspect.unwrap(target), "__globals__", None) or {}
    hints: dict[str, Any] = {}
    for p in sig.parameters.values():
        ann = p.annotation
        if ann is p.empty:
            continue
        if isinstance(ann, str):
            try:
                ann = eval(ann, globalns, localns)
            except Exception as exc:
                logger.warning("tool %r parameter %r: unresolved %r (%s); using Any", name, p.name, ann, exc)
                ann = Any
        hints[p.name] = ann
    return hints


class Tool:
    """One registered function, with its arguments model and its JSON schema.

    ``fn`` may be a function, an ``async def`` function, a bound method, a ``functools.partial`` or a callable
    object. ``description`` defaults to the docstring summary; each parameter's description comes from the
    docstring (Google ``Args:``, reST ``:param x:`` or NumPy ``Parameters``) unless its annotation already
    carries one (``Annotated[int, Field(description=...)]``). ``timeout`` is in seconds, ``None`` for none.
    ``reply`` says whether a ``response.create`` should follow this tool's output (``False`` for tools whose
    result the model need not comment on). ``localns`` is a fallback namespace for string annotations that
    the function's module cannot resolve (with ``from __future__ import annotations``, a class defined inside
    a function); it defaults to the locals of the code that creates the tool.

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
    ) -> None:
        if not callable(fn):
            raise TypeError(f"a tool must be callable, got {type(fn).__name__}")
        if localns is None:
            localns = _caller_locals()
        target = _target(fn)
        if name is None:
            name = _default_name(fn)
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ValueError(
                f"invalid tool name {name!r}: names must match {NAME_PATTERN.pattern} "
                "(1 to 64 letters, digits, '_' or '-'); pass name=... to choose one"
            )
        if timeout is not None and not timeout > 0:
            raise ValueError(f"tool {name!r}: timeout must be positive seconds or None, got {timeout!r}")

        self.name: str = name
        self.fn = fn
        self.reply = bool(reply)
        self.timeout = timeout
        self.is_async = _is_async(fn)

        doc = inspect.getdoc(target if isinstance(fn, functools.partial) else fn)
        summary, param_docs = parse_docstring(doc)
        self.description: str = summary if description is None else description

        sig = inspect.signature(fn)
        for p in sig.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                star = "*" if p.kind is p.VAR_POSITIONAL else "**"
                raise TypeError(f"tool {name!r}: parameter {star}{p.name} is not supported; use named parameters only")
            if p.name in ("self", "cls"):
                raise TypeError(
                    f"tool {name!r}: parameter {p.name!r} looks unbound; register a bound method "
                    "(instance.method) or a plain function"
                )
        hints = _resolve_hints(name, fn, sig, localns)

        # (field name, parameter) pairs. Fields are p0, p1... with the parameter name as alias, so that names
        # pydantic reserves (model_config, _private, json...) still work as parameter names.
        self._params = [(f"p{i}", p) for i, p in enumerate(sig.parameters.values())]
        fields: dict[str, Any] = {}
        for field, p in self._params:
            fields[field] = self._field(p, hints.get(p.name, Any), param_docs.get(p.name))
        self.arguments_model, raw = self._build_model(fields, target)
        # type and properties first (they always exist, even for a function without parameters).
        self._parameters = {"type": "object", "properties": {}, **_clean_schema(raw)}

    @staticmethod
    def _field(p: inspect.Parameter, ann: Any, doc: str | None) -> tuple[Any, FieldInfo]:
        kwargs: dict[str, Any] = {"alias": p.name}
        if p.default is not inspect.Parameter.empty:
            kwargs["default"] = p.default
        if p.default is None:
            # `x: int = None` means None is allowed, and models do send null for optional parameters.
            ann = _none_allowed(ann)
        has_own = any(
            isinstance(m, FieldInfo) and m.description for m in getattr(ann, "__metadata__", ())
        )  # Annotated[..., Field(description=...)] wins over the docstring
        if doc and not has_own:
            kwargs["description"] = doc
        return ann, pydantic.Field(**kwargs)

    def _build_model(self, fields: dict[str, Any], target: Any) -> tuple[type[pydantic.BaseModel], dict[str, Any]]:
        """The arguments model and its raw JSON schema; both fail here, at registration, not at a call."""
        module = getattr(target, "__module__", None) or __name__

        def build() -> tuple[type[pydantic.BaseModel], dict[str, Any]]:
            model = pydantic.create_model(  # type: ignore[call-overload]
                f"{self.name}_arguments",
                __config__=pydantic.ConfigDict(extra="forbid"),
                __module__=module,
                **fields,
            )
            with warnings.catch_warnings():
                # A default JSON cannot show (an object()) is simply left out of the schema.
                warnings.simplefilter("ignore", PydanticJsonSchemaWarning)
                return model, model.model_json_schema()

        try:
            return build()
        except Exception as first:
            # Find the parameter at fault: an unresolvable forward reference falls back to Any, anything else
            # pydantic cannot describe is the caller's to fix.
            for field, p in self._params:
                ann, info = fields[field]
                try:
                    pydantic.TypeAdapter(ann, module=module).json_schema()
                except Exception as exc:
                    if getattr(exc, "code", None) not in ("undefined-annotation", "class-not-fully-defined"):
                        reason = str(exc).split("\n\n")[0]  # pydantic's first paragraph, without the URL
                        raise TypeError(
                            f"tool {self.name!r}: parameter {p.name!r} has a type pydantic cannot validate "
                            f"or describe as JSON ({ann!r}): {reason}"
                        ) from exc
                    logger.warning("tool %r parameter %r: unresolved type %r; using Any", self.name, p.name, ann)
                    fields[field] = (Any, info)
            try:
                return build()
            except Exception as exc:  # pragma: no cover - every parameter passed alone but not together
                raise TypeError(f"tool {self.name!r}: cannot build an arguments model: {first}") from exc

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments (a fresh copy): self-contained, no ``title`` keys."""
        return copy.deepcopy(self._parameters)

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
        return f"<Tool {self.name!r}: {kind}{self.fn!r}, reply={self.reply}, timeout={self.timeout}>"

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
        Only ``asyncio.CancelledError`` (and ``KeyboardInterrupt``) propagate.
        """
        start = time.perf_counter()

        def fail(kind: str, error: str, args: dict | None, tb: str | None = None) -> ToolResult:
            return ToolResult(
                name=self.name,
                call_id=call_id,
                arguments=args,
                output=_error_output(self.name, error),
                ok=False,
                error=error,
                duration_s=time.perf_counter() - start,
                traceback=tb,
                reply=self.reply,
                error_kind=kind,
            )

        args, problem = _parse_arguments(arguments)
        if args is None:
            return fail("invalid_json", problem or "", None)
        try:
            model = self.arguments_model.model_validate(args)
        except pydantic.ValidationError as exc:
            return fail("invalid_arguments", f"invalid arguments: {_format_validation_error(exc)}", args)

        # Positional-only parameters go by position; the others only when given, so the function's own
        # defaults apply.
        pos: list[Any] = []
        kw: dict[str, Any] = {}
        for field, p in self._params:
            if p.kind is p.POSITIONAL_ONLY:
                pos.append(getattr(model, field))
            elif field in model.model_fields_set:
                kw[p.name] = getattr(model, field)

        try:
            outcome = await asyncio.wait_for(self._invoke(pos, kw, executor), self.timeout)
        except asyncio.TimeoutError:
            where = "its thread keeps running" if not self.is_async else "it was cancelled"
            logger.warning("tool %r timed out after %s s; %s", self.name, self.timeout, where)
            return fail("timeout", f"timed out after {self.timeout:g} s", args)
        if isinstance(outcome, _Failure):
            error = type(outcome.exc).__name__ + (f": {outcome.exc}" if str(outcome.exc) else "")
            logger.warning("tool %r raised %s", self.name, error)
            return fail("exception", error, args, outcome.traceback)
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

    async def _invoke(self, pos: list[Any], kw: dict[str, Any], executor: Executor | None) -> Any:
        # The tool's own exceptions are caught here, inside the timeout, so a TimeoutError the tool raises
        # itself is not mistaken for our timeout. SystemExit too: argparse inside a tool calls sys.exit().
        try:
            if self.is_async:
                return await self.fn(*pos, **kw)
            loop = asyncio.get_running_loop()
            ctx = contextvars.copy_context()
            result = await loop.run_in_executor(executor, functools.partial(ctx.run, self.fn, *pos, **kw))
            if inspect.isawaitable(result):  # a sync wrapper around a coroutine function
                result = await result
            return result
        except (Exception, SystemExit) as exc:
            return _Failure(exc, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


@dataclasses.dataclass
class _Failure:
    exc: BaseException
    traceback: str


def _parse_arguments(arguments: str | dict[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    """``(arguments, None)`` or ``(None, error text)``."""
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


def _caller_locals() -> Mapping[str, Any] | None:
    """Locals of the nearest frame outside rtwidget: the scope that registers the tool, even through
    wrappers such as ``Session.tool``."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "rtwidget":
        frame = frame.f_back
    return frame.f_locals if frame is not None else None


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
    ) -> Tool:
        """Register ``fn`` (see :class:`Tool` for the options and errors) and return its :class:`Tool`."""
        localns = _caller_locals()
        return self._add(fn, localns, name=name, description=description, reply=reply, timeout=timeout)

    def _add(self, fn: Callable[..., Any], localns: Mapping[str, Any] | None, **options: Any) -> Tool:
        tool = Tool(fn, localns=localns, **options)
        with self._lock:
            replaced = tool.name in self._tools
            self._tools[tool.name] = tool
        logger.debug("%s tool %r", "replaced" if replaced else "added", tool.name)
        self._notify()
        return tool

    def tool(self, fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Decorator form of :meth:`add`: ``@registry.tool`` or ``@registry.tool(name=..., reply=False)``.

        Returns the function unchanged, so it stays callable from Python.
        """
        if fn is not None and not callable(fn):
            raise TypeError(f"@tool takes a function, got {fn!r}; to choose a name write @tool(name=...)")
        localns = _caller_locals()

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
        args, _ = _parse_arguments(arguments)
        return ToolResult(
            name=name,
            call_id=call_id,
            arguments=args,
            output=_error_output(name, error),
            ok=False,
            error=error,
            duration_s=0.0,
            error_kind="unknown_tool",
        )
