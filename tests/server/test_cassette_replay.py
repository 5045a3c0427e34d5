"""``LocalServer(cassette=...)`` / ``rtwidget serve --cassette``: a session recorded against the local server is
replayed to a fresh rtwidget Session making the same calls and to the official openai client, event for event
(ids the client chose mapped to the client's) and sample for sample; a diverging client gets a clear error."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtwidget import Session
from rtwidget.cassette import Cassette
from rtwidget.server import LocalServer
from rtwidget.server.cassette_replay import MISMATCH, ReplayEngine, release_points
from rtwidget.server.engine import Pace
from tests.session.sample_tools import tool_fns
from tests.support import TIMEOUT, received, run, scaled, until

from .test_local_server import serving

MIC = (np.sin(2 * np.pi * 440 * np.arange(24000) / 24000) * 8000).astype("<i2").tobytes()


async def the_calls(session: Session) -> None:
    """Text, audio appended and committed, and a tool call, each answered (the same calls every time)."""
    await session.ask("hello there")
    session.append_audio(MIC)
    session.commit_audio()
    done = len(received(session, "response.done"))
    session.respond()
    await until(lambda: len(received(session, "response.done")) > done)
    await session.ask("get_weather city=Paris")
    await until(lambda: len(received(session, "response.done")) >= 4)


def a_session(url: str, calls: list[str], record: Path | None = None) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []  # every wire event with its full data (audio too), in order

    async def body() -> list[tuple[str, dict[str, Any]]]:
        session = Session(endpoint=url, turn_detection=None, tools=tool_fns(calls))
        session._taps.add(lambda entry, data: seen.append((entry.direction, data)))  # no I/O loop yet: safe here
        if record is not None:
            session.record(record)
        try:
            await session.connect()
            await the_calls(session)
        finally:
            await session.close()
        return [(way, data) for way, data in seen if way != "local"]

    return run(body)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, dict[str, Any]]]]:
    path = tmp_path_factory.mktemp("cassette") / "session.cassette"
    server = LocalServer(pace="fast").start_in_thread()
    try:
        events = a_session(server.url, [], record=path)
    finally:
        server.stop_in_thread()
    return path, events


def audio_of(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(base64.b64decode(d["delta"]) for _, d in events if d["type"] == "response.output_audio.delta")


def client_ids_numbered(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """The events with each id the client chose afresh (its event ids, the ids of the items it created) replaced,
    wherever it appears (the server's events too), by its number in order of first use: the ids that differ by
    design; everything else stays exact."""
    chosen: dict[str, str] = {}
    for way, data in events:
        if way == "client":
            for value in (data.get("event_id"), (data.get("item") or {}).get("id")):
                if isinstance(value, str):
                    chosen.setdefault(value, f"<client id {len(chosen)}>")
    text = json.dumps(events)
    for value, name in chosen.items():
        text = text.replace(json.dumps(value), json.dumps(name))
    numbered: list[tuple[str, dict[str, Any]]] = [(way, data) for way, data in json.loads(text)]
    return numbered


# "realtime": the recorded gaps kept (short: the recording was made against a fast-paced server).
@pytest.mark.parametrize("pace", ["fast", "realtime"])
def test_a_fresh_session_gets_the_recorded_answers(recorded: tuple[Path, list[Any]], pace: Pace) -> None:
    path, original = recorded
    tape = Cassette.open(path)
    server = LocalServer(pace=pace, cassette=path).start_in_thread()
    calls: list[str] = []
    try:
        replayed = a_session(server.url, calls)
    finally:
        server.stop_in_thread()
    assert calls == ["get_weather"]  # the recorded function call ran the tool again
    # Every event both ways exactly as recorded (server-made ids included), but for the ids the client chose.
    assert client_ids_numbered(replayed) == client_ids_numbered(original)
    mine = {d["item"]["id"] for way, d in replayed if way == "client" and d["type"] == "conversation.item.create"}
    assert mine and mine.isdisjoint(json.dumps(original))  # they did differ: the server used the client's
    assert audio_of(replayed) == tape.audio("model") and len(tape.audio("model")) > 24000  # sample-exact


def test_the_openai_client_gets_the_recorded_events(recorded: tuple[Path, list[Any]]) -> None:
    openai = pytest.importorskip("openai")
    path, _ = recorded
    tape = Cassette.open(path)
    client_at = [i for i, e in enumerate(tape.events) if e.direction == "client"]
    # A client that waits for every answer before its next event: after each, the server events released by then.
    server_at = [i for i, e in enumerate(tape.events) if e.direction == "server"]
    answered = [sum(1 for i in server_at if i <= point) for point in release_points(tape.events, client_at)]
    first = sum(1 for i in server_at if i < client_at[0])  # session.created: sent on connect
    expected = [tape.with_audio(e.event) for e in tape.server_events()]

    async def body() -> list[dict[str, Any]]:
        async with LocalServer(pace="fast", cassette=path) as server:
            base = server.url.removesuffix("/realtime")
            client = openai.AsyncOpenAI(api_key="sk-local-test", websocket_base_url=base)
            got: list[dict[str, Any]] = []
            async with client.realtime.connect(model="gpt-realtime") as conn:
                for index, count in zip([-1, *client_at], [first, *answered], strict=True):
                    if index >= 0:
                        event = tape.with_audio(tape.events[index].event)
                        await conn.send({k: v for k, v in event.items() if k != "event_id"})  # the SDK's ids: none
                    while len(got) < count:
                        raw = await conn.recv_bytes()
                        conn.parse_event(raw)  # every event one the SDK's types accept
                        got.append(json.loads(raw))
            return got

    got = run(body)
    assert got == expected  # exact, server-made ids included
    model = b"".join(base64.b64decode(e["delta"]) for e in got if e["type"] == "response.output_audio.delta")
    assert model == tape.audio("model") and len(model) > 24000  # sample-exact through the SDK too


def test_client_chosen_ids_are_mapped_to_the_clients(recorded: tuple[Path, list[Any]]) -> None:
    path, _ = recorded
    tape = Cassette.open(path)
    first_create = next(i for i, e in enumerate(tape.client_events()) if e.type == "conversation.item.create")
    clients = [tape.with_audio(e.event) for e in tape.client_events()]

    async def body() -> list[dict[str, Any]]:
        async with LocalServer(pace="fast", cassette=path) as server, connect(server.url) as ws:
            got = [json.loads(await ws.recv())]  # session.created
            # The client waits for the item before asking for a response, although the recording's client sent both
            # at once (its answer came after the response.create): the acknowledgement is released all the same.
            for n, event in enumerate(clients[: first_create + 1]):
                mine = dict(event, event_id=f"mine_{n}")
                if n == first_create:
                    mine["item"] = dict(mine["item"], id="item_mine")
                await ws.send(json.dumps(mine))
            while not any(e["type"] == "conversation.item.done" for e in got):
                got.append(json.loads(await ws.recv()))
            await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))  # diverge: all released comes first
            got += [json.loads(text) async for text in ws]
            return got

    created = clients[first_create]["item"]["id"]
    asked = next(e for e in list(tape.client_events())[first_create:] if e.type == "response.create")
    acks = [e for e in tape.server_events() if e.type == "conversation.item.added" and e.event["item"]["id"] == created]
    assert acks[0].time > asked.time  # recorded after the client's next event
    got = run(body)
    added = next(e for e in got if e["type"] == "conversation.item.added")
    assert added["item"]["id"] == "item_mine"
    assert got[-1]["error"]["code"] == MISMATCH and "'response.create'" in got[-1]["error"]["message"]
    assert "response.created" not in [e["type"] for e in got]  # nothing the response.create brought


def raw_replay(path: Path, events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int | None, str | None]:
    """Send ``events`` to a replay server over a bare WebSocket; everything received, and how it closed."""

    async def body() -> tuple[list[dict[str, Any]], int | None, str | None]:
        async with LocalServer(pace="fast", cassette=path) as server, connect(server.url) as ws:
            for event in events:
                await ws.send(json.dumps(event))
            got = [json.loads(text) async for text in ws]  # ends when the server closes: never hangs
            return got, ws.close_code, ws.close_reason

    return run(body, TIMEOUT)


def test_a_different_event_type_is_a_clear_error_and_a_close(recorded: tuple[Path, list[Any]]) -> None:
    path, _ = recorded
    tape = Cassette.open(path)
    first = next(tape.client_events())
    got, code, reason = raw_replay(path, [{"type": "response.create", "event_id": "evt_x"}])
    assert [e["type"] for e in got] == ["session.created", "error"]
    error = got[-1]["error"]
    assert error["code"] == MISMATCH and error["event_id"] == "evt_x"
    assert "client event #0" in error["message"] and repr(first.type) in error["message"]
    assert "'response.create'" in error["message"]
    assert (code, reason) == (1000, MISMATCH)


def test_a_different_text_is_a_mismatch(recorded: tuple[Path, list[Any]]) -> None:
    path, _ = recorded
    tape = Cassette.open(path)
    clients = [tape.with_audio(e.event) for e in tape.client_events()]
    n = next(i for i, e in enumerate(clients) if e["type"] == "conversation.item.create")
    wrong = json.loads(json.dumps(clients[n]).replace("hello there", "goodbye"))
    got, code, reason = raw_replay(path, [*clients[:n], wrong])
    error = got[-1]["error"]
    assert error["code"] == MISMATCH and f"client event #{n}" in error["message"]
    assert "hello there" in error["message"] and "goodbye" in error["message"]
    assert (code, reason) == (1000, MISMATCH)


def test_an_event_past_the_end_of_the_recording_is_a_mismatch(recorded: tuple[Path, list[Any]]) -> None:
    path, _ = recorded
    tape = Cassette.open(path)
    clients = [tape.with_audio(e.event) for e in tape.client_events()]
    got, code, reason = raw_replay(path, [*clients, {"type": "response.create"}])
    assert [e["type"] for e in got if e["type"] != "error"] == tape.types("server")  # everything recorded came
    assert got[-1]["error"]["code"] == MISMATCH and "no more client events" in got[-1]["error"]["message"]
    assert (code, reason) == (1000, MISMATCH)


def test_serve_replays_a_cassette_and_names_a_missing_one(recorded: tuple[Path, list[Any]]) -> None:
    path, _ = recorded
    tape = Cassette.open(path)
    with serving("-m", "rtwidget.cli", "serve", "--cassette", str(path), "--pace", "fast") as url:

        async def talk() -> dict[str, Any]:
            async with connect(url) as ws:
                created: dict[str, Any] = json.loads(await ws.recv())
                return created

        assert run(talk()) == tape.event_with_audio(0)
    missing = str(path.with_name("missing.cassette"))
    done = subprocess.run(
        [sys.executable, "-m", "rtwidget.cli", "serve", "--cassette", missing],
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    assert done.returncode == 2 and f"no cassette at {missing!r}" in done.stderr


def test_realtime_pace_keeps_the_recorded_gaps(recorded: tuple[Path, list[Any]]) -> None:
    path, _ = recorded
    tape = Cassette.open(path)
    now = [1000.0]
    engine = ReplayEngine(tape, pace="realtime", clock=lambda: now[0])
    engine.start()
    assert [json.loads(t)["type"] for t in engine.data_to_send()] == ["session.created"]
    assert engine.next_deadline() is None  # the rest waits for the client
    clients = [(i, e) for i, e in enumerate(tape.events) if e.direction == "client"]
    (first, update), (second, _) = clients[0], clients[1]
    engine.receive_text(json.dumps(tape.with_audio(update.event)))
    answers = [e for e in tape.events[first + 1 : second] if e.direction == "server"]
    assert answers, "the recording answered the first client event before the second"
    sent = [json.loads(t) for t in engine.data_to_send()]
    assert sent == []  # the answer was recorded a moment after the client's event: it waits for that moment
    due = engine.next_deadline()
    assert due == pytest.approx(1000.0 + answers[0].time - update.time) and due > 1000.0
    while engine.next_deadline() is not None:
        engine.advance(engine.next_deadline() or 0.0)
        sent += [json.loads(t) for t in engine.data_to_send()]
    assert sent == [tape.with_audio(e.event) for e in answers]


def test_a_beta_client_is_refused_and_options_that_do_not_apply_are_named(recorded: tuple[Path, list[Any]]) -> None:
    path, _ = recorded

    async def body() -> tuple[list[dict[str, Any]], int | None]:
        async with (
            LocalServer(pace="fast", cassette=path) as server,
            connect(server.url, additional_headers={"OpenAI-Beta": "realtime=v1"}) as ws,
        ):
            got = [json.loads(await ws.recv())]
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return got, ws.close_code

    got, code = run(body)
    assert [e["error"]["code"] for e in got] == ["beta_api_shape_disabled"] and code == 4000
    for options in ({"dialect": "beta"}, {"envelope": True}):
        with pytest.raises(ValueError, match="drop dialect, envelope and script"):
            LocalServer(cassette=path, **options)


@pytest.mark.parametrize("pieces", [1, 3])
def test_audio_chunked_otherwise_still_matches(recorded: tuple[Path, list[Any]], pieces: int) -> None:
    """A microphone chunks as it goes: more appends (or fewer) than recorded still get the recorded answers."""
    path, _ = recorded
    tape = Cassette.open(path)
    clients = [tape.with_audio(e.event) for e in tape.client_events()]
    appends = [n for n, e in enumerate(clients) if e["type"] == "input_audio_buffer.append"]
    audio = b"".join(base64.b64decode(clients[n]["audio"]) for n in appends)
    step = -(-len(audio) // pieces) // 2 * 2  # whole samples
    mine = [
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio[i : i + step]).decode()}
        for i in range(0, len(audio), step)
    ]
    assert len(appends) > 1 and len(mine) != len(appends)  # really chunked otherwise
    events = [*clients[: appends[0]], *mine, *clients[appends[-1] + 1 :], {"type": "response.cancel"}]
    got, code, reason = raw_replay(path, events)
    assert got[:-1] == [tape.with_audio(e.event) for e in tape.server_events()]
    assert got[-1]["error"]["code"] == MISMATCH and (code, reason) == (1000, MISMATCH)
