"""Conversation items: the server's :class:`Item` (wire form plus the audio it keeps), client items parsed and
validated, and the :class:`Conversation` with its client events (create, retrieve, truncate, delete).

Which content parts a message role takes comes from :data:`rtwidget.protocol.event_types.ROLE_PARTS`, the table
the client's validator reads too, so the two cannot disagree. The one deliberate difference from that table:
clients cannot create assistant ``output_audio`` (the client validator refuses it as well).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import Any, Protocol

from rtwidget import audio
from rtwidget.protocol.event_types import ROLE_PARTS
from rtwidget.protocol.pcm import BYTES_PER_MS, BYTES_PER_SAMPLE

from .api_errors import ApiError, check_keys, missing, type_error, value_error, want_dict, want_int, want_str
from .config import Json
from .outbox import Outbox

__all__ = ["Conversation", "Item", "NewId", "parse_item"]

_MESSAGE_KEYS = ("id", "type", "object", "status", "role", "content")


class NewId(Protocol):
    """Makes fresh ids (:meth:`.outbox.Outbox.new_id`)."""

    def __call__(self, prefix: str, length: int = 21) -> str: ...


@dataclass
class Item:
    """A conversation item: its wire form (no audio bytes) plus the audio and text the server keeps."""

    data: Json
    # content index -> PCM16 audio of that input_audio / output_audio part
    audio: dict[int, bytearray] = field(default_factory=dict)
    # content index -> text known for an audio part (client transcript or recogniser), for the brain
    heard: dict[int, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.data["id"])

    def audio_ms(self) -> int:
        return sum(round(audio.duration_ms(len(pcm))) for pcm in self.audio.values())

    def wire(self, *, with_audio: bool = False) -> Json:
        data = copy.deepcopy(self.data)
        if with_audio:
            for index, pcm in self.audio.items():
                data["content"][index]["audio"] = audio.b64encode(bytes(pcm))
        return data

    def brain_view(self) -> Json:
        """The item as the brain reads it: input audio as its duration (and its transcript when known)."""
        data = copy.deepcopy(self.data)
        for index, pcm in self.audio.items():
            part = data["content"][index]
            if part.get("type") == "input_audio":
                view: Json = {"type": "input_audio", "audio_ms": round(audio.duration_ms(len(pcm)))}
                if index in self.heard:
                    view["transcript"] = self.heard[index]
                data["content"][index] = view
        return data


# ------------------------------------------------------------------------------------------ parsing


def parse_item(raw: Any, path: str, new_id: NewId, taken: Container[str] = ()) -> Item:
    """A client item (``conversation.item.create``'s ``item`` or one of ``response.create``'s ``input``).

    Raises :class:`ApiError` naming the field. ``taken``: ids already in the conversation (refused).
    """
    item = want_dict(raw, path)
    itype = item.get("type")
    if itype is None:
        raise missing(f"{path}.type")
    data: Json = {"id": item.get("id") or new_id("item_"), "type": itype, "object": "realtime.item"}
    if "id" in item:
        want_str(item["id"], f"{path}.id")
        if item["id"] in taken:
            raise ApiError(
                f"Item with id '{item['id']}' already exists in the conversation.", "invalid_value", f"{path}.id"
            )
    parse = _PARSERS.get(itype) if isinstance(itype, str) else None
    if parse is None:
        raise value_error(f"{path}.type", itype, list(_PARSERS))
    stored = Item(data)
    parse(item, path, stored, new_id)
    return stored


def _message(item: Json, path: str, stored: Item, new_id: NewId) -> None:
    check_keys(item, _MESSAGE_KEYS, path)
    role = item.get("role")
    if role is None:
        raise missing(f"{path}.role")
    if not isinstance(role, str) or role not in ROLE_PARTS:
        raise value_error(f"{path}.role", role, sorted(ROLE_PARTS))
    if "content" not in item:
        raise missing(f"{path}.content")
    if not isinstance(item["content"], list):
        raise type_error(f"{path}.content", "an array", item["content"])
    content: list[Json] = []
    for i, part in enumerate(item["content"]):
        content.append(_content_part(part, f"{path}.content[{i}]", role, stored, len(content)))
    stored.data.update({"status": "completed", "role": role, "content": content})


def _content_part(raw: Any, path: str, role: str, stored: Item, index: int) -> Json:
    part = want_dict(raw, path)
    ptype = part.get("type")
    if ptype is None:
        raise missing(f"{path}.type")
    allowed = ROLE_PARTS[role]
    if not isinstance(ptype, str) or ptype not in allowed:
        raise value_error(f"{path}.type", ptype, sorted(allowed))
    if ptype == "output_audio":  # the deliberate exception to ROLE_PARTS: only the model makes assistant audio
        raise ApiError(
            "Assistant audio cannot be created by the client; use 'output_text'.", "invalid_value", f"{path}.type"
        )
    if ptype == "input_audio":
        return _audio_part(part, path, stored, index)
    if ptype == "input_image":
        if "image_url" not in part:
            raise missing(f"{path}.image_url")
        url = want_str(part["image_url"], f"{path}.image_url")
        return {"type": "input_image", "image_url": url, "detail": part.get("detail", "auto")}
    if "text" not in part:  # input_text, output_text
        raise missing(f"{path}.text")
    return {"type": ptype, "text": want_str(part["text"], f"{path}.text")}


def _audio_part(part: Json, path: str, stored: Item, index: int) -> Json:
    if "audio" not in part:
        raise missing(f"{path}.audio")
    try:
        pcm = audio.b64decode(want_str(part["audio"], f"{path}.audio"))
    except ValueError:
        raise ApiError("Invalid 'audio': not valid base64.", "invalid_value", f"{path}.audio") from None
    transcript = part.get("transcript")
    if transcript is not None:
        want_str(transcript, f"{path}.transcript")
        stored.heard[index] = transcript
    stored.audio[index] = bytearray(pcm[: len(pcm) - len(pcm) % BYTES_PER_SAMPLE])  # whole samples only
    return {"type": "input_audio", "transcript": transcript}


def _require(item: Json, path: str, keys: tuple[str, ...]) -> None:
    for key in keys:
        if key not in item:
            raise missing(f"{path}.{key}")


def _function_call(item: Json, path: str, stored: Item, new_id: NewId) -> None:
    _require(item, path, ("name", "arguments"))
    stored.data.update(
        {
            "status": "completed",
            "name": want_str(item["name"], f"{path}.name"),
            "call_id": want_str(item.get("call_id") or new_id("call_", 16), f"{path}.call_id"),
            "arguments": want_str(item["arguments"], f"{path}.arguments"),
        }
    )


def _function_call_output(item: Json, path: str, stored: Item, new_id: NewId) -> None:
    _require(item, path, ("call_id", "output"))
    stored.data.update(
        {
            "status": "completed",
            "call_id": want_str(item["call_id"], f"{path}.call_id"),
            "output": want_str(item["output"], f"{path}.output"),
        }
    )


def _mcp_approval_response(item: Json, path: str, stored: Item, new_id: NewId) -> None:
    _require(item, path, ("approval_request_id", "approve"))
    stored.data.update({"approval_request_id": item["approval_request_id"], "approve": bool(item["approve"])})


# Item type -> its parser, in the order the error message lists the supported types.
_PARSERS: dict[str, Callable[[Json, str, Item, NewId], None]] = {
    "message": _message,
    "function_call": _function_call,
    "function_call_output": _function_call_output,
    "mcp_approval_response": _mcp_approval_response,
}


# ------------------------------------------------------------------------------------------ the conversation


class Conversation:
    """The default conversation: its items in order, and the client events that change or read it."""

    def __init__(self, outbox: Outbox, conversation_id: str) -> None:
        self._outbox = outbox
        self.id = conversation_id
        self.items: list[Item] = []
        self._by_id: dict[str, Item] = {}

    def __contains__(self, item: Item) -> bool:
        return item.id in self._by_id

    @property
    def last_id(self) -> str | None:
        """The newest item's id (None when empty)."""
        return self.items[-1].id if self.items else None

    def parse(self, raw: Any, path: str, *, for_input: bool = False) -> Item:
        """A client item; one for ``response.create``'s ``input`` may reuse an id of the conversation."""
        return parse_item(raw, path, self._outbox.new_id, () if for_input else self._by_id)

    def insert(self, item: Item, position: int | None = None) -> str | None:
        """Put ``item`` in the conversation (at the end by default); return the previous item's id."""
        if position is None:
            position = len(self.items)
        self.items.insert(position, item)
        self._by_id[item.id] = item
        return self.items[position - 1].id if position > 0 else None

    def find(self, item_id: Any, path: str = "item_id") -> Item:
        """The item with this id, or ``item_not_found`` naming ``path``."""
        if item_id is None:
            raise missing(path)
        item = self._by_id.get(want_str(item_id, path))
        if item is None:
            raise ApiError(f"Item with item_id '{item_id}' not found.", "item_not_found", path)
        return item

    def previous_id(self, item: Item) -> str | None:
        index = self.items.index(item)
        return self.items[index - 1].id if index > 0 else None

    def added(self, item: Item, previous: str | None) -> None:
        """Announce an item the client or the input buffer put in: ``conversation.item.added``, then ``.done``."""
        self._outbox.emit({"type": "conversation.item.added", "previous_item_id": previous, "item": item.wire()})
        self._outbox.emit({"type": "conversation.item.done", "previous_item_id": previous, "item": item.wire()})

    # -- client events ----------------------------------------------------------------------------------

    def on_create(self, event: Json) -> None:
        if "item" not in event:
            raise missing("item")
        check_keys(event, ("type", "event_id", "item", "previous_item_id"), "")
        position = None
        prev = event.get("previous_item_id")
        if prev is not None:
            position = 0 if prev == "root" else self.items.index(self.find(prev, "previous_item_id")) + 1
        item = self.parse(event["item"], "item")
        self.added(item, self.insert(item, position))

    def on_retrieve(self, event: Json) -> None:
        item = self.find(event.get("item_id"))
        self._outbox.emit({"type": "conversation.item.retrieved", "item": item.wire(with_audio=True)})

    def on_delete(self, event: Json) -> None:
        item = self.find(event.get("item_id"))
        self.items.remove(item)
        del self._by_id[item.id]
        self._outbox.emit({"type": "conversation.item.deleted", "item_id": item.id})

    def on_truncate(self, event: Json) -> None:
        """Cut an assistant item's audio at ``audio_end_ms`` (what was played) and drop its transcript."""
        item = self.find(event.get("item_id"))
        index = want_int(event.get("content_index", 0), "content_index", 0)
        if "audio_end_ms" not in event:
            raise missing("audio_end_ms")
        end_ms = want_int(event["audio_end_ms"], "audio_end_ms", 0)
        content = item.data.get("content") or []
        if (
            item.data.get("role") != "assistant"
            or index >= len(content)
            or content[index].get("type") != "output_audio"
            or index not in item.audio
        ):
            raise ApiError("Only model output audio messages can be truncated", "invalid_value", "item_id")
        pcm = item.audio[index]
        length_ms = round(audio.duration_ms(len(pcm)))
        if end_ms > length_ms:
            raise ApiError(
                f"Audio content of {length_ms}ms is already shorter than {end_ms}ms", "invalid_value", "audio_end_ms"
            )
        del pcm[end_ms * BYTES_PER_MS :]
        content[index].pop("transcript", None)
        self._outbox.emit(
            {"type": "conversation.item.truncated", "item_id": item.id, "content_index": index, "audio_end_ms": end_ms}
        )
