"""Event-log rows (merging, bounds, clipping) and the panel views, without a session."""

from __future__ import annotations

from rtwidget.widget.eventlog import MAX_STRING, RowLog, clip, is_stream, public, summary
from rtwidget.widget.panels import ToolBoard


def delta(item: str, text: str) -> dict[str, object]:
    return {"type": "response.output_audio_transcript.delta", "item_id": item, "delta": text}


def audio(item: str, n: int) -> dict[str, object]:
    return {"type": "response.output_audio.delta", "item_id": item, "delta": f"<{n} bytes>"}


def test_a_run_of_deltas_of_one_item_is_one_row() -> None:
    log = RowLog()
    first, created = log.add(0.1, "server", "response.output_audio_transcript.delta", 60, delta("a", "Hel"))
    assert created and first["count"] == 1 and first["text"] == "Hel"
    for i, piece in enumerate(["lo", " there"]):
        row, created = log.add(0.2 + i, "server", "response.output_audio_transcript.delta", 70, delta("a", piece))
        assert not created and row is first
    assert first["count"] == 3 and first["size"] == 200 and first["text"] == "Hello there"
    assert first["data"]["delta"] == " there"  # the latest event, for the detail view
    assert len(log) == 1


def test_interleaved_streams_merge_per_type_and_item_until_another_event() -> None:
    log = RowLog()
    for _ in range(3):
        log.add(0, "server", "response.output_audio.delta", 100, audio("a", 4800))
        log.add(0, "server", "response.output_audio_transcript.delta", 50, delta("a", "x"))
    assert [(r["type"], r["count"]) for r in log.rows] == [
        ("response.output_audio.delta", 3),
        ("response.output_audio_transcript.delta", 3),
    ]
    assert log.rows[0]["text"] == "0.30 s of audio"
    log.add(0, "server", "response.output_audio.delta", 100, audio("b", 4800))  # another item: new row
    assert len(log) == 3
    log.add(0, "server", "response.done", 300, {"type": "response.done", "response": {"status": "completed"}})
    log.add(0, "server", "response.output_audio.delta", 100, audio("b", 4800))  # the run ended: new row
    assert len(log) == 5 and log.rows[3]["text"] == "completed"


def test_mic_appends_merge_and_other_client_events_do_not() -> None:
    log = RowLog()
    for _ in range(10):
        log.add(
            0,
            "client",
            "input_audio_buffer.append",
            6500,
            {"type": "input_audio_buffer.append", "audio": "<4800 bytes>", "event_id": "e"},
        )
    assert len(log) == 1 and log.rows[0]["count"] == 10 and log.rows[0]["text"] == "1.00 s of audio"
    log.add(0, "client", "response.create", 40, {"type": "response.create", "event_id": "e1"})
    log.add(0, "client", "response.create", 40, {"type": "response.create", "event_id": "e2"})
    assert [r["event_id"] for r in list(log.rows)[1:]] == ["e1", "e2"]


def test_bounded_rows_count_what_they_drop() -> None:
    log = RowLog(limit=5)
    for i in range(12):
        log.add(i, "server", "response.done", 1, {"type": "response.done"})
    assert len(log) == 5 and log.dropped == 7 and log.total == 12
    assert [r["id"] for r in log.last(3)] == [10, 11, 12]
    assert [r["id"] for r in log.last(50)] == [8, 9, 10, 11, 12]


def test_error_rows_keep_their_cause_and_say_what_went_wrong() -> None:
    log = RowLog()
    err = {"type": "error", "error": {"code": "item_not_found", "message": "no item x"}}
    row, _ = log.add(1.0, "server", "error", 90, err, cause_id="evt_7")
    assert row["cause_id"] == "evt_7" and row["text"] == "item_not_found: no item x"
    assert row["event_id"] is None  # only client rows carry their own event id


def test_long_strings_are_clipped_and_bookkeeping_stays_home() -> None:
    data = {"instructions": "x" * 5000, "nested": [{"s": "y" * 2000}], "n": 3}
    out = clip(data)
    assert out["instructions"].startswith("x" * MAX_STRING) and "(5000 characters)" in out["instructions"]
    assert "(2000 characters)" in out["nested"][0]["s"] and out["n"] == 3
    log = RowLog()
    row, _ = log.add(0, "server", "response.output_audio.delta", 1, audio("a", 2))
    assert "_audio" in row and "_audio" not in public(row)


def test_stream_types_and_summaries() -> None:
    assert is_stream("response.function_call_arguments.delta") and is_stream("input_audio_buffer.append")
    assert not is_stream("response.output_audio.done")
    item = {"item": {"type": "function_call", "name": "get_weather"}}
    assert summary("conversation.item.added", item) == "function_call get_weather"
    assert summary("conversation.item.truncate", {"audio_end_ms": 1200}) == "at 1200 ms"
    assert summary("error", {"error": "plain"}) == "plain"
    assert summary("rtwidget.tool.done", {"name": "t"}) == "t"


def test_tool_board_followup_and_statuses() -> None:
    board = ToolBoard()
    board.started({"call_id": "c1", "name": "a", "arguments": '{"x": 1}', "response_id": "r1"})
    board.started({"call_id": "c2", "name": "b", "arguments": "{}", "response_id": "r1"})
    assert board.response_requested() == []  # nothing finished yet: a create now is not their follow-up
    board.done({"call_id": "c1", "ok": True, "output": "1", "duration_s": 0.25})
    board.done({"call_id": "c2", "ok": False, "error_kind": "timeout", "output": "{}", "duration_s": 5})
    changed = board.response_requested()
    assert {v["call_id"] for v in changed} == {"c1", "c2"}
    assert board.calls["c1"]["status"] == "done" and board.calls["c1"]["duration_ms"] == 250.0
    assert board.calls["c2"]["status"] == "timeout" and board.calls["c2"]["followup"] == "sent"
    board.started({"call_id": "c3", "name": "quiet"})
    board.done({"call_id": "c3", "ok": False, "error_kind": "exception", "output": "{}", "reply": False})
    assert board.calls["c3"]["status"] == "error" and board.calls["c3"]["followup"] == "none"
    assert board.response_requested() == []
