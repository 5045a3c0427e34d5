"""The protocol core never raises and stays bounded: 10,000+ hostile server events through the codec and the
connection (hypothesis, derandomized so CI sees the same events every run)."""

from __future__ import annotations

import math
import tracemalloc
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtwidget.protocol.connection import Connection
from rtwidget.protocol.conversation import MAX_CONTENT_INDEX
from rtwidget.protocol.events import Codec, Event, InvalidEvent

from . import fuzz_strategies as F

FUZZ = settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Events fed by the fuzz tests of this module, checked against the figure the issue asks for.
fed = {"events": 0}


def _pump(conn: Connection, text: str | bytes, handed: set[str]) -> Event:
    """One message through everything the I/O layer calls after it; any exception fails the test.

    ``handed`` holds the call ids handed out on this connection so far: none may be handed out twice.
    """
    event = conn.receive_text(text)
    fed["events"] += 1
    assert isinstance(event, Event)
    assert isinstance(event.type, str)
    repr(event)
    if isinstance(event, InvalidEvent):
        assert event.type == "invalid" and event.reason
    for call in conn.function_calls_to_run():
        assert call.call_id not in handed, f"call {call.call_id} handed out twice"
        handed.add(call.call_id)
        conn.function_output(call.call_id, "ok")
    conn.reply_if_due()
    conn.data_to_send()
    _check_bounded(conn)
    return event


def _check_bounded(conn: Connection) -> None:
    for item in conn.conversation._items.values():
        assert len(item.parts) <= MAX_CONTENT_INDEX + 1
        # Readers may trust the annotations, whatever types the server sent.
        assert isinstance(item.type, str) and isinstance(item.arguments, str)
        assert all(isinstance(v, (str, type(None))) for v in (item.role, item.status, item.name, item.output))
        assert isinstance(item.call_id, (str, type(None)))
    for lane in conn.conversation.responses.values():
        assert all(isinstance(v, (dict, type(None))) for v in (lane.metadata, lane.usage, lane.status_details))
    expires = conn.expires_at
    assert expires is None or (isinstance(expires, int) and math.isfinite(expires))


def _connection(dialect: str, turn: bool) -> Connection:
    conn = Connection(dialect)
    if turn:
        conn.send_text("hi")
        conn.data_to_send()
    return conn


@FUZZ
@given(F.session_events())
def fuzz_sequences(events: list[F.Json]) -> None:
    texts = [F.wire(event) for event in events]
    # Each sequence four ways (drawing is the slow part): both dialects, with and without a turn of ours.
    for dialect in ("ga", "beta"):
        for turn in (False, True):
            conn, handed = _connection(dialect, turn), set[str]()
            for text in texts:
                _pump(conn, text, handed)


@FUZZ
@given(st.lists(F.RAW_TEXTS, min_size=1, max_size=4), st.sampled_from(["ga", "beta"]))
def fuzz_raw(texts: list[Any], dialect: str) -> None:
    conn, handed, codec = _connection(dialect, True), set[str](), Codec(dialect)
    for text in texts:
        text = F.RAW[int(text[4:-1])] if isinstance(text, str) and text.startswith("RAW[") else text
        assert isinstance(codec.decode(text), Event)
        _pump(conn, text, handed)


def test_ten_thousand_hostile_events_never_escape_and_stay_bounded() -> None:
    fed["events"] = 0
    fuzz_sequences()
    fuzz_raw()
    assert fed["events"] >= 10_000, fed


@settings(FUZZ, max_examples=40)
@given(F.session_events())
def test_memory_grows_with_the_bytes_fed_not_with_the_numbers_in_them(events: list[F.Json]) -> None:
    texts = [F.wire(event) for event in events]
    size = sum(len(text) for text in texts)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        conn, handed = _connection("ga", True), set[str]()
        for text in texts:
            _pump(conn, text, handed)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Measured: at most ~3x the bytes fed; one delta naming part 10**6 used to allocate 230 MB.
    assert grown <= 10 * size + 100_000, (grown, size)
