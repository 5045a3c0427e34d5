"""Latency and cost per response in the widget: the ResponseView's waterfall against the logged events' times,
the first audible sample from the browser's playback report, each response's cost against a hand-computed
figure, and the ``usage`` trait as the session's own figures (one count, not two)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rtwidget import audio, prices
from rtwidget.server import LocalServer
from rtwidget.server.voice import default_voice
from rtwidget.session.local_events import LogEntry
from rtwidget.widget import RealtimeWidget
from rtwidget.widget.panels import response_view, usage_view
from tests.support import open_session, run, until

from .comm_double import MockComm, barrier, browser_says, wait_until

DELTA = "response.output_audio.delta"
# USD per million tokens, each rate different so a token priced at the wrong rate shows.
RATES = {"text_in": 2.0, "cached_in": 0.5, "text_out": 8.0, "audio_in": 16.0, "cached_audio_in": 1.0, "audio_out": 32.0}


@pytest.fixture(autouse=True)
def fresh_prices() -> Iterator[None]:
    prices.reset()
    yield
    prices.reset()


def logged(session: Any, etype: str, direction: str = "server") -> list[LogEntry]:
    return [e for e in list(session.log) if e.type == etype and e.direction == direction]


def of_response(entries: list[LogEntry], rid: str) -> list[LogEntry]:
    return [e for e in entries if (e.data.get("response") or {}).get("id", e.data.get("response_id")) == rid]


def ms(t: float | None, start: float) -> float | None:
    return None if t is None else round((t - start) * 1000, 1)


def hand_cost(usage: dict[str, Any]) -> float:
    """The cost of a GA usage object at RATES, worked out from its fields one by one."""
    inp, out = usage["input_token_details"], usage["output_token_details"]
    cached = inp.get("cached_tokens_details") or {}
    text_cached, audio_cached = cached.get("text_tokens", 0), cached.get("audio_tokens", 0)
    usd = (inp["text_tokens"] - text_cached) * 2.0 + text_cached * 0.5
    usd += (inp["audio_tokens"] - audio_cached) * 16.0 + audio_cached * 1.0
    usd += out["text_tokens"] * 8.0 + out["audio_tokens"] * 32.0
    return usd / 1_000_000


def test_a_spoken_turn_s_waterfall_is_the_logged_events_times_in_order(local_server: LocalServer) -> None:
    async def body() -> None:
        speech = default_voice().synthesize("Hello there, what time is it?", voice="alloy")
        silence = bytes(audio.BYTES_PER_SECOND)
        async with open_session(local_server.url) as session:
            session.append_audio(silence[: audio.BYTES_PER_SECOND // 2] + speech + silence)
            await until(lambda: logged(session, "response.done"))
            (created,) = logged(session, "response.created")
            rid = created.data["response"]["id"]
            start = logged(session, "input_audio_buffer.speech_stopped")[-1].time
            first_audio = of_response(logged(session, DELTA), rid)[0].time
            done = of_response(logged(session, "response.done"), rid)[0].time
            view = response_view(session.conversation_state.responses[rid], session._metrics)
            latency = view["latency"]
            assert latency == {
                "trigger": "speech",
                "start": "trigger",
                "created": ms(created.time, start),
                "first_audio": ms(first_audio, start),
                "audible": None,  # no browser played it: missing, not 0
                "done": ms(done, start),
            }
            assert 0 <= latency["created"] <= latency["first_audio"] <= latency["done"]
            # The same figures as the turns DataFrame's row (session.turn_metrics), in ms from the trigger.
            (turn,) = session.turn_metrics
            assert turn.t_trigger == start and turn.latency_ms() == latency

    run(body)


def test_a_text_only_answer_has_no_audio_steps_and_an_out_of_band_one_no_waterfall(local_server: LocalServer) -> None:
    async def body() -> None:
        async with open_session(local_server.url, turn_detection=None) as session:
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}
            session.send({"type": "conversation.item.create", "item": item})
            session.respond(output_modalities=["text"])
            await until(lambda: logged(session, "response.done"))
            await session.respond_out_of_band("say hi")
            default, oob = session.usage["responses"]
            text_sent = [e for e in logged(session, "conversation.item.create", "client")][-1].time
            lanes = session.conversation_state.responses
            latency = response_view(lanes[default["response_id"]], session._metrics)["latency"]
            assert latency["trigger"] == "text" and latency["first_audio"] is None and latency["audible"] is None
            created = of_response(logged(session, "response.created"), default["response_id"])[0].time
            assert latency["created"] == ms(created, text_sent)
            assert response_view(lanes[oob["response_id"]], session._metrics)["latency"] is None

    run(body)


def test_the_first_playback_report_republishes_the_response_with_its_audible_step(
    live: tuple[RealtimeWidget, MockComm],
) -> None:
    w, comm = live
    session = w.session
    session.send_text("hello")
    wait_until(lambda: session.turn_metrics and session.turn_metrics[0].t_done is not None, what="a finished turn")
    rid = session.turn_metrics[0].response_id

    def views() -> list[dict[str, Any]]:
        return [r for b in comm.batches() for r in b.get("responses", ()) if r["id"] == rid]

    wait_until(lambda: [v for v in views() if v["status"] == "completed"], what="the done response's view")
    assert views()[-1]["latency"]["audible"] is None and views()[-1]["latency"]["done"] is not None
    shown = len(views())
    item_id = next(e.data["item_id"] for e in logged(session, DELTA))
    browser_says(w, {"kind": "played", "item_id": item_id, "samples": 4800, "final": False})
    wait_until(lambda: len(views()) > shown, what="the response view sent again after the playback report")
    (turn,) = session.turn_metrics
    latency = views()[-1]["latency"]
    assert turn.t_trigger is not None and turn.t_first_audible is not None
    assert latency["audible"] == ms(turn.t_first_audible, turn.t_trigger)
    assert latency["first_audio"] <= latency["audible"]  # never before the audio reached the kernel
    # The summary line's figures follow: one audible turn now.
    assert w.usage["latency"]["trigger_to_audible"]["n"] == 1
    assert w.usage["latency"]["trigger_to_audible"]["p50_ms"] == latency["audible"]
    # A later report changes nothing: no new view.
    browser_says(w, {"kind": "played", "item_id": item_id, "samples": 9600, "final": False})
    snapshot = barrier(w, comm, "after")
    assert len(views()) == shown + 1
    assert next(r for r in snapshot["responses"] if r["id"] == rid)["latency"] == latency


def test_each_response_costs_the_hand_computed_figure_and_the_trait_is_the_session_s_usage(
    live: tuple[RealtimeWidget, MockComm],
) -> None:
    w, comm = live
    session = w.session
    model = session.usage["model"]
    prices.set_price(model, RATES)
    session.send_text("hello")
    wait_until(lambda: len(session.usage["responses"]) == 1, what="the first response done")
    session.send_text("and again")
    wait_until(lambda: len(session.usage["responses"]) == 2, what="the second response done")
    snapshot = barrier(w, comm, "costs")
    usages = {e.data["response"]["id"]: e.data["response"]["usage"] for e in logged(session, "response.done")}
    costs = {r["id"]: r["cost_usd"] for r in snapshot["responses"]}
    assert costs.keys() == usages.keys()
    for rid, usage in usages.items():
        assert costs[rid] == pytest.approx(hand_cost(usage), rel=1e-12) and costs[rid] > 0
    # The trait: the session's usage as it counts it (not a second count of the widget's own).
    usage = session.usage
    wait_until(lambda: w.usage.get("responses") == 2, what="the usage trait after both responses")
    assert w.usage == usage_view(usage, session.latency_summary())
    assert {k: w.usage[k] for k in usage["totals"]} == usage["totals"]
    assert w.usage["total_tokens"] == sum(u["total_tokens"] for u in usages.values())
    assert w.usage["cost_usd"] == pytest.approx(sum(hand_cost(u) for u in usages.values()), rel=1e-12)
    assert w.usage["billed"] is True and w.usage["model"] == model  # an explicit URL: maybe a billed proxy


def test_the_usage_view_says_why_a_cost_is_unknown_or_not_billed() -> None:
    summed = {"text_in": 1_000_000}
    latency = {"trigger_to_created": {"n": 2, "p50": 0.2104, "p95": 0.38}, "trigger_to_done": {"n": 0}}
    latency["trigger_to_done"] |= {"p50": None, "p95": None}
    usage = {"model": "gpt-realtime-2", "billed": False, "note": "local server: nothing is billed", "totals": {}}
    local = usage_view({**usage, "cost": prices.cost_of_counts("gpt-realtime-2", summed)}, latency)
    assert (local["cost_usd"], local["cost_note"], local["prices_as_of"]) == (4.0, usage["note"], prices.AS_OF)
    assert local["latency"] == {
        "trigger_to_created": {"n": 2, "p50_ms": 210.4, "p95_ms": 380.0},
        "trigger_to_done": {"n": 0, "p50_ms": None, "p95_ms": None},
    }
    unknown = usage_view({**usage, "billed": True, "cost": prices.cost_of_counts("house", summed)}, latency)
    assert unknown["cost_usd"] is None and "set_price" in unknown["cost_note"]
