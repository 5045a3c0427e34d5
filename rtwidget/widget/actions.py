"""What the browser asks the session to do: talk (microphone chunks, push-to-talk), type, interrupt, report
what was played, connect and disconnect, clear the conversation, start a new session, approve or reject a tool
call that waits for a person, and say hello (a new view wants a snapshot).

One method per browser message ``kind``: ``msg_<kind>(content, buffers)``, found by :meth:`Bridge.handle
<rtwidget.widget.bridge.Bridge.handle>`, which runs it on the session's I/O thread and turns an exception into
an error notice. The session's settings (turn mode, voice, instructions, the config form) are in
:mod:`.settings`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from .. import audio
from ..audio import MIN_COMMIT_MS
from ..session import PUSH_TO_TALK
from ..session.lifecycle import CLOSING
from ..session.reconnect import RECONNECTING

if TYPE_CHECKING:
    from .bridge import Bridge

logger = logging.getLogger("rtwidget.widget")


class BrowserActions:
    """The browser's requests to one bridge's session (every view of the widget shares it)."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.session = bridge.session
        # Push-to-talk: held, and how much audio was appended while held.
        self.ptt_down = False
        self.ptt_ms = 0.0

    def msg_hello(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        bridge = self.bridge
        bridge.flush()  # what is pending goes first, so the snapshot that follows already holds it
        bridge._send(bridge.snapshot(str(content.get("view") or "")))
        if content.get("direct"):  # the page can try the direct channel for its messages (direct.py)
            bridge.offer_direct()

    def msg_direct_ready(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        # The page's switch to the direct channel (direct.py): every comm message it sent before this one has
        # been handled (they are handled in order), so it may now send over the socket. Answered on the comm.
        n = content.get("n")
        if isinstance(n, str) and 0 < len(n) <= 64:
            self.bridge._send({"kind": "direct_ready", "n": n})

    def msg_mic(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        played = content.get("played")  # a playback report riding with the chunk (one message, not two)
        if isinstance(played, dict):
            try:
                self.msg_played({**played, "final": False}, [])
            except (TypeError, ValueError):  # a bad report must not cost the chunk it rides with
                logger.debug("rtwidget: a malformed played report on a mic chunk", exc_info=True)
        if not buffers or not self.session.connected:
            return
        if self.bridge._trait("turn_mode") == PUSH_TO_TALK and not self.ptt_down:
            return  # push-to-talk: only audio captured while the button is held counts
        pcm = bytes(buffers[0])
        ms = len(pcm) / audio.BYTES_PER_MS
        self.session.append_audio(pcm)
        self.bridge.counters["audio_in_ms"] += int(ms)
        if self.ptt_down:
            self.ptt_ms += ms

    def not_connected(self) -> bool:
        """True (and the user told what to do) when there is no connection to talk over."""
        if self.session.connected:
            return False
        if self.session.state == RECONNECTING:
            self.bridge.notice("warning", "Reconnecting: try again once the connection is back.")
        else:
            self.bridge.notice("warning", "Not connected: press Connect first.")
        return True

    def msg_ptt(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        if self.not_connected():
            return
        if content.get("down"):
            if self.session.response_active or self.bridge.playhead.unplayed():
                self.interrupt()  # speaking over the model: it stops, and remembers only what was heard
            self.session.clear_audio()
            self.ptt_down, self.ptt_ms = True, 0.0
            return
        if not self.ptt_down:
            return
        self.ptt_down = False
        if self.ptt_ms < MIN_COMMIT_MS:
            self.session.clear_audio()
            self.bridge.notice(
                "warning", f"Hold push-to-talk a little longer: the API needs at least {MIN_COMMIT_MS} ms of audio."
            )
            return
        self.session.commit_audio()
        self.session.respond()

    def msg_text(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        text = str(content.get("text") or "").strip()
        if not text:
            return
        state = self.session.state
        if state == RECONNECTING:  # the session queues it, to send once reconnected
            self.session.send_text(text)
            self.bridge.notice("info", "Reconnecting: your message goes out once the connection is back.")
        elif self.session.connected:
            self.session.send_text(text)
        elif state == CLOSING:
            self.bridge.notice("warning", "The session is closing: press Connect, then send your message again.")
        else:  # idle, closed or connecting: connect first (or wait for the connect under way), then send
            self.after_connect(lambda: self.session.send_text(text), "your message was not sent")

    def after_connect(self, then: Callable[[], object], unsent: str) -> None:
        """Connect (or join the connect under way), then run ``then()`` on the I/O thread once the session is
        open; if the connect fails, the error notice says why and a second one what was ``unsent``."""
        future = self.bridge.connect()
        if future is None:  # connected meanwhile
            then()
            return

        def opened(done: Future[Any]) -> None:
            if done.cancelled() or done.exception() is not None:
                self.bridge.notice("warning", f"Could not connect, so {unsent}.")
                return
            self.session.call_soon(self.noted, then)

        future.add_done_callback(opened)

    def noted(self, fn: Callable[[], object]) -> None:
        """Run ``fn()``; an exception becomes an error notice (as :meth:`Bridge.handle` does for messages)."""
        try:
            fn()
        except Exception as exc:
            logger.debug("rtwidget: widget action failed", exc_info=True)
            self.bridge.notice("error", str(exc))

    def msg_clear(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """Delete every item of the conversation on the server (``conversation.item.delete`` each); the panels
        drop them as the server confirms (``conversation.item.deleted``)."""
        if self.not_connected():
            return
        if self.session.response_active:
            self.bridge.notice("warning", "A reply is in progress: wait for it to finish (or Interrupt), then clear.")
            return
        ids = [item.id for item in self.session.conversation]
        if not ids:
            self.bridge.notice("info", "The conversation is already empty.")
            return
        for item_id in ids:
            self.session.send({"type": "conversation.item.delete", "item_id": item_id})

    def msg_new_session(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """Close this connection and connect a fresh server session (the panels show its empty conversation)."""
        if self.session.state == CLOSING:
            self.bridge.notice("warning", "The session is closing: press Connect once it is closed.")
            return
        if not self.session.connected and self.session.state != RECONNECTING:
            self.bridge.connect()  # nothing to close: a fresh server session is just a connect
            return
        self.session.stop().add_done_callback(lambda _closed: self.bridge.connect())

    def msg_interrupt(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        self.interrupt()

    def interrupt(self) -> None:
        """Cancel the active response, flush playback, truncate at the played position (when the report comes)."""
        if self.session.connected and self.session.response_active:
            self.session.cancel()
        self.bridge._flush_playback("interrupt")

    def msg_played(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        item_id = content.get("item_id")
        samples = int(content.get("samples") or 0)
        final = bool(content.get("final"))
        cut = self.bridge.playhead.report(item_id if isinstance(item_id, str) else None, samples, final=final)
        if isinstance(item_id, str):  # what was heard, for the doctor (a barge-in, a truncate owed)
            self.session._doctor_playback(item_id, samples / audio.SAMPLES_PER_MS, self.bridge.playhead.unplayed())
            self._audible(item_id, samples)
        if cut is not None and self.session.connected:
            self.session.truncate(cut.item_id, cut.audio_end_ms)

    def _audible(self, item_id: str, samples: int) -> None:
        """The turn's first audible sample (its latency): its response view and the latency summary afresh."""
        if (response_id := self.session._metrics.audible(item_id, samples)) is not None:
            self.bridge.batch.responses([response_id])
            self.bridge.batch.schedule()
            self.bridge.publish_usage()

    def msg_connect(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        self.bridge.connect()

    def msg_disconnect(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        self.session.stop()  # microphone and playback stop in the browser when CLOSED arrives

    def msg_approve(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """The Approve button of a call waiting for a person: ``session.approve(call_id)``."""
        self.session.approve(str(content.get("call_id") or ""))

    def msg_reject(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """The Reject button (with the reason typed beside it, if any): ``session.reject(call_id, reason)``."""
        reason = content.get("reason")
        reason = reason.strip() if isinstance(reason, str) else ""
        self.session.reject(str(content.get("call_id") or ""), reason=reason[:2000] or None)

    def msg_mic_state(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        error = content.get("error")
        if error:
            logger.info("rtwidget: microphone unavailable: %s", error)
