"""RealtimeWidget in a real browser (Debian Chromium, fake microphone) against rtwidget's local Realtime server.

The contract under test is docs/widget-contract.md: controls carry `data-rt` names, the front end keeps per-model
debug records in `globalThis.__rtwidget.models[i].stats`, and the kernel's `session.log` / `session.conversation`
/ `session.tool_calls` say what went over the wire. Assertions compare what the browser actually played with what
the kernel received and sent.
"""

from __future__ import annotations

from typing import Any

import pytest

from .jlab import JupyterServer, NotebookPage

pytestmark = pytest.mark.browser

SETUP = """\
import rtwidget
session = rtwidget.Session()
widget = rtwidget.RealtimeWidget(session)
widget
"""

# The session's rich repr is its widget (the notebook way to show it).
SESSION_REPR_SETUP = """\
import rtwidget
session = rtwidget.Session()
widget = rtwidget.RealtimeWidget(session)  # the same widget the repr shows
session
"""

TOOL_SETUP = """\
import rtwidget
session = rtwidget.Session()

@session.tool
def get_weather(city: str) -> dict:
    \"\"\"The weather in a city.\"\"\"
    return {"city": city, "temp_c": 21}

widget = rtwidget.RealtimeWidget(session)
widget
"""

# Long enough that the echoed reply speaks for well over ten seconds.
LONG_TEXT = " ".join(
    [
        "This is a long message so that the assistant keeps talking for a good while.",
        "It mentions rivers, mountains, forests, cities, bridges, harbours and lighthouses,",
        "then counts slowly: one, two, three, four, five, six, seven, eight, nine, ten,",
        "eleven, twelve, thirteen, fourteen, fifteen, sixteen, seventeen, eighteen, nineteen, twenty.",
    ]
)

SAMPLES_PER_MS = 24  # PCM16 mono at 24 kHz

# The newest widget model's debug stats, as plain JSON (counts for the list-valued ones).
STATS_JS = """
() => {
    const models = globalThis.__rtwidget && globalThis.__rtwidget.models;
    if (!models || !models.length) return null;
    const s = models[models.length - 1].stats || {};
    const count = (x) => (Array.isArray(x) ? x.length : typeof x === 'number' ? x : 0);
    const played = s.playedSamples instanceof Map ? Object.fromEntries(s.playedSamples) : {...s.playedSamples};
    return {playedSamples: played, flushes: count(s.flushes), micChunks: count(s.micChunks),
            playStarts: count(s.playStarts)};
}
"""

ASSISTANT_ITEMS = (
    "[{'id': i.id, 'status': i.status, 'audio_ms': i.audio_ms, 'text': i.text, 'response_id': i.response_id}"
    " for i in session.conversation if i.type == 'message' and i.role == 'assistant']"
)
USER_ITEMS = (
    "[{'id': i.id, 'status': i.status, 'audio_ms': i.audio_ms, 'text': i.text}"
    " for i in session.conversation if i.type == 'message' and i.role == 'user']"
)


# ================================================================================ helpers


def stats(nb: NotebookPage) -> dict[str, Any]:
    value = nb.js(STATS_JS)
    assert value is not None, "no globalThis.__rtwidget.models record in the page"
    return dict(value)


def played(nb: NotebookPage, item_id: str) -> int:
    return int(stats(nb)["playedSamples"].get(item_id, 0))


def wait_played(nb: NotebookPage, item_id: str, at_least: int, timeout: float = 60.0) -> int:
    """Wait until the browser reports at least `at_least` samples of `item_id` played; returns the count."""
    return int(
        nb.wait_js(
            f"""([item, want]) => {{
                const s = ({STATS_JS})();
                const n = s && s.playedSamples[item];
                return n >= want ? n : false;
            }}""",
            [item_id, at_least],
            timeout=timeout,
            what=f"{at_least} samples of {item_id} played",
        )
    )


def open_widget(nb: NotebookPage, name: str, setup: str = SETUP, extra_cells: tuple[str, ...] = ()) -> Any:
    """Open a notebook whose first cell shows the widget, run it, wait until connected; returns the widget root."""
    nb.open(name, [setup, *extra_cells])
    nb.run_cell(0)
    nb.wait_js(
        "() => !!(globalThis.__rtwidget && globalThis.__rtwidget.models && globalThis.__rtwidget.models.length)",
        what="the widget's debug record (globalThis.__rtwidget.models)",
    )
    nb.page.locator("[data-rt=status]").first.wait_for(state="visible")
    nb.wait_kernel("widget.status == 'connected' and session.connected", what="the widget to connect")
    return nb.page.locator(".jp-OutputArea-output:has([data-rt=status])").first


