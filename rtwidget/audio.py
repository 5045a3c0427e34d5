"""PCM16 audio at 24 kHz: conversion, resampling, base64, levels, WAV files and durations.

The Realtime API speaks signed 16-bit little-endian mono PCM at 24 kHz. Everything that enters the
session or the local server passes through :func:`to_pcm16`, which accepts what users actually have:
raw bytes, int16/int32/uint8 arrays, float arrays in [-1, 1], stereo arrays, other sample rates; and refuses, naming
the argument, what it cannot convert faithfully (NaN samples, odd byte counts, implausible rates).
"""

from __future__ import annotations

import base64
import io
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# The wire format's numbers are defined once, in the protocol core; re-exported here for the floors above.
from .protocol.pcm import BYTES_PER_MS, BYTES_PER_SAMPLE, BYTES_PER_SECOND, MIN_COMMIT_MS, SAMPLE_RATE, SAMPLES_PER_MS

PcmLike = bytes | bytearray | memoryview | np.ndarray

__all__ = [
    "BYTES_PER_MS",
    "BYTES_PER_SAMPLE",
    "BYTES_PER_SECOND",
    "MAX_SAMPLE_RATE",
    "MIN_COMMIT_MS",
    "MIN_SAMPLE_RATE",
    "SAMPLES_PER_MS",
    "SAMPLE_RATE",
    "b64decode",
    "b64encode",
    "check_sample_rate",
    "chunks",
    "duration_ms",
    "level",
    "read_wav",
    "resample",
    "to_pcm16",
    "wav_bytes",
    "write_wav",
]


# Rates outside this range are a mistake (``sample_rate=1`` would turn 10 ms into seconds of audio).
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 384_000
# A 2-D array's channel axis is the one no longer than this (more would be a sample axis).
MAX_CHANNELS = 8


def check_sample_rate(sample_rate: object, name: str = "sample_rate") -> int:
    """``sample_rate`` as an int, or TypeError (not an int: bool, float, str) / ValueError (outside
    ``MIN_SAMPLE_RATE..MAX_SAMPLE_RATE``), naming the argument and the fix."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise TypeError(
            f"{name} must be an int in Hz, not {type(sample_rate).__name__} {sample_rate!r}: "
            f"pass e.g. {name}=24000 (int(rate) for a float or a string)"
        )
    rate = int(sample_rate)
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise ValueError(
            f"{name}={rate} Hz is not a plausible audio rate: it must be {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}; "
            "pass the rate the audio was recorded at (24000 is the wire rate)"
        )
    return rate


def _as_int16(pcm: PcmLike, name: str = "pcm") -> np.ndarray:
    """Return mono int16 samples from bytes or an array (see :func:`to_pcm16` for what each dtype means)."""
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        raw = bytes(pcm)
        if len(raw) % 2:
            raise ValueError(
                f"{name}: PCM16 audio must have an even number of bytes, got {len(raw)}: "
                "pass whole 16-bit samples (or a numpy array)"
            )
        return np.frombuffer(raw, dtype="<i2")
    if not isinstance(pcm, np.ndarray):
        raise TypeError(f"{name} must be bytes or a numpy array, not {type(pcm).__name__}")
    if pcm.ndim == 1:
        return _samples_to_int16(pcm, name)
    if pcm.ndim != 2:
        raise ValueError(f"{name}: audio array must be 1-D (mono) or 2-D (frames, channels), got shape {pcm.shape}")
    if pcm.size == 0:  # no frames or no channels: no audio (a mean over zero channels would be NaN)
        return np.zeros(0, dtype="<i2")
    # (frames, channels) is the usual layout; (channels, frames) is taken when only the first axis is short.
    if pcm.shape[1] <= MAX_CHANNELS:
        frames = pcm
    elif pcm.shape[0] <= MAX_CHANNELS:
        frames = pcm.T
    else:
        raise ValueError(
            f"{name}: cannot tell the channel axis of shape {pcm.shape} (neither axis is <= {MAX_CHANNELS}): "
            "pass (frames, channels), or mix it down to 1-D yourself"
        )
    # Each channel converted on its own, then averaged: a mix-down that cannot clip.
    mixed: np.ndarray = np.round(_samples_to_int16(frames, name).mean(axis=1, dtype=np.float64))
    return mixed.astype("<i2")


def _samples_to_int16(samples: np.ndarray, name: str) -> np.ndarray:
    """int16 samples of the same shape: each dtype scaled from its own full scale (never hard-clipped)."""
    kind, size = samples.dtype.kind, samples.dtype.itemsize
    if kind == "f":
        finite = np.isfinite(samples)
        if not finite.all():
            bad = np.flatnonzero(~finite.ravel())
            first = samples.ravel()[bad[0]]
            raise ValueError(
                f"{name} holds {bad.size} NaN or infinite sample(s) (the first, {first}, at flat index {bad[0]}): "
                "fix the source, or replace them: np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0)"
            )
        scaled: np.ndarray = np.clip(samples, -1.0, 1.0) * 32767.0
        return scaled.astype("<i2")
    if kind == "i" and size == 2:
        return samples.astype("<i2", copy=False)
    if kind in "iu" and size in (1, 2, 4):
        wide = samples.astype(np.int64)
        if kind == "u":  # unsigned PCM is offset binary: silence is the middle of the range
            wide -= 1 << (8 * size - 1)
        shift = 8 * size - 16
        return (wide << -shift if shift < 0 else wide >> shift).astype("<i2")
    raise TypeError(
        f"{name} has dtype {samples.dtype}, which is not audio rtwidget can scale: use int16, int32, uint8 "
        "or float32/float64 in [-1, 1] (for 16-bit values held in a wider int array: audio.astype(np.int16))"
    )


def resample(samples: np.ndarray, src_rate: int, dst_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono int16 samples from ``src_rate`` to ``dst_rate`` by linear interpolation.

    Downsampling first averages over the decimation window, a cheap low-pass that keeps speech intelligible.
    Both rates must be plausible (see :func:`check_sample_rate`).
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    src_rate = check_sample_rate(src_rate, "src_rate")
    dst_rate = check_sample_rate(dst_rate, "dst_rate")
    if src_rate == dst_rate or samples.size == 0:
        return samples.astype("<i2", copy=False)
    x = samples.astype(np.float64)
    ratio = src_rate / dst_rate
    if ratio > 1.0:
        width = round(ratio)
        if width > 1:
            x = np.convolve(x, np.ones(width) / width, mode="same")
    n_out = round(samples.size * dst_rate / src_rate)
    positions = np.arange(n_out) * ratio
    out: np.ndarray = np.interp(positions, np.arange(samples.size), x)
    return np.clip(np.round(out), -32768, 32767).astype("<i2")


def to_pcm16(pcm: PcmLike, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Convert bytes or a numpy array at any plausible rate to PCM16 mono 24 kHz little-endian bytes.

    ``pcm`` is PCM16 little-endian bytes (an even number of them) or a numpy array:

    - float (any width) in [-1, 1]; louder samples are clipped to full scale; NaN or infinities are refused;
    - int16 as is; int32 and int8 scaled from their own full scale (int32 >> 16, int8 << 8), never clipped;
    - uint8 (8-bit WAV), uint16 and uint32 as offset binary (128, 32768, 2**31 is silence), scaled likewise;
    - other dtypes (int64, bool, complex, object) are refused: their scale is a guess;
    - 2-D arrays are mixed down to mono by averaging the channels. The channel axis is the second one when it
      has at most ``MAX_CHANNELS`` (8) entries, else the first one when that one is that short ((2, n) is taken
      as channels-first); otherwise the array is refused.

    ``sample_rate`` must be an int in ``MIN_SAMPLE_RATE..MAX_SAMPLE_RATE`` (8000..384000). Errors name ``pcm``
    or ``sample_rate``. Empty audio gives ``b""``.
    """
    rate = check_sample_rate(sample_rate)
    samples = _as_int16(pcm)
    return resample(samples, rate, SAMPLE_RATE).tobytes()


