"""The Conversation, Tools and Session panels in a real browser (Debian Chromium, fake microphone) against the local
Realtime server: the session form changes the server's session (the kernel's ``session_config`` says so), the
instructions' Apply shows "applied" once ``session.updated`` confirms them, the transcription hint's button gives
spoken turns their words, registered tools are listed with their schemas before any call, a failed call expands to
its traceback, the out-of-band lane folds; text contrast >= 4.5:1 in both themes.

The local server has no speech recogniser: with transcription on, its transcript of a spoken turn is
"[2.3 seconds of audio]" (words, not the words said), which is what the tests look for.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .jlab import NotebookPage
from .test_widget_browser import CONTRAST_JS, open_widget, send_text, wait_reply
from .visual import set_viewport_width

pytestmark = pytest.mark.browser

TOOL_SETUP = """\
import rtwidget
session = rtwidget.Session()

@session.tool
def get_weather(city: str, days: int = 1) -> dict:
    \"\"\"The weather in a city.

    Args:
        city: the city's name
    \"\"\"
    if city == "Atlantis":
        raise ValueError(f"no weather for {city}")
    return {"city": city, "temp_c": 21}

widget = rtwidget.RealtimeWidget(session)
widget
"""
SIDE_CELL = 'side = await session.respond_out_of_band("Say one short sentence about rivers.")'

TD = "widget.session_config['audio']['input']['turn_detection']"
TRANSCRIPTION = "widget.session_config['audio']['input'].get('transcription')"
USER_TEXTS = "[i.text for i in session.conversation if i.type == 'message' and i.role == 'user' and i.audio_ms > 0]"

# Everything these panels add that carries text; each visible one must read at >= 4.5:1 in both themes.
TEXT_SELECTORS = (
    ".rtwidget-form-label",
    ".rtwidget-form-state",
    ".rtwidget-regtool-name",
    ".rtwidget-regtool-meta",
    ".rtwidget-regtool-desc",
    ".rtwidget-regtool-schema > summary",
    ".rtwidget-call-name",
    ".rtwidget-call-status",
    ".rtwidget-call-meta",
    ".rtwidget-call-label",
    ".rtwidget-call-trace > summary",
    ".rtwidget-json",
    ".rtwidget-usage td",
    ".rtwidget-usage th",
    ".rtwidget-raw-config > summary",
    ".rtwidget-conv-hint > span",
    ".rtwidget-lane-toggle",
    ".rtwidget-item-role",
    ".rtwidget-item-body",
    ".rtwidget-subtitle",
)

CONTRASTS_JS = f"""
(selectors) => {{
    const contrast = {CONTRAST_JS};
    const out = [];
    for (const sel of selectors) {{
        for (const el of document.querySelectorAll('.rtwidget-root ' + sel)) {{
            const box = el.getBoundingClientRect();
            if (!box.width || !box.height || !el.textContent.trim()) continue;
            out.push({{selector: sel, text: el.textContent.trim().slice(0, 40), ...contrast(el)}});
        }}
    }}
    return out;
}}
"""


# Panel content wider than its panel (scrolling sideways or clipped), and where the usage total column ends.
FIT_JS = """
() => {
    const overflowing = [];
    for (const sel of ['.rtwidget-conv', '.rtwidget-tools', '.rtwidget-session', '.rtwidget-form']) {
        for (const el of document.querySelectorAll(sel)) {
            if (el.getBoundingClientRect().width && el.scrollWidth > el.clientWidth + 1)
                overflowing.push({sel, scroll: el.scrollWidth, client: el.clientWidth});
        }
    }
    const cell = document.querySelector('.rtwidget-usage-total td:last-child');
    const box = document.querySelector('.rtwidget-usage-box');
    const r = (e) => e && e.getBoundingClientRect().toJSON();
    return {overflowing, total: r(cell), usageBox: r(box), usageScroll: box.scrollWidth,
            usageOverflowX: getComputedStyle(box).overflowX};
}
"""


def panel(nb: NotebookPage, name: str) -> Any:
    return nb.page.locator(f"[data-rt=panel-{name}]").first


def check_contrast_and_screenshots(nb: NotebookPage, root: Any, tag: str) -> None:
    """Screenshots of the widget and its panels in both themes; every text these panels add at >= 4.5:1."""
    for theme in ("JupyterLab Light", "JupyterLab Dark"):
        nb.set_theme(theme)
        short = theme.split()[-1].lower()
        root.scroll_into_view_if_needed()
        nb.screenshot(f"{tag}-widget-{short}", root)
        for name in ("conversation", "tools", "session"):
            nb.js(
                "(name) => { const p = document.querySelector(`[data-rt=panel-${name}] > :last-child`);"
                " if (p) p.scrollTop = 0; }",
                name,
            )
            nb.screenshot(f"{tag}-{name}-{short}", panel(nb, name))
        seen = nb.js(CONTRASTS_JS, list(TEXT_SELECTORS))
        nb.record(**{f"{tag}/{short}/contrast": seen})
        low = [s for s in seen if s["contrast"] < 4.5]
        assert seen and not low, f"{theme}: text under 4.5:1: {low}"
    nb.set_theme("JupyterLab Light")


def test_tools_listed_before_any_call_and_a_failed_call_expands_to_its_traceback(lab: NotebookPage) -> None:
    root = open_widget(lab, "panels-tools.ipynb", TOOL_SETUP, extra_cells=(SIDE_CELL,))
    tools = panel(lab, "tools")
    entry = tools.locator("[data-rt=registered-tool][data-name=get_weather]")
    entry.wait_for(state="visible")
    assert "get_weather(city: string, days?: integer)" in entry.inner_text()
    assert "The weather in a city." in entry.inner_text()
    schema = lab.kernel_json("session.tools.get('get_weather').parameters")
    shown = entry.locator("[data-rt=tool-schema]")
    assert shown.is_visible(), "one tool: its schema shows unfolded"
    assert json.loads(shown.inner_text()) == schema
    assert tools.locator("[data-rt=tool-row]").count() == 0, "no call yet"
    lab.screenshot("registered-before-any-call", tools)
    # A tool registered later shows up too (the registry's listener, on the session's I/O thread).
    lab.kernel_exec("session.add_tool(lambda text: text.upper(), name='shout', description='Shout it.')")
    tools.locator("[data-rt=registered-tool][data-name=shout]").wait_for(state="visible")

    send_text(lab, "get_weather city=Atlantis")
    row = tools.locator("[data-rt=tool-row][data-status=error]").first
    row.wait_for(state="visible")
    trace = row.locator("[data-rt=tool-traceback]")
    lab.wait_js(
        "() => { const t = document.querySelector('[data-rt=tool-row][data-status=error] [data-rt=tool-traceback]');"
        " return t && t.textContent.includes('raise ValueError'); }",
        what="the traceback in the failed call's card",
    )
    assert "ValueError: no weather for Atlantis (traceback)" in trace.locator("summary").inner_text()
    assert not trace.locator("pre").is_visible(), "folded until asked"
    trace.locator("summary").click()
    trace.locator("pre").wait_for(state="visible")
    assert "Traceback (most recent call last)" in trace.locator("pre").inner_text()
    wait_reply(lab)  # the model reads the error back

    # An out-of-band response: the lane appears, folds to a narrow strip, and opens again.
    lab.run_cell(1)
    lane = panel(lab, "conversation").locator("[data-rt=oob-lane]")
    lane.wait_for(state="visible")
    conv_box = panel(lab, "conversation").bounding_box()
    open_box = lane.bounding_box()
    lab.page.locator("[data-rt=oob-toggle]").first.click()
    lab.wait_js(
        "() => !document.querySelector('[data-rt=oob-lane]').classList.contains('rtwidget-lane-open')",
        what="the lane folded",
    )
    folded_box = lane.bounding_box()
    lab.record(conversation=conv_box, oob_open=open_box, oob_folded=folded_box)
    assert open_box["width"] <= 0.45 * conv_box["width"], (open_box, conv_box)
    assert folded_box["width"] <= 40, f"a folded lane is a narrow strip: {folded_box}"
    lab.screenshot("oob-folded", panel(lab, "conversation"))
    lab.page.locator("[data-rt=oob-toggle]").first.click()
    check_contrast_and_screenshots(lab, root, "tools")


def test_session_form_instructions_and_transcription(lab: NotebookPage) -> None:
    root = open_widget(lab, "panels-session.ipynb")
    form = panel(lab, "session").locator("[data-rt=session-form]")
    form.wait_for(state="visible")
    assert form.locator("[data-rt=form-turn-type]").input_value() == lab.kernel_json(f"{TD}['type']")
    silence = form.locator("[data-rt=form-silence-duration]")
    assert silence.input_value() == str(lab.kernel_json(f"{TD}['silence_duration_ms']"))

    # A form change reaches the server's session (session.updated -> session_config).
    silence.fill("700")
    silence.press("Tab")  # the change commits as the field loses focus
    lab.wait_kernel(f"{TD}['silence_duration_ms'] == 700", what="silence_duration_ms 700 in session_config")
    updated = lab.session_log(types=["session.updated"])[-1]["data"]["session"]
    assert updated["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 700

    # A bad value: an error notice that names the field; nothing changes.
    silence.fill("99999")
    silence.press("Tab")  # the change commits as the field loses focus
    notice = lab.page.locator("[data-rt=notice] .rtwidget-notice-error").first
    notice.wait_for(state="visible")
    assert "silence_duration_ms" in notice.inner_text(), notice.inner_text()
    assert lab.kernel_json(f"{TD}['silence_duration_ms']") == 700
    lab.wait_js(
        "() => document.querySelector('[data-rt=panel-session] [data-rt=form-silence-duration]').value === '700'",
        what="the refused value to give way to the effective one",
    )

    # Instructions: Apply, then "applied" once session.updated carries them.
    text = "Answer in one short sentence."
    box = form.locator("[data-rt=instructions]")
    box.fill(text)
    assert form.locator("[data-rt=instructions-state]").inner_text() == "not applied yet"
    form.locator("[data-rt=instructions-apply]").click()
    lab.wait_js(
        "() => document.querySelector('[data-rt=panel-session] [data-rt=instructions-state]')"
        ".textContent === '\u2713 applied'",
        what="the 'applied' cue",
    )
    assert lab.kernel_json("widget.session_config['instructions']") == text

    # Spoken turn without transcription: no words, and the hint; its button turns transcription on.
    assert lab.kernel_json(TRANSCRIPTION) is None
    lab.page.locator("[data-rt=mic]").first.click()
    try:
        hint = panel(lab, "conversation").locator("[data-rt=transcription-hint]")
        hint.wait_for(state="visible", timeout=60_000)
        assert lab.kernel_json(USER_TEXTS)[0] == ""
        lab.screenshot("transcription-hint", panel(lab, "conversation"))
        hint.locator("[data-rt=transcription-enable]").click()
        model = lab.wait_kernel(f"({TRANSCRIPTION} or {{}}).get('model')", what="transcription on")
        assert model == lab.kernel_json("widget.form_choices['transcription_models'][0]")
        hint.wait_for(state="hidden")
        assert form.locator("[data-rt=form-transcription]").is_checked()
        # The fake microphone says its sentence again: this turn has words (the local server's transcript).
        words = lab.wait_kernel(
            f"[t for t in {USER_TEXTS} if 'seconds of audio' in t]", what="a spoken turn with words", timeout=90
        )
        lab.wait_js(
            "(w) => Array.from(document.querySelectorAll('[data-rt=panel-conversation] .rtwidget-role-user'))"
            ".some((e) => e.textContent.includes(w))",
            words[0],
            what="the spoken turn's words in the Conversation",
        )
        # The cost under the usage table: the local server's tokens priced, and billed to nobody.
        cost = lab.wait_js(
            "() => document.querySelector('[data-rt=usage-cost]')?.textContent.includes('nothing is billed')"
            " && document.querySelector('[data-rt=usage-cost]').textContent",
            what="the cost line of the Session panel",
        )
        assert cost.startswith("cost: $") and lab.kernel_json("session.usage['billed']") is False
    finally:
        lab.page.locator("[data-rt=mic]").first.click()
    # The form's toggle turns it off again.
    form.locator("[data-rt=form-transcription]").click()
    lab.wait_kernel(f"{TRANSCRIPTION} is None", what="transcription off")
    check_contrast_and_screenshots(lab, root, "session")
    # Narrow and wide: nothing in these panels sticks out sideways; the usage total column is inside its box.
    for width in (700, 1000, 1600):
        set_viewport_width(lab, width, 1000)
        fit = lab.js(FIT_JS)
        lab.record(**{f"fit/{width}": fit})
        assert fit["overflowing"] == [], f"{width} px: {fit}"
        # The total column fits, or the usage box scrolls sideways to it (never clipped).
        fits = fit["total"]["right"] <= fit["usageBox"]["right"] + 1
        reachable = fit["usageScroll"] >= fit["total"]["right"] - fit["usageBox"]["left"] - 1
        assert fits or (fit["usageOverflowX"] == "auto" and reachable), f"{width} px: {fit}"
        lab.screenshot(f"session-{width}px", panel(lab, "session"))
