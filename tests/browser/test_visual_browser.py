"""Cross-cutting visual checks of RealtimeWidget in a real browser: text contrast (WCAG AA, 4.5:1) computed from the
rendered styles in JupyterLab's light and dark themes, no horizontal clipping from 600 to 1400 px of notebook
width (and at 800 px with the file browser open), the longest event type fully visible at 600 px, and the same
widget in Notebook 7. Screenshots of every width and theme go to `tests/browser/artifacts/<test>/`.

The widget is put in a "rich" state first, so that most of its elements exist: connected to the local server, a
text answered, a tool called, a tool that raised (the error area), info / warning / error notices, a server error
row selected in the log. Each check collects every problem first and asserts at the end, so one failure does not
hide the others (the figures are in `measurements.json`).
"""

from __future__ import annotations

from typing import Any

import pytest

from .jlab import NotebookPage
from .test_widget_browser import open_widget, send_text, wait_reply
from .visual import (
    CUT_LOG_CELLS_JS,
    MIN_CONTRAST,
    clipping_of,
    clipping_problems,
    contrast_of,
    set_notebook_width,
    set_viewport_width,
    settle,
    sidebars,
)

pytestmark = pytest.mark.browser

RICH_SETUP = """\
import rtwidget
session = rtwidget.Session()

@session.tool
def get_weather(city: str) -> dict:
    \"\"\"The weather in a city.\"\"\"
    return {"city": city, "temp_c": 21}

@session.tool
def get_forecast(city: str, days: int = 3) -> dict:
    \"\"\"A forecast for a city (it always fails here, for the error styles).\"\"\"
    raise ValueError(f"no forecast for {city}")

widget = rtwidget.RealtimeWidget(session)
widget
"""

THEMES = ("JupyterLab Light", "JupyterLab Dark")
WIDTHS = (600, 1000, 1400)
# The window width of the "800 px with the file browser open".
FILE_BROWSER_WIDTH = 800
# An item id the server does not know: deleting it makes a server `error` (an error row, an error notice).
MISSING_ITEM = "item_does_not_exist"

# Rows of the event log (virtualized: only the rows in view exist) whose type cell reads exactly `type`.
TYPE_CELLS_JS = """
(type) => Array.from(document.querySelectorAll('[data-rt=log-row] .rtwidget-log-type'))
    .filter((c) => c.getBoundingClientRect().width > 0 && c.textContent.trim() === type)
    .map((c) => ({text: c.textContent, scrollWidth: c.scrollWidth, clientWidth: c.clientWidth}))
"""


def short(theme: str) -> str:
    return theme.split()[-1].lower()


def responses_settled(nb: NotebookPage, done: int) -> None:
    """Wait until at least `done` responses finished and none is still running."""
    nb.wait_kernel(
        "(lambda t: t.count('response.done') >= "
        f"{done} and t.count('response.created') == t.count('response.done'))"
        "([e.type for e in list(session.log) if e.direction == 'server'])",
        what=f"{done} responses done and none running",
    )


def rich_state(nb: NotebookPage, name: str) -> Any:
    """Open the widget and bring it into a state where most of its elements exist; returns the output locator."""
    output = open_widget(nb, name, RICH_SETUP)
    page = nb.page
    send_text(nb, "hello there")
    wait_reply(nb)
    send_text(nb, "get_weather city=Paris")
    page.locator("[data-rt=tool-row]", has_text="get_weather").first.wait_for(state="visible")
    wait_reply(nb, after=1)
    send_text(nb, "get_forecast city=Oslo")
    page.locator("[data-rt=exception]").first.wait_for(state="visible")
    responses_settled(nb, 3)
    # Notices of every level: a server error (error), a refused voice change (warning), an info line.
    nb.kernel_exec(f"session.send({{'type': 'conversation.item.delete', 'item_id': {MISSING_ITEM!r}}})")
    nb.wait_kernel("widget.voice_locked", what="the voice to lock after the first spoken reply")
    nb.kernel_exec("widget.voice = 'verse' if widget.voice != 'verse' else 'ash'")
    nb.kernel_exec("session.call_soon(widget.bridge.notice, 'info', 'An info notice from the visual test.')")
    nb.wait_js(
        """() => ['info', 'warning', 'error'].every((level) =>
                 document.querySelector(`[data-rt=notice] .rtwidget-notice-${level}`))""",
        what="an info, a warning and an error notice",
    )
    # The traceback of the failed tool open, and the server's error row selected in the log.
    page.locator("[data-rt=exception] summary").first.click()
    page.locator("[data-rt=exception] pre").first.wait_for(state="visible")
    error_row = page.locator("[data-rt=log-row]").filter(has=page.get_by_text("error", exact=True)).last
    error_row.click()
    nb.wait_js(
        "(id) => Array.from(document.querySelectorAll('[data-rt=log-detail]')).some((d) => d.textContent.includes(id))",
        MISSING_ITEM,
        what="the error row's JSON in the detail pane",
    )
    return output


