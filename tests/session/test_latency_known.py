"""Latency per turn and cost against figures worked out by hand: the known recorded session's six turns (text,
speech, a tool call and its answer, a barge-in and the speech over it) timed by their own events, in order; costs
from a known usage object and the price table, and from a price the user set (``rtwidget.prices``) on a real
local-server session."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from rtwidget import endpoints, prices
from rtwidget.server import LocalServer
from rtwidget.session.local_events import LogEntry
from rtwidget.session.metrics import STEPS, Metrics, TurnMetrics
from tests.cassette.recorded import RecordedSession, shared_recording
from tests.support import open_session, received, run

DELTA = "response.output_audio.delta"
MINE = "house-model"  # a model only the user prices


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> RecordedSession:
    return shared_recording(tmp_path_factory)


@pytest.fixture
def fresh_prices() -> Iterator[None]:
    prices.reset()
    yield
    prices.reset()


def expected_turns(rec: RecordedSession) -> list[dict[str, Any]]:
    """Each response's trigger and times, read off the events: the last trigger before ``response.created`` (a user
    message or a function output sent, or the server's ``speech_stopped``), the response's first audio delta and its
    ``response.done``."""
    turns: dict[str, dict[str, Any]] = {}
    trigger: tuple[str, float] | None = None
    for entry, data in rec.wire():
        item = data.get("item") or {}
        if entry.type == "conversation.item.create" and item.get("type") == "function_call_output":
            trigger = ("tool", entry.time)
        elif entry.type == "conversation.item.create" and item.get("role") == "user":
            trigger = ("text", entry.time)
        elif entry.type == "input_audio_buffer.speech_stopped":
            trigger = ("speech", entry.time)
        elif entry.type == "response.created":
            assert trigger is not None
            turns[data["response"]["id"]] = {"trigger": trigger[0], "t_trigger": trigger[1], "t_created": entry.time}
            trigger = None
        elif entry.type == DELTA:
            turns[data["response_id"]].setdefault("t_first_audio", entry.time)
        elif entry.type == "response.done":
            turns[data["response"]["id"]] |= {"t_done": entry.time, "status": data["response"]["status"]}
    return [{"response_id": rid, "t_first_audio": None, **t} for rid, t in turns.items()]


def test_each_turn_is_timed_by_its_events_in_order(rec: RecordedSession) -> None:
    turns = rec.session.turn_metrics
    expected = expected_turns(rec)
    fields = ["response_id", "trigger", "t_trigger", "t_created", "t_first_audio", "t_done", "status"]
    assert [{k: getattr(t, k) for k in fields} for t in turns] == [{k: e[k] for k in fields} for e in expected]
    assert [t.trigger for t in turns] == ["text", "speech", "text", "tool", "text", "speech"]
    assert [t.status for t in turns] == ["completed"] * 4 + ["cancelled", "completed"]  # the barge-in's
    for turn in turns:
        stamps = [turn.t_trigger, turn.t_created, turn.t_first_audio, turn.t_done]
        heard = [t for t in stamps if t is not None]
        assert heard == sorted(heard) and turn.t_trigger is not None and turn.t_done is not None
        assert turn.t_first_audible is None  # no browser played it
    assert turns[2].t_first_audio is None  # the call: no audio
    # The barge-in: the speech over the answer started before it was done, and its turn begins after.
    cut, over = turns[4], turns[5]
    started = [e.time for e, _ in rec.wire() if e.type == "input_audio_buffer.speech_started"][-1]
    assert cut.t_first_audio is not None and cut.t_first_audio < started <= cut.t_done
    assert cut.t_done is not None and over.t_trigger is not None and cut.t_done <= over.t_trigger


def test_the_waterfall_is_in_ms_from_the_trigger(rec: RecordedSession) -> None:
    for turn in rec.session.turn_metrics:
        assert turn.t_trigger is not None and turn.t_done is not None
        ms = turn.latency_ms()

        def since(t: float | None, trigger: float = turn.t_trigger) -> float | None:
            return None if t is None else round((t - trigger) * 1000, 1)

        assert ms == {
            "trigger": turn.trigger,
            "start": "trigger",
            "created": since(turn.t_created),
            "first_audio": since(turn.t_first_audio),
            "audible": None,
            "done": since(turn.t_done),
        }
        steps = [ms[k] for k in ("created", "first_audio", "done") if ms[k] is not None]
        assert steps == sorted(steps) and steps[0] >= 0


def test_the_summary_is_p50_and_p95_of_the_turns(rec: RecordedSession) -> None:
    turns = rec.session.turn_metrics
    summary = rec.session.latency_summary()
    assert set(summary) == set(STEPS)
    for step, (start, end) in STEPS.items():
        pairs = [(getattr(t, start), getattr(t, end)) for t in turns]
        values = [b - a for a, b in pairs if a is not None and b is not None]  # audible: none (no browser)
        if not values:
            assert summary[step] == {"n": 0, "p50": None, "p95": None}
            continue
        assert summary[step]["n"] == len(values)
        assert summary[step]["p50"] == pytest.approx(float(np.percentile(values, 50)), abs=1e-9)
        assert summary[step]["p95"] == pytest.approx(float(np.percentile(values, 95)), abs=1e-9)
    assert summary["created_to_first_audio"]["n"] == 5  # every turn but the call


def test_the_turns_dataframe_is_the_turns(rec: RecordedSession) -> None:
    pytest.importorskip("pandas", reason='to_dataframe() needs pandas: pip install "rtwidget[data]"')
    frame = rec.session.to_dataframe("turns")
    turns = rec.session.turn_metrics
    assert list(frame.columns) == [f.name for f in dataclasses.fields(TurnMetrics)] and len(frame) == len(turns)
    for row, turn in zip(frame.to_dict("records"), turns, strict=True):
        for key, value in dataclasses.asdict(turn).items():
            if value is None:
                assert row[key] is None or math.isnan(row[key]), key
            else:
                assert row[key] == value, key


def usage(text: int, audio: int, cached_text: int, cached_audio: int, text_out: int, audio_out: int) -> dict[str, Any]:
    """A GA ``response.done`` usage object."""
    return {
        "total_tokens": text + audio + text_out + audio_out,
        "input_tokens": text + audio,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text,
            "audio_tokens": audio,
            "image_tokens": 0,
            "cached_tokens": cached_text + cached_audio,
            "cached_tokens_details": {"text_tokens": cached_text, "audio_tokens": cached_audio, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


def test_a_known_usage_costs_the_hand_computed_figure_per_turn_and_in_total(fresh_prices: None) -> None:
    metrics = Metrics(lambda: "gpt-realtime-1.5", lambda: None, lambda: 10.0)

    def feed(t: float, direction: str, etype: str, data: dict[str, Any]) -> None:
        metrics(LogEntry(t, direction, etype, 0, data), data)

    known = [
        usage(text=1000, audio=5000, cached_text=200, cached_audio=1000, text_out=300, audio_out=2000),
        usage(text=2000, audio=0, cached_text=0, cached_audio=0, text_out=100, audio_out=1000),
    ]
    for n, u in enumerate(known):
        feed(2.0 * n, "client", "conversation.item.create", {"item": {"type": "message", "role": "user"}})
        feed(2.0 * n + 0.5, "server", "response.created", {"response": {"id": f"r{n}"}})
        feed(2.0 * n + 1.0, "server", "response.done", {"response": {"id": f"r{n}", "status": "completed", "usage": u}})
    # gpt-realtime-1.5, USD per 1M: text in 4, cached 0.4, audio in 32, cached audio 0.4, text out 16, audio out 64.
    # First: 800 x 4 + 200 x 0.4 + 4000 x 32 + 1000 x 0.4 + 300 x 16 + 2000 x 64 = 264,480 per 1M.
    # Second: 2000 x 4 + 100 x 16 + 1000 x 64 = 73,600 per 1M.
    first, second = metrics.turn_list()
    assert first.cost_usd == pytest.approx(0.26448) and second.cost_usd == pytest.approx(0.0736)
    totals = metrics.usage()
    assert totals["cost"].total == pytest.approx(0.26448 + 0.0736)
    assert totals["totals"]["cached_audio"] == 1000 and totals["totals"]["output_audio"] == 3000
    prices.set_price("gpt-realtime-1.5", audio_out=100.0)  # the user's price: the total priced afresh
    assert metrics.usage()["cost"].total == pytest.approx(0.26448 + 0.0736 + 3000 * 36 / 1e6)


def by_hand(u: dict[str, Any]) -> float:
    """The cost of one usage object at the user's prices below, from its fields (USD)."""
    inp, out = u["input_token_details"], u["output_token_details"]
    cached = inp.get("cached_tokens_details") or {}
    cached_text, cached_audio = cached.get("text_tokens", 0), cached.get("audio_tokens", 0)
    per_million = (
        (inp["text_tokens"] - cached_text) * 1.0
        + cached_text * 0.5
        + (inp["audio_tokens"] - cached_audio) * 10.0
        + cached_audio * 0.25
        + out["text_tokens"] * 2.0
        + out["audio_tokens"] * 20.0
    )
    return per_million / 1e6


