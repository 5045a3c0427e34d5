"""A recorded conversation for the doctor's tests: client events and server events fed with synthetic times,
every hint kept. Server events go through the real codec (wire text -> Event), refusals through the real
validator, so the tests see what a session would feed."""

from __future__ import annotations

import itertools
from typing import Any

from rtwidget.protocol.doctor import Doctor, Hint
from rtwidget.protocol.errors import ClientEventError
from rtwidget.protocol.validate import validate_client_event

from .. import wire_events as S

Json = dict[str, Any]
T0 = 1_800_000_000.0
_ids = itertools.count(1)


def eid() -> str:
    return f"evt_rtw_{next(_ids)}"


def create(event_id: str = "", **response: Any) -> Json:
    """A client ``response.create`` (with ``response`` fields when given)."""
    event: Json = {"type": "response.create", "event_id": event_id or eid()}
    if response:
        event["response"] = response
    return event


def output(call_id: str, out: Any = '{"ok": true}', event_id: str = "") -> Json:
    """A client ``function_call_output`` item."""
    item = {"type": "function_call_output", "call_id": call_id, "output": out}
    return {"type": "conversation.item.create", "event_id": event_id or eid(), "item": item}


def message(role: str, part: str, body: str = "hi", event_id: str = "") -> Json:
    """A client ``conversation.item.create`` of a message with one part."""
    item = {"type": "message", "role": role, "content": [{"type": part, "text": body}]}
    return {"type": "conversation.item.create", "event_id": event_id or eid(), "item": item}


def session_update(event_id: str = "", **session: Any) -> Json:
    return {"type": "session.update", "event_id": event_id or eid(), "session": {"type": "realtime", **session}}


class Flow:
    """Feeds a :class:`Doctor` and keeps every hint; ``now`` moves only when told."""

    def __init__(self, dialect: str = "ga", **kwargs: Any) -> None:
        self.doctor = Doctor(dialect, **kwargs)
        self.dialect = dialect
        self.now = T0
        self.hints: list[Hint] = []

    def at(self, seconds: float) -> Flow:
        """Move the clock to T0 + ``seconds``."""
        self.now = T0 + seconds
        return self

    def send(self, *events: Json) -> list[Hint]:
        out: list[Hint] = []
        for event in events:
            out += self.doctor.client_sent(event, self.now)
        self.hints += out
        return out

    def refuse(self, event: Any) -> list[Hint]:
        """Validate ``event`` as a session would and feed the refusal (the test asserts it is refused)."""
        try:
            validate_client_event(event)
        except ClientEventError as exc:
            out = self.doctor.client_refused(event, str(exc), self.now)
        else:
            raise AssertionError(f"{event!r} passed validation")
        self.hints += out
        return out

    def receive(self, *events: Json, cause: Json | None = None) -> list[Hint]:
        out: list[Hint] = []
        for data in events:
            event = S.decode(data, self.dialect)
            event.cause = cause
            out += self.doctor.server_received(event, self.now)
        self.hints += out
        return out

    def tick(self, seconds: float | None = None) -> list[Hint]:
        if seconds is not None:
            self.at(seconds)
        out = self.doctor.tick(self.now)
        self.hints += out
        return out

    def rules(self) -> list[str]:
        return [h.rule for h in self.hints]

    def only(self, rule: str) -> Hint:
        """The one hint of ``rule`` (fails if there are none or several)."""
        found = [h for h in self.hints if h.rule == rule]
        assert len(found) == 1, f"{rule}: {found}"
        return found[0]


def calls_turn(rid: str, *calls: tuple[str, str], args: str = '{"city": "Paris"}') -> list[Json]:
    """A response ``rid`` that makes the calls ``(call_id, name)``."""
    spec = [(f"item_{cid}", cid, name, args) for cid, name in calls]
    return S.function_call_turn(rid, spec, previous_item_id=None)
