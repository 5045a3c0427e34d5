"""Usage, cost and latency per turn, folded from the session's log by a tap (see :mod:`.taps`).

For each response of the default conversation a :class:`TurnMetrics` keeps when its turn was triggered (the
server's ``input_audio_buffer.speech_stopped``, or the client's commit of the buffer, its user text, its function
outputs), when the server created it, when its first audio delta came, when the browser first played it (the
widget's playback reports, through :meth:`Metrics.audible`), when it was done, and its tokens and cost. Times are
seconds on the log's clock (``LogEntry.time``). Usage totals count every ``response.done``, out-of-band ones too:
they are billed as well.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import prices
from ..protocol.pcm import SAMPLE_RATE
from .local_events import LogEntry

if TYPE_CHECKING:
    from ..endpoints import Endpoint

#: Turns and responses kept (oldest dropped first); totals count them all.
MAX_TURNS = 1000
_MAX_OPEN = 64
_AUDIO_DELTAS = frozenset({"response.output_audio.delta", "response.audio.delta"})
LOCAL_NOTE = (
    "local server: nothing is billed; the token counts are the local server's own estimates, priced as OpenAI "
    "would price them"
)
#: The steps of a turn summarised by ``latency_summary()``: name -> (from, to).
STEPS = {
    "trigger_to_created": ("t_trigger", "t_created"),
    "created_to_first_audio": ("t_created", "t_first_audio"),
    "first_audio_to_audible": ("t_first_audio", "t_first_audible"),
    "trigger_to_first_audio": ("t_trigger", "t_first_audio"),
    "trigger_to_audible": ("t_trigger", "t_first_audible"),
    "trigger_to_done": ("t_trigger", "t_done"),
}


@dataclass
class TurnMetrics:
    """One response of the default conversation: what triggered it, its times (seconds, the log's clock), its
    tokens (from ``response.done``'s usage) and its cost in USD (None when the model has no price)."""

    response_id: str
    trigger: str  # "speech" | "text" | "tool" | "other"
    t_trigger: float | None
    t_created: float
    t_first_audio: float | None = None
    t_first_audible: float | None = None  # when the browser began playing it (its first playback report)
    t_done: float | None = None
    status: str | None = None
    input_text: int = 0
    input_audio: int = 0
    input_image: int = 0
    cached_text: int = 0
    cached_audio: int = 0
    cached_image: int = 0
    output_text: int = 0
    output_audio: int = 0
    total_tokens: int = 0
    cost_usd: float | None = None

    def latency_ms(self) -> dict[str, Any]:
        """The turn's waterfall: ``created``, ``first_audio``, ``audible`` and ``done`` in ms from its start (None:
        not reached, or never, as a text-only answer's audio), measured from the trigger; ``start`` is
        ``"trigger"``, or ``"created"`` when the trigger's time is unknown (then ``created`` is 0)."""
        start = self.t_created if self.t_trigger is None else self.t_trigger
        times = {"created": self.t_created, "first_audio": self.t_first_audio}
        times |= {"audible": self.t_first_audible, "done": self.t_done}
        return {
            "trigger": self.trigger,
            "start": "created" if self.t_trigger is None else "trigger",
            **{step: None if t is None else round((t - start) * 1000, 1) for step, t in times.items()},
        }


def flat_usage(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """A ``usage`` object as the flat token counts of :class:`TurnMetrics` (cached counts are within inputs)."""
    return _flat(prices.token_counts(usage or {}), _total_tokens(usage))


def _flat(n: Mapping[str, int], total: int) -> dict[str, int]:
    """Billable counts (:func:`rtwidget.prices.token_counts`) as :class:`TurnMetrics`' flat token counts."""
    return {
        "input_text": n["text_in"] + n["cached_text_in"],
        "input_audio": n["audio_in"] + n["cached_audio_in"],
        "input_image": n["image_in"] + n["cached_image_in"],
        "cached_text": n["cached_text_in"],
        "cached_audio": n["cached_audio_in"],
        "cached_image": n["cached_image_in"],
        "output_text": n["text_out"],
        "output_audio": n["audio_out"],
        "total_tokens": total,
    }


def _total_tokens(usage: Mapping[str, Any] | None) -> int:
    total = (usage or {}).get("total_tokens")
    return total if isinstance(total, int) and not isinstance(total, bool) and total > 0 else 0


class Metrics:
    """The tap: folds the log into turns and usage. Fed on the I/O thread; read from any (under a lock)."""

    def __init__(
        self,
        model: Callable[[], str],
        endpoint: Callable[[], Endpoint | None],  # only its kind is read: ``local`` is never billed
        clock: Callable[[], float],
        max_turns: int = MAX_TURNS,
    ) -> None:
        self._model = model
        self._endpoint = endpoint
        self._clock = clock
        self._lock = threading.Lock()
        self._max = max_turns
        self.turns: deque[TurnMetrics] = deque(maxlen=max_turns)
        self.responses: deque[dict[str, Any]] = deque(maxlen=max_turns)
        # Over every response.done with usage: how many, their billable counts summed, their total_tokens summed.
        self._n_done = 0
        self._summed: dict[str, int] = dict.fromkeys(prices.token_counts({}), 0)
        self._summed_total = 0
        # Response id -> its turn, and -> its cost (None: unknown), for the widget's response views (I/O thread).
        self._turn_of: OrderedDict[str, TurnMetrics] = OrderedDict()
        self._cost_of: OrderedDict[str, float | None] = OrderedDict()
        self.server_model: str | None = None  # as session.created / session.updated report it
        self._pending: tuple[str, float] | None = None  # the trigger of the next response
        self._open: dict[str, TurnMetrics] = {}  # response id -> its turn, until done
        self._items: OrderedDict[str, TurnMetrics] = OrderedDict()  # audio item id -> its turn (for audible)

    @property
    def model(self) -> str:
        """The model the costs are priced at: the server's word for it, else the session's."""
        return self.server_model or self._model()

    @property
    def billed(self) -> bool:
        """False on rtwidget's local server (and before the endpoint is known)."""
        endpoint = self._endpoint()
        return endpoint is not None and endpoint.kind != "local"

    # ---------------------------------------------------------------- the tap (I/O thread)

    def __call__(self, entry: LogEntry, data: dict[str, Any]) -> None:
        if entry.duplicate:
            return
        etype = entry.type
        if etype in _AUDIO_DELTAS:
            self._audio(entry.time, data)
        elif entry.direction == "client":
            self._client(entry.time, etype, data)
        elif etype == "input_audio_buffer.speech_stopped":
            self._pending = ("speech", entry.time)
        elif etype == "response.created":
            self._created(entry.time, data.get("response") or {})
        elif etype == "response.done":
            self._done(entry.time, data.get("response") or {})
        elif etype in ("session.created", "session.updated"):
            model = (data.get("session") or {}).get("model")
            self.server_model = model if isinstance(model, str) and model else self.server_model

    def _client(self, t: float, etype: str, data: dict[str, Any]) -> None:
        if etype == "input_audio_buffer.commit":
            self._pending = ("speech", t)
        elif etype == "conversation.item.create":
            item = data.get("item") or {}
            if item.get("type") == "function_call_output":
                self._pending = ("tool", t)
            elif item.get("type", "message") == "message" and item.get("role") == "user":
                self._pending = ("text", t)
        elif etype == "response.create" and self._pending is None and not _out_of_band_request(data):
            self._pending = ("other", t)

    def _created(self, t: float, response: dict[str, Any]) -> None:
        rid = response.get("id")
        if not isinstance(rid, str) or _out_of_band(response):
            return
        trigger, t_trigger = self._pending or ("other", None)
        self._pending = None
        turn = TurnMetrics(rid, trigger, t_trigger, t)
        self._open[rid] = turn
        if len(self._open) > _MAX_OPEN:  # responses that never ended (a dropped connection, a lost response)
            del self._open[next(iter(self._open))]
        _bounded_put(self._turn_of, rid, turn, self._max)
        with self._lock:
            self.turns.append(turn)

    def _audio(self, t: float, data: dict[str, Any]) -> None:
        turn = self._open.get(str(data.get("response_id")))
        if turn is None:
            return
        if turn.t_first_audio is None:
            turn.t_first_audio = t
        item_id = data.get("item_id")
        if isinstance(item_id, str) and item_id not in self._items:
            _bounded_put(self._items, item_id, turn, self._max)

    def _done(self, t: float, response: dict[str, Any]) -> None:
        rid = response.get("id")
        usage = response.get("usage")
        counts = prices.token_counts(usage or {})
        flat = _flat(counts, _total_tokens(usage))
        cost_usd = prices.cost_of_counts(self.model, counts).total if usage else None
        if isinstance(rid, str):
            _bounded_put(self._cost_of, rid, cost_usd, self._max)
        turn = self._open.pop(rid, None) if isinstance(rid, str) else None
        if turn is not None:
            turn.t_done = t
            turn.status = response.get("status")
            for key, value in flat.items():
                setattr(turn, key, value)
            turn.cost_usd = cost_usd
        with self._lock:
            if usage:
                self._n_done += 1
                for key, value in counts.items():
                    self._summed[key] += value
                self._summed_total += flat["total_tokens"]
            self.responses.append(
                {
                    "response_id": rid,
                    "out_of_band": _out_of_band(response),
                    "status": response.get("status"),
                    **flat,
                    "cost_usd": cost_usd,
                }
            )

    def audible(self, item_id: str, samples: int, t: float | None = None) -> str | None:
        """A playback report: the browser has played ``samples`` of ``item_id`` by ``t`` (default: now on the
        log's clock, when the report reached the kernel). The first report with samples marks the turn audible
        at ``t`` less the audio it says was played (reports come every 250 ms at most, so the report's own time
        would be late by up to that), never before the audio reached the kernel. Returns the turn's response id
        when this report marked it (None otherwise), so its view can be shown afresh."""
        turn = self._items.get(item_id) if samples > 0 else None
        if turn is None or turn.t_first_audible is not None:
            return None
        now = self._clock() if t is None else t
        started = now - samples / SAMPLE_RATE
        turn.t_first_audible = max(started, turn.t_first_audio) if turn.t_first_audio is not None else started
        return turn.response_id

    def turn(self, response_id: str) -> TurnMetrics | None:
        """The turn of a default-conversation response (None: out of band, or not seen). On the I/O thread."""
        return self._turn_of.get(response_id)

    def response_cost(self, response_id: str) -> float | None:
        """A response's cost in USD once done (None: not done, no usage, or no price). On the I/O thread."""
        return self._cost_of.get(response_id)

    # ---------------------------------------------------------------- reading (any thread)

    def usage(self) -> dict[str, Any]:
        """Totals, their cost, each response's tokens and cost, and whether any of it is billed."""
        with self._lock:
            summed = dict(self._summed)
            totals = {"responses": self._n_done, **_flat(summed, self._summed_total)}
            per_response = [dict(r) for r in self.responses]
        model = self.model
        billed = self.billed
        note = "" if billed else LOCAL_NOTE if self._endpoint() is not None else "not connected yet: nothing billed"
        return {
            "model": model,
            "billed": billed,
            "note": note,
            "totals": totals,
            "cost": prices.cost_of_counts(model, summed),
            "responses": per_response,
        }

    def turn_list(self) -> list[TurnMetrics]:
        with self._lock:
            return list(self.turns)

    def latency_summary(self) -> dict[str, dict[str, float | int | None]]:
        """Each step of :data:`STEPS` over the session's turns: ``{"n", "p50", "p95"}`` in seconds (None with
        no turn measured); percentiles by linear interpolation between the closest ranks."""
        turns = self.turn_list()
        summary: dict[str, dict[str, float | int | None]] = {}
        for step, (start, end) in STEPS.items():
            values = sorted(
                b - a
                for a, b in ((getattr(turn, start), getattr(turn, end)) for turn in turns)
                if a is not None and b is not None
            )
            summary[step] = {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95)}
        return summary


def percentile(sorted_values: list[float], p: float) -> float | None:
    """The ``p``-th percentile of sorted values, interpolated linearly (numpy's default); None if empty."""
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


class MetricsMixin:
    """``session.turn_metrics``, ``session.usage``, ``session.latency_summary()`` (see :class:`Metrics`)."""

    _metrics: Metrics

    @property
    def turn_metrics(self) -> list[TurnMetrics]:
        """Each default-conversation response's trigger, times, tokens and cost, oldest first (bounded)."""
        return self._metrics.turn_list()

    @property
    def usage(self) -> dict[str, Any]:
        """Token usage in total and per response, with cost (``rtwidget.prices``); ``billed`` is False (and
        ``note`` says why) on the local server."""
        return self._metrics.usage()

    def latency_summary(self) -> dict[str, dict[str, float | int | None]]:
        """p50 / p95 (seconds) of each step of a turn over the session: trigger -> created -> first audio ->
        first audible -> done."""
        return self._metrics.latency_summary()


def _bounded_put(index: OrderedDict[str, Any], key: str, value: Any, limit: int) -> None:
    index[key] = value
    while len(index) > limit:
        index.popitem(last=False)


def _out_of_band(response: Mapping[str, Any]) -> bool:
    return "conversation_id" in response and response["conversation_id"] is None


def _out_of_band_request(data: Mapping[str, Any]) -> bool:
    return (data.get("response") or {}).get("conversation") == "none"
