"""rtwidget.replay: a cassette recorded against the local server (a typed turn, speech, a tool call, a barge-in),
replayed into a widget, fills it as the session did live: the session's log and conversation, the widget's log
rows, the Tools panel, and (at 1x) the model's audio, sample-exact."""

from __future__ import annotations

import base64
import dataclasses
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

import rtwidget
from rtwidget.cassette import Cassette
from rtwidget.session.replaying import Replay, ReplaySession
from rtwidget.widget.eventlog import is_stream
from rtwidget.widget.replay import replay
from tests.cassette.recorded import RecordedSession, shared_recording
from tests.support import TIMEOUT

from .comm_double import MockComm, wait_until

# A reply whose last audio came this close before the user spoke was still in the coalescer (or playing): flushed.
SPOKEN_OVER_S = 0.2


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RecordedSession:
    return shared_recording(tmp_path_factory)


def rows_seen(comm: MockComm) -> list[dict[str, Any]]:
    """The log rows as the browser holds them: created by batches, updated in place, in order."""
    rows: dict[int, dict[str, Any]] = {}
    for batch in comm.batches():
        for row in batch.get("rows", ()):
            rows[row["id"]] = row
        for row in batch.get("row_updates", ()):
            rows[row["id"]] = row
    return [rows[k] for k in sorted(rows)]


def timeline(tape: Cassette) -> list[Any]:
    return sorted(tape.events + tape.local_events, key=lambda e: e.time)


def ended(r: Replay) -> None:
    wait_until(lambda: r.ended and not r.playing, TIMEOUT, "the replay's end")
    wait_until(lambda: r.session._io.call(lambda: True), TIMEOUT, "the I/O loop")  # the last feed has run


def test_rtwidget_replay_is_public() -> None:
    assert rtwidget.replay is replay
    assert "replay" in rtwidget.__all__ and "cassette" in (replay.__doc__ or "")


def test_an_instant_replay_fills_the_widget_as_live(recorded: RecordedSession, comms: list[MockComm]) -> None:
    tape = Cassette.open(recorded.path)
    r = replay(recorded.path, speed="instant")
    w, comm = r.widget, comms[-1]
    try:
        ended(r)
        session = r.session
        assert isinstance(session, ReplaySession) and w.session is session
        # The session's log: every recorded event, same direction, type and order, at its recorded time.
        events = timeline(tape)
        log = list(session.log)
        assert [(e.direction, e.type) for e in log] == [(e.direction, e.type) for e in events]
        assert [entry.time for entry in log] == [e.time for e in events]
        # ... and in the order the live session logged them (its taps saw every entry, the recording a prefix).
        # (rtwidget.recording: the recording's own start and end, told around it)
        live_order = [(e.direction, e.type) for e, _ in recorded.seen if e.type != "rtwidget.recording"]
        replayed = [(e.direction, e.type) for e in log if e.type != "rtwidget.recording"]
        assert replayed == live_order[: len(replayed)] and len(replayed) > len(live_order) - 5
        assert {"client", "server", "local"} <= {e.direction for e in log}
        # The conversation, item for item (text, transcripts, tool call, the truncate of the barge-in).
        live = [dataclasses.asdict(i) for i in recorded.session.conversation]
        assert [dataclasses.asdict(i) for i in session.conversation] == live
        cut = session.conversation_state.get(recorded.truncated_item)
        assert cut is not None and cut.truncated_at_ms is not None
        # The widget's log rows: the non-stream events one row each, in order; the streams merged, counted.
        wait_until(lambda: sum(r["count"] for r in rows_seen(comm)) == len(events), TIMEOUT, "every row")
        rows = rows_seen(comm)
        single = [(r["dir"], r["type"], r["t"]) for r in rows if not is_stream(r["type"])]
        assert [s[:2] for s in single] == [(e.direction, e.type) for e in events if not is_stream(e.type)]
        assert [s[2] for s in single] == [round(e.time, 4) for e in events if not is_stream(e.type)]
        counted: dict[tuple[str, str], int] = defaultdict(int)
        for row in rows:
            if is_stream(row["type"]):
                counted[(row["dir"], row["type"])] += row["count"]
        expected: dict[tuple[str, str], int] = defaultdict(int)
        for e in events:
            if is_stream(e.type):
                expected[(e.direction, e.type)] += 1
        assert counted == expected and counted[("client", "input_audio_buffer.append")] > 0
        # The Tools panel: the recorded call, done; the usage: every response's.
        tools = [t for batch in comm.batches() for t in batch.get("tools", ())]
        assert any(t["name"] == "get_weather" and t["status"] == "done" for t in tools), tools
        assert w.usage.get("responses") == len(list(e for e in tape.server_events() if e.type == "response.done"))
        # Instantly: no audio is sent (it would pile up); nothing was sent anywhere (no socket).
        assert not comm.custom("audio")
        assert w.expires_at == 0.0 and session.expires_at is None, "no server session to count down"
        assert w.replay["name"] == recorded.path.name and w.replay["position"] == pytest.approx(r.duration, abs=1e-3)
    finally:
        r.close()
        w.close()