def send_text(nb: NotebookPage, text: str) -> None:
    nb.page.locator("[data-rt=text]").first.fill(text)
    nb.page.locator("[data-rt=send]").first.click()


def wait_reply(nb: NotebookPage, after: int = 0, timeout: float = 60.0) -> dict[str, Any]:
    """Wait for assistant item number `after` (0-based) of the conversation to complete; returns it."""
    items = nb.wait_kernel(
        f"(lambda a: len(a) > {after} and a[{after}]['status'] in ('completed', 'incomplete') and a)"
        f"({ASSISTANT_ITEMS})",
        timeout=timeout,
        what=f"assistant reply #{after + 1} to complete",
    )
    return dict(items[after])


def set_turn_mode(nb: NotebookPage, mode: str) -> None:
    nb.page.locator("[data-rt=turn-mode]").first.select_option(mode)
    nb.wait_kernel(f"widget.turn_mode == {mode!r}", what=f"turn_mode {mode} to reach the kernel")


def log_types(log: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["direction"], e["type"]) for e in log]


def server_errors(nb: NotebookPage) -> list[dict[str, Any]]:
    return [e["data"] for e in nb.session_log(types=["error"]) if e["direction"] == "server"]


# ================================================================================ 1. themes

CONTROLS = ("status", "mic", "turn-mode", "text", "send", "panel-conversation", "panel-log")


# Contrast of an element's text against the first opaque background behind it, and that background's luminance.
CONTRAST_JS = """
(el) => {
    const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    let bg = null;
    for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) { bg = c; break; }
    }
    bg = bg || [255, 255, 255];
    const fg = rgb(getComputedStyle(el).color);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const box = el.getBoundingClientRect();
    return {contrast: (a + 0.05) / (b + 0.05), background: lum(bg), width: box.width, height: box.height};
}
"""


def test_renders_in_light_and_dark_themes(lab: NotebookPage) -> None:
    root = open_widget(lab, "theme.ipynb", SESSION_REPR_SETUP)
    send_text(lab, "hello")  # something in the conversation and the log, so the panels have content
    wait_reply(lab)
    try:
        seen: dict[str, dict[str, Any]] = {}
        for theme in ("JupyterLab Light", "JupyterLab Dark"):
            lab.set_theme(theme)
            root.scroll_into_view_if_needed()
            lab.screenshot("widget-" + theme.split()[-1].lower(), root)
            for name in CONTROLS:
                info = lab.page.locator(f"[data-rt={name}]").first.evaluate(CONTRAST_JS)
                assert info["width"] > 0 and info["height"] > 0, f"{theme}: [data-rt={name}] has no size: {info}"
                seen[f"{theme}/{name}"] = info
                lab.record(**{f"{theme}/{name}": info})
                if name not in ("panel-conversation", "panel-log"):
                    assert info["contrast"] >= 3.0, f"{theme}: [data-rt={name}] text is hard to read: {info}"
            # The widget follows the theme: light surroundings in Light, dark ones in Dark.
            status = seen[f"{theme}/status"]
            if theme.endswith("Light"):
                assert status["background"] > 0.5, f"{theme}: the widget is dark in the light theme: {status}"
            else:
                assert status["background"] < 0.2, f"{theme}: the widget stays light in the dark theme: {status}"
    finally:
        lab.set_theme("JupyterLab Light")  # the theme is a server-side setting: leave it as found


# ================================================================================ 2. typed text -> played reply


def typed_text_is_answered_and_played(nb: NotebookPage, text: str) -> None:
    send_text(nb, text)
    reply = wait_reply(nb)
    assert reply["text"] == f"You said: {text}", reply
    assert reply["audio_ms"] > 0, f"the reply has no audio: {reply}"
    expected = round(reply["audio_ms"] * SAMPLES_PER_MS)
    got = wait_played(nb, reply["id"], expected)
    nb.record(reply=reply, expected_samples=expected, played_samples=got)
    assert got >= expected
    # The conversation panel shows the exchange, the user's message first.
    nb.page.locator("[data-rt=item]", has_text=f"You said: {text}").first.wait_for(state="visible")
    texts = nb.page.locator("[data-rt=item]").all_text_contents()
    user = [i for i, t in enumerate(texts) if text in t and "You said" not in t]
    reply_at = [i for i, t in enumerate(texts) if f"You said: {text}" in t]
    assert len(user) == 1 and len(reply_at) == 1 and user[0] < reply_at[0], texts
    assert server_errors(nb) == []


