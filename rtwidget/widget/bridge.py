"""The bridge between a Session and its widget: session events -> panel batches, audio and notices; browser
messages -> session calls.

Everything here runs on the session's I/O thread: session handlers and log listeners already do, and the widget
hands browser messages over with ``session.call_soon`` (which runs them in place when the session has no loop,
never connected or closed: then nothing else touches this state). Two methods are called by the widget on its
own thread: :meth:`Bridge.connect` only sets the status traits and starts the session's connect, and
:meth:`Bridge.detach` only removes the bridge's handler and listener (thread-safe on the bus) and sets a flag
the I/O-thread code reads.

The bridge knows the widget only through what it is given at construction: ``send`` (a ``kind`` message with
optional binary buffers), ``set_traits`` (the kernel sets synced traits) and ``trait`` (read one). It never
imports the widget class.

- Audio deltas go as binary PCM16 (never base64): the first of an item at once, later ones coalesced into one
  ``audio`` message per ~100 ms (:class:`~.batch.AudioCoalescer`), which carries the panel batch when one is due.
- Everything else (event-log rows, items, tools, responses) goes as ``batch`` messages (:mod:`.batch`).
- Barge-in: :class:`~.playhead.Playhead` decides whether, and where, to truncate after a flush.
- Failures of user code (the session's ``rtwidget.error``) reach the browser as ``exception`` messages.
- Every text that may quote an exception, a URL or a server's words (the status line, notices, exceptions) goes
  through :func:`~rtwidget.endpoints.redact`: traits are saved with the notebook, and a key in an exception's
  ``?api-key=`` or ``user:password@`` must not be.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from .. import audio
from ..endpoints import redact
from ..session import (
    CLOSED,
    CONNECTED,
    ERROR,
    SENT,
    STATE,
    TOOL_DONE,
    TOOL_STARTED,
    LogEntry,
    Session,
    error_info,
)
from ..session.approvals import TOOL_APPROVAL
from ..session.lifecycle import CONNECTING, IDLE
from ..session.local_events import EXPIRING, HINT, LOCAL_PREFIX, RECONNECTED
from ..session.reconnect import RECONNECTING
from .actions import BrowserActions
from .batch import AudioChunk, AudioCoalescer, PanelBatch
from .direct import DirectChannel, open_channel
from .eventlog import RowLog, clip, public, redacted
from .hints import HintNotices
from .logroute import ROUTER
from .media import MediaActions
from .panels import (
    MAX_TEXT,
    ToolBoard,
    all_item_ids,
    item_views,
    registered_tool_views,
    response_views,
    usage_view,
)
from .playhead import Playhead
from .replay import ReplayActions
from .settings import SettingsActions, session_traits
from .status import STATUS_OF_STATE, connected_at, expiring_text, reconnected_text, reconnecting_text

logger = logging.getLogger("rtwidget.widget")

_COUNTERS_EVERY_S = 1.0
# User-code failures a new view gets in its snapshot (the newest).
EXCEPTIONS_KEPT = 20
# Response views kept for a new view's usage table (the newest).
RESPONSES_KEPT = 2000
# The info notice of a session on the local server (what the session logs at INFO when no key names another).
NO_KEY_NOTICE = (
    "No API key found: talking to rtwidget's local server (offline stand-in). Set OPENAI_API_KEY for the real API."
)


class Send(Protocol):
    """Sends one ``kind`` message to every view, with optional binary buffers."""

    def __call__(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None: ...


class Bridge:
    """Connects one Session to one widget (every view of the widget shares it)."""

    def __init__(
        self,
        session: Session,
        *,
        send: Send,
        set_traits: Callable[..., None],
        trait: Callable[[str], Any],
        batch_s: float = 0.05,
        update_s: float = 0.25,
        audio_s: float = 0.1,
        row_limit: int = 10_000,
    ) -> None:
        self.session = session
        self._send = send
        self._set = set_traits
        self._trait = trait
        self.rows = RowLog(row_limit)
        self.tools = ToolBoard()
        self.batch = PanelBatch(self.flush, batch_s=batch_s, update_s=update_s, metrics=session._metrics)
        self.audio_out = AudioCoalescer(self._send_audio, interval_s=audio_s)
        # The browser's messages over a WebSocket to this kernel, if it reaches it (direct.py). False: comm only.
        self.direct_enabled = True
        self.direct: DirectChannel | None = None
        self.playhead = Playhead()
        self.exceptions: deque[dict[str, Any]] = deque(maxlen=EXCEPTIONS_KEPT)
        self._audio_seq = 0
        self.counters = {"events": 0, "client": 0, "server": 0, "rows_dropped": 0, "audio_in_ms": 0, "audio_out_ms": 0}
        self._counters_sent = 0.0
        self._detached = False
        self._told_local = False
        self._event_handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "response.output_audio.delta": self._forward_audio,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "session.created": self._on_session_created,
            "session.updated": self._on_session,
            "response.done": lambda _data: self.publish_usage(),  # the session's metrics folded it (a tap)
            "error": self._on_server_error,
            SENT: self._on_sent,
            TOOL_STARTED: lambda data: self.batch.tools([self.tools.started(data)]),
            TOOL_DONE: lambda data: self.batch.tools([self.tools.done(data)]),
            TOOL_APPROVAL: lambda data: self.batch.tools([self.tools.approval(data)]),
            CONNECTED: self._on_connected,
            STATE: self._on_state,
            RECONNECTED: self._on_reconnected,
            EXPIRING: self._on_expiring,
            CLOSED: self._on_closed,
            ERROR: self._on_exception,
            HINT: HintNotices(self.notice),  # the doctor's hints as notices (their rows are the log's)
        }
        # Item ids shown (sent, not removed); response views sent (a reload shows all that the usage counts).
        self.shown: set[str] = set()
        self.responses: dict[str, dict[str, Any]] = {}
        # What the browser asks for: talk, type, interrupt (actions); the session's settings (settings).
        self.actions = BrowserActions(self)
        self.settings = SettingsActions(self)
        # Who answers browser messages: the first owner with a ``msg_<kind>`` method.
        self.media = MediaActions(self)  # Record, downloads, an item's audio on click (media.py)
        # A replay refuses the live-only ones first (replay.py).
        self.owners: list[object] = [ReplayActions(self), self.actions, self.settings, self.media]
        # A registry change waits to be published (set in any thread; cleared on the I/O thread).
        self._tools_pending = False
        # On the I/O thread, so no event falls between what is taken from the session and what is listened to.
        session.call_soon(self._attach)

    def _attach(self) -> None:
        if self._detached:
            return
        self.session.add_log_listener(self._on_log)
        # Internal: the user's session.off() must not cut the widget off its session.
        self.session._on_internal("*", self._on_event)
        self.session.tools.listeners.append(self._tools_changed)
        if self._detached:  # detached meanwhile, from the widget's thread
            self._unlisten()
            return
        ROUTER.add(self)  # the session's warnings show here, not as stderr under the widget's cell
        self._publish_tools()
        self._adopt()

    def _adopt(self) -> None:
        """Take what the session already has: a widget shown for a session that connected without one."""
        session = self.session
        entries = list(session.log)
        for entry in entries[-(self.rows.rows.maxlen or len(entries)) :]:
            self._on_log(entry)
        if session.endpoint is not None:
            self._on_connected(session.endpoint.describe())
            self._set(connected_at=connected_at(session, entries))
        if session.config:
            self._on_session({"session": session.config})
        conversation = session.conversation_state
        usage = session.usage  # built once: it copies and prices every response
        if usage["totals"]["responses"]:
            self.publish_usage(usage)
        self.batch.items(all_item_ids(conversation))
        self.batch.responses(conversation.responses)
        for event in session.errors:
            if event.type == ERROR:
                self.exceptions.append(clip(redacted({k: v for k, v in event.data.items() if k != "type"}), MAX_TEXT))
        self.batch.schedule()

    def detach(self) -> None:
        """Stop listening to the session: no handler or listener of the bridge stays registered, and nothing
        more is sent (a batch already scheduled is dropped)."""
        if self._detached:
            return
        self._detached = True
        ROUTER.remove(self)
        self._unlisten()
        if self.direct is not None:
            self.direct.close()

    def _unlisten(self) -> None:
        self.session.remove_log_listener(self._on_log)
        self.session._off_internal("*", self._on_event)
        if self._tools_changed in self.session.tools.listeners:
            self.session.tools.listeners.remove(self._tools_changed)

    def _tools_changed(self) -> None:
        # Any thread (the registry calls its listeners where it was changed): one publish per burst of changes.
        if not self._tools_pending:
            self._tools_pending = True
            self.session.call_soon(self._publish_tools)

    def _publish_tools(self) -> None:
        """The registered tools to the ``registered_tools`` trait (the Tools panel lists them before any call)."""
        self._tools_pending = False  # before reading: a change from now on publishes again
        if not self._detached:
            self._set(registered_tools=registered_tool_views(self.session.tools))

    # ============================================================================ session -> browser

    def _on_log(self, entry: LogEntry) -> None:
        if self._detached:
            return
        # rtwidget's own events quote exceptions and close reasons (rare, small): redacted like the status line.
        data = redacted(entry.data) if entry.direction == "local" else entry.data
        row, created = self.rows.add(entry.time, entry.direction, entry.type, entry.size, data, entry.cause_id)
        self.batch.row(row, created)
        c = self.counters
        c["events"] += 1
        if entry.direction in ("client", "server"):
            c[entry.direction] += 1
        c["rows_dropped"] = self.rows.dropped
        self.batch.schedule()

    def _on_event(self, event: Any) -> None:
        if self._detached:
            return
        etype: str = event.type
        # rtwidget's own events may quote an exception (a tool's error, a close reason): redacted, except
        # rtwidget.sent, which carries a client event as sent (microphone audio included: too big to scan).
        local = etype.startswith(LOCAL_PREFIX) and etype != SENT
        data: dict[str, Any] = redacted(event.data) if local else event.data
        handler = self._event_handlers.get(etype)
        if handler is not None:
            handler(data)
        self.batch.event(etype, data)
        self.batch.schedule()

    def _forward_audio(self, data: dict[str, Any]) -> None:
        delta = data.get("delta")
        if not isinstance(delta, str):
            return
        item_id = str(data.get("item_id") or "")
        if item_id in self.playhead.flushed:
            return  # a delta still in flight for an item whose playback was flushed
        chunk = AudioChunk(item_id, data.get("response_id"), audio.b64decode(delta), time.time() * 1000)
        self.audio_out.add(chunk)  # sends now (the first delta of an item) or with the next audio message
        if not self._trait("voice_locked"):
            self._set(voice_locked=True)  # the API refuses voice changes once the model has spoken

    def _send_audio(self, with_batch: bool = False) -> None:
        """Send the pending audio deltas as one ``audio`` message, with the panel batch if one is due by the
        next audio message (one comm message instead of two). Only what is sent counts as forwarded."""
        chunks = self.audio_out.take()
        if self._detached or not chunks:
            return
        # A reply's first audio goes alone, as small as it can be: its batch follows on its own timer.
        first = not all(c.item_id in self.playhead.forwarded for c in chunks)
        metas: list[dict[str, Any]] = []
        buffers: list[bytes] = []
        for c in chunks:
            if not self.playhead.forward(c.item_id, len(c.pcm) // audio.BYTES_PER_SAMPLE):
                continue
            self._audio_seq += 1
            self.counters["audio_out_ms"] += len(c.pcm) // audio.BYTES_PER_MS
            metas.append({"item_id": c.item_id, "response_id": c.response_id, "seq": self._audio_seq, "t": c.t})
            buffers.append(c.pcm)
        if not metas:
            return
        message: dict[str, Any] = {"kind": "audio", "chunks": metas}
        if with_batch or (not first and self.batch.due_within(self.audio_out.interval_s)):
            batch = self.batch.take(self.session.conversation_state)
            if batch is not None:
                self._shown(batch)
                message["batch"] = {k: v for k, v in batch.items() if k != "kind"}
        self._send(message, buffers)

    def offer_direct(self) -> None:
        """Tell the browser where the direct channel is (started now if need be); nothing when it is off or
        cannot start. The URL's token is its only key: sent as a custom message, never saved in a trait."""
        if not self.direct_enabled or self._detached:
            return
        self.direct = self.direct or open_channel(self.session, self.handle)
        if self.direct is None:
            self.direct_enabled = False
            return
        self._send({"kind": "direct", "url": self.direct.url})

    def _on_speech_started(self, data: dict[str, Any]) -> None:
        if self.playhead.unplayed() or self.audio_out.pending:
            self._flush_playback("speech_started")  # the server cancels the response itself

    def _flush_playback(self, reason: str) -> None:
        """Tell the browser to drop its queued audio; its final ``played`` report then decides the truncate.
        Audio not sent yet is dropped here: it never plays, and the playhead never counted it."""
        self.playhead.flushed.update(self.audio_out.drop())
        self.playhead.flush()
        self._send({"kind": "flush", "reason": reason})

    def _on_sent(self, data: dict[str, Any]) -> None:
        if data.get("type") == "response.create":
            self.batch.tools(self.tools.response_requested())

    def _on_session_created(self, data: dict[str, Any]) -> None:
        # A new server session, unless reconnecting (the replay brings the same items back, with the same ids):
        # the conversation shown is that of the new session only.
        if self.session.state != RECONNECTING:
            self.batch.items(self.shown, deleted=True)
        self._on_session(data)

    def _on_session(self, data: dict[str, Any]) -> None:
        self._set(**session_traits(data.get("session") or {}, self.session.expires_at))

    def publish_usage(self, usage: dict[str, Any] | None = None) -> None:
        """The ``usage`` trait: the session's usage (``usage``, if already read), cost and latency summary."""
        self._set(usage=usage_view(usage or self.session.usage, self.session.latency_summary()))

    def _on_server_error(self, data: dict[str, Any]) -> None:
        info = error_info(data)
        if not info.harmless:  # a harmless race stays in the event log only
            self.notice("error", f"Server error {info.label}: {info.message}")

    def _on_exception(self, data: dict[str, Any]) -> None:
        failed = self.tools.failure(data)  # a tool's traceback also goes to its row in the Tools panel
        if failed is not None:
            self.batch.tools([failed])
        error = clip({k: v for k, v in data.items() if k != "type"}, MAX_TEXT)
        self.exceptions.append(error)
        self._send({"kind": "exception", "error": error})

    def _on_connected(self, data: dict[str, Any]) -> None:
        endpoint = {
            "kind": data.get("kind"),
            "label": data.get("label"),
            "dialect": data.get("dialect"),
            "model": self.session.model,
        }
        # The status says "connected" once the session is open (the handshake done): see _on_state.
        self._set(endpoint=endpoint, connected_at=time.time())
        if data.get("kind") == "local" and not self._told_local:
            self._told_local = True
            self.notice("info", NO_KEY_NOTICE)

    def _on_state(self, data: dict[str, Any]) -> None:
        state, previous = data.get("state"), data.get("previous")
        if state == RECONNECTING:
            self._status(STATUS_OF_STATE[RECONNECTING], reconnecting_text(data))
        elif state == IDLE and previous == CONNECTING:
            self._status("idle", "could not connect")  # who started the connect says why (see _connect_done)
        elif isinstance(state, str) and state in STATUS_OF_STATE:
            self._status(STATUS_OF_STATE[state])
        # "closed" is told by rtwidget.closed, with the code and the reason.

    def _on_reconnected(self, data: dict[str, Any]) -> None:
        line, missing = reconnected_text(data)
        self._status("connected", line)
        # Items not restored are not in the new server session: no longer shown.
        self.batch.items(self.shown - all_item_ids(self.session.conversation_state), deleted=True)
        if missing:
            self.notice("warning", missing)

    def _on_expiring(self, data: dict[str, Any]) -> None:
        line = expiring_text(data)
        self._status(str(self._trait("status")), line)
        self.notice("warning", line[0].upper() + line[1:] + ".")

    def _on_closed(self, data: dict[str, Any]) -> None:
        code, reason, why = data.get("code"), data.get("reason"), data.get("why")
        message = f"closed (code {code}{': ' + reason if reason else ''}){': ' + why if why else ''}"
        self._status("closed", message, connected_at=0.0)
        self._send_audio()  # what is pending goes out before the stop (its batch too)
        self.playhead.reset()
        self._send({"kind": "stop"})
        self.flush()  # the loop may stop right after this: send what is pending now

    def flush(self) -> None:
        """Send everything pending as one ``batch`` message (and the counters, at most once a second); with
        audio pending, as one ``audio`` message that carries the batch."""
        if self._detached:
            return
        if self.audio_out.pending:
            self._send_audio(with_batch=True)  # one message: the audio early, rather than the batch alone
        message = self.batch.take(self.session.conversation_state)
        if message is not None:
            self._shown(message)
            self._send(message)
        now = time.monotonic()
        if now - self._counters_sent >= _COUNTERS_EVERY_S:
            self._counters_sent = now
            if self._trait("counters") != self.counters:
                self._set(counters=dict(self.counters))

    def _shown(self, message: dict[str, Any]) -> None:
        for item in message.get("items", ()):
            (self.shown.discard if item["deleted"] else self.shown.add)(item["id"])
        for response in message.get("responses", ()):
            self.responses[response["id"]] = response
            if len(self.responses) > RESPONSES_KEPT:
                del self.responses[next(iter(self.responses))]

    def snapshot(self, view: str) -> dict[str, Any]:
        """Everything a new view needs to rebuild its panels."""
        conversation = self.session.conversation_state
        limit = int(self._trait("log_limit"))
        items = item_views(conversation, all_item_ids(conversation))
        self.shown.update(item["id"] for item in items)
        responses = {**self.responses, **response_views(conversation, self.session._metrics)}
        return {
            "kind": "snapshot",
            "view": view,
            "rows": [public(r) for r in self.rows.last(limit)],
            "rows_dropped": self.rows.total - min(len(self.rows), limit),
            "items": items,
            "tools": [dict(v) for v in self.tools.calls.values()],
            "responses": list(responses.values()),
            "exceptions": list(self.exceptions),
        }

    def notice(self, level: str, text: str) -> None:
        """A line the user must see in the widget (redacted: it may quote an exception)."""
        self._send({"kind": "notice", "level": level, "text": redact(text)})

    def logs_here(self) -> bool:
        """Whether a log record emitted now comes from this bridge's session (its I/O thread): the log router
        (:mod:`.logroute`) then shows it here as a notice."""
        return not self._detached and self.session._io.in_thread()

    def _status(self, status: str, message: str = "", **traits: Any) -> None:
        """Set the status traits (synced, and saved with the notebook), the message redacted, and ``traits``."""
        self._set(status=status, status_message=redact(message), **traits)

    # ============================================================================ connecting

    def connect(self) -> concurrent.futures.Future[Any] | None:
        """Connect the session in the background (from any thread); the status traits follow. Returns the
        connect's future (done when the session is open, or failed), None when already connected."""
        if self.session.connected:
            return None
        self._status("connecting")
        future = self.session.start()
        future.add_done_callback(self._connect_done)
        return future

    def _connect_done(self, future: Any) -> None:
        if future.cancelled():  # closed while connecting
            self._status("closed")
            return
        exc = future.exception()
        if exc is not None:
            self._status("error", f"could not connect: {exc}")
            self.notice("error", f"Could not connect: {exc}")

    # ============================================================================ browser -> session

    def handle(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """One message from the browser (on the I/O thread). Never raises: problems become notices."""
        kind = content.get("kind")
        handler = None
        if isinstance(kind, str):
            for owner in self.owners:
                handler = getattr(owner, f"msg_{kind}", None)
                if handler is not None:
                    break
        if handler is None:
            logger.warning("rtwidget: unknown widget message kind %r", kind)
            return
        try:
            handler(content, buffers)
        except Exception as exc:  # the user sees why the action failed; the widget keeps working
            logger.debug("rtwidget: widget action %s failed", kind, exc_info=True)
            self.notice("error", f"{kind}: {exc}")

    def apply(self, name: str, value: Any) -> None:
        """The browser set a trait the session mirrors (``turn_mode``, ``voice``, ``instructions``): tell the
        session (on the I/O thread)."""
        self.settings.apply(name, value)
