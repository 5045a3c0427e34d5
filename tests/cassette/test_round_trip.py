"""Round trip: a session recorded against the local server (text, speech heard by the VAD, a tool call, a barge-in)
holds what went over the wire, and ``rtwidget serve --cassette`` (in process and from the command line) replays it
to the official openai client sending the same client events under ids of its own: every server event exactly as
recorded (the client's ids mapped in), the model's audio sample-exact."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rtwidget.cassette import Cassette
from rtwidget.server import LocalServer
from rtwidget.server.cassette_replay import MISMATCH, release_points
from tests.server.test_local_server import serving
from tests.support import run

from .recorded import HEARD_MS, LONG_ASK, TEXT, TOOL_ASK, RecordedSession, shared_recording

DELTA = "response.output_audio.delta"


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> RecordedSession:
    return shared_recording(tmp_path_factory)


def model_audio(events: list[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == DELTA)


def test_the_recording_holds_the_four_turns(rec: RecordedSession) -> None:
    tape = Cassette.open(rec.path)
    server = [e.event for e in tape.server_events()]
    items = [e.event["item"] for e in tape.client_events() if e.type == "conversation.item.create"]
    assert [i["content"][0]["text"] for i in items if i["type"] == "message"] == [TEXT, TOOL_ASK, LONG_ASK]
    assert rec.calls == [{"city": "Paris"}]  # the local brain called the Python tool
    outputs = [i for i in items if i["type"] == "function_call_output"]
    assert len(outputs) == 1 and json.loads(outputs[0]["output"]) == {"city": "Paris", "temp": 21}
    assert tape.types("server").count("input_audio_buffer.speech_started") == 2  # the speech and the barge-in
    statuses = [e["response"]["status"] for e in server if e["type"] == "response.done"]
    assert statuses.count("cancelled") == 1 and statuses.count("completed") == len(statuses) - 1 >= 5
    truncated = [e for e in server if e["type"] == "conversation.item.truncated"]
    assert [(e["item_id"], e["audio_end_ms"]) for e in truncated] == [(rec.truncated_item, HEARD_MS)]
    # Everything the session saw on the wire, in order and with its audio, is in the cassette.
    wire = rec.wire()
    assert [(e.direction, tape.with_audio(e.event)) for e in tape.events] == [(e.direction, d) for e, d in wire]
    # The microphone's audio byte for byte as sent; the model's sample-exact as received.
    assert tape.audio("mic") == rec.mic and len(rec.mic) > 2 * 24000 * 2
    assert tape.audio("model") == model_audio([d for _, d in wire]) and len(tape.audio("model")) > 24000 * 2
    appended = [d for e, d in wire if e.type == "input_audio_buffer.append"]
    assert b"".join(base64.b64decode(d["audio"]) for d in appended) == rec.mic


def client_chosen_ids(tape: Cassette) -> dict[str, str]:
    """Each id the recorded client chose (its event ids, the ids of the items it created) -> a new one of ours."""
    mine: dict[str, str] = {}
    for e in tape.client_events():
        for value in (e.event.get("event_id"), (e.event.get("item") or {}).get("id")):
            if isinstance(value, str):
                mine.setdefault(value, f"mine_{len(mine)}")
    return mine


def renamed(event: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """``event`` with every recorded client-chosen id (as a whole JSON string) replaced by ours."""
    text = json.dumps(event)
    for old, new in ids.items():
        text = text.replace(json.dumps(old), json.dumps(new))
    result: dict[str, Any] = json.loads(text)
    return result


def openai_replay(url: str, tape: Cassette, ids: dict[str, str]) -> list[dict[str, Any]]:
    """The official openai client sends the recorded client events (audio restored, our ids), waiting after each
    for the server events it releases, then one event past the end; every event received, parsed by the SDK."""
    openai = pytest.importorskip("openai")
    client_at = [i for i, e in enumerate(tape.events) if e.direction == "client"]
    server_at = [i for i, e in enumerate(tape.events) if e.direction == "server"]
    answered = [sum(1 for i in server_at if i <= point) for point in release_points(tape.events, client_at)]
    first = sum(1 for i in server_at if i < client_at[0])  # session.created: sent on connect

    async def body() -> list[dict[str, Any]]:
        client = openai.AsyncOpenAI(api_key="sk-local-test", websocket_base_url=url.removesuffix("/realtime"))
        got: list[dict[str, Any]] = []
        async with client.realtime.connect(model="gpt-realtime") as conn:
            for index, count in zip([-1, *client_at], [first, *answered], strict=True):
                if index >= 0:
                    await conn.send(renamed(tape.with_audio(tape.events[index].event), ids))
                while len(got) < count:
                    raw = await conn.recv_bytes()
                    conn.parse_event(raw)  # one the SDK's types accept
                    got.append(json.loads(raw))
            await conn.send({"type": "response.cancel", "event_id": "past_the_end"})
            got.append(json.loads(await conn.recv_bytes()))  # the mismatch: nothing else came before it
        return got

    return run(body)


@contextlib.contextmanager
def replay_url(how: str, path: Path) -> Iterator[str]:
    """A replay server for ``path``: in this process, or ``rtwidget serve --cassette`` as a subprocess."""
    if how == "cli":
        with serving("-m", "rtwidget.cli", "serve", "--cassette", str(path), "--pace", "fast", "--port", "0") as url:
            yield url
        return
    server = LocalServer(pace="fast", cassette=path).start_in_thread()
    try:
        yield server.url
    finally:
        server.stop_in_thread()


@pytest.mark.parametrize("how", ["in-process", "cli"])
def test_serve_cassette_replays_it_to_the_openai_client(rec: RecordedSession, how: str) -> None:
    tape = Cassette.open(rec.path)
    ids = client_chosen_ids(tape)
    items = [e.event["item"]["id"] for e in tape.client_events() if e.type == "conversation.item.create"]
    assert len(items) == 4 and set(items) <= set(ids)  # the items the client created: their ids mapped too
    with replay_url(how, rec.path) as url:
        got = openai_replay(url, tape, ids)
    *replayed, last = got
    assert last["type"] == "error" and last["error"]["code"] == MISMATCH
    assert last["error"]["event_id"] == "past_the_end"
    # Exactly what the session received when recording, server-made ids included, the client's ids being ours.
    received = [renamed(d, ids) for e, d in rec.wire() if e.direction == "server"]
    assert replayed == received
    created = [e["item"]["id"] for e in replayed if e["type"] == "conversation.item.added"]
    assert {v for v in ids.values() if v in created}  # the server named the items by our ids
    assert not set(ids) & set(created)  # and never by the recorded ones
    # The barge-in as recorded: the response cancelled by the speech, the item cut where the client said.
    types = [e["type"] for e in replayed]
    assert "conversation.item.truncated" in types and "response.function_call_arguments.done" in types
    assert model_audio(replayed) == tape.audio("model") and len(tape.audio("model")) > 24000 * 2  # sample-exact
