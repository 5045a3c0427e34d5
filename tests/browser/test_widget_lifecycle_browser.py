"""The widget in a real browser across its session's life (issue 9): after Disconnect -> Connect a message shows
in both the Conversation and the Event log panels (and the old server session's conversation is gone); a widget
shown for a session connected before it (`await session.connect()`, then `session`) shows the endpoint and the
model in its status line and `session.created` in its log."""

from __future__ import annotations

import pytest

from .jlab import NotebookPage
from .test_widget_browser import open_widget, send_text, wait_reply

pytestmark = pytest.mark.browser

# The conversation's item texts by role, and the event-log rows rendered (type cells), of the first widget.
PANELS_JS = """
() => {
    const conv = document.querySelector('[data-rt=panel-conversation]');
    const log = document.querySelector('[data-rt=panel-log]');
    if (!conv || !log) return null;
    const items = [...conv.querySelectorAll('[data-rt=item]')].map((e) => ({
        cls: e.className, text: e.querySelector('.rtwidget-item-body')?.textContent || '',
        status: e.querySelector('.rtwidget-item-status')?.textContent || ''}));
    const types = [...log.querySelectorAll('[data-rt=log-row]')].map(
        (e) => e.querySelector('.rtwidget-log-type')?.textContent || '');
    return {items, types};
}
"""


def test_disconnect_then_connect_then_a_message_shows_in_both_panels(lab: NotebookPage) -> None:
    root = open_widget(lab, "lifecycle.ipynb")
    send_text(lab, "hello there")
    wait_reply(lab)
    lab.page.locator("[data-rt=disconnect]").first.click()
    lab.wait_kernel("widget.status == 'closed' and not session._io.running", what="closed, its I/O loop stopped")
    lab.page.locator("[data-rt=connect]").first.click()
    lab.wait_kernel("widget.status == 'connected' and session.connected", what="connected again")
    send_text(lab, "after reconnecting")
    lab.wait_kernel(
        "len([e for e in session.log if e.type == 'response.done']) == 2", what="the second turn done in the kernel"
    )
    # The conversation: the new server session's turn only (the old one's items are removed).
    lab.wait_js(
        f"""() => {{
            const p = ({PANELS_JS})();
            if (!p) return false;
            const user = p.items.filter((i) => i.cls.includes('rtwidget-role-user')).map((i) => i.text);
            const done = p.items.filter((i) => i.cls.includes('rtwidget-role-assistant')
                && i.status === 'completed');
            return user.length === 1 && user[0].includes('after reconnecting') && done.length === 1;
        }}""",
        what="the new turn (and only it) in the Conversation panel",
    )
    # The event log: filtered to response.done, both turns' rows (the second arrived after the reconnect).
    lab.page.locator("[data-rt=log-filter-type]").first.fill("response.done")
    lab.wait_js(
        f"() => {{ const p = ({PANELS_JS})(); "
        "return p && p.types.filter((t) => t === 'response.done').length === 2; }",
        what="both response.done rows in the Event log panel",
    )
    lab.page.locator("[data-rt=log-filter-type]").first.fill("")
    lab.screenshot("after-disconnect-connect", root)


PRECONNECTED_CELLS = (
    "import rtwidget\nsession = rtwidget.Session()\nawait session.connect()",
    "session",
)


def test_a_session_connected_before_its_widget_shows_endpoint_model_and_its_log(lab: NotebookPage) -> None:
    lab.open("preconnected.ipynb", list(PRECONNECTED_CELLS))
    lab.run_cell(0)
    lab.run_cell(1)
    lab.page.locator("[data-rt=status]").first.wait_for(state="visible")
    model = lab.kernel_json("session.model")
    label = lab.kernel_json("session.endpoint.describe()['label']")
    assert model and label
    # The line says where in words and the model; its tooltip names the endpoint's label and how long ago the
    # session connected (connected_at taken from the session).
    status = lab.wait_js(
        """([model, label]) => {
            const s = document.querySelector('[data-rt=status]');
            const t = s ? s.textContent : '';
            const tip = s ? s.title : '';
            return t.startsWith('Connected to') && t.includes(model) && tip.includes(label)
                && tip.includes('Connected since') && {text: t, tip};
        }""",
        [model, label],
        what="the status line with the endpoint and the model",
    )
    assert "(0:" in status["tip"], status  # connected seconds ago, not at the epoch
    lab.wait_js(
        f"() => {{ const p = ({PANELS_JS})(); return p && p.types.includes('session.created') "
        "&& p.types.includes('session.update'); }",
        what="session.created and session.update in the Event log panel",
    )
    lab.screenshot("preconnected", lab.page.locator(".jp-OutputArea-output:has([data-rt=status])").first)
