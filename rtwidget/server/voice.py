"""The local server's voice: text in, PCM16 mono 24 kHz little-endian speech out.

Three backends, best first; :func:`default_voice` picks the first that works here:

- :class:`EspeakLibraryVoice` (``"espeak-ng library"``): the libespeak-ng shared library and data shipped
  by the ``espeakng-loader`` package (the ``voice`` extra), driven in-process through ctypes.
- :class:`EspeakProgramVoice` (``"espeak-ng program"``): the ``espeak-ng`` command (Debian package
  ``espeak-ng``), one subprocess per new sentence.
- :class:`SyntheticVoice` (``"synthetic"``): no dependency at all. A buzzy harmonic tone whose loudness
  swings at a syllable rate, about 70 ms per character at speed 1. Plainly not speech, but loud and
  long enough for a VAD, a level meter and the playback path to behave as with speech.

Nothing is downloaded and no network is used. espeak-ng renders at 22,050 Hz; the result is resampled
with :func:`rtwidget.audio.resample`. To stream a result, split it with :func:`rtwidget.audio.chunks`.

OpenAI voice names map onto espeak-ng voices, variants and pitches (:func:`voice_profile`), so that the
voices differ audibly and the same name always sounds the same:

==========  ================  =====  =============
name        espeak-ng voice   pitch  synthetic f0
==========  ================  =====  =============
alloy       ``en-us+f2``      50     190 Hz
ash         ``en-us+m1``      40     110 Hz
ballad      ``en+m3``         45     120 Hz
coral       ``en-us+f3``      60     220 Hz
echo        ``en-us+m2``      30     100 Hz
sage        ``en+f2``         55     200 Hz
shimmer     ``en-us+f4``      70     240 Hz
verse       ``en+m7``         50     130 Hz
marin       ``en-us+f5``      55     210 Hz
cedar       ``en-us+m4``      35     105 Hz
==========  ================  =====  =============

Any other name (including a custom voice id) gets one of these ten profiles, chosen by a CRC-32 of the
name. ``en`` is espeak-ng's British English, ``en-us`` American English.

``speed`` (the session's ``audio.output.speed``, 0.25-1.5 in the API) scales the speaking rate: espeak-ng
speaks ``175 * speed`` words per minute, clamped to its range of 80-450, so speeds below about 0.46 are
no slower than 0.46; the synthetic voice divides its duration by ``speed`` exactly.

Every backend caches its results per (text, profile, speed) in a small LRU shared by all threads, and is
safe to call from several threads: the espeak-ng library is process-global and not thread-safe, so all
calls into it hold one module lock.

The program and synthetic voices are deterministic. The library voice is not quite: espeak-ng's pitch
flutter runs on from one utterance to the next inside a process, so the same text synthesized again
(after a cache miss) sounds the same but differs in its samples and by about 1 % in length. A cached
result is returned as is, so repeats within the cache's reach are identical.
"""

from __future__ import annotations

import abc
import ctypes
import logging
import math
import shutil
import struct
import subprocess
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from rtwidget.audio import BYTES_PER_SAMPLE, SAMPLE_RATE, resample

__all__ = [
    "EspeakLibraryVoice",
    "EspeakProgramVoice",
    "SyntheticVoice",
    "Voice",
    "VoiceProfile",
    "default_voice",
    "voice_profile",
]

_log = logging.getLogger("rtwidget.server.voice")

_DEFAULT_WPM = 175
_MIN_WPM = 80
_MAX_WPM = 450


# -- voice names -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoiceProfile:
    """How one voice sounds on each backend."""

    espeak_voice: str  # espeak-ng voice name with variant, for espeak_SetVoiceByName / ``-v``
    pitch: int  # espeak-ng base pitch, 0-99 (50 is the voice's own)
    f0_hz: float  # fundamental of the synthetic voice


_PROFILES: dict[str, VoiceProfile] = {
    "alloy": VoiceProfile("en-us+f2", 50, 190.0),
    "ash": VoiceProfile("en-us+m1", 40, 110.0),
    "ballad": VoiceProfile("en+m3", 45, 120.0),
    "coral": VoiceProfile("en-us+f3", 60, 220.0),
    "echo": VoiceProfile("en-us+m2", 30, 100.0),
    "sage": VoiceProfile("en+f2", 55, 200.0),
    "shimmer": VoiceProfile("en-us+f4", 70, 240.0),
    "verse": VoiceProfile("en+m7", 50, 130.0),
    "marin": VoiceProfile("en-us+f5", 55, 210.0),
    "cedar": VoiceProfile("en-us+m4", 35, 105.0),
}
_PROFILE_ORDER = tuple(_PROFILES.values())