def test_typed_text_gets_a_reply_that_is_played(lab: NotebookPage) -> None:
    open_widget(lab, "text-reply.ipynb")
    typed_text_is_answered_and_played(lab, "hello there")


# ================================================================================ 3. speech into the mic (server VAD)


def test_speech_into_the_microphone_gets_a_spoken_reply(lab: NotebookPage) -> None:
    open_widget(lab, "mic-vad.ipynb")
    set_turn_mode(lab, "server_vad")
    lab.page.locator("[data-rt=mic]").first.click()
    try:
        log = lab.wait_kernel(
            "(lambda types: {'input_audio_buffer.speech_started', 'input_audio_buffer.speech_stopped',"
            " 'input_audio_buffer.committed'} <= types)"
            "({e.type for e in list(session.log) if e.direction == 'server'})",
            what="speech_started, speech_stopped and committed from the server",
        )
        assert log
        log = lab.session_log(
            types=[
                "input_audio_buffer.speech_started",
                "input_audio_buffer.speech_stopped",
                "input_audio_buffer.committed",
            ]
        )
        order = [e["type"] for e in log]
        assert order.index("input_audio_buffer.speech_started") < order.index("input_audio_buffer.speech_stopped")
        committed = next(e["data"] for e in log if e["type"] == "input_audio_buffer.committed")
        users = lab.wait_kernel(
            f"(lambda u: [x for x in u if x['id'] == {committed['item_id']!r}])({USER_ITEMS})",
            what="the committed user item in the conversation",
        )
        assert users[0]["audio_ms"] > 0, users
        assert stats(lab)["micChunks"] > 0
        # The server answers the turn; the browser plays it.
        reply = lab.wait_kernel(
            f"(lambda a: [x for x in a if x['audio_ms'] > 0])({ASSISTANT_ITEMS})", what="a spoken assistant reply"
        )[0]
        got = wait_played(lab, reply["id"], 1)
        lab.record(vad_events=log, user_item=users[0], reply=reply, played_samples=got, stats=stats(lab))
        assert got > 0
    finally:
        lab.page.locator("[data-rt=mic]").first.click()


# ================================================================================ 4. barge-in


def test_barge_in_flushes_playback_and_truncates_at_the_played_position(lab: NotebookPage) -> None:
    open_widget(lab, "barge-in.ipynb")
    set_turn_mode(lab, "server_vad")
    send_text(lab, LONG_TEXT)
    item = lab.wait_kernel(
        f"(lambda a: a and a[0]['audio_ms'] > 0 and a[0])({ASSISTANT_ITEMS})", what="the long reply to start"
    )
    wait_played(lab, item["id"], SAMPLES_PER_MS * 1000)  # a second of it played: the assistant is talking
    flushes_before = stats(lab)["flushes"]
    lab.page.locator("[data-rt=mic]").first.click()
    try:
        truncates = lab.wait_kernel(
            "[e.data for e in list(session.log) if e.direction == 'client' and e.type == 'conversation.item.truncate']",
            what="conversation.item.truncate from the kernel",
        )
    finally:
        lab.page.locator("[data-rt=mic]").first.click()
    assert len(truncates) == 1, truncates
    truncate = truncates[0]
    assert truncate["item_id"] == item["id"], truncate
    lab.wait_js(f"() => ({STATS_JS})().flushes > {flushes_before}", what="a flush of the playback")
    played_ms = played(lab, item["id"]) / SAMPLES_PER_MS
    lab.record(truncate=truncate, played_ms=played_ms, stats=stats(lab))
    assert abs(truncate["audio_end_ms"] - played_ms) <= 100, (truncate, played_ms)
    # The reply was interrupted, not played out; the server accepted the truncation.
    final = lab.kernel_json(ASSISTANT_ITEMS)[0]
    assert played_ms < final["audio_ms"], (played_ms, final)
    log = lab.session_log()
    kinds = log_types(log)
    assert ("server", "input_audio_buffer.speech_started") in kinds
    assert ("server", "conversation.item.truncated") in kinds
    assert server_errors(lab) == []


# ================================================================================ 5. tool call