def click_if_present(nb: NotebookPage, rt: str) -> bool:
    control = nb.page.locator(f"[data-rt={rt}]").first
    if not control.count() or not control.is_visible():
        return False
    control.click()
    settle(nb)
    return True


def log_rows_shown(nb: NotebookPage) -> dict[str, Any]:
    """How many event-log rows are drawn inside the log's visible viewport (the log is virtualized: rows that
    exist but sit outside it show nothing), after a frame or two; with the viewport's figures."""
    settle(nb)
    return dict(
        nb.js(
            """() => {
                const viewport = document.querySelector('.rtwidget-log-viewport');
                if (!viewport) return {shown: 0};
                const v = viewport.getBoundingClientRect();
                const rows = Array.from(viewport.querySelectorAll('[data-rt=log-row]'));
                const tops = rows.map((row) => Math.round(row.getBoundingClientRect().top - v.top));
                const shown = rows.filter((row) => {
                    const r = row.getBoundingClientRect();
                    return r.height > 0 && r.bottom > v.top && r.top < v.bottom;
                }).length;
                return {shown, rows: rows.length, firstTop: tops[0], lastTop: tops[tops.length - 1],
                        scrollTop: viewport.scrollTop, clientHeight: viewport.clientHeight,
                        scrollHeight: viewport.scrollHeight};
            }"""
        )
    )


def contrast_failures(nb: NotebookPage, label: str) -> list[dict[str, Any]]:
    """Scan the widget now; record the figures under `label`; return the failures, each tagged with `label`."""
    settle(nb)
    scan = contrast_of(nb)
    nb.record(**{f"contrast {label}": scan})
    assert scan["checked"] > 30, f"{label}: only {scan['checked']} texts checked: is the widget rendered?"
    return [{"where": label, **f} for f in scan["failures"]]


def describe(failures: list[dict[str, Any]]) -> str:
    """One line per distinct failure (same place, element path, colours), with how many texts share it."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for f in failures:
        groups.setdefault((f["where"], f["path"], f["what"], f["fg"], f["bg"]), []).append(f)
    lines = []
    for same in groups.values():
        f = same[0]
        more = f" and {len(same) - 1} more like it" if len(same) > 1 else ""
        lines.append(
            f"  [{f['where']}] {f['path']} ({f['what']} {f['text']!r}{more}): {f['fg']} on {f['bg']} = {f['ratio']}:1"
        )
    return "\n".join(lines)


# ================================================================================ 1. contrast, both themes


def test_text_contrast_is_at_least_4_5_in_both_themes(lab: NotebookPage) -> None:
    rich_state(lab, "visual-contrast.ipynb")
    failures: list[dict[str, Any]] = []
    views: list[str] = []
    empty_log: list[str] = []
    try:
        for theme in THEMES:
            lab.set_theme(theme)
            show_whole_widget(lab)
            if not (rows := log_rows_shown(lab))["shown"]:
                empty_log.append(f"after switching to {theme}: {rows}")
            failures += contrast_failures(lab, f"{short(theme)} table")
            lab.screenshot(f"contrast-{short(theme)}")
            # The flow (ladder) view of the log, when the widget has one.
            if click_if_present(lab, "log-mode-flow"):
                views.append(f"{short(theme)} flow")
                # The server's error selected in the ladder too (it highlights the client event that caused it).
                error = lab.page.locator("[data-rt=ladder-row][data-type=error]").last
                if error.count():
                    error.click()
                    views.append(f"{short(theme)} flow, error selected")
                failures += contrast_failures(lab, f"{short(theme)} flow")
                lab.screenshot(f"contrast-{short(theme)}-flow")
                click_if_present(lab, "log-mode-table")
                if not (rows := log_rows_shown(lab))["shown"]:
                    empty_log.append(f"after Flow -> Table in {theme}: {rows}")
    finally:
        lab.set_theme("JupyterLab Light")  # the theme is a server-side setting: leave it as found
    lab.record(contrast_failures=failures, flow_views_checked=views, empty_log_after_theme_change=empty_log)
    empty = [f"the event log's viewport shows no rows {when}" for when in empty_log]
    assert not failures and not empty, f"{len(failures)} texts below {MIN_CONTRAST}:1\n{describe(failures)}\n{empty}"


# ================================================================================ 2. widths, clipping, screenshots


def longest_type_problems(nb: NotebookPage) -> list[str]:
    """At the current width: the longest event type in the session's log, filtered into view, is shown whole."""
    longest = nb.kernel_json("max({e.type for e in list(session.log)}, key=len)")
    problems = []
    field = nb.page.locator("[data-rt=log-filter-type]").first
    field.fill(longest)
    try:
        cells = nb.wait_js(
            f"() => {{ const c = ({TYPE_CELLS_JS})({longest!r}); return c.length ? c : false; }}",
            timeout=10,
            what=f"a log row of type {longest} in view",
        )
    except TimeoutError:
        cells = []
        problems.append(f"no log row shows the type {longest!r} whole (filtered to it)")
    for c in cells:
        if c["scrollWidth"] > c["clientWidth"]:
            problems.append(f"{longest!r} is cut: scrollWidth {c['scrollWidth']} > clientWidth {c['clientWidth']}")
    field.fill("")
    settle(nb)
    nb.record(longest_type=longest, longest_type_cells=cells)
    return problems


