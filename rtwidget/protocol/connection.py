"""The sans-I/O Realtime connection: the client side of the protocol, with no socket.

In the manner of the websockets library's protocol objects::

    conn = Connection(dialect="ga")
    conn.send_text("hello")                  # queues client events (validated, with event ids)
    for event, text in conn.data_to_send():  # the pump writes each text to the socket
        ...
    event = conn.receive_text(message)       # the pump feeds each server message; never raises
    for call in conn.function_calls_to_run():
        ...                                  # run the tool, then conn.function_output(call.call_id, output)
    conn.reply_if_due()                      # after outputs: exactly one response.create, when due
    for lost in conn.check_stalled(now, 60): # on a timer: a response the server went silent on is given up
        ...

Every protocol decision lives here or below: event grammar, ids, error linking, conversation state and the
reply rule. The I/O layer only moves text and runs tools.
"""

from __future__ import annotations

import base64
import itertools
import math
import secrets
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from . import items as build
from .conversation import Conversation, b64_decoded_len
from .dialects import Dialect, client_event_to_ga
from .events import Codec, Event
from .pcm import BYTES_PER_MS
from .server_errors import error_info
from .session_config import modalities, session_fields
from .tracker import FunctionCall, LostResponse, ResponseTracker
from .validate import check_ms, check_str, validate_client_event

Json = dict[str, Any]

# How many sent client events are remembered for linking errors to their cause.
PENDING_LIMIT = 1024
# How many server event ids are remembered to spot an event delivered twice.
SEEN_EVENTS_LIMIT = 4096
# The server's answers to a conversation.item.create (beta says created).
ITEM_ANSWERS = ("conversation.item.added", "conversation.item.created", "conversation.item.done")
# Latest plausible Unix time (s) for a session expiry: beyond it (or not finite) the server's value is ignored.
MAX_EXPIRES_AT = 2**40


def error_code(event: Event) -> str | None:
    """The ``error.code`` of an ``error`` event, else None."""
    return error_info(event.data).code if event.type == "error" else None


def elide_audio(event: Json) -> Json:
    """The event with base64 audio payloads replaced by ``"<N bytes>"`` (for logs and error causes).

    Covers ``input_audio_buffer.append``, ``response.output_audio.delta`` and ``input_audio`` parts of items.
    Events without audio are returned as they are (no copy).
    """
    etype = event.get("type")
    if etype == "input_audio_buffer.append":
        return {**event, "audio": _audio_size(event.get("audio"))}
    if etype == "response.output_audio.delta":
        return {**event, "delta": _audio_size(event.get("delta"))}
    item = event.get("item")
    content = item.get("content") if isinstance(item, dict) else None
    if isinstance(content, list) and any(isinstance(p, dict) and isinstance(p.get("audio"), str) for p in content):
        parts = [
            {**part, "audio": _audio_size(part["audio"])}
            if isinstance(part, dict) and isinstance(part.get("audio"), str)
            else part
            for part in content
        ]
        return {**event, "item": {**item, "content": parts}}  # type: ignore[dict-item]
    return event


def _audio_size(audio: Any) -> str:
    return f"<{b64_decoded_len(str(audio or ''))} bytes>"


