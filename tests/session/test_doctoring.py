"""The doctor wired into a session, over real loopback sockets to the local server: what it is fed (client events
as sent, server events, refused raw sends, input levels, ask()'s ids, a reset per connection, whether the user
reads errors), where its hints go (``session.hints``, ``rtwidget.hint`` events in the log and to handlers, the
``rtwidget.doctor`` logger), its timer, switching it off, and that a doctor that raises never breaks the session.

The rules themselves are tested in tests/protocol; here a scripted Doctor raises a hint on a marker message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest

from rtwidget import ClientEventError, Session
from rtwidget.protocol.doctor import Doctor, Hint, Rule
from rtwidget.protocol.events import Event
from rtwidget.server import LocalServer
from rtwidget.session import HINT
from tests.support import local, run, scaled, until

MARK = "doctor, please hint"
LATER = "doctor, hint later"


class ScriptedDoctor(Doctor):
    """Raises ``hint-now`` when a user message says MARK, ``hint-later`` a moment after one says LATER (through
    tick), and records every feed."""

    def __init__(self, delay: float = 0.2) -> None:
        super().__init__()
        self.rules = {
            "hint-now": Rule("hint-now", "warning", "a marker message"),
            "hint-later": Rule("hint-later", "error", "a marker message, then silence"),
        }
        self.delay = delay
        self.due: float | None = None
        self.fed: list[tuple[str, Any]] = []
        self.resets = 0

    def client_sent(self, event: dict[str, Any], now: float) -> list[Hint]:
        self.fed.append(("sent", event))
        text = str(event.get("item", {}).get("content", [{}])[0].get("text", "")) if "item" in event else ""
        if text == LATER:
            self.due = now + self.delay
        if text == MARK and self.is_enabled("hint-now"):
            return [self._hint("hint-now", str(event["event_id"]), now)]
        return []

    def server_received(self, event: Event, now: float) -> list[Hint]:
        self.fed.append(("received", (event.type, self.errors_watched)))
        return []

    def client_refused(self, event: Any, error: str, now: float) -> list[Hint]:
        self.fed.append(("refused", (event, error)))
        return []

    def input_level(self, dbfs: float, duration_ms: float, now: float) -> list[Hint]:
        self.fed.append(("level", (dbfs, duration_ms)))
        return []

    def handled(self, event_id: str) -> None:
        self.fed.append(("handled", event_id))

    def tick(self, now: float) -> list[Hint]:
        if self.due is None or now < self.due:
            return []
        self.due = None
        return [self._hint("hint-later", "", now)] if self.is_enabled("hint-later") else []

    def next_deadline(self) -> float | None:
        return self.due

    def reset(self) -> None:
        self.resets += 1

    def _hint(self, rule: str, event_id: str, now: float) -> Hint:
        return Hint(
            rule,
            self.rules[rule].level,
            f"{rule} happened.",
            "Do the other thing.",
            (event_id,),
            now,
            self.rules[rule].url,
        )

    def of(self, kind: str) -> list[Any]:
        return [what for k, what in self.fed if k == kind]


class RaisingDoctor(ScriptedDoctor):
    """Every feed raises."""

    def client_sent(self, event: dict[str, Any], now: float) -> list[Hint]:
        raise RuntimeError("the doctor broke")

    def server_received(self, event: Event, now: float) -> list[Hint]:
        raise RuntimeError("the doctor broke")

    def next_deadline(self) -> float | None:
        raise RuntimeError("the doctor broke")

    def input_level(self, dbfs: float, duration_ms: float, now: float) -> list[Hint]:
        return ["not a hint"]  # type: ignore[list-item]


def message(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
    }


@pytest.fixture(scope="module")
def server() -> Any:
    server = LocalServer(pace="fast").start_in_thread()
    try:
        yield server
    finally:
        server.stop_in_thread()


@asynccontextmanager
async def doctored(server: LocalServer, doctor: Doctor, **kwargs: Any) -> AsyncIterator[Session]:
    session = Session(endpoint=server.url, turn_detection=None, **kwargs)
    session.doctor = doctor
    try:
        await session.connect()
        yield session
    finally:
        await session.close()


def test_a_hint_goes_to_hints_the_log_handlers_and_the_logger(server: LocalServer, caplog: Any) -> None:
    async def body() -> None:
        doctor = ScriptedDoctor()
        async with doctored(server, doctor) as session:
            heard: list[Event] = []
            session.on(HINT, heard.append)
            event_id = session.send(message(MARK))
            await until(lambda: heard)
            hint = session.hints[-1]
            assert hint.rule == "hint-now" and hint.event_ids == (event_id,)
            assert heard[0].data == {"type": HINT, **hint.to_dict()}
            assert local(session, HINT) == [hint.to_dict()]
            entries = list(session.log)
            at = next(i for i, e in enumerate(entries) if e.type == HINT)
            assert entries[at - 1].direction == "client" and entries[at - 1].data["event_id"] == event_id
            session.send(message("nothing to say"))  # an ordinary message raises nothing
            await session.wait_for("conversation.item.added", timeout=scaled(10))
            assert len(session.hints) == 1
        assert doctor.resets == 1  # the connection's reset
        assert [e["type"] for e in doctor.of("sent")][:1] == ["session.update"]
        assert ("session.created", False) in doctor.of("received")

    with caplog.at_level(logging.INFO, logger="rtwidget.doctor"):
        run(body)
    lines = [r for r in caplog.records if r.name == "rtwidget.doctor"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert "hint-now" in lines[0].getMessage() and "Do the other thing." in lines[0].getMessage()


def test_switched_off_rules_say_nothing(server: LocalServer) -> None:
    async def body() -> None:
        doctor = ScriptedDoctor()
        async with doctored(server, doctor) as session:
            session.doctor.disable("hint-now")
            session.send(message(MARK))
            session.doctor.enable("hint-now")
            session.doctor.enabled = False
            session.send(message(MARK))
            await session.wait_for("conversation.item.added", timeout=scaled(10))
            session.doctor.enabled = True
            session.send(message(MARK))
            await until(lambda: session.hints)
            assert len(session.hints) == 1

    run(body)


def test_the_constructor_option() -> None:
    assert Session(doctor=False).doctor.enabled is False
    assert Session().doctor.enabled is True
    quiet = Session(doctor=["silent-after-output"]).doctor
    assert not quiet.is_enabled("silent-after-output") and quiet.enabled
    with pytest.raises(ValueError, match="unknown doctor rule 'no-such-rule'"):
        Session(doctor=["no-such-rule"])
    with pytest.raises(TypeError, match="doctor must be True, False or a list of rule ids"):
        Session(doctor="silent-after-output")  # type: ignore[arg-type]


def test_the_timer_ticks_a_silence_rule(server: LocalServer) -> None:
    async def body() -> None:
        doctor = ScriptedDoctor(delay=scaled(0.3))
        async with doctored(server, doctor) as session:
            sent_at = time.time()
            session.send(message(LATER))
            await until(lambda: session.hints)  # nothing else is sent or received: only the timer can raise it
            assert session.hints[-1].rule == "hint-later"
            assert session.hints[-1].time >= sent_at + doctor.delay
            assert local(session, HINT)[-1]["level"] == "error"

    run(body)


def test_a_refused_raw_send_reaches_the_doctor_before_the_caller(server: LocalServer) -> None:
    async def body() -> None:
        doctor = ScriptedDoctor()
        async with doctored(server, doctor) as session:
            bad = {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": "call_1", "output": {"temp": 21}},
            }
            with pytest.raises(ClientEventError) as refused:
                session.send(bad)
            assert doctor.of("refused") == [(bad, str(refused.value))]
            assert "output" in str(refused.value)

    run(body)


def test_input_levels_of_appended_audio(server: LocalServer) -> None:
    async def body() -> None:
        doctor = ScriptedDoctor()
        async with doctored(server, doctor) as session:
            session.append_audio(np.zeros(2400, dtype=np.int16))  # 100 ms of digital silence
            t = np.arange(4800) / 24000
            session.append_audio((np.sin(2 * np.pi * 440 * t) * 0.5).astype(np.float32))  # 200 ms at -9 dBFS
            session.send_audio(np.full(2400, 8192, dtype=np.int16), commit=True, respond=False)
            levels = doctor.of("level")
            assert levels[0] == (-120.0, 100.0)
            assert levels[1][0] == pytest.approx(-9.0, abs=0.1) and levels[1][1] == 200.0
            assert levels[2][0] == pytest.approx(-12.04, abs=0.01) and levels[2][1] == 100.0

    run(body)


def test_ask_marks_its_events_handled(server: LocalServer) -> None:
    async def body() -> None:
        doctor = ScriptedDoctor()
        async with doctored(server, doctor) as session:
            await session.ask("hello")
            sent_ids = {e["event_id"] for e in doctor.of("sent") if e["type"] != "session.update"}
            handled = set(doctor.of("handled"))
            assert handled and handled <= sent_ids
            await session.respond_out_of_band("say hi")
            creates = [e for e in doctor.of("sent") if e["type"] == "response.create"]
            assert creates[-1]["event_id"] in doctor.of("handled")

    run(body)


def test_errors_watched_follows_the_users_handlers(server: LocalServer) -> None:
    async def body() -> None:
        doctor = ScriptedDoctor()
        async with doctored(server, doctor) as session:
            delete = {"type": "conversation.item.delete", "item_id": "item_nope"}
            session.send(delete)
            await until(lambda: ("error", False) in doctor.of("received"))
            session.on("error", lambda event: None)
            session.send(delete)
            await until(lambda: ("error", True) in doctor.of("received"))
            session.off()
            waiting = session.expect("error")  # a waiter of the user's
            session.send(delete)
            await until(lambda: doctor.of("received").count(("error", True)) == 2)
            await waiting

    run(body)


def test_a_raising_doctor_never_breaks_the_session(server: LocalServer, caplog: Any) -> None:
    async def body() -> None:
        async with doctored(server, RaisingDoctor()) as session:
            reply = await session.ask("hello")
            assert reply.text
            session.append_audio(np.zeros(2400, dtype=np.int16))
            assert session.hints == type(session.hints)() and not session.errors
            await asyncio.sleep(0)

    with caplog.at_level(logging.WARNING, logger="rtwidget.doctor"):
        run(body)
    failures = [r for r in caplog.records if r.name == "rtwidget.doctor"]
    assert len(failures) == 1 and "the doctor failed" in failures[0].getMessage()
    assert failures[0].exc_info is not None


def test_the_silent_model_mistake_made_with_raw_events(server: LocalServer) -> None:
    """End to end with the real rules: a raw tool, its output sent by hand, no response.create -> the hint."""

    async def body() -> None:
        async with open_raw(server) as session:
            tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
            session.send({"type": "session.update", "session": {"type": "realtime", "tools": [tool]}})
            done = session.expect("response.done")
            session.send(message("get_weather please"))
            session.send({"type": "response.create"})
            call = next(o for o in (await done)["response"]["output"] if o["type"] == "function_call")
            output = {"type": "function_call_output", "call_id": call["call_id"], "output": '{"temp_c": 21}'}
            output_id = session.send({"type": "conversation.item.create", "item": output})
            hint = await session.wait_for(HINT, timeout=scaled(30))
            assert hint["rule"] == "silent-after-output" and hint["event_ids"] == [output_id]
            assert [h.rule for h in session.hints] == ["silent-after-output"]

    run(body)


@asynccontextmanager
async def open_raw(server: LocalServer) -> AsyncIterator[Session]:
    session = Session(endpoint=server.url, turn_detection=None)
    try:
        await session.connect()
        yield session
    finally:
        await session.close()


def test_a_raising_hint_handler_is_reported_on_its_own(server: LocalServer) -> None:
    """A handler of rtwidget.hint that raises, on the hint of a refused raw send: the caller still gets the
    ClientEventError, the handler's failure is an rtwidget.error whose traceback is the handler's alone (not
    "during handling of" the refusal, which read as if the handler had caused it), and the session goes on."""

    async def body() -> None:
        async with open_raw(server) as session:
            session.on(HINT, lambda event: 1 / 0)
            bad = {"type": "function_call_output", "call_id": "call_1", "output": {"temp": 21}}
            with pytest.raises(ClientEventError, match="must be a string"):
                session.send({"type": "conversation.item.create", "item": bad})
            [failure] = local(session, "rtwidget.error")
            assert failure["error_type"] == "ZeroDivisionError" and failure["source"] == "handler"
            assert "ClientEventError" not in failure["traceback"]
            assert [h.rule for h in session.hints] == ["output-not-string"]
            assert (await session.ask("hello")).text

    run(body)


def test_assigning_session_doctor() -> None:
    """``session.doctor = False`` (the constructor's option, written as an assignment) switches the doctor off;
    before, it replaced the doctor with False and every feed failed ("the doctor failed ..." with a traceback)."""
    session = Session(endpoint="ws://127.0.0.1:9/never")
    doctor = session.doctor
    session.doctor = False
    assert session.doctor is doctor and doctor.enabled is False
    session.doctor = True
    assert session.doctor is doctor and doctor.enabled is True
    for wrong in (None, "off", ["unhandled-error"]):
        with pytest.raises(TypeError, match=r"session.doctor takes a Doctor, True or False, not .*disable"):
            session.doctor = wrong  # type: ignore[assignment]
    assert session.doctor is doctor
    mine = Doctor()
    session.doctor = mine
    assert session.doctor is mine
