"""The widget across its session's connections: panels keep updating after Disconnect -> Connect (a new I/O
loop), a widget made for a session already open takes its state, and a new server session replaces the
conversation shown. A mock comm (no browser), the local server over real loopback WebSockets."""

from __future__ import annotations

import asyncio
from typing import Any

from rtwidget.widget import RealtimeWidget
from rtwidget.widget.batch import PanelBatch
from tests.support import received, run

from .comm_double import MockComm, browser_says, wait_until


def batched(comm: MockComm, key: str) -> list[dict[str, Any]]:
    """Every entry under ``key`` (rows, items, responses) of the batch messages so far, in order."""
    return [entry for content, _ in comm.custom("batch") for entry in content.get(key, [])]


def item_texts(comm: MockComm) -> set[str]:
    return {i.get("text") or "" for i in batched(comm, "items") if not i.get("deleted")}


def test_after_disconnect_and_connect_the_panels_keep_updating(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    browser_says(w, {"kind": "text", "text": "first turn"})
    wait_until(lambda: "first turn" in item_texts(comm), what="the first turn in a batch")
    batch = w.bridge.batch
    batch.batch_s = batch.update_s = 0.5  # the rows logged while closing wait for a flush the loop never runs
    browser_says(w, {"kind": "disconnect"})
    wait_until(lambda: w.status == "closed" and session.state == "closed", what="closed")
    wait_until(lambda: not session._io.running, what="the I/O loop stopped")
    assert batch._handle is not None  # the stale flush, scheduled on the stopped loop
    browser_says(w, {"kind": "connect"})
    wait_until(lambda: w.status == "connected" and session.config, what="connected again")
    batch.batch_s = batch.update_s = 1.0  # due after the stale one: it must not be waited for
    browser_says(w, {"kind": "text", "text": "after reconnecting"})
    wait_until(lambda: len(received(session, "response.done")) == 2, what="the second turn done in the kernel")
    # No hello here (it flushes): the batches alone must carry the new turn, its rows and its reply.
    wait_until(lambda: "after reconnecting" in item_texts(comm), what="the new user item in a batch")
    wait_until(
        lambda: any(i["role"] == "assistant" and i["status"] == "completed" for i in batched(comm, "items")[-3:]),
        what="the new reply in a batch",
    )
    wait_until(lambda: [r for r in batched(comm, "rows")[-40:] if r["type"] == "response.done"], what="rows")


def test_a_flush_scheduled_on_a_stopped_loop_does_not_hold_back_the_next_loops() -> None:
    flushed: list[str] = []
    batch = PanelBatch(lambda: flushed.append("flush"), batch_s=0.01, update_s=0.01)

    async def schedule_only() -> None:
        batch.row({"id": 1}, created=True)
        batch.batch_s = 0.2
        batch.schedule()  # the loop ends before it is due

    asyncio.run(schedule_only())
    assert not flushed

    async def schedule_and_wait() -> None:
        batch.batch_s = 0.4  # due after the stale flush: it must not be waited for
        batch.row({"id": 2}, created=True)
        batch.schedule()
        while not flushed:
            await asyncio.sleep(0.01)

    run(schedule_and_wait)
    assert flushed == ["flush"]
