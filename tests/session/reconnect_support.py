"""What the reconnect tests share: a turn, then a second one cut by the scripted drop, then the wait for the
reconnect."""

from __future__ import annotations

import pytest

from rtwidget import ConnectionLost, Reply, Session

# Server events of one spoken ask() on the local server (fast pace): 34, after session.created and .updated; so
# at event 50 of the first connection the second ask's response is mid-audio, past its first transcript delta.
MID_SECOND_RESPONSE = 50


async def through_a_drop(session: Session) -> Reply:
    """Connect, ask once, ask again under a server that drops at :data:`MID_SECOND_RESPONSE` (ConnectionLost),
    and wait for the reconnect; returns the first reply."""
    await session.connect()
    first = await session.ask("hello there")
    with pytest.raises(ConnectionLost):
        await session.ask("tell me more")
    await session.connect()
    return first
