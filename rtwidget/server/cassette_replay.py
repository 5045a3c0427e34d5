"""Replaying a cassette: the engine behind ``rtwidget serve --cassette FILE`` and ``LocalServer(cassette=...)``.

:class:`ReplayEngine` has the calling pattern of :class:`~.engine.Engine` (``start``, ``receive_text``,
``data_to_send``, ``next_deadline``, ``advance``, ``close_code``), so the local server pumps either one. Instead of
computing answers it plays a recorded session back:

- the server events recorded before the first client event (``session.created``) are sent on connect;
- each client event received is matched to the next recorded client event, in order: same ``type``, and the same
  text wherever the recorded one had a ``text`` (a typed message); appends loosely (a microphone chunks as it
  goes: an extra append is taken with no answer, missing ones are passed over); then the server events recorded
  after that client event (up to the next one, or up to its acknowledgement when that came later: see
  :func:`release_points`) are sent, with their audio restored, at the recorded pace
  (``pace="realtime"``, measured from the moment the client event arrived) or at once (``"fast"``);
- ids the client chose (its ``event_id``, the ``id`` of an item it creates, ...) may differ from the recorded
  ones: each recorded id is mapped to the one the client used, and the server events replayed name the client's.
  Ids the server made are replayed as recorded (the client then uses those, so they match);
- a client that diverges (another event type than the next recorded one, another text, or an event past the end of
  the recording) gets one ``error`` event with code ``cassette_mismatch`` naming the index and both events, and
  the connection is closed (code 1000, reason ``cassette_mismatch``): the rest of the recording answers a
  conversation that did not happen.

Every connection replays the cassette from its start. GA dialect only (a cassette holds GA events).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any

from rtwidget.cassette import Cassette, CassetteEvent, CassetteSource, load_cassette

from .api_errors import ApiError
from .config import Json, Pace

__all__ = ["MISMATCH", "CassetteSource", "ReplayEngine", "load_cassette", "release_points"]

#: The ``error.code`` a diverging client gets (and the close reason that follows it).
MISMATCH = "cassette_mismatch"
APPEND = "input_audio_buffer.append"
# Keys whose string values are ids the client may have chosen (mapped from the recorded to the client's).
_ID_KEYS = frozenset({"event_id", "id", "item_id", "previous_item_id", "call_id", "response_id"})
# Client event type -> the server events that acknowledge it (sent while the server handles it).
_ACKS = {
    "session.update": ("session.updated",),
    "conversation.item.create": ("conversation.item.added", "conversation.item.done"),
    "conversation.item.retrieve": ("conversation.item.retrieved",),
    "conversation.item.truncate": ("conversation.item.truncated",),
    "conversation.item.delete": ("conversation.item.deleted",),
    "input_audio_buffer.commit": ("input_audio_buffer.committed",),
    "input_audio_buffer.clear": ("input_audio_buffer.cleared",),
    "response.create": ("response.created",),
}
# The longest part of an event quoted in an error message.
_QUOTE_CHARS = 200


class ReplayEngine:
    """One connection's replay of ``cassette`` (see the module docstring). ``clock`` gives seconds (time.time)."""

    def __init__(self, cassette: Cassette, *, pace: Pace, clock: Callable[[], float]) -> None:
        self._cassette = cassette
        self._pace = pace
        self._clock = clock
        events = cassette.events
        # Indices into `events` of the recorded client events, in order.
        self._client_at = [i for i, e in enumerate(events) if e.direction == "client"]
        # The last event index released on connect, and by each recorded client event; the last one released.
        self._release_first = (self._client_at[0] if self._client_at else len(events)) - 1
        self._release = release_points(events, self._client_at)
        self._released = -1
        self._has_appends = any(events[i].type == APPEND for i in self._client_at)
        self._matched = 0
        # Recorded id -> the id the client used instead.
        self._ids: dict[str, str] = {}
        # Server events waiting for their time: (due clock value, index into events), in order.
        self._queue: deque[tuple[float, int]] = deque()
        self._last_due = float("-inf")
        self._out: list[str] = []
        self.close_code: int | None = None
        self.close_reason = ""
        self.close_reset = False

    # ---------------------------------------------------------------------------------------- the Engine's API

    def start(self) -> None:
        """Queue the server events recorded before the first client event (``session.created``)."""
        self._schedule_after(-1)
        self.advance(self._clock())

    def reject_beta(self) -> None:
        """Refuse a beta-dialect client (a cassette replays GA events): one ``error``, then close code 4000."""
        self._error("beta_api_shape_disabled", "A cassette replays GA events: connect without 'OpenAI-Beta'.", None)
        self._close(4000, "beta_api_shape_disabled")

    def receive_text(self, text: str | bytes) -> None:
        """Match one client message to the recording; queue what followed it (or the mismatch error)."""
        if self.close_code is not None:
            return
        try:
            event = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            event = {"type": f"<not JSON: {exc}>"}
        if not isinstance(event, dict):
            event = {"type": f"<not an object: {type(event).__name__}>"}
        if self._follow_audio(event.get("type")):
            return
        problem = self._mismatch(event)
        if problem is not None:
            event_id = event.get("event_id")
            self._error(MISMATCH, problem, event_id if isinstance(event_id, str) else None)
            self._close(1000, MISMATCH)
            return
        index = self._client_at[self._matched]
        self._map_ids(self._cassette.events[index].event, event)
        self._schedule_after(index)
        self._matched += 1
        self.advance(self._clock())

    def _follow_audio(self, etype: Any) -> bool:
        """Audio is chunked as the microphone goes, so appends are matched loosely in a recording that has any:
        an append where the recording has another event is taken with no answer (True); another event where the
        recording has appends passes over them, releasing what they brought (VAD events, responses)."""
        if not self._has_appends:
            return False
        if etype == APPEND:
            return self._next_type() != APPEND
        while self._next_type() == APPEND:
            self._schedule_after(self._client_at[self._matched])
            self._matched += 1
        return False

    def _next_type(self) -> str | None:
        """The type of the next recorded client event (None past the last)."""
        if self._matched >= len(self._client_at):
            return None
        return self._cassette.events[self._client_at[self._matched]].type

    def data_to_send(self) -> list[str]:
        """Serialized server events to write, in order; the queue is emptied."""
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        """The clock value at which the next recorded server event is due, or None."""
        if self.close_code is not None or not self._queue:
            return None
        return self._queue[0][0]

    def advance(self, now: float) -> None:
        """Release every recorded server event due at ``now``."""
        while self._queue and self._queue[0][0] <= now and self.close_code is None:
            _, index = self._queue.popleft()
            # Ids renamed before the audio is restored: the walk never meets (nor hashes) the base64 of a delta.
            event = self._cassette.with_audio(_renamed(self._cassette.events[index].event, self._ids))
            self._out.append(json.dumps(event, separators=(",", ":")))

    # ---------------------------------------------------------------------------------------- internals

    def _schedule_after(self, index: int) -> None:
        """Queue the server events the recording released by ``events[index]`` (see :func:`release_points`),
        timed from that event (the first ones from the first of them)."""
        events = self._cassette.events
        now = self._clock()
        end = self._release[self._matched] if index >= 0 else self._release_first
        anchor: float | None = events[index].time if index >= 0 else None
        for i in range(self._released + 1, end + 1):
            if events[i].direction != "server":
                continue
            if anchor is None:
                anchor = events[i].time
            due = float("-inf") if self._pace == "fast" else now + events[i].time - anchor
            self._last_due = max(self._last_due, due)
            self._queue.append((self._last_due, i))
        self._released = max(self._released, end)

    def _mismatch(self, event: Json) -> str | None:
        """Why ``event`` does not match the next recorded client event, or None when it does."""
        got = event.get("type")
        total = len(self._client_at)
        if self._matched >= total:
            return (
                f"the cassette has no more client events (it recorded {total}); received {got!r}: "
                f"{_quote(event)}. Replay the calls the recording made, in the same order."
            )
        recorded = self._cassette.events[self._client_at[self._matched]]
        where = f"client event #{self._matched} (of {total})"
        if got != recorded.type:
            return (
                f"{where}: the cassette recorded {recorded.type!r} but received {got!r}. "
                f"Recorded: {_quote(recorded.event)}; received: {_quote(event)}"
            )
        want, have = _texts(recorded.event), _texts(event)
        if want != have:
            return f"{where} ({got!r}): the cassette recorded the text {want!r} but received {have!r}"
        return None

    def _map_ids(self, recorded: Any, received: Any) -> None:
        """Remember each id the client chose differently from the recording (walking both events in step)."""
        if isinstance(recorded, dict) and isinstance(received, dict):
            for key, value in recorded.items():
                if key not in received:
                    continue
                mine = received[key]
                if key in _ID_KEYS and isinstance(value, str) and isinstance(mine, str):
                    if value != mine:
                        self._ids[value] = mine
                else:
                    self._map_ids(value, mine)
        elif isinstance(recorded, list) and isinstance(received, list):
            for a, b in zip(recorded, received, strict=False):
                self._map_ids(a, b)

    def _error(self, code: str, message: str, event_id: str | None) -> None:
        event = {
            "type": "error",
            "event_id": f"event_{MISMATCH}_{self._matched}",
            **ApiError(message, code).event(event_id),
        }
        self._out.append(json.dumps(event, separators=(",", ":")))

    def _close(self, code: int, reason: str) -> None:
        self.close_code = code
        self.close_reason = reason
        self._queue.clear()


