"""The doctor stays quiet on rtwidget's own high-level API: ask() with tools (auto-run, approved, rejected,
reply=False), send_text, send_audio, load_history, respond_out_of_band, update(voice=...) before audio, cancel
and truncate, under server VAD, push-to-talk and the beta dialect, against the local server. Any hint here is a
false one: the API already does the right thing.

The silence rules (a missing response.create, a missing truncate) fire on the doctor's timer; instead of waiting
for it, the test asks the doctor on the I/O loop what a tick a minute later would raise.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest

from rtwidget.server import LocalServer
from tests.support import open_session, run, until


def tone(seconds: float) -> np.ndarray[Any, np.dtype[np.int16]]:
    n = int(24000 * seconds)
    return (np.sin(np.arange(n) * 2 * np.pi * 220 / 24000) * 8000).astype(np.int16)


def register(session: Any) -> None:
    @session.tool
    def get_time(zone: str = "UTC") -> str:
        """The time in a zone."""
        return f"12:00 {zone}"

    @session.tool(approve=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        return f"deleted {path}"

    @session.tool(approve=True, reply=False)
    def drop_table(name: str = "t") -> str:
        """Drop a table."""
        return f"dropped {name}"


async def tools_turn(session: Any) -> None:
    """One response calling an auto-run, an approval (approved) and a reply=False approval (rejected) tool."""
    asked = asyncio.ensure_future(session.ask("get_time zone=CET, delete_file path=d.txt and drop_table name=users"))
    await until(lambda: len(session.pending_approvals) == 2)
    by_name = {p.name: p.call_id for p in session.pending_approvals}
    session.approve(by_name["delete_file"])
    session.reject(by_name["drop_table"], reason="not now")
    assert "returned" in (await asked).text


async def high_level_tour(session: Any) -> None:
    register(session)
    session.update(voice="cedar")  # before any audio: allowed
    await tools_turn(session)
    done = session.expect("response.done")
    session.send_text("hello there")
    await done
    done = session.expect("response.done")
    session.send_audio(tone(1.0))
    await done
    session.load_history([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}])
    assert (await session.ask("what did I say")).text
    assert await session.respond_out_of_band("Summarise the conversation.", metadata={"k": "v"})
    audio = session.expect("response.output_audio.delta")
    done = session.expect("response.done")
    session.send_text("tell me a long story please")
    item_id = (await audio)["item_id"]
    session.cancel()
    await done
    session.truncate(item_id, 200)
    await session.wait_for("conversation.item.truncated")


def later_hints(session: Any) -> list[Any]:
    """What the doctor's timer would raise a minute from now (run on the I/O loop, where the doctor lives)."""
    hints: list[Any] = session._io.call(lambda: session.doctor.tick(time.time() + 60), start=False)
    return hints


@pytest.mark.parametrize(
    "options",
    [{}, {"turn_detection": None}, {"dialect": "beta", "turn_detection": None}],
    ids=["server-vad", "push-to-talk", "beta"],
)
def test_no_hint_across_the_high_level_api(options: dict[str, Any]) -> None:
    async def body() -> None:
        dialect = options.get("dialect", "ga")
        async with LocalServer(pace="fast", dialect=dialect) as server, open_session(server.url, **options) as session:
            await high_level_tour(session)
            assert [h.what for h in session.hints] == []
            assert [h.what for h in later_hints(session)] == []
            # A cancel that meets a response already done (fast pace) is a harmless race, not a mistake.
            assert [e for e in session.errors if e["error"].get("code") != "response_cancel_not_active"] == []

    run(body)
