"""Prices of the Realtime models, in USD per million tokens, and the cost of a response's ``usage``.

The figures are OpenAI's list prices as read on 2026-11-28 from the model pages of
https://developers.openai.com/api/docs/models/ (``gpt-realtime-2.1``, ``gpt-realtime-2``, ``gpt-realtime-1.5``,
``gpt-realtime-2.1-mini``, ``gpt-4o-realtime-preview``, ``gpt-4o-mini-realtime-preview``) and, for ``gpt-realtime``,
the model comparison page (``/api/docs/models/compare?model=gpt-realtime``). Not confirmed:

- ``gpt-realtime``: the comparison page lists its TEXT prices only. Its audio prices here (32 / 0.40 / 64) are
  those of ``gpt-realtime-1.5``, which has the same text prices; the entry says so in its ``note``.
- ``gpt-realtime-mini`` is not in the table: only its text input price (0.60) was seen. Set it yourself.
- Azure deployments have names of their own, and their own prices: set them too.

Prices change; check https://developers.openai.com/api/docs/pricing and override what differs::

    rtwidget.prices.set_price("my-deployment", text_in=4, cached_in=0.4, text_out=16, audio_in=32, audio_out=64)
    rtwidget.prices.set_price("gpt-realtime", {"audio_in": 32.0, "audio_out": 64.0})  # only what changed

``cost(model, usage)`` prices one ``usage`` object (that of ``response.done``), ``cost_of_counts(model, counts)``
billable counts (``token_counts(usage)``, or a sum of them): cached input tokens are part of the input counts and
are billed at the cached rate instead. An unknown model costs ``None``,
with the reason, never 0. The local server's counts are priced the same way, but nothing is billed there
(``session.usage["billed"]`` is False).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "AS_OF",
    "SOURCE",
    "Cost",
    "Price",
    "cost",
    "cost_of_counts",
    "get_price",
    "reset",
    "set_price",
    "table",
    "token_counts",
]

#: When the built-in figures were read, and where.
AS_OF = "2026-11-28"
SOURCE = "https://developers.openai.com/api/docs/models/ (model pages)"

PER = 1_000_000  # prices are per million tokens


@dataclass(frozen=True)
class Price:
    """One model's prices, USD per million tokens. ``cached_audio_in`` / ``cached_image_in`` default to
    ``cached_in`` (the text rate) when they are the same; None means "no price known" for that kind."""

    text_in: float | None = None
    cached_in: float | None = None
    text_out: float | None = None
    audio_in: float | None = None
    cached_audio_in: float | None = None
    audio_out: float | None = None
    image_in: float | None = None
    cached_image_in: float | None = None
    as_of: str = AS_OF
    source: str = SOURCE
    note: str = ""

    def rate(self, kind: str) -> float | None:
        """The price of one kind of token (``"cached_audio_in"`` falls back to ``cached_in``)."""
        value: float | None = getattr(self, kind)
        if value is None and kind in ("cached_audio_in", "cached_image_in"):
            return self.cached_in
        return value


_RATES = ("text_in", "cached_in", "text_out", "audio_in", "cached_audio_in", "audio_out", "image_in", "cached_image_in")

_BUILTIN: dict[str, Price] = {
    "gpt-realtime-2.1": Price(4.0, 0.4, 24.0, 32.0, 0.4, 64.0, 5.0, 0.5),
    "gpt-realtime-2": Price(4.0, 0.4, 24.0, 32.0, 0.4, 64.0, 5.0, 0.5),
    "gpt-realtime-1.5": Price(4.0, 0.4, 16.0, 32.0, 0.4, 64.0, 5.0, 0.5),
    "gpt-realtime": Price(
        4.0,
        0.4,
        16.0,
        32.0,
        0.4,
        64.0,
        note="text prices confirmed; audio prices not confirmed (taken from gpt-realtime-1.5); no image price",
    ),
    "gpt-realtime-2.1-mini": Price(0.6, 0.06, 2.4, 10.0, 0.3, 20.0, 0.8, 0.08),
    "gpt-4o-realtime-preview": Price(5.0, 2.5, 20.0, 40.0, 2.5, 80.0, note="model shut down"),
    "gpt-4o-mini-realtime-preview": Price(0.6, 0.3, 2.4, 10.0, 0.3, 20.0),
}

_table: dict[str, Price] = dict(_BUILTIN)

# A dated snapshot ("gpt-realtime-2025-08-28") is priced as its model unless it has a price of its own.
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def set_price(model: str, rates: Mapping[str, float | None] | None = None, /, **kw: float | None) -> Price:
    """Set (or change) the prices of ``model``, USD per million tokens, as a mapping or keywords: ``text_in``,
    ``cached_in``, ``text_out``, ``audio_in``, ``cached_audio_in``, ``audio_out``, ``image_in``,
    ``cached_image_in`` (and ``as_of``, ``source``, ``note``). Rates not given keep the model's current value
    (none for a new model). Returns the new :class:`Price`."""
    given: dict[str, Any] = {**(rates or {}), **kw}
    unknown = sorted(set(given) - set(_RATES) - {"as_of", "source", "note"})
    if unknown:
        raise ValueError(f"unknown price field(s) {unknown} for {model!r}: use {', '.join(_RATES)}")
    for key in _RATES:
        value = given.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise ValueError(f"{key}={value!r} for {model!r}: a price is a number >= 0 (USD per million tokens)")
    base = _table.get(model) or Price(as_of="", source="set by the user")
    if "source" not in given and model in _table:
        given["source"] = "set by the user"
    price = replace(base, **given)
    _table[model] = price
    return price


def get_price(model: str) -> Price | None:
    """The prices of ``model`` (or of the model of a dated snapshot of it), or None."""
    price = _table.get(model)
    if price is None and _SNAPSHOT.search(model):
        price = _table.get(_SNAPSHOT.sub("", model))
    return price


def table() -> dict[str, Price]:
    """A copy of the whole table, model -> :class:`Price`."""
    return dict(_table)


def reset() -> None:
    """Forget every :func:`set_price`: back to the built-in table."""
    _table.clear()
    _table.update(_BUILTIN)


@dataclass(frozen=True)
class Cost:
    """What a ``usage`` costs: ``total`` USD (None when it cannot be priced, with ``reason``), and ``parts``,
    USD per kind of token (``text_in`` = the uncached text input, ``cached_text_in``, ...)."""

    model: str
    total: float | None
    parts: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    as_of: str = ""
    source: str = ""
    note: str = ""


def cost(model: str, usage: Mapping[str, Any] | None) -> Cost:
    """Price one ``usage`` object (``response.done``'s ``response.usage``) at ``model``'s prices. Cached input
    tokens are counted within the input tokens and billed at the cached rate instead."""
    return cost_of_counts(model, token_counts(usage or {}))


def cost_of_counts(model: str, counts: Mapping[str, int]) -> Cost:
    """Price billable token counts (the keys of :func:`token_counts`: ``text_in`` uncached, ``cached_text_in``,
    ``audio_in``, ..., ``audio_out``; missing keys count 0), e.g. a sum of several responses' counts."""
    price = get_price(model)
    if price is None:
        why = f"no price for model {model!r}: set one with rtwidget.prices.set_price({model!r}, text_in=..., ...)"
        return Cost(model, None, reason=why)
    parts: dict[str, float] = {}
    missing = []
    for kind, rate_name in _PART_RATES.items():
        n = counts.get(kind, 0)
        if not n:
            continue
        rate = price.rate(rate_name)
        if rate is None:
            missing.append(rate_name)
            continue
        parts[kind] = n * rate / PER
    if missing:
        why = f"no {'/'.join(sorted(set(missing)))} price for {model!r}: set it with rtwidget.prices.set_price"
        return Cost(model, None, parts, why, price.as_of, price.source, price.note)
    return Cost(model, sum(parts.values()), parts, None, price.as_of, price.source, price.note)


# part of the cost -> the rate it is billed at
_PART_RATES = {
    "text_in": "text_in",
    "cached_text_in": "cached_in",
    "audio_in": "audio_in",
    "cached_audio_in": "cached_audio_in",
    "image_in": "image_in",
    "cached_image_in": "cached_image_in",
    "text_out": "text_out",
    "audio_out": "audio_out",
}


def token_counts(usage: Mapping[str, Any]) -> dict[str, int]:
    """The billable counts of a ``usage`` object: uncached and cached input per modality, output per modality.

    Without ``cached_tokens_details`` (the beta shape) the cached tokens are taken as text first, then audio.
    """
    inp = usage.get("input_token_details") or {}
    out = usage.get("output_token_details") or {}
    text, audio, image = (_int(inp.get(k)) for k in ("text_tokens", "audio_tokens", "image_tokens"))
    details = inp.get("cached_tokens_details")
    if isinstance(details, Mapping):
        c_text, c_audio, c_image = (_int(details.get(k)) for k in ("text_tokens", "audio_tokens", "image_tokens"))
    else:
        cached = _int(inp.get("cached_tokens"))
        c_text = min(cached, text)
        c_audio = min(cached - c_text, audio)
        c_image = min(cached - c_text - c_audio, image)
    return {
        "text_in": max(0, text - c_text),
        "cached_text_in": c_text,
        "audio_in": max(0, audio - c_audio),
        "cached_audio_in": c_audio,
        "image_in": max(0, image - c_image),
        "cached_image_in": c_image,
        "text_out": _int(out.get("text_tokens")),
        "audio_out": _int(out.get("audio_tokens")),
    }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
