"""``rtwidget.testing`` used the way a user would: a pytest run (pytester, in a subprocess) that loads the plugin
and replays a cassette recorded here with ``rtwidget_cassette``; and ``replay_server`` without pytest's help."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rtwidget import Session
from rtwidget.errors import RealtimeError, SessionClosed
from rtwidget.server import LocalServer
from rtwidget.testing import replay_server
from tests.support import TIMEOUT

pytest_plugins = ["pytester"]


async def ask(url: str, text: str) -> str:
    async with Session(endpoint=url, turn_detection=None) as session:
        return (await asyncio.wait_for(session.ask(text), TIMEOUT)).text


@pytest.fixture(scope="module")
def cassette(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A cassette of one typed question answered by the local server, and the answer's text."""
    path = tmp_path_factory.mktemp("fixture") / "hello.cassette"
    server = LocalServer(pace="fast").start_in_thread()

    async def record() -> str:
        session = Session(endpoint=server.url, turn_detection=None)
        session.record(path)
        async with session:
            return (await asyncio.wait_for(session.ask("hello there"), TIMEOUT)).text

    try:
        answer = asyncio.run(record())
    finally:
        server.stop_in_thread()
    return path, answer


USER_TESTS = """
import asyncio

import pytest
from rtwidget import Session
from rtwidget.errors import RealtimeError, SessionClosed

CASSETTE = {path!r}


async def ask(url, text):
    async with Session(endpoint=url, turn_detection=None) as session:
        return (await session.ask(text)).text


def test_replayed(rtwidget_cassette):
    assert asyncio.run(ask(rtwidget_cassette(CASSETTE), "hello there")) == {answer!r}


def test_another_question_is_refused(rtwidget_cassette):
    with pytest.raises((RealtimeError, SessionClosed), match="cassette_mismatch"):
        asyncio.run(ask(rtwidget_cassette(CASSETTE, pace="realtime"), "something else"))
"""


def test_a_users_tests_replay_a_cassette_with_the_plugin(pytester: pytest.Pytester, cassette: tuple[Path, str]) -> None:
    path, answer = cassette
    pytester.makeconftest('pytest_plugins = ["rtwidget.testing"]\n')
    pytester.makepyfile(test_user=USER_TESTS.format(path=str(path), answer=answer))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=TIMEOUT)
    result.assert_outcomes(passed=2)


def test_replay_server_without_pytest(cassette: tuple[Path, str]) -> None:
    path, answer = cassette
    with replay_server(path) as server:
        assert server.running and server.cassette is not None
        assert asyncio.run(ask(server.url, "hello there")) == answer
        with pytest.raises((RealtimeError, SessionClosed), match="cassette_mismatch"):
            asyncio.run(ask(server.url, "hello again"))
    assert not server.running


def test_replay_server_names_a_missing_cassette(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no cassette at"), replay_server(tmp_path / "none.cassette"):
        pass


def test_replay_server_in_a_python_without_pytest(cassette: tuple[Path, str]) -> None:
    """A notebook's kernel with only the notebook extra has no pytest: the module still imports, without the
    fixture (it imported pytest at the top and failed with ModuleNotFoundError)."""
    path, answer = cassette
    code = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.modules["pytest"] = None  # as if pytest were not installed
        import rtwidget.testing as testing
        from rtwidget import Session
        assert not testing.HAS_PYTEST and testing.__all__ == ["replay_server"]
        assert not hasattr(testing, "rtwidget_cassette")

        async def ask(url):
            async with Session(endpoint=url, turn_detection=None) as session:
                return (await session.ask("hello there")).text

        with testing.replay_server({str(path)!r}) as server:
            print(asyncio.run(ask(server.url)))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT * 3)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == answer
