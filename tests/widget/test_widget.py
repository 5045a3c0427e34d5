"""RealtimeWidget with a mock comm (no browser), against the local server over real loopback WebSockets.

The comm is the one thing mocked: it records what the kernel sends to the browser, and tests deliver browser
messages the way ipywidgets does (``_handle_msg``), from a thread of their own like a kernel subshell would.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import rtwidget
from rtwidget import Session
from rtwidget.server import LocalServer
from rtwidget.server.voice import default_voice
from rtwidget.widget import RealtimeWidget
from tests.support import received, sent

from .comm_double import MockComm, barrier, browser_says, comm_of, wait_until

SECRET = "sk-" + "widgettest" * 4


def audio_chunks(comm: MockComm) -> list[tuple[dict[str, Any], bytes]]:
    """Every audio chunk sent so far, in order: (its metadata, its PCM16 buffer)."""
    out: list[tuple[dict[str, Any], bytes]] = []
    for content, buffers in comm.custom("audio"):
        assert len(content["chunks"]) == len(buffers), "one buffer per chunk"
        out.extend(zip(content["chunks"], buffers, strict=True))
    return out


def test_audio_deltas_leave_as_binary_pcm(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    browser_says(w, {"kind": "text", "text": "tell me something nice"})
    session = w.session
    wait_until(lambda: received(session, "response.done"), what="response.done")
    barrier(w, comm, "after")  # pending audio has gone out by now (one interval at most)
    assistant = session.conversation[-1]
    chunks = audio_chunks(comm)
    assert chunks, "no audio message reached the browser"
    assert all(c["item_id"] == assistant.id for c, _ in chunks)
    total = sum(len(b) for _, b in chunks)
    assert total == pytest.approx(assistant.audio_ms * 48, abs=2)
    assert [c["seq"] for c, _ in chunks] == list(range(chunks[0][0]["seq"], chunks[0][0]["seq"] + len(chunks)))
    # Binary PCM, not base64 text: the bytes decode to the samples the server spoke.
    pcm = np.frombuffer(b"".join(b for _, b in chunks), dtype="<i2")
    assert np.abs(pcm).max() > 1000
    assert all("delta" not in c for c, _ in comm.custom("audio"))
    assert w.voice_locked
    # The server sends faster than real time: later deltas coalesce (at most one message per ~100 ms).
    deltas = len(received(session, "response.output_audio.delta"))
    assert len(comm.custom("audio")) <= deltas


def test_panel_updates_are_batched(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    browser_says(w, {"kind": "text", "text": "one two three four five six seven"})
    wait_until(lambda: received(w.session, "response.done"), what="response.done")
    barrier(w, comm, "after")  # a hello sends what is pending first: every batch so far is in
    batches = [(c, []) for c in comm.batches()]  # batch messages, and batches that rode with audio
    events = len(w.session.log)
    assert len(comm.custom("batch")) + len(comm.custom("audio")) < events / 3, f"{len(comm.kinds())} for {events}"
    rows = [r for c, _ in batches for r in c.get("rows", [])]
    deltas = [r for r in rows if r["type"] == "response.output_audio_transcript.delta"]
    assert len(deltas) == 1, "consecutive transcript deltas of one item should merge into one row"
    updates = [r for c, _ in batches for r in c.get("row_updates", []) if r["id"] == deltas[0]["id"]]
    final = updates[-1] if updates else deltas[0]
    assert final["count"] > 1 and "one two three" in final["text"]
    items = {i["id"]: i for c, _ in batches for i in c.get("items", [])}
    roles = [i["role"] for i in sorted(items.values(), key=lambda i: i["index"])]
    assert roles == ["user", "assistant"]


def test_mic_buffers_reach_the_session(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, _comm = live
    session = w.session
    speech = default_voice().synthesize("hello from the microphone")
    silence = bytes(48 * 800)
    stream = silence + speech + silence
    chunk = 48 * 100  # 100 ms
    for start in range(0, len(stream), chunk):
        browser_says(
            w, {"kind": "mic", "seq": start // chunk, "t": time.time() * 1000}, [stream[start : start + chunk]]
        )

    def appended() -> int:
        return sum(int(e["audio"].strip("<> bytes")) for e in sent(session, "input_audio_buffer.append"))

    wait_until(lambda: received(session, "input_audio_buffer.speech_stopped"), what="speech_stopped")
    wait_until(lambda: appended() >= len(stream), what="every mic byte appended")
    assert appended() == len(stream)
    assert received(session, "input_audio_buffer.speech_started")
    wait_until(lambda: received(session, "input_audio_buffer.committed"), what="committed")
    assert w.bridge.counters["audio_in_ms"] == pytest.approx(len(stream) / 48, abs=len(stream) // chunk)


def test_kind_routing_and_bad_messages(live: tuple[RealtimeWidget, MockComm], caplog: pytest.LogCaptureFixture) -> None:
    w, comm = live
    session = w.session
    before = len(session.log)
    caplog.set_level(logging.WARNING, logger="rtwidget.widget")
    browser_says(w, {"kind": "no-such-kind"})  # unknown: a warning in the kernel log, nothing else
    browser_says(w, {"type": "response.create"})  # an API event is not a widget message: the same
    browser_says(w, ["not", "a", "dict"])  # not even a message: dropped before the I/O thread
    browser_says(w, {"kind": "mic"})  # no buffer: ignored
    browser_says(w, {"kind": "played", "item_id": "x", "samples": "many"})  # a failing action: a notice
    browser_says(w, {"kind": "text", "text": "   "})  # nothing to say: ignored
    browser_says(w, {"kind": "text", "text": "still works"})
    wait_until(lambda: received(session, "response.done"), what="response.done")
    barrier(w, comm, "after")
    # The bad messages sent nothing to the server: the only client events are the text's item and response.
    client = [e.type for e in list(session.log)[before:] if e.direction == "client"]
    assert client == ["conversation.item.create", "response.create"]
    assert session.conversation[0].text == "still works"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "rtwidget: unknown widget message kind 'no-such-kind'",
        "rtwidget: unknown widget message kind None",
    ]
    notices = [c for c, _ in comm.custom("notice")]
    assert notices == [
        {"kind": "notice", "level": "error", "text": "played: invalid literal for int() with base 10: 'many'"}
    ]


def test_snapshot_for_a_new_view(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    browser_says(w, {"kind": "text", "text": "remember me"})
    done = wait_until(lambda: received(session, "response.done"), what="response.done")[0]
    snap = barrier(w, comm, "view-2")
    assert [c["view"] for c, _ in comm.custom("snapshot")] == ["view-2"]
    assert set(snap) == {"kind", "view", "rows", "rows_dropped", "items", "tools", "responses", "exceptions"}
    user, assistant = session.conversation
    items = sorted(snap["items"], key=lambda i: i["index"])
    assert [(i["role"], i["text"], i["index"]) for i in items] == [
        ("user", "remember me", 0),
        ("assistant", assistant.text, 1),
    ]
    assert assistant.text and [i["id"] for i in items] == [user.id, assistant.id]
    types = [r["type"] for r in snap["rows"]]
    assert "session.created" in types and "response.done" in types
    # Every row since the start, in order, none dropped.
    assert [r["id"] for r in snap["rows"]] == list(range(1, len(snap["rows"]) + 1))
    assert snap["rows_dropped"] == 0
    assert [r["id"] for r in snap["responses"]] == [done["response"]["id"]]
    assert snap["responses"][0]["usage"] == done["response"]["usage"]
    assert snap["responses"][0]["usage"]["total_tokens"] > 0
    assert snap["tools"] == [] and snap["exceptions"] == []


def played_until_final(w: RealtimeWidget, comm: MockComm, samples_of: Callable[[str, int], int]) -> str:
    """Play: the browser reports a final played count after the kernel's flush."""
    browser_says(w, {"kind": "text", "text": "a long answer " * 20})
    audio = wait_until(lambda: comm.custom("audio"), what="audio")
    item_id = audio[0][0]["chunks"][0]["item_id"]
    browser_says(w, {"kind": "interrupt"})
    wait_until(lambda: comm.custom("flush"), what="flush")
    forwarded = w.bridge.playhead.forwarded[item_id]
    browser_says(w, {"kind": "played", "item_id": item_id, "samples": samples_of(item_id, forwarded), "final": True})
    return item_id


