"""Rules about the turn after a function call: the outputs, then exactly one ``response.create``, never while a
response is in progress."""

from __future__ import annotations

from typing import Any

from ...events import Event
from ...server_errors import ACTIVE_RESPONSE_CODE, error_info
from ..check import Check, Json, Timers
from ..hint import Hint, Rule
from ..state import is_out_of_band_create, output_item, text

# How long (s) a silence after the last output may last before the doctor says nobody will ask for a reply.
GRACE_S = 1.5
SEND_CREATE = 'send one {"type": "response.create"} after the last function_call_output'


def calls_text(calls: dict[str, str]) -> str:
    """``call_1 (get_weather), call_2 (lookup)``; a call the doctor did not see made (name ``?``) as its id alone."""
    return ", ".join(cid if name == "?" else f"{cid} ({name})" for cid, name in calls.items())


def lower(sentence: str) -> str:
    """``sentence`` to follow a colon: its first letter in lower case."""
    return sentence[:1].lower() + sentence[1:]


def outputs_sent(calls: dict[str, str], rid: str | None) -> str:
    """``The output was sent for call_1 (f), the only call of response resp_1`` (or several, or no response)."""
    if len(calls) == 1:
        return f"The output was sent for {calls_text(calls)}" + (f", the only call of response {rid}" if rid else "")
    return f"Outputs were sent for {calls_text(calls)}, all the calls" + (f" of response {rid}" if rid else "")


def creates_response(event: Json) -> bool:
    """A ``response.create`` for the default conversation (an out-of-band one continues nothing)."""
    return event.get("type") == "response.create" and not is_out_of_band_create(event)


def in_conversation(event: Event) -> bool:
    """A ``response.created`` of the default conversation (out-of-band responses have conversation_id null)."""
    response = event.get("response")
    return isinstance(response, dict) and not ("conversation_id" in response and response["conversation_id"] is None)


def who_responds(turn_detection: Any) -> str:
    """Why nothing else will create a response, in words."""
    if isinstance(turn_detection, dict):
        return f"{turn_detection.get('type') or 'turn detection'} has create_response: false"
    return "turn detection is off (push-to-talk)"


class SilentAfterOutput(Check):
    """Outputs sent for all calls of a response and no ``response.create`` within a grace period."""

    rule = Rule("silent-after-output", "warning", "function outputs sent and no response.create after them")
    server_types = frozenset({"response.created"})
    client_types = frozenset({"response.create", "conversation.item.create"})

    def reset(self) -> None:
        super().reset()
        self.timers = Timers()
        self._outputs: dict[str, list[str]] = {}  # response id (or call id) -> event ids of its outputs

    def client_sent(self, event: Json, now: float) -> list[Hint]:
        if creates_response(event):
            self.timers.cancel()
            self._outputs.clear()
            return []
        item = output_item(event)
        call_id = text(item.get("call_id")) if item else None
        if call_id is None:
            return []
        rid = self.state.call_response.get(call_id)
        key = rid or call_id
        self._outputs.setdefault(key, []).append(text(event.get("event_id")) or "")
        calls = self.state.calls.get(rid or "") or {call_id: "?"}
        if all(c in self.state.no_reply for c in calls):
            return []  # outputs that ask for no reply (reply=False tools): the silence is wanted
        if not {c for c in self.state.owed(rid) if c != call_id}:
            self.timers.arm(key, now + GRACE_S, (rid, calls, self._outputs.get(key, [])))
        return []

    def server_received(self, event: Event, now: float) -> list[Hint]:
        if event.type == "response.created" and in_conversation(event):
            self.timers.cancel()
            self._outputs.clear()
        return []

    def tick(self, now: float) -> list[Hint]:
        hints: list[Hint] = []
        for key, (rid, calls, event_ids) in self.timers.expired(now):
            sent = outputs_sent(calls, rid)
            if self.state.auto_responds():
                what = (
                    f"The model will answer only when the user speaks again: {lower(sent)}, but no response.create "
                    "followed."
                )
                level = "info"
            else:
                what = (
                    f"The model will stay silent: {lower(sent)}, but no response.create followed, and "
                    f"{who_responds(self.state.turn_detection)}, so nothing else will create a response."
                )
                level = "warning"
            fix = f"The server does not go on by itself after a function output: {SEND_CREATE}."
            hints += self.hint(key, what, fix, event_ids, now, level)
        return hints

    def deadline(self) -> float | None:
        return self.timers.next()


class CreateBeforeAllOutputs(Check):
    """A ``response.create`` while outputs for more calls of the latest response are still owed."""

    rule = Rule("create-before-all-outputs", "warning", "response.create sent before every call has its output")
    client_types = frozenset({"response.create"})

    def client_sent(self, event: Json, now: float) -> list[Hint]:
        rid = self.state.latest
        owed = self.state.owed(rid)
        if not creates_response(event) or not owed:
            return []
        eid = text(event.get("event_id")) or "response.create"
        what = (
            f"{eid} asked for a response while response {rid} still owes outputs for {calls_text(owed)}: "
            "the model answers without those results, and one more response.create per output makes it talk "
            "several times."
        )
        fix = f"Send a function_call_output for every call of the response first, then {SEND_CREATE}."
        return self.hint(rid, what, fix, [eid], now)


class CreateWhileActive(Check):
    """A ``response.create`` while a response is in progress, and the server's refusal of it explained."""

    rule = Rule("create-while-active", "warning", "response.create while a response is in progress")
    server_types = frozenset({"error"})
    client_types = frozenset({"response.create"})
    FIX = (
        "Wait for response.done before the next response.create (or stop the running one with response.cancel "
        'first); a side task that may run alongside needs response.conversation = "none".'
    )

    def client_sent(self, event: Json, now: float) -> list[Hint]:
        if not creates_response(event):
            return []
        eid = text(event.get("event_id")) or "response.create"
        pending = self.state.pending(now)
        # Once per response in the way, not per create: a loop of creates (a hint handler that sends one per
        # hint) would raise a hint each, for as long as that response runs.
        if self.state.active is not None:
            busy, key = f"response {self.state.active} was still in progress", ("active", self.state.active)
        elif pending:
            busy, key = f"{pending[0]} was still waiting for its response", ("pending", pending[0])
        else:
            return []
        what = f"{eid} asked for a response while {busy}: the server refuses it ({ACTIVE_RESPONSE_CODE})."
        return self.hint(key, what, self.FIX, [eid], now)

    def server_received(self, event: Event, now: float) -> list[Hint]:  # an error (server_types)
        info = error_info(event.data)
        cause = info.event_id or text((event.cause or {}).get("event_id"))
        if info.code != ACTIVE_RESPONSE_CODE or (cause or "") in self.state.explained:
            return []
        if self.state.active is not None and ("active", self.state.active) in self._named:
            # A refusal of another create while the response named already runs: explained, and said once.
            self.state.explained.update(dict.fromkeys(i for i in (cause, event.event_id) if i))
            return []
        named = cause or "a response.create"
        what = (
            f"The server refused {named} with {ACTIVE_RESPONSE_CODE}: a response (started by the server's turn "
            "detection or an earlier response.create) was still in progress, and only one may run at a time."
        )
        return self.hint(cause or event.event_id, what, self.FIX, [cause or "", event.event_id or ""], now)
