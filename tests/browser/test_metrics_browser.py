"""Latency and cost in a real browser (Debian Chromium) against the local Realtime server: a typed turn with a
spoken answer gets a waterfall under its answer with every step, audible included (the browser's own playback
report), whose figures are the kernel's; the Session panel shows the response's cost and the p50/p95 line."""

from __future__ import annotations

import contextlib
import math

import pytest

from .jlab import NotebookPage
from .test_widget_browser import SETUP, open_widget, send_text, wait_played, wait_reply

pytestmark = pytest.mark.browser

STEPS = (("created", "created"), ("first_audio", "first audio"), ("audible", "audible"), ("done", "done"))
WATERFALL = "[data-rt=panel-conversation] [data-rt=waterfall]:not([hidden])"
# The audible step's figure, once it is not missing.
AUDIBLE = ".rtwidget-wf-fig.rtwidget-wf-audible:not(.rtwidget-wf-missing)"
AUDIBLE_SHOWN = f"() => !!document.querySelector('{WATERFALL} {AUDIBLE}')"


def js_round(ms: float) -> int:
    return math.floor(ms + 0.5)  # Math.round (Python's round() rounds halves to even)


def test_a_spoken_answer_has_a_full_waterfall_its_cost_and_the_latency_line(lab: NotebookPage) -> None:
    widget = open_widget(lab, "metrics.ipynb", SETUP)
    send_text(lab, "hello there, how are you today?")
    item = wait_reply(lab)
    wait_played(lab, item["id"], 2400)
    lab.wait_kernel(
        "session.turn_metrics and session.turn_metrics[0].t_first_audible is not None and not session.response_active",
        what="the turn audible (the browser's playback report) and done",
    )
    lab.wait_js(AUDIBLE_SHOWN, what="the waterfall's audible step")
    latency = lab.kernel_json("session.turn_metrics[0].latency_ms()")
    assert latency["trigger"] == "text" and latency["start"] == "trigger"
    assert all(isinstance(latency[step], float) for step, _ in STEPS), latency
    assert latency["created"] <= latency["first_audio"] <= latency["audible"]

    # Under the answer's item, the figures are the kernel's, in the steps' order. The view redraws on the kernel's
    # next update: wait a little for the figures to agree, then compare (a mismatch then shows both sides).
    expected = [f"{label} {js_round(latency[step])} ms" for step, label in STEPS]
    with contextlib.suppress(TimeoutError):
        lab.wait_js(
            f"(want) => JSON.stringify(Array.from(document.querySelectorAll('{WATERFALL} .rtwidget-wf-fig'))"
            ".map((f) => f.textContent)) === JSON.stringify(want)",
            expected,
            timeout=15,
            what="the waterfall's figures to be the kernel's",
        )
    shown = lab.js(
        f"""() => {{
            const wf = document.querySelector('{WATERFALL}');
            return {{
                item: wf.closest('[data-rt=item]').dataset.id,
                figures: Array.from(wf.querySelectorAll('.rtwidget-wf-fig')).map((f) => f.textContent),
                segments: Array.from(wf.querySelectorAll('.rtwidget-wf-seg')).map((s) => s.dataset.step),
                titles: Array.from(wf.querySelectorAll('.rtwidget-wf-seg')).map((s) => s.title),
                width: wf.querySelector('.rtwidget-wf-bar').getBoundingClientRect().width,
                count: document.querySelectorAll('{WATERFALL}').length,
            }};
        }}"""
    )
    assert shown["item"] == item["id"] and shown["count"] == 1
    assert shown["figures"] == expected, f"kernel latency {latency}"
    in_time_order = sorted((step for step, _ in STEPS), key=lambda step: latency[step])
    assert shown["segments"] == in_time_order
    assert all(" ms after text sent" in title for title in shown["titles"]) and shown["width"] > 40

    # The Session panel: the response's cost, and p50 / p95 over the session (one turn: both are its figure).
    usage = lab.kernel_json("session.usage['responses'][0]")
    cost = lab.wait_js(
        "() => document.querySelector('[data-rt=panel-session] [data-rt=response-cost]')?.textContent",
        what="the response's cost cell",
    )
    assert usage["cost_usd"] > 0 and cost.startswith("$")
    assert float(cost[1:]) == pytest.approx(usage["cost_usd"], rel=0.05)
    figures = " \u00b7 ".join(f"{label} {js_round(latency[s])}/{js_round(latency[s])} ms" for s, label in STEPS)
    with contextlib.suppress(TimeoutError):
        lab.wait_js(
            "(want) => document.querySelector('[data-rt=usage-latency]')?.textContent === want",
            f"latency p50/p95 (1 turn): {figures}",
            timeout=15,
            what="the latency line with the audible step",
        )
    line = lab.js("() => document.querySelector('[data-rt=usage-latency]')?.textContent")
    assert line == f"latency p50/p95 (1 turn): {figures}"

    lab.screenshot("metrics-conversation", lab.page.locator("[data-rt=panel-conversation]").first)
    lab.page.locator("[data-rt=usage-latency]").first.scroll_into_view_if_needed()
    lab.screenshot("metrics-session", lab.page.locator("[data-rt=panel-session]").first)
    lab.screenshot("metrics-widget", widget)
