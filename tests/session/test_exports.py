"""Exports of known sessions on the local server: the stereo WAV (channels, rate, where each item's audio lies, a
truncated item shortened), the Markdown transcript, the JSONL log, the DataFrames; clear errors for bad arguments;
no credential in any of them."""

from __future__ import annotations

import builtins
import json
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rtwidget import Session
from rtwidget.session.exports import stereo_timeline
from rtwidget.session.item_audio import ItemAudio
from tests.support import received, run, until

from .sample_tools import tool_fns
from .test_item_audio import tone

SENTINEL = (
    "sk-" + "SENTINEL-0123456789abcdefghijklmnopqrstuvwxyz"
)  # built at run time: no key-shaped literal in the repo


def read_wav(path: Path) -> tuple[int, int, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        channels, rate = wav.getnchannels(), wav.getframerate()
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, channels)
    return channels, rate, frames


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2")


def test_the_wav_has_the_user_left_and_the_assistant_right_as_heard(
    open_session: Callable[..., Any], tmp_path: Path
) -> None:
    pcm = tone(1000)

    async def body() -> None:
        async with open_session(turn_detection=None) as session:
            session.append_audio(pcm)
            session.commit_audio()
            session.respond()
            await until(lambda: received(session, "response.done"))
            user_id = received(session, "input_audio_buffer.committed")[0]["item_id"]
            said_id = received(session, "response.output_item.added")[0]["item"]["id"]
            session.truncate(said_id, 300)
            await until(lambda: received(session, "conversation.item.truncated"))
            user, said = session.item_audio.get(user_id), session.item_audio.get(said_id)
            assert user is not None and said is not None and said.duration_ms > 300
            duration = session.export_wav(tmp_path / "session.wav")
            channels, rate, frames = read_wav(tmp_path / "session.wav")
            assert (channels, rate) == (2, 24000) and duration == len(frames) / 24000
            origin = min(user.started_at, said.started_at)
            at_user = round((user.started_at - origin) * 24000)
            at_said = round((said.started_at - origin) * 24000)
            left, right = frames[:, 0], frames[:, 1]
            assert np.array_equal(left[at_user : at_user + 24000], samples(pcm))  # the user, where it began
            assert not left[at_user + 24000 :].any() and not left[:at_user].any()
            assert np.array_equal(right[at_said : at_said + 300 * 24], samples(said.pcm)[: 300 * 24])
            assert not right[at_said + 300 * 24 :].any()  # the part never heard is left out
            assert len(frames) == max(at_user + 24000, at_said + 300 * 24)

    run(body)


def test_overlapping_clips_mix_and_clip_on_their_channel() -> None:
    loud = np.full(4, 30000, dtype="<i2").tobytes()
    clips = [
        ItemAudio("a", "user", loud, 1.0),
        ItemAudio("b", "user", loud, 1.0 + 2 / 24000),
        ItemAudio("c", "assistant", loud, 1.0, heard_ms=0),
    ]
    frames = stereo_timeline(clips)
    assert frames[:, 0].tolist() == [30000, 30000, 32767, 32767, 30000, 30000]
    assert not frames[:, 1].any()  # heard for 0 ms: silence
    assert stereo_timeline([]).shape == (0, 2)


def test_the_transcript_has_roles_words_tool_calls_and_truncation_marks(local_server: Any, tmp_path: Path) -> None:
    async def body() -> None:
        session = Session(endpoint=local_server.url, turn_detection=None, tools=tool_fns([]))
        try:
            await session.connect()
            reply = await session.ask("get_weather city=Paris")
            assert reply.tool_calls
            session.send_text("tell me a long story about the sea")
            await until(lambda: len(received(session, "response.done")) >= 3)
            said_id = received(session, "response.output_item.added")[-1]["item"]["id"]
            session.truncate(said_id, 1500)
            await until(lambda: received(session, "conversation.item.truncated"))
            text = session.export_transcript(tmp_path / "t.md")
            assert (tmp_path / "t.md").read_text("utf-8") == text
        finally:
            await session.close()
        assert text.startswith("# Conversation\n")
        assert "**user**: get_weather city=Paris" in text
        assert "**tool call** `get_weather`" in text and '"city": "Paris"' in text
        assert "**tool output**" in text and session.tool_calls[0].output.split('"')[1] in text
        assert "**user**: tell me a long story about the sea" in text
        assert "[cut at 1.5 s: the rest was never heard]" in text
        assert text.count("**assistant**") == 2

    run(body)


