"""The widget's media: the Record button, the download buttons and an item's audio played on click.

One owner of browser messages (see :meth:`Bridge.handle <rtwidget.widget.bridge.Bridge.handle>`, on the
session's I/O thread):

- ``record``: start ``session.record(path)`` (a cassette named ``rtwidget-YYYYmmdd-HHMMSS.cassette`` in the
  kernel's working directory) or ``session.stop_recording()``. The ``recording`` trait follows the session's
  ``rtwidget.recording`` events, so a recording started or stopped from a cell shows too.
- ``download``: the transcript (Markdown), the stereo WAV or the log (JSONL), made by the session's exports (which
  redact every text) and sent back as one ``file`` message with the bytes as its buffer.
- ``play_item``: an item's audio as it was heard (``session.item_audio.get(id).heard_pcm``) as one
  ``item_audio`` message, or a notice saying why there is none.
- ``item_played``: the browser's report of an item's samples played (kept in :attr:`MediaActions.item_playback`).

Writing a cassette or an export takes a while for a long session: that work runs on a short-lived thread, and
only its result is handed back to the I/O thread, so the live audio never waits for a file.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import audio
from ..session.local_events import RECORDING

if TYPE_CHECKING:
    from .bridge import Bridge

logger = logging.getLogger("rtwidget.widget")

# What the download buttons offer: name suffix, MIME type, and the cell that writes it when it is too big.
DOWNLOADS = {
    "transcript": ("transcript.md", "text/markdown", "session.export_transcript(path)"),
    "wav": ("audio.wav", "audio/wav", "session.export_wav(path)"),
    "log": ("events.jsonl", "application/x-ndjson", "session.export_events(path)"),
}
# A comm message much larger than this is slow to send and to save: export from a cell instead.
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024


def stamp() -> str:
    """The local time as ``YYYYmmdd-HHMMSS``, for default file names."""
    return time.strftime("%Y%m%d-%H%M%S")


class MediaActions:
    """Record, download and item playback for one bridge (every view of the widget shares it)."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.session = bridge.session
        #: The browser's last report of an item played on click: ``{item_id, samples, final}`` (None before one).
        self.item_playback: dict[str, Any] | None = None
        bridge._event_handlers[RECORDING] = self._on_recording
        path = self.session.recording
        if path is not None:  # a widget shown for a session that is recording already
            self._on_recording({"on": True, "path": str(path)})

    # ------------------------------------------------------------------------------------------ record

    def _on_recording(self, data: dict[str, Any]) -> None:
        """``rtwidget.recording``: the ``recording`` trait shows the file's name (not the folder: traits are saved
        with the notebook)."""
        if data.get("on"):
            name = Path(str(data.get("path") or "")).name
            self.bridge._set(recording={"on": True, "path": name, "started_at": time.time()})
        else:
            self.bridge._set(recording={})

    def msg_record(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """The Record button: start a recording, or stop the one running (``on`` given: only that way)."""
        want = content.get("on")
        running = self.session.recording is not None
        if want is None:
            want = not running
        if bool(want) == running:
            return  # a second click that crossed the trait's change: already as asked
        if want:
            self.session.record(Path.cwd() / f"rtwidget-{stamp()}.cassette")
            return

        def stopped(path: Path | None) -> None:
            if path is not None:
                self.bridge.notice("info", f"Recording saved: {path.name} (read it with Cassette.open).")

        self._off_loop(self.session.stop_recording, stopped, "Stopping the recording failed")

    # ------------------------------------------------------------------------------------------ download

    def msg_download(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """A download button: the export as a ``file`` message, or a notice when there is nothing to export."""
        what = content.get("what")
        if what not in DOWNLOADS:
            raise ValueError(f"cannot download {what!r}: choose one of {', '.join(DOWNLOADS)}")
        empty = self._nothing_to(str(what))
        if empty:
            self.bridge.notice("info", empty)
            return
        suffix, mime, _ = DOWNLOADS[str(what)]
        name = f"rtwidget-{stamp()}-{suffix}"
        self._off_loop(
            lambda: self._export(str(what)),
            lambda data: self._send_file(str(what), name, mime, data),
            f"Could not export the {what}",
        )

    def _nothing_to(self, what: str) -> str:
        """Why there is nothing to download (empty when there is something)."""
        if what == "transcript" and not self.session.conversation:
            return "Nothing to download yet: the conversation is empty."
        if what == "wav" and not len(self.session.item_audio):
            return "No audio to download yet: nobody has spoken in this session (or its audio was dropped)."
        if what == "log" and not self.session.log:
            return "Nothing to download yet: the event log is empty."
        return ""

    def _export(self, what: str) -> bytes:
        """The export's bytes (on a worker thread: the exports hop to the I/O thread for what they read there)."""
        if what == "transcript":
            return self.session.export_transcript().encode("utf-8")
        if what == "wav":
            return self.session.wav_bytes()
        return self.session.events_jsonl().encode("utf-8")

    def _send_file(self, what: str, name: str, mime: str, data: bytes) -> None:
        if len(data) > MAX_DOWNLOAD_BYTES:
            self.bridge.notice(
                "warning",
                f"The {what} is {len(data) // 2**20} MB, too big to download through the widget: "
                f"write it from a cell with {DOWNLOADS[what][2]}.",
            )
            return
        self.bridge._send({"kind": "file", "what": what, "name": name, "mime": mime}, [data])

    # ------------------------------------------------------------------------------------------ item audio

    def msg_play_item(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """A click on an item: its audio as heard (an assistant's cut where it was truncated), or why none."""
        item_id = str(content.get("item_id") or "")
        clip = self.session.item_audio.get(item_id)
        heard = b"" if clip is None else clip.heard_pcm  # a slice (a copy) when the item was cut: taken once
        if clip is None or not heard:
            self.bridge.notice("info", self._no_audio(item_id, cut=clip is not None))
            return
        self.bridge._send(
            {
                "kind": "item_audio",
                "item_id": item_id,
                "role": clip.role,
                "samples": len(clip.pcm) // audio.BYTES_PER_SAMPLE,
                "heard_samples": len(heard) // audio.BYTES_PER_SAMPLE,
            },
            [heard],
        )

    def _no_audio(self, item_id: str, *, cut: bool) -> str:
        """Why the item has no audio to play."""
        if cut:
            return "This item's audio was cut before any of it was heard: there is nothing to play."
        item = self.session.conversation_state.get(item_id)
        if item is None:
            return "This item is no longer in the conversation: its audio is not kept."
        if not item.audio_ms and not any("audio" in p.type for p in item.parts):
            return "This item is text only: it has no audio to play."
        store = self.session.item_audio
        if store.dropped_ms:
            return (
                f"This item's audio was dropped: the kernel keeps only the last {store.keep_s:g} s of audio "
                "(session.audio_keep_s)."
            )
        return "No audio was kept for this item."

    def msg_item_played(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """The browser's report of an item played on click (it never moves the live playhead)."""
        samples = content.get("samples")
        if not isinstance(samples, (int, float)) or isinstance(samples, bool):
            raise ValueError(f"item_played needs a number of samples, not {samples!r}")
        self.item_playback = {
            "item_id": str(content.get("item_id") or ""),
            "samples": int(samples),
            "final": bool(content.get("final")),
        }

    # ------------------------------------------------------------------------------------------ threads

    def _off_loop(self, work: Callable[[], Any], then: Callable[[Any], None], failed: str) -> None:
        """Run ``work()`` on its own thread, then ``then(result)`` on the I/O thread; a failure becomes an error
        notice starting with ``failed``."""

        def run() -> None:
            try:
                result = work()
            except Exception as exc:
                logger.debug("rtwidget: %s", failed, exc_info=True)
                self.session.call_soon(self.bridge.notice, "error", f"{failed}: {exc}")
                return
            self.session.call_soon(then, result)

        threading.Thread(target=run, name="rtwidget-media", daemon=True).start()


__all__ = ["DOWNLOADS", "MediaActions"]
