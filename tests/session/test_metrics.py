"""Usage, cost and latency per turn against real local-server sessions: the times are the log's own, in order;
the totals are the sum of every ``response.done``; nothing is billed on the local server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from rtwidget import audio, endpoints, prices
from rtwidget.server import LocalServer
from rtwidget.server.voice import default_voice
from rtwidget.session.local_events import LogEntry
from rtwidget.session.metrics import LOCAL_NOTE, STEPS, Metrics, TurnMetrics, flat_usage, percentile
from tests.support import open_session, run, until

DELTA = "response.output_audio.delta"


def entries(session: Any, etype: str, direction: str = "server") -> list[LogEntry]:
    return [e for e in list(session.log) if e.type == etype and e.direction == direction]


def created_at(session: Any, rid: str) -> float:
    return next(e.time for e in entries(session, "response.created") if e.data["response"]["id"] == rid)


def done_at(session: Any, rid: str) -> float:
    return next(e.time for e in entries(session, "response.done") if e.data["response"]["id"] == rid)


def first_audio_at(session: Any, rid: str) -> float | None:
    return next((e.time for e in entries(session, DELTA) if e.data["response_id"] == rid), None)


def check_times(session: Any, turn: TurnMetrics) -> None:
    """The turn's times are the log's times of its events, in order."""
    assert turn.t_created == created_at(session, turn.response_id)
    assert turn.t_first_audio == first_audio_at(session, turn.response_id)
    assert turn.t_done == done_at(session, turn.response_id)
    stamps = [t for t in (turn.t_trigger, turn.t_created, turn.t_first_audio, turn.t_done) if t is not None]
    assert stamps == sorted(stamps) and turn.t_trigger is not None


def test_a_text_turn_a_tool_turn_and_their_usage(local_server: LocalServer) -> None:
    async def body() -> None:
        calls: list[str] = []

        def get_weather(city: str = "Paris") -> str:
            """The weather in a city."""
            calls.append(city)
            return f"sunny in {city}"

        url = endpoints.local(local_server.url)
        async with open_session_at(url, tools=[get_weather]) as session:
            await session.ask("get_weather city=Rome")
            await session.respond_out_of_band("say hi")  # billed too: in the totals, not a turn
            assert calls == ["Rome"]
            turns = session.turn_metrics
            assert [t.trigger for t in turns] == ["text", "tool"]
            text_sent = [
                e for e in entries(session, "conversation.item.create", "client") if e.data["item"]["type"] == "message"
            ]
            outputs = [
                e
                for e in entries(session, "conversation.item.create", "client")
                if e.data["item"]["type"] == "function_call_output"
            ]
            assert turns[0].t_trigger == text_sent[-1].time
            assert turns[1].t_trigger == outputs[-1].time
            for turn in turns:
                check_times(session, turn)
            assert turns[1].t_first_audio is not None  # the spoken answer

            dones = [e.data["response"] for e in entries(session, "response.done")]
            assert len(dones) == 3
            summed = {key: sum(flat_usage(r["usage"])[key] for r in dones) for key in flat_usage({})}
            usage = session.usage
            assert usage["totals"] == {"responses": 3, **summed}
            assert summed["output_audio"] > 0 and summed["input_text"] > 0
            assert usage["billed"] is False and usage["note"] == LOCAL_NOTE
            model = usage["model"]
            assert prices.get_price(model) is not None, model
            by_id = {r["id"]: r for r in dones}
            for turn in turns:
                assert turn.cost_usd == prices.cost(model, by_id[turn.response_id]["usage"]).total
                assert turn.total_tokens == by_id[turn.response_id]["usage"]["total_tokens"]
            assert usage["cost"].total == pytest.approx(sum(prices.cost(model, r["usage"]).total for r in dones))
            assert [r["out_of_band"] for r in usage["responses"]] == [False, False, True]

            summary = session.latency_summary()
            assert set(summary) == set(STEPS)
            waits = sorted(t.t_created - t.t_trigger for t in turns if t.t_trigger is not None)
            assert summary["trigger_to_created"] == {
                "n": 2,
                "p50": percentile(waits, 50),
                "p95": percentile(waits, 95),
            }
            assert summary["trigger_to_audible"] == {"n": 0, "p50": None, "p95": None}  # no browser played it

    run(body)


def test_a_speech_turn_is_timed_from_speech_stopped_and_audible_from_the_playback_report(
    local_server: LocalServer,
) -> None:
    async def body() -> None:
        speech = default_voice().synthesize("Hello there, what time is it?", voice="alloy")
        silence = bytes(audio.BYTES_PER_SECOND)
        async with open_session_at(endpoints.local(local_server.url)) as session:
            session.append_audio(silence[: audio.BYTES_PER_SECOND // 2] + speech + silence)
            await until(lambda: entries(session, "response.done"))
            (turn,) = session.turn_metrics
            assert turn.trigger == "speech"
            assert turn.t_trigger == entries(session, "input_audio_buffer.speech_stopped")[-1].time
            check_times(session, turn)
            assert turn.t_first_audio is not None and turn.t_first_audible is None
            item_id = entries(session, DELTA)[0].data["item_id"]
            # What the widget's playback reports do (on the I/O thread): the first with samples marks it audible.
            session.call_soon(session._metrics.audible, item_id, 0)
            session.call_soon(session._metrics.audible, "item_unknown", 480)
            session.call_soon(session._metrics.audible, item_id, 480, turn.t_done + 0.25)
            session.call_soon(session._metrics.audible, item_id, 960, turn.t_done + 0.5)
            await until(lambda: session.turn_metrics[0].t_first_audible is not None)
            await asyncio.sleep(0.05)
            # The report's time less the 20 ms it says were played (it comes up to 250 ms after playback began).
            assert session.turn_metrics[0].t_first_audible == turn.t_done + 0.25 - 480 / 24_000
            assert session.latency_summary()["first_audio_to_audible"]["n"] == 1

    run(body)


def test_a_session_to_an_explicit_url_is_counted_as_billed(open_session: Callable[..., Any]) -> None:
    """Only rtwidget's local endpoint (the default without a key) says nothing is billed: a URL could be a proxy."""

    async def body() -> None:
        async with open_session(turn_detection=None) as session:
            await session.ask("hello")
            usage = session.usage
            assert usage["billed"] is True and usage["note"] == ""
            assert usage["totals"]["responses"] == 1

    run(body)