def test_interrupt_truncates_at_the_played_position(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    item_id = played_until_final(w, comm, lambda _, forwarded: min(forwarded - 1, 24 * 240))
    cut = wait_until(lambda: sent(w.session, "conversation.item.truncate"), what="truncate")
    assert cut[0]["item_id"] == item_id
    assert cut[0]["audio_end_ms"] == min(240, int((w.bridge.playhead.played[item_id]) / 24))
    assert comm.custom("flush")[0][0]["reason"] == "interrupt"
    wait_until(lambda: received(w.session, "conversation.item.truncated"), what="truncated")


def test_no_truncate_when_playback_had_finished(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    item_id = played_until_final(w, comm, lambda _, forwarded: forwarded)
    # Browser messages are handled in order on the I/O loop, and a truncate would be logged while the final
    # report is handled: once the later hello is answered, its absence is proven.
    barrier(w, comm, "after-final")
    assert not sent(w.session, "conversation.item.truncate")
    head = w.bridge.playhead
    assert not head.awaiting_final and head.played[item_id] == head.forwarded[item_id] > 0


def test_push_to_talk(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, _comm = live
    session = w.session
    w.turn_mode = "push_to_talk"  # as if the browser set it
    wait_until(lambda: session.config["audio"]["input"]["turn_detection"] is None, what="turn detection off")
    speech = default_voice().synthesize("push to talk")
    browser_says(w, {"kind": "mic"}, [speech[:4800]])  # not held: ignored
    browser_says(w, {"kind": "ptt", "down": True})
    browser_says(w, {"kind": "mic"}, [speech])
    browser_says(w, {"kind": "ptt", "down": False})
    done = wait_until(lambda: received(session, "response.done"), what="response.done")
    assert done
    assert len(sent(session, "input_audio_buffer.commit")) == 1
    assert len(sent(session, "response.create")) == 1
    user = session.conversation[0]
    assert user.role == "user" and abs(user.audio_ms - len(speech) / 48) < 1


def test_push_to_talk_too_short_is_explained(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    w.turn_mode = "push_to_talk"
    wait_until(lambda: w.session.config["audio"]["input"]["turn_detection"] is None, what="turn detection off")
    browser_says(w, {"kind": "ptt", "down": True})
    browser_says(w, {"kind": "mic"}, [bytes(48 * 40)])
    browser_says(w, {"kind": "ptt", "down": False})
    notices = wait_until(lambda: comm.custom("notice"), what="notice")
    assert "100 ms" in notices[-1][0]["text"]
    assert not sent(w.session, "input_audio_buffer.commit")


def test_server_errors_become_notices(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    session = w.session
    session.send({"type": "response.cancel"})  # nothing to cancel: a harmless race, no notice
    session.send({"type": "conversation.item.delete", "item_id": "no-such-item"})
    notices = wait_until(lambda: comm.custom("notice"), what="notice")
    assert notices[-1][0]["level"] == "error" and "no-such-item" in notices[-1][0]["text"]
    barrier(w, comm, "after")
    errors = [e["error"] for e in received(session, "error")]
    assert [e["code"] for e in errors] == ["response_cancel_not_active", "item_not_found"]
    assert [c for c, _ in comm.custom("notice")] == [
        {"kind": "notice", "level": "error", "text": f"Server error item_not_found: {errors[1]['message']}"}
    ]
    rows = [r for c in comm.batches() for r in c.get("rows", []) if r["type"] == "error"]
    deletes = sent(session, "conversation.item.delete")
    assert rows[1]["cause_id"] == deletes[0]["event_id"]
    assert rows[0]["text"] == f"response_cancel_not_active: {errors[0]['message']}"


def test_tools_panel_and_followup(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live

    @w.session.tool
    def get_weather(city: str) -> dict[str, Any]:
        """Weather for a city."""
        return {"city": city, "sky": "clear"}

    browser_says(w, {"kind": "text", "text": "get_weather city=Paris"})
    wait_until(lambda: len(received(w.session, "response.done")) >= 2, what="the follow-up response")
    barrier(w, comm, "after")
    tools = [t for c in comm.batches() for t in c.get("tools", [])]
    last = tools[-1]
    assert last["name"] == "get_weather" and last["status"] == "done"
    assert json.loads(last["output"]) == {"city": "Paris", "sky": "clear"}
    assert last["followup"] == "sent" and last["duration_ms"] >= 0
    assert len(sent(w.session, "response.create")) == 2  # the user's, then exactly one follow-up


def test_no_secret_reaches_the_browser(local_server: LocalServer, comms: list[MockComm]) -> None:
    session = Session(endpoint=rtwidget.Endpoint(local_server.url, headers={"Authorization": f"Bearer {SECRET}"}))
    w = RealtimeWidget(session)
    wait_until(lambda: w.status == "connected", what="connected")
    browser_says(w, {"kind": "text", "text": "hi"})
    wait_until(lambda: received(session, "response.done"), what="response.done")
    browser_says(w, {"kind": "hello", "view": "v"})
    wait_until(lambda: comm_of(comms, w).custom("snapshot"), what="snapshot")
    everything = json.dumps([d for d, _ in comm_of(comms, w).sent], default=str) + json.dumps(
        w.get_state(), default=str
    )
    assert SECRET not in everything and "Bearer" not in everything
    session.stop().result(10)


def test_widget_state_stays_small(live: tuple[RealtimeWidget, MockComm]) -> None:
    """What a saved notebook keeps is the widget state: it must not grow with the conversation."""
    w, _comm = live

    def state_size() -> int:
        w.session.call_soon(w.bridge.flush)
        time.sleep(1.1)  # the counters trait is refreshed at most once a second
        return len(json.dumps(w.get_state(), default=str))

    def turns(n: int, start: int) -> None:
        for k in range(start, start + n):
            browser_says(w, {"kind": "text", "text": f"message number {k} " * 5})
            wait_until(lambda k=k: len(received(w.session, "response.done")) > k, what="response.done")

    turns(3, 0)
    early = state_size()
    turns(20, 3)
    late = state_size()
    assert len(w.session.log) > 500
    assert late - early < 200, f"state grew from {early} to {late} bytes over 20 turns"
    assert late < 1_000_000  # the whole front end (about 140 kB of ESM) included


def test_session_close_stops_the_browser(local_server: LocalServer, comms: list[MockComm]) -> None:
    session = Session(endpoint=local_server.url)
    w = RealtimeWidget(session)
    wait_until(lambda: w.status == "connected", what="connected")
    session.stop().result(10)
    assert comm_of(comms, w).custom("stop")
    assert w.status == "closed" and w.connected_at == 0
    browser_says(w, {"kind": "connect"})
    wait_until(lambda: w.status == "connected", what="reconnected")
    session.stop().result(10)


def test_close_while_connecting_cancels_the_connect(local_server: LocalServer, comms: list[MockComm]) -> None:
    session = Session(endpoint=local_server.url)
    connecting = session.start()
    session.stop().result(10)
    assert connecting.done()
    assert connecting.cancelled() or connecting.result() is session
    assert not [t for t in threading.enumerate() if t.name.startswith(f"rtwidget-session-{id(session):x}")]