def b64encode(pcm: bytes) -> str:
    """Base64 text for the wire (standard alphabet, padded)."""
    return base64.b64encode(pcm).decode("ascii")


def b64decode(text: str) -> bytes:
    """Bytes from wire base64; raises ValueError naming the problem for bad input."""
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"audio is not valid base64: {exc}") from None


def duration_ms(n_bytes: int, sample_rate: int = SAMPLE_RATE) -> float:
    """Duration in milliseconds of ``n_bytes`` of PCM16 mono."""
    return n_bytes / (sample_rate * BYTES_PER_SAMPLE) * 1000.0


def level(pcm: PcmLike) -> float:
    """RMS level of PCM16 audio in [0, 1] (1.0 is a full-scale square wave)."""
    samples = _as_int16(pcm)
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)) / 32768.0)


def chunks(pcm: bytes, ms: int = 20) -> Iterator[bytes]:
    """Split 24 kHz PCM16 into chunks of ``ms`` milliseconds (the last may be shorter)."""
    step = SAMPLE_RATE * BYTES_PER_SAMPLE * ms // 1000
    for start in range(0, len(pcm), step):
        yield pcm[start : start + step]


def read_wav(path: str | Path) -> bytes:
    """Read an 8-, 16- or 32-bit PCM WAV file (any rate, mono or stereo) as PCM16 mono 24 kHz bytes."""
    with wave.open(str(path), "rb") as wav:
        width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    dtype = {1: "u1", 2: "<i2", 4: "<i4"}.get(width)  # WAV's 8-bit PCM is unsigned
    if dtype is None:
        raise ValueError(f"{path}: {8 * width}-bit WAV is not supported; convert it to 16-bit PCM")
    samples = np.frombuffer(frames, dtype=dtype)
    if channels > 1:
        samples = samples.reshape(-1, channels)
    return to_pcm16(samples, rate)


def wav_bytes(pcm: bytes, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A complete mono 16-bit WAV file holding ``pcm``."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def write_wav(path: str | Path, pcm: bytes, sample_rate: int = SAMPLE_RATE) -> None:
    """Write PCM16 mono bytes to a WAV file."""
    Path(path).write_bytes(wav_bytes(pcm, sample_rate))
