"""Fixtures for the whole suite: a local Realtime server on loopback, and sessions connected to it.

Plain helpers (``run``, ``TIMEOUT``, ``sent``, ``received``, ``open_session``) live in ``tests/support.py`` so test
modules import them; pytest discourages importing conftest modules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rtwidget.server import LocalServer

from .support import open_session as _open_session


@pytest.fixture(scope="module")
def local_server() -> Iterator[LocalServer]:
    """A local server (fast pace) on its own thread, shared by one test module; any test loop can reach it."""
    server = LocalServer(pace="fast").start_in_thread()
    try:
        yield server
    finally:
        server.stop_in_thread()


@pytest.fixture
def open_session(local_server: LocalServer) -> Callable[..., contextlib.AbstractAsyncContextManager[Any]]:
    """``async with open_session(**session_kwargs) as session:`` a Session connected to ``local_server``."""

    def opener(**kwargs: Any) -> contextlib.AbstractAsyncContextManager[Any]:
        return _open_session(local_server.url, **kwargs)

    return opener
