"""The event log's flow view (ladder.js) in a real browser: after a tool call, the ladder shows the call's arguments
(server -> client), its output (client -> server) and the one response.create (client -> server) in that order,
linked as one call; arrows point the right way, types are whole, the text is readable in both themes. Screenshots
in light and dark (and at 600 px of notebook width) go to `tests/browser/artifacts/<test>/`.
"""

from __future__ import annotations

from typing import Any

import pytest

from .jlab import NotebookPage
from .test_widget_browser import TOOL_SETUP, open_widget, send_text, wait_reply
from .visual import MIN_CONTRAST, contrast_of, set_notebook_width, settle

pytestmark = pytest.mark.browser

# Every ladder row as drawn: its data attributes, label parts, whether its label overflows, and the arrow's
# geometry (its head is the ::after triangle: on the right for client -> server, on the left for server -> client).
ROWS_JS = """
() => Array.from(document.querySelectorAll('[data-rt=ladder-row]')).map((el) => {
    const part = (name) => el.querySelector('.rtwidget-ladder-' + name);
    const label = part('label');
    const arrow = part('arrow');
    const span = part('span').getBoundingClientRect();
    let head = null, arrowWidth = 0;
    if (arrow) {
        const a = getComputedStyle(arrow, '::after');
        head = parseFloat(a.borderLeftWidth) > 0 ? 'right' : parseFloat(a.borderRightWidth) > 0 ? 'left' : null;
        arrowWidth = arrow.getBoundingClientRect().width;
    }
    return {
        id: Number(el.dataset.id), type: el.dataset.type, dir: el.dataset.dir, calls: el.dataset.calls || '',
        typeText: part('type').textContent, detail: part('detail').textContent,
        overflows: label.scrollWidth > label.clientWidth + 1, head, arrowWidth, spanWidth: span.width,
        mark: !!part('mark'), hl: el.classList.contains('rtwidget-ladder-hl'),
    };
})
"""

LOG_ORDER = "[(e.direction, e.type) for e in list(session.log)]"