def voice_profile(voice: str) -> VoiceProfile:
    """The profile for an OpenAI voice name; unknown names get a fixed profile chosen by their CRC-32."""
    profile = _PROFILES.get(voice.lower())
    if profile is not None:
        return profile
    return _PROFILE_ORDER[zlib.crc32(voice.encode("utf-8")) % len(_PROFILE_ORDER)]


def _check_speed(speed: float) -> float:
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed) or speed <= 0:
        raise ValueError(f"speed must be a positive number, got {speed!r}")
    return float(speed)


def _espeak_rate(speed: float) -> int:
    return min(_MAX_WPM, max(_MIN_WPM, round(_DEFAULT_WPM * speed)))


def _clean_text(text: str) -> str:
    # NUL would end the C string early; other control characters are read as spaces anyway.
    return text.replace("\0", " ").strip()


# -- the protocol and the shared cache ----------------------------------------------------------------


@runtime_checkable
class Voice(Protocol):
    """Anything that turns text into PCM16 mono 24 kHz speech; the engine needs nothing more."""

    name: str

    def synthesize(self, text: str, *, voice: str = "alloy", speed: float = 1.0) -> bytes:
        """PCM16 mono 24 kHz little-endian audio of ``text`` (empty for blank text)."""
        ...


_CacheKey = tuple[str, VoiceProfile, float]


class _Lru:
    """A thread-safe LRU of synthesized audio, bounded by entries and by total bytes."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        # Least recently used first; values are immutable bytes, safe to hand out.
        self._items: OrderedDict[_CacheKey, bytes] = OrderedDict()
        # Sum of len() over the values: stays <= max_bytes.
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: _CacheKey) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: _CacheKey, value: bytes) -> None:
        if len(value) > self._max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._items[key] = value
            self._bytes += len(value)
            while len(self._items) > self._max_entries or self._bytes > self._max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)


class _CachedVoice(abc.ABC):
    """Base of the concrete voices: validation, voice-name mapping and the LRU around ``_render``."""

    name: str = "voice"

    def __init__(self, *, cache_entries: int = 256, cache_bytes: int = 32 * 1024 * 1024) -> None:
        self._cache = _Lru(cache_entries, cache_bytes)

    def synthesize(self, text: str, *, voice: str = "alloy", speed: float = 1.0) -> bytes:
        """PCM16 mono 24 kHz little-endian audio of ``text`` spoken by ``voice`` at ``speed``.

        Blank text gives ``b""``. Raises ValueError for a speed that is not a positive number.
        """
        speed = _check_speed(speed)
        text = _clean_text(text)
        if not text:
            return b""
        key = (text, voice_profile(voice), speed)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        pcm = self._render(text, key[1], speed)
        self._cache.put(key, pcm)
        return pcm

    @abc.abstractmethod
    def _render(self, text: str, profile: VoiceProfile, speed: float) -> bytes:
        """Synthesize uncached: each backend renders its own way."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _to_24k(raw: bytes, rate: int) -> bytes:
    samples = np.frombuffer(raw[: len(raw) - len(raw) % BYTES_PER_SAMPLE], dtype="<i2")
    return resample(samples, rate, SAMPLE_RATE).astype("<i2", copy=False).tobytes()


# -- espeak-ng through ctypes ---------------------------------------------------------------------------

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3
_EE_OK = 0
_BUFFER_MS = 500

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)


