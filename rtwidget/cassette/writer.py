"""Writing a cassette as it is recorded, in bounded memory: :class:`CassetteWriter`.

Events go to a temporary JSONL file and each audio stream to a temporary PCM file as they come; :meth:`close`
joins them into the cassette (a zip, written beside the target and renamed onto it, so a reader never sees half a
file). Nothing secret is written: every string holding one of the given secrets has it replaced, and every value
under an auth-ish name (``authorization``, ``api_key``, ``client_secret``...) is replaced whole, and so is
anything shaped like an OpenAI key (``sk-`` and 20 more characters).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
import tempfile
import time as clock
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from .format import (
    AUDIO_FORMAT,
    AUDIO_REF,
    CLIENT,
    DIRECTIONS,
    EVENTS,
    FORMAT,
    LOCAL,
    LOCAL_DIR,
    META,
    MIC,
    MODEL,
    PCM_SUFFIX,
    SERVER,
    VERSION,
)

REDACTED = "<redacted>"
# Names whose value is a credential wherever they appear (compared lowercased, "-" read as "_").
AUTH_NAMES = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "api_key",
        "apikey",
        "x_api_key",
        "openai_api_key",
        "cookie",
        "set_cookie",
        "client_secret",
        "secret",
        "password",
        "token",
        "access_token",
        "bearer",
    }
)
# Shorter values are not scrubbed by value (they would blank ordinary words).
MIN_SECRET_CHARS = 6
# OpenAI API key shapes (sk-..., sk-proj-...), scrubbed even when nobody said they were secrets (a key a tool read
# from the environment and returned); long enough that no ordinary word matches.
KEY_SHAPE = re.compile(r"\bsk-[A-Za-z0-9_-]{20,}")


def check_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path a cassette can be written to, or an error naming it and the fix."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"a cassette path must be a str or a Path, not {type(path).__name__} {path!r}")
    where = Path(path).expanduser()
    if where.is_dir():
        raise IsADirectoryError(f"cannot record to {str(where)!r}: it is a directory; pass a file path in it")
    parent = where.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"cannot record to {str(where)!r}: the folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"cannot record to {str(where)!r}: the folder {str(parent)!r} is not writable")
    return where


class CassetteWriter:
    """A cassette being written: :meth:`add` each event as it goes by, then :meth:`close` once.

    ``meta`` is written into ``meta.json`` (the format's own keys are added); ``secrets`` are values (API keys,
    tokens) that must never be written: any string holding one has it replaced by ``"<redacted>"``. ``decode``
    turns base64 audio into bytes (ValueError for bad base64): the session passes the one its taps share.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        meta: dict[str, Any] | None = None,
        secrets: Iterable[str] = (),
        decode: Callable[[str], bytes] = lambda text: base64.b64decode(text, validate=True),
    ) -> None:
        self.path = check_path(path)
        self._decode = decode
        self._secrets: list[str] = []
        self.add_secrets(secrets)
        self._meta: dict[str, Any] = {"started_at": clock.time(), **(meta or {})}
        self._lines: dict[str, IO[bytes]] = {EVENTS: _scratch(), LOCAL: _scratch()}
        self._pcm: dict[str, IO[bytes]] = {}
        self._sizes: dict[str, int] = {MIC: 0, MODEL: 0}
        self._counts = {direction: 0 for direction in DIRECTIONS}
        self._last = 0.0
        self.closed = False

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Scrub these values too from everything written from now on (and from the metadata)."""
        found = set(self._secrets) | {s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}
        self._secrets = sorted(found, key=len, reverse=True)

    def update_meta(self, **meta: Any) -> None:
        """Add to the metadata written by :meth:`close`."""
        self._meta.update(meta)

    def add(self, time: float, direction: str, event: dict[str, Any]) -> None:
        """Record ``event`` (its full data, audio as base64) sent (``"client"``), received (``"server"``) or
        emitted by the session (``"local"``), ``time`` seconds after the recording started."""
        if self.closed:
            raise ValueError(f"the cassette {str(self.path)!r} is closed: start a new recording")
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        stored = self._store_audio(direction, event)
        row = {"t": round(time, 6), "dir": direction, "event": self._scrub(stored)}
        text = json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        self._lines[LOCAL if direction == LOCAL_DIR else EVENTS].write(text.encode("utf-8"))
        self._counts[direction] += 1
        self._last = max(self._last, time)

    def _store_audio(self, direction: str, event: dict[str, Any]) -> dict[str, Any]:
        """The event with its audio payloads moved to their streams (the places ``elide_audio`` knows)."""
        etype = event.get("type")
        if direction == CLIENT and etype == "input_audio_buffer.append":
            return {**event, "audio": self._audio_ref(MIC, event.get("audio"))}
        if direction != CLIENT and etype == "response.output_audio.delta":
            return {**event, "delta": self._audio_ref(MODEL, event.get("delta"))}
        item = event.get("item")
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(item, dict) and isinstance(content, list):
            stream = MIC if direction == CLIENT else SERVER
            parts = [
                {**part, "audio": self._audio_ref(stream, part["audio"])}
                if isinstance(part, dict) and isinstance(part.get("audio"), str)
                else part
                for part in content
            ]
            return {**event, "item": {**item, "content": parts}}
        return event

    def _audio_ref(self, stream: str, audio: Any) -> Any:
        """Append ``audio`` (base64) to ``stream`` and return its reference; what is not canonical base64 stays
        as it was (so the event reads back exactly)."""
        if not isinstance(audio, str):
            return audio
        try:
            pcm = self._decode(audio)
        except (binascii.Error, ValueError):
            return audio
        if not _canonical(audio, pcm):
            return audio
        if stream not in self._pcm:
            self._pcm[stream] = _scratch()
        offset = self._sizes.get(stream, 0)
        self._pcm[stream].write(pcm)
        self._sizes[stream] = offset + len(pcm)
        return {AUDIO_REF: stream, "offset": offset, "bytes": len(pcm)}

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return KEY_SHAPE.sub(REDACTED, value) if "sk-" in value else value
        if isinstance(value, dict):
            if AUDIO_REF in value:
                return value  # a reference of ours: stream, offset, bytes
            return {k: REDACTED if _auth_name(k) and v else self._scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub(v) for v in value]
        return value

    @property
    def audio_bytes(self) -> dict[str, int]:
        """Bytes of PCM written so far, per stream."""
        return dict(self._sizes)

    def close(self, meta: dict[str, Any] | None = None) -> Path:
        """Finish the cassette (``meta`` added to its metadata) and return its path; a second call does nothing."""
        if self.closed:
            return self.path
        self.closed = True
        info = {**self._meta, **(meta or {})}
        info.update(
            format=FORMAT,
            version=VERSION,
            duration_s=round(self._last, 6),
            audio=AUDIO_FORMAT,
            streams={name: {"bytes": size} for name, size in self._sizes.items()},
            counts=dict(self._counts),
        )
        partial = self.path.with_name(f".{self.path.name}.partial")
        try:
            with zipfile.ZipFile(partial, "w") as archive:
                archive.writestr(META, json.dumps(self._scrub(info), indent=1, default=str), zipfile.ZIP_DEFLATED)
                for name, tmp in self._lines.items():
                    _copy_in(archive, name, tmp, zipfile.ZIP_DEFLATED)
                for name in self._sizes:  # PCM barely compresses: stored, so a reader can seek in it
                    _copy_in(archive, name + PCM_SUFFIX, self._pcm.get(name), zipfile.ZIP_STORED)
            os.replace(partial, self.path)
        finally:
            partial.unlink(missing_ok=True)
            self._discard()
        return self.path

    def abort(self) -> None:
        """Drop the recording without writing a cassette."""
        self.closed = True
        self._discard()

    def _discard(self) -> None:
        for tmp in [*self._lines.values(), *self._pcm.values()]:
            tmp.close()


def _scratch() -> IO[bytes]:
    # An unnamed temporary file: gone with the process even if the recording is never closed.
    return tempfile.TemporaryFile()  # closed by close() or abort()


def _canonical(audio: str, pcm: bytes) -> bool:
    """Whether ``audio`` (strict base64, decoded) is exactly ``pcm``'s encoding: its length, and its last four
    characters (only they can hold padding or stray bits), without encoding all of it again."""
    if len(audio) != -(-len(pcm) // 3) * 4:
        return False
    tail = len(pcm) % 3 or 3
    return not pcm or base64.b64encode(pcm[-tail:]).decode("ascii") == audio[-4:]


def _auth_name(key: Any) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in AUTH_NAMES


def _copy_in(archive: zipfile.ZipFile, name: str, tmp: IO[bytes] | None, compression: int) -> None:
    entry = zipfile.ZipInfo(name, clock.localtime()[:6])
    entry.compress_type = compression
    with archive.open(entry, "w", force_zip64=True) as out:  # (zip64: sizes unknown up front, may pass 2 GiB)
        if tmp is not None:
            tmp.seek(0)
            shutil.copyfileobj(tmp, out, 1 << 20)
