"""The engine's test harness: a fake clock and voice, and a Harness that drives one Engine with JSON."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from rtwidget import audio
from rtwidget.protocol.pcm import BYTES_PER_MS, SAMPLE_RATE, SAMPLES_PER_MS
from rtwidget.server.engine import Engine, EngineConfig

T0 = 1_700_000_000.0
TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        },
    },
    {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}},
]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class FakeVoice:
    """100 ms of a loud tone per word: fast, deterministic, and loud enough for the VAD."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float]] = []

    def synthesize(self, text: str, *, voice: str = "alloy", speed: float = 1.0) -> bytes:
        self.calls.append((text, voice, speed))
        return tone(100 * len(text.split()))


def tone(ms: int, amplitude: float = 0.3) -> bytes:
    t = np.arange(ms * SAMPLES_PER_MS) / SAMPLE_RATE
    return (np.sin(2 * np.pi * 220 * t) * amplitude * 32767).astype("<i2").tobytes()


def silence(ms: int) -> bytes:
    return bytes(ms * BYTES_PER_MS)


class Harness:
    def __init__(self, pace: str = "fast", **kwargs: Any) -> None:
        self.clock = Clock()
        self.voice = FakeVoice()
        engine_kwargs = {k: kwargs.pop(k) for k in ("dialect", "envelope") if k in kwargs}
        self.engine = Engine(
            EngineConfig(pace=pace, seed=7, **kwargs),  # type: ignore[arg-type]
            clock=self.clock,
            voice=self.voice,
            **engine_kwargs,
        )

    def start(self) -> list[dict[str, Any]]:
        self.engine.start()
        return self.drain()

    def drain(self) -> list[dict[str, Any]]:
        return [json.loads(m) for m in self.engine.data_to_send()]

    def send(self, type_: str, **fields: Any) -> list[dict[str, Any]]:
        self.engine.receive_text(json.dumps({"type": type_, **fields}))
        return self.drain()

    def raw(self, text: str) -> list[dict[str, Any]]:
        self.engine.receive_text(text)
        return self.drain()

    def advance(self, seconds: float) -> list[dict[str, Any]]:
        self.clock.now += seconds
        self.engine.advance(self.clock.now)
        return self.drain()

    def say(self, text: str) -> list[dict[str, Any]]:
        content = [{"type": "input_text", "text": text}]
        return self.send("conversation.item.create", item={"type": "message", "role": "user", "content": content})

    def append(self, pcm: bytes, chunk_ms: int = 20) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in audio.chunks(pcm, chunk_ms):
            out += self.send("input_audio_buffer.append", audio=base64.b64encode(chunk).decode())
        return out


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def error(events: list[dict[str, Any]]) -> dict[str, Any]:
    (event,) = [e for e in events if e["type"] == "error"]
    return dict(event["error"])
