"""RealtimeWidget: the notebook widget of a Session (anywidget), with traits for small state and one router for
``kind`` messages. The front end lives in ``rtwidget/widget/static/``; the contract is ``docs/widget-contract.md``.

Comm messages may arrive on a kernel subshell thread (JupyterLab 4.6's default) or on the main thread; either
way they are handed to the session's I/O thread at once, where the :class:`~rtwidget.bridge.Bridge` owns all the
state. A cell blocked in ``time.sleep`` therefore stalls neither the microphone nor the model's voice.
"""

from __future__ import annotations

import logging
from typing import Any

import anywidget
import traitlets

from ..session import Session
from . import bundle
from .bridge import Bridge

logger = logging.getLogger("rtwidget.widget")

VOICES = ["alloy", "ash", "ballad", "cedar", "coral", "echo", "marin", "sage", "shimmer", "verse"]
TURN_MODES = ("server_vad", "semantic_vad", "push_to_talk")
# Traits the browser may set; the kernel applies each to the session when it changes.
_BROWSER_SET = ("turn_mode", "voice", "instructions")


class RealtimeWidget(anywidget.AnyWidget):
    """The widget for a :class:`~rtwidget.Session`: talk, listen, and watch events, items and tool calls.

    ``RealtimeWidget(session)`` returns the session's one widget (the same as ``session.widget``, and what the
    notebook shows for ``session``). With no session it makes a new one. With ``autoconnect`` (the default) the
    session connects in the background if it is not connected yet.
    """

    _esm = traitlets.Unicode(bundle.esm()).tag(sync=True)
    _css = traitlets.Unicode(bundle.css()).tag(sync=True)

    status = traitlets.Unicode("idle").tag(sync=True)
    status_message = traitlets.Unicode("").tag(sync=True)
    endpoint = traitlets.Dict().tag(sync=True)
    connected_at = traitlets.Float(0.0).tag(sync=True)
    expires_at = traitlets.Float(0.0).tag(sync=True)
    turn_mode = traitlets.Unicode("server_vad").tag(sync=True)
    voice = traitlets.Unicode("").tag(sync=True)
    voices = traitlets.List(traitlets.Unicode(), default_value=VOICES).tag(sync=True)
    voice_locked = traitlets.Bool(False).tag(sync=True)
    instructions = traitlets.Unicode("").tag(sync=True)
    echo_cancellation = traitlets.Bool(True).tag(sync=True)
    muted = traitlets.Bool(False).tag(sync=True)
    session_config = traitlets.Dict().tag(sync=True)
    usage = traitlets.Dict().tag(sync=True)
    counters = traitlets.Dict().tag(sync=True)
    mic_chunk_ms = traitlets.Int(100).tag(sync=True)
    playback_start_ms = traitlets.Int(60).tag(sync=True)
    log_limit = traitlets.Int(5000).tag(sync=True)

    def __new__(cls, session: Session | None = None, **kwargs: Any) -> RealtimeWidget:
        existing = getattr(session, "_widget", None)
        if isinstance(existing, cls):
            return existing
        widget: RealtimeWidget = super().__new__(cls)
        return widget

    def __init__(self, session: Session | None = None, *, autoconnect: bool = True, **kwargs: Any) -> None:
        if getattr(self, "_rt_ready", False):
            # RealtimeWidget(session) again: the session's existing widget; trait values given now still apply.
            for name, value in kwargs.items():
                setattr(self, name, value)
            return
        super().__init__(**kwargs)
        self.session = session if session is not None else Session()
        self.session._widget = self
        self._rt_ready = True
        self.bridge = Bridge(self.session, self)
        self.on_msg(self._on_msg)
        self.observe(self._on_browser_set, names=list(_BROWSER_SET))
        if self.session.connected:
            self.status = "connected"
        elif autoconnect:
            self.connect()

    def _on_msg(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        # Any thread (subshell or main): hand over to the I/O thread, where the bridge's state lives.
        if not isinstance(content, dict):
            return
        self.session.call_soon(self.bridge.handle, content, [bytes(b) for b in buffers or ()])

    def _on_browser_set(self, change: dict[str, Any]) -> None:
        if self.bridge.syncing:
            return  # the kernel itself is mirroring the server's config
        name, value = change["name"], change["new"]
        if name == "turn_mode" and value not in TURN_MODES:
            self.bridge.notice("error", f"turn_mode {value!r} is not one of {', '.join(TURN_MODES)}")
            return
        self.session.call_soon(self.bridge.apply, name, value)

    def connect(self) -> None:
        """Connect the session in the background; the status line follows."""
        if self.session.connected:
            return
        self.status, self.status_message = "connecting", ""
        self.session.start().add_done_callback(self._connect_done)

    def _connect_done(self, future: Any) -> None:
        if future.cancelled():  # closed while connecting
            self.status = "closed"
            return
        exc = future.exception()
        if exc is not None:
            self.status, self.status_message = "error", f"could not connect: {exc}"
            self.bridge.notice("error", f"Could not connect: {exc}")

    def disconnect(self) -> None:
        """Close the session in the background (microphone and playback stop in the browser)."""
        self.session.stop()


def _view_for(session: Session) -> RealtimeWidget:
    return RealtimeWidget(session)


# A Session shows itself as this widget (its rich repr, session.widget) without importing upward.
Session.view_factory = _view_for

__all__ = ["RealtimeWidget"]
