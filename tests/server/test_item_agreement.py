"""The client's item validator and the local server agree on which content parts each message role takes.

Both read ``rtwidget.protocol.event_types.ROLE_PARTS``; this checks it end to end: for every role and every content
part type, ``validate_item`` on the client accepts the item exactly when the server engine accepts the same
``conversation.item.create``. The one documented exception to the table, assistant ``output_audio`` (only the model
makes assistant audio), is refused by both.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from rtwidget import audio
from rtwidget.errors import ClientEventError
from rtwidget.protocol.event_types import ROLE_PARTS
from rtwidget.protocol.validate import validate_item

from .engine_harness import Harness, tone, types

Json = dict[str, Any]

ROLES = (*ROLE_PARTS, "bogus")
PART_TYPES = ("input_text", "input_audio", "input_image", "output_text", "output_audio", "text", "audio", "bogus")


def message(role: str, part_type: str) -> Json:
    """A message with one part of ``part_type`` carrying every field any part type needs, all well formed."""
    part = {
        "type": part_type,
        "text": "hello",
        "audio": audio.b64encode(tone(200)),
        "transcript": "hello",
        "image_url": "data:image/png;base64,iVBORw0KGgo=",
    }
    return {"type": "message", "role": role, "content": [part]}


def client_accepts(item: Json) -> bool:
    try:
        validate_item(item)
    except ClientEventError:
        return False
    return True


def server_answer(item: Json) -> list[Json]:
    h = Harness()
    h.start()
    return h.send("conversation.item.create", item=item)


def server_accepts(item: Json) -> bool:
    events = server_answer(item)
    if types(events) == ["conversation.item.added", "conversation.item.done"]:
        return True
    (refusal,) = events
    assert refusal["type"] == "error" and refusal["error"]["code"] == "invalid_value", refusal
    return False


@pytest.mark.parametrize(("role", "part_type"), list(itertools.product(ROLES, PART_TYPES)))
def test_client_validator_and_server_agree(role: str, part_type: str) -> None:
    item = message(role, part_type)
    assert client_accepts(item) == server_accepts(item)


def test_both_accept_exactly_the_table_less_assistant_audio() -> None:
    accepted = {(r, p) for r, p in itertools.product(ROLES, PART_TYPES) if server_accepts(message(r, p))}
    table = {(role, part) for role, parts in ROLE_PARTS.items() for part in parts}
    assert accepted == table - {("assistant", "output_audio")}
    assert accepted == {(r, p) for r, p in itertools.product(ROLES, PART_TYPES) if client_accepts(message(r, p))}


def test_assistant_audio_is_refused_by_both_as_model_only() -> None:
    item = message("assistant", "output_audio")
    with pytest.raises(ClientEventError, match="clients cannot create assistant audio"):
        validate_item(item)
    (refusal,) = server_answer(item)
    assert refusal["error"] == {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "message": "Assistant audio cannot be created by the client; use 'output_text'.",
        "param": "item.content[0].type",
        "event_id": None,
    }
