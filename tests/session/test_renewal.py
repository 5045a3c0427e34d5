"""Renewal before ``expires_at``: a local server whose sessions last seconds, and a session that renews itself
(history restored) with ``renew="auto"``, or warns, over real sockets."""

from __future__ import annotations

import logging

import pytest

from rtwidget import Session
from rtwidget.server import LocalServer

from ..support import local, run, until

# Sessions of 6 s on the server; the client acts 3.5 s before the end.
SHORT_SESSION_MINUTES = 0.1
MARGIN_S = 3.5


def test_auto_renewal_replaces_the_connection_before_it_expires_and_keeps_the_history() -> None:
    async def body() -> None:
        async with LocalServer(pace="fast", session_minutes=SHORT_SESSION_MINUTES) as server:
            session = Session(endpoint=server.url, instructions="Be brief.")
            session.renew, session.renew_margin = "auto", MARGIN_S
            try:
                await session.connect()
                first_id = session.connection.session_id
                reply = await session.ask("hello there")
                await until(lambda: local(session, "rtwidget.reconnected"))

                (expiring, *_) = local(session, "rtwidget.expiring")
                assert expiring["renew"] == "auto" and 0 < expiring["seconds_left"] <= MARGIN_S
                whys = [e["why"] for e in local(session, "rtwidget.state") if e["state"] == "reconnecting"]
                assert whys[0] == "renewing the session before its time limit (expires_at)"
                assert session.close_why is None  # open again: nothing ended
                assert server.connections_served >= 2 and session.connection.session_id != first_id
                restored = local(session, "rtwidget.reconnected")[0]
                assert restored["restored"] == 2 and restored["not_restored"] == []
                assert [item.text for item in session.conversation][:2] == ["hello there", reply.text]
                assert session.config["instructions"] == "Be brief."
                again = await session.ask("still there?")
                assert again.text == "You said: still there?"
                # Nobody was told the session closed: a renewal is not an ending.
                assert local(session, "rtwidget.closed") == []
            finally:
                await session.close()

    run(body)


def test_warn_mode_warns_once_and_does_not_renew(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        async with LocalServer(pace="fast", session_minutes=SHORT_SESSION_MINUTES) as server:
            session = Session(endpoint=server.url)
            session.renew_margin = MARGIN_S
            try:
                with caplog.at_level(logging.WARNING, logger="rtwidget.session"):
                    await session.connect()
                    await until(lambda: local(session, "rtwidget.expiring"))
                (expiring,) = local(session, "rtwidget.expiring")
                assert expiring["renew"] == "warn"
                warned = [r.getMessage() for r in caplog.records if "the session ends in" in r.getMessage()]
                assert len(warned) == 1 and "set session.renew = 'auto'" in warned[0]
                assert server.connections_served == 1 and local(session, "rtwidget.reconnected") == []
            finally:
                await session.close()

    run(body)


def test_auto_renewal_does_not_loop_when_the_servers_sessions_are_shorter_than_the_margin(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def body() -> None:
        async with LocalServer(pace="fast", session_minutes=SHORT_SESSION_MINUTES) as server:
            session = Session(endpoint=server.url)
            session.renew, session.renew_margin = "auto", 60.0
            try:
                with caplog.at_level(logging.WARNING, logger="rtwidget.session"):
                    await session.connect()
                    await until(lambda: local(session, "rtwidget.expiring"))
                assert any("shorter than renew_margin" in r.getMessage() for r in caplog.records)
                assert server.connections_served == 1
            finally:
                await session.close()

    run(body)


def test_a_new_margin_applies_at_once_to_the_open_connection(local_server: LocalServer) -> None:
    async def body() -> None:
        session = Session(endpoint=local_server.url, modalities=["text"])
        session.renew = "auto"
        with pytest.raises(ValueError, match="renew_margin must be a number of seconds"):
            session.renew_margin = 0
        with pytest.raises(ValueError, match="renew_margin must be a number of seconds"):
            session.renew_margin = "soon"  # type: ignore[assignment]
        try:
            await session.connect()
            await session.ask("hello there")
            left = session.time_left
            assert left is not None and left > 3000  # an hour-long session: nothing due for 55 minutes
            session.renew_margin = left - 0.5  # as if 55 minutes had passed
            await until(lambda: local(session, "rtwidget.reconnected"))
            assert local(session, "rtwidget.reconnected")[0]["restored"] == 2
            assert session.state == "open"
        finally:
            await session.close()

    run(body)
