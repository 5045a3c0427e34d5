"""OpenAI-shaped errors: :class:`ApiError`, the builders that word them as the real server does, and the
primitive value checks (``want_str``, ``want_int``, ...) that raise them.

Every refusal of the engine is an :class:`ApiError` raised where the problem is found and turned into one
``error`` event (with the client event's ``event_id``) by the engine; it never reaches the socket as an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .config import Json

__all__ = [
    "ApiError",
    "check_keys",
    "kind",
    "missing",
    "type_error",
    "unknown",
    "value_error",
    "want_bool",
    "want_dict",
    "want_int",
    "want_number",
    "want_str",
]


class ApiError(Exception):
    """An error the engine answers with an ``error`` event (never escapes :meth:`Engine.receive_text`)."""

    def __init__(
        self, message: str, code: str | None, param: str | None = None, type: str = "invalid_request_error"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.type = type

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], default_type: str) -> ApiError:
        """An error from a script's ``fail`` / ``error`` spec (``message``, optional ``code``, ``param``, ``type``)."""
        return cls(spec["message"], spec.get("code"), spec.get("param"), spec.get("type") or default_type)

    def event(self, event_id: str | None) -> Json:
        """The ``error`` server event (without its own ``event_id``, which the outbox assigns)."""
        return {
            "type": "error",
            "error": {
                "type": self.type,
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "event_id": event_id,
            },
        }


def kind(value: Any) -> str:
    """How the real server names a JSON value's type in its messages ("an integer", "a string", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "an unknown type"


def type_error(path: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        f"Invalid type for '{path}': expected {expected}, but got {kind(value)} instead.",
        "invalid_type",
        path,
    )


def value_error(path: str, value: Any, supported: Sequence[str]) -> ApiError:
    choices = [f"'{s}'" for s in supported]
    listed = choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + f", and {choices[-1]}"
    return ApiError(f"Invalid value: '{value}'. Supported values are: {listed}.", "invalid_value", path)


def unknown(path: str) -> ApiError:
    return ApiError(f"Unknown parameter: '{path}'.", "unknown_parameter", path)


def missing(path: str) -> ApiError:
    return ApiError(f"Missing required parameter: '{path}'.", "missing_required_parameter", path)


def check_keys(obj: Mapping[str, Any], allowed: Sequence[str] | frozenset[str], path: str) -> None:
    """Refuse the first key of ``obj`` that is not ``allowed`` (``unknown_parameter``, named by its full path)."""
    for key in obj:
        if key not in allowed:
            raise unknown(f"{path}.{key}" if path else key)


def want_dict(value: Any, path: str) -> Json:
    if not isinstance(value, dict):
        raise type_error(path, "an object", value)
    return value


def want_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise type_error(path, "a string", value)
    return value


def want_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise type_error(path, "a boolean", value)
    return value


def _out_of_range(path: str, what: str, side: str, relation: str, bound: float, value: float) -> ApiError:
    return ApiError(
        f"Invalid '{path}': {what} {side} {'minimum' if side == 'below' else 'maximum'} value. "
        f"Expected a value {relation} {bound}, but got {value} instead.",
        f"{what}_{side}_{'min' if side == 'below' else 'max'}_value",
        path,
    )


def want_number(value: Any, path: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise type_error(path, "a decimal", value)
    if value < lo:
        raise _out_of_range(path, "decimal", "below", ">=", lo, value)
    if value > hi:
        raise _out_of_range(path, "decimal", "above", "<=", hi, value)
    return float(value)


def want_int(value: Any, path: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise type_error(path, "an integer", value)
    if value < lo:
        raise _out_of_range(path, "integer", "below", ">=", lo, value)
    if hi is not None and value > hi:
        raise _out_of_range(path, "integer", "above", "<=", hi, value)
    return value