def test_at_1x_the_model_audio_reaches_the_browser(recorded: RecordedSession, comms: list[MockComm]) -> None:
    tape = Cassette.open(recorded.path)
    recorded_audio: dict[str, bytes] = defaultdict(bytes)
    last_delta: dict[str, float] = {}
    for e in tape.server_events():
        if e.type == "response.output_audio.delta":
            recorded_audio[e.event["item_id"]] += tape.audio_of(e.event["delta"])
            last_delta[e.event["item_id"]] = e.time
    assert b"".join(recorded_audio.values()) == tape.audio("model")  # (every delta is the model's stream)
    speech = [e.time for e in tape.server_events() if e.type == "input_audio_buffer.speech_started"]
    # Audio still arriving (or just arrived) when the user spoke is flushed, as live; the rest plays whole.
    spoken_over = {i for i, t in last_delta.items() if any(t - 0.05 <= s <= t + SPOKEN_OVER_S for s in speech)}
    assert recorded.truncated_item in spoken_over and len(spoken_over) < len(recorded_audio)
    r = replay(recorded.path)  # 1x: the recording's own time (about ten seconds)
    w, comm = r.widget, comms[-1]
    try:
        wait_until(lambda: r.ended, TIMEOUT * 2, "the replay's end")
        ended(r)
        forwarded: dict[str, bytes] = defaultdict(bytes)
        for content, buffers in comm.custom("audio"):
            for meta, pcm in zip(content["chunks"], buffers, strict=True):
                forwarded[meta["item_id"]] += pcm
        assert set(forwarded) == set(recorded_audio)
        for item_id, pcm in recorded_audio.items():
            if item_id in spoken_over:  # the speech_started flushed its playback, as it did live
                assert 0 < len(forwarded[item_id]) <= len(pcm) and pcm.startswith(forwarded[item_id]), item_id
            else:
                assert forwarded[item_id] == pcm, item_id
        assert comm.custom("flush"), "the barge-in's speech_started flushes the browser's playback"
        reasons = [c["reason"] for c, _ in comm.custom("flush")]
        assert "replay" not in reasons, "the end lets the audio queued play out"
        assert not [e for e in r.session.log if e.direction == "client" and e.type == "conversation.item.truncate"][
            1:
        ], "only the recorded truncate: the replay never sends one"
    finally:
        r.close()
        w.close()


def test_a_script_replays_instantly_without_a_widget(recorded: RecordedSession, tmp_path: Path) -> None:
    r = replay(recorded.path, speed="instant", widget=False)
    try:
        r.wait(TIMEOUT)
        assert r.widget is None
        # The same transcript (its clock starts with the recording, the live one's with the session: no times).
        untimed = re.compile(r"`\d\d:\d\d\.\d`")
        replayed = untimed.sub("", r.session.export_transcript())
        assert replayed == untimed.sub("", recorded.session.export_transcript()) and "get_weather" in replayed
        mic = base64.b64decode(base64.b64encode(Cassette.open(recorded.path).audio("mic")))
        assert mic == recorded.mic
    finally:
        r.close()
