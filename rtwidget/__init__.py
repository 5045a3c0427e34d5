"""rtwidget: talk to Realtime speech-to-speech models from a notebook, and see everything on the wire.

session = rtwidget.Session()          # no key: the local server; OPENAI_API_KEY: OpenAI
await session.connect()
reply = await session.ask("hello")
session                               # in a notebook: the widget (talk, listen, watch every event)
"""

from .errors import RealtimeError, SessionClosed
from .protocol.errors import ClientEventError, ProtocolError
from .session import LogEntry, OutOfBandResult, Reply, Session, ToolCallRecord
from .tools import Tool, ToolRegistry, ToolResult
from .transport import Endpoint
from .widget import RealtimeWidget  # also lets a Session show itself as the widget

__version__ = "0.1.0"

__all__ = [
    "ClientEventError",
    "Endpoint",
    "LogEntry",
    "OutOfBandResult",
    "ProtocolError",
    "RealtimeError",
    "RealtimeWidget",
    "Reply",
    "Session",
    "SessionClosed",
    "Tool",
    "ToolCallRecord",
    "ToolRegistry",
    "ToolResult",
    "__version__",
]
