"""The bridge between a Session and its widget: session events -> panel batches and audio; browser actions ->
session calls.

Everything here runs on the session's I/O thread: session handlers and log listeners already do, and the widget
hands browser messages over with ``session.call_soon``. So no state here is touched from two threads.

- Audio deltas leave at once, as binary PCM16 (never base64), so playback never waits for a batch.
- Everything else (event-log rows, items, tools, responses) is gathered and sent as one ``batch`` message at
  most every ``batch_s`` seconds: message rate, not bytes, is what costs in JupyterLab.
- Barge-in: the kernel knows which audio it forwarded and the browser reports what it played; after a flush the
  final report decides whether (and where) to send ``conversation.item.truncate``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from .. import audio as audio_mod
from ..session import CLOSED, CONNECTED, SENT, TOOL_DONE, TOOL_STARTED, LogEntry, Session
from .eventlog import RowLog, is_stream, public
from .panels import ToolBoard, UsageTotals, deleted_view, item_view, response_view

if TYPE_CHECKING:
    from .widget import RealtimeWidget

logger = logging.getLogger("rtwidget.widget")

SAMPLES_PER_MS = audio_mod.SAMPLE_RATE // 1000
# Server errors the user need not see as a notice (they stay in the event log).
_QUIET_ERRORS = {"response_cancel_not_active"}
_COUNTERS_EVERY_S = 1.0


class Bridge:
    """Connects one Session to one RealtimeWidget (every view of the widget shares it)."""

    def __init__(
        self,
        session: Session,
        widget: RealtimeWidget,
        *,
        batch_s: float = 0.05,
        update_s: float = 0.25,
        row_limit: int = 10_000,
    ):
        self.session = session
        self.widget = widget
        self.batch_s = batch_s
        self.update_s = update_s
        self.rows = RowLog(row_limit)
        self.tools = ToolBoard()
        self.usage = UsageTotals()
        self._new_rows: dict[int, dict[str, Any]] = {}
        self._row_updates: dict[int, dict[str, Any]] = {}
        self._dirty_items: set[str] = set()
        self._deleted_items: set[str] = set()
        self._tool_updates: dict[str, dict[str, Any]] = {}
        self._dirty_responses: set[str] = set()
        self._flush_handle: Any = None
        # Something new (a row, an item, a tool, a response) is pending, not just a merged row or a delta.
        self._urgent = False
        # Audio bookkeeping, per assistant item: samples forwarded to the browser, samples it reported played.
        self.forwarded: dict[str, int] = {}
        self.played: dict[str, int] = {}
        self._truncate_on_final = False
        self._audio_seq = 0
        # Items whose playback was flushed: deltas still in flight for them are not played.
        self._silenced: set[str] = set()
        # Push-to-talk: held, and how much audio was appended while held.
        self.ptt_down = False
        self.ptt_ms = 0.0
        self.counters = {"events": 0, "client": 0, "server": 0, "rows_dropped": 0, "audio_in_ms": 0, "audio_out_ms": 0}
        self._counters_sent = 0.0
        # Set while the kernel itself writes a browser-settable trait, so its observer does not echo it back.
        self.syncing = False
        session.log_listeners.append(self._on_log)
        session.on("*", self._on_event)

    def detach(self) -> None:
        """Stop listening to the session."""
        if self._on_log in self.session.log_listeners:
            self.session.log_listeners.remove(self._on_log)
        self.session.off("*", self._on_event)

    # ============================================================================ session -> browser

    def _on_log(self, entry: LogEntry) -> None:
        row, created = self.rows.add(entry.time, entry.direction, entry.type, entry.size, entry.data, entry.cause_id)
        if created:
            self._new_rows[row["id"]] = row
            self._urgent = True
        elif row["id"] not in self._new_rows:
            self._row_updates[row["id"]] = row
        c = self.counters
        c["events"] += 1
        if entry.direction in ("client", "server"):
            c[entry.direction] += 1
        c["rows_dropped"] = self.rows.dropped
        self._schedule()

    def _on_event(self, event: Any) -> None:
        etype: str = event.type
        data: dict[str, Any] = event.data
        if etype == "response.output_audio.delta":
            self._forward_audio(data)
        elif etype == "input_audio_buffer.speech_started":
            if self._audio_unplayed():
                self._flush_playback("speech_started")
        elif etype == SENT:
            if data.get("type") == "response.create":
                for view in self.tools.response_requested():
                    self._tool_updates[str(view["call_id"])] = view
        elif etype == TOOL_STARTED:
            view = self.tools.started(data)
            self._tool_updates[str(view["call_id"])] = view
        elif etype == TOOL_DONE:
            view = self.tools.done(data)
            self._tool_updates[str(view["call_id"])] = view
        elif etype in ("session.created", "session.updated"):
            self._on_session(data.get("session") or {})
        elif etype == "response.done":
            totals = self.usage.add((data.get("response") or {}).get("usage"))
            self.widget.usage = dict(totals)
        elif etype == "error":
            self._on_error(data)
        elif etype == CONNECTED:
            self._on_connected(data)
        elif etype == CLOSED:
            self._on_closed(data)
        self._mark_dirty(etype, data)
        if self._tool_updates or (self._dirty_items and not is_stream(etype)) or self._deleted_items:
            self._urgent = True
        self._schedule()

    def _forward_audio(self, data: dict[str, Any]) -> None:
        delta = data.get("delta")
        if not isinstance(delta, str):
            return
        pcm = audio_mod.b64decode(delta)
        item_id = str(data.get("item_id") or "")
        if item_id in self._silenced:
            return
        self.forwarded[item_id] = self.forwarded.get(item_id, 0) + len(pcm) // 2
        self._audio_seq += 1
        self.counters["audio_out_ms"] += len(pcm) // (2 * SAMPLES_PER_MS)
        message = {
            "kind": "audio",
            "item_id": item_id,
            "response_id": data.get("response_id"),
            "seq": self._audio_seq,
            "t": time.time() * 1000,
        }
        self.widget.send(message, [pcm])
        if not self.widget.voice_locked:
            self.widget.voice_locked = True  # the API refuses voice changes once the model has spoken

    def _audio_unplayed(self) -> bool:
        return any(n > self.played.get(item_id, 0) for item_id, n in self.forwarded.items())

    def _flush_playback(self, reason: str) -> None:
        """Tell the browser to drop its queued audio; its final ``played`` report then decides the truncate."""
        self._truncate_on_final = True
        self._silenced.update(self.forwarded)
        self.widget.send({"kind": "flush", "reason": reason})

    def _on_session(self, config: dict[str, Any]) -> None:
        w = self.widget
        self.syncing = True
        try:
            w.session_config = config
            audio = config.get("audio") or {}
            detection = (audio.get("input") or {}).get("turn_detection", "absent")
            if detection != "absent":
                w.turn_mode = detection.get("type", "server_vad") if isinstance(detection, dict) else "push_to_talk"
            voice = (audio.get("output") or {}).get("voice") or config.get("voice")
            if isinstance(voice, str):
                w.voice = voice
            if isinstance(config.get("instructions"), str):
                w.instructions = config["instructions"]
        finally:
            self.syncing = False
        if self.session.expires_at:
            w.expires_at = float(self.session.expires_at)

    def _on_error(self, data: dict[str, Any]) -> None:
        raw = data.get("error")
        err: dict[str, Any] = raw if isinstance(raw, dict) else {"message": str(raw)}
        if err.get("code") in _QUIET_ERRORS:
            return
        self.notice("error", f"Server error {err.get('code') or err.get('type') or ''}: {err.get('message')}")

    def _on_connected(self, data: dict[str, Any]) -> None:
        w = self.widget
        w.endpoint = {
            "kind": data.get("kind"),
            "label": data.get("label"),
            "dialect": data.get("dialect"),
            "model": self.session.model,
        }
        w.connected_at = time.time()
        w.status, w.status_message = "connected", ""

    def _on_closed(self, data: dict[str, Any]) -> None:
        w = self.widget
        w.status = "closed"
        code, reason = data.get("code"), data.get("reason")
        w.status_message = f"closed (code {code}{': ' + reason if reason else ''})"
        w.connected_at = 0.0
        self.forwarded.clear()
        self.played.clear()
        self.widget.send({"kind": "stop"})
        self.flush()  # the loop may stop right after this: send what is pending now

    def _mark_dirty(self, etype: str, data: dict[str, Any]) -> None:
        if etype == "conversation.item.deleted":
            self._deleted_items.add(str(data.get("item_id")))
            return
        item_id = data.get("item_id")
        if isinstance(item_id, str):
            self._dirty_items.add(item_id)
        item = data.get("item")
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            self._dirty_items.add(item["id"])
        response = data.get("response")
        if etype.startswith("response.") and isinstance(response, dict) and response.get("id"):
            self._dirty_responses.add(str(response["id"]))
            for out in response.get("output") or ():
                if isinstance(out, dict) and isinstance(out.get("id"), str):
                    self._dirty_items.add(out["id"])

    def _schedule(self) -> None:
        """Arrange the next batch: soon for anything new, later when only merged rows changed.

        Updates of merged rows (a mic append or an audio delta joining its run) come ten or more times a second
        and change nothing but a counter, yet each comm message costs the browser a lot more than its bytes
        (bench/RESULTS.md): those wait up to ``update_s``; a new row, item, tool or response goes within
        ``batch_s``.
        """
        urgent = self._urgent
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the I/O loop (tests feeding events by hand): send now
            self.flush()
            return
        due = loop.time() + (self.batch_s if urgent else self.update_s)
        if self._flush_handle is not None:
            if self._flush_handle.when() <= due:
                return
            self._flush_handle.cancel()  # something new came in: bring the batch forward
        self._flush_handle = loop.call_at(due, self.flush)

    def flush(self) -> None:
        """Send everything pending as one ``batch`` message (and the counters, at most once a second)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        message: dict[str, Any] = {"kind": "batch"}
        if self._new_rows:
            message["rows"] = [public(r) for r in self._new_rows.values()]
        if self._row_updates:
            message["row_updates"] = [public(r) for r in self._row_updates.values()]
        items = self._item_views(self._dirty_items) + [deleted_view(i) for i in self._deleted_items]
        if items:
            message["items"] = items
        if self._tool_updates:
            message["tools"] = [dict(v) for v in self._tool_updates.values()]
        responses = self.session.connection.conversation.responses
        if self._dirty_responses:
            message["responses"] = [response_view(responses[r]) for r in self._dirty_responses if r in responses]
        self._new_rows, self._row_updates, self._tool_updates = {}, {}, {}
        self._dirty_items, self._deleted_items, self._dirty_responses = set(), set(), set()
        self._urgent = False
        if len(message) > 1:
            self.widget.send(message)
        now = time.monotonic()
        if now - self._counters_sent >= _COUNTERS_EVERY_S:
            self._counters_sent = now
            if self.widget.counters != self.counters:
                self.widget.counters = dict(self.counters)

    def _item_views(self, ids: set[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        conversation = self.session.connection.conversation
        order = {item.id: i for i, item in enumerate(conversation.items)}
        views = []
        for item_id in ids:
            item = conversation.get(item_id)
            if item is None:
                continue
            lane = conversation.responses.get(item.response_id or "")
            out_of_band = bool(lane and lane.out_of_band)
            views.append(item_view(item, index=order.get(item_id), out_of_band=out_of_band))
        return views

    def snapshot(self, view: str) -> dict[str, Any]:
        """Everything a new view needs to rebuild its panels."""
        conversation = self.session.connection.conversation
        ids = {item.id for item in conversation.items}
        for lane in conversation.out_of_band():
            ids.update(lane.item_ids)
        return {
            "kind": "snapshot",
            "view": view,
            "rows": [public(r) for r in self.rows.last(self.widget.log_limit)],
            "rows_dropped": self.rows.total - min(len(self.rows), self.widget.log_limit),
            "items": self._item_views(ids),
            "tools": [dict(v) for v in self.tools.calls.values()],
            "responses": [response_view(r) for r in conversation.responses.values()],
        }

    def notice(self, level: str, text: str) -> None:
        """A line the user must see in the widget."""
        self.widget.send({"kind": "notice", "level": level, "text": text})

    # ============================================================================ browser -> session

    def handle(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """One message from the browser (on the I/O thread). Never raises: problems become notices."""
        kind = content.get("kind")
        handler = getattr(self, f"_on_{kind}_msg", None) if isinstance(kind, str) else None
        if handler is None:
            logger.warning("rtwidget: unknown widget message kind %r", kind)
            return
        try:
            handler(content, buffers)
        except Exception as exc:  # the user sees why the action failed; the widget keeps working
            logger.debug("rtwidget: widget action %s failed", kind, exc_info=True)
            self.notice("error", f"{kind}: {exc}")

    def _on_hello_msg(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        self.flush()  # what is pending goes first, so the snapshot that follows already holds it
        self.widget.send(self.snapshot(str(content.get("view") or "")))

    def _on_mic_msg(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        if not buffers or not self.session.connected:
            return
        if self.widget.turn_mode == "push_to_talk" and not self.ptt_down:
            return  # push-to-talk: only audio captured while the button is held counts
        pcm = bytes(buffers[0])
        ms = len(pcm) / (2 * SAMPLES_PER_MS)
        self.session.append_audio(pcm)
        self.counters["audio_in_ms"] += int(ms)
        if self.ptt_down:
            self.ptt_ms += ms

    def _on_ptt_msg(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        if not self.session.connected:
            self.notice("warning", "Not connected: press Connect first.")
            return
        if content.get("down"):
            if self.session.connection.tracker.active or self._audio_unplayed():
                self.interrupt()  # speaking over the model: it stops, and remembers only what was heard
            self.session.clear_audio()
            self.ptt_down, self.ptt_ms = True, 0.0
            return
        if not self.ptt_down:
            return
        self.ptt_down = False
        if self.ptt_ms < 100:
            self.session.clear_audio()
            self.notice("warning", "Hold push-to-talk a little longer: the API needs at least 100 ms of audio.")
            return
        self.session.commit_audio()
        self.session.respond()

    def _on_text_msg(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        text = str(content.get("text") or "").strip()
        if not text:
            return
        if not self.session.connected:
            self.notice("warning", "Not connected: press Connect first.")
            return
        self.session.send_text(text)

    def _on_interrupt_msg(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        self.interrupt()

    def interrupt(self) -> None:
        """Cancel the active response, flush playback, truncate at the played position (when the report comes)."""
        if self.session.connected and self.session.connection.tracker.active:
            self.session.cancel()
        self._flush_playback("interrupt")

    def _on_played_msg(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        item_id = content.get("item_id")
        samples = int(content.get("samples") or 0)
        if isinstance(item_id, str):
            self.played[item_id] = max(self.played.get(item_id, 0), samples)
        if not content.get("final") or not self._truncate_on_final:
            return
        self._truncate_on_final = False
        if not isinstance(item_id, str) or not self.session.connected:
            return
        if samples < self.forwarded.get(item_id, 0):  # playback had not finished: cut what was not heard
            self.session.truncate(item_id, samples / SAMPLES_PER_MS)
        self.forwarded[item_id] = self.played[item_id] = samples

    def _on_connect_msg(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        self.widget.connect()

    def _on_disconnect_msg(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        self.widget.disconnect()

    def _on_mic_state_msg(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        error = content.get("error")
        if error:
            logger.info("rtwidget: microphone unavailable: %s", error)

    # ============================================================================ trait changes from the browser

    def apply(self, name: str, value: Any) -> None:
        """A browser-set trait changed: tell the session (on the I/O thread)."""
        if name == "turn_mode":
            self.ptt_down = False
            self.session.update(turn_detection=None if value == "push_to_talk" else value)
            if value == "push_to_talk" and self.session.connected:
                self.session.clear_audio()
        elif name == "voice":
            if self.widget.voice_locked:
                self.notice("warning", "The voice cannot change once the model has spoken in this session.")
                return
            self.session.update(voice=value)
        elif name == "instructions":
            self.session.update(instructions=value)
