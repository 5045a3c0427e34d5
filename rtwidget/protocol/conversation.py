"""Conversation state: server events folded into ordered items.

Items enter the default conversation in ``previous_item_id`` order; text, transcripts and function-call
arguments are assembled from deltas; the audio duration of each item is counted from the bytes seen;
truncation and deletion are applied. Responses created with ``conversation: "none"`` (out-of-band) keep
their output items in a lane of their own, matched by response id and metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .events import Event
from .pcm import BYTES_PER_MS

Json = dict[str, Any]

# Highest content part index taken from the server (real items have one or two parts). A delta naming a part
# beyond it is ignored and counted in ``Conversation.refused_indexes``: 167 bytes on the wire must not allocate
# a million parts.
MAX_CONTENT_INDEX = 63


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _obj(value: Any) -> Json | None:
    return value if isinstance(value, dict) else None


def _index(value: Any) -> int | None:
    """A content index the server may use, or None (not an int, negative, or beyond MAX_CONTENT_INDEX)."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_CONTENT_INDEX:
        return value
    return None


def b64_decoded_len(text: str) -> int:
    """Bytes that base64 ``text`` decodes to, without decoding it."""
    n = len(text)
    if n == 0:
        return 0
    pad = 2 if text.endswith("==") else 1 if text.endswith("=") else 0
    return n * 3 // 4 - pad


@dataclass
class Part:
    """One content part: its type and the text, transcript and audio bytes seen for it."""

    type: str
    text: str = ""
    transcript: str = ""
    audio_bytes: int = 0


@dataclass
class Item:
    """One conversation item as far as the events have told."""

    id: str
    type: str
    role: str | None = None
    status: str | None = None
    parts: list[Part] = field(default_factory=list)
    name: str | None = None
    call_id: str | None = None
    arguments: str = ""
    output: str | None = None
    response_id: str | None = None
    previous_item_id: str | None = None
    # Audio of a user item measured from VAD or commit bookkeeping, in ms; None when unknown.
    input_audio_ms: float | None = None
    # Set by conversation.item.truncated: the audio the user actually heard, in ms.
    truncated_at_ms: int | None = None

    @property
    def text(self) -> str:
        """The item's words: text parts, else transcripts (for audio parts)."""
        return "".join(p.text or p.transcript for p in self.parts)

    @property
    def audio_ms(self) -> float:
        """Audio duration of the item in ms (output audio received, or input audio committed)."""
        received = sum(p.audio_bytes for p in self.parts) / BYTES_PER_MS
        if received:
            return received
        return self.input_audio_ms or 0.0

    def part(self, index: int, ptype: str = "") -> Part:
        """The content part at ``index``, created (with ``ptype``) if the events have not shown it yet.

        ``index`` must be within 0..MAX_CONTENT_INDEX (callers check it with ``_index``).
        """
        while len(self.parts) <= index:
            self.parts.append(Part(ptype))
        if ptype and not self.parts[index].type:
            self.parts[index].type = ptype
        return self.parts[index]

    def update_from(self, data: Json) -> None:
        """Take the fields a server item dict carries (never discarding assembled text)."""
        # Fields of the wrong type are ignored: readers of an Item may rely on its annotations.
        self.type = _str(data.get("type")) or self.type
        self.role = _str(data.get("role")) or self.role
        self.status = _str(data.get("status")) or self.status
        self.name = _str(data.get("name")) or self.name
        self.call_id = _str(data.get("call_id")) or self.call_id
        if isinstance(data.get("arguments"), str) and data["arguments"]:
            self.arguments = data["arguments"]
        if isinstance(data.get("output"), str):
            self.output = data["output"]
        content_list = data.get("content")
        for index, content in enumerate(content_list if isinstance(content_list, list) else ()):
            if index > MAX_CONTENT_INDEX:
                break
            if not isinstance(content, dict):
                continue
            part = self.part(index, str(content.get("type") or ""))
            for attr in ("text", "transcript"):
                value = content.get(attr)
                if isinstance(value, str) and value:
                    setattr(part, attr, value)
            audio = content.get("audio")
            if isinstance(audio, str) and audio and not part.audio_bytes:
                part.audio_bytes = b64_decoded_len(audio)

    def summary(self) -> Json:
        """A plain dict for display and export."""
        return {
            "id": self.id,
            "type": self.type,
            "role": self.role,
            "status": self.status,
            "text": self.text,
            "name": self.name,
            "call_id": self.call_id,
            "arguments": self.arguments or None,
            "output": self.output,
            "audio_ms": round(self.audio_ms, 1),
            "truncated_at_ms": self.truncated_at_ms,
        }


