"""Helpers of the Conversation tests: fold wire events into a Conversation."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from rtwidget.protocol.conversation import Conversation
from rtwidget.protocol.events import Codec

from . import wire_events as S

Json = dict[str, Any]


def fold(events: Iterable[Json], conv: Conversation | None = None, dialect: str = "ga") -> Conversation:
    conv = conv if conv is not None else Conversation()
    codec = Codec(dialect)
    for event in events:
        conv.apply(codec.decode(json.dumps(event)))
    return conv


def ids(conv: Conversation) -> list[str]:
    return [item.id for item in conv.items]


def user_turn(item_id: str, text: str, previous_item_id: str | None) -> list[Json]:
    item = S.user_text_item(item_id, text)
    return [
        S.item_added(item, previous_item_id=previous_item_id),
        S.item_done(item, previous_item_id=previous_item_id),
    ]
