"""What of a conversation a new connection can be given back: the items to create again, and what cannot be.

A reconnect (or a renewal before ``expires_at``) starts a new server session with an empty conversation. The
client replays what it knows as ``conversation.item.create`` items with each role's content types
(:data:`~.event_types.ROLE_PARTS`): user and system words as ``input_text``, the assistant's as ``output_text``
(audio is not replayed: its transcript is), function calls and their outputs as they were. What cannot be
restored is said, never silently dropped: a spoken user turn with no transcript, a call cut off before its
arguments were complete, an item type a client may not create.

An assistant turn the user interrupted (``truncated_at_ms``) is replayed shortened to the part that was heard,
estimated from the transcript in proportion to the audio (the server deletes the transcript of a truncated item,
so the exact words heard are not known): the model must not believe it said what nobody heard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import items as build
from .conversation import Conversation, Item

Json = dict[str, Any]

UNANSWERED = "a function call whose response was cut off before it ended: its tool never ran"


@dataclass
class Replay:
    """The items to create on the new connection, in order, and notes on what was left out or shortened."""

    items: list[Json] = field(default_factory=list)
    #: ``{item_id, role, type, reason}`` for each item that could not be restored.
    not_restored: list[Json] = field(default_factory=list)
    #: ``{item_id, heard_ms, audio_ms}`` for each interrupted assistant turn replayed as far as it was heard.
    shortened: list[Json] = field(default_factory=list)


def replay_of(conversation: Conversation, *, pending_calls: frozenset[str] = frozenset()) -> Replay:
    """The :class:`Replay` of ``conversation``'s default-conversation items (out-of-band lanes are not history).

    A function call with no output in the conversation is replayed only when its ``call_id`` is in
    ``pending_calls`` (its tool runs, and the output will follow); otherwise its response was cut off before it
    ended, its tool never ran, and a call with no output would leave the model waiting for one.
    """
    answered = {item.call_id for item in conversation.items if item.type == "function_call_output"}
    replay = Replay()
    for item in conversation.items:
        unanswered = item.type == "function_call" and item.call_id not in answered | pending_calls
        made = UNANSWERED if unanswered else _replayed(item, replay)
        if isinstance(made, str):
            replay.not_restored.append({"item_id": item.id, "role": item.role, "type": item.type, "reason": made})
        else:
            replay.items.append(made)
    return replay


def _replayed(item: Item, replay: Replay) -> Json | str:
    """The item to create for ``item``, or why it cannot be restored."""
    if item.type == "message":
        return _message(item, replay)
    if item.type == "function_call":
        if item.status not in (None, "completed") or not item.name or not item.call_id:
            return "a function call cut off before its arguments were complete"
        return build.function_call(item.name, item.arguments or "{}", item.call_id, item_id=item.id)
    if item.type == "function_call_output":
        if item.call_id is None or item.output is None:
            return "a function output with no call id or no output"
        return build.function_call_output(item.call_id, item.output, item_id=item.id)
    return f"items of type {item.type!r} cannot be created by a client"


def _message(item: Item, replay: Replay) -> Json | str:
    words = item.text
    if item.role == "assistant" and item.truncated_at_ms is not None:
        words = _heard_part(item, words, replay)
    if not words.strip():
        if item.role == "assistant":
            if item.truncated_at_ms is not None:
                return "an assistant turn interrupted before a whole word of it was heard"
            return "an assistant turn cut off before any of its words arrived"
        if any(part.audio_bytes or part.type.endswith("audio") for part in item.parts) or item.input_audio_ms:
            return "spoken audio with no transcript (input transcription keeps the words of committed turns)"
        return "a message with no text"
    if item.role == "user":
        return build.user_text(words, item_id=item.id)
    if item.role == "system":
        return build.system_text(words, item_id=item.id)
    if item.role == "assistant":
        return build.assistant_text(words, item_id=item.id)
    return f"a message of role {item.role!r}"


def _heard_part(item: Item, words: str, replay: Replay) -> str:
    """The first words of an interrupted assistant turn, in proportion to the audio heard (cut at a word)."""
    heard_ms = float(item.truncated_at_ms or 0)
    audio_ms = item.audio_ms
    share = min(1.0, heard_ms / audio_ms) if audio_ms > 0 else 0.0
    replay.shortened.append({"item_id": item.id, "heard_ms": heard_ms, "audio_ms": round(audio_ms, 1)})
    if share >= 1.0:
        return words
    cut = words[: int(len(words) * share)]
    if len(cut) < len(words) and not words[len(cut) : len(cut) + 1].isspace():
        cut = cut.rsplit(" ", 1)[0] if " " in cut else ""
    return f"{cut.rstrip()}…" if cut.strip() else ""