@dataclass
class ResponseLane:
    """A response and its output items: the default conversation's or an out-of-band one."""

    id: str
    out_of_band: bool
    metadata: Json | None = None
    status: str = "in_progress"
    status_details: Json | None = None
    usage: Json | None = None
    item_ids: list[str] = field(default_factory=list)


class Conversation:
    """Ordered items of the default conversation, plus out-of-band response lanes.

    Feed every server event to :meth:`apply`. Read :attr:`items` (in order), :meth:`get`, :attr:`responses`.
    """

    def __init__(self) -> None:
        # Default-conversation item ids in conversation order.
        self._order: list[str] = []
        # Every item seen, default conversation or out-of-band, by id (item ids are unique per session).
        self._items: dict[str, Item] = {}
        # Every response seen, by id.
        self.responses: dict[str, ResponseLane] = {}
        # Input audio of user items that VAD has measured but not yet committed: item id -> start ms.
        self._speech_start: dict[str, int] = {}
        # Server events ignored for a content index out of range (see MAX_CONTENT_INDEX).
        self.refused_indexes = 0

    @property
    def items(self) -> list[Item]:
        """Items of the default conversation, in order."""
        return [self._items[i] for i in self._order]

    def get(self, item_id: str) -> Item | None:
        """Any item seen (default conversation or out-of-band) by id."""
        return self._items.get(item_id)

    def out_of_band(self) -> list[ResponseLane]:
        """Out-of-band responses, oldest first."""
        return [r for r in self.responses.values() if r.out_of_band]

    def __len__(self) -> int:
        return len(self._order)

    def response_items(self, response_id: str) -> list[Item]:
        """The output items of a response (default conversation or out-of-band), in output order."""
        lane = self.responses.get(response_id)
        found = [self._items.get(i) for i in (lane.item_ids if lane else ())]
        return [i for i in found if i is not None]

    def response_text(self, response_id: str) -> str:
        """What a response said: the text (or audio transcript) of its message items."""
        return "".join(i.text for i in self.response_items(response_id) if i.type == "message")

    # ------------------------------------------------------------------------------------------ folding

    def apply(self, event: Event) -> None:
        """Fold one server event into the state. Unrelated events are ignored."""
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            handler(self, event.data)

    def _item(self, data: Json) -> Item:
        item_id = str(data.get("id") or "")
        item = self._items.get(item_id)
        if item is None:
            item = self._items[item_id] = Item(item_id, str(data.get("type") or "message"))
        item.update_from(data)
        return item

    def _insert(self, item: Item, previous_item_id: Any, *, first: bool = False) -> None:
        """Place ``item`` after ``previous_item_id``; ``first`` (the server said null: no predecessor, as for an
        item created with ``previous_item_id: "root"``) or ``"root"`` puts it at the start; else at the end."""
        if item.id in self._order:
            return
        item.previous_item_id = previous_item_id if isinstance(previous_item_id, str) else None
        if previous_item_id == "root" or first:
            self._order.insert(0, item.id)
        elif isinstance(previous_item_id, str) and previous_item_id in self._order:
            self._order.insert(self._order.index(previous_item_id) + 1, item.id)
        else:
            self._order.append(item.id)

    def _on_item_added(self, data: Json) -> None:
        raw = data.get("item")
        if isinstance(raw, dict):
            item = self._item(raw)
            # Absent: no word on the place (appended). Null: the server says it has no predecessor.
            first = "previous_item_id" in data and data["previous_item_id"] is None
            self._insert(item, data.get("previous_item_id"), first=first)

    def _on_item_done(self, data: Json) -> None:
        self._on_item_added(data)

    def _on_item_retrieved(self, data: Json) -> None:
        raw = data.get("item")
        if isinstance(raw, dict):
            self._item(raw)

    def _on_item_deleted(self, data: Json) -> None:
        item_id = _str(data.get("item_id"))  # an id of another type names no item (and may not even hash)
        if item_id is None:
            return
        if item_id in self._order:
            self._order.remove(item_id)
        self._items.pop(item_id, None)

    def _on_item_truncated(self, data: Json) -> None:
        item = self._items.get(str(data.get("item_id")))
        end = data.get("audio_end_ms") or 0
        if item is not None and isinstance(end, (int, float)) and math.isfinite(end):
            item.truncated_at_ms = max(0, int(end))
            # The server drops the transcript of a truncated item; keep ours but mark what was heard.

    def _on_response_created(self, data: Json) -> None:
        response = data.get("response") or {}
        rid = str(response.get("id") or "")
        out_of_band = "conversation_id" in response and response["conversation_id"] is None
        self.responses[rid] = ResponseLane(rid, out_of_band, _obj(response.get("metadata")))

    def _on_response_done(self, data: Json) -> None:
        response = data.get("response") or {}
        rid = str(response.get("id") or "")
        lane = self.responses.get(rid)
        if lane is None:
            out_of_band = "conversation_id" in response and response["conversation_id"] is None
            lane = self.responses[rid] = ResponseLane(rid, out_of_band, _obj(response.get("metadata")))
        lane.status = str(response.get("status") or "completed")
        lane.status_details = _obj(response.get("status_details"))
        lane.usage = _obj(response.get("usage"))
        for raw in response.get("output") or ():
            if isinstance(raw, dict) and raw.get("id"):
                self._output_item(rid, raw)

    def _output_item(self, response_id: str, raw: Json) -> Item:
        item = self._item(raw)
        item.response_id = response_id
        lane = self.responses.get(response_id)
        if lane is not None and item.id not in lane.item_ids:
            lane.item_ids.append(item.id)
        return item

    def _on_output_item_added(self, data: Json) -> None:
        raw = data.get("item")
        if isinstance(raw, dict):
            self._output_item(str(data.get("response_id") or ""), raw)

    def _on_output_item_done(self, data: Json) -> None:
        raw = data.get("item")
        if not isinstance(raw, dict):
            return
        item = self._output_item(str(data.get("response_id") or ""), raw)
        lane = self.responses.get(item.response_id or "")
        # A server that never sends conversation.item.added still gets its items into the conversation.
        if (lane is None or not lane.out_of_band) and item.id not in self._order:
            self._order.append(item.id)

    def _part_of(self, data: Json, ptype: str = "") -> Part | None:
        item = self._items.get(str(data.get("item_id")))
        if item is None:
            return None
        index = _index(data.get("content_index"))
        if index is None:
            self.refused_indexes += 1
            return None
        return item.part(index, ptype)

    def _on_content_part(self, data: Json) -> None:
        part = data.get("part") or {}
        target = self._part_of(data, str(part.get("type") or ""))
        if target is not None:
            for attr in ("text", "transcript"):
                if isinstance(part.get(attr), str) and part[attr]:
                    setattr(target, attr, part[attr])

    def _on_text_delta(self, data: Json) -> None:
        part = self._part_of(data, "output_text")
        if part is not None:
            part.text += str(data.get("delta") or "")

    def _on_text_done(self, data: Json) -> None:
        part = self._part_of(data, "output_text")
        if part is not None and isinstance(data.get("text"), str):
            part.text = data["text"]

    def _on_audio_delta(self, data: Json) -> None:
        part = self._part_of(data, "output_audio")
        if part is not None:
            part.audio_bytes += b64_decoded_len(str(data.get("delta") or ""))

    def _on_transcript_delta(self, data: Json) -> None:
        part = self._part_of(data, "output_audio")
        if part is not None:
            part.transcript += str(data.get("delta") or "")

    def _on_transcript_done(self, data: Json) -> None:
        part = self._part_of(data, "output_audio")
        if part is not None and isinstance(data.get("transcript"), str):
            part.transcript = data["transcript"]

    def _on_arguments_delta(self, data: Json) -> None:
        item = self._items.get(str(data.get("item_id")))
        if item is not None:
            item.arguments += str(data.get("delta") or "")

    def _on_arguments_done(self, data: Json) -> None:
        item = self._items.get(str(data.get("item_id")))
        if item is not None and isinstance(data.get("arguments"), str):
            item.arguments = data["arguments"]
            item.name = _str(data.get("name")) or item.name

    def _on_input_transcription_delta(self, data: Json) -> None:
        part = self._part_of(data, "input_audio")
        if part is not None:
            part.transcript += str(data.get("delta") or "")

    def _on_input_transcription_completed(self, data: Json) -> None:
        part = self._part_of(data, "input_audio")
        if part is not None and isinstance(data.get("transcript"), str):
            part.transcript = data["transcript"]

    def _on_speech_started(self, data: Json) -> None:
        if isinstance(data.get("item_id"), str) and isinstance(data.get("audio_start_ms"), int):
            self._speech_start[data["item_id"]] = data["audio_start_ms"]

    def _on_speech_stopped(self, data: Json) -> None:
        item_id = data.get("item_id")
        start = self._speech_start.pop(str(item_id), None)
        if start is not None and isinstance(data.get("audio_end_ms"), int):
            self.set_input_audio(str(item_id), data["audio_end_ms"] - start)

    def set_input_audio(self, item_id: str, ms: float) -> None:
        """Record the input audio duration of a user item (known to the client from VAD or its commit)."""
        item = self._items.get(item_id)
        if item is None:
            item = self._items[item_id] = Item(item_id, "message", role="user")
        item.input_audio_ms = float(ms)