def test_an_unknown_model_has_no_cost_and_says_why(local_server: LocalServer) -> None:
    async def body() -> None:
        url = endpoints.local(local_server.url, model="house-model")
        async with open_session_at(url, model="house-model", turn_detection=None) as session:
            await session.ask("hello")
            usage = session.usage
            assert usage["model"] == "house-model"
            assert usage["cost"].total is None and "set_price" in (usage["cost"].reason or "")
            assert session.turn_metrics[0].cost_usd is None
            assert usage["totals"]["total_tokens"] > 0  # the tokens are counted all the same

    run(body)


def open_session_at(endpoint: endpoints.Endpoint, **kwargs: Any) -> Any:
    return open_session(endpoint, **kwargs)  # type: ignore[arg-type]


def test_audible_is_never_before_the_audio_reached_the_kernel() -> None:
    metrics = Metrics(lambda: "gpt-realtime", lambda: None, lambda: 10.0)

    def feed(t: float, direction: str, etype: str, data: dict[str, Any]) -> None:
        metrics(LogEntry(t, direction, etype, 0, data), data)

    feed(1.0, "client", "conversation.item.create", {"item": {"type": "message", "role": "user"}})
    feed(1.5, "server", "response.created", {"response": {"id": "r1", "conversation_id": "c1"}})
    feed(2.0, "server", DELTA, {"response_id": "r1", "item_id": "i1", "delta": "AAAA"})
    metrics.audible("i1", 24_000 * 60)  # a minute played by "now" (10.0): began at 2.0 at the earliest
    (turn,) = metrics.turn_list()
    assert (turn.trigger, turn.t_trigger, turn.t_created, turn.t_first_audio) == ("text", 1.0, 1.5, 2.0)
    assert turn.t_first_audible == 2.0
    assert metrics.usage()["billed"] is False and "not connected" in metrics.usage()["note"]