def test_a_user_price_costs_a_real_session_by_hand(local_server: LocalServer, fresh_prices: None) -> None:
    prices.set_price(MINE, text_in=1.0, cached_in=0.5, audio_in=10.0, cached_audio_in=0.25, text_out=2.0)
    prices.set_price(MINE, {"audio_out": 20.0})

    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    async def body() -> None:
        url = endpoints.local(local_server.url, model=MINE)
        async with open_session(url, model=MINE, turn_detection=None, tools=[get_weather]) as session:  # type: ignore[arg-type]
            await session.ask("hello there")
            await session.ask("get_weather city=Rome")
            dones = [d["response"] for d in received(session, "response.done")]
            assert len(dones) == 3
            hand = {r["id"]: by_hand(r["usage"]) for r in dones}
            assert all(v > 0 for v in hand.values()) and sum(
                r["usage"]["output_token_details"]["audio_tokens"] for r in dones
            )
            turns = session.turn_metrics
            assert [t.cost_usd for t in turns] == pytest.approx([hand[t.response_id] for t in turns])
            costs = session.usage
            assert costs["model"] == MINE and costs["cost"].total == pytest.approx(sum(hand.values()))
            assert costs["cost"].source == "set by the user" and costs["billed"] is False
            assert [r["cost_usd"] for r in costs["responses"]] == pytest.approx([hand[r["id"]] for r in dones])
            frame = session.to_dataframe("turns")
            assert list(frame["cost_usd"]) == pytest.approx([hand[t.response_id] for t in turns])

    run(body)
