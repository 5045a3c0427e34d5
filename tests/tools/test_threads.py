"""Tests for rtwidget.tools.threads: stuck calls never starve the next ones; a bound with a clear error."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from rtwidget.tools import Tool, ToolResult, ToolThreads, ToolThreadsExhausted
from tests.support import run


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event the blocked calls wait on, set at the end of the test whatever happens."""
    event = threading.Event()
    yield event
    event.set()


def test_stuck_calls_do_not_starve_the_next(release: threading.Event) -> None:
    threads = ToolThreads(idle_threads=2)
    stuck = [threads.start(f"stuck{i}", release.wait) for i in range(6)]
    assert threads.start("quick", lambda: "done").result(timeout=10) == "done"
    assert sorted(c.label for c in threads.running()) == [f"stuck{i}" for i in range(6)]
    assert not any(f.done() for f in stuck)
    release.set()
    assert all(f.result(timeout=10) is True for f in stuck)
    threads.shutdown()


def test_the_bound_gives_a_clear_error(release: threading.Event) -> None:
    threads = ToolThreads(max_threads=2)
    threads.start("'slow' (call c1)", release.wait)
    threads.start("'slow' (call c2)", release.wait)
    with pytest.raises(ToolThreadsExhausted, match=r"cannot run 'next': all 2 tool threads are busy") as info:
        threads.start("'next'", lambda: None)
    assert "'slow' (call c1)" in str(info.value) and "ignore their timeout" in str(info.value)
    release.set()
    threads.shutdown()


def test_idle_threads_are_reused_and_shutdown_refuses_new_calls() -> None:
    threads = ToolThreads(idle_threads=1)
    names = [threads.start("who", lambda: threading.current_thread().name).result(timeout=10) for _ in range(3)]
    assert len(set(names)) == 1 and names[0].startswith("rtwidget-tool-")
    assert threads.thread_count == 1
    threads.shutdown()
    threads.shutdown()  # twice is harmless
    with pytest.raises(RuntimeError, match="shut down"):
        threads.start("late", lambda: None)


def test_submit_and_base_exceptions_from_plain_callables() -> None:
    threads = ToolThreads()
    assert threads.submit(pow, 2, 5).result(timeout=10) == 32

    def interrupt() -> None:
        raise KeyboardInterrupt

    def value_error() -> None:
        raise ValueError("v")

    with pytest.raises(RuntimeError, match="interrupt raised KeyboardInterrupt"):
        threads.submit(interrupt).result(timeout=10)
    with pytest.raises(ValueError, match="v"):
        threads.submit(value_error).result(timeout=10)
    threads.shutdown()


def test_bad_bounds() -> None:
    with pytest.raises(ValueError, match="max_threads must be >= 1"):
        ToolThreads(max_threads=0)


def test_timed_out_tools_leave_room_for_a_quick_one(release: threading.Event) -> None:
    """Five sync tools blocked past their timeout, then a quick tool still runs (a pool of 4 would queue it)."""

    def stuck() -> str:
        release.wait()
        return "late"

    def quick() -> str:
        return "quick"

    async def main(threads: ToolThreads) -> tuple[list[ToolResult], ToolResult]:
        blocked = Tool(stuck, timeout=0.2)
        timed_out = await asyncio.gather(*(blocked.run("", call_id=f"c{i}", executor=threads) for i in range(5)))
        return timed_out, await Tool(quick, timeout=5).run("", executor=threads)

    threads = ToolThreads()
    timed_out, fast = run(main(threads))
    assert [r.error_kind for r in timed_out] == ["timeout"] * 5
    assert fast.ok and fast.output == "quick"
    assert sorted(c.label for c in threads.running()) == [f"'stuck' (call c{i})" for i in range(5)]
    release.set()
    threads.shutdown()
