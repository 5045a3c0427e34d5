"""Recording a session into a cassette (``rtwidget.cassette``): ``session.record(path)`` /
``session.stop_recording()``.

The recorder is a tap (see :mod:`.taps`): it sees every log entry with its full data on the I/O thread, in order,
and streams it to a :class:`~rtwidget.cassette.CassetteWriter` (wire events to ``events.jsonl``, the audio to its
PCM streams, the session's ``rtwidget.*`` events to ``local.jsonl``). The endpoint's secrets are scrubbed from
everything written; ``session.close()`` finishes the cassette.
"""

from __future__ import annotations

import copy
import importlib.metadata
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import endpoints
from ..cassette import CassetteWriter
from .local_events import RECORDING, LogEntry
from .taps import pcm_of

if TYPE_CHECKING:
    from .._loopthread import LoopThread
    from ..protocol.connection import Connection
    from .taps import Taps

logger = logging.getLogger("rtwidget.session")

# record() and stop_recording() may race (a cell, the widget's button, close()): one recorder swap at a time.
_swap = threading.Lock()


class Recorder:
    """One recording: the tap that feeds a writer, with times counted from ``start`` (the session's clock)."""

    def __init__(self, writer: CassetteWriter, endpoint_of: Callable[[], endpoints.Endpoint | None]) -> None:
        self.writer = writer
        self.start = 0.0
        self._endpoint_of = endpoint_of
        self._endpoint: endpoints.Endpoint | None = None
        #: Why the recording broke off (a full disk...), raised by ``stop_recording()``.
        self.failure: Exception | None = None

    def __call__(self, entry: LogEntry, data: dict[str, Any]) -> None:
        if self.failure is not None:
            return
        endpoint = self._endpoint_of()
        if endpoint is not self._endpoint:  # decided on the first connect: its secrets from then on
            self._endpoint = endpoint
            self.writer.add_secrets(endpoints.secrets_of(endpoint) if endpoint else ())
        event = data if entry.direction != "local" else {"type": entry.type, **data}
        try:
            self.writer.add(entry.time - self.start, entry.direction, event)
        except Exception as exc:  # kept for stop_recording(); the session goes on
            logger.exception("rtwidget: recording to %s failed; the rest is not recorded", self.writer.path)
            self.failure = exc


class RecordingMixin:
    """``record()`` / ``stop_recording()`` of :class:`~rtwidget.session.Session`."""

    _recorder: Recorder | None = None

    if TYPE_CHECKING:
        from .. import endpoints as _endpoints

        model: str
        endpoint: _endpoints.Endpoint | None
        _conn: Connection
        _io: LoopThread
        _taps: Taps

        @property
        def connected(self) -> bool: ...

        def _now(self) -> float: ...

        def _emit_local(self, etype: str, data: dict[str, Any]) -> None: ...

    def record(self, path: str | os.PathLike[str]) -> Path:
        """Record the session into a cassette at ``path`` from now on (before connecting or mid-session); the file
        is written by :meth:`stop_recording` or ``close()``. Returns the path.

        Every wire event both ways with its time, the audio sent and received (stored once, as PCM16), the
        session's config and ``rtwidget.*`` events; never the API key or headers. The format:
        ``docs/cassettes.md``; read it back with ``rtwidget.cassette.Cassette.open(path)``.

        Raises RuntimeError while a recording runs, and FileNotFoundError / IsADirectoryError / PermissionError
        naming ``path`` when no file can be written there (an existing file is replaced).
        """
        with _swap:
            if self._recorder is not None:
                raise RuntimeError(
                    f"this session is already recording to {str(self._recorder.writer.path)!r}: "
                    "call session.stop_recording() first"
                )
            writer = CassetteWriter(path, {"rtwidget": _version(), "model": self.model}, decode=pcm_of)
            recorder = self._recorder = Recorder(writer, lambda: self.endpoint)

        def start() -> None:  # on the I/O thread: no event slips between the config read and the first tap
            recorder.start = self._now()  # the log's clock, which the entries' times read
            config = copy.deepcopy(self._conn.session)
            writer.update_meta(started_at=time.time(), mid_session=self.connected, config=config)
            # Announced before the tap is added (and after it is removed): the cassette holds no mark of itself.
            self._emit_local(RECORDING, {"on": True, "path": str(writer.path)})
            self._taps.add(recorder)

        try:
            self._io.call_or_here(start)
        except BaseException:
            with _swap:
                self._recorder = None
            writer.abort()
            raise
        return writer.path

    @property
    def recording(self) -> Path | None:
        """The cassette being recorded (see :meth:`record`), or None."""
        recorder = self._recorder
        return None if recorder is None else recorder.writer.path

    def stop_recording(self) -> Path | None:
        """Stop recording and finish the cassette; its path (None when nothing was recording).

        Raises the error that broke a recording off (a full disk...), after writing what was recorded before it.
        """
        with _swap:
            recorder, self._recorder = self._recorder, None
        if recorder is None:
            return None
        self._io.call_or_here(lambda: self._taps.remove(recorder))
        endpoint = self.endpoint.describe() if self.endpoint is not None else None
        try:
            path = recorder.writer.close(
                {"ended_at": time.time(), "endpoint": endpoint, "config_at_end": copy.deepcopy(self._conn.session)}
            )
        finally:  # the file is complete (or failed): a handler reading it finds it whole
            off = {"on": False, "path": str(recorder.writer.path)}
            self._io.call_or_here(lambda: self._emit_local(RECORDING, off))
        if recorder.failure is not None:
            raise recorder.failure
        return path

    def _finish_recording(self) -> None:
        """The session closed: finish the recording, if any (a failure is logged, close() goes on)."""
        try:
            self.stop_recording()
        except Exception:
            logger.exception("rtwidget: finishing the recording failed")


def _version() -> str:
    """rtwidget's version as installed (the package itself is a floor above the session)."""
    try:
        return importlib.metadata.version("rtwidget")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
