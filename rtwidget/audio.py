"""PCM16 audio at 24 kHz: conversion, resampling, base64, levels, WAV files and durations.

The Realtime API speaks signed 16-bit little-endian mono PCM at 24 kHz. Everything that enters the
session or the local server passes through :func:`to_pcm16`, which accepts what users actually have:
raw bytes, int16 arrays, float arrays in [-1, 1], stereo arrays, other sample rates.
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
    "MIN_COMMIT_MS",
    "SAMPLES_PER_MS",
    "SAMPLE_RATE",
    "b64decode",
    "b64encode",
    "chunks",
    "duration_ms",
    "level",
    "read_wav",
    "resample",
    "to_pcm16",
    "wav_bytes",
    "write_wav",
]


def _as_int16(pcm: PcmLike) -> np.ndarray:
    """Return mono int16 samples from bytes or an array (float arrays are taken as [-1, 1])."""
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        raw = bytes(pcm)
        if len(raw) % 2:
            raise ValueError(
                f"PCM16 audio must have an even number of bytes, got {len(raw)}: "
                "pass whole 16-bit samples (or a numpy array)"
            )
        return np.frombuffer(raw, dtype="<i2")
    if not isinstance(pcm, np.ndarray):
        raise TypeError(f"audio must be bytes or a numpy array, not {type(pcm).__name__}")
    samples = pcm
    if samples.ndim == 2:
        # (frames, channels) is the usual layout; a (channels, frames) array with few rows is transposed.
        if samples.shape[0] <= 8 < samples.shape[1]:
            samples = samples.T
        samples = samples.mean(axis=1) if samples.dtype.kind == "f" else samples.astype(np.float64).mean(axis=1)
    elif samples.ndim != 1:
        raise ValueError(f"audio array must be 1-D (mono) or 2-D (frames, channels), got shape {pcm.shape}")
    if samples.dtype.kind == "f":
        return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    if samples.dtype == np.int16:
        return samples.astype("<i2", copy=False)
    if samples.dtype.kind in "iu":
        return np.clip(samples, -32768, 32767).astype("<i2")
    raise TypeError(f"unsupported audio dtype {samples.dtype}: use int16 or float32/float64 in [-1, 1]")


def resample(samples: np.ndarray, src_rate: int, dst_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono int16 samples from ``src_rate`` to ``dst_rate`` by linear interpolation.

    Downsampling first averages over the decimation window, a cheap low-pass that keeps speech intelligible.
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
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
    """Convert bytes or a numpy array at any rate to PCM16 mono 24 kHz little-endian bytes."""
    samples = _as_int16(pcm)
    return resample(samples, sample_rate, SAMPLE_RATE).tobytes()


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
    """Read a 16-bit PCM WAV file (any rate, mono or stereo) as PCM16 mono 24 kHz bytes."""
    with wave.open(str(path), "rb") as wav:
        width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    if width != 2:
        raise ValueError(f"{path}: {8 * width}-bit WAV is not supported; convert it to 16-bit PCM")
    samples = np.frombuffer(frames, dtype="<i2")
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
