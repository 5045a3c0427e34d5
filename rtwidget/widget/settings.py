"""The session's settings as the browser changes them: the traits it sets (turn mode, voice, instructions) and
the Session panel's form (a ``config`` message), applied to the session on the I/O thread.

Browser messages about settings are methods ``msg_<kind>(content, buffers)`` here, found by
:meth:`Bridge.handle <rtwidget.widget.bridge.Bridge.handle>` like those of :mod:`.actions`.

The form sends friendly field names (those :meth:`Session.update <rtwidget.Session.update>` takes):
``turn_detection`` (a GA turn_detection object, or None for push-to-talk), ``transcription`` (``{"model": ...}``
or None), ``voice``, ``instructions`` and ``output_modalities``. The values the form can get wrong are checked
here first, so the notice names the field (as its GA path) and the allowed range before anything is sent; names
the form does not know go to ``session.update``, whose error names them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..session import EAGERNESS, PUSH_TO_TALK, TURN_MODES, VAD_TYPES, turn_mode

if TYPE_CHECKING:
    from .bridge import Bridge

_TD = "audio.input.turn_detection"
# turn_detection fields the form edits, per VAD type: (low, high) for numbers; None for booleans.
_TD_NUMBERS: dict[str, tuple[float, float]] = {
    "threshold": (0.0, 1.0),
    "prefix_padding_ms": (0, 10_000),
    "silence_duration_ms": (0, 10_000),
}
_TD_BOOLS = ("create_response", "interrupt_response")
_TD_KEYS: dict[str, tuple[str, ...]] = {
    "server_vad": ("type", *_TD_NUMBERS, "idle_timeout_ms", *_TD_BOOLS),
    "semantic_vad": ("type", "eagerness", *_TD_BOOLS),
}
_MODALITIES = (["audio"], ["text"])


class FormError(ValueError):
    """A value of the session form the API would refuse: ``field`` is its GA path."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


def _number(path: str, value: Any, low: float, high: float, *, whole: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FormError(path, f"{value!r} is not a number")
    if whole and value != int(value):
        raise FormError(path, f"{value!r} is not a whole number of milliseconds")
    if not low <= value <= high:
        raise FormError(path, f"{value:g} is not between {low:g} and {high:g}")
    return int(value) if whole else float(value)


def check_turn_detection(value: Any) -> dict[str, Any] | None:
    """A turn_detection object from the form, checked field by field (None: push-to-talk)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FormError(_TD, f"{value!r} is not an object (or null for push-to-talk)")
    kind = value.get("type")
    if kind not in VAD_TYPES:
        raise FormError(f"{_TD}.type", f"{kind!r} is not one of {', '.join(VAD_TYPES)}")
    out: dict[str, Any] = {}
    for key, val in value.items():
        path = f"{_TD}.{key}"
        if key not in _TD_KEYS[kind]:
            raise FormError(path, f"not a {kind} setting (it takes {', '.join(_TD_KEYS[kind][1:])})")
        if key in _TD_NUMBERS:
            val = _number(path, val, *_TD_NUMBERS[key], whole=key.endswith("_ms"))
        elif key in _TD_BOOLS and not isinstance(val, bool):
            raise FormError(path, f"{val!r} is not true or false")
        elif key == "eagerness" and val not in EAGERNESS:
            raise FormError(path, f"{val!r} is not one of {', '.join(EAGERNESS)}")
        out[key] = val
    return out


def check_transcription(value: Any) -> dict[str, Any] | None:
    """Input transcription from the form: ``{"model": name}`` (other keys kept), or None for off."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("model"), str) or not value["model"]:
        raise FormError("audio.input.transcription.model", f"{value!r} names no transcription model")
    return dict(value)


def check_form(fields: dict[str, Any]) -> dict[str, Any]:
    """The form's fields with their values checked (FormError names the first bad one); others as given."""
    out = dict(fields)
    if "turn_detection" in out:
        out["turn_detection"] = check_turn_detection(out["turn_detection"])
    if "transcription" in out:
        out["transcription"] = check_transcription(out["transcription"])
    if "output_modalities" in out and out["output_modalities"] not in _MODALITIES:
        raise FormError("output_modalities", f"{out['output_modalities']!r} is not ['audio'] or ['text']")
    for name in ("voice", "instructions"):
        if name in out and not isinstance(out[name], str):
            raise FormError(name, f"{out[name]!r} is not text")
    return out


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
                self._restore()
                return
            self._turn_detection(None if value == PUSH_TO_TALK else value)
        elif name == "voice":
            if self._voice_locked():
                self._restore()
                return
            self.session.update(voice=value)
        elif name == "instructions":
            self.session.update(instructions=value)

    def msg_config(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """The Session panel's form changed fields: ``{"kind": "config", "session": {name: value, ...}}``."""
        fields = content.get("session")
        if not isinstance(fields, dict) or not fields:
            self.bridge.notice("error", "Session settings: the form sent no fields to change.")
            return
        try:
            checked = check_form(fields)
        except FormError as exc:
            self.bridge.notice("error", f"Session setting {exc}")
            return
        if "voice" in checked and self._voice_locked():
            return
        if "turn_detection" in checked:
            self._turn_detection(checked.pop("turn_detection"), **checked)
        else:
            self.session.update(**checked)

    def _turn_detection(self, detection: Any, **more: Any) -> None:
        """Change turn detection (and ``more`` fields in the same update); push-to-talk starts from a clear
        input buffer, not held."""
        self.bridge.actions.ptt_down = False
        self.session.update(turn_detection=detection, **more)
        if detection is None and self.session.connected:
            self.session.clear_audio()

    def _restore(self) -> None:
        """A refused change: the menus go back to what the session has (not what was asked for)."""
        config = self.session.config
        if config:
            self.bridge._on_session({"session": config})

    def _voice_locked(self) -> bool:
        if not self.bridge._trait("voice_locked"):
            return False
        self.bridge.notice("warning", "The voice cannot change once the model has spoken in this session.")
        return True


def session_traits(config: dict[str, Any], expires_at: float | None) -> dict[str, Any]:
    """The widget traits that a ``session.created`` / ``session.updated`` config sets: the config itself, the
    turn mode, the voice, the instructions and when the session expires."""
    values: dict[str, Any] = {"session_config": config}
    audio_config = config.get("audio") or {}
    audio_in = audio_config.get("input") or {}
    if "turn_detection" in audio_in:
        values["turn_mode"] = turn_mode(audio_in["turn_detection"])
    voice = (audio_config.get("output") or {}).get("voice") or config.get("voice")
    if isinstance(voice, str):
        values["voice"] = voice
    if isinstance(config.get("instructions"), str):
        values["instructions"] = config["instructions"]
    if expires_at:
        values["expires_at"] = float(expires_at)
    return values