_HANDLERS = {
    "conversation.item.added": Conversation._on_item_added,
    "conversation.item.created": Conversation._on_item_added,
    "conversation.item.done": Conversation._on_item_done,
    "conversation.item.retrieved": Conversation._on_item_retrieved,
    "conversation.item.deleted": Conversation._on_item_deleted,
    "conversation.item.truncated": Conversation._on_item_truncated,
    "conversation.item.input_audio_transcription.delta": Conversation._on_input_transcription_delta,
    "conversation.item.input_audio_transcription.completed": Conversation._on_input_transcription_completed,
    "input_audio_buffer.speech_started": Conversation._on_speech_started,
    "input_audio_buffer.speech_stopped": Conversation._on_speech_stopped,
    "response.created": Conversation._on_response_created,
    "response.done": Conversation._on_response_done,
    "response.output_item.added": Conversation._on_output_item_added,
    "response.output_item.done": Conversation._on_output_item_done,
    "response.content_part.added": Conversation._on_content_part,
    "response.content_part.done": Conversation._on_content_part,
    "response.output_text.delta": Conversation._on_text_delta,
    "response.output_text.done": Conversation._on_text_done,
    "response.output_audio.delta": Conversation._on_audio_delta,
    "response.output_audio_transcript.delta": Conversation._on_transcript_delta,
    "response.output_audio_transcript.done": Conversation._on_transcript_done,
    "response.function_call_arguments.delta": Conversation._on_arguments_delta,
    "response.function_call_arguments.done": Conversation._on_arguments_done,
}
