"""The local server's limits over real loopback sockets: message size, appends, and a client that never reads."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import struct
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtwidget.server import LocalServer
from rtwidget.server.input_buffer import MAX_APPEND_BYTES
from rtwidget.server.local_server import MAX_MESSAGE_BYTES, WRITE_LIMIT_BYTES
from tests.support import run, scaled


def test_an_append_over_15_mib_is_an_error_event_and_a_bigger_frame_closes_1009() -> None:
    over = json.dumps(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(MAX_APPEND_BYTES + 2)).decode()}
    )
    assert len(over) < MAX_MESSAGE_BYTES  # within the frame limit: the engine answers it

    async def main() -> tuple[dict[str, Any], int | None, str]:
        async with LocalServer(pace="fast") as server, connect(server.url, max_size=None) as ws:
            await ws.recv()  # session.created
            await ws.send(over)
            answer = json.loads(await asyncio.wait_for(ws.recv(), scaled(10)))
            # A masked text frame's header announcing one byte over the limit: refused on the header alone.
            ws.transport.write(b"\x81\xff" + struct.pack("!Q", MAX_MESSAGE_BYTES + 1) + b"mask" + b"x" * 64)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), scaled(10))
            return answer, ws.close_code, ws.close_reason

    answer, code, reason = run(main())
    assert answer["type"] == "error" and answer["error"]["code"] == "invalid_value"
    assert "15 MiB" in answer["error"]["message"]
    assert code == 1009, reason


def test_a_client_that_never_reads_is_dropped_and_the_others_are_served(caplog: pytest.LogCaptureFixture) -> None:
    text = "word " * 200_000  # 1 MB: each item comes back twice (added, done)
    item = json.dumps(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
        }
    )

    async def main() -> tuple[int, int, int, str]:
        async with LocalServer(pace="fast", send_timeout=0.5) as server:
            sent = 0
            # max_queue=1: the client's library stops reading the socket at once, as a stalled client does.
            async with connect(server.url, max_queue=1, max_size=None) as stalled:
                with contextlib.suppress(ConnectionClosed):
                    for _ in range(500):  # 1 GB of output asked for: far past every buffer on the way
                        await asyncio.wait_for(stalled.send(item), scaled(30))
                        sent += 1
            async with connect(server.url) as other:
                created = json.loads(await other.recv())["type"]
            return sent, server.clients_dropped, server.connections_served, created

    with caplog.at_level(logging.WARNING, logger="rtwidget.server"):
        sent, dropped, served, created = run(main())
    assert sent < 500 and dropped == 1  # the server stopped reading, then dropped it
    (record,) = [r for r in caplog.records if "dropped the connection" in r.getMessage()]
    unsent = record.args[-1]  # type: ignore[index]
    # Memory stayed flat: what waited was the write buffer and the message being sent, not the 1 GB asked for.
    assert 0 < unsent <= WRITE_LIMIT_BYTES + 2 * len(item)
    assert served == 2 and created == "session.created"
    with pytest.raises(ValueError, match="send_timeout must be a positive number"):
        LocalServer(send_timeout=0)
