"""Where the item audio's bytes live: out of RAM, in anonymous temporary files, read back on demand.

An :class:`AudioSpool` is an append-only byte space: ``append(data)`` returns the offset at which ``data`` now
lives, ``read(offset, length)`` gives it back, ``release(offset, length)`` says it is no longer needed. The space
is cut into segments of :data:`SEGMENT_BYTES`, each an anonymous temporary file (``tempfile.TemporaryFile``: it has
no name, and the OS deletes it when it is closed or the process ends) plus a RAM tail of at most :data:`TAIL_BYTES`
of its newest bytes, written to the file when it fills (so small deltas make few writes, the newest audio reads
back from RAM, and a session with less audio than that opens no file). A segment whose bytes are all released is
closed: its disk space goes back to the OS. The item store releases audio oldest first, so the disk holds the
kept audio plus at most one segment.

Failure never reaches the writer (the session's reader, through its tap): when a temporary file cannot be created
or written (disk full, no writable temp dir), the spool logs one warning and keeps the bytes in RAM from then on
(RAM segments, released the same way). A read that fails raises ``OSError`` to the reader, naming the cause.

Not thread-safe by itself: its owner (the item store) holds a lock around every call.
"""

from __future__ import annotations

import bisect
import logging
import tempfile
import weakref
from collections import deque
from typing import IO

logger = logging.getLogger("rtwidget.session")

#: The size of one segment (one temporary file): the disk used beyond the kept audio is at most this.
SEGMENT_BYTES = 16 * 1024 * 1024
#: The newest bytes of a segment held in RAM before they are written to its file (about 2.7 s of PCM16 at 24 kHz).
TAIL_BYTES = 256 * 1024


class _Segment:
    """Bytes ``[start, start + size)`` of the spool: ``[0, flushed)`` of them in ``file``, the rest in ``tail``."""

    __slots__ = ("file", "flushed", "live", "start", "tail")

    def __init__(self, start: int, file: IO[bytes] | None = None) -> None:
        self.start = start
        self.file = file
        self.flushed = 0
        self.tail = bytearray()
        self.live = 0  # bytes appended and not released yet

    @property
    def size(self) -> int:
        return self.flushed + len(self.tail)

    def read(self, at: int, length: int) -> bytes:
        """``length`` bytes from ``at`` (relative to the segment's start)."""
        out = bytearray()
        if at < self.flushed:
            assert self.file is not None
            self.file.seek(at)
            want = min(length, self.flushed - at)
            out += self.file.read(want)
            if len(out) != want:
                raise OSError(f"the temporary file ended {want - len(out)} bytes early")
        rest = length - len(out)
        if rest > 0:
            begin = max(0, at - self.flushed)
            out += self.tail[begin : begin + rest]
        return bytes(out)


def _close_all(segments: deque[_Segment]) -> None:
    for segment in segments:
        if segment.file is not None:
            segment.file.close()
    segments.clear()


