"""The widget in a real browser while its connection drops: the status line says it is reconnecting, then what
was restored, and the conversation carries on (a local server in the kernel, scripted to reset the connection)."""

from __future__ import annotations

import pytest

from .jlab import NotebookPage
from .test_widget_browser import open_widget, send_text, wait_reply

pytestmark = pytest.mark.browser

# The first connection is reset (no close frame) just after the server answered the second response.create.
DROPPING_SETUP = """\
import rtwidget
from rtwidget.server import LocalServer, Script
from rtwidget.server.script import Rule

script = Script().add(Rule(on="response.create", nth=2, disconnect={"code": 1011, "reset": True}, connection=1))
server = LocalServer(pace="fast", script=script).start_in_thread()
session = rtwidget.Session(endpoint=server.url)
widget = rtwidget.RealtimeWidget(session)
widget
"""


def test_a_dropped_connection_shows_reconnecting_then_what_was_restored(lab: NotebookPage) -> None:
    root = open_widget(lab, "reconnect.ipynb", DROPPING_SETUP)
    send_text(lab, "hello there")
    first = wait_reply(lab)
    assert first["text"] == "You said: hello there", first
    send_text(lab, "and again")  # its response.create is the second: the connection drops
    lab.wait_kernel("any(e.type == 'rtwidget.reconnected' for e in list(session.log))", what="the reconnect")
    status = lab.page.locator("[data-rt=status]").first
    lab.wait_js(
        "() => document.querySelector('[data-rt=status]').textContent.includes('reconnected')",
        what="the status line to say what the reconnect restored",
    )
    text = status.text_content() or ""
    lab.screenshot("reconnected", root)
    states = lab.kernel_json("[e.data['state'] for e in list(session.log) if e.type == 'rtwidget.state']")
    restored = lab.kernel_json("[e.data for e in list(session.log) if e.type == 'rtwidget.reconnected'][0]['restored']")
    lab.record(status=text, states=states, restored=restored)
    assert "reconnecting" in states and states[-1] == "open", states
    assert restored >= 3 and f"{restored} items restored" in text, (restored, text)
    # The conversation carries on over the new connection, with the history the server was given back.
    send_text(lab, "still there?")
    lab.wait_kernel(
        "any(i.text == 'You said: still there?' for i in session.conversation)", what="a reply after the reconnect"
    )
    assert lab.kernel_json("session.state") == "open"
    assert lab.kernel_json("server.connections_served") == 2
