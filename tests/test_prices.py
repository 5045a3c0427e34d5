"""rtwidget.prices: costs against figures computed by hand, user overrides, unknown models (None, never 0)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rtwidget import prices


@pytest.fixture(autouse=True)
def fresh_table() -> Iterator[None]:
    prices.reset()
    yield
    prices.reset()


def usage(
    text: int = 0,
    audio: int = 0,
    cached_text: int = 0,
    cached_audio: int = 0,
    text_out: int = 0,
    audio_out: int = 0,
    image: int = 0,
) -> dict[str, Any]:
    """A GA ``response.done`` usage object."""
    inp = text + audio + image
    return {
        "total_tokens": inp + text_out + audio_out,
        "input_tokens": inp,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text,
            "audio_tokens": audio,
            "image_tokens": image,
            "cached_tokens": cached_text + cached_audio,
            "cached_tokens_details": {"text_tokens": cached_text, "audio_tokens": cached_audio, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


def test_a_response_costs_what_the_hand_computed_figure_says() -> None:
    u = usage(text=1000, audio=5000, cached_text=200, cached_audio=1000, text_out=300, audio_out=2000)
    c = prices.cost("gpt-realtime-1.5", u)
    # By hand, USD per 1M: 800 text x 4 + 200 cached x 0.4 + 4000 audio x 32 + 1000 cached x 0.4
    # + 300 text out x 16 + 2000 audio out x 64
    assert c.parts == pytest.approx(
        {
            "text_in": 0.0032,
            "cached_text_in": 0.00008,
            "audio_in": 0.128,
            "cached_audio_in": 0.0004,
            "text_out": 0.0048,
            "audio_out": 0.128,
        }
    )
    assert c.total == pytest.approx(0.26448)
    assert c.reason is None and c.as_of == prices.AS_OF and "developers.openai.com" in c.source


def test_mini_model_and_image_tokens() -> None:
    c = prices.cost("gpt-realtime-2.1-mini", usage(text=10_000, image=1000, text_out=1000, audio_out=500))
    # 10000 x 0.6 + 1000 image x 0.8 + 1000 x 2.4 + 500 x 20, per 1M
    assert c.total == pytest.approx(0.006 + 0.0008 + 0.0024 + 0.01)


def test_beta_usage_without_cached_details_takes_cached_tokens_as_text_first() -> None:
    beta = {
        "total_tokens": 700,
        "input_token_details": {"text_tokens": 200, "audio_tokens": 500, "cached_tokens": 300},
        "output_token_details": {"text_tokens": 0, "audio_tokens": 0},
    }
    counts = prices.token_counts(beta)
    assert (counts["text_in"], counts["cached_text_in"]) == (0, 200)
    assert (counts["audio_in"], counts["cached_audio_in"]) == (400, 100)
    assert prices.cost("gpt-realtime-2", beta).total == pytest.approx((200 * 0.4 + 400 * 32 + 100 * 0.4) / 1e6)


def test_an_unknown_model_costs_none_with_the_reason_never_zero() -> None:
    c = prices.cost("my-azure-deployment", usage(text=100))
    assert c.total is None
    assert c.reason is not None and "my-azure-deployment" in c.reason and "set_price" in c.reason


def test_a_dated_snapshot_is_priced_as_its_model() -> None:
    u = usage(text=1_000_000)
    assert prices.cost("gpt-realtime-2-2026-05-07", u).total == pytest.approx(4.0)


def test_the_default_model_says_which_of_its_figures_are_not_confirmed() -> None:
    price = prices.get_price("gpt-realtime")
    assert price is not None and "not confirmed" in price.note
    assert prices.cost("gpt-realtime", usage(audio=1000)).note == price.note


def test_set_price_by_keywords_or_mapping_and_reset() -> None:
    prices.set_price("my-model", text_in=1.0, cached_in=0.5, text_out=2.0)
    prices.set_price("my-model", {"audio_in": 10.0, "audio_out": 20.0})  # only what changes
    c = prices.cost("my-model", usage(text=1_000_000, cached_text=500_000, audio=1_000_000, audio_out=1_000_000))
    # 500k text x 1 + 500k cached x 0.5 + 1M audio x 10 + 1M audio out x 20
    assert c.total == pytest.approx(0.5 + 0.25 + 10.0 + 20.0)
    assert c.source == "set by the user"
    prices.set_price("gpt-realtime-2", text_out=30.0)
    assert prices.cost("gpt-realtime-2", usage(text_out=1_000_000)).total == pytest.approx(30.0)
    assert prices.table()["gpt-realtime-2"].audio_in == 32.0  # the rest kept
    prices.reset()
    assert prices.get_price("my-model") is None
    assert prices.cost("gpt-realtime-2", usage(text_out=1_000_000)).total == pytest.approx(24.0)


def test_a_missing_rate_makes_the_total_none_and_names_it() -> None:
    prices.set_price("text-only", text_in=1.0, text_out=2.0)
    c = prices.cost("text-only", usage(text=10, audio=10))
    assert c.total is None and c.reason is not None and "audio_in" in c.reason
    assert c.parts == pytest.approx({"text_in": 10 / 1e6})
    assert prices.cost("text-only", usage(text=1_000_000)).total == pytest.approx(1.0)  # nothing unpriced used


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"txt_in": 1.0}, "unknown price field"), ({"text_in": -1.0}, ">= 0"), ({"audio_out": "5"}, "a number")],
)
def test_bad_prices_are_refused_naming_the_field(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        prices.set_price("m", **kwargs)


def test_no_usage_costs_nothing_for_a_known_model() -> None:
    assert prices.cost("gpt-realtime-2", None).total == 0.0


def test_cost_of_counts_prices_summed_counts_as_cost_prices_each_usage() -> None:
    a = usage(text=1000, cached_text=400, audio=3000, cached_audio=1000, text_out=50, audio_out=700)
    b = usage(text=200, audio=9000, text_out=10, audio_out=1200)
    summed = {k: prices.token_counts(a)[k] + prices.token_counts(b)[k] for k in prices.token_counts(a)}
    # By hand, gpt-realtime-2 (USD per 1M): 800 text x 4 + 400 cached x 0.4 + 11000 audio x 32 + 1000 cached x 0.4
    # + 60 text out x 24 + 1900 audio out x 64
    by_hand = (800 * 4 + 400 * 0.4 + 11_000 * 32 + 1000 * 0.4 + 60 * 24 + 1900 * 64) / 1_000_000
    c = prices.cost_of_counts("gpt-realtime-2", summed)
    assert c.total == pytest.approx(by_hand)
    assert c.total == pytest.approx(prices.cost("gpt-realtime-2", a).total + prices.cost("gpt-realtime-2", b).total)
    assert prices.cost_of_counts("gpt-realtime-2", {"audio_out": 1_000_000}).total == pytest.approx(64.0)
    assert prices.cost_of_counts("nobody", summed).total is None
