"""RealtimeWidget with a mock comm (no browser), against the local server over real loopback WebSockets.

The comm is the one thing mocked: it records what the kernel sends to the browser, and tests deliver browser
messages the way ipywidgets does (``_handle_msg``), from a thread of their own like a kernel subshell would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets.widgets.widget as widget_module
import numpy as np
import pytest

import rtwidget
from rtwidget import Session
from rtwidget.server import LocalServer
from rtwidget.server.voice import default_voice
from rtwidget.widget import RealtimeWidget

SECRET = "sk-" + "widgettest" * 4


class MockComm:
    """Records every message the widget sends; thread-safe like the kernel's iopub."""

    def __init__(self, **kwargs: Any) -> None:
        self.comm_id = kwargs.get("comm_id") or f"comm-{id(self):x}"
        self.opened = kwargs
        self.sent: list[tuple[dict[str, Any], list[bytes]]] = []
        self.lock = threading.Lock()
        self.kernel = object()  # ipywidgets only sends when the comm has a kernel

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        with self.lock:
            self.sent.append((data, [bytes(b) for b in buffers or ()]))

    def on_msg(self, callback: Any) -> None:
        self.callback = callback

    def on_close(self, callback: Any) -> None:
        pass

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass

    def custom(self, kind: str | None = None) -> list[tuple[dict[str, Any], list[bytes]]]:
        """Custom messages sent so far (optionally of one ``kind``), with their buffers."""
        with self.lock:
            out = [(d["content"], b) for d, b in self.sent if isinstance(d, dict) and d.get("method") == "custom"]
        return [(c, b) for c, b in out if kind is None or c.get("kind") == kind]

    def states(self) -> list[dict[str, Any]]:
        with self.lock:
            return [d["state"] for d, _ in self.sent if isinstance(d, dict) and d.get("method") == "update"]


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> list[MockComm]:
    made: list[MockComm] = []

    def create(**kwargs: Any) -> MockComm:
        made.append(MockComm(**kwargs))
        return made[-1]

    monkeypatch.setattr(widget_module.comm, "create_comm", create)
    return made


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    srv = LocalServer(pace="fast").start_in_thread()
    yield srv
    srv.stop_in_thread()