class Connection:
    """Client-side protocol state for one WebSocket connection (see the module docstring for the loop)."""

    def __init__(self, dialect: Dialect | str = "ga", *, envelope: bool = False) -> None:
        self.codec = Codec(dialect, envelope)
        self.conversation = Conversation()
        self.tracker = ResponseTracker()
        # The effective session config the server last reported (GA form), and its id / expiry.
        self.session: Json = {}
        # Client events sent and not yet forgotten, by event id, for linking errors to their cause.
        self._sent: OrderedDict[str, Json] = OrderedDict()
        # Server event ids seen lately (values unused): a repeat is flagged and not folded again.
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._outgoing: list[tuple[Json, str]] = []
        # Items this client created that the server has not answered yet (added, or refused), by item id.
        self._unanswered: OrderedDict[str, tuple[Json, str]] = OrderedDict()
        self._calls: list[FunctionCall] = []
        # The tools of the last session.update sent that set them (a tools list replaces the server's whole list).
        self._sent_tools: list[Any] = []
        # Prefix keeps event ids unique across reconnects of one process.
        self._id_prefix = f"evt_rtw{secrets.token_hex(3)}_"
        self._counter = itertools.count(1)
        # Bytes appended to the input buffer since the last commit/clear, for user-item durations.
        self._buffer_bytes = 0
        self._committing_ms: float | None = None

    @property
    def dialect(self) -> Dialect:
        """``"ga"`` or ``"beta"``."""
        return self.codec.dialect

    @property
    def session_id(self) -> str | None:
        """The server's session id (``sess_…``) once ``session.created`` has arrived."""
        value = self.session.get("id")
        return value if isinstance(value, str) else None

    @property
    def expires_at(self) -> int | None:
        """Unix time (s) at which the server will end the session, when it said so (and plausibly)."""
        value = self.session.get("expires_at")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        return int(value) if 0 <= value <= MAX_EXPIRES_AT else None

    # ------------------------------------------------------------------------------------------ sending

    def new_event_id(self) -> str:
        """A fresh client event id."""
        return f"{self._id_prefix}{next(self._counter)}"

    def send(self, event: Json, *, reply: bool = True) -> str:
        """Validate a client event, give it an ``event_id``, queue its wire text; returns the event id.

        GA-form events are accepted in both dialects; on a beta connection beta-shaped events are accepted too
        (they are read as GA first). Raises :class:`~.errors.ClientEventError` (nothing is queued) when the
        event must not be sent. After calling this, call :meth:`data_to_send`.
        """
        if self.dialect == "beta" and isinstance(event, dict):
            event = client_event_to_ga(event)
        validate_client_event(event)
        event = dict(event)
        event_id = event.setdefault("event_id", self.new_event_id())
        item = event.get("item")
        if event["type"] == "conversation.item.create" and isinstance(item, dict) and "id" not in item:
            # An id of our own: the server's answer can be matched to it, and an item still unanswered when the
            # connection drops can be sent again (see unanswered_items).
            event["item"] = {"id": f"item_{str(event_id).removeprefix('evt_')}", **item}
        text = self.codec.encode(event)
        self._record_sent(event, reply)
        self._track_item(event, text)
        self._outgoing.append((event, text))
        return str(event_id)

    def _record_sent(self, event: Json, reply: bool) -> None:
        self._sent[str(event["event_id"])] = elide_audio(event)
        if len(self._sent) > PENDING_LIMIT:
            self._sent.popitem(last=False)
        etype = event["type"]
        if etype == "input_audio_buffer.append":
            self._buffer_bytes += b64_decoded_len(event["audio"])
        elif etype == "input_audio_buffer.commit":
            self._committing_ms = self._buffer_bytes / BYTES_PER_MS
            self._buffer_bytes = 0
        elif etype == "input_audio_buffer.clear":
            self._buffer_bytes = 0
        elif etype == "session.update" and isinstance(event["session"].get("tools"), list):
            self._sent_tools = event["session"]["tools"]
        self.tracker.client_sent(event, reply=reply)

    @property
    def queued(self) -> int:
        """How many client events wait in :meth:`data_to_send`."""
        return len(self._outgoing)

    def data_to_send(self, now: float | None = None) -> list[tuple[Json, str]]:
        """Drain the queued client events as ``(event, wire_text)`` pairs, in order.

        ``now`` (the caller's clock, in seconds) is when they go out: an unanswered ``response.create`` is
        declared lost that long after it (see :meth:`check_stalled`).
        """
        out, self._outgoing = self._outgoing, []
        if now is not None:
            for event, _ in out:
                if event["type"] == "response.create":
                    self.tracker.mark_sent(str(event["event_id"]), now)
        return out

    def requeue(self, pairs: list[tuple[Json, str]], *, record: bool = False) -> None:
        """Put drained ``(event, wire_text)`` pairs back at the end of the queue as they were (validated and
        recorded already): for a caller that must send something ahead of them, such as the session config.
        ``record``: record them again (the core was reset since they were sent)."""
        for event, text in pairs if record else ():
            self._record_sent(event, True)
            self._track_item(event, text)
        self._outgoing.extend(pairs)

    def _track_item(self, event: Json, text: str) -> None:
        if event["type"] == "conversation.item.create" and isinstance(event.get("item"), dict):
            self._unanswered[str(event["item"].get("id"))] = (event, text)
            if len(self._unanswered) > PENDING_LIMIT:
                self._unanswered.popitem(last=False)

    # ------------------------------------------------------------------------------------------ receiving

    def receive_text(self, text: str | bytes, now: float | None = None) -> Event:
        """Parse and fold one server message; never raises. Then drain :meth:`function_calls_to_run`.

        An event whose ``event_id`` was seen lately, or a second ``response.done`` for one response, comes back
        with ``duplicate`` set and changes nothing. An event that could not be folded into the state (a shape
        not expected) comes back all the same, with ``fold_error`` saying what failed. ``now`` (the caller's
        clock, in seconds) is when it arrived: see :meth:`check_stalled`.
        """
        event = self.codec.decode(text)
        if self._repeated(event.event_id):
            event.duplicate = True
            return event
        try:
            self._fold(event, now)
        except Exception as exc:  # the reader must not break: the event is still returned, flagged
            event.fold_error = f"{type(exc).__name__}: {exc}"
        return event

    def _repeated(self, event_id: str | None) -> bool:
        if event_id is None:
            return False
        if event_id in self._seen:
            return True
        self._seen[event_id] = None
        if len(self._seen) > SEEN_EVENTS_LIMIT:
            self._seen.popitem(last=False)
        return False

    def _fold(self, event: Event, now: float | None) -> None:
        if _malformed(event.data):
            return  # nothing to read in it (it is still returned and logged)
        etype = event.type
        if etype == "error":
            cause_id = error_info(event.data).event_id
            if cause_id is not None:
                event.cause = self._sent.get(cause_id)
                self._unanswered.pop(str((event.cause or {}).get("item", {}).get("id")), None)  # refused
        elif etype in ITEM_ANSWERS:
            self._unanswered.pop(str(event.data.get("item", {}).get("id")), None)
        elif etype in ("session.created", "session.updated"):
            session = event.data.get("session")
            if isinstance(session, dict):
                self.session = session
        elif etype == "input_audio_buffer.committed":
            self._on_committed(event.data)
        self.conversation.apply(event)
        self._calls.extend(self.tracker.server_received(event, now))

    def _on_committed(self, data: Json) -> None:
        item_id = data.get("item_id")
        if not isinstance(item_id, str):
            return
        known = self.conversation.get(item_id)
        if (known is None or known.input_audio_ms is None) and self._committing_ms is not None:
            self.conversation.set_input_audio(item_id, self._committing_ms)
        self._committing_ms = None
        self._buffer_bytes = 0

    def check_stalled(self, now: float, silence_s: float) -> list[LostResponse]:
        """Give up on what the server went silent on, as of ``now`` (the caller's clock, in seconds): a response
        with no event for ``silence_s`` seconds, a ``response.create`` unanswered as long. Returns what was
        declared lost; afterwards the conversation accepts new turns, and :meth:`reply_if_due` sends a reply
        requested meanwhile. Call it when :meth:`stall_deadline` says.
        """
        if not silence_s > 0:
            raise ValueError(f"silence_s must be a positive number of seconds, not {silence_s!r}")
        return self.tracker.check_stalled(now, silence_s)

    def stall_deadline(self, silence_s: float) -> float | None:
        """When (the caller's clock) :meth:`check_stalled` could next declare something lost; None when no
        response is in progress or awaited."""
        return self.tracker.stall_deadline(silence_s)

    def declared_tools(self) -> dict[str, Json]:
        """The function tools the session has, by name: those the server last reported (``session.tools``), and
        those of the last ``session.update`` sent that set tools (it wins: the server's report may not be in yet).
        """
        reported = self.session.get("tools")
        out: dict[str, Json] = {}
        for tool in [*(reported if isinstance(reported, list) else ()), *self._sent_tools]:
            if (
                isinstance(tool, dict)
                and tool.get("type", "function") == "function"
                and isinstance(tool.get("name"), str)
            ):
                out[tool["name"]] = tool
        return out

    def hand_over(self, call: FunctionCall) -> None:
        """``call`` is the user's to answer (a tool declared with raw events): no output is owed for it here, and
        the follow-up of its response (one ``response.create`` after all outputs) is the user's."""
        self.tracker.hand_over(call.call_id)

    def function_calls_to_run(self) -> list[FunctionCall]:
        """Function calls from finished responses that have not been handed out yet."""
        out, self._calls = self._calls, []
        return out

    # ------------------------------------------------------------------------------------------ high level

    def update_session(self, **fields: Any) -> str:
        """``session.update`` from friendly or beta-style names (see :func:`.session_fields`)."""
        return self.send({"type": "session.update", "session": session_fields(**fields)})

    def send_text(self, text: str, *, respond: bool = True) -> list[str]:
        """A user text message, then (``respond=True``) one ``response.create``.

        While a default-conversation response is active (or requested), the create is not sent now (the server
        would refuse it): the reply is due when that response ends, and :meth:`reply_if_due` sends it.
        """
        check_str("text", text, "pass the message as a string (str(value) to send a number)")
        ids = [self.send({"type": "conversation.item.create", "item": build.user_text(text)})]
        if respond:
            if self.tracker.busy:
                self.tracker.reply_requested = True
            else:
                ids.append(self.respond())
        return ids

    def append_audio(self, pcm: bytes) -> str:
        """``input_audio_buffer.append`` of PCM16 24 kHz mono bytes."""
        audio = base64.b64encode(pcm).decode("ascii")
        return self.send({"type": "input_audio_buffer.append", "audio": audio})

    def send_audio_item(self, pcm: bytes, *, respond: bool = True) -> list[str]:
        """A whole utterance as one user ``input_audio`` item (server VAD cannot split it), then
        ``response.create`` if ``respond``."""
        ids = [self.send({"type": "conversation.item.create", "item": build.user_audio(pcm)})]
        if respond:
            ids.append(self.respond())
        return ids

    def commit_audio(self) -> str:
        """``input_audio_buffer.commit``."""
        return self.send({"type": "input_audio_buffer.commit"})

    def clear_audio(self) -> str:
        """``input_audio_buffer.clear``."""
        return self.send({"type": "input_audio_buffer.clear"})

    def respond(self, **response: Any) -> str:
        """``response.create`` with optional response parameters (friendly names as for the session)."""
        event: Json = {"type": "response.create"}
        if response:
            event["response"] = _response_params(response)
        return self.send(event)

    def respond_out_of_band(
        self,
        instructions: str | None = None,
        *,
        input: Iterable[Any] | None = None,
        metadata: Mapping[str, str] | None = None,
        **response: Any,
    ) -> str:
        """An out-of-band ``response.create`` (``conversation: "none"``); returns its event id.

        ``input`` takes items, item ids (turned into ``item_reference``), or plain strings (user messages);
        leave it out to let the response see the default conversation. ``metadata`` also carries
        ``rtwidget_request`` = the event id, so the response can be matched to this request.
        """
        event_id = self.new_event_id()
        params = _response_params(response)
        params["conversation"] = "none"
        if instructions is not None:
            params["instructions"] = instructions
        params["metadata"] = {**(metadata or {}), "rtwidget_request": event_id}
        if input is not None:
            params["input"] = [_input_item(x, self.conversation) for x in input]
        return self.send({"type": "response.create", "event_id": event_id, "response": params})

    def cancel(self, response_id: str | None = None) -> str:
        """``response.cancel`` (harmless if nothing is running: the server's error is marked harmless)."""
        event: Json = {"type": "response.cancel"}
        if response_id is not None:
            event["response_id"] = response_id
        return self.send(event)

    def truncate(self, item_id: str, audio_end_ms: float, content_index: int = 0) -> str | None:
        """``conversation.item.truncate`` at the played position, clamped to the audio received.

        Returns None (and sends nothing) when there is nothing to cut: the whole item was heard.
        """
        check_str("item_id", item_id, "pass the id of the assistant item that was playing", empty=False)
        # A position computed a little below zero (a playback race) is clamped; not a number, or not finite, is not.
        number = isinstance(audio_end_ms, (int, float)) and not isinstance(audio_end_ms, bool)
        negative = number and math.isfinite(audio_end_ms) and audio_end_ms < 0
        end = 0 if negative else int(check_ms("audio_end_ms", audio_end_ms))
        item = self.conversation.get(item_id)
        received = item.audio_ms if item is not None else None
        if received is not None and received > 0 and end >= int(received):
            return None
        return self.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": content_index,
                "audio_end_ms": end,
            }
        )

    def function_output(self, call_id: str, output: Any, *, reply: bool = True) -> str:
        """A ``function_call_output`` (non-string outputs JSON-encoded); ``reply=False`` wants no response."""
        event = {"type": "conversation.item.create", "item": build.function_call_output(call_id, output)}
        return self.send(event, reply=reply)

    def reply_if_due(self) -> str | None:
        """Send exactly one ``response.create`` if the reply rule says one is due; returns its id or None."""
        if self.tracker.response_due():
            return self.respond()
        return None

    def load_history(self, messages: Iterable[Mapping[str, Any]]) -> list[str]:
        """One ``conversation.item.create`` per message, in order, each with its role's content types."""
        return [
            self.send({"type": "conversation.item.create", "item": item}, reply=False)
            for item in build.history_items(messages)
        ]

    def unanswered_items(self) -> list[tuple[Json, str]]:
        """The ``conversation.item.create`` events (and their wire text) the server has neither added nor refused
        yet, oldest first: after a drop, they are not in the conversation, and a reconnect sends them again."""
        return list(self._unanswered.values())

    def reset(self) -> None:
        """Forget the server session (call before reconnecting: a reconnect starts a new session). The tools the
        client last declared stay in :meth:`declared_tools`: they are the client's, and go again to the new one."""
        self._unanswered.clear()
        self.conversation = Conversation()
        self.tracker.reset()
        self._sent_tools = list(self.declared_tools().values())
        self.session = {}
        self._buffer_bytes = 0
        self._committing_ms = None
        self._calls = []


def _malformed(data: Json) -> bool:
    """True for an event whose ``response`` or ``item`` is not an object (or whose response ``output`` is not a
    list): fields of the wrong type are read as absent, and such an event has nothing else to fold."""
    response = data.get("response")
    if response is not None and not (isinstance(response, dict) and isinstance(response.get("output", []), list)):
        return True
    item = data.get("item")
    return item is not None and not isinstance(item, dict)


def _response_params(response: Mapping[str, Any]) -> Json:
    """``response.create.response`` from friendly names (voice, modalities, ...)."""
    params: Json = {}
    for key, value in response.items():
        if key in ("voice",):
            params.setdefault("audio", {}).setdefault("output", {})["voice"] = value
        elif key in ("modalities", "output_modalities"):
            params["output_modalities"] = modalities(value)
        elif key == "max_response_output_tokens":
            params["max_output_tokens"] = value
        else:
            params[key] = value
    return params


def _input_item(value: Any, conversation: Conversation) -> Json:
    if isinstance(value, str):
        if conversation.get(value) is not None:
            return build.item_reference(value)
        return build.user_text(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"out-of-band input must be items, item ids or strings, not {type(value).__name__}")