class AudioSpool:
    """Append-only bytes in temporary files (see the module's docstring)."""

    def __init__(self, segment_bytes: int = SEGMENT_BYTES, tail_bytes: int = TAIL_BYTES) -> None:
        self._segment_bytes = segment_bytes
        self._tail_bytes = tail_bytes
        self._segments: deque[_Segment] = deque()
        self._end = 0  # the offset of the next byte appended
        self._disk = True  # False once a temporary file failed: RAM from then on
        # Collected (with its session), the files close; the OS deletes them.
        self._finalizer = weakref.finalize(self, _close_all, self._segments)

    @property
    def on_disk(self) -> bool:
        """Whether new audio still goes to temporary files (False after a failure: RAM)."""
        return self._disk

    @property
    def disk_bytes(self) -> int:
        """Bytes in the temporary files now (flushed; released bytes too until their segment closes)."""
        return sum(s.flushed for s in self._segments)

    @property
    def ram_bytes(self) -> int:
        """Bytes held in RAM now (the tails, and every byte of RAM segments)."""
        return sum(len(s.tail) for s in self._segments)

    @property
    def files(self) -> list[IO[bytes]]:
        """The open temporary files (one per segment on disk)."""
        return [s.file for s in self._segments if s.file is not None]

    def append(self, data: bytes) -> int:
        """Keep ``data``; returns its offset (for :meth:`read` and :meth:`release`)."""
        segment = self._segments[-1] if self._segments else None
        if segment is None or segment.size >= self._segment_bytes:
            if segment is not None:
                self._flush(segment)
                self._drop_if_dead(segment)
            segment = self._new_segment()
        offset = self._end
        segment.tail += data
        segment.live += len(data)
        self._end += len(data)
        if len(segment.tail) >= self._tail_bytes:
            self._flush(segment)
        return offset

    def read(self, offset: int, length: int) -> bytes:
        """The ``length`` bytes appended at ``offset`` (not released). OSError when a temporary file fails."""
        out = bytearray()
        for segment, at, size in self._pieces(offset, length):
            try:
                out += segment.read(at, size)
            except (OSError, ValueError) as exc:
                raise OSError(f"rtwidget: cannot read item audio back from its temporary file: {exc}") from exc
        return bytes(out)

    def release(self, offset: int, length: int) -> None:
        """The ``length`` bytes at ``offset`` are not needed any more; a segment with none left is closed."""
        for segment, _, size in self._pieces(offset, length):
            segment.live -= size
            if segment.live <= 0 and segment is not self._segments[-1]:
                self._drop_if_dead(segment)

    def close(self) -> None:
        """Close every temporary file and forget all bytes."""
        self._finalizer()

    # ------------------------------------------------------------------------------------------ inside

    def _pieces(self, offset: int, length: int) -> list[tuple[_Segment, int, int]]:
        """``(segment, offset in it, size)`` for the bytes ``[offset, offset + length)``, in order."""
        segments = self._segments
        index = bisect.bisect_right([s.start for s in segments], offset) - 1
        pieces = []
        while length > 0 and 0 <= index < len(segments):
            segment = segments[index]
            at = offset - segment.start
            size = min(length, segment.size - at)
            if size <= 0:
                break
            pieces.append((segment, at, size))
            offset, length, index = offset + size, length - size, index + 1
        if length > 0:
            raise ValueError(f"AudioSpool: bytes {offset}..{offset + length} are not kept (released or never appended)")
        return pieces

    def _new_segment(self) -> _Segment:
        segment = _Segment(self._end)  # its file made when its tail first fills: a short session needs none
        self._segments.append(segment)
        return segment

    def _flush(self, segment: _Segment) -> None:
        """Write the tail to the segment's file (nothing after a failure: RAM)."""
        if not segment.tail or not self._disk:
            return
        if segment.file is None:
            try:
                segment.file = tempfile.TemporaryFile(prefix="rtwidget-audio-", buffering=0)  # noqa: SIM115 (closed on release)
            except OSError as exc:
                self._fail(exc)
                return
        pending, segment.tail = segment.tail, bytearray()
        try:
            segment.file.seek(segment.flushed)
            view = memoryview(pending)
            while view:
                count = segment.file.write(view)
                if not count:
                    raise OSError("the write wrote nothing")
                view = view[count:]
        except (OSError, ValueError) as exc:
            # The tail stays in RAM (a fresh copy: a failed write may still hold a view of ``pending``).
            segment.tail = bytearray(pending)
            self._fail(exc)
            return
        segment.flushed += len(pending)

    def _fail(self, exc: BaseException) -> None:
        if self._disk:
            logger.warning(
                "rtwidget: item audio cannot go to a temporary file (%s); it is kept in RAM from now on "
                "(set session.audio_keep_s lower to use less, or free the temp dir: %s)",
                str(exc),  # (not the exception: a kept log record would hold its frames)
                tempfile.gettempdir(),
            )
        self._disk = False

    def _drop_if_dead(self, segment: _Segment) -> None:
        if segment.live > 0:
            return
        if segment.file is not None:
            segment.file.close()
        self._segments.remove(segment)
