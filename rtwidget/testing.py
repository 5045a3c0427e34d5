"""Cassettes in your own tests: replay a recorded session as a local Realtime server, no key and no network.

Record once against the real API (``session.record("tests/data/hello.cassette")``), then test your code against
the recording. With pytest, load this module as a plugin (in your top-level ``conftest.py``)::

    pytest_plugins = ["rtwidget.testing"]

and ask for the ``rtwidget_cassette`` fixture: call it with a cassette's path to get the URL of a server that
replays it (stopped when the test ends)::

    import asyncio
    from rtwidget import Session

    def test_greeting(rtwidget_cassette):
        url = rtwidget_cassette("tests/data/hello.cassette")

        async def talk():
            async with Session(endpoint=url, turn_detection=None) as session:   # the same calls as recorded
                return await session.ask("hello there")

        assert "hello" in asyncio.run(talk()).text

Any Realtime client works (the URL is a plain WebSocket endpoint; the openai SDK wants it without
``/realtime``: ``websocket_base_url=url.removesuffix("/realtime")``). Without pytest, use :func:`replay_server`.

The server answers the client's events with the recorded ones, in order; a client that makes other calls than the
recording gets an ``error`` event with code ``cassette_mismatch`` saying which, and the connection closes (see
``docs/cassettes.md``, "Replaying").
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterator

from rtwidget.cassette import CassetteSource
from rtwidget.server import LocalServer
from rtwidget.server.engine import Pace

# replay_server works without pytest (a notebook, a script); the fixture exists where pytest does.
HAS_PYTEST = importlib.util.find_spec("pytest") is not None
__all__ = ["replay_server", "rtwidget_cassette"] if HAS_PYTEST else ["replay_server"]


@contextlib.contextmanager
def replay_server(cassette: CassetteSource, *, pace: Pace = "fast") -> Iterator[LocalServer]:
    """A local server replaying ``cassette`` (a path or a :class:`~rtwidget.cassette.Cassette`) on its own thread,
    stopped on exit. ``pace="fast"`` (default) sends each recorded answer at once, ``"realtime"`` at its recorded
    pace. Raises FileNotFoundError / ValueError naming the file when it is missing or not a cassette.

    ::

        with replay_server("tests/data/hello.cassette") as server:
            session = Session(endpoint=server.url, turn_detection=None)
            ...
    """
    server = LocalServer(pace=pace, cassette=cassette).start_in_thread()
    try:
        yield server
    finally:
        server.stop_in_thread()


if HAS_PYTEST:
    import pytest

    @pytest.fixture
    def rtwidget_cassette() -> Iterator[Callable[..., str]]:
        """A function ``replay(cassette, pace="fast") -> url``: starts a server replaying ``cassette`` and returns its
        URL (``ws://127.0.0.1:PORT/v1/realtime``); every server started is stopped when the test ends.

        ::

            def test_it(rtwidget_cassette):
                url = rtwidget_cassette("tests/data/hello.cassette")
        """
        with contextlib.ExitStack() as servers:

            def replay(cassette: CassetteSource, pace: Pace = "fast") -> str:
                return servers.enter_context(replay_server(cassette, pace=pace)).url

            yield replay
