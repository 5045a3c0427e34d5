"""The session package (floor 3): a Realtime session pumping the protocol core over a WebSocket.

- ``session``: :class:`Session` and the pump, on its own I/O thread; ``lifecycle``: its states, connect, close;
- ``dispatch``: the one event bus (handlers, waiters, ``events()``, log listeners) and its threading rule;
- ``sending``: the client-event methods; ``turns``: ``ask`` and out-of-band responses;
- ``tool_calls``: registering tools, the tool list, answering calls (a raw-declared tool's calls are the user's);
- ``approvals``: calls that wait for a person (``approve=True``);
- ``tool_runner``: the model's function calls; ``reporting``: server errors and user-code failures;
- ``local_events``: the ``rtwidget.*`` events and the log's records; ``endpoint_policy``: where to connect;
- ``doctoring``: the doctor's feeds, ``session.hints`` and the ``rtwidget.hint`` events.

The widget (floor 4) takes what it needs of the protocol from here, never from ``rtwidget.protocol``.
"""

from ..errors import NotConnected, RealtimeError, SessionClosed, WaitTimeout
from ..protocol.doctor import Hint
from ..protocol.event_types import EAGERNESS, PUSH_TO_TALK, TRANSCRIPTION_MODELS, TURN_MODES, VAD_TYPES, VOICES
from ..protocol.events import Event
from ..protocol.server_errors import HARMLESS_ERROR_CODES, ErrorInfo, error_info
from ..protocol.session_config import turn_mode
from .approvals import TOOL_APPROVAL, PendingApproval
from .endpoint_policy import EndpointFactory, local_server_endpoint
from .lifecycle import STATES
from .local_events import CLOSED, CONNECTED, ERROR, HINT, SENT, STATE, TOOL_DONE, TOOL_STARTED, LogEntry, ToolCallRecord
from .session import Session
from .turns import OutOfBandResult, Reply

__all__ = [
    "CLOSED",
    "CONNECTED",
    "EAGERNESS",
    "ERROR",
    "HARMLESS_ERROR_CODES",
    "HINT",
    "PUSH_TO_TALK",
    "SENT",
    "STATE",
    "STATES",
    "TOOL_APPROVAL",
    "TOOL_DONE",
    "TOOL_STARTED",
    "TRANSCRIPTION_MODELS",
    "TURN_MODES",
    "VAD_TYPES",
    "VOICES",
    "EndpointFactory",
    "ErrorInfo",
    "Event",
    "Hint",
    "LogEntry",
    "NotConnected",
    "OutOfBandResult",
    "PendingApproval",
    "RealtimeError",
    "Reply",
    "Session",
    "SessionClosed",
    "ToolCallRecord",
    "WaitTimeout",
    "error_info",
    "local_server_endpoint",
    "turn_mode",
]
