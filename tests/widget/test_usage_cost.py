"""The session panel's usage trait carries the cost next to the tokens (from rtwidget.prices), and says when
nothing is billed or no price is known."""

from __future__ import annotations

from typing import Any

from rtwidget import prices
from rtwidget.widget import RealtimeWidget
from rtwidget.widget.panels import UsageTotals, usage_cost

from .comm_double import MockComm, wait_until


class FakeSession:
    def __init__(self, model: str, billed: bool, usage: dict[str, Any]) -> None:
        self.usage = {"billed": billed, "cost": prices.cost(model, usage)}


def test_the_usage_trait_has_the_cost_of_the_session_so_far(live: tuple[RealtimeWidget, MockComm]) -> None:
    w, _comm = live
    w.session.send_text("hello")
    wait_until(lambda: (w.usage or {}).get("responses") == 1, what="the usage trait after response.done")
    usage = w.session.usage
    assert w.usage["total"] == usage["totals"]["total_tokens"] > 0
    assert w.usage["cost_usd"] == usage["cost"].total and w.usage["cost_usd"] > 0
    assert w.usage["billed"] is True and w.usage["cost_note"] == ""  # an explicit URL: maybe a billed proxy
    assert w.usage["prices_as_of"] == prices.AS_OF


def test_usage_cost_says_when_nothing_is_billed_or_no_price_is_known() -> None:
    spent = {"input_token_details": {"text_tokens": 1_000_000}}
    local = usage_cost(FakeSession("gpt-realtime-2", False, spent))
    assert local == {
        "cost_usd": 4.0,
        "billed": False,
        "cost_note": "local server: nothing is billed",
        "prices_as_of": prices.AS_OF,
    }
    unknown = usage_cost(FakeSession("house-model", True, spent))
    assert unknown["cost_usd"] is None and "set_price" in unknown["cost_note"]


def test_usage_totals_add_the_cost_to_each_view() -> None:
    totals = UsageTotals(lambda: {"cost_usd": 0.5})
    view = totals.add({"input_token_details": {"text_tokens": 3}, "total_tokens": 3})
    assert view["responses"] == 1 and view["input_text"] == 3 and view["cost_usd"] == 0.5
    assert totals.add(None) == view
    assert "cost_usd" not in UsageTotals().view()
