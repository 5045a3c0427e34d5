"""Rules about spoken turns: committed audio that nothing answers, a barge-in without truncation, a microphone
the server's VAD never hears."""

from __future__ import annotations

from ...events import Event
from ..check import Check, Json, Timers
from ..hint import Hint, Rule
from ..state import text
from .responses import GRACE_S, creates_response, in_conversation, who_responds

# Input louder than this (RMS, dBFS) counts as speech for vad-never-triggers (quiet rooms sit near -60).
SPEECH_DBFS = -35.0
# Speech-level audio (ms, in total) with no speech_started before the doctor says the VAD never triggers.
UNHEARD_MS = 3000.0
# A quiet run (ms) longer than this is a pause: the speech-level count starts again.
PAUSE_MS = 2000.0
# How long (s) a client has after speech_started to send its conversation.item.truncate.
TRUNCATE_GRACE_S = 2.0


class CommittedNoResponse(Check):
    """A committed input buffer while nothing creates a response, and no ``response.create`` after it."""

    rule = Rule("committed-no-response", "warning", "committed audio and no response.create")
    server_types = frozenset({"response.created", "input_audio_buffer.committed"})
    client_types = frozenset({"response.create"})

    def reset(self) -> None:
        super().reset()
        self.timers = Timers()

    def client_sent(self, event: Json, now: float) -> list[Hint]:
        if creates_response(event):
            self.timers.cancel()
        return []

    def server_received(self, event: Event, now: float) -> list[Hint]:
        if event.type == "response.created" and in_conversation(event):
            self.timers.cancel()
        elif event.type == "input_audio_buffer.committed" and not self.state.auto_responds():
            if self.state.pending(now):
                return []  # push-to-talk done right: commit and response.create went out together
            item = text(event.get("item_id")) or event.event_id or "?"
            why = who_responds(self.state.turn_detection)
            self.timers.arm(item, now + GRACE_S, (why, [event.event_id or ""]))
        return []

    def tick(self, now: float) -> list[Hint]:
        hints: list[Hint] = []
        for item, (why, event_ids) in self.timers.expired(now):
            what = (
                f"The user's audio was committed as {item}, but no response.create followed and {why}, so "
                "the model will not answer this turn."
            )
            other = "or turn create_response back on" if "create_response" in why else "push-to-talk asks each time"
            fix = f'Send {{"type": "response.create"}} after each commit ({other}).'
            hints += self.hint(item, what, fix, event_ids, now)
        return hints

    def deadline(self) -> float | None:
        return self.timers.next()


class BargeInNoTruncate(Check):
    """``speech_started`` while assistant audio was playing, and no ``conversation.item.truncate`` for it."""

    rule = Rule("barge-in-no-truncate", "warning", "a barge-in with no conversation.item.truncate")
    server_types = frozenset({"input_audio_buffer.speech_started"})
    client_types = frozenset({"conversation.item.truncate"})

    def reset(self) -> None:
        super().reset()
        self.timers = Timers()
        # When each item was last truncated: a speech_started handler truncates before the doctor hears of it.
        self._truncated: dict[str, float] = {}

    def client_sent(self, event: Json, now: float) -> list[Hint]:
        if event.get("type") == "conversation.item.truncate":
            item = text(event.get("item_id"))
            self.timers.cancel(item)
            if item:
                self._truncated = {item: now}  # only the latest matters
        return []

    def server_received(self, event: Event, now: float) -> list[Hint]:  # speech_started (server_types)
        # The listener's reports when there are any (the widget plays the audio); else the estimate.
        playing = [item for item, report in self.state.played.items() if report.playing]
        item = (playing[-1] if playing else None) if self.state.played else self.state.last_audio_item
        where = self.state.played_ms(item, now) if item else None
        just_cut = item in self._truncated and now - self._truncated[item] <= TRUNCATE_GRACE_S
        if item and where is not None and where[1] and not just_cut:
            heard, total = where[0], self.state.audio[item].ms if item in self.state.audio else where[0]
            self.timers.arm(item, now + TRUNCATE_GRACE_S, (heard, total, [event.event_id or ""]))
        return []

    def tick(self, now: float) -> list[Hint]:
        hints: list[Hint] = []
        for item, (heard, total, event_ids) in self.timers.expired(now):
            what = (
                f"The user started speaking while assistant audio {item} was still playing (about {heard:.0f} ms "
                f"of {total:.0f} ms heard) and no conversation.item.truncate followed: the model believes it said "
                "things the user never heard."
            )
            fix = (
                f"Stop playback and send conversation.item.truncate with item_id {item}, content_index 0 and "
                "audio_end_ms = the audio actually played (session.truncate(item_id, played_ms) does it)."
            )
            hints += self.hint(item, what, fix, event_ids, now)
        return hints

    def deadline(self) -> float | None:
        return self.timers.next()


class VadNeverTriggers(Check):
    """Under server VAD, seconds of speech-level microphone audio (short gaps between words allowed) and no
    ``speech_started``."""

    rule = Rule("vad-never-triggers", "warning", "microphone speech the server's VAD never detects")
    server_types = frozenset({"input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"})

    def reset(self) -> None:
        super().reset()
        self._loud_ms = 0.0  # speech-level audio since the last pause, while the server hears no speech
        self._quiet_ms = 0.0  # the quiet run going on now
        self._speaking = False  # between speech_started and speech_stopped: the VAD works

    def input_level(self, dbfs: float, duration_ms: float, now: float) -> list[Hint]:
        if self.state.vad_type() != "server_vad" or self._speaking or not 0 < duration_ms < UNHEARD_MS:
            return []
        if not dbfs > SPEECH_DBFS:
            self._quiet_ms += duration_ms
            if self._quiet_ms > PAUSE_MS:  # a real pause, not a gap between words: start counting again
                self._loud_ms = 0.0
            return []
        self._quiet_ms = 0.0
        self._loud_ms += duration_ms
        if self._loud_ms <= UNHEARD_MS:
            return []
        threshold = self.state.turn_detection.get("threshold") if self.state.turn_detection else None
        setting = f"server_vad (threshold {threshold})" if isinstance(threshold, (int, float)) else "server_vad"
        what = (
            f"The microphone sent {self._loud_ms / 1000:.1f} s of audio louder than {SPEECH_DBFS:.0f} dBFS and "
            f"{setting} has not detected speech once: the model never hears the user."
        )
        fix = (
            "Lower audio.input.turn_detection.threshold (the default is 0.5) or raise the microphone gain, and "
            "check that the audio sent is 24 kHz mono PCM16."
        )
        return self.hint("vad", what, fix, (), now)

    def server_received(self, event: Event, now: float) -> list[Hint]:
        if event.type in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"):
            self._speaking = event.type == "input_audio_buffer.speech_started"
            self._loud_ms = 0.0
        return []