def release_points(events: list[CassetteEvent], client_at: list[int]) -> list[int]:
    """For each recorded client event (``client_at``: their indices in ``events``), the index of the last event
    whose server events are released when the client sends it: up to the next client event, or further, up to its
    acknowledgement (``session.updated`` for ``session.update``, ...; an ``error`` naming its event id) when that
    was recorded only after the client's next event (a client that sent two events at once). Both servers handle
    client events in order, so whatever came before the acknowledgement did not depend on the next event; a client
    that waits for the acknowledgement before its next event then gets it instead of waiting forever."""
    refused: dict[str, int] = {}  # client event id -> the first error naming it
    for i, recorded in enumerate(events):
        error = recorded.event.get("error") if recorded.type == "error" else None
        if isinstance(error, dict) and isinstance(error.get("event_id"), str):
            refused.setdefault(error["event_id"], i)
    points: list[int] = []
    for n, index in enumerate(client_at):
        point = (client_at[n + 1] if n + 1 < len(client_at) else len(events)) - 1
        event_id = events[index].event.get("event_id")
        ack = refused.get(event_id, -1) if isinstance(event_id, str) else -1
        if ack < index:
            ack = _ack_of(events, index)
        points.append(max(point, ack, points[-1] if points else -1))
    return points


def _ack_of(events: list[CassetteEvent], index: int) -> int:
    """The index of the last server event acknowledging client event ``events[index]`` (-1 when none)."""
    event = events[index].event
    kinds = _ACKS.get(events[index].type, ())
    if not kinds:
        return -1
    item = event.get("item")
    item_id = item.get("id") if isinstance(item, dict) else None
    found: dict[str, int] = {}
    for i in range(index + 1, len(events)):
        recorded = events[i]
        if recorded.direction != "server":
            continue
        if recorded.type in kinds and recorded.type not in found:
            acked = recorded.event.get("item")
            if item_id is None or (isinstance(acked, dict) and acked.get("id") == item_id):
                found[recorded.type] = i
                if len(found) == len(kinds):
                    break
    return max(found.values(), default=-1)


def _texts(event: Any) -> list[str]:
    """Every ``text`` string in an event (the typed messages), in order."""
    if isinstance(event, dict):
        own = [event["text"]] if isinstance(event.get("text"), str) else []
        return own + [t for key, value in event.items() if key != "text" for t in _texts(value)]
    if isinstance(event, list):
        return [t for value in event for t in _texts(value)]
    return []


def _renamed(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with every string that is a mapped recorded id replaced by the client's."""
    if not ids:
        return value
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, dict):
        return {key: _renamed(v, ids) for key, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, ids) for v in value]
    return value


def _quote(event: Json) -> str:
    text = json.dumps(event, separators=(",", ":"))
    return text if len(text) <= _QUOTE_CHARS else text[:_QUOTE_CHARS] + "..."
