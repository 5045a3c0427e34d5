"""Exceptions of the protocol core.

ValueError
└── ProtocolError                 anything wrong with an event
    └── ClientEventError          a client event that must not be sent (names the field and the fix)
"""

from __future__ import annotations


class ProtocolError(ValueError):
    """An event that does not follow the Realtime protocol."""


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
