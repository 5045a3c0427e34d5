"""The input audio buffer: ``input_audio_buffer.append`` / ``.commit`` / ``.clear``, and the turn detection on it.

With ``server_vad`` (or ``semantic_vad``, mapped onto the same energy VAD) the buffer commits turns by itself:
``speech_started`` (barge-in cancels the active response), ``speech_stopped``, the commit, and a response when
``create_response`` says so. ``audio_start_ms`` / ``audio_end_ms`` are on the cumulative timeline of all audio
appended; the user item holds exactly the audio between the two. ``idle_timeout_ms`` commits the (silent) buffer
and responds when nobody spoke that long after the last response's audio ended.

Limits, as the real API has them: one append decodes to at most 15 MiB (:data:`MAX_APPEND_BYTES`), and the
buffer holds at most 15 minutes of audio (:data:`MAX_BUFFER_MS`, 43.2 MB of 24 kHz PCM16; OpenAI documents no
figure, this one bounds a connection's memory). Past either the append is refused with an ``error`` event and
nothing of it is kept.
"""

from __future__ import annotations

from rtwidget import audio
from rtwidget.protocol.pcm import BYTES_PER_MS, BYTES_PER_SAMPLE, MIN_COMMIT_MS, SAMPLES_PER_MS

from .api_errors import ApiError, missing, want_str
from .brain import Brain, text_tokens
from .config import Json
from .items import Conversation, Item
from .outbox import Outbox
from .response_stream import WORDS
from .responses import Responses
from .session_state import SEMANTIC_SILENCE_MS, SessionState
from .usage import input_audio_tokens
from .vad import EnergyVad, VadEvent

__all__ = ["MAX_APPEND_BYTES", "MAX_BUFFER_MS", "InputBuffer"]

# The real API's cap on the decoded audio of one input_audio_buffer.append.
MAX_APPEND_BYTES = 15 * 1024 * 1024
# The most audio the input buffer holds (15 minutes); an append past it is refused.
MAX_BUFFER_MS = 15 * 60 * 1000

# While nobody speaks the buffer keeps the prefix padding plus this much, so speech_started can reach back.
_IDLE_KEEP_MS = 1000


def _too_large(size: int) -> ApiError:
    return ApiError(
        f"Invalid 'audio': the audio decodes to {size} bytes, over the 15 MiB limit ({MAX_APPEND_BYTES} bytes) "
        "of one input_audio_buffer.append. Send it in smaller appends.",
        "invalid_value",
        "audio",
    )


