"""What an ``error`` event says, read one way everywhere: its code, message and cause, and which codes matter.

The client session, its log and the widget's panels all read error events through :func:`error_info`, so a
malformed ``error`` field (a string, a list, nothing) reads the same in each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Error codes that end the session on the server side.
TERMINAL_ERROR_CODES = frozenset({"session_expired", "beta_api_shape_disabled"})
# Error codes that are a harmless race (a cancel that arrived after the response ended): logged at DEBUG, no notice.
HARMLESS_ERROR_CODES = frozenset({"response_cancel_not_active"})
# A response.create refused because a response is in progress, and a voice change refused after the model spoke.
ACTIVE_RESPONSE_CODE = "conversation_already_has_active_response"
VOICE_LOCKED_CODE = "cannot_update_voice"


@dataclass(frozen=True)
class ErrorInfo:
    """The ``error`` object of an error event, normalised: every field a string or None."""

    code: str | None
    message: str
    type: str | None = None
    param: str | None = None
    event_id: str | None = None  # the client event that caused it, when the server says

    @property
    def label(self) -> str:
        """The code, else the type, else ``"error"``: what a log line or notice names the error by."""
        return self.code or self.type or "error"

    @property
    def harmless(self) -> bool:
        """A race the client can ignore (see HARMLESS_ERROR_CODES)."""
        return self.code in HARMLESS_ERROR_CODES

    @property
    def terminal(self) -> bool:
        """The server ends the session after this error."""
        return self.code in TERMINAL_ERROR_CODES

    def __str__(self) -> str:
        return f"{self.label}: {self.message}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def error_info(data: Any) -> ErrorInfo:
    """Normalise an ``error`` event's data (the whole event dict) or its ``error`` object."""
    err = data.get("error", data) if isinstance(data, dict) and data.get("type") == "error" else data
    if not isinstance(err, dict):
        return ErrorInfo(code=None, message="" if err is None else str(err))
    message = err.get("message")
    return ErrorInfo(
        code=_text(err.get("code")),
        message=message if isinstance(message, str) else "" if message is None else str(message),
        type=_text(err.get("type")),
        param=_text(err.get("param")),
        event_id=_text(err.get("event_id")),
    )
