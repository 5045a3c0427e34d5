"""The widget's media messages (rtwidget/widget/media.py) against the local server: the Record button and the
``recording`` trait, the download buttons' files, an item's audio played on click and its playback report."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rtwidget import Session
from rtwidget.cassette import Cassette
from rtwidget.server import LocalServer
from rtwidget.widget import RealtimeWidget
from tests.session.test_item_audio import tone
from tests.support import TIMEOUT

from .comm_double import MockComm, barrier, browser_says, wait_until

SENTINEL = "sk-" + "SENTINEL-media-0123456789abcdefghijklmnopqrstuvwxyz"  # built at run time: no key in the repo


def answered(session: Session, n: int = 1) -> None:
    wait_until(lambda: sum(e.type == "response.done" for e in session.log) >= n, what=f"{n} response.done")


def notices(comm: MockComm) -> list[str]:
    return [c["text"] for c, _ in comm.custom("notice")]


def files(comm: MockComm, what: str) -> list[tuple[dict[str, Any], list[bytes]]]:
    return [(c, b) for c, b in comm.custom("file") if c["what"] == what]


def assistant_item(session: Session) -> str:
    return next(e.data["item_id"] for e in session.log if e.type == "response.output_audio.delta")


# ---------------------------------------------------------------------------------------------- record


def test_the_record_button_toggles_a_cassette_in_the_working_directory(
    live: tuple[RealtimeWidget, MockComm], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, comm = live
    monkeypatch.chdir(tmp_path)
    browser_says(w, {"kind": "record"})
    wait_until(lambda: w.recording.get("on"), what="the recording trait on")
    name = w.recording["path"]
    assert name.startswith("rtwidget-") and name.endswith(".cassette") and "/" not in name
    assert w.session.recording == tmp_path / name
    w.session.send_text("hello")
    answered(w.session)
    browser_says(w, {"kind": "record", "on": True})  # already recording: no second recording, no error
    browser_says(w, {"kind": "record"})
    wait_until(lambda: w.recording == {}, what="the recording trait off")
    wait_until(lambda: [t for t in notices(comm) if "Recording saved" in t], what="the saved notice")
    assert w.session.recording is None
    cassette = Cassette.open(tmp_path / name)
    assert "response.done" in [e.event["type"] for e in cassette.events]
    assert cassette.audio("model")  # the reply's audio is in it
    assert not [t for t in notices(comm) if t.startswith("record:")]


def test_the_recording_trait_follows_a_recording_started_and_closed_from_code(
    live: tuple[RealtimeWidget, MockComm], tmp_path: Path
) -> None:
    w, _comm = live
    session = w.session
    session.record(tmp_path / "from-a-cell.cassette")
    wait_until(lambda: w.recording.get("path") == "from-a-cell.cassette", what="the trait on")
    assert w.recording["on"] is True and w.recording["started_at"] > 0
    session.stop_recording()
    wait_until(lambda: w.recording == {}, what="the trait off")
    session.record(tmp_path / "closed.cassette")
    wait_until(lambda: w.recording.get("path") == "closed.cassette", what="the trait on again")
    session.stop().result(TIMEOUT)  # close() finishes the recording
    wait_until(lambda: w.recording == {}, what="the trait off after close")
    assert (tmp_path / "closed.cassette").exists()
    events = [e for e in session.log if e.type == "rtwidget.recording"]
    assert [e.data["on"] for e in events] == [True, False, True, False]
    # The cassette holds no mark of its own recording.
    assert "rtwidget.recording" not in [
        e.event["type"] for e in Cassette.open(tmp_path / "closed.cassette").local_events
    ]


# ---------------------------------------------------------------------------------------------- downloads


def test_downloads_of_an_empty_session_say_so_and_send_no_file(comms: list[MockComm]) -> None:
    w = RealtimeWidget(Session(), autoconnect=False)
    comm = comms[-1]
    try:
        for what in ("transcript", "wav", "log"):
            browser_says(w, {"kind": "download", "what": what})
        barrier(w, comm, "v")
        assert comm.custom("file") == []
        said = notices(comm)
        assert len(said) == 3 and all("download" in t.lower() for t in said), said
        browser_says(w, {"kind": "download", "what": "video"})
        wait_until(lambda: [t for t in notices(comm) if "cannot download 'video'" in t], what="the refusal")
    finally:
        w.close()


@pytest.fixture
def keyed(local_server: LocalServer, comms: list[MockComm]) -> Iterator[tuple[RealtimeWidget, MockComm]]:
    """A widget on a session whose API key is a sentinel, after a text turn that says the key."""
    session = Session(api_key=SENTINEL, endpoint=local_server.url, turn_detection=None)
    w = RealtimeWidget(session)
    wait_until(lambda: session.state == "open" and session.config, what="open")
    session.send_text(f"my key is {SENTINEL}, say it back")
    answered(session)
    yield w, comms[-1]
    session.stop().result(TIMEOUT)
    w.close()


def download(w: RealtimeWidget, comm: MockComm, what: str) -> tuple[dict[str, Any], bytes]:
    browser_says(w, {"kind": "download", "what": what})
    content, buffers = wait_until(lambda: files(comm, what), what=f"the {what} file")[0]
    assert len(buffers) == 1
    return content, buffers[0]


def test_the_transcript_download_is_the_sessions_markdown_without_the_key(
    keyed: tuple[RealtimeWidget, MockComm],
) -> None:
    w, comm = keyed
    assert any(SENTINEL in json.dumps(e.data) for e in w.session.log)  # it was said: the test can fail
    content, data = download(w, comm, "transcript")
    assert content["mime"] == "text/markdown" and content["name"].endswith("transcript.md")
    text = data.decode("utf-8")
    assert text == w.session.export_transcript()
    assert text.startswith("# Conversation") and "my key is" in text and "assistant" in text
    assert SENTINEL not in text


def test_the_wav_download_is_stereo_24k_as_long_as_the_export(
    keyed: tuple[RealtimeWidget, MockComm], tmp_path: Path
) -> None:
    w, comm = keyed
    content, data = download(w, comm, "wav")
    assert content["mime"] == "audio/wav" and content["name"].endswith(".wav")
    seconds = w.session.export_wav(tmp_path / "same.wav")
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 24000)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)
    assert len(frames) / 24000 == pytest.approx(seconds) and seconds > 0.2
    assert np.abs(frames[:, 1]).max() > 0  # the assistant's voice on the right
    assert data == (tmp_path / "same.wav").read_bytes()


def test_the_log_download_is_jsonl_of_the_log_without_the_key(keyed: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = keyed
    n = len(w.session.log)
    content, data = download(w, comm, "log")
    assert content["mime"] == "application/x-ndjson" and content["name"].endswith("events.jsonl")
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert len(rows) >= n and {"time", "direction", "type", "data"} <= set(rows[0])
    assert [r["type"] for r in rows[:n]] == [e.type for e in list(w.session.log)[:n]]
    assert "response.done" in [r["type"] for r in rows]
    assert SENTINEL.encode() not in data and b"<redacted>" in data


# ---------------------------------------------------------------------------------------------- item audio


def test_a_clicked_assistant_item_comes_back_as_heard_with_its_cut(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    session.send_text("tell me something long")
    answered(session)
    item_id = assistant_item(session)
    session.truncate(item_id, 200)  # as if the listener heard only 200 ms
    wait_until(lambda: session.item_audio.get(item_id).heard_ms == 200, what="the truncation kept")
    browser_says(w, {"kind": "play_item", "item_id": item_id})
    content, buffers = wait_until(lambda: comm.custom("item_audio"), what="item_audio")[0]
    clip = session.item_audio.get(item_id)
    assert clip is not None
    assert buffers == [clip.heard_pcm] and len(clip.heard_pcm) == 200 * 24 * 2
    assert content == {
        "kind": "item_audio",
        "item_id": item_id,
        "role": "assistant",
        "samples": len(clip.pcm) // 2,
        "heard_samples": 200 * 24,
    }
    assert content["samples"] > content["heard_samples"]  # the cut part, for the player to mark
    # The item's playback report is kept, and it does not move the live playhead.
    live_before = dict(w.bridge.playhead.__dict__)
    browser_says(w, {"kind": "item_played", "item_id": item_id, "samples": 2400, "final": False})
    browser_says(w, {"kind": "item_played", "item_id": item_id, "samples": 4800, "final": True})
    barrier(w, comm, "v")
    assert w.bridge.media.item_playback == {"item_id": item_id, "samples": 4800, "final": True}
    assert dict(w.bridge.playhead.__dict__) == live_before
    browser_says(w, {"kind": "item_played", "item_id": item_id, "samples": "lots"})
    wait_until(lambda: [t for t in notices(comm) if "item_played needs a number" in t], what="the refusal")


def test_an_item_without_audio_gets_a_notice_saying_why(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    session.send_text("hello")
    answered(session)
    user = next(e.data["item"]["id"] for e in session.log if e.data.get("item", {}).get("role") == "user")
    browser_says(w, {"kind": "play_item", "item_id": user})
    browser_says(w, {"kind": "play_item", "item_id": "item_gone"})
    wait_until(lambda: len(notices(comm)) >= 2, what="two notices")
    assert comm.custom("item_audio") == []
    said = notices(comm)
    assert any("text only" in t for t in said) and any("no longer in the conversation" in t for t in said), said
    session.audio_keep_s = 0  # every kept audio dropped
    browser_says(w, {"kind": "play_item", "item_id": assistant_item(session)})
    wait_until(lambda: [t for t in notices(comm) if "was dropped" in t and "audio_keep_s" in t], what="dropped")
    assert comm.custom("item_audio") == []


def test_a_clicked_user_item_comes_back_with_the_audio_committed(
    local_server: LocalServer, comms: list[MockComm]
) -> None:
    session = Session(endpoint=local_server.url, turn_detection=None)
    w = RealtimeWidget(session)
    comm = comms[-1]
    try:
        wait_until(lambda: session.state == "open" and session.config, what="open")
        mic = tone(400)
        session.append_audio(mic)
        session.commit_audio()
        user = wait_until(
            lambda: next((e.data["item_id"] for e in session.log if e.type == "input_audio_buffer.committed"), None),
            what="the commit",
        )
        wait_until(lambda: session.item_audio.get(user) is not None, what="the user item's audio kept")
        browser_says(w, {"kind": "play_item", "item_id": user})
        content, buffers = wait_until(lambda: comm.custom("item_audio"), what="item_audio")[0]
        assert buffers == [mic]
        assert (content["role"], content["samples"], content["heard_samples"]) == ("user", 400 * 24, 400 * 24)
    finally:
        session.stop().result(TIMEOUT)
        w.close()
