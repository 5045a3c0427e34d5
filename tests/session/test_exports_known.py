"""The exports of one known session (tests/cassette/recorded.py: text, speech heard by the VAD, a tool call, a
barge-in), checked against what its events say: the stereo WAV sample by sample (the microphone's audio on the
left as the VAD cut it, each run where it was appended, the model's on the right from its first delta, the truncated
part left out), the Markdown transcript (roles, words, the tool call's arguments and output, the cut, each item's
time), and the DataFrames' columns and rows."""

from __future__ import annotations

import base64
import dataclasses
import re
import wave
from pathlib import Path

import numpy as np
import pytest

from rtwidget.session.metrics import TurnMetrics
from tests.cassette.recorded import HEARD_MS, LONG_ASK, TEXT, TOOL_ASK, RecordedSession, shared_recording

RATE = 24_000
DELTA = "response.output_audio.delta"
ITEM_COLUMNS = [
    "id",
    "type",
    "role",
    "status",
    "text",
    "name",
    "call_id",
    "arguments",
    "output",
    "audio_ms",
    "truncated_at_ms",
    "audio_started_at",
    "heard_ms",
]


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> RecordedSession:
    return shared_recording(tmp_path_factory)


@dataclasses.dataclass
class Clip:
    """One item's audio as the events say: its channel (0 user, 1 assistant), when it began, its samples."""

    item_id: str
    channel: int
    started_at: float
    samples: np.ndarray


def appends(rec: RecordedSession) -> list[tuple[int, float]]:
    """(first sample on the microphone's timeline, session time) of each append, in order."""
    chunks: list[tuple[int, float]] = []
    offset = 0
    for entry, data in rec.wire():
        if entry.type == "input_audio_buffer.append":
            chunks.append((offset, entry.time))
            offset += len(base64.b64decode(data["audio"])) // 2
    assert offset * 2 == len(rec.mic)
    return chunks


def appended_at(chunks: list[tuple[int, float]], sample: int) -> float:
    """When the microphone's sample ``sample`` was appended (its append's time, plus its place in it)."""
    first, at = max((c for c in chunks if c[0] <= sample), key=lambda c: c[0])
    return at + (sample - first) / RATE


def user_clips(rec: RecordedSession) -> list[Clip]:
    """Each VAD turn's audio: the microphone's bytes from speech_started's audio_start_ms to speech_stopped's
    audio_end_ms (one connection: the server's audio timeline is the microphone's), from when its first sample was
    appended."""
    chunks = appends(rec)
    mic = np.frombuffer(rec.mic, dtype="<i2")
    starts = {d["item_id"]: d["audio_start_ms"] for e, d in rec.wire() if e.type.endswith("speech_started")}
    clips = []
    for entry, data in rec.wire():
        if entry.type == "input_audio_buffer.speech_stopped":
            begin, end = starts[data["item_id"]] * RATE // 1000, data["audio_end_ms"] * RATE // 1000
            clips.append(Clip(data["item_id"], 0, appended_at(chunks, begin), mic[begin:end]))
    return clips


