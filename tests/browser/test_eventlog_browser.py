"""The event-log table in a real browser (issue 9, "Event log and flow"), in JupyterLab 4.

Rows are logged in the kernel the way the session's reader logs them (``session._log`` with realistic event dicts),
so the bridge merges delta runs and batches rows to the browser as in real use. Checked against
docs/widget-contract.md: at 600 px of notebook width every event type is whole (the type cell's scrollWidth fits its
clientWidth) under column headings and a legend; text in the log keeps a contrast of at least 4.5:1, the selected
row too, in both themes; the grip resizes the log and, unsized, it fills its panel; scrolled up, "N new events"
counts arrivals and jumps back down; the search finds a word only in a payload; Copy JSON and Download JSONL give
JSON; Table/Flow switch to the flow view and back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .jlab import NotebookPage
from .visual import set_notebook_width, sidebars

pytestmark = pytest.mark.browser

# A widget on a session that is not connected: the test logs the events itself (see `feed`).
SETUP = """\
import json, rtwidget
session = rtwidget.Session()
widget = rtwidget.RealtimeWidget(session)

def feed(events):
    def run():
        for direction, data in events:
            session._log(direction, data["type"], len(json.dumps(data)), data)
    session.call_soon(run)

widget
"""

# A function-call turn as the wire has it (the longest types of the protocol among them); the word "zanzibar"
# is only in the payload of the function_call_output (not in any type or summary).
TURN = """[
    ("client", {"type": "session.update", "event_id": "evt_1", "session": {"type": "realtime"}}),
    ("server", {"type": "session.updated", "event_id": "s1", "session": {"type": "realtime"}}),
    ("server", {"type": "input_audio_buffer.speech_started", "audio_start_ms": 120, "item_id": "item_u"}),
    ("server", {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 2100, "item_id": "item_u"}),
    ("server", {"type": "conversation.item.added", "item": {"id": "item_u", "type": "message", "role": "user"}}),
    ("server", {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}}),
    ("server", {"type": "response.output_item.added",
                "item": {"id": "item_fc", "type": "function_call", "name": "get_weather"}}),
    *[("server", {"type": "response.function_call_arguments.delta", "item_id": "item_fc", "delta": d})
      for d in ['{"ci', 'ty": ', '"Par', 'is"}']],
    ("server", {"type": "response.function_call_arguments.done", "item_id": "item_fc",
                "arguments": '{"city": "Paris"}'}),
    ("server", {"type": "response.done", "response": {"id": "resp_1", "status": "completed"}}),
    ("local", {"type": "rtwidget.tool_done", "name": "get_weather"}),
    ("client", {"type": "conversation.item.create", "event_id": "evt_2",
                "item": {"type": "function_call_output", "call_id": "call_1", "output": "sunny over zanzibar"}}),
    ("client", {"type": "response.create", "event_id": "evt_3"}),
]"""

LONGEST = "response.function_call_arguments.delta"

# Per log row on screen (the headings first): its type cell's text and widths, its text-overflow, and the
# direction cell; plus the log's own sizes.
LOG_STATE_JS = """
() => {
    const panel = document.querySelector('[data-rt=panel-log]');
    if (!panel) return null;
    const right = panel.querySelector('.rtwidget-log-viewport').getBoundingClientRect().right;
    const rows = [...panel.querySelectorAll('[data-rt=log-head], [data-rt=log-row]')].map((r) => {
        const t = r.querySelector('.rtwidget-log-type');
        const box = t.getBoundingClientRect();
        return {head: r.dataset.rt === 'log-head', type: t.textContent, scroll: t.scrollWidth, client: t.clientWidth,
                inside: box.right <= Math.min(right, r.getBoundingClientRect().right) + 0.5,
                overflow: getComputedStyle(t).textOverflow, width: t.getBoundingClientRect().width,
                selected: r.classList.contains('rtwidget-selected'), count: r.querySelector('.rtwidget-log-count')
                    .textContent};
    });
    const v = panel.querySelector('.rtwidget-log-viewport');
    const pill = panel.querySelector('[data-rt=log-new-pill]');
    return {rows, viewport: {top: v.scrollTop, height: v.clientHeight, scroll: v.scrollHeight},
            stage: panel.querySelector('.rtwidget-log-stage').getBoundingClientRect().height,
            pill: pill.hidden ? null : pill.textContent,
            section: panel.getBoundingClientRect().height,
            log: panel.querySelector('.rtwidget-log').getBoundingClientRect().height};
}
"""

# WCAG contrast of every text in the log panel (headings, rows, legend) against what is painted under it.
CONTRAST_JS = """
(root) => {
    const parse = (c) => {
        const p = /rgba?\\(([^)]*)\\)/.exec(c)[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
        return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    };
    const over = (t, b) => [0, 1, 2].map((i) => t[i] * t[3] + b[i] * (1 - t[3])).concat([1]);
    const lum = (c) => {
        const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
    };
    const bgOf = (el) => {
        const layers = [];
        for (let e = el; e; e = e.parentElement) layers.push(parse(getComputedStyle(e).backgroundColor));
        return layers.reverse().reduce((b, t) => over(t, b), [255, 255, 255, 1]);
    };
    const panel = document.querySelector('[data-rt=panel-log]');
    const out = [];
    for (const el of panel.querySelectorAll('.rtwidget-log-row span, .rtwidget-log-legend span, .rtwidget-log-pill')) {
        if (!el.textContent.trim() || el.children.length || !el.getClientRects().length) continue;
        const bg = bgOf(el);
        const fg = over(parse(getComputedStyle(el).color), bg);
        const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
        out.push({text: el.textContent.slice(0, 40), cls: el.className,
                  selected: !!el.closest('.rtwidget-selected'), ratio: (hi + 0.05) / (lo + 0.05)});
    }
    return out;
}
"""


def open_log(nb: NotebookPage, name: str) -> Any:
    """Open a notebook with the widget (not connected) and log one function-call turn; returns the log panel."""
    nb.open(name, [SETUP])
    nb.run_cell(0)
    panel = nb.page.locator("[data-rt=panel-log]").first
    panel.wait_for(state="visible")
    feed(nb, TURN)
    nb.wait_js(
        "() => [...document.querySelectorAll('[data-rt=log-row] .rtwidget-log-type')]"
        ".some((e) => e.textContent === 'response.create')",
        what="the turn's rows in the log",
    )
    return panel


def feed(nb: NotebookPage, events: str) -> None:
    nb.kernel_exec(f"feed({events})")


def state(nb: NotebookPage) -> dict[str, Any]:
    value = nb.js(LOG_STATE_JS)
    assert value is not None, "no event-log panel"
    return dict(value)


def test_types_whole_at_600px_with_headings_legend_and_contrast_in_both_themes(lab: NotebookPage) -> None:
    panel = open_log(lab, "eventlog-types.ipynb")
    sidebars(lab, file_browser=False)
    sized = set_notebook_width(lab, 600, 1000)
    assert abs(sized["notebook"] - 600) <= 1, f"could not size the notebook to 600 px: {sized}"
    lab.wait_js(
        f"() => ({LOG_STATE_JS})().rows.some((r) => r.type === '{LONGEST}' && r.count === '\u00d74')",
        what="the merged arguments-delta row (x4)",
    )
    s = state(lab)
    types = [r["type"] for r in s["rows"]]
    assert types[0] == "type", "the headings come first"
    assert LONGEST in types and "input_audio_buffer.speech_started" in types
    for r in s["rows"]:
        assert r["scroll"] <= r["client"] and r["inside"], f"type cut: {r}"
        assert r["overflow"] != "ellipsis", r
    widths = {round(r["width"], 1) for r in s["rows"]}
    assert len(widths) == 1, f"headings and rows share one type-column width: {widths}"
    heading = lab.page.locator("[data-rt=log-head] > span").all_inner_texts()
    assert [t for t in heading if t.strip()][1:6] == ["time", "type", "size", "\u00d7n", "summary"]
    legend = panel.locator("[data-rt=log-legend]").inner_text()
    for words in ("client \u2192 server", "server \u2192 client", "local (rtwidget.*)", "input_audio_buffer"):
        assert words in legend
    # Select the response.done row: in both themes every text of the log keeps >= 4.5:1, the selected row too.
    panel.locator("[data-rt=log-row]:has-text('response.done')").first.click()
    lab.wait_js(f"() => ({LOG_STATE_JS})().rows.some((r) => r.selected)", what="a selected row")
    worst = {}
    for theme in ("JupyterLab Light", "JupyterLab Dark"):
        lab.set_theme(theme)
        lab.page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(1))))")
        found = lab.js(CONTRAST_JS)
        assert any(c["selected"] for c in found), f"the selected row's cells were measured: {state(lab)}"
        low = [c for c in found if c["ratio"] < 4.5]
        assert not low, f"{theme}: text under 4.5:1 in the log: {low}"
        worst[theme] = min(c["ratio"] for c in found)
        worst[f"{theme} (selected row)"] = min(c["ratio"] for c in found if c["selected"])
        lab.screenshot(f"log-600px-{'dark' if 'Dark' in theme else 'light'}", panel)
    # Then a longer type arriving later (the protocol's longest) widens the column again, still inside the row.
    longer = "conversation.item.input_audio_transcription.completed"
    feed(lab, f'[("server", {{"type": "{longer}", "item_id": "item_u", "transcript": "what is the weather"}})]')
    lab.wait_js(
        f"() => ({LOG_STATE_JS})().rows.some((r) => r.type === '{longer}' && r.scroll <= r.client && r.inside)",
        what="a longer type shown whole",
    )
    assert all(r["scroll"] <= r["client"] and r["inside"] for r in state(lab)["rows"])
    lab.screenshot("log-600px-longer-type", panel)
    lab.record(notebook_width=sized["notebook"], type_column_px=s["rows"][0]["width"], min_contrast=worst)


def test_grip_resizes_fills_its_panel_follows_and_pill_jumps_down(lab: NotebookPage) -> None:
    panel = open_log(lab, "eventlog-follow.ipynb")
    before = state(lab)
    grip = panel.locator("[data-rt=log-resize]")
    lab.page.mouse.wheel(0, 300)  # room below the grip to drag into
    grip.scroll_into_view_if_needed()
    box = grip.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    lab.page.mouse.move(x, y)
    lab.page.mouse.down()
    lab.page.mouse.move(x, y + 60, steps=4)
    lab.page.mouse.move(x, y + 150, steps=4)
    lab.page.mouse.up()
    lab.wait_js(f"() => ({LOG_STATE_JS})().viewport.height >= {before['viewport']['height'] + 140}", what="taller")
    taller = state(lab)
    assert abs(taller["stage"] - before["stage"] - 150) <= 2, (before["stage"], taller["stage"])
    # The list redraws on the next frame after the resize: wait for it (every row, when fewer than fit).
    fits = taller["viewport"]["height"] // 20
    lab.wait_js(
        "(fits) => { const p = document.querySelector('[data-rt=panel-log]');"
        " const n = p.querySelectorAll('[data-rt=log-row]').length;"
        " const kept = parseInt(p.querySelector('.rtwidget-log-total').textContent, 10);"
        " return n >= Math.min(fits, kept) ? n : 0; }",
        fits,
        what="the taller list to render the rows that fit",
    )
    lab.screenshot("log-dragged-taller", panel)
    # Dragging up stops at the minimum height.
    box = grip.bounding_box()
    assert box is not None
    lab.page.mouse.move(x, box["y"] + 4)
    lab.page.mouse.down()
    lab.page.mouse.move(x, box["y"] - 2000, steps=5)
    lab.page.mouse.up()
    lab.wait_js(f"() => ({LOG_STATE_JS})().stage <= 81", what="the minimum height")
    # Double-click: unsized again, the log fills the height its panel section is given.
    grip.dblclick()
    lab.page.evaluate("() => { document.querySelector('[data-rt=panel-log]').style.height = '700px'; }")
    lab.wait_js(f"() => {{ const s = ({LOG_STATE_JS})(); return s.stage > 400 && s; }}", what="the stage to fill")
    filled = state(lab)
    title = lab.js("() => document.querySelector('[data-rt=panel-log] .rtwidget-panel-title').offsetHeight")
    assert abs(filled["log"] + title - filled["section"]) <= 3, f"the log fills its section: {filled}"
    lab.page.evaluate("() => { document.querySelector('[data-rt=panel-log]').style.height = ''; }")

    # Following: 120 more rows arrive and the list stays at its newest row.
    many = "[('server', {'type': 'rate_limits.updated', 'n': i}) for i in range(120)]"
    feed(lab, many)
    lab.wait_js(
        f"() => {{ const v = ({LOG_STATE_JS})().viewport;"
        " return v.scroll > 2000 && v.top + v.height >= v.scroll - 2; }",
        what="following the newest row",
    )
    assert state(lab)["pill"] is None
    # Scrolled up, 25 new rows: the pill counts them; clicking it goes down and follows again.
    lab.js("() => { document.querySelector('[data-rt=panel-log] .rtwidget-log-viewport').scrollTop = 0; }")
    lab.wait_js(f"() => ({LOG_STATE_JS})().viewport.top === 0", what="scrolled to the top")
    feed(lab, "[('server', {'type': 'response.created', 'response': {'status': 'in_progress'}}) for _ in range(25)]")
    pill = lab.wait_js(f"() => ({LOG_STATE_JS})().pill", what="the new-events pill")
    assert "25 new events" in pill
    assert state(lab)["viewport"]["top"] == 0, "the list did not move while scrolled up"
    lab.screenshot("log-new-events-pill", panel)
    panel.locator("[data-rt=log-new-pill]").click()
    lab.wait_js(
        f"() => {{ const s = ({LOG_STATE_JS})(); const v = s.viewport;"
        " return !s.pill && v.top > 0 && v.top + v.height >= v.scroll - 2; }",
        what="at the bottom, pill gone",
    )
    feed(lab, "[('server', {'type': 'response.done', 'response': {'status': 'completed'}})]")
    lab.wait_js(
        f"() => {{ const s = ({LOG_STATE_JS})(); return !s.pill && s.rows[s.rows.length - 1].type === 'response.done'"
        " && s.viewport.top + s.viewport.height >= s.viewport.scroll - 2; }",
        what="following again",
    )


def test_search_payload_copy_json_download_jsonl_and_flow_toggle(lab: NotebookPage) -> None:
    lab.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.server.url.rstrip("/"))
    panel = open_log(lab, "eventlog-tools.ipynb")
    rows = panel.locator("[data-rt=log-row]")
    # "zanzibar" is only in a payload: the type filter finds nothing, the search finds that row.
    panel.locator("[data-rt=log-filter-type]").fill("zanzibar")
    lab.wait_js("() => !document.querySelector('[data-rt=panel-log] [data-rt=log-row]')", what="no row by type")
    panel.locator("[data-rt=log-filter-type]").fill("")
    panel.locator("[data-rt=log-search]").fill("ZANZIBAR")
    lab.wait_js("() => document.querySelectorAll('[data-rt=panel-log] [data-rt=log-row]').length === 1", what="1 row")
    assert rows.first.locator(".rtwidget-log-type").inner_text() == "conversation.item.create"
    # A merged row is found by its assembled text too.
    panel.locator("[data-rt=log-search]").fill('"city": "paris"')
    lab.wait_js(
        "() => [...document.querySelectorAll('[data-rt=panel-log] [data-rt=log-row] .rtwidget-log-type')]"
        ".map((e) => e.textContent).includes('response.function_call_arguments.delta')",
        what="the merged arguments row by its text",
    )
    panel.locator("[data-rt=log-search]").fill("zanzibar")
    lab.wait_js("() => document.querySelectorAll('[data-rt=panel-log] [data-rt=log-row]').length === 1", what="1 row")
    # Copy JSON: the selected event's JSON on the clipboard.
    copy = panel.locator("[data-rt=log-copy]")
    assert copy.is_disabled(), "nothing selected yet"
    rows.first.click()
    copy.click()
    panel.locator(".rtwidget-log-copied", has_text="copied").wait_for()
    copied = json.loads(lab.js("() => navigator.clipboard.readText()"))
    assert copied["item"]["output"] == "sunny over zanzibar" and copied["event_id"] == "evt_2"
    lab.screenshot("log-search-and-copy", panel)
    # Download: every row the page keeps (not only the filtered ones), one JSON object per line.
    panel.locator("[data-rt=log-search]").fill("")
    with lab.page.expect_download() as info:
        panel.locator("[data-rt=log-download]").click()
    download = info.value
    assert download.suggested_filename.startswith("rtwidget-events-")
    assert download.suggested_filename.endswith(".jsonl")
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    parsed = [json.loads(line) for line in lines]
    kernel_rows = lab.kernel_json("[r['type'] for r in widget.bridge.rows.rows]")
    assert [p["type"] for p in parsed] == kernel_rows
    assert set(parsed[0]) == {"t", "dir", "type", "size", "count", "event_id", "cause_id", "text", "data"}
    merged = next(p for p in parsed if p["type"] == LONGEST)
    assert merged["count"] == 4 and merged["text"] == '{"city": "Paris"}'
    assert "log_limit" in (panel.locator("[data-rt=log-download]").get_attribute("title") or "")
    # Table -> Flow: the ladder replaces the table (and the filters); Flow -> Table brings them back.
    flow, table = panel.locator("[data-rt=log-mode-flow]"), panel.locator("[data-rt=log-mode-table]")
    assert table.get_attribute("aria-pressed") == "true"
    flow.click()
    assert flow.get_attribute("aria-pressed") == "true" and table.get_attribute("aria-pressed") == "false"
    panel.locator(".rtwidget-ladder").wait_for(state="visible")
    assert not panel.locator(".rtwidget-log-viewport").is_visible()
    assert not panel.locator("[data-rt=log-filter-type]").is_visible()
    lab.screenshot("log-flow-mode", panel)
    table.click()
    panel.locator(".rtwidget-log-viewport").wait_for(state="visible")
    assert not panel.locator(".rtwidget-ladder").is_visible()
    assert rows.count() > 5
    lab.record(jsonl_lines=len(lines), file=download.suggested_filename)
