"""Helpers of the Connection tests: feed server events in, read what the connection queued to send."""

from __future__ import annotations

import json
from typing import Any

from rtwidget.protocol.connection import Connection
from rtwidget.protocol.events import Event

from . import wire_events as S

Json = dict[str, Any]


def feed(conn: Connection, *events: Json) -> list[Event]:
    return [conn.receive_text(S.wire(event)) for event in events]


def sent(conn: Connection) -> list[Json]:
    """The wire JSON of everything queued since the last drain (and check event == text for GA)."""
    return [json.loads(text) for _, text in conn.data_to_send()]