def show_whole_widget(nb: NotebookPage) -> dict[str, float]:
    """Scroll the widget's cell to the top and make the window (same width) tall enough that the whole widget is
    in view; returns the window and notebook widths."""
    root = nb.page.locator(".rtwidget-root").first
    width = nb.js("() => window.innerWidth")
    sizes: dict[str, float] = {}
    for _ in range(3):
        root.evaluate("(r) => r.closest('.jp-Cell').scrollIntoView({block: 'start'})")
        settle(nb)
        short_by = root.evaluate("(r) => Math.ceil(r.getBoundingClientRect().bottom - window.innerHeight)")
        if short_by <= -40:
            break
        height = nb.js("() => window.innerHeight")
        sizes = set_viewport_width(nb, width, min(5000, height + short_by + 60))
    return sizes or set_viewport_width(nb, width, nb.js("() => window.innerHeight"))


def check_width(nb: NotebookPage, name: str) -> list[str]:
    """Screenshot the page as `name`.png and return the clipping problems at this size."""
    nb.page.locator(".rtwidget-root").first.wait_for(state="visible")
    settle(nb)
    clip = clipping_of(nb)
    cut = nb.js(CUT_LOG_CELLS_JS)
    nb.record(**{f"clipping {name}": clip, f"cut log cells {name}": cut})
    nb.screenshot(name)
    problems = clipping_problems(clip)
    by_cell: dict[str, list[dict[str, Any]]] = {}
    for c in (c for c in cut if not c["gone"]):
        by_cell.setdefault(c["cell"], []).append(c)
    for cell, same in by_cell.items():
        c, more = same[0], f" and {len(same) - 1} more" if len(same) > 1 else ""
        size = f"{c['scrollWidth']} px in {c['clientWidth']}, {c['pastEdge']} px past the row's edge"
        problems.append(f"log cell {cell} {c['text']!r}{more} cut or hidden ({size})")
    return [f"[{name}] {p}" for p in problems]


def test_no_clipping_from_600_to_1400_px_in_both_themes(lab: NotebookPage) -> None:
    rich_state(lab, "visual-widths.ipynb")
    problems: list[str] = []
    sizes: dict[str, Any] = {}
    try:
        for theme in THEMES:
            lab.set_theme(theme)
            sidebars(lab, file_browser=False)
            for width in WIDTHS:
                name = f"{short(theme)}-{width}"
                set_notebook_width(lab, width, 1000)
                sizes[name] = show_whole_widget(lab)
                problems += check_width(lab, name)
                if width == WIDTHS[0]:
                    problems += [f"[{name}] {p}" for p in longest_type_problems(lab)]
            sidebars(lab, file_browser=True)
            name = f"{short(theme)}-{FILE_BROWSER_WIDTH}-filebrowser"
            set_viewport_width(lab, FILE_BROWSER_WIDTH, 1000)
            sizes[name] = show_whole_widget(lab)
            problems += check_width(lab, name)
    finally:
        lab.set_theme("JupyterLab Light")
    lab.record(sizes=sizes, clipping_problems=problems)
    assert not problems, "\n".join(problems)


# ================================================================================ 3. Notebook 7


def test_rich_state_renders_and_reads_well_in_notebook_7(nb7: NotebookPage) -> None:
    output = open_widget(nb7, "visual-nb7.ipynb", RICH_SETUP)
    for rt in ("status", "text", "send", "panel-conversation", "panel-log"):
        nb7.page.locator(f"[data-rt={rt}]").first.wait_for(state="visible")
    send_text(nb7, "hello there")
    reply = wait_reply(nb7)
    assert reply["text"] == "You said: hello there", reply
    nb7.page.locator("[data-rt=item]", has_text="You said: hello there").first.wait_for(state="visible")
    send_text(nb7, "get_weather city=Paris")
    nb7.page.locator("[data-rt=tool-row]", has_text="get_weather").first.wait_for(state="visible")
    wait_reply(nb7, after=1)
    failures: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        for theme in THEMES:
            nb7.set_theme(theme)
            show_whole_widget(nb7)
            failures += contrast_failures(nb7, f"notebook7 {short(theme)}")
            problems += check_width(nb7, f"notebook7-{short(theme)}")
            nb7.screenshot(f"notebook7-{short(theme)}-widget", output)
    finally:
        nb7.set_theme("JupyterLab Light")
    nb7.record(contrast_failures=failures, clipping_problems=problems)
    assert not failures and not problems, (
        f"{len(failures)} texts below {MIN_CONTRAST}:1\n{describe(failures)}\nclipping:\n" + "\n".join(problems)
    )
