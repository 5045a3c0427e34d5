"""Helpers shared by the test packages: one time limit, running async test bodies, reading a session's log.

The fixtures built on these (a local server, an open session) are in ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# Slow or loaded machines: RTWIDGET_TEST_TIMEOUT_SCALE=3 gives every wait in the suite three times as long.
TIMEOUT_SCALE = float(os.environ.get("RTWIDGET_TEST_TIMEOUT_SCALE", "1") or 1)
# The hard limit of one async test body, and the unit that shorter waits are scaled from.
TIMEOUT = 60.0 * TIMEOUT_SCALE


def scaled(seconds: float) -> float:
    """A wait of ``seconds`` on a normal machine, scaled like every other wait of the suite."""
    return seconds * TIMEOUT_SCALE


def run(body: Callable[[], Awaitable[T]] | Coroutine[Any, Any, T], timeout: float = TIMEOUT) -> T:
    """Run an async test body (a coroutine function or a coroutine) in a fresh loop, with a hard time limit."""
    coro = body if asyncio.iscoroutine(body) else body()  # type: ignore[operator]

    async def limited() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(limited())


def wait_until(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``condition`` from a plain thread until it is truthy (returns its value); fail naming ``what``."""
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def sent(session: Any, etype: str) -> list[dict[str, Any]]:
    """The client events of one type that the session logged (sent), in order."""
    return [e.data for e in list(session.log) if e.direction == "client" and e.type == etype]


def received(session: Any, etype: str) -> list[dict[str, Any]]:
    """The server events of one type that the session logged (received), in order."""
    return [e.data for e in list(session.log) if e.direction == "server" and e.type == etype]


def local(session: Any, etype: str) -> list[dict[str, Any]]:
    """The data of the session's local (``rtwidget.*``) events of one type that it logged, in order."""
    return [e.data for e in list(session.log) if e.direction == "local" and e.type == etype]


async def until(condition: Callable[[], Any], timeout: float = TIMEOUT) -> None:
    """Wait until ``condition()`` is true, polling; at most ``timeout`` (then TimeoutError)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def open_session(url: str, **kwargs: Any) -> AsyncIterator[Any]:
    """A connected Session to ``url`` (``session.updated`` confirmed), closed on exit whatever happens."""
    from rtwidget import Session

    session = Session(endpoint=url, **kwargs)
    try:
        await session.connect()
        yield session
    finally:
        await session.close()
