"""The client-event methods of :class:`~rtwidget.session.session.Session` (a mixin, so that module stays about
the lifecycle and the pump).

Each method hands its work to the I/O loop: the protocol core validates the client event (a
:class:`~rtwidget.errors.ClientEventError` names the problem, and nothing is sent), gives it an event id and
queues it; the session's pump then moves it to the writer. All are safe from any thread and return event ids.

Sends before ``connect()`` (or while connecting) are validated and queued, and go out in order once the socket
opens; on a closing or closed session they raise :class:`~rtwidget.errors.SessionClosed` and send nothing.

Bad arguments raise a TypeError or ValueError (a :class:`~rtwidget.errors.ClientEventError` for an event the API
would refuse) that names the argument and the fix, and nothing is sent or queued: plain arguments are checked
here on the caller's thread, events by the protocol core before they are queued, and ``load_history`` builds and
checks every item before the first is queued.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from .. import audio as audio_mod
from .._loopthread import LoopThread
from ..errors import ClientEventError
from ..protocol.connection import Connection
from ..protocol.validate import check_bool, check_ms, check_str
from .doctoring import input_dbfs

T = TypeVar("T")

_UNSET = object()
# How many recent update() calls can still be taken back when the server refuses one.
UNDO_KEPT = 64


class SendingMixin:
    """``send``, ``update``, ``send_text``, the audio buffer, ``respond``, ``cancel``, ``truncate``, history."""

    _io: LoopThread
    _conn: Connection
    _config: dict[str, Any]
    # event_id of each recent update() -> the config values it replaced (_UNSET: the field was not set).
    _config_undo: dict[str, dict[str, Any]]
    _state: str
    # Provided by the session: move the core's queued client events to the writer (the pump), and refuse a call
    # in the session's current state (the lifecycle).
    _flush: Callable[[], None]
    _require: Callable[..., None]
    _check_queue: Callable[[int], None]
    # Provided by the doctor (.doctoring): a refused raw send, the level of audio appended.
    _doctor_refused: Callable[[Any, Exception], None]
    _doctor_input: Callable[[float, float], None]

    def _send_via(self, fn: Callable[[], T], adding: int = 1) -> T:
        """Run ``fn`` (which queues ``adding`` client events in the core) on the I/O loop, flush, and return its
        result.

        On a closing or closed session it raises SessionClosed at once (no I/O thread is started for it); while
        reconnecting, a RealtimeError when the events would take the queue past its bound.
        """
        self._require("sending", socket=False)

        def run() -> T:
            self._check_queue(adding)  # on the I/O loop, where the queue and the state change
            result = fn()
            self._flush()
            return result

        return self._io.call(run, start=self._state == "idle")

    def send(self, event: dict[str, Any]) -> str:
        """Send any client event (validated first; ClientEventError names the problem); returns its event_id."""

        def run() -> str:
            try:
                return self._conn.send(event)
            except ClientEventError as exc:
                refused = exc
            # The doctor explains a refusal too, before the caller sees it; outside the except, so that a hint
            # handler's own failure is not reported as raised "during handling of" the refusal.
            self._doctor_refused(event, refused)
            raise refused

        return self._send_via(run)

    def update(self, **session_fields: Any) -> str:
        """``session.update`` with friendly or beta-style names (``voice=``, ``turn_detection=``, ...)."""

        def run() -> str:
            event_id = self._conn.update_session(**session_fields)
            # What a reconnect sends: only once the core accepted it, and taken back if the server refuses it.
            self._config_undo[event_id] = {k: self._config.get(k, _UNSET) for k in session_fields}
            while len(self._config_undo) > UNDO_KEPT:
                self._config_undo.pop(next(iter(self._config_undo)))
            self._config.update(session_fields)
            return event_id

        return self._send_via(run)

    def _undo_refused_update(self, cause_id: str | None) -> None:
        """On the I/O loop: the server refused the ``update()`` sent as ``cause_id``; its fields leave the config
        (so a later connect does not send them again)."""
        undo = self._config_undo.pop(cause_id, None) if cause_id else None
        for key, value in (undo or {}).items():
            if value is _UNSET:
                self._config.pop(key, None)
            else:
                self._config[key] = value

    def send_text(self, text: str, respond: bool = True) -> list[str]:
        """A user text message, then ``response.create`` if ``respond``; returns the event ids."""
        check_str("text", text, "pass the message as a string (str(value) to send a number)")
        check_bool("respond", respond)
        return self._send_via(lambda: self._conn.send_text(text, respond=respond))

    def append_audio(self, pcm: audio_mod.PcmLike, sample_rate: int = audio_mod.SAMPLE_RATE) -> list[str]:
        """Stream microphone audio into the input buffer (resampled to 24 kHz PCM16, sent in 100 ms appends).

        ``pcm`` and ``sample_rate`` are read as by :func:`rtwidget.audio.to_pcm16` (which says what each dtype
        and shape means, and what is refused). Empty audio appends nothing and returns ``[]`` (a microphone
        callback may have nothing yet); on a closed session it still raises SessionClosed.
        """
        data = audio_mod.to_pcm16(pcm, sample_rate)
        if not data:
            self._require("sending", socket=False)
            return []
        pieces = list(audio_mod.chunks(data, 100))
        level = (input_dbfs(data), audio_mod.duration_ms(len(data)))  # measured here, not on the I/O thread

        def run() -> list[str]:
            ids = [self._conn.append_audio(c) for c in pieces]
            self._doctor_input(*level)
            return ids

        return self._send_via(run, adding=len(pieces))

    def commit_audio(self) -> str:
        """``input_audio_buffer.commit`` (needs at least 100 ms of audio in the buffer)."""
        return self._send_via(self._conn.commit_audio)

    def clear_audio(self) -> str:
        """``input_audio_buffer.clear``."""
        return self._send_via(self._conn.clear_audio)

    def send_audio(
        self,
        pcm: audio_mod.PcmLike,
        sample_rate: int = audio_mod.SAMPLE_RATE,
        commit: bool = True,
        respond: bool = True,
    ) -> list[str]:
        """Send a whole utterance (bytes or numpy, any rate).

        With ``commit=True`` it becomes one user ``input_audio`` item (so server VAD cannot split it), then
        ``response.create`` if ``respond``. With ``commit=False`` it is only appended to the input buffer.
        ``pcm`` and ``sample_rate`` are read as by :func:`rtwidget.audio.to_pcm16`; empty audio raises
        ValueError (an empty utterance is a mistake, and the server would refuse it).
        """
        check_bool("commit", commit)
        check_bool("respond", respond)
        data = audio_mod.to_pcm16(pcm, sample_rate)
        if not data:
            raise ValueError("pcm is empty: send_audio() needs at least one sample of audio")
        if not commit:
            return self.append_audio(data)
        level = (input_dbfs(data), audio_mod.duration_ms(len(data)))

        def run() -> list[str]:
            ids = self._conn.send_audio_item(data, respond=respond)
            self._doctor_input(*level)
            return ids

        return self._send_via(run)

    def respond(self, **response_fields: Any) -> str:
        """``response.create`` with optional overrides (``instructions=``, ``voice=``, ``modalities=``, ...)."""
        return self._send_via(lambda: self._conn.respond(**response_fields))

    def cancel(self) -> str:
        """``response.cancel``. Harmless if nothing is running."""
        return self._send_via(self._conn.cancel)

    def truncate(self, item_id: str, audio_end_ms: float) -> str | None:
        """Cut an assistant item at the audio actually played (clamped; None if all of it was heard).

        ``item_id`` is a non-empty str; ``audio_end_ms`` a finite number of milliseconds >= 0 (not a bool).
        """
        check_str("item_id", item_id, "pass the id of the assistant item that was playing", empty=False)
        end_ms = check_ms("audio_end_ms", audio_end_ms)
        return self._send_via(lambda: self._conn.truncate(item_id, end_ms))

    def load_history(self, messages: Iterable[Mapping[str, Any]]) -> list[str]:
        """Add earlier messages (``[{"role": "user", "content": "..."}]`` or items) with the right content types.

        All or nothing: every message is converted and checked before the first item is queued; a bad one raises
        TypeError or ValueError naming ``history[i]`` and the field (see
        :func:`rtwidget.protocol.items.history_items`), and nothing is sent.
        """
        return self._send_via(lambda: self._conn.load_history(messages))
