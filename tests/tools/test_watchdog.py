"""Tests for rtwidget.tools.watchdog: an async tool holding the loop is named, with how long it held it."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from rtwidget.tools import Tool
from rtwidget.tools.watchdog import LoopBlock, LoopWatchdog
from tests.support import run

THRESHOLD_S = 0.2
BLOCK_S = 1.0  # five thresholds: the watchdog's thread checks every quarter threshold


def test_an_async_tool_that_never_awaits_is_named(caplog: pytest.LogCaptureFixture) -> None:
    async def hog() -> str:
        time.sleep(BLOCK_S)  # blocks the loop: no await
        return "done"

    async def main() -> tuple[list[LoopBlock], str]:
        blocks: list[LoopBlock] = []
        watchdog = LoopWatchdog(asyncio.get_running_loop(), blocks.append, THRESHOLD_S)
        watchdog.watch()
        result = await Tool(hog, timeout=THRESHOLD_S).run("", call_id="call_7")
        watchdog.unwatch()
        watchdog.unwatch()  # once too often is harmless
        return blocks, result.output

    with caplog.at_level(logging.WARNING, logger="rtwidget.tools"):
        blocks, output = run(main())
    assert output == "done"  # it could not be pre-empted: not even its timeout fired
    [block] = blocks
    assert (block.name, block.call_id) == ("hog", "call_7")
    assert block.held_s >= THRESHOLD_S
    messages = [r.getMessage() for r in caplog.records]
    assert any("held for over" in m and "'hog' (call call_7)" in m for m in messages)  # logged during the block
    assert any("was held for" in m and "'hog'" in m for m in messages)  # and when the loop was back


def test_a_block_that_is_not_a_tool_and_tools_that_await() -> None:
    async def polite() -> str:
        for _ in range(5):
            await asyncio.sleep(THRESHOLD_S / 10)
        return "ok"

    async def main() -> list[LoopBlock]:
        blocks: list[LoopBlock] = []
        watchdog = LoopWatchdog(asyncio.get_running_loop(), blocks.append, THRESHOLD_S)
        watchdog.watch()
        assert (await Tool(polite).run("", call_id="c1")).output == "ok"
        time.sleep(BLOCK_S)  # the test's own code, not a tool, holds the loop
        await asyncio.sleep(THRESHOLD_S)  # lets the heartbeat report it
        watchdog.close()
        watchdog.close()
        return blocks

    blocks = run(main())
    assert blocks, "the test's own time.sleep held the loop"
    # A tool that awaits is never blamed (an overloaded machine may delay the loop, but with no task running).
    assert all(b.name is None and b.who() == "code that is not a tool" for b in blocks)


def test_bad_threshold() -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match="threshold_s must be positive"):
            LoopWatchdog(asyncio.get_running_loop(), print, 0)

    run(main())
