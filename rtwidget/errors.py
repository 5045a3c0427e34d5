"""rtwidget's exceptions: one tree with one root, so ``except rtwidget.RealtimeError`` catches them all.

Exception
└── RealtimeError                     the root; also: the server answered a request with an ``error`` event
    ├── SessionClosed                 the WebSocket closed (code and reason kept); the session is closed
    │   └── ConnectionLost            it dropped under a waiting call; the session reconnects by itself
    ├── NotConnected                  a call that needs the socket on a session never connected
    ├── WaitTimeout (+TimeoutError)   a wait ran out: says what for, how long, and what the session saw last
    └── ProtocolError (+ValueError)   an event that does not follow the Realtime protocol
        └── ClientEventError          a client event refused before sending (names the field and the fix)

This module is the ground floor: standard library only, imported by every floor (the protocol core included).
"""

from __future__ import annotations

from typing import Any


class RealtimeError(Exception):
    """The root of rtwidget's errors; raised as is for an ``error`` event from the server.

    ``event`` is the error event (or None), ``code`` its error code.
    """

    def __init__(self, message: str, *, code: str | None = None, event: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.event = event


class SessionClosed(RealtimeError):
    """The connection closed; ``close_code`` and ``close_reason`` say how, ``why`` in plain words when known."""

    def __init__(self, close_code: int | None, close_reason: str = "", *, why: str | None = None) -> None:
        said = f"code {close_code}{': ' + close_reason if close_reason else ''}"
        super().__init__(f"connection closed ({why or said})", code="closed")
        self.close_code = close_code
        self.close_reason = close_reason
        self.why = why


class ConnectionLost(SessionClosed):
    """The connection dropped under a call that waited for the server (an ``ask()``, a ``wait_for``). The
    session reconnects by itself (``session.state == "reconnecting"``), but that call's answer is lost: make it
    again once the session is open. ``why`` says in plain words how the connection ended."""

    def __init__(self, why: str, close_code: int | None = None, *, fix: str | None = None) -> None:
        fix = fix or "call it again once session.state is 'open' (await session.connect() waits for it)"
        RealtimeError.__init__(
            self,
            f"the connection dropped ({why}); the session is reconnecting, and the answer this call waited for is "
            f"lost: {fix}",
            code="connection_lost",
        )
        self.close_code = close_code
        self.close_reason = why
        self.why = why


class NotConnected(RealtimeError):
    """A call that needs the open socket was made on a session that was never connected (or is connecting)."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} needs a connected session: await session.connect() first, or show the session's widget",
            code="not_connected",
        )


class WaitTimeout(RealtimeError, TimeoutError):
    """A wait ran out (also a ``TimeoutError``); the message says what it waited for, for how long, and the
    last event the session received (``waited_for``, ``timeout`` and ``last_event`` keep them)."""

    def __init__(self, waited_for: str, timeout: float, last_event: str) -> None:
        super().__init__(
            f"waited {timeout:g} s for {waited_for}; nothing came. Last event received: {last_event}",
            code="timeout",
        )
        self.waited_for = waited_for
        self.timeout = timeout
        self.last_event = last_event


class ProtocolError(RealtimeError, ValueError):
    """An event that does not follow the Realtime protocol (also a ``ValueError``: it is bad input)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="protocol_error")


class ClientEventError(ProtocolError):
    """A client event refused before sending.

    ``path`` is the dotted field path (``"session.modalities"``, ``"item.content[0].type"``) and ``fix`` says
    what to send instead. Both appear in the message.
    """

    def __init__(self, event_type: str, path: str, problem: str, fix: str) -> None:
        self.event_type = event_type
        self.path = path
        self.problem = problem
        self.fix = fix
        where = f"{event_type}: {path}" if path else event_type
        super().__init__(f"{where}: {problem}. Fix: {fix}")
        self.code = "invalid_client_event"
