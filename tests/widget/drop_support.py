"""A session whose local server drops its first connection mid-way through the second spoken turn, reconnecting
at once: what the widget's reconnect tests share."""

from __future__ import annotations

import pytest

import rtwidget.session.reconnect as reconnect_mod
from rtwidget import Session
from rtwidget.server import LocalServer, Script

from ..session.reconnect_support import MID_SECOND_RESPONSE


def dropping_session(monkeypatch: pytest.MonkeyPatch) -> tuple[LocalServer, Session]:
    """A started local server whose first connection is reset mid-way through the second spoken reply, and a
    session to it that reconnects with almost no backoff (stop the server when done)."""
    monkeypatch.setattr(reconnect_mod, "backoff_delay", lambda attempt: 0.05)
    script = Script().disconnect_after(MID_SECOND_RESPONSE, reset=True, connection=1)
    server = LocalServer(pace="fast", script=script).start_in_thread()
    return server, Session(endpoint=server.url)
