"""What both conformance tests (GA and beta, each against the official ``openai`` client) share: the strict frame
check, the read loop, the tools, the speech, and the turns that read the same in both dialects."""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pydantic

from rtwidget import audio
from rtwidget.server.voice import default_voice
from tests.support import scaled

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    }
]


def extras(value: Any, path: str = "") -> list[str]:
    """Dotted paths of every undeclared field in a validated SDK model tree."""
    found: list[str] = []
    if isinstance(value, pydantic.BaseModel):
        for key in value.model_extra or {}:
            found.append(f"{path}.{key}".lstrip("."))
        for name in type(value).model_fields:
            found += extras(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found += extras(v, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            found += extras(v, f"{path}.{k}")
    return found


class Checked:
    """Validates each raw server frame against one SDK event union and remembers which types were covered.

    ``session_extras``: the dotted fields ``session.created`` / ``session.updated`` may carry undeclared (the real
    server sends them; the SDK's session type lacks them); ``check_session`` validates that session further.
    """

    def __init__(
        self,
        adapter: pydantic.TypeAdapter[Any],
        session_extras: set[str],
        check_session: Callable[[dict[str, Any]], None] | None = None,
        dialect: str = "",
    ) -> None:
        self.adapter = adapter
        self.session_extras = session_extras
        self.check_session = check_session
        self.dialect = dialect
        self.events: list[dict[str, Any]] = []
        self.models: Counter[str] = Counter()

    def check(self, raw: bytes | str) -> dict[str, Any]:
        model = self.adapter.validate_json(raw)
        data: dict[str, Any] = json.loads(raw)
        assert model.type == data["type"]
        bad = extras(model)
        if data["type"] in ("session.created", "session.updated"):
            bad = [b for b in bad if b not in self.session_extras]
            if self.check_session is not None:
                self.check_session(data["session"])
        assert bad == [], f"{data['type']}: fields the SDK's {self.dialect}types do not declare: {bad}"
        self.events.append(data)
        self.models[type(model).__name__] += 1
        return data


async def until(conn: Any, checked: Checked, type_: str, timeout: float = scaled(10.0)) -> dict[str, Any]:
    """Read frames (each checked, and parsed by the SDK's own parser too) until one of ``type_``."""

    async def loop() -> dict[str, Any]:
        while True:
            raw = await conn.recv_bytes()
            conn.parse_event(raw)  # the SDK's own parser must accept it too
            event = checked.check(raw)
            if event["type"] == type_:
                return event

    return await asyncio.wait_for(loop(), timeout)


def speech_then_silence() -> bytes:
    pcm = default_voice().synthesize("Hello there, what is the weather like today?", voice="alloy")
    silence = bytes(audio.BYTES_PER_SECOND)  # 1 s
    return silence[: audio.BYTES_PER_SECOND // 2] + pcm + silence


async def audio_turn(conn: Any, checked: Checked) -> None:
    """Server VAD commits the spoken turn, transcribes it and answers."""
    for chunk in audio.chunks(speech_then_silence(), 20):
        await conn.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
    await until(conn, checked, "conversation.item.input_audio_transcription.completed")
    done = await until(conn, checked, "response.done")
    assert "seconds of audio" in done["response"]["output"][0]["content"][0]["transcript"]


async def tool_round_trip(conn: Any, checked: Checked, output_item_event: str) -> None:
    """A message naming the tool, its call, the output (acknowledged by ``output_item_event``), the spoken answer."""
    await conn.conversation.item.create(
        item={
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "get_weather city=Paris days=2"}],
        }
    )
    await conn.response.create()
    done = await until(conn, checked, "response.done")
    call = done["response"]["output"][0]
    assert call["type"] == "function_call"
    assert json.loads(call["arguments"]) == {"city": "Paris", "days": 2}
    await conn.conversation.item.create(
        item={"type": "function_call_output", "call_id": call["call_id"], "output": '{"temp_c": 21}'}
    )
    await until(conn, checked, output_item_event)
    await conn.response.create()
    done = await until(conn, checked, "response.done")
    assert done["response"]["output"][0]["content"][0]["transcript"] == 'get_weather returned: {"temp_c": 21}.'


async def clear_delete_and_a_refused_cancel(conn: Any, checked: Checked, item_id: str) -> dict[str, Any]:
    """Buffer clear, delete, and an error (cancel with nothing running); returns the error event."""
    await conn.input_audio_buffer.clear()
    await until(conn, checked, "input_audio_buffer.cleared")
    await conn.conversation.item.delete(item_id=item_id)
    await until(conn, checked, "conversation.item.deleted")
    await conn.response.cancel(event_id="cancel_1")
    error = await until(conn, checked, "error")
    assert error["error"]["code"] == "response_cancel_not_active"
    return error
