"""Heavy engine work (speech synthesis) runs off the server's event loop: one long reply stalls nobody else."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from websockets.asyncio.client import connect

from rtwidget.server import LocalServer
from tests.support import run, scaled

from .engine_harness import tone


class GatedVoice:
    """A voice that holds its synthesis until the test opens the gate (as a 50 KB reply holds espeak-ng)."""

    name = "gated"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.gate = threading.Event()
        self.finished = threading.Event()
        self.threads: list[str] = []

    def synthesize(self, text: str, *, voice: str = "alloy", speed: float = 1.0) -> bytes:
        self.threads.append(threading.current_thread().name)
        self.started.set()
        self.gate.wait(scaled(10))  # a server that synthesizes on its loop is stuck here until this gives up
        self.finished.set()
        return tone(200)


def test_a_long_reply_being_synthesized_never_stalls_another_connections_session_created() -> None:
    voice = GatedVoice()
    text = "word " * 10_000  # 50 KB
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}

    async def main() -> tuple[bool, list[str]]:
        async with LocalServer(pace="fast", voice=voice) as server, connect(server.url, max_size=None) as first:
            await first.recv()  # session.created
            await first.send(json.dumps({"type": "conversation.item.create", "item": item}))
            await first.send(json.dumps({"type": "response.create"}))
            await asyncio.to_thread(voice.started.wait, scaled(10))
            async with connect(server.url) as second:
                created = json.loads(await asyncio.wait_for(second.recv(), scaled(20)))["type"]
                synthesis_was_running = not voice.finished.is_set()
            voice.gate.set()
            seen: list[str] = []
            while not seen or seen[-1] != "response.done":
                event: dict[str, Any] = json.loads(await asyncio.wait_for(first.recv(), scaled(20)))
                seen.append(event["type"])
            assert created == "session.created"
            return synthesis_was_running, seen

    synthesis_was_running, seen = run(main())
    assert synthesis_was_running  # the second session.created came while the first reply was being synthesized
    assert "response.output_audio.delta" in seen and seen.index("response.output_audio.done") < len(seen) - 1
    assert voice.threads and all(name.startswith("rtwidget-server-engine") for name in voice.threads)
