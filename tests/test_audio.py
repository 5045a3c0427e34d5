"""PCM16 helpers: conversion, resampling, base64, levels, WAV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtwidget import audio


def test_bytes_pass_through_and_odd_length_is_refused() -> None:
    pcm = np.arange(-100, 100, dtype="<i2").tobytes()
    assert audio.to_pcm16(pcm) == pcm
    with pytest.raises(ValueError, match="even number of bytes"):
        audio.to_pcm16(b"\x00\x01\x02")


def test_float_stereo_and_other_rates() -> None:
    t = np.arange(48_000) / 48_000
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1) * 0.5
    out = np.frombuffer(audio.to_pcm16(stereo, 48_000), dtype="<i2")
    assert len(out) == 24_000  # 1 s at 24 kHz
    assert 0.3 < audio.level(out.tobytes()) < 0.4  # a 0.5 sine has RMS 0.354
    up = np.frombuffer(audio.to_pcm16((np.ones(8000) * 0.25).astype(np.float32), 8000), dtype="<i2")
    assert len(up) == 24_000 and abs(int(up[1000]) - 8192) < 10


def test_channels_first_arrays_and_bad_input() -> None:
    arr = np.zeros((2, 1000), dtype=np.int16)
    assert len(audio.to_pcm16(arr)) == 2000
    with pytest.raises(TypeError, match="bytes or a numpy array"):
        audio.to_pcm16([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="1-D"):
        audio.to_pcm16(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="positive"):
        audio.resample(np.zeros(10, dtype=np.int16), 0)


def test_base64_duration_chunks() -> None:
    pcm = bytes(range(256)) * 10
    assert audio.b64decode(audio.b64encode(pcm)) == pcm
    with pytest.raises(ValueError, match="base64"):
        audio.b64decode("not base64!!")
    assert audio.duration_ms(48_000) == 1000.0
    parts = list(audio.chunks(bytes(48_000), ms=100))
    assert len(parts) == 10 and all(len(p) == 4800 for p in parts)


def test_wav_round_trip(tmp_path: Path) -> None:
    pcm = (np.sin(np.arange(24_000) / 10) * 10_000).astype("<i2").tobytes()
    path = tmp_path / "a.wav"
    audio.write_wav(path, pcm)
    assert audio.read_wav(path) == pcm
    assert audio.level(b"") == 0.0
