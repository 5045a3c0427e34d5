"""The widget in replay mode: ``rtwidget.replay(path)`` shows a recorded cassette, offline, in a RealtimeWidget.

A :class:`~rtwidget.session.replaying.Replay` feeds a session that never connects; the widget shows that session
as it shows a live one (the bridge does not know the difference), plus a replay bar (``static/replay.js``) driven
by the synced ``replay`` trait (``{name, duration, position, speed, playing}``; ``{}`` when live) and answering
``{kind: "replay", action: "play" | "pause" | "seek" | "speed", value}`` messages.

- :class:`ReplayActions` is a bridge owner (``Bridge.owners``): it answers ``replay`` messages, refuses the
  live-only ones (talk, type, connect, interrupt, clear, new session, settings...) with an info notice, and takes
  the browser's ``played`` reports for the playhead's bookkeeping only (never a truncate: nothing is sent).
- The model's audio reaches the browser through the bridge's normal path only while the replay plays at 1x
  (``Replay.audible``): at 2x or instantly it would pile up far ahead of the picture, so it is not sent. The
  user's microphone audio is not played (the cassette's ``mic.pcm`` and ``session.export_wav`` have it).
- A seek backward replaces the session (see :mod:`rtwidget.session.replaying`): :class:`ReplayLink` moves the
  widget onto the new one (a new bridge) and bumps the trait's ``epoch``, on which each view asks for a fresh
  snapshot. Pause and seek flush the browser's playback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..cassette import CassetteSource
from ..session import Session
from ..session.replaying import Replay, ReplaySession

if TYPE_CHECKING:
    import asyncio

    from .bridge import Bridge
    from .realtime_widget import RealtimeWidget

# Messages a replay refuses (they need a connection): the talk and type controls, the connection's buttons, the
# session's settings, tool approvals and recording.
LIVE_ONLY = frozenset(
    {"mic", "ptt", "text", "interrupt", "clear", "new_session", "connect", "disconnect", "config", "approve"}
    | {"reject", "record"}
)
# How often the position reaches the trait while playing (seconds).
POSITION_EVERY_S = 0.25
_AUDIO_DELTA = "response.output_audio.delta"


class ReplayActions:
    """A bridge owner: the replay bar's messages, and the refusal of live-only ones on a replaying session."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        session = bridge.session
        self.replay = session.replay if isinstance(session, ReplaySession) else None
        if self.replay is not None:
            bridge._told_local = True  # "no API key: the local server" is no news in a replay (nothing connects)
            # The model's audio is heard only in time (1x): see the module docstring.
            forward = bridge._event_handlers[_AUDIO_DELTA]
            replay = self.replay
            bridge._event_handlers[_AUDIO_DELTA] = lambda data: forward(data) if replay.audible else None
            # Only a replaying session answers the live-only kinds (a live one has no such handler here, so they
            # go to the next owner).
            for kind in LIVE_ONLY:
                setattr(self, f"msg_{kind}", self._refused)
            self.msg_played = self._played

    def _refused(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        if content.get("kind") == "mic":
            return  # a microphone left running sends a chunk every 100 ms: one notice is enough (its start)
        assert self.replay is not None  # bound only when replaying
        self.bridge.notice("info", f"This widget replays the cassette {self.replay.name!r}: it has no connection.")

    def _played(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """What the browser played: the playhead's bookkeeping only (a replay never truncates)."""
        item_id = content.get("item_id")
        self.bridge.playhead.report(
            item_id if isinstance(item_id, str) else None,
            int(content.get("samples") or 0),
            final=bool(content.get("final")),
        )

    def msg_replay(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """The replay bar: ``action`` play, pause, seek (``value`` seconds) or speed (``value`` 1, 2, "instant")."""
        replay = self.replay
        if replay is None:
            self.bridge.notice("info", "This widget shows a live session: there is nothing to replay.")
            return
        action, value = content.get("action"), content.get("value")
        if action == "play":
            replay.play()
        elif action == "pause":
            replay.pause()
        elif action == "seek":
            replay.seek(float(value))  # type: ignore[arg-type]  # (a bad value becomes an error notice)
        elif action == "speed":
            replay.speed = value if isinstance(value, str) else float(value)  # type: ignore[arg-type]
        else:
            raise ValueError(f"unknown replay action {action!r}: use play, pause, seek or speed")


def link_replay(widget: RealtimeWidget) -> bool:
    """A widget made for a replay's session (``rtwidget.replay``, or a cell showing ``replay.session``) shows the
    replay: it gets the replay bar, once, and must never connect. False for a live session."""
    session = widget.session
    if not isinstance(session, ReplaySession):
        return False
    player = session.replay
    if player is not None and player.widget is None:
        player.widget = widget
        ReplayLink(player, widget)
    return True


class ReplayLink:
    """Keeps one widget on its replay: the ``replay`` trait, the session after a seek backward, playback flushes."""

    def __init__(self, replay: Replay, widget: RealtimeWidget) -> None:
        self.replay = replay
        self.widget = widget
        self.epoch = 0
        self._ticker: asyncio.TimerHandle | None = None
        self._was_audible = False
        replay.listeners.append(self.changed)
        self.publish()

    def changed(self, old: Session | None) -> None:
        """The replay's session, speed or play state changed (on the I/O thread)."""
        if old is not None:
            self._move(old)
        audible = self.replay.audible
        # Paused, sped up or seeking: the audio queued must stop (at the end, what is queued plays out).
        if self._was_audible and not audible and not self.replay.ended:
            self.widget.bridge._flush_playback("replay")
        self._was_audible = audible
        self.publish()
        self._tick()

    def _move(self, old: Session) -> None:
        from .realtime_widget import _WIDGETS

        widget = self.widget
        widget.bridge._flush_playback("replay")
        widget.bridge.detach()
        _WIDGETS.pop(old, None)
        widget._attach(self.replay.session)
        self.epoch += 1  # each view asks the new bridge for a snapshot (replay.js)
        self._was_audible = False

    def publish(self) -> None:
        """The replay's state to the ``replay`` trait."""
        self.widget.replay = {**self.replay.state(), "epoch": self.epoch}

    def _tick(self) -> None:
        """While playing, the position reaches the trait every POSITION_EVERY_S (on the I/O loop)."""
        session = self.replay.session
        if not session._io.running:
            return  # closed: nothing plays
        if not session._io.in_thread():  # after a seek backward: told on the old session's thread
            session.call_soon(self._tick)
            return
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        loop = session._io.loop
        if self.replay.playing and loop is not None:
            self._ticker = loop.call_later(POSITION_EVERY_S, self._tock)

    def _tock(self) -> None:
        self._ticker = None
        self.publish()
        self._tick()


def replay(cassette: CassetteSource, *, speed: float | str = 1.0, play: bool = True, widget: bool = True) -> Replay:
    """Show a recorded cassette in the widget, offline: the panels fill as they did live, the model's audio plays
    in time at 1x; 2x and ``"instant"`` replay faster without audio. A notebook cell ending in
    ``rtwidget.replay("lesson.cassette")`` shows the widget with its replay bar (play/pause, speed, position).

    Returns the :class:`~rtwidget.session.replaying.Replay`: ``.play()``, ``.pause()``, ``.seek(seconds)``,
    ``.speed``, ``.position``, ``.duration``, ``.wait()``, ``.widget``, and ``.session``, a Session that never
    connects (sends and turns raise ``ReplayOnly``); e.g. ``r = rtwidget.replay(path, speed="instant",
    widget=False); r.wait(); r.session.export_transcript()``. ``play=False`` starts paused at 0; ``widget=False``
    makes no widget (a script).
    """
    from .realtime_widget import RealtimeWidget

    player = Replay(cassette, speed=speed)
    if widget:
        RealtimeWidget(player.session)  # links itself to the replay (link_replay)
    if play:
        player.play()
    return player


__all__ = ["LIVE_ONLY", "ReplayActions", "ReplayLink", "link_replay", "replay"]