class _EspeakLibrary:
    """The process-wide libespeak-ng, initialised once; call its methods only holding ``_LIBRARY_LOCK``."""

    def __init__(self, library_path: str, data_path: str) -> None:
        lib = ctypes.CDLL(library_path)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,  # text
            ctypes.c_size_t,  # size
            ctypes.c_uint,  # position
            ctypes.c_int,  # position_type
            ctypes.c_uint,  # end_position
            ctypes.c_uint,  # flags
            ctypes.c_void_p,  # unique_identifier
            ctypes.c_void_p,  # user_data
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        rate = int(
            lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, data_path.encode(), _INITIALIZE_DONT_EXIT)
        )
        if rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed ({rate}) with data at {data_path}")
        self.sample_rate = rate
        self._lib = lib
        # Audio of the synthesis in progress, appended by the callback (only ever from inside synth()).
        self._parts: list[bytes] = []
        # Kept referenced for as long as the library may call it.
        self._callback = _SynthCallback(self._on_audio)
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav: int | None, n_samples: int, events: int | None) -> int:
        if wav and n_samples > 0:
            self._parts.append(ctypes.string_at(wav, n_samples * BYTES_PER_SAMPLE))
        return 0  # 0 = go on

    def synth(self, text: str, espeak_voice: str, rate: int, pitch: int) -> bytes:
        """Native-rate PCM16 of ``text``; raises RuntimeError if espeak-ng reports an error."""
        status = self._lib.espeak_SetVoiceByName(espeak_voice.encode())
        if status != _EE_OK:
            raise RuntimeError(f"espeak-ng has no voice {espeak_voice!r} (error {status})")
        self._lib.espeak_SetParameter(_PARAM_RATE, rate, 0)
        self._lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
        encoded = text.encode("utf-8") + b"\0"
        self._parts = []
        try:
            status = self._lib.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if status != _EE_OK:
                raise RuntimeError(f"espeak_Synth failed (error {status})")
            return b"".join(self._parts)
        finally:
            self._parts = []


# Guards _library and every call into it: libespeak-ng is process-global and not thread-safe.
_LIBRARY_LOCK = threading.Lock()
# The loaded library, or None before the first EspeakLibraryVoice.
_library: _EspeakLibrary | None = None


def _load_library() -> _EspeakLibrary:
    """The process-wide espeak-ng library, loaded on first use; raises if it cannot be loaded here."""
    global _library
    with _LIBRARY_LOCK:
        if _library is None:
            import espeakng_loader

            _library = _EspeakLibrary(espeakng_loader.get_library_path(), espeakng_loader.get_data_path())
        return _library


class EspeakLibraryVoice(_CachedVoice):
    """espeak-ng speech from the library that ``espeakng-loader`` ships, called in-process.

    Construction loads and initialises the library (once per process) and raises ImportError, OSError
    or RuntimeError if that is not possible here.
    """

    name = "espeak-ng library"

    def __init__(self, *, cache_entries: int = 256, cache_bytes: int = 32 * 1024 * 1024) -> None:
        super().__init__(cache_entries=cache_entries, cache_bytes=cache_bytes)
        self._library = _load_library()

    def _render(self, text: str, profile: VoiceProfile, speed: float) -> bytes:
        with _LIBRARY_LOCK:
            raw = self._library.synth(text, profile.espeak_voice, _espeak_rate(speed), profile.pitch)
            rate = self._library.sample_rate
        return _to_24k(raw, rate)


# -- espeak-ng as a program ---------------------------------------------------------------------------


