"""The session package (floor 3): a Realtime session pumping the protocol core over a WebSocket."""

from .session import (
    CLOSED,
    CONNECTED,
    SENT,
    TOOL_DONE,
    TOOL_STARTED,
    LogEntry,
    OutOfBandResult,
    RealtimeError,
    Reply,
    Session,
    SessionClosed,
    ToolCallRecord,
)

__all__ = [
    "CLOSED",
    "CONNECTED",
    "SENT",
    "TOOL_DONE",
    "TOOL_STARTED",
    "LogEntry",
    "OutOfBandResult",
    "RealtimeError",
    "Reply",
    "Session",
    "SessionClosed",
    "ToolCallRecord",
]