def test_events_jsonl_and_dataframes_count_what_the_session_saw(
    open_session: Callable[..., Any], tmp_path: Path
) -> None:
    async def body() -> None:
        async with open_session(turn_detection=None) as session:
            session.send_text("hello there")
            await until(lambda: received(session, "response.done"))
            session.send_text("and again")
            await until(lambda: len(received(session, "response.done")) == 2)
        # Closed: the log and the conversation are final.
        count = session.export_events(tmp_path / "events.jsonl")
        log = list(session.log)
        events = session.to_dataframe("events")
        items = session.to_dataframe("items")
        turns = session.to_dataframe("turns")
        conversation = len(session.conversation)
        lines = (tmp_path / "events.jsonl").read_text("utf-8").splitlines()
        assert count == len(lines) == len(log) > 10
        rows = [json.loads(line) for line in lines]
        assert [set(r) for r in rows] == [{"time", "direction", "type", "data"}] * len(rows)
        assert [r["type"] for r in rows] == [e.type for e in log]
        assert list(events.columns) == ["time", "direction", "type", "size", "data"] and len(events) == len(log)
        assert {"id", "role", "text", "audio_ms", "truncated_at_ms", "audio_started_at", "heard_ms"} <= set(items)
        assert len(items) == conversation == 4 and list(items["role"]) == ["user", "assistant"] * 2
        assert items["heard_ms"].iloc[1] == pytest.approx(items["audio_ms"].iloc[1], abs=0.1)
        responses = [d["response"]["id"] for d in received(session, "response.done")]
        assert list(turns["response_id"]) == responses and list(turns["trigger"]) == ["text", "text"]
        assert {"t_trigger", "t_created", "t_first_audio", "t_first_audible", "t_done", "cost_usd"} <= set(turns)
        assert (turns["t_done"] >= turns["t_created"]).all()

    run(body)


def test_bad_arguments_say_what_to_do(open_session: Callable[..., Any], tmp_path: Path) -> None:
    session = Session()
    with pytest.raises(ValueError, match="'events', 'items', 'turns'"):
        session.to_dataframe("rows")
    with pytest.raises(IsADirectoryError, match="is a directory; pass a file path"):
        session.export_wav(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        session.export_events(tmp_path / "missing" / "events.jsonl")
    with pytest.raises(TypeError, match="needs a file path"):
        session.export_wav(None)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="cannot write"):
        session.export_events("/proc/rtwidget-events.jsonl")  # a folder nobody may create files in
    assert session.export_transcript() == "# Conversation\n"
    assert len(session.to_dataframe("turns").columns) > 10 and session.to_dataframe("items").empty
    assert session.export_wav(tmp_path / "empty.wav") == 0.0


def test_pandas_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_pandas(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match=r'pip install "rtwidget\[data\]"'):
        Session().to_dataframe("events")


def test_no_export_holds_the_api_key(local_server: Any, tmp_path: Path) -> None:
    async def body() -> None:
        session = Session(api_key=SENTINEL, endpoint=local_server.url, turn_detection=None)
        try:
            await session.connect()
            session.append_audio(tone(300))
            session.commit_audio()
            session.send_text(f"my key is {SENTINEL}, say it back")
            await until(lambda: received(session, "response.done"))
            outputs = [
                session.export_transcript(tmp_path / "t.md"),
                str(session.to_dataframe("events").to_dict()),
                str(session.to_dataframe("items").to_dict()),
            ]
            session.export_events(tmp_path / "e.jsonl")
            session.export_wav(tmp_path / "s.wav")
        finally:
            await session.close()
        assert any(SENTINEL in json.dumps(e.data) for e in session.log)  # it was said, so the test can fail
        files = [p.read_bytes() for p in tmp_path.iterdir()]
        assert len(files) == 3
        assert not [o for o in outputs if SENTINEL in o] and not [f for f in files if SENTINEL.encode() in f]
        assert b"<redacted>" in (tmp_path / "e.jsonl").read_bytes()

    run(body)
