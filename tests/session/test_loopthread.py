"""The I/O thread: call() can refuse to start a stopped loop, times out with a WaitTimeout, and a stop leaves
no pending task behind."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from rtwidget._loopthread import LoopThread
from rtwidget.errors import RealtimeError, WaitTimeout


def test_call_with_start_false_does_not_start_a_stopped_loop() -> None:
    io = LoopThread("rtwidget-test-io")
    with pytest.raises(RuntimeError, match="not running"):
        io.call(lambda: 1, start=False)
    assert not io.running and not [t for t in threading.enumerate() if t.name == "rtwidget-test-io"]
    assert io.call(lambda: 2) == 2 and io.running
    assert io.call(lambda: 3, start=False) == 3
    io.stop()
    with pytest.raises(RuntimeError):
        io.call(lambda: 4, start=False)


def test_call_or_here_runs_on_the_loop_if_it_runs_else_here_without_starting_one() -> None:
    io = LoopThread("rtwidget-test-io")
    here = threading.current_thread()
    assert io.call_or_here(threading.current_thread) is here and not io.running
    io.start()
    try:
        ran_on = io.call_or_here(threading.current_thread)
        assert ran_on is not here and ran_on.name == "rtwidget-test-io"
        with pytest.raises(ZeroDivisionError):  # the function's own error reaches the caller
            io.call_or_here(lambda: 1 / 0)
    finally:
        io.stop()
    assert io.call_or_here(threading.current_thread) is here and not io.running


def test_a_call_that_times_out_says_what_it_waited_for() -> None:
    io = LoopThread("rtwidget-test-io")
    release = threading.Event()
    try:
        io.start()
        assert io.call_soon(release.wait)  # the loop is busy until released
        with pytest.raises(WaitTimeout) as info:
            io.call(lambda: None, timeout=0.05)
        assert isinstance(info.value, TimeoutError) and isinstance(info.value, RealtimeError)
        assert "rtwidget-test-io" in str(info.value) and "0.05 s" in str(info.value)
    finally:
        release.set()
        io.stop()


def test_stop_cancels_and_awaits_pending_tasks() -> None:
    io = LoopThread("rtwidget-test-io")
    ended: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            ended.append("cancelled and awaited")

    io.submit(forever())
    deadline = time.monotonic() + 10
    loop = io.start()
    while not [t for t in asyncio.all_tasks(loop) if not t.done()] and time.monotonic() < deadline:
        time.sleep(0.01)
    io.stop()
    assert ended == ["cancelled and awaited"] and loop.is_closed()


def test_call_or_here_does_not_run_again_a_function_whose_own_error_says_not_running() -> None:
    io = LoopThread("rtwidget-test-io")
    runs: list[threading.Thread] = []

    def fn() -> None:
        runs.append(threading.current_thread())
        raise RuntimeError("the recorder is not running")

    io.start()
    try:
        with pytest.raises(RuntimeError, match="recorder is not running"):
            io.call_or_here(fn)
    finally:
        io.stop()
    assert len(runs) == 1 and runs[0].name == "rtwidget-test-io"