class InputBuffer:
    """Input audio not yet committed, its place on the connection's audio timeline, and the VAD watching it."""

    def __init__(
        self,
        outbox: Outbox,
        session: SessionState,
        conversation: Conversation,
        responses: Responses,
        brain: Brain,
    ) -> None:
        self._outbox = outbox
        self._session = session
        self._conversation = conversation
        self._responses = responses
        self._brain = brain
        self.vad = EnergyVad()
        # PCM16 bytes, and the timeline position (samples) of their first sample.
        self._buffer = bytearray()
        self._buffer_start = 0
        self._total_samples = 0
        # The user item the speech in progress will become, and where that speech started (prefix included).
        self._speech_item_id: str | None = None
        self._speech_start = 0
        self.follow_session(was_on=True)

    def follow_session(self, *, was_on: bool) -> None:
        """Apply the session's turn detection to the VAD (after ``session.update``; ``was_on``: it was on before)."""
        td = self._session.turn_detection
        if td is not None and not was_on:
            self.vad.reset()
        if td is None and was_on:
            self._speech_item_id = None
        if td is None:
            return
        if td["type"] == "server_vad":
            self.vad.configure(td["threshold"], td["prefix_padding_ms"], td["silence_duration_ms"])
        else:
            self.vad.configure(0.5, 300, SEMANTIC_SILENCE_MS[td["eagerness"]])

    # -- client events --------------------------------------------------------------------------------

    def on_append(self, event: Json) -> None:
        if "audio" not in event:
            raise missing("audio")
        encoded = want_str(event["audio"], "audio")
        # The decoded size, known from the (strict) base64's length: an append too large is never decoded.
        size = len(encoded) // 4 * 3 - encoded[-2:].count("=")
        if size > MAX_APPEND_BYTES:
            raise _too_large(size)
        try:
            pcm = audio.b64decode(encoded)
        except ValueError:
            raise ApiError("Invalid 'audio': not valid base64.", "invalid_value", "audio") from None
        if len(pcm) % BYTES_PER_SAMPLE:
            raise ApiError("Invalid 'audio': PCM16 audio must have an even number of bytes.", "invalid_value", "audio")
        if len(self._buffer) + len(pcm) > MAX_BUFFER_MS * BYTES_PER_MS:
            raise ApiError(
                f"Input audio buffer is full: it holds {audio.duration_ms(len(self._buffer)):.0f}ms of audio and "
                f"this append of {audio.duration_ms(len(pcm)):.0f}ms would take it past the limit of "
                f"{MAX_BUFFER_MS}ms (15 minutes). Commit or clear the buffer first.",
                "input_audio_buffer_full",
                "audio",
            )
        self.append(pcm)

    def on_commit(self, event: Json) -> None:
        held_ms = audio.duration_ms(len(self._buffer))
        if held_ms < MIN_COMMIT_MS:
            raise ApiError(
                "Error committing input audio buffer: buffer too small. "
                f"Expected at least {MIN_COMMIT_MS}ms of audio, but "
                f"buffer only has {held_ms:.2f}ms of audio.",
                "input_audio_buffer_commit_empty",
            )
        pcm = bytes(self._buffer)
        item_id = self._speech_item_id or self._outbox.new_id("item_")
        self._speech_item_id = None
        self._consume(self._total_samples)
        self.vad.reset()
        self._responses.idle_since = None
        self._commit(pcm, item_id)

    def on_clear(self, event: Json) -> None:
        self._consume(self._total_samples)
        self.vad.reset()
        self._speech_item_id = None
        self._outbox.emit({"type": "input_audio_buffer.cleared"})

    # -- audio and the VAD ----------------------------------------------------------------------------

    def append(self, pcm: bytes) -> None:
        """Add PCM16 audio; with turn detection on, the VAD's events are handled as they come."""
        self._buffer += pcm
        self._total_samples += len(pcm) // BYTES_PER_SAMPLE
        events = self.vad.feed(pcm)
        td = self._session.turn_detection
        if td is None:
            return
        for ev in events:
            if ev.kind == "speech_started":
                self._speech_started(ev, td)
            else:
                self._speech_stopped(ev, td)
        if not self.vad.in_speech:
            keep = (td.get("prefix_padding_ms", 300) + _IDLE_KEEP_MS) * SAMPLES_PER_MS
            drop = self._total_samples - keep - self._buffer_start
            if drop > 0:
                self._consume(self._buffer_start + drop)

    def _speech_started(self, ev: VadEvent, td: Json) -> None:
        self._responses.idle_since = None
        self._speech_item_id = self._outbox.new_id("item_")
        # The user item's audio starts where speech_started says (the idle buffer keeps the prefix).
        self._speech_start = ev.audio_ms * SAMPLES_PER_MS
        self._consume(self._speech_start)
        self._outbox.emit(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": ev.audio_ms,
                "item_id": self._speech_item_id,
            }
        )
        active = self._responses.active
        if td.get("interrupt_response", True) and active is not None:
            self._responses.cancel(active, "turn_detected")

    def _speech_stopped(self, ev: VadEvent, td: Json) -> None:
        item_id = self._speech_item_id or self._outbox.new_id("item_")
        self._speech_item_id = None
        self._outbox.emit(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": ev.audio_ms, "item_id": item_id}
        )
        start = max(self._buffer_start, self._speech_start) - self._buffer_start
        end = min(self._total_samples, ev.audio_ms * SAMPLES_PER_MS) - self._buffer_start
        pcm = bytes(self._buffer[start * BYTES_PER_SAMPLE : end * BYTES_PER_SAMPLE])
        self._consume(self._buffer_start + end)
        self._commit(pcm, item_id)
        if td.get("create_response", True) and self._responses.active is None:
            self._responses.start({})

    def _consume(self, end_sample: int) -> None:
        """Drop the buffered audio before timeline position ``end_sample``."""
        cut = max(0, end_sample - self._buffer_start)
        del self._buffer[: cut * BYTES_PER_SAMPLE]
        self._buffer_start += cut

    # -- committing -----------------------------------------------------------------------------------

    def _commit(self, pcm: bytes, item_id: str) -> None:
        item = Item(
            {
                "id": item_id,
                "type": "message",
                "object": "realtime.item",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            },
            audio={0: bytearray(pcm)},
        )
        heard = self._brain.recognize(pcm)
        if heard:
            item.heard[0] = heard
        previous = self._conversation.last_id
        self._outbox.emit({"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id})
        self._conversation.added(item, self._conversation.insert(item))
        if self._session.transcribing:
            self._transcribe(item, pcm)

    def _transcribe(self, item: Item, pcm: bytes) -> None:
        transcript = self._brain.transcribe(pcm)
        item.data["content"][0]["transcript"] = transcript
        where = {"item_id": item.id, "content_index": 0}
        for piece in WORDS.findall(transcript):
            self._outbox.emit({"type": "conversation.item.input_audio_transcription.delta", **where, "delta": piece})
        audio_tokens = input_audio_tokens(len(pcm))
        out_tokens = text_tokens(transcript)
        self._outbox.emit(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                **where,
                "transcript": transcript,
                "usage": {
                    "type": "tokens",
                    "input_tokens": audio_tokens,
                    "output_tokens": out_tokens,
                    "total_tokens": audio_tokens + out_tokens,
                    "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
                },
            }
        )

    # -- the idle timeout -----------------------------------------------------------------------------

    def idle_deadline(self) -> float | None:
        """When ``idle_timeout_ms`` runs out (a clock value), or None when it is off or not counting."""
        td = self._session.turn_detection
        anchor = self._responses.idle_since
        if anchor is None or td is None or not td.get("idle_timeout_ms") or self._responses.active is not None:
            return None
        return anchor + float(td["idle_timeout_ms"]) / 1000

    def idle_timeout(self) -> None:
        """``input_audio_buffer.timeout_triggered``: commit what the buffer holds and respond."""
        self._responses.idle_since = None
        if self.vad.in_speech:
            return
        item_id = self._outbox.new_id("item_")
        self._outbox.emit(
            {
                "type": "input_audio_buffer.timeout_triggered",
                "audio_start_ms": self._buffer_start // SAMPLES_PER_MS,
                "audio_end_ms": self._total_samples // SAMPLES_PER_MS,
                "item_id": item_id,
            }
        )
        pcm = bytes(self._buffer)
        self._consume(self._total_samples)
        self.vad.reset()
        self._commit(pcm, item_id)
        self._responses.start({})
