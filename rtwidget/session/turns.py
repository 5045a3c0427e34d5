"""Turns: one request and the events that answer it, awaited as one result.

- :class:`AskTurn` (``Session.ask``): a user text message, the tools it makes the model call, and the final
  reply, settled once no tool runs, no output is owed and no response is active or due;
- :class:`OutOfBandTurn` (``Session.respond_out_of_band``): a response outside the default conversation,
  recognised by the request id rtwidget puts in its metadata.

A turn is built on the session's I/O loop, sends its request through the protocol core and then watches every
event (``watch`` is an ``on("*")`` handler) until it settles ``result``: a value, the server's refusal of one
of its requests (:class:`RealtimeError`), or :class:`SessionClosed`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import ConnectionLost, RealtimeError, SessionClosed
from ..protocol.connection import Connection
from ..protocol.conversation import Item
from ..protocol.events import Event
from ..protocol.server_errors import error_info
from .local_events import CLOSED, SENT, STATE, TOOL_DONE, ToolCallRecord

T = TypeVar("T")


@dataclass
class Reply:
    """What :meth:`Session.ask` returns: the final reply and everything that led to it."""

    text: str
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    response_ids: list[str] = field(default_factory=list)
    status: str = "completed"
    items: list[Item] = field(default_factory=list)

    def __str__(self) -> str:
        return self.text


@dataclass
class OutOfBandResult:
    """What :meth:`Session.respond_out_of_band` returns: the text and the final ``response`` object."""

    text: str
    response: dict[str, Any]
    metadata: dict[str, Any] | None = None

    def __str__(self) -> str:
        return self.text


def refusal(event: Event) -> RealtimeError:
    """The exception for an ``error`` event that refused one of our requests."""
    info = error_info(event.data)
    return RealtimeError(str(info), code=info.code, event=event)


class Turn(ABC, Generic[T]):
    """One request and its answer: :meth:`send` it (on the I/O loop), feed :meth:`watch` every event."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.result: asyncio.Future[T] = asyncio.get_running_loop().create_future()

    @abstractmethod
    def send(self) -> None:
        """Queue the turn's request in the protocol core (the session flushes it)."""

    @property
    @abstractmethod
    def sent_ids(self) -> list[str]:
        """The event ids of the requests :meth:`send` queued (their refusals fail the turn)."""

    @abstractmethod
    def watch(self, event: Event) -> None:
        """Settle :attr:`result` when ``event`` finishes the turn (an ``on("*")`` handler)."""

    def lost(self, why: str, close_code: int | None) -> ConnectionLost:
        """The exception for a drop under this turn (the session reconnects)."""
        return ConnectionLost(why, close_code)

    def _settled_by_failure(self, event: Event, request_ids: Iterable[str | None]) -> bool:
        """Fail the turn on a refusal of one of ``request_ids``, on the socket closing or dropping (the session
        reconnects, but this turn's answer is lost); True if it did."""
        if event.type == "error" and event.cause and event.cause.get("event_id") in set(request_ids):
            self.result.set_exception(refusal(event))
        elif event.type == STATE and event.get("state") == "reconnecting" and event.get("previous") != "reconnecting":
            self.result.set_exception(self.lost(str(event.get("why") or ""), event.get("close_code")))
        elif event.type == CLOSED:
            self.result.set_exception(SessionClosed(event.get("code"), event.get("reason") or "", why=event.get("why")))
        else:
            return False
        return True


class AskTurn(Turn[Reply]):
    """A user text message, answered once every tool ran and no response is active or due."""

    def __init__(
        self,
        conn: Connection,
        text: str,
        tool_calls: list[ToolCallRecord],
        tools_running: Callable[[], bool],
    ) -> None:
        super().__init__(conn)
        self.text = text
        self._tool_calls = tool_calls  # the session's record, appended to as tools finish
        self._first_tool = len(tool_calls)
        self._tools_running = tools_running
        self._sent_ids: set[str] = set()
        self._response_ids: list[str] = []

    def send(self) -> None:
        self._sent_ids.update(self.conn.send_text(self.text))

    @property
    def sent_ids(self) -> list[str]:
        return sorted(self._sent_ids)

    def watch(self, event: Event) -> None:
        if self.result.done() or self._settled_by_failure(event, self._sent_ids):
            return
        if event.type == "response.created":
            response = event.get("response")
            # Out-of-band responses (conversation_id None) are not ours.
            if isinstance(response, dict) and response.get("conversation_id", "") is not None:
                self._response_ids.append(str(response.get("id")))
        elif event.type in ("response.done", TOOL_DONE, SENT) and self._response_ids and self._finished():
            self.result.set_result(self._reply())

    def lost(self, why: str, close_code: int | None) -> ConnectionLost:
        # The message comes back either way: with the history if the server had added it, else sent again.
        fix = (
            "the message comes back with the conversation: await session.connect() (it waits for the reconnect), "
            "then session.respond() asks for the answer again (ask() again would add the message twice)"
        )
        return ConnectionLost(why, close_code, fix=fix)

    def _finished(self) -> bool:
        tracker = self.conn.tracker
        return not (self._tools_running() or tracker.owed or tracker.busy or tracker.response_due())

    def _reply(self) -> Reply:
        conversation = self.conn.conversation
        last_id = self._response_ids[-1]
        last = conversation.responses.get(last_id)
        return Reply(
            conversation.response_text(last_id),
            self._tool_calls[self._first_tool :],
            list(self._response_ids),
            last.status if last else "completed",
            conversation.response_items(last_id),
        )


class OutOfBandTurn(Turn[OutOfBandResult]):
    """A response outside the default conversation, recognised by the request id in its metadata."""

    def __init__(
        self,
        conn: Connection,
        instructions: str | None,
        input: Iterable[Any] | None,
        metadata: Mapping[str, str] | None,
        fields: dict[str, Any],
    ) -> None:
        super().__init__(conn)
        self._request = (instructions, input, metadata, fields)
        self._event_id: str | None = None
        self._response_id: str | None = None

    def send(self) -> None:
        instructions, input, metadata, fields = self._request
        self._event_id = self.conn.respond_out_of_band(instructions, input=input, metadata=metadata, **fields)

    @property
    def sent_ids(self) -> list[str]:
        return [self._event_id] if self._event_id else []

    def watch(self, event: Event) -> None:
        if self.result.done() or self._settled_by_failure(event, [self._event_id]):
            return
        response = event.get("response") if event.type.startswith("response.") else None
        if not isinstance(response, dict):
            return
        if event.type == "response.created":
            meta = response.get("metadata")
            if isinstance(meta, dict) and meta.get("rtwidget_request") == self._event_id:
                self._response_id = str(response.get("id"))
        elif event.type == "response.done" and self._response_id and response.get("id") == self._response_id:
            text = self.conn.conversation.response_text(self._response_id)
            self.result.set_result(OutOfBandResult(text, response, response.get("metadata")))
