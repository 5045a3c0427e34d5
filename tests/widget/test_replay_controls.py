"""The replay's controls (pause, play, seek back and forth, speed) from Python and from the replay bar's messages,
and what a replay refuses: every send from Python, the live-only messages from the browser."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from rtwidget.cassette import Cassette
from rtwidget.session.metrics import LOCAL_NOTE
from rtwidget.session.replaying import ReplayOnly, ReplaySession
from rtwidget.widget import RealtimeWidget
from rtwidget.widget.eventlog import is_stream
from rtwidget.widget.replay import LIVE_ONLY, replay
from tests.cassette.recorded import RecordedSession, shared_recording
from tests.support import TIMEOUT, run

from .comm_double import MockComm, barrier, browser_says, wait_until


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RecordedSession:
    return shared_recording(tmp_path_factory)


def up_to(tape: Cassette, seconds: float) -> list[tuple[str, str]]:
    """(direction, type) of every recorded event at or before ``seconds``, in order."""
    events = sorted(tape.events + tape.local_events, key=lambda e: e.time)
    return [(e.direction, e.type) for e in events if e.time <= seconds]


def logged(session: Any) -> list[tuple[str, str]]:
    def read() -> list[tuple[str, str]]:
        return [(e.direction, e.type) for e in session.log]

    return session._io.call(read)  # type: ignore[no-any-return]  # (on the I/O thread: after what is queued)


def notices(comm: MockComm) -> list[str]:
    return [c["text"] for c, _ in comm.custom("notice")]


def test_pause_stops_the_replay_where_it_is_and_play_goes_on(recorded: RecordedSession, comms: list[MockComm]) -> None:
    tape = Cassette.open(recorded.path)
    r = replay(recorded.path)
    w = r.widget
    try:
        wait_until(lambda: r.position > 1.0 and len(r.session.log) > 5, TIMEOUT, "some of the replay")
        browser_says(w, {"kind": "replay", "action": "pause"})
        wait_until(lambda: not r.playing, TIMEOUT, "the pause")
        at, seen = r.position, logged(r.session)
        assert [c for c, _ in comms[-1].custom("flush") if c["reason"] == "replay"], "the paused audio stops"
        assert 1.0 < at < r.duration and w.replay["playing"] is False and w.replay["position"] == round(at, 3)
        time.sleep(0.3)  # paused: nothing more is fed, the position stays
        assert logged(r.session) == seen and r.position == at
        assert seen == up_to(tape, at)[: len(seen)] and len(up_to(tape, at)) - len(seen) <= 1
        r.speed = "instant"
        browser_says(w, {"kind": "replay", "action": "play"})
        wait_until(lambda: r.ended and not r.playing, TIMEOUT, "the end")
        assert logged(r.session) == up_to(tape, r.duration) and w.replay["playing"] is False
    finally:
        r.close()
        w.close()


def test_seek_backward_starts_over_and_forward_feeds_what_lies_between(
    recorded: RecordedSession, comms: list[MockComm]
) -> None:
    tape = Cassette.open(recorded.path)
    r = replay(recorded.path, play=False)
    w, comm = r.widget, comms[-1]
    try:
        assert logged(r.session) == [] and w.replay["playing"] is False and w.replay["epoch"] == 0
        first = r.session
        r.seek(r.duration)
        assert logged(first) == up_to(tape, r.duration) and r.session is first  # forward: the same session
        browser_says(w, {"kind": "replay", "action": "seek", "value": 2.0})
        wait_until(lambda: r.session is not first, TIMEOUT, "a fresh session")
        second = r.session
        assert isinstance(second, ReplaySession) and logged(second) == up_to(tape, 2.0)
        # The widget moved onto it: its bridge, and an epoch on which each view asks for a snapshot.
        assert w.session is second and w.bridge.session is second and RealtimeWidget(second) is w
        assert w.replay["epoch"] == 1 and w.replay["position"] == 2.0
        wait_until(lambda: first.state == "closed", TIMEOUT, "the old session closed")
        snapshot = barrier(w, comm, "v-after-seek")
        rows = snapshot["rows"]  # the new bridge's: the events up to 2 s, streams merged into counted rows
        assert sum(row["count"] for row in rows) == len(up_to(tape, 2.0))
        assert [(row["dir"], row["type"]) for row in rows if not is_stream(row["type"])] == [
            (d, t) for d, t in up_to(tape, 2.0) if not is_stream(t)
        ]
        items = {i["id"] for i in snapshot["items"]}
        assert items == {i.id for i in second.conversation} and recorded.truncated_item not in items
        r.seek(5.0)
        assert r.session is second and logged(second) == up_to(tape, 5.0)
        r.seek(-3)  # clipped to the start: an empty session
        assert logged(r.session) == [] and r.position == 0.0
    finally:
        r.close()
        w.close()


def test_speed_from_python_and_from_the_bar(recorded: RecordedSession, comms: list[MockComm]) -> None:
    r = replay(recorded.path, play=False)
    w, comm = r.widget, comms[-1]
    try:
        browser_says(w, {"kind": "replay", "action": "speed", "value": 2})
        wait_until(lambda: w.replay["speed"] == 2.0, TIMEOUT, "speed 2")
        r.play()
        assert r.playing and not r.audible  # faster than the recording: its audio is not played
        browser_says(w, {"kind": "replay", "action": "speed", "value": "instant"})
        wait_until(lambda: r.ended and w.replay["speed"] == "instant", TIMEOUT, "the end, instantly")
        with pytest.raises(ValueError, match="speed must be"):
            r.speed = 0
        browser_says(w, {"kind": "replay", "action": "speed", "value": "fast"})
        browser_says(w, {"kind": "replay", "action": "rewind"})
        wait_until(lambda: any("'rewind'" in n for n in notices(comm)), TIMEOUT, "the second error notice")
        assert any("speed must be a positive number" in n and "'fast'" in n for n in notices(comm)), notices(comm)
        assert any("unknown replay action 'rewind'" in n for n in notices(comm)), notices(comm)
    finally:
        r.close()
        w.close()


def test_a_replaying_session_refuses_to_talk(recorded: RecordedSession, comms: list[MockComm]) -> None:
    r = replay(recorded.path, speed="instant")
    w, comm = r.widget, comms[-1]
    try:
        r.wait(TIMEOUT)
        session = r.session
        name = recorded.path.name
        for attempt in (
            lambda: session.send_text("hello"),
            lambda: session.send({"type": "response.create"}),
            lambda: session.append_audio(b"\0\0" * 2400),
            lambda: run(session.ask("hello")),
            lambda: run(session.connect()),
            lambda: session.start().result(),
        ):
            with pytest.raises(ReplayOnly, match=f"replays the cassette '{name}'.*use rtwidget.Session"):
                attempt()
        before = logged(session)
        for kind in sorted(LIVE_ONLY - {"mic"}):
            browser_says(w, {"kind": kind, "text": "hi", "down": True, "session": {"voice": "ash"}})
        played = {"item_id": recorded.truncated_item, "samples": 10}
        browser_says(w, {"kind": "mic", "played": played}, [b"\0\0" * 2400])
        browser_says(w, {"kind": "played", "item_id": recorded.truncated_item, "samples": 2400, "final": True})
        barrier(w, comm, "v-refusals")
        refused = [n for n in notices(comm) if f"replays the cassette '{name}'" in n]
        assert len(refused) == len(LIVE_ONLY) - 1, notices(comm)  # one each, none for the microphone chunk
        assert logged(session) == before, "nothing was sent, truncated or connected"
        assert session.state == "idle" and not session.connected
        r.close()
        with pytest.raises(RuntimeError, match="was closed"):
            r.play()
        assert session.export_transcript().startswith("# Conversation"), "still readable once closed"
    finally:
        r.close()
        w.close()


def test_a_live_widget_has_no_replay(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    assert w.replay == {}
    browser_says(w, {"kind": "replay", "action": "play"})
    browser_says(w, {"kind": "text", "text": "still live"})  # the replay owner passes live messages on
    wait_until(lambda: any(e.type == "conversation.item.create" for e in list(w.session.log)), what="the text sent")
    assert any("live session" in n for n in notices(comm)), notices(comm)


def test_at_2x_everything_is_shown_and_no_audio_is_played(recorded: RecordedSession, comms: list[MockComm]) -> None:
    tape = Cassette.open(recorded.path)
    r = replay(recorded.path, speed=2.0)
    w, comm = r.widget, comms[-1]
    try:
        assert r.playing and not r.audible
        wait_until(lambda: r.ended and not r.playing, TIMEOUT, "the end at 2x")
        assert logged(r.session) == up_to(tape, r.duration)
        assert not comm.custom("audio"), "at 2x the model's audio would pile up: it is not sent"
        assert w.replay["speed"] == 2.0 and w.replay["position"] == round(r.duration, 3)
    finally:
        r.close()
        w.close()


def test_a_widget_made_for_a_replays_session_shows_the_replay(recorded: RecordedSession, comms: list[MockComm]) -> None:
    r = replay(recorded.path, speed="instant", widget=False)
    try:
        r.wait(TIMEOUT)
        w = RealtimeWidget(r.session)  # as a cell showing `r.session` makes it
        assert r.widget is w and w.replay["name"] == recorded.path.name, "it gets the replay bar"
        barrier(w, comms[-1], "made-for-replay")
        assert w.status != "error" and r.session.state == "idle", "it never tries to connect"
        assert RealtimeWidget(r.session) is w, "one widget per session, as live"
    finally:
        r.close()


def as_recorded_against(tape: Path, kind: str, to: Path) -> Path:
    """A copy of ``tape`` whose meta says it was recorded against an endpoint of ``kind``."""
    with zipfile.ZipFile(tape) as src, zipfile.ZipFile(to, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "meta.json":
                meta = json.loads(data)
                meta["endpoint"] = {**meta["endpoint"], "kind": kind}
                data = json.dumps(meta).encode()
            dst.writestr(info, data)
    return to


def usage_of_replay(tape: Path) -> dict[str, Any]:
    r = replay(tape, speed="instant", widget=False)
    try:
        r.wait(TIMEOUT)
        return r.session.usage  # type: ignore[no-any-return]
    finally:
        r.close()


def test_a_replay_is_billed_as_its_recording_was(recorded: RecordedSession, tmp_path: Path) -> None:
    live, again = recorded.session.usage, usage_of_replay(recorded.path)
    assert (again["billed"], again["note"], again["totals"]) == (live["billed"], live["note"], live["totals"])
    assert again["cost"].total == pytest.approx(live["cost"].total)
    local = usage_of_replay(as_recorded_against(recorded.path, "local", tmp_path / "local.cassette"))
    assert local["billed"] is False and local["note"] == LOCAL_NOTE, "recorded on the local server: never billed"
    remote = usage_of_replay(as_recorded_against(recorded.path, "openai", tmp_path / "openai.cassette"))
    assert remote["billed"] is True and remote["note"] == ""
