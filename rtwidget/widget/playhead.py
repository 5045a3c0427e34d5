"""Barge-in bookkeeping in one place: what audio went to the browser, what it played, and where to cut.

The kernel forwards each assistant audio delta the moment it arrives; the browser plays it and reports, per
item, the samples actually played. On barge-in (the Interrupt button, push-to-talk over the model, or the
server hearing the user speak) the kernel flushes the browser's playback. The browser answers with one final
report, and that report decides the ``conversation.item.truncate``, so the model remembers only what the user
heard. Nothing here does I/O: the bridge asks, and sends what the answer says.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..audio import SAMPLES_PER_MS


@dataclass(frozen=True)
class Truncate:
    """Cut ``item_id`` at ``audio_end_ms``: the audio after it was never heard."""

    item_id: str
    audio_end_ms: float


class Playhead:
    """Per assistant item: samples forwarded to the browser and samples it reported played; the flushed items.

    Samples are 24 kHz PCM16 frames (what the browser counts), so ``samples / SAMPLES_PER_MS`` is milliseconds.
    """

    def __init__(self) -> None:
        self.forwarded: dict[str, int] = {}
        self.played: dict[str, int] = {}
        # Items whose playback was flushed: deltas still in flight for them are not played.
        self.flushed: set[str] = set()
        # A flush went out and its final ``played`` report has not come back yet.
        self.awaiting_final = False

    def forward(self, item_id: str, samples: int) -> bool:
        """Audio of ``item_id`` arrived: True when it goes to the browser, False when the item was flushed."""
        if item_id in self.flushed:
            return False
        self.forwarded[item_id] = self.forwarded.get(item_id, 0) + samples
        return True

    def unplayed(self) -> bool:
        """Is any audio forwarded that the browser has not reported played (so it may be playing now)?"""
        return any(n > self.played.get(item_id, 0) for item_id, n in self.forwarded.items())

    def flush(self) -> None:
        """The browser is told to drop its queued audio: everything forwarded so far is silenced."""
        self.awaiting_final = True
        self.flushed.update(self.forwarded)

    def report(self, item_id: str | None, samples: int, *, final: bool) -> Truncate | None:
        """The browser played ``samples`` of ``item_id`` so far (cumulative); returns the truncate due, if any.

        Only the final report after a flush can truncate, and only when the item had audio not yet played; the
        cut lies inside the audio received. If playback had already finished there is nothing to cut.
        """
        if item_id is not None:
            self.played[item_id] = max(self.played.get(item_id, 0), samples)
        if not final or not self.awaiting_final:
            return None
        self.awaiting_final = False
        if item_id is None:
            return None
        received = self.forwarded.get(item_id, 0)
        # Playback of this item is over: nothing of it is unplayed any more.
        self.forwarded[item_id] = self.played[item_id] = samples
        if samples >= received:  # everything received was heard (or more was reported than sent)
            return None
        return Truncate(item_id, samples / SAMPLES_PER_MS)

    def reset(self) -> None:
        """The session closed: the browser stopped playback and forgot its queue."""
        self.forwarded.clear()
        self.played.clear()
        self.flushed.clear()
        self.awaiting_final = False
