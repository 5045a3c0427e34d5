"""rtwidget.replay in a real browser (Debian Chromium, real JupyterLab): a cassette recorded in the kernel against
the local server (a typed turn, a tool call) replays in the widget: the replay bar shows, the live-only controls do
not, Play fills the conversation, the event log and the Tools panel; Pause stops it where it is; the slider seeks
back (the panels start over and show the events up to there)."""

from __future__ import annotations

from typing import Any

import pytest

from .jlab import NotebookPage

pytestmark = pytest.mark.browser

RECORD = """\
import rtwidget

def get_weather(city: str) -> dict:
    \"\"\"Current weather for a city.\"\"\"
    return {"city": city, "temp": 21}

live = rtwidget.Session(turn_detection=None, tools=[get_weather])
live.record("replay-me.cassette")
await live.connect()
await live.ask("hello there")
await live.ask("get_weather city=Paris")
await live.close()
"""

REPLAY = """\
r = rtwidget.replay("replay-me.cassette", play=False)
r
"""

BAR = "[data-testid=replay-bar]"


def widget_of(nb: NotebookPage) -> Any:
    return nb.page.locator(f".jp-OutputArea-output:has({BAR})").first


def slide_to(nb: NotebookPage, seconds: float) -> None:
    """Drag the position slider to ``seconds`` (as a person's drag ends: input, then change)."""
    nb.js(
        """(s) => {
            const el = document.querySelector('[data-testid=replay-position]');
            el.value = String(s);
            el.dispatchEvent(new Event('input'));
            el.dispatchEvent(new Event('change'));
        }""",
        seconds,
    )


def test_a_cassette_replays_in_the_widget(lab: NotebookPage) -> None:
    lab.open("replay.ipynb", [RECORD, REPLAY])
    lab.run_cell(0)
    lab.run_cell(1)
    widget = widget_of(lab)
    bar = widget.locator(BAR)
    bar.wait_for(state="visible")
    assert bar.locator("[data-testid=replay-name]").inner_text() == "replay-me.cassette"
    # Live-only controls are not offered: no Connect, no microphone, no text box.
    for rt in ("connect", "mic", "text", "interrupt", "new-session"):
        assert not widget.locator(f"[data-rt={rt}]").is_visible(), rt
    duration = lab.kernel_json("r.duration")
    assert duration > 0.5
    assert bar.locator("[data-testid=replay-time]").inner_text() == f"0:00 / 0:{int(duration):02d}"

    # Play at 1x: the panels fill as they did live.
    play = bar.locator("[data-testid=replay-play]")
    play.click()
    lab.wait_kernel("r.playing or r.ended", what="the replay to play")
    lab.wait_kernel("r.ended and not r.playing", timeout=duration + 30, what="the replay to end")
    lab.wait_js(
        "() => document.querySelector('[data-rt=panel-conversation]').textContent.includes('You said: hello there')",
        what="the conversation to show the reply",
    )
    lab.wait_js(
        "() => document.querySelector('[data-rt=panel-tools]').textContent.includes('get_weather')",
        what="the Tools panel to show the call",
    )
    assert widget.locator("[data-rt=log-row]").count() > 5
    assert play.inner_text() == "Play"
    ended_shot = lab.screenshot("replay-ended", widget)

    # Back to the start with the slider: the panels start over; play, then pause: it stops where it is.
    slide_to(lab, 0.0)
    lab.wait_kernel("r.position == 0 and len(r.session.log) == 0", what="the seek back to 0")
    lab.wait_js(
        "() => !document.querySelector('[data-rt=panel-conversation]').textContent.includes('hello there')",
        what="the conversation to start over",
    )
    lab.js(
        "() => { const s = document.querySelector('[data-testid=replay-speed]'); s.value = '1';"
        " s.dispatchEvent(new Event('change')); }"
    )
    play.click()
    lab.wait_kernel("r.playing and len(r.session.log) > 3", what="the replay to play again")
    lab.wait_js("() => document.querySelector('[data-testid=replay-play]').textContent === 'Pause'", what="Pause")
    play.click()
    lab.wait_kernel("not r.playing", what="the pause")
    paused = lab.kernel_json("[r.position, len(r.session.log)]")
    lab.page.wait_for_timeout(500)
    assert lab.kernel_json("[r.position, len(r.session.log)]") == paused, "paused: nothing moves"
    lab.wait_js("() => document.querySelector('[data-testid=replay-play]').textContent === 'Play'", what="Play")

    # The slider seeks to a point in the middle: the panels show the events up to there.
    middle = round(duration / 2, 1)
    slide_to(lab, middle)
    lab.wait_kernel(f"abs(r.position - {middle}) < 0.01", what="the seek to the middle")
    rows = lab.kernel_json(f"sum(1 for e in r.cassette.events + r.cassette.local_events if e.time <= {middle})")
    assert lab.kernel_json("len(r.session.log)") == rows
    lab.wait_js(
        f"() => document.querySelector('[data-testid=replay-time]').textContent.startsWith('0:{int(middle):02d} /')",
        what="the time to follow the slider",
    )
    shot = lab.screenshot("replay-middle", widget)
    lab.record(duration=duration, middle=middle, rows=rows, screenshots=[ended_shot.name, shot.name])
    assert not [line for line in lab.console if "[pageerror]" in line], lab.console
    lab.kernel_exec("r.close()")