def tool_call_sequence(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The arguments' done row, the output's conversation.item.create and the response.create after it."""
    done = next(r for r in rows if r["type"] == "response.function_call_arguments.done")
    after = rows[rows.index(done) + 1 :]
    output = next(r for r in after if r["type"] == "conversation.item.create" and "output of" in r["detail"])
    create = next(r for r in after[after.index(output) + 1 :] if r["type"] == "response.create")
    return done, output, create


def show_sequence(nb: NotebookPage, first_id: int) -> None:
    """Scroll the ladder so that the call's first row is near its top (the screenshot shows the sequence)."""
    nb.js(
        """(id) => {
            const el = document.querySelector(`[data-rt=ladder-row][data-id="${id}"]`);
            const sc = el.closest('[data-rt=ladder]');
            const head = sc.querySelector('.rtwidget-ladder-head').offsetHeight;
            sc.scrollTop += el.getBoundingClientRect().top - sc.getBoundingClientRect().top - head - 50;
        }""",
        first_id,
    )
    settle(nb)


def test_flow_view_shows_function_call_output_and_one_response_create_in_order(lab: NotebookPage) -> None:
    open_widget(lab, "ladder.ipynb", TOOL_SETUP)
    send_text(lab, "get_weather city=Paris")
    wait_reply(lab)  # the follow-up reply that reads the tool's output back
    lab.wait_kernel(
        "sum(1 for e in list(session.log) if e.direction == 'server' and e.type == 'response.done') >= 2",
        what="the follow-up response to finish",
    )
    lab.page.locator("[data-rt=log-mode-flow]").first.click()
    ladder = lab.page.locator("[data-rt=ladder]").first
    ladder.wait_for(state="visible")
    lab.wait_js(
        """() => { const t = Array.from(document.querySelectorAll('[data-rt=ladder-row]'), (e) => e.dataset.type);
                   return t.filter((x) => x === 'response.done').length >= 2; }""",
        what="the ladder to show both responses",
    )
    rows = list(lab.js(ROWS_JS))
    done, output, create = tool_call_sequence(rows)
    lab.record(ladder=[{k: r[k] for k in ("type", "dir", "calls", "detail")} for r in rows])

    # Directions: the server sends the arguments, the client (the kernel) sends the output and response.create.
    assert (done["dir"], output["dir"], create["dir"]) == ("server", "client", "client"), (done, output, create)
    assert done["head"] == "left" and output["head"] == "right" and create["head"] == "right", (done, output, create)
    # One call: the call_id the kernel saw links the three, and the response.create says what it follows.
    call_id = lab.wait_kernel("[c.call_id for c in session.tool_calls]", what="the tool call record")[0]
    for r in (done, output, create):
        assert call_id in r["calls"].split(), r
    assert done["detail"] == f"get_weather {call_id}", done
    assert create["detail"] == "after 1 function_call_output", create
    assert sum(1 for r in rows if r["type"] == "response.create" and call_id in r["calls"].split()) == 1, rows

    # The ladder is the log: the same events in the same order as the kernel's session.log (deltas merged).
    def single(events: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(d, t) for d, t in events if not (t.endswith(".delta") or t == "input_audio_buffer.append")]

    kernel = single([(d, t) for d, t in lab.kernel_json(LOG_ORDER)])
    shown = single([(r["dir"], r["type"]) for r in rows])
    assert shown == kernel, (shown, kernel)
    # Types are whole and labels do not overflow; arrows run from lane to lane; local events are marks.
    for r in rows:
        assert r["typeText"] == r["type"] and not r["overflows"], r
        if r["dir"] == "local":
            assert r["mark"] and r["head"] is None, r
        else:
            assert r["arrowWidth"] >= r["spanWidth"] - 6, r

    # Clicking the output highlights the whole call and shows the event's JSON.
    lab.page.locator(f"[data-rt=ladder-row][data-id='{output['id']}']").first.click()
    lit = {r["id"] for r in lab.js(ROWS_JS) if r["hl"]}
    assert {done["id"], output["id"], create["id"]} <= lit, lit
    detail = lab.page.locator("[data-rt=ladder-detail]").first
    detail.wait_for(state="visible")
    assert '"type": "function_call_output"' in detail.inner_text()

    # The local (rtwidget.*) marks can be hidden and shown again.
    local = "() => Array.from(document.querySelectorAll('[data-rt=ladder-row][data-dir=local]'), (e) => e.offsetHeight)"
    assert all(h > 0 for h in lab.js(local)), "local rows shown by default"
    lab.page.locator("[data-rt=ladder-local]").first.uncheck()
    assert lab.js(local) and all(h == 0 for h in lab.js(local)), "local rows hidden"
    lab.page.locator("[data-rt=ladder-local]").first.check()
    assert all(h > 0 for h in lab.js(local))

    # A server error is linked to the client event that caused it.
    lab.kernel_exec("session.send({'type': 'conversation.item.delete', 'item_id': 'item_does_not_exist'})")
    lab.wait_js("() => !!document.querySelector('[data-rt=ladder-row][data-type=error]')", what="the error row")
    rows = list(lab.js(ROWS_JS))
    error = next(r for r in rows if r["type"] == "error")
    cause = next(r for r in rows if r["type"] == "conversation.item.delete")
    assert (cause["dir"], error["dir"]) == ("client", "server"), (cause, error)
    assert error["calls"] and error["calls"] == cause["calls"], (cause, error)
    assert "item_does_not_exist" in error["detail"], error

    # A teacher drags the log taller for the class (the grip under the log).
    grip = lab.page.locator("[data-rt=log-resize]").first.bounding_box()
    if grip:
        x, y = grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2
        lab.page.mouse.move(x, y)
        lab.page.mouse.down()
        lab.page.mouse.move(x, y + 320, steps=8)
        lab.page.mouse.up()
    try:
        for theme in ("JupyterLab Light", "JupyterLab Dark"):
            lab.set_theme(theme)
            show_sequence(lab, done["id"])
            name = theme.split()[-1].lower()
            lab.screenshot(f"ladder-{name}", lab.page.locator("[data-rt=panel-log]").first)
            scan = contrast_of(lab, MIN_CONTRAST)
            failures = [f for f in scan["failures"] if "ladder" in f["path"]]
            lab.record(**{f"contrast-{name}": failures})
            assert not failures, f"{theme}: ladder text below {MIN_CONTRAST}:1: {failures}"
        lab.set_theme("JupyterLab Light")
        set_notebook_width(lab, 600, 1000)
        settle(lab)
        narrow = list(lab.js(ROWS_JS))
        assert all(r["typeText"] == r["type"] and not r["overflows"] for r in narrow), narrow
        show_sequence(lab, done["id"])
        lab.screenshot("ladder-light-600", lab.page.locator("[data-rt=panel-log]").first)
    finally:
        lab.set_theme("JupyterLab Light")  # the theme is a server-side setting: leave it as found
