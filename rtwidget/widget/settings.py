"""The session's settings as the browser changes them: the traits it sets (turn mode, voice, instructions),
applied to the session on the I/O thread.

Browser messages about settings are methods ``msg_<kind>(content, buffers)`` here, found by
:meth:`Bridge.handle <rtwidget.widget.bridge.Bridge.handle>` like those of :mod:`.actions`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..session import PUSH_TO_TALK, TURN_MODES

if TYPE_CHECKING:
    from .bridge import Bridge


class SettingsActions:
    """Applies the browser's setting changes to one bridge's session."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.session = bridge.session

    def apply(self, name: str, value: Any) -> None:
        """The browser set ``turn_mode``, ``voice`` or ``instructions``: tell the session."""
        bridge = self.bridge
        if name == "turn_mode":
            if value not in TURN_MODES:
                bridge.notice("error", f"turn_mode {value!r} is not one of {', '.join(TURN_MODES)}")
                return
            bridge.actions.ptt_down = False
            self.session.update(turn_detection=None if value == PUSH_TO_TALK else value)
            if value == PUSH_TO_TALK and self.session.connected:
                self.session.clear_audio()
        elif name == "voice":
            if bridge._trait("voice_locked"):
                bridge.notice("warning", "The voice cannot change once the model has spoken in this session.")
                return
            self.session.update(voice=value)
        elif name == "instructions":
            self.session.update(instructions=value)
