"""RealtimeWidget: the notebook widget of a Session (anywidget): traits for small state, and the comm wiring.

The front end lives in ``rtwidget/widget/static/``; the contract is ``docs/widget-contract.md``. What the widget
does lives in its :class:`~rtwidget.widget.bridge.Bridge`, which gets the widget's ``send``, a trait setter and a
trait reader, and nothing else.

Comm messages may arrive on a kernel subshell thread (JupyterLab 4.6's default) or on the main thread; either
way they are handed to the session's I/O thread at once, where the bridge owns all the state. A cell blocked in
``time.sleep`` therefore stalls neither the microphone nor the model's voice.
"""

from __future__ import annotations

import weakref
from typing import Any

import anywidget
import traitlets

from ..session import EAGERNESS, TRANSCRIPTION_MODELS, TURN_MODES, VOICES, Session
from . import bundle
from .bridge import Bridge
from .replay import link_replay
from .status import STATUS_OF_STATE

# Traits the browser may set; the kernel applies each to the session when it changes.
_BROWSER_SET = ("turn_mode", "voice", "instructions")
_UNSET = object()

# Each session's one widget, without writing to the session: forgotten when the widget closes. (The widget holds
# its session, so an open widget keeps its session alive; ipywidgets keeps every open widget alive anyway.)
_WIDGETS: weakref.WeakKeyDictionary[Session, RealtimeWidget] = weakref.WeakKeyDictionary()


class RealtimeWidget(anywidget.AnyWidget):
    """The widget for a :class:`~rtwidget.Session`: talk, listen, and watch events, items and tool calls.

    ``RealtimeWidget(session)`` returns the session's one widget (what the notebook shows for ``session``);
    trait values given then still apply. With no session it makes a new one. With ``autoconnect`` (the default)
    the session connects in the background if it is not connected yet. :meth:`close` detaches the widget from
    its session; a later ``RealtimeWidget(session)`` makes a fresh one.
    """

    _esm = traitlets.Unicode(bundle.esm()).tag(sync=True)
    _css = traitlets.Unicode(bundle.css()).tag(sync=True)

    status = traitlets.Unicode("idle").tag(sync=True)
    status_message = traitlets.Unicode("").tag(sync=True)
    endpoint = traitlets.Dict().tag(sync=True)
    connected_at = traitlets.Float(0.0).tag(sync=True)
    expires_at = traitlets.Float(0.0).tag(sync=True)
    turn_mode = traitlets.Unicode(TURN_MODES[0]).tag(sync=True)
    turn_modes = traitlets.List(traitlets.Unicode(), default_value=list(TURN_MODES)).tag(sync=True)
    voice = traitlets.Unicode("").tag(sync=True)
    voices = traitlets.List(traitlets.Unicode(), default_value=list(VOICES)).tag(sync=True)
    voice_locked = traitlets.Bool(False).tag(sync=True)
    instructions = traitlets.Unicode("").tag(sync=True)
    echo_cancellation = traitlets.Bool(True).tag(sync=True)
    muted = traitlets.Bool(False).tag(sync=True)
    session_config = traitlets.Dict().tag(sync=True)
    # The Session panel's form: the choices it offers (input transcription models, semantic_vad eagerness).
    form_choices = traitlets.Dict(
        default_value={"transcription_models": list(TRANSCRIPTION_MODELS), "eagerness": list(EAGERNESS)}
    ).tag(sync=True)
    # The session's registered tools (RegisteredToolView: name, description, parameters schema, reply, timeout).
    registered_tools = traitlets.List(traitlets.Dict()).tag(sync=True)
    usage = traitlets.Dict().tag(sync=True)
    counters = traitlets.Dict().tag(sync=True)
    mic_chunk_ms = traitlets.Int(100).tag(sync=True)
    playback_start_ms = traitlets.Int(60).tag(sync=True)
    log_limit = traitlets.Int(5000).tag(sync=True)
    # A cassette replayed (rtwidget.replay): {name, duration, position, speed, playing, epoch}; {} when live.
    replay = traitlets.Dict().tag(sync=True)
    # The recording into a cassette, from the widget's Record button or a cell: {on, path (file name), started_at}.
    recording = traitlets.Dict().tag(sync=True)

    def __new__(cls, session: Session | None = None, **kwargs: Any) -> RealtimeWidget:
        existing = _WIDGETS.get(session) if session is not None else None
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
        # Per browser-set trait, the value last synced with the session (set by the kernel, or applied).
        self._synced: dict[str, Any] = {}
        self._attach(session if session is not None else Session())
        self._rt_ready = True
        self.on_msg(self._on_msg)
        self.observe(self._on_browser_set, names=list(_BROWSER_SET))
        replaying = link_replay(self)  # a replay's session never connects
        status = STATUS_OF_STATE.get(self.session.state)
        if status is not None:  # connecting, open, reconnecting or closing already: show it, start nothing
            self.status = status
        elif autoconnect and not replaying:
            self.connect()

    def _attach(self, session: Session) -> None:
        """Show ``session``: a bridge to it, and this widget as its widget (a replay's seek moves it to a new one)."""
        self.session = session
        self.bridge = Bridge(session, send=self.send, set_traits=self._set_from_kernel, trait=self._trait)
        _WIDGETS[session] = self

    def _set_from_kernel(self, **values: Any) -> None:
        # The bridge mirrors the session (on the I/O thread): remember what it set, so the change is not
        # applied back to the session as if the browser had made it.
        for name, value in values.items():
            if name in _BROWSER_SET:
                self._synced[name] = value
            setattr(self, name, value)

    def _trait(self, name: str) -> Any:
        return getattr(self, name)

    def _on_msg(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        # Any thread (subshell or main): hand over to the I/O thread, where the bridge's state lives.
        if not isinstance(content, dict):
            return
        self.session.call_soon(self.bridge.handle, content, [bytes(b) for b in buffers or ()])

    def _on_browser_set(self, change: dict[str, Any]) -> None:
        # Echo suppression by value: what the session already has is not applied again.
        name, value = change["name"], change["new"]
        if self._synced.get(name, _UNSET) == value:
            return
        self._synced[name] = value
        self.session.call_soon(self.bridge.apply, name, value)

    def connect(self) -> None:
        """Connect the session in the background; the status line follows."""
        self.bridge.connect()

    def disconnect(self) -> None:
        """Close the session in the background (microphone and playback stop in the browser)."""
        self.session.stop()

    def close(self) -> None:
        """Detach from the session (its events no longer reach this widget), then close the widget and its views.

        The session stays as it is; ``RealtimeWidget(session)`` afterwards makes a fresh widget.
        """
        if getattr(self, "_rt_ready", False):
            self.bridge.detach()
            if _WIDGETS.get(self.session) is self:
                del _WIDGETS[self.session]
        super().close()


__all__ = ["RealtimeWidget"]
