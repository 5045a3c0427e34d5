"""An unclosed session releases its thread and socket when collected (with a ResourceWarning), and a script
that exits with or without close() ends with a clean stderr."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
import warnings

import pytest

from rtwidget import Session
from rtwidget.server import LocalServer
from tests.support import TIMEOUT, run, scaled


def session_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("rtwidget-session")}


def test_a_collected_unclosed_session_releases_its_thread_and_socket(local_server: LocalServer) -> None:
    before = session_threads()

    async def connect() -> str:
        session = Session(endpoint=local_server.url, modalities=["text"])
        await session.connect()
        assert (await session.ask("then forgotten")).text == "You said: then forgotten"
        return session._io.name

    name = run(connect)
    assert name in session_threads()  # still running: nobody closed it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [
        w for w in caught if issubclass(w.category, ResourceWarning) and "unclosed rtwidget.Session" in str(w.message)
    ]
    assert session_threads() == before

    async def server_sees_it_closed() -> None:
        while local_server.open_connections:
            await asyncio.sleep(0.01)

    run(asyncio.wait_for(server_sees_it_closed(), scaled(10)))


SCRIPT = """
import asyncio, sys
from rtwidget import Session
from rtwidget.server import LocalServer

server = LocalServer(pace="fast").start_in_thread()
session = Session(endpoint=server.url, modalities=["text"])
if sys.argv[1] == "widget":  # the widget connects the session too, and the script connects it again
    from rtwidget import RealtimeWidget

    widget = RealtimeWidget(session)

async def main():
    await session.connect()
    print((await session.ask("bye")).text)
    print("sockets:", [e.type for e in session.log].count("rtwidget.connected"))
    if sys.argv[1] == "close":
        await session.close()

asyncio.run(main())
"""


@pytest.mark.parametrize("ending", ["close", "no close", "widget"])
def test_a_script_ends_with_a_clean_stderr(ending: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT")}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, ending], capture_output=True, text=True, timeout=TIMEOUT, env=env, check=True
    )
    assert out.stdout.split("\n")[:2] == ["You said: bye", "sockets: 1"]
    assert out.stderr == ""
