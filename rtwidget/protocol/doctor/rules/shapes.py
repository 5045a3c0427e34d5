"""Rules about the shape of what is sent and received: function outputs that are not strings, tool arguments that
are not a JSON object, beta names on a GA connection."""

from __future__ import annotations

import json
from typing import Any

from ...errors import ClientEventError
from ...event_types import BETA_CLIENT_EVENTS, BETA_TO_GA_SERVER, GA_CLIENT_EVENTS
from ...events import Event
from ...session_config import BETA_SESSION_FIELDS, GA_SESSION_FIELDS
from ...validate import validate_client_event
from ..check import Check, Json
from ..hint import Hint, Rule
from ..state import field, output_item, text
from .responses import calls_text

BETA_ONLY_CLIENT_EVENTS = BETA_CLIENT_EVENTS - GA_CLIENT_EVENTS


def tool_name(state: Any, call_id: str) -> str:
    """The tool a call id belongs to, when the doctor saw the call."""
    return str(state.calls.get(state.call_response.get(call_id, ""), {}).get(call_id, "?"))


class OutputNotString(Check):
    """A ``function_call_output`` whose ``output`` is not a string (refused by validation, or sent raw)."""

    rule = Rule("output-not-string", "error", "a function output that is not a string")
    client_types = frozenset({"conversation.item.create"})
    FIX = "Send the result as JSON text: output = json.dumps(result) (the model reads it as JSON)."

    def client_refused(self, event: Any, error: str, now: float) -> list[Hint]:
        return self._check(event, now, "so rtwidget refused the event and nothing was sent")

    def client_sent(self, event: Json, now: float) -> list[Hint]:
        return self._check(event, now, "so the server refuses it and the model never sees the result")

    def _check(self, event: Any, now: float, outcome: str) -> list[Hint]:
        item = output_item(event) if isinstance(event, dict) else None
        if item is None or isinstance(item.get("output"), str):
            return []
        call_id = text(item.get("call_id")) or "?"
        eid = text(event.get("event_id"))
        value = item.get("output")
        name = type(value).__name__
        kind = (
            "missing" if "output" not in item else "None" if value is None else f"a{'n' * (name[0] in 'aeiou')} {name}"
        )
        what = (
            f"The output of the function_call_output for {calls_text({call_id: tool_name(self.state, call_id)})} "
            f"is {kind}, not a string: the API takes only a string there, {outcome}."
        )
        return self.hint(eid or call_id, what, self.FIX, [eid or ""], now)


class BadToolArguments(Check):
    """A function call whose ``arguments`` are not a JSON object."""

    rule = Rule("bad-tool-arguments", "warning", "a tool call whose arguments are not valid JSON")
    server_types = frozenset({"response.function_call_arguments.done", "response.done"})

    def server_received(self, event: Event, now: float) -> list[Hint]:
        if event.type == "response.function_call_arguments.done":
            return self._check(event.get("call_id"), event.get("name"), event.get("arguments"), event, now)
        output = field(event.data, "response", "output")
        hints: list[Hint] = []
        for item in output if isinstance(output, list) else ():
            if isinstance(item, dict) and item.get("type") == "function_call":
                hints += self._check(item.get("call_id"), item.get("name"), item.get("arguments"), event, now)
        return hints

    def _check(self, call_id: Any, name: Any, arguments: Any, event: Event, now: float) -> list[Hint]:
        problem = _arguments_problem(arguments)
        if problem is None or text(call_id) is None:
            return []
        tool = text(name) or tool_name(self.state, call_id)
        what = f"The model called {tool} ({call_id}) with arguments that {problem}."
        fix = (
            "Answer the call with a function_call_output that says the arguments were not valid JSON (the model "
            "then usually retries), and make the tool's parameters schema simpler or stricter."
        )
        return self.hint(call_id, what, fix, [event.event_id or ""], now)


def _arguments_problem(arguments: Any) -> str | None:
    if not isinstance(arguments, str):
        return f"are {type(arguments).__name__}, not JSON text"
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):
        return f"are not valid JSON ({_short(arguments)})"
    return None if isinstance(value, dict) else f"are JSON but not an object ({_short(arguments)})"


def _short(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


def _listed(words: list[str]) -> str:
    """``a, b and c``."""
    return ", ".join(words[:-1]) + " and " + words[-1]


def _refusal(event: Json) -> str:
    """What rtwidget's validator says of ``event`` (a client that skipped it sent the event all the same)."""
    try:
        validate_client_event(event)
    except ClientEventError as exc:
        return str(exc)
    return ""


def _fix_of(refusal: str) -> str:
    """The fix a validation refusal names (``"...: problem. Fix: do this"``), as a sentence; "" without one."""
    _, found, fix = refusal.partition("Fix: ")
    fix = fix.strip()
    if not (found and fix):
        return "Send the event's GA form (see the client events in realtime-protocol.md)."
    return fix[:1].upper() + fix[1:] + ("" if fix.endswith(".") else ".")


class BetaOnGa(Check):
    """Beta event names (or beta session fields) sent, or beta event names received, on a GA connection."""

    rule = Rule("beta-on-ga", "error", "beta event names on a GA connection")
    server_types = frozenset(BETA_TO_GA_SERVER)
    # (not every type: each microphone chunk is a client event)
    client_types = BETA_ONLY_CLIENT_EVENTS | server_types | {"session.update"}

    def client_refused(self, event: Any, error: str, now: float) -> list[Hint]:
        return self._sent(event, error, now, "was refused before sending")

    def client_sent(self, event: Json, now: float) -> list[Hint]:
        return self._sent(event, "", now, "went out, and the GA server refuses it")

    def _sent(self, event: Any, error: str, now: float, outcome: str) -> list[Hint]:
        if self.state.dialect != "ga" or not isinstance(event, dict):
            return []
        etype = event.get("type")
        eid = text(event.get("event_id")) or ""
        if etype in BETA_ONLY_CLIENT_EVENTS:
            what = f"{etype} is a beta event name and {outcome}: this connection speaks GA."
            fix = _fix_of(error or _refusal(event))
        elif etype in BETA_TO_GA_SERVER:
            what = f"{etype} is a beta server event name (GA: {BETA_TO_GA_SERVER[etype]}) and {outcome}."
            fix = "Clients do not send server events: see the client event types in realtime-protocol.md."
        elif etype == "session.update" and isinstance(event.get("session"), dict):
            beta = [k for k in event["session"] if k in BETA_SESSION_FIELDS and k not in GA_SESSION_FIELDS]
            if not beta:
                return []
            fields = f"the beta field {beta[0]}" if len(beta) == 1 else f"the beta fields {_listed(beta)}"
            named = f"session.update {eid}" if eid else "A session.update"  # refused: no event_id was given yet
            what = f"{named} has {fields} and {outcome}: this connection speaks GA."
            fix = "Use the GA places: " + ", ".join(f"{k} -> {BETA_SESSION_FIELDS[k]}" for k in beta) + "."
        else:
            return []
        return self.hint(("sent", etype, eid), what, fix, [eid], now)

    def server_received(self, event: Event, now: float) -> list[Hint]:
        if self.state.dialect != "ga":  # (a beta connection's events are GA once decoded)
            return []
        ga = BETA_TO_GA_SERVER[event.type]
        what = (
            f"The server sent {event.type}, a beta event name (GA: {ga}), on a connection that expects GA events: "
            "rtwidget does not act on it."
        )
        fix = 'The endpoint speaks the beta protocol: connect with dialect="beta", or use a GA endpoint and model.'
        return self.hint(("received", event.type), what, fix, [event.event_id or ""], now, "warning")