def _wav_payload(wav: bytes) -> tuple[bytes, int]:
    """The PCM16 mono samples and rate of a WAV as ``espeak-ng --stdout`` writes it.

    Its header sizes are placeholders (the output is a pipe), so the data chunk runs to the end.
    """
    if len(wav) < 12 or wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise RuntimeError("espeak-ng did not write a WAV file")
    pos = 12
    rate = 0
    while pos + 8 <= len(wav):
        chunk_id, size = wav[pos : pos + 4], struct.unpack_from("<I", wav, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt, channels, rate = struct.unpack_from("<HHI", wav, body)
            bits = struct.unpack_from("<H", wav, body + 14)[0]
            if (fmt, channels, bits) != (1, 1, 16):
                raise RuntimeError(f"espeak-ng wrote an unexpected WAV format {(fmt, channels, bits)}")
        elif chunk_id == b"data":
            if not rate:
                raise RuntimeError("espeak-ng wrote WAV data before its format")
            return wav[body:], int(rate)
        pos = body + size + (size & 1)
    raise RuntimeError("espeak-ng wrote a WAV file without data")


class EspeakProgramVoice(_CachedVoice):
    """espeak-ng speech from the ``espeak-ng`` program, one ``--stdout`` subprocess per new sentence.

    Construction raises FileNotFoundError if the program is not on PATH (or not at ``executable``).
    """

    name = "espeak-ng program"

    def __init__(
        self,
        executable: str | None = None,
        *,
        timeout: float = 30.0,
        cache_entries: int = 256,
        cache_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        super().__init__(cache_entries=cache_entries, cache_bytes=cache_bytes)
        found = shutil.which(executable or "espeak-ng")
        if found is None:
            raise FileNotFoundError(f"{executable or 'espeak-ng'} is not installed (apt install espeak-ng)")
        self.executable = found
        self.timeout = timeout

    def _render(self, text: str, profile: VoiceProfile, speed: float) -> bytes:
        # Text goes through stdin, so nothing in it can be taken for an option. -z: no final pause.
        command = [self.executable, "--stdout", "--stdin", "-b", "1", "-z"]
        command += ["-v", profile.espeak_voice, "-s", str(_espeak_rate(speed)), "-p", str(profile.pitch)]
        done = subprocess.run(command, input=text.encode("utf-8"), capture_output=True, timeout=self.timeout)
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()
            raise RuntimeError(f"espeak-ng exited with {done.returncode}: {message}")
        raw, rate = _wav_payload(done.stdout)
        return _to_24k(raw, rate)


# -- synthetic ----------------------------------------------------------------------------------------

_SYNTH_MS_PER_CHAR = 70.0
_SYNTH_MIN_MS = 200.0
_SYNTH_SYLLABLE_HZ = 4.0
_SYNTH_PEAK = 0.3  # of full scale: about -19 dBFS RMS, like espeak-ng at its default amplitude
_SYNTH_FADE_S = 0.02


class SyntheticVoice(_CachedVoice):
    """A speech-like but plainly synthetic signal that needs nothing installed.

    A tone at the profile's ``f0_hz`` with five harmonics and a slight vibrato, its loudness swinging
    between 15 % and 100 % four times a second, lasting about 70 ms per character divided by ``speed``
    (at least 200 ms). Deterministic: the same arguments always give the same bytes.
    """

    name = "synthetic"

    def _render(self, text: str, profile: VoiceProfile, speed: float) -> bytes:
        duration_s = max(_SYNTH_MIN_MS, _SYNTH_MS_PER_CHAR * len(text)) / 1000.0 / speed
        n = max(1, round(duration_s * SAMPLE_RATE))
        t = np.arange(n) / SAMPLE_RATE
        # Phase of a fundamental with a 5 Hz, +-3 % vibrato.
        phase = 2 * np.pi * profile.f0_hz * (t - 0.03 / (2 * np.pi * 5.0) * np.cos(2 * np.pi * 5.0 * t))
        tone = np.zeros(n)
        for k in range(1, 6):
            tone += np.sin(k * phase) / k
        tone = tone / np.max(np.abs(tone))
        envelope = 0.15 + 0.85 * np.sin(np.pi * _SYNTH_SYLLABLE_HZ * t + np.pi / 2) ** 2
        fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / _SYNTH_FADE_S)
        signal = _SYNTH_PEAK * tone * envelope * fade
        pcm: bytes = np.round(signal * 32767.0).astype("<i2").tobytes()
        return pcm


# -- choice ---------------------------------------------------------------------------------------------

# Guards _default; the chosen voice is shared so that all sessions share its cache.
_DEFAULT_LOCK = threading.Lock()
_default: _CachedVoice | None = None


def default_voice() -> Voice:
    """The best voice available here, created once per process and shared (with its cache).

    The espeak-ng library from ``espeakng-loader`` if it loads, else the ``espeak-ng`` program if it is
    installed and runs, else :class:`SyntheticVoice`. Failures are logged at debug level only.
    """
    global _default
    with _DEFAULT_LOCK:
        if _default is None:
            _default = _pick_voice()
            _log.debug("local server voice: %s", _default.name)
        return _default


def _pick_voice() -> _CachedVoice:
    try:
        library = EspeakLibraryVoice()
        library.synthesize("ok")  # proves the data is usable; the result stays in the cache
        return library
    except Exception as exc:  # ImportError, OSError, RuntimeError, or anything odd in a broken install
        _log.debug("espeak-ng library unavailable: %r", exc)
    try:
        program = EspeakProgramVoice()
        program.synthesize("ok")  # proves it runs; the result stays in the cache
        return program
    except Exception as exc:
        _log.debug("espeak-ng program unavailable: %r", exc)
    return SyntheticVoice()