def wait_until(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def browser_says(w: RealtimeWidget, content: dict[str, Any], buffers: list[bytes] = ()) -> None:  # type: ignore[assignment]
    """Deliver a custom message as ipywidgets would, from another thread (like a kernel subshell)."""
    msg = {"content": {"data": {"method": "custom", "content": content}}, "buffers": list(buffers)}
    t = threading.Thread(target=w._handle_msg, args=(msg,))
    t.start()
    t.join()


def client_events(session: Session, etype: str) -> list[dict[str, Any]]:
    return [e.data for e in list(session.log) if e.direction == "client" and e.type == etype]


def server_events(session: Session, etype: str) -> list[dict[str, Any]]:
    return [e.data for e in list(session.log) if e.direction == "server" and e.type == etype]


@pytest.fixture
def live(server: LocalServer, comms: list[MockComm]) -> Iterator[tuple[RealtimeWidget, MockComm]]:
    session = Session(endpoint=server.url)
    w = RealtimeWidget(session)
    comm = comms[-1]
    wait_until(lambda: w.status == "connected" and session.config, what="connected")
    yield w, comm
    session.stop().result(10)


def test_session_repr_widget_and_constructor_are_one(comms: list[MockComm]) -> None:
    session = Session()
    w = session.widget
    assert RealtimeWidget(session) is w and session.widget is w
    bundle = session._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle  # (data, metadata) from anywidget
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == w.model_id
    assert RealtimeWidget(Session(), autoconnect=False) is not w
    assert RealtimeWidget(session, mic_chunk_ms=200) is w and w.mic_chunk_ms == 200
    session.stop().result(10)


def test_audio_deltas_leave_as_binary_pcm(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    browser_says(w, {"kind": "text", "text": "tell me something nice"})
    session = w.session
    wait_until(lambda: server_events(session, "response.done"), what="response.done")
    assistant = session.conversation[-1]
    audio = comm.custom("audio")
    assert audio, "no audio message reached the browser"
    assert all(c["item_id"] == assistant.id and len(b) == 1 for c, b in audio)
    total = sum(len(b[0]) for _, b in audio)
    assert total == pytest.approx(assistant.audio_ms * 48, abs=2)
    assert [c["seq"] for c, _ in audio] == sorted(c["seq"] for c, _ in audio)
    # Binary PCM, not base64 text: the bytes decode to the samples the server spoke.
    pcm = np.frombuffer(b"".join(b[0] for _, b in audio), dtype="<i2")
    assert np.abs(pcm).max() > 1000
    assert all("delta" not in c for c, _ in audio)
    assert w.voice_locked


def test_panel_updates_are_batched(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    browser_says(w, {"kind": "text", "text": "one two three four five six seven"})
    wait_until(lambda: server_events(w.session, "response.done"), what="response.done")
    w.session.call_soon(w.bridge.flush)
    wait_until(lambda: any(c.get("items") for c, _ in comm.custom("batch")), what="an items batch")
    batches = comm.custom("batch")
    events = len(w.session.log)
    assert len(batches) < events / 3, f"{len(batches)} batches for {events} events"
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
        return sum(int(e["audio"].strip("<> bytes")) for e in client_events(session, "input_audio_buffer.append"))

    wait_until(lambda: server_events(session, "input_audio_buffer.speech_stopped"), what="speech_stopped")
    wait_until(lambda: appended() >= len(stream), what="every mic byte appended")
    assert appended() == len(stream)
    assert server_events(session, "input_audio_buffer.speech_started")
    wait_until(lambda: server_events(session, "input_audio_buffer.committed"), what="committed")
    assert w.bridge.counters["audio_in_ms"] == pytest.approx(len(stream) / 48, abs=len(stream) // chunk)


def test_kind_routing_and_bad_messages(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, _comm = live
    browser_says(w, {"kind": "no-such-kind"})
    browser_says(w, {"type": "response.create"})  # an API event is not a widget message
    browser_says(w, {"kind": "mic"})  # no buffer: ignored
    browser_says(w, {"kind": "text", "text": "still works"})
    wait_until(lambda: server_events(w.session, "response.done"), what="response.done")
    assert not client_events(w.session, "response.create")[1:], "exactly one response.create"
    assert w.session.conversation[0].text == "still works"


def test_snapshot_for_a_new_view(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    browser_says(w, {"kind": "text", "text": "remember me"})
    wait_until(lambda: server_events(w.session, "response.done"), what="response.done")
    browser_says(w, {"kind": "hello", "view": "view-2"})
    snap = wait_until(lambda: comm.custom("snapshot"), what="snapshot")[-1][0]
    assert snap["view"] == "view-2"
    assert [i["role"] for i in sorted(snap["items"], key=lambda i: i["index"])] == ["user", "assistant"]
    assert snap["items"][0]["text"] or snap["items"][1]["text"]
    types = [r["type"] for r in snap["rows"]]
    assert "session.created" in types and "response.done" in types
    assert [r["id"] for r in snap["rows"]] == sorted(r["id"] for r in snap["rows"])
    assert snap["responses"] and snap["responses"][0]["usage"]["total_tokens"] > 0


def played_until_final(w: RealtimeWidget, comm: MockComm, samples_of: Callable[[str, int], int]) -> str:
    """Play: the browser reports a final played count after the kernel's flush."""
    browser_says(w, {"kind": "text", "text": "a long answer " * 20})
    audio = wait_until(lambda: comm.custom("audio"), what="audio")
    item_id = audio[0][0]["item_id"]
    browser_says(w, {"kind": "interrupt"})
    wait_until(lambda: comm.custom("flush"), what="flush")
    forwarded = w.bridge.forwarded[item_id]
    browser_says(w, {"kind": "played", "item_id": item_id, "samples": samples_of(item_id, forwarded), "final": True})
    return item_id


def test_interrupt_truncates_at_the_played_position(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    item_id = played_until_final(w, comm, lambda _, forwarded: min(forwarded - 1, 24 * 240))
    cut = wait_until(lambda: client_events(w.session, "conversation.item.truncate"), what="truncate")
    assert cut[0]["item_id"] == item_id
    assert cut[0]["audio_end_ms"] == min(240, int((w.bridge.played[item_id]) / 24))
    assert comm.custom("flush")[0][0]["reason"] == "interrupt"
    wait_until(lambda: server_events(w.session, "conversation.item.truncated"), what="truncated")


def test_no_truncate_when_playback_had_finished(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    played_until_final(w, comm, lambda _, forwarded: forwarded)
    time.sleep(0.3)  # nothing to wait for: the absence of an event is the point
    assert not client_events(w.session, "conversation.item.truncate")


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
    done = wait_until(lambda: server_events(session, "response.done"), what="response.done")
    assert done
    assert len(client_events(session, "input_audio_buffer.commit")) == 1
    assert len(client_events(session, "response.create")) == 1
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
    assert not client_events(w.session, "input_audio_buffer.commit")


def test_server_errors_become_notices(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live
    w.session.send({"type": "conversation.item.delete", "item_id": "no-such-item"})
    notices = wait_until(lambda: comm.custom("notice"), what="notice")
    assert notices[-1][0]["level"] == "error" and "no-such-item" in notices[-1][0]["text"]
    w.session.call_soon(w.bridge.flush)
    rows = wait_until(
        lambda: [r for c, _ in comm.custom("batch") for r in c.get("rows", []) if r["type"] == "error"], what="row"
    )
    deletes = client_events(w.session, "conversation.item.delete")
    assert rows[0]["cause_id"] == deletes[0]["event_id"]


def test_tools_panel_and_followup(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, comm = live

    @w.session.tool
    def get_weather(city: str) -> dict[str, Any]:
        """Weather for a city."""
        return {"city": city, "sky": "clear"}

    browser_says(w, {"kind": "text", "text": "get_weather city=Paris"})
    wait_until(lambda: len(server_events(w.session, "response.done")) >= 2, what="the follow-up response")
    w.session.call_soon(w.bridge.flush)
    tools = wait_until(lambda: [t for c, _ in comm.custom("batch") for t in c.get("tools", [])], what="tools")
    last = tools[-1]
    assert last["name"] == "get_weather" and last["status"] == "done"
    assert json.loads(last["output"]) == {"city": "Paris", "sky": "clear"}
    assert last["followup"] == "sent" and last["duration_ms"] >= 0
    assert len(client_events(w.session, "response.create")) == 2  # the user's, then exactly one follow-up


def test_no_secret_reaches_the_browser(server: LocalServer, comms: list[MockComm]) -> None:
    session = Session(endpoint=rtwidget.Endpoint(server.url, headers={"Authorization": f"Bearer {SECRET}"}))
    w = RealtimeWidget(session)
    wait_until(lambda: w.status == "connected", what="connected")
    browser_says(w, {"kind": "text", "text": "hi"})
    wait_until(lambda: server_events(session, "response.done"), what="response.done")
    browser_says(w, {"kind": "hello", "view": "v"})
    wait_until(lambda: comm_of(comms, w).custom("snapshot"), what="snapshot")
    everything = json.dumps([d for d, _ in comm_of(comms, w).sent], default=str) + json.dumps(
        w.get_state(), default=str
    )
    assert SECRET not in everything and "Bearer" not in everything
    session.stop().result(10)


def comm_of(comms: list[MockComm], w: RealtimeWidget) -> MockComm:
    return next(c for c in comms if c.comm_id == w.model_id)


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
            wait_until(lambda k=k: len(server_events(w.session, "response.done")) > k, what="response.done")

    turns(3, 0)
    early = state_size()
    turns(20, 3)
    late = state_size()
    assert len(w.session.log) > 500
    assert late - early < 200, f"state grew from {early} to {late} bytes over 20 turns"
    assert late < 1_000_000  # the whole front end (about 140 kB of ESM) included


def test_session_close_stops_the_browser(server: LocalServer, comms: list[MockComm]) -> None:
    session = Session(endpoint=server.url)
    w = RealtimeWidget(session)
    wait_until(lambda: w.status == "connected", what="connected")
    session.stop().result(10)
    assert comm_of(comms, w).custom("stop")
    assert w.status == "closed" and w.connected_at == 0
    browser_says(w, {"kind": "connect"})
    wait_until(lambda: w.status == "connected", what="reconnected")
    session.stop().result(10)


def test_close_while_connecting_cancels_the_connect(server: LocalServer, comms: list[MockComm]) -> None:
    session = Session(endpoint=server.url)
    connecting = session.start()
    session.stop().result(10)
    assert connecting.done()
    assert connecting.cancelled() or connecting.result() is session
    assert not [t for t in threading.enumerate() if t.name.startswith(f"rtwidget-session-{id(session):x}")]
