"""Exceptions a Session raises to its caller.

Exception
└── RealtimeError           the server answered a request with an ``error`` event
    └── SessionClosed       the WebSocket closed (code and reason kept)
ValueError
└── rtwidget.protocol.errors.ClientEventError   a client event refused before sending
"""

from __future__ import annotations

from typing import Any


class RealtimeError(Exception):
    """An ``error`` event from the server; ``event`` is the error event, ``code`` its error code."""

    def __init__(self, message: str, *, code: str | None = None, event: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.event = event


class SessionClosed(RealtimeError):
    """The connection closed; ``close_code`` and ``close_reason`` say how."""

    def __init__(self, close_code: int | None, close_reason: str = "") -> None:
        super().__init__(
            f"connection closed (code {close_code}{': ' + close_reason if close_reason else ''})",
            code="closed",
        )
        self.close_code = close_code
        self.close_reason = close_reason