def test_tool_call_shows_in_the_tools_panel_with_one_followup(lab: NotebookPage) -> None:
    open_widget(lab, "tool.ipynb", TOOL_SETUP)
    send_text(lab, "get_weather city=Paris")
    row = lab.page.locator("[data-rt=tool-row]", has_text="get_weather").first
    row.wait_for(state="visible")
    lab.wait_js(
        """() => Array.from(document.querySelectorAll('[data-rt=tool-row]'))
                 .some((r) => r.textContent.includes('get_weather') && r.textContent.includes('21'))""",
        what="the tool row to show the output",
    )
    calls = lab.wait_kernel(
        "[{'name': c.name, 'arguments': c.arguments, 'output': c.output, 'ok': c.ok} for c in session.tool_calls]",
        what="the tool call record",
    )
    assert len(calls) == 1 and calls[0]["name"] == "get_weather" and calls[0]["ok"], calls
    assert calls[0]["arguments"] == {"city": "Paris"}, calls
    assert "21" in calls[0]["output"], calls
    # The follow-up reply reads the output back (local server brain), and is done.
    readback = wait_reply(lab)
    assert readback["text"].startswith("get_weather returned"), readback
    lab.wait_kernel(
        "sum(1 for e in list(session.log) if e.direction == 'server' and e.type == 'response.done') >= 2",
        what="the follow-up response to finish",
    )
    client = [e for e in lab.session_log() if e["direction"] == "client"]
    lab.record(tool_calls=calls, client_events=[e["type"] for e in client], readback=readback)
    outputs = [
        i
        for i, e in enumerate(client)
        if e["type"] == "conversation.item.create" and e["data"]["item"]["type"] == "function_call_output"
    ]
    assert len(outputs) == 1, [e["type"] for e in client]
    creates_after = [e for e in client[outputs[0] + 1 :] if e["type"] == "response.create"]
    assert len(creates_after) == 1, [e["type"] for e in client]
    assert server_errors(lab) == []


FAILING_TOOL_SETUP = """\
import rtwidget
session = rtwidget.Session()

@session.tool
def get_weather(city: str) -> dict:
    \"\"\"The weather in a city.\"\"\"
    raise ValueError(f"no weather for {city}")

widget = rtwidget.RealtimeWidget(session)
widget
"""


def test_a_failing_tool_shows_its_traceback_under_every_view(lab: NotebookPage) -> None:
    open_widget(lab, "tool-error.ipynb", FAILING_TOOL_SETUP, extra_cells=("widget",))
    send_text(lab, "get_weather city=Atlantis")
    block = lab.page.locator("[data-rt=exception]").first
    block.wait_for(state="visible")
    summary = block.locator("summary").inner_text()
    assert summary.startswith("ValueError in tool get_weather: no weather for Atlantis"), summary
    traceback = block.locator("pre")
    assert not traceback.is_visible(), "the traceback starts collapsed"
    block.locator("summary").click()
    traceback.wait_for(state="visible")
    assert "raise ValueError" in traceback.inner_text()
    # A second view of the same widget gets the kernel's exceptions with its snapshot.
    lab.run_cell(1)
    count = "() => document.querySelectorAll('[data-rt=exception]').length"
    lab.wait_js(f"() => ({count})() === 2", what="the exception in both views")
    lab.screenshot("tool-exception", lab.page.locator(".jp-OutputArea-output:has([data-rt=exceptions])").first)
    lab.page.locator("[data-rt=exception-dismiss]").first.click()
    lab.wait_js(f"() => ({count})() === 0", what="the exception dismissed in both views")
    errors = lab.kernel_json("[e.data.get('name') for e in session.errors if e.type == 'rtwidget.error']")
    lab.record(summary=summary, kernel_exceptions=errors)
    assert errors == ["get_weather"], errors


# ================================================================================ 6. a blocked cell


@pytest.fixture(params=["subshells", "main-thread"])
def lab_comms(request: pytest.FixtureRequest, lab_server: JupyterServer) -> Any:
    """The page fixture for JupyterLab with widget comms on subshells (default) and on the main thread."""
    if request.param == "subshells":
        return request.getfixturevalue("lab")
    return request.getfixturevalue("lab_main_thread_comms")


SLEEP_CELL = """\
import time
print("sleeping", flush=True)
time.sleep(10)
print("slept")
"""


