"""The widget across its session's connections: panels keep updating after Disconnect -> Connect (a new I/O
loop), a widget made for a session already open takes its state, and a new server session replaces the
conversation shown. A mock comm (no browser), the local server over real loopback WebSockets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from rtwidget import Session
from rtwidget.server import LocalServer
from rtwidget.widget import RealtimeWidget
from rtwidget.widget.batch import PanelBatch
from tests.support import received, run

from .comm_double import MockComm, barrier, browser_says, comm_of, wait_until
from .drop_support import dropping_session


def batched(comm: MockComm, key: str) -> list[dict[str, Any]]:
    """Every entry under ``key`` (rows, items, responses) of the panel batches so far (alone or riding with audio),
    in order."""
    return [entry for content in comm.batches() for entry in content.get(key, [])]


def item_texts(comm: MockComm) -> set[str]:
    return {i.get("text") or "" for i in batched(comm, "items") if not i.get("deleted")}


def test_after_disconnect_and_connect_the_panels_keep_updating(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    browser_says(w, {"kind": "text", "text": "first turn"})
    wait_until(lambda: "first turn" in item_texts(comm), what="the first turn in a batch")
    # Its reply done before the disconnect (else the close cuts it off, and only one response.done is ever seen).
    wait_until(lambda: len(received(session, "response.done")) == 1, what="the first turn done in the kernel")
    batch = w.bridge.batch
    batch.batch_s = batch.update_s = 1.0  # the rows logged while closing wait for a flush the loop never runs
    browser_says(w, {"kind": "disconnect"})
    wait_until(lambda: w.status == "closed" and session.state == "closed", what="closed")
    wait_until(lambda: not session._io.running, what="the I/O loop stopped")
    assert batch._handle is not None  # the stale flush, scheduled on the stopped loop
    browser_says(w, {"kind": "connect"})
    wait_until(lambda: w.status == "connected" and session.config, what="connected again")
    stale = batch._handle
    assert stale is not None
    wait_until(lambda: stale.when() < time.monotonic(), what="the stale flush overdue")  # loop time: monotonic
    batch.batch_s, batch.update_s = 0.05, 0.25  # every flush now due after the stale one: none may wait for it
    browser_says(w, {"kind": "text", "text": "after reconnecting"})
    wait_until(lambda: len(received(session, "response.done")) == 2, what="the second turn done in the kernel")
    # No hello here (it flushes): the batches alone must carry the new turn, its rows and its reply.
    wait_until(lambda: "after reconnecting" in item_texts(comm), what="the new user item in a batch")
    new_ids = {i.id for i in session.conversation_state.items}
    wait_until(
        lambda: [i for k, i in shown_items(comm).items() if k in new_ids and i["status"] == "completed"][1:],
        what="the new turn's two items, completed, in a batch",
    )
    wait_until(lambda: len([r for r in batched(comm, "rows") if r["type"] == "response.done"]) == 2, what="rows")


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


def shown_items(comm: MockComm) -> dict[str, dict[str, Any]]:
    """The conversation panel as the browser builds it from the batches: item views by id, removals applied."""
    shown: dict[str, dict[str, Any]] = {}
    for item in batched(comm, "items"):
        if item.get("deleted"):
            shown.pop(item["id"], None)
        else:
            shown[item["id"]] = item
    return shown


def test_a_widget_for_a_session_already_open_takes_its_state(local_server: LocalServer, comms: list[MockComm]) -> None:
    session = Session(endpoint=local_server.url)
    try:
        run(session.connect())  # `await session.connect()` in one cell, the widget in the next
        run(session.ask("before the widget"))
        w = RealtimeWidget(session)
        comm = comm_of(comms, w)
        wait_until(lambda: w.endpoint and w.usage, what="the session's state in the traits")
        assert w.status == "connected" and w.endpoint["model"] == session.model
        assert w.endpoint["label"] and w.endpoint["kind"] == "custom" and w.connected_at > 0
        assert w.session_config == session.config and w.usage["responses"] == 1
        # Pushed without a hello: the log so far and the conversation.
        wait_until(lambda: {"session.created", "session.update"} <= {r["type"] for r in batched(comm, "rows")})
        wait_until(lambda: {"before the widget"} <= {i["text"] for i in shown_items(comm).values()})
        snapshot = barrier(w, comm, "reload")
        types = [r["type"] for r in snapshot["rows"]]
        assert types.index("session.created") < types.index("session.update") < types.index("response.done")
        assert {i["role"] for i in snapshot["items"]} == {"user", "assistant"}
        assert len(snapshot["responses"]) == 1
    finally:
        session.stop().result(10)
    w.close()


def test_a_new_server_session_replaces_the_conversation_shown(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    browser_says(w, {"kind": "text", "text": "in the old session"})
    wait_until(lambda: "in the old session" in item_texts(comm), what="the old turn shown")
    wait_until(lambda: received(session, "response.done"), what="the old turn done")
    old_ids = set(shown_items(comm))
    session.stop().result(10)
    w.connect()
    wait_until(lambda: w.status == "connected" and session.config, what="connected to a new server session")
    browser_says(w, {"kind": "text", "text": "in the new session"})
    wait_until(lambda: len(received(session, "response.done")) == 2, what="the new turn done")
    wait_until(lambda: "in the new session" in item_texts(comm), what="the new turn shown")
    wait_until(lambda: len(shown_items(comm)) == 2, what="the old items removed")
    shown = shown_items(comm)
    assert {i["text"] for i in shown.values() if i["role"] == "user"} == {"in the new session"}
    assert set(shown) == {i.id for i in session.conversation_state.items}
    assert old_ids and not old_ids & set(shown)
    # A reload: the usage table lists both responses, as its total counts them.
    snapshot = barrier(w, comm, "reload")
    assert len(snapshot["responses"]) == w.usage["responses"] == 2
    assert {i["id"] for i in snapshot["items"]} == set(shown)


def test_a_reconnect_keeps_the_restored_items_and_removes_the_rest(
    comms: list[MockComm], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, session = dropping_session(monkeypatch)
    w = RealtimeWidget(session)
    comm = comms[-1]
    try:
        wait_until(lambda: session.state == "open" and w.status == "connected", what="open")
        browser_says(w, {"kind": "text", "text": "hello there"})
        wait_until(lambda: received(session, "response.done"), what="the first reply")
        wait_until(lambda: len(shown_items(comm)) == 2, what="the first turn shown")
        first_turn = set(shown_items(comm))
        browser_says(w, {"kind": "text", "text": "tell me more"})
        wait_until(lambda: w.status_message.startswith("reconnected:"), what="the reconnect")
        (done,) = [e.data for e in list(session.log) if e.type == "rtwidget.reconnected"]
        lost = {m["item_id"] for m in done["not_restored"]}
        barrier(w, comm, "after")  # what is pending is sent first
        shown = set(shown_items(comm))
        assert first_turn <= shown  # restored with the same ids: still shown, never removed
        assert not [i for i in batched(comm, "items") if i.get("deleted") and i["id"] in first_turn]
        assert not lost & shown
        assert shown == {i.id for i in session.conversation_state.items}
    finally:
        session.stop().result(10)
        server.stop_in_thread()
        w.close()
