"""The browser's playback reports reach the session's turn metrics: a turn is audible at its first report."""

from __future__ import annotations

from rtwidget.widget import RealtimeWidget

from .comm_double import MockComm, barrier, browser_says, wait_until


def test_the_first_playback_report_with_samples_marks_the_turn_audible(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    session.send_text("hello")
    wait_until(lambda: [t for t in session.turn_metrics if t.t_done is not None], what="a finished turn")
    (turn,) = session.turn_metrics
    item_id = next(e.data["item_id"] for e in session.log if e.type == "response.output_audio.delta")
    assert turn.t_first_audio is not None and turn.t_first_audible is None
    browser_says(w, {"kind": "played", "item_id": item_id, "samples": 0, "final": False})
    barrier(w, comm, "v1")
    assert session.turn_metrics[0].t_first_audible is None  # nothing played yet
    browser_says(w, {"kind": "played", "item_id": item_id, "samples": 4800, "final": False})
    barrier(w, comm, "v2")
    first = session.turn_metrics[0].t_first_audible
    assert first is not None and first >= turn.t_first_audio
    browser_says(w, {"kind": "played", "item_id": item_id, "samples": 9600, "final": False})
    barrier(w, comm, "v3")
    assert session.turn_metrics[0].t_first_audible == first  # the first report only
    assert session.latency_summary()["first_audio_to_audible"]["n"] == 1
