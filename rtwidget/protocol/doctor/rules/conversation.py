"""Rules about what the conversation holds: text history before a spoken response, a voice change after the
model has spoken."""

from __future__ import annotations

from ...events import Event
from ...server_errors import VOICE_LOCKED_CODE, error_info
from ..check import Check, Json
from ..hint import Hint, Rule
from ..state import field, text
from .responses import creates_response

# Text parts of a message (GA names and the beta "text", which people still send).
TEXT_PARTS = frozenset({"input_text", "output_text", "text"})
# Text messages that make a "text history" without an assistant one (a single typed question is just a question).
HISTORY_MESSAGES = 2


def text_message(event: Json) -> str | None:
    """The role of the text-only message a ``conversation.item.create`` adds, or None."""
    item = event.get("item") if event.get("type") == "conversation.item.create" else None
    content = field(item, "content")
    if field(item, "type") != "message" or not isinstance(content, list) or not content:
        return None
    parts = [field(part, "type") for part in content]
    return text(field(item, "role")) if all(p in TEXT_PARTS for p in parts) else None


class TextHistoryThenResponse(Check):
    """History loaded as text, then a ``response.create`` that would answer in audio."""

    rule = Rule("text-history-then-response", "info", "a spoken response asked for after text history")
    client_types = frozenset({"conversation.item.create", "response.create"})

    def reset(self) -> None:
        super().reset()
        self._history: list[str] = []  # event ids of the text messages created before any audio
        self._assistant = False

    def client_sent(self, event: Json, now: float) -> list[Hint]:
        if self.state.model_spoke or self.state.input_audio:
            return []  # audio in the conversation: the model has its voice
        role = text_message(event)
        if role is not None:
            self._history.append(text(event.get("event_id")) or "")
            self._assistant |= role == "assistant"
            del self._history[:-8]
            return []
        if not creates_response(event) or not (self._assistant or len(self._history) >= HISTORY_MESSAGES):
            return []
        asked = field(event, "response", "output_modalities")
        if asked is not None or "audio" not in self.state.output_modalities:
            return []  # the create says what it wants, or the session answers in text anyway
        eid = text(event.get("event_id")) or "response.create"
        what = (
            f"The conversation so far is text only ({len(self._history)} messages created as text) and {eid} "
            "asks for a spoken answer: after text history the model may answer in text only."
        )
        fix = (
            'To keep its voice, say so in the instructions (e.g. "always answer aloud") or send response.create '
            'with response.output_modalities ["audio"].'
        )
        return self.hint("history", what, fix, [*self._history, eid], now)


class VoiceAfterAudio(Check):
    """A ``session.update`` that changes the voice after the model has produced audio."""

    rule = Rule("voice-after-audio", "warning", "a voice change after the model has spoken")
    server_types = frozenset({"error"})
    client_types = frozenset({"session.update"})
    FIX = (
        "Choose the voice before the first response (Session(voice=...) or the first session.update); a new voice "
        "later needs a new session."
    )

    def client_sent(self, event: Json, now: float) -> list[Hint]:
        voice = field(event, "session", "audio", "output", "voice")
        if event.get("type") != "session.update" or voice is None or not self.state.model_spoke:
            return []
        if voice == self.state.voice:
            return []
        eid = text(event.get("event_id")) or "session.update"
        spoke = self.state.last_audio_item or "an earlier response"
        what = (
            f"{eid} changes the voice to {voice!r} after the model has already spoken ({spoke}): the API refuses "
            f"it with {VOICE_LOCKED_CODE} and the voice stays {self.state.voice or 'as it was'}."
        )
        return self.hint(eid, what, self.FIX, [eid], now)

    def server_received(self, event: Event, now: float) -> list[Hint]:
        info = error_info(event.data) if event.type == "error" else None
        if info is None or info.code != VOICE_LOCKED_CODE:
            return []
        cause = info.event_id or text(field(event.cause, "event_id")) or ""
        if cause in self.state.explained:
            return []
        what = f"The server refused a voice change ({VOICE_LOCKED_CODE}): the model has already spoken with its voice."
        return self.hint(("error", cause), what, self.FIX, [cause, event.event_id], now)