def assistant_clips(rec: RecordedSession, heard: bool = True) -> list[Clip]:
    """Each assistant item's deltas joined, from its first delta's time; cut where it was truncated (``heard``)."""
    clips: dict[str, Clip] = {}
    for entry, data in rec.wire():
        if entry.type == DELTA:
            pcm = np.frombuffer(base64.b64decode(data["delta"]), dtype="<i2")
            clip = clips.setdefault(data["item_id"], Clip(data["item_id"], 1, entry.time, pcm[:0]))
            clip.samples = np.concatenate([clip.samples, pcm])
    if heard:
        cut = clips[rec.truncated_item]
        cut.samples = cut.samples[: HEARD_MS * RATE // 1000]
    return list(clips.values())


def read_wav(path: Path) -> tuple[int, int, int, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, wav.getnchannels())
        return wav.getnchannels(), wav.getframerate(), wav.getsampwidth(), frames


def placed(clips: list[Clip]) -> list[tuple[int, Clip]]:
    """Each clip with its first frame in the WAV (the timeline starts with the earliest audio)."""
    origin = min(c.started_at for c in clips)
    return [(round((c.started_at - origin) * RATE), c) for c in clips]


def test_the_wav_has_two_channels_the_session_long_and_the_model_right_as_heard(
    rec: RecordedSession, tmp_path: Path
) -> None:
    duration = rec.session.export_wav(tmp_path / "session.wav")
    channels, rate, width, frames = read_wav(tmp_path / "session.wav")
    assert (channels, rate, width) == (2, RATE, 2)
    users, models = user_clips(rec), assistant_clips(rec)
    assert len(users) == 2 and len(models) == 5  # the speech and the barge-in; five spoken answers
    assert min(c.started_at for c in models) < min(c.started_at for c in users)  # the timeline starts with a reply
    where = placed(users + models)
    # The timeline: from the first audio to the end of the last, as the events timed them.
    assert len(frames) == max(at + len(c.samples) for at, c in where) and duration == len(frames) / RATE
    right = np.zeros(len(frames), dtype=np.int32)
    for at, c in where:
        if c.channel == 1:
            right[at : at + len(c.samples)] += c.samples
    assert np.array_equal(frames[:, 1], np.clip(right, -32768, 32767))  # every answer where its first delta came
    # The truncated answer: its first HEARD_MS on the right, and the rest (received, never heard) left out.
    at, cut = next((at, c) for at, c in where if c.item_id == rec.truncated_item)
    whole = whole_of(rec)
    heard = HEARD_MS * RATE // 1000
    assert len(whole.samples) > len(cut.samples) == heard and whole.samples[heard:].any()
    others = right.copy()  # the other answers (the one before may still be playing: realtime pace runs ahead)
    others[at : at + heard] -= cut.samples
    assert np.array_equal(frames[at : at + heard, 1], np.clip(others[at : at + heard] + cut.samples, -32768, 32767))
    assert np.array_equal(frames[at + heard : at + len(whole.samples), 1], others[at + heard : at + len(whole.samples)])
    # The user's audio is the microphone's, as the VAD cut it (where it lies: the next test).
    kept = {a.item_id: a for a in rec.session.item_audio.items() if a.role == "user"}
    assert [kept[c.item_id].pcm for c in users] == [c.samples.tobytes() for c in users]


def sends(rec: RecordedSession) -> list[tuple[int, int]]:
    """(first sample, end sample) on the microphone's timeline of each send_audio: its appends go out at once,
    seconds after the send before."""
    chunks = appends(rec)
    firsts = [first for n, (first, at) in enumerate(chunks) if n == 0 or at - chunks[n - 1][1] > 1.0]
    return list(zip(firsts, [*firsts[1:], len(rec.mic) // 2], strict=True))


def runs_of(rec: RecordedSession, item_id: str) -> list[tuple[float, int, int]]:
    """Where the VAD item's audio was appended: (when, first sample in the item, samples) of its part in each send,
    from the append holding that part's first sample."""
    chunks = appends(rec)
    starts = {d["item_id"]: d["audio_start_ms"] for e, d in rec.wire() if e.type.endswith("speech_started")}
    stops = {d["item_id"]: d["audio_end_ms"] for e, d in rec.wire() if e.type.endswith("speech_stopped")}
    begin, end = starts[item_id] * RATE // 1000, stops[item_id] * RATE // 1000
    runs = []
    for first, last in sends(rec):
        low, high = max(first, begin), min(last, end)
        if low < high:
            runs.append((appended_at(chunks, low), low - begin, high - low))
    return runs


def test_the_wav_has_the_mic_left_where_it_was_spoken(rec: RecordedSession, tmp_path: Path) -> None:
    rec.session.export_wav(tmp_path / "session.wav")
    _, _, _, frames = read_wav(tmp_path / "session.wav")
    users, store = user_clips(rec), rec.session.item_audio
    assert len(sends(rec)) == 2  # the speech, and the barge-in seconds later
    # The barge-in's audio spans both sends (the VAD's prefix padding reaches back into the first): two runs.
    assert [len(runs_of(rec, c.item_id)) for c in users] == [1, 2]
    chunks = appends(rec)
    starts = {d["item_id"]: d["audio_start_ms"] * RATE // 1000 for e, d in rec.wire() if e.type.endswith("started")}
    for clip in users:
        kept = store.get(clip.item_id)
        assert kept is not None and kept.started_at == clip.started_at  # its first sample's time, as before
        expected = runs_of(rec, clip.item_id)
        assert [(f, n) for _, f, n in kept.spans] == [(f, n) for _, f, n in expected]
        assert [at for at, _, _ in kept.spans] == pytest.approx([at for at, _, _ in expected], abs=1e-9)
        # No sample is placed before it was sent (each append's first sample, where its run puts it).
        start = starts[clip.item_id]
        for at, first, count in kept.spans:
            for sample, sent_at in chunks:
                if start + first <= sample < start + first + count:
                    assert at + (sample - start - first) / RATE >= sent_at - 1e-6, (clip.item_id, sample, sent_at)
    # The left channel: each run of the microphone's audio where it was appended, and nothing else.
    origin = min(c.started_at for c in users + assistant_clips(rec))
    left = np.zeros(len(frames), dtype=np.int32)
    for clip in users:
        for at, first, count in runs_of(rec, clip.item_id):
            place = round((at - origin) * RATE)
            left[place : place + count] += clip.samples[first : first + count]
    assert np.array_equal(frames[:, 0], np.clip(left, -32768, 32767)) and left.any()
    # So the barge-in's speech lies over the answer it cut (not ~7 s early, over the first utterance).
    speech_at = runs_of(rec, users[1].item_id)[1][0]
    cut = whole_of(rec)
    assert cut.started_at < speech_at < cut.started_at + len(cut.samples) / RATE
    assert speech_at > runs_of(rec, users[0].item_id)[0][0] + len(users[0].samples) / RATE


def whole_of(rec: RecordedSession) -> Clip:
    return next(c for c in assistant_clips(rec, heard=False) if c.item_id == rec.truncated_item)


def item_times(rec: RecordedSession) -> dict[str, float]:
    """When each item was first named by a server event (its ``item``'s id, or an ``item_id``)."""
    times: dict[str, float] = {}
    for entry, data in rec.wire():
        item = data.get("item")
        item_id = item.get("id") if isinstance(item, dict) else data.get("item_id")
        if entry.direction == "server" and isinstance(item_id, str):
            times.setdefault(item_id, entry.time)
    return times


def clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):02d}:{rest:04.1f}"


def test_the_transcript_has_every_item_in_order_with_its_time(rec: RecordedSession, tmp_path: Path) -> None:
    text = rec.session.export_transcript(tmp_path / "t.md")
    assert (tmp_path / "t.md").read_text("utf-8") == text and text.startswith("# Conversation\n")
    heads = re.findall(r"^`(\d\d:\d\d\.\d)` \*\*(.+?)\*\*", text, flags=re.M)
    items = rec.session.conversation
    kinds = {"function_call": "tool call", "function_call_output": "tool output"}
    assert [who for _, who in heads] == [kinds.get(i.type, i.role) for i in items]
    assert [who for _, who in heads] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "tool call",
        "tool output",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    times = item_times(rec)
    assert [at for at, _ in heads] == [clock(times[i.id]) for i in items]
    for words in (TEXT, TOOL_ASK, LONG_ASK):
        assert f"**user**: {words}\n" in text
    assert text.count("**user**: (audio, no transcript)") == 2  # the speech and the barge-in
    # The tool call with its arguments and its output (as JSON, indented), and the call's id on both.
    call = next(i for i in items if i.type == "function_call")
    assert f'**tool call** `get_weather` (call `{call.call_id}`)\n\n```\n{{\n  "city": "Paris"\n}}\n```' in text
    assert f'**tool output** (call `{call.call_id}`)\n\n```\n{{\n  "city": "Paris",\n  "temp": 21\n}}\n```' in text
    # The cut, under the truncated answer and nowhere else.
    mark = f"[cut at {HEARD_MS / 1000:.1f} s: the rest was never heard]"
    assert text.count(mark) == 1 and text.count("[cut at") == 1
    cut_at = next(n for n, i in enumerate(items) if i.id == rec.truncated_item)
    blocks = re.split(r"\n(?=`\d\d:)", text)
    assert mark in blocks[cut_at + 1] and blocks[cut_at + 1].split("**")[1] == "assistant"
    spoken = [i for i in items if i.role == "assistant" and i.id != rec.truncated_item]
    assert all(i.text and f"**assistant**: {i.text.strip()}" in text for i in spoken)  # their transcripts


def test_the_dataframes_have_the_columns_and_a_row_for_each(rec: RecordedSession) -> None:
    pytest.importorskip("pandas", reason='to_dataframe() needs pandas: pip install "rtwidget[data]"')
    session = rec.session
    events = session.to_dataframe("events")
    log = list(session.log)
    assert list(events.columns) == ["time", "direction", "type", "size", "data"]
    assert len(events) == len(log) and list(events["type"]) == [e.type for e in log]
    assert list(events["time"]) == [round(e.time, 6) for e in log]
    wire = rec.wire()
    assert [t for t, d in zip(events["type"], events["direction"], strict=True) if d != "local"] == [
        e.type for e, _ in wire
    ]

    items = session.to_dataframe("items")
    conversation = session.conversation
    assert list(items.columns) == ITEM_COLUMNS and len(items) == len(conversation) == 12
    assert list(items["id"]) == [i.id for i in conversation]
    rows = {row["id"]: row for row in items.to_dict("records")}
    for clip in user_clips(rec):  # the VAD's items: their audio, when it began
        assert rows[clip.item_id]["role"] == "user"
        assert rows[clip.item_id]["audio_started_at"] == pytest.approx(clip.started_at, abs=1e-6)
        assert rows[clip.item_id]["heard_ms"] == len(clip.samples) * 1000 / RATE
    for clip in assistant_clips(rec, heard=False):
        row = rows[clip.item_id]
        assert row["role"] == "assistant" and row["audio_started_at"] == clip.started_at
        heard = HEARD_MS if clip.item_id == rec.truncated_item else len(clip.samples) * 1000 / RATE
        assert row["heard_ms"] == pytest.approx(heard, abs=0.05)
    cut = rows[rec.truncated_item]
    assert cut["truncated_at_ms"] == HEARD_MS and cut["status"] == "incomplete"
    call = next(r for r in rows.values() if r["type"] == "function_call")
    assert (call["name"], call["arguments"]) == ("get_weather", '{"city": "Paris"}')
    output = next(r for r in rows.values() if r["type"] == "function_call_output")
    assert output["call_id"] == call["call_id"] and '"temp": 21' in output["output"]

    turns = session.to_dataframe("turns")
    assert list(turns.columns) == [f.name for f in dataclasses.fields(TurnMetrics)]
    dones = [d["response"] for e, d in wire if e.type == "response.done"]
    assert list(turns["response_id"]) == [r["id"] for r in dones] and len(turns) == 6
    assert list(turns["trigger"]) == ["text", "speech", "text", "tool", "text", "speech"]
    assert list(turns["total_tokens"]) == [r["usage"]["total_tokens"] for r in dones]


def test_the_events_jsonl_is_the_log_line_for_line(rec: RecordedSession, tmp_path: Path) -> None:
    import json

    count = rec.session.export_events(tmp_path / "events.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text("utf-8").splitlines()]
    log = list(rec.session.log)
    assert count == len(rows) == len(log)
    assert [(r["time"], r["direction"], r["type"]) for r in rows] == [
        (round(e.time, 6), e.direction, e.type) for e in log
    ]
    assert [
        r["data"]["item"]["content"][0]["text"]
        for r in rows
        if r["type"] == "conversation.item.create" and r["data"]["item"]["type"] == "message"
    ] == [TEXT, TOOL_ASK, LONG_ASK]
    assert [r["data"]["item_id"] for r in rows if r["type"] == "conversation.item.truncated"] == [rec.truncated_item]