def test_blocked_cell_does_not_stop_the_assistant_audio(lab_comms: NotebookPage) -> None:
    nb = lab_comms
    open_widget(nb, "blocked.ipynb", extra_cells=(SLEEP_CELL,))
    send_text(nb, LONG_TEXT)
    item = nb.wait_kernel(
        f"(lambda a: a and a[0]['audio_ms'] > 0 and a[0])({ASSISTANT_ITEMS})", what="the long reply to start"
    )
    wait_played(nb, item["id"], 1)
    nb.run_cell(1, wait=False)
    nb.wait_js(
        """(path) => {
            const cell = window.__rtFindPanel(path).content.widgets[1];
            return cell.model.outputs.toJSON().some((o) => (o.text || '').includes('sleeping'));
        }""",
        nb.path,
        what="the cell to start sleeping",
    )
    start = played(nb, item["id"])
    # Two more seconds of the reply play while the cell is still blocked.
    progress = nb.wait_js(
        f"""([item, want]) => {{
            const n = ({STATS_JS})().playedSamples[item] || 0;
            const blocked = !(window.__rtCellDone && window.__rtCellDone[1]);
            return n >= want ? {{n, blocked}} : false;
        }}""",
        [item["id"], start + 2 * 1000 * SAMPLES_PER_MS],
        timeout=9,
        what="the reply to keep playing while the cell sleeps",
    )
    nb.record(played_when_sleep_started=start, progress=progress)
    assert progress["blocked"], "the cell finished before two more seconds of audio had played"
    # (The kernel, still asleep, is shut down when the test ends.)


# ================================================================================ 7. push-to-talk


@pytest.mark.parametrize("how", ["button", "space"])
def test_push_to_talk_with_turn_detection_off(lab: NotebookPage, how: str) -> None:
    open_widget(lab, f"ptt-{how}.ipynb")
    set_turn_mode(lab, "push_to_talk")
    lab.wait_kernel(
        "(lambda u: bool(u) and u[-1].data['session']['audio']['input']['turn_detection'] is None)"
        "([e for e in list(session.log) if e.type == 'session.updated'])",
        what="the server to turn turn detection off",
    )
    ptt = lab.page.locator("[data-rt=ptt]").first
    ptt.wait_for(state="visible")
    chunks0 = stats(lab)["micChunks"]
    if how == "button":
        ptt.hover()
        lab.page.mouse.down()
    else:
        # Focus the widget (not a text field), then hold the space bar.
        lab.page.locator("[data-rt=status]").first.click()
        lab.page.keyboard.down("Space")
    try:
        # About two seconds of speech (chunks of mic_chunk_ms, 100 ms by default) go out while it is held.
        chunk_ms = lab.kernel_json("widget.mic_chunk_ms")
        lab.wait_js(
            f"() => ({STATS_JS})().micChunks >= {chunks0 + 2000 // chunk_ms}", what="two seconds of mic audio sent"
        )
    finally:
        if how == "button":
            lab.page.mouse.up()
        else:
            lab.page.keyboard.up("Space")
    committed = lab.wait_kernel(
        "[e.data for e in list(session.log) if e.direction == 'server' and e.type == 'input_audio_buffer.committed']",
        what="the push-to-talk turn to be committed",
    )
    assert len(committed) == 1, committed
    users = lab.wait_kernel(
        f"(lambda u: [x for x in u if x['id'] == {committed[0]['item_id']!r}])({USER_ITEMS})",
        what="the committed user item",
    )
    lab.record(committed=committed, user_item=users[0], stats=stats(lab))
    assert users[0]["audio_ms"] >= 1500, users
    reply = wait_reply(lab)
    assert reply["text"].startswith("I heard"), reply
    assert wait_played(lab, reply["id"], 1) > 0
    kinds = log_types(lab.session_log())
    assert ("client", "input_audio_buffer.commit") in kinds
    assert ("client", "response.create") in kinds
    assert ("server", "input_audio_buffer.speech_started") not in kinds, "turn detection should be off"
    assert server_errors(lab) == []


# ================================================================================ 8. Notebook 7


def test_renders_and_talks_in_notebook_7(nb7: NotebookPage) -> None:
    # The notebook of the JupyterLab test of typed text, cell for cell.
    root = open_widget(nb7, "text-reply.ipynb")
    for name in CONTROLS:
        nb7.page.locator(f"[data-rt={name}]").first.wait_for(state="visible")
    nb7.screenshot("notebook7-widget", root)
    typed_text_is_answered_and_played(nb7, "hello there")
