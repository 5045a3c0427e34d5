"""Response tracker: which response is active, which function calls are owed, and when one reply is due.

The rule it enforces (the one people get wrong with the raw API): after a response produced function calls,
send an output for EVERY call, then exactly ONE ``response.create``, and never while another response is
active in the default conversation. Tools registered with ``reply=False`` owe an output but ask for no reply.

Feed it :meth:`client_sent` for every client event and :meth:`server_received` for every server event;
ask :meth:`response_due` after each, and send ``response.create`` when it says so.

A server can also go silent: a ``response.created`` whose ``response.done`` never comes, or a
``response.create`` never answered, would keep the conversation busy for ever. :meth:`check_stalled` declares
such a response lost after a given silence (the caller's clock: the tracker keeps none), and the tracker then
accepts new turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .events import Event

Json = dict[str, Any]

# How many ended responses and handed-out call ids are remembered to spot a response.done delivered twice.
DONE_LIMIT = 1024


@dataclass(frozen=True)
class LostResponse:
    """A response the server went silent on, declared lost by :meth:`ResponseTracker.check_stalled`.

    ``kind`` is ``"response"`` (it started, then no event named it for ``silent_s`` seconds) or ``"create"`` (a
    ``response.create`` with no answer for ``silent_s`` seconds); ``id`` is the response id or the create's
    event id; ``out_of_band`` is True outside the default conversation; ``request_id`` is the event id of the
    ``response.create`` that asked for it, when known (always for a lost create).
    """

    kind: str
    id: str
    silent_s: float
    out_of_band: bool = False
    request_id: str | None = None


@dataclass
class FunctionCall:
    """A function call the model made: run it and send a ``function_call_output`` with ``call_id``."""

    call_id: str
    name: str
    arguments: str
    item_id: str
    response_id: str


class ResponseTracker:
    """Response bookkeeping for the default conversation (out-of-band responses never block it)."""

    def __init__(self) -> None:
        # Id of the response in progress in the default conversation, or None.
        self.active: str | None = None
        # Default-conversation response.create events sent and not answered yet (created or error), by id.
        self._pending_creates: set[str] = set()
        # The outputs each create of ours was sent to answer (event id -> call id -> added), kept until a
        # response that sees them starts or the next response ends; an error for the create puts them back.
        self._answering: dict[str, dict[str, bool]] = {}
        # Out-of-band response.create events sent and not yet answered, by event id.
        self._pending_out_of_band: set[str] = set()
        # Function calls each response produced (from response.done, the authoritative list).
        self.calls_by_response: dict[str, list[FunctionCall]] = {}
        # Calls whose output has not been sent yet, by call id.
        self.owed: dict[str, FunctionCall] = {}
        # Outputs sent that want a reply, by call id -> True once the server has added the output item.
        self._awaiting_reply: dict[str, bool] = {}
        # A reply asked for while the conversation was busy (user text sent mid-response): due when it is free.
        self.reply_requested = False
        # Ids of out-of-band responses in flight.
        self.out_of_band: set[str] = set()
        # Responses that have ended and call ids handed out (values unused; oldest dropped past DONE_LIMIT):
        # a second response.done for one response, or a call seen again, is never acted on twice.
        self._done: dict[str, None] = {}
        self._handed_out: dict[str, None] = {}
        # When each watched response (by id) or unanswered create (by event id) last showed life, on the caller's
        # clock; an entry is dropped when its response ends or its create is answered.
        self._stamps: dict[str, float] = {}
        # Out-of-band response id -> the event id of the create that asked for it (from its metadata).
        self._requests: dict[str, str] = {}
        # Responses declared lost (values unused, oldest dropped past DONE_LIMIT): a late response.done for one
        # changes nothing.
        self._lost: dict[str, None] = {}
        # Calls handed to the user, and the responses whose follow-up is therefore the user's (values unused).
        self._users_calls: dict[str, None] = {}
        self._users_responses: dict[str, None] = {}

    # ------------------------------------------------------------------------------------------ inputs

    def client_sent(self, event: Json, *, reply: bool = True) -> None:
        """Record a client event that was just sent (it must carry its ``event_id``).

        ``reply=False`` on a ``function_call_output`` means that output asks for no follow-up response.
        """
        etype = event.get("type")
        if etype == "response.create":
            response = event.get("response") or {}
            if response.get("conversation") == "none":
                self._pending_out_of_band.add(str(event.get("event_id")))
            else:
                event_id = str(event.get("event_id"))
                self._pending_creates.add(event_id)
                # Whatever outputs were sent before this reply are now answered by it (unless it is refused).
                if self._awaiting_reply:
                    self._answering[event_id] = self._awaiting_reply
                self._awaiting_reply = {}
                self.reply_requested = False
        elif etype == "conversation.item.create":
            item = event.get("item") or {}
            if item.get("type") == "function_call_output":
                call_id = str(item.get("call_id"))
                call = self.owed.pop(call_id, None)
                users = call_id in self._users_calls or (call is not None and call.response_id in self._users_responses)
                if reply and not users:
                    self._awaiting_reply[call_id] = False

    def server_received(self, event: Event, now: float | None = None) -> list[FunctionCall]:
        """Fold one server event; returns the function calls that a finished response made (to run now).

        ``now`` (the caller's clock, in seconds) is when the event arrived: an event naming a response in
        progress shows it is alive (see :meth:`check_stalled`).
        """
        etype = event.type
        calls: list[FunctionCall] = []
        if etype == "response.created":
            self._on_created(_obj(event.data.get("response")))
        elif etype == "response.done":
            response = _obj(event.data.get("response"))
            rid = str(response.get("id") or "")
            if _remember(self._done, rid):
                event.duplicate = True
                return []
            if rid in self._lost:
                del self._lost[rid]  # ended after all, too late: its turn was given up
                return []
            calls = self._on_done(response)
        elif etype in ("conversation.item.added", "conversation.item.created", "conversation.item.done"):
            self._on_item(_obj(event.data.get("item")))
        elif etype == "error":
            self._on_error(event.cause or {})
        if now is not None:
            self._touch(event, now)
        return calls

    def _on_item(self, item: Json) -> None:
        call_id = item.get("call_id")
        if item.get("type") == "function_call_output":
            for outputs in (self._awaiting_reply, *self._answering.values()):
                if call_id in outputs:
                    outputs[call_id] = True

    def _on_error(self, cause: Json) -> None:
        if cause.get("type") == "response.create":
            event_id = str(cause.get("event_id"))
            self._pending_creates.discard(event_id)
            self._pending_out_of_band.discard(event_id)
            self._stamps.pop(event_id, None)
            # A refused create answers nothing: its outputs want a reply again.
            self._awaiting_reply.update(self._answering.pop(event_id, {}))

    def _touch(self, event: Event, now: float) -> None:
        """``event`` arrived at ``now``: the response in progress that it names is alive."""
        data = event.data
        rid = data.get("response_id")
        if not isinstance(rid, str):
            response = data.get("response")
            rid = response.get("id") if isinstance(response, dict) else None
        if isinstance(rid, str) and (rid == self.active or rid in self.out_of_band):
            self._stamps[rid] = now

    def _on_created(self, response: Json) -> None:
        rid = str(response.get("id") or "")
        if "conversation_id" in response and response["conversation_id"] is None:
            self.out_of_band.add(rid)
            metadata = response.get("metadata")
            request = metadata.get("rtwidget_request") if isinstance(metadata, dict) else None
            if not isinstance(request, str) or request not in self._pending_out_of_band:
                # Not ours by its metadata: it answers the oldest create of ours.
                request = min(self._pending_out_of_band, key=_seq, default=None)
            if isinstance(request, str):
                self._pending_out_of_band.discard(request)
                self._stamps.pop(request, None)
                self._requests[rid] = request
            return
        self.active = rid
        if self._pending_creates:
            # Answers arrive in order; a VAD-made response answers no create of ours.
            answered = min(self._pending_creates, key=_seq)
            self._pending_creates.discard(answered)
            self._stamps.pop(answered, None)
        # A response created after the server added our outputs sees them: no separate reply is owed.
        if self._awaiting_reply and all(self._awaiting_reply.values()):
            self._awaiting_reply.clear()
        for event_id, outputs in list(self._answering.items()):
            if all(outputs.values()):
                del self._answering[event_id]

    def _on_done(self, response: Json) -> list[FunctionCall]:
        rid = str(response.get("id") or "")
        self._stamps.pop(rid, None)
        if rid in self.out_of_band:
            self.out_of_band.discard(rid)
            self._requests.pop(rid, None)
            return []
        if self.active == rid or self.active is None:
            self.active = None
        # A refusal comes before the end of the response that caused it: creates not refused now were taken.
        self._forget_answered()
        calls = []
        output = response.get("output")
        for item in output if isinstance(output, list) else ():
            if isinstance(item, dict) and item.get("type") == "function_call" and item.get("call_id"):
                if item.get("status") not in (None, "completed"):
                    continue  # a call cut off by cancellation has no valid arguments to run
                if _remember(self._handed_out, str(item["call_id"])):
                    continue  # this call was handed out already (by another response.done naming it)
                call = FunctionCall(
                    call_id=str(item["call_id"]),
                    name=str(item.get("name") or ""),
                    arguments=str(item.get("arguments") or ""),
                    item_id=str(item.get("id") or ""),
                    response_id=rid,
                )
                calls.append(call)
                self.owed[call.call_id] = call
        if calls:
            self.calls_by_response[rid] = calls
        return calls

    def hand_over(self, call_id: str) -> None:
        """The call ``call_id`` (handed out by :meth:`server_received`) is the user's to answer: it is owed no more,
        and no output for a call of its response makes a reply due (the user sends the ``response.create``)."""
        call = self.owed.pop(call_id, None)
        _remember(self._users_calls, call_id)
        if call is not None:
            _remember(self._users_responses, call.response_id)

    def _forget_answered(self) -> None:
        """The default response ended: the outputs of every create that was taken (not pending) are answered."""
        for event_id in [e for e in self._answering if e not in self._pending_creates]:
            del self._answering[event_id]

    # ------------------------------------------------------------------------------------------ decisions

    @property
    def busy(self) -> bool:
        """True while a default-conversation response is active or a create of ours is unanswered."""
        return self.active is not None or bool(self._pending_creates)

    def response_due(self) -> bool:
        """True when exactly one ``response.create`` should be sent now.

        That is: some output wants a reply, every owed output has been sent, and no default-conversation
        response is active or requested.
        """
        wanted = bool(self._awaiting_reply) or self.reply_requested
        return wanted and not self.owed and not self.busy

    # ------------------------------------------------------------------------------------------ silence

    def mark_sent(self, event_id: str, now: float) -> None:
        """The ``response.create`` ``event_id`` went out at ``now``: its answer is awaited from then on."""
        if event_id in self._pending_creates or event_id in self._pending_out_of_band:
            self._stamps[event_id] = now

    def _watched(self) -> list[tuple[str, str, bool]]:
        """What may go silent, as (id, kind, out of band): the responses in progress and unanswered creates."""
        watched = [(rid, "response", True) for rid in self.out_of_band]
        watched += [(event_id, "create", False) for event_id in self._pending_creates]
        watched += [(event_id, "create", True) for event_id in self._pending_out_of_band]
        if self.active is not None:
            watched.append((self.active, "response", False))
        return watched

    def stall_deadline(self, silence_s: float) -> float | None:
        """The earliest time (the caller's clock) at which :meth:`check_stalled` could declare something lost;
        None when nothing is in progress. Something never stamped with a time counts as due now (0.0): the next
        check starts its clock."""
        watched = self._watched()
        if not watched:
            return None
        return min(self._stamps[key] + silence_s if key in self._stamps else 0.0 for key, _, _ in watched)

    def check_stalled(self, now: float, silence_s: float) -> list[LostResponse]:
        """Declare lost every response with no event for ``silence_s`` seconds and every create unanswered as
        long, as of ``now`` (the caller's clock); returns them, oldest silence first.

        After it, the default conversation is free again (``busy`` is False unless something else is in
        progress): a reply requested meanwhile, or outputs sent meanwhile, make a ``response.create`` due; the
        outputs a lost response was answering want no new reply (the user was told, and the next turn sees
        them). A late ``response.done`` for a lost response changes nothing.
        """
        lost: list[LostResponse] = []
        for key, kind, out_of_band in self._watched():
            since = self._stamps.setdefault(key, now)
            if now - since >= silence_s:
                request = key if kind == "create" else self._requests.get(key)
                lost.append(LostResponse(kind, key, now - since, out_of_band, request))
        lost.sort(key=lambda x: -x.silent_s)
        for gone in lost:
            self._declare_lost(gone)
        return lost

    def _declare_lost(self, gone: LostResponse) -> None:
        key = gone.id
        self._stamps.pop(key, None)
        if gone.kind == "create":
            self._pending_creates.discard(key)
            self._pending_out_of_band.discard(key)
            self._answering.pop(key, None)
            return
        _remember(self._lost, key)
        self.out_of_band.discard(key)
        self._requests.pop(key, None)
        if key == self.active:
            self.active = None
            self._forget_answered()  # its outputs get no reply from it, nor a new one (the user was told)

    def reset(self) -> None:
        """Forget everything (a new connection starts a new server session)."""
        self.__init__()  # type: ignore[misc]


def _obj(value: Any) -> Json:
    """``value`` if it is an object, else an empty one: a server's field of the wrong type is read as absent."""
    return value if isinstance(value, dict) else {}


def _remember(seen: dict[str, None], key: str) -> bool:
    """True if ``key`` (a non-empty id) is in ``seen`` already; else add it (forgetting the oldest past the limit)."""
    if not key:
        return False
    if key in seen:
        return True
    seen[key] = None
    if len(seen) > DONE_LIMIT:
        del seen[next(iter(seen))]
    return False


def _seq(event_id: str) -> int:
    digits = event_id.rsplit("_", 1)[-1]
    return int(digits) if digits.isdigit() else 0
