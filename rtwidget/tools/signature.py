"""A tool function's signature as a pydantic model: the JSON schema sent to the API, and validated calls.

The model has one field per parameter, built from the type hints (resolved in the function's module, then in
the namespace that registers it), the defaults and the docstring's parameter texts. An annotation that cannot
be resolved falls back to ``Any`` with a warning; a type pydantic cannot describe is a ``TypeError`` at
registration, never a surprise at call time.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import sys
import types
import typing
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import pydantic
from pydantic.fields import FieldInfo
from pydantic.json_schema import PydanticJsonSchemaWarning

from .schema import clean_schema

__all__ = ["ToolSignature", "caller_locals", "target_of"]

logger = logging.getLogger("rtwidget.tools")

# What pydantic.create_model takes for one field: (annotation, FieldInfo).
_Field = tuple[Any, FieldInfo]


@dataclasses.dataclass(frozen=True)
class ToolSignature:
    """The arguments of one tool function: their pydantic model, their JSON schema, and the way back from a
    validated model to a call of the function."""

    #: The pydantic model of the arguments (``extra="forbid"``; fields aliased by parameter name).
    model: type[pydantic.BaseModel]
    #: The cleaned JSON schema of the arguments: ``type`` and ``properties`` first, no titles.
    parameters: dict[str, Any]
    #: (model field, function parameter) pairs, in signature order.
    fields: tuple[tuple[str, inspect.Parameter], ...]

    @classmethod
    def of(
        cls,
        name: str,
        fn: Callable[..., Any],
        param_docs: Mapping[str, str],
        localns: Mapping[str, Any] | None,
    ) -> ToolSignature:
        """Build the signature of tool ``name`` (the name is for messages).

        Raises ``TypeError`` for ``*args``/``**kwargs``, an unbound ``self``/``cls`` parameter, or a parameter
        type pydantic cannot validate or describe as JSON.
        """
        sig = inspect.signature(fn)
        _check_parameters(name, sig)
        hints = _resolve_hints(name, fn, sig, localns)
        # Fields are p0, p1... with the parameter name as alias, so that names pydantic reserves
        # (model_config, _private, json...) still work as parameter names.
        fields = tuple((f"p{i}", p) for i, p in enumerate(sig.parameters.values()))
        specs = {field: _field(p, hints.get(p.name, Any), param_docs.get(p.name)) for field, p in fields}
        module = getattr(target_of(fn), "__module__", None) or __name__
        model, raw = _build_model(name, fields, specs, module)
        # type and properties first (they always exist, even for a function without parameters).
        return cls(model, {"type": "object", "properties": {}, **clean_schema(raw)}, fields)

    def bind(self, arguments: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Validate ``arguments`` and return the ``(args, kwargs)`` to call the function with.

        Positional-only parameters go by position; the others only when given, so the function's own defaults
        apply. Raises ``pydantic.ValidationError``.
        """
        model = self.model.model_validate(arguments)
        pos: list[Any] = []
        kw: dict[str, Any] = {}
        for field, p in self.fields:
            if p.kind is p.POSITIONAL_ONLY:
                pos.append(getattr(model, field))
            elif field in model.model_fields_set:
                kw[p.name] = getattr(model, field)
        return pos, kw


def target_of(fn: Callable[..., Any]) -> Any:
    """The plain function behind partials and callable objects (for hints, globals, name and docstring)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    call = type(fn).__call__
    if not (inspect.isfunction(fn) or inspect.ismethod(fn)) and inspect.isfunction(call):
        return call
    return fn


def caller_locals() -> Mapping[str, Any] | None:
    """Locals of the nearest frame outside rtwidget: the scope that registers the tool, even through
    wrappers such as ``Session.tool``."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "rtwidget":
        frame = frame.f_back
    return frame.f_locals if frame is not None else None


def _check_parameters(name: str, sig: inspect.Signature) -> None:
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            star = "*" if p.kind is p.VAR_POSITIONAL else "**"
            raise TypeError(f"tool {name!r}: parameter {star}{p.name} is not supported; use named parameters only")
        if p.name in ("self", "cls"):
            raise TypeError(
                f"tool {name!r}: parameter {p.name!r} looks unbound; register a bound method "
                "(instance.method) or a plain function"
            )


def _resolve_hints(
    name: str, fn: Callable[..., Any], sig: inspect.Signature, localns: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Type hints of ``fn``'s parameters; an annotation that cannot be resolved becomes ``Any`` (logged)."""
    target = target_of(fn)
    for ns in (None, localns) if localns is not None else (None,):
        try:
            return typing.get_type_hints(target, localns=ns, include_extras=True)
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


def _field(p: inspect.Parameter, ann: Any, doc: str | None) -> _Field:
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
        widened = _none_allowed(inner)
        for m in meta:  # nested Annotated flattens: Annotated[Annotated[T, a], b] is Annotated[T, a, b]
            widened = typing.Annotated[widened, m]
        return widened
    return typing.Optional[ann]  # noqa: UP045 - a runtime type, not an annotation


def _build_model(
    name: str,
    fields: tuple[tuple[str, inspect.Parameter], ...],
    specs: dict[str, _Field],
    module: str,
) -> tuple[type[pydantic.BaseModel], dict[str, Any]]:
    """The arguments model and its raw JSON schema; both fail here, at registration, not at a call.

    When the whole model fails, each parameter is tried alone: an unresolvable forward reference falls back
    to ``Any`` (in ``specs``), anything else pydantic cannot describe is the caller's to fix (``TypeError``).
    """
    try:
        return _create_model(name, specs, module)
    except Exception as first:
        for field, p in fields:
            specs[field] = _checked_field(name, p, specs[field], module)
        try:
            return _create_model(name, specs, module)
        except Exception as exc:  # pragma: no cover - every parameter passed alone but not together
            raise TypeError(f"tool {name!r}: cannot build an arguments model: {first}") from exc


def _create_model(name: str, specs: dict[str, _Field], module: str) -> tuple[type[pydantic.BaseModel], dict[str, Any]]:
    # pydantic types field definitions as TypeForm, which mypy cannot check against runtime annotations.
    definitions: dict[str, Any] = specs
    model = pydantic.create_model(
        f"{name}_arguments",
        __config__=pydantic.ConfigDict(extra="forbid"),
        __module__=module,
        **definitions,
    )
    with warnings.catch_warnings():
        # A default JSON cannot show (an object()) is simply left out of the schema.
        warnings.simplefilter("ignore", PydanticJsonSchemaWarning)
        return model, model.model_json_schema()


def _checked_field(name: str, p: inspect.Parameter, spec: _Field, module: str) -> _Field:
    """``spec`` if pydantic can describe its type alone; ``Any`` instead of an unresolved forward reference."""
    ann, info = spec
    try:
        pydantic.TypeAdapter(ann, module=module).json_schema()
    except Exception as exc:
        if getattr(exc, "code", None) not in ("undefined-annotation", "class-not-fully-defined"):
            reason = str(exc).split("\n\n")[0]  # pydantic's first paragraph, without the URL
            raise TypeError(
                f"tool {name!r}: parameter {p.name!r} has a type pydantic cannot validate "
                f"or describe as JSON ({ann!r}): {reason}"
            ) from exc
        logger.warning("tool %r parameter %r: unresolved type %r; using Any", name, p.name, ann)
        return Any, info
    return spec
