"""to_pcm16 on what users actually pass: each dtype scaled from its own full scale, channels mixed down,
and bad audio or rates refused with errors that name the argument and the fix."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rtwidget import audio


def pcm16(data: audio.PcmLike, rate: int = audio.SAMPLE_RATE) -> np.ndarray:
    return np.frombuffer(audio.to_pcm16(data, rate), dtype="<i2")


def test_int32_is_scaled_from_32_bit_full_scale_not_clipped() -> None:
    sine = np.sin(np.linspace(0, 2 * np.pi, 480, endpoint=False))
    out = pcm16((sine * 0.5 * 2**31).astype(np.int32))
    assert 16_000 < out.max() <= 16_384 and -16_385 <= out.min() < -16_000  # half scale, a sine not a square
    assert len(set(out.tolist())) > 100
    ends = pcm16(np.array([-(2**31), 2**31 - 1, 0], dtype=np.int32))
    assert ends.tolist() == [-32768, 32767, 0]


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        (np.array([0, 128, 255], dtype=np.uint8), [-32768, 0, 32512]),  # 8-bit unsigned: 128 is silence
        (np.array([-128, 0, 127], dtype=np.int8), [-32768, 0, 32512]),
        (np.array([0, 32768, 65535], dtype=np.uint16), [-32768, 0, 32767]),
        (np.array([0, 2**31, 2**32 - 1], dtype=np.uint32), [-32768, 0, 32767]),
        (np.array([-1.0, 0.0, 0.5, 2.0], dtype=np.float32), [-32767, 0, 16383, 32767]),  # louder than 1 clips
    ],
)
def test_each_dtype_from_its_own_scale(samples: np.ndarray, expected: list[int]) -> None:
    assert pcm16(samples).tolist() == expected


def test_stereo_int16_is_averaged_not_clipped() -> None:
    frames = np.stack([np.full(240, 1000, np.int16), np.full(240, 3000, np.int16)], axis=1)
    assert set(pcm16(frames).tolist()) == {2000}
    assert set(pcm16(frames.T.copy()).tolist()) == {2000}  # (channels, frames): the short axis is channels
    loud = np.stack([np.full(10, 32767, np.int16), np.full(10, 32767, np.int16)], axis=1)
    assert set(pcm16(loud).tolist()) == {32767}
    mixed = pcm16(np.stack([np.full(10, 2**30, np.int32), np.zeros(10, np.int32)], axis=1))
    assert set(mixed.tolist()) == {8192}
    assert pcm16(np.full((1, 500), 0.5)).size == 500  # one row of 500 samples is mono


def refused(exc: type[Exception], pcm: Any, rate: Any = audio.SAMPLE_RATE) -> str:
    with pytest.raises(exc) as info:
        audio.to_pcm16(pcm, rate)
    return str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_float_samples_are_refused(bad: float) -> None:
    text = refused(ValueError, np.array([0.1, 0.2, bad], dtype=np.float32))
    assert text.startswith("pcm holds 1 NaN or infinite") and "flat index 2" in text and "nan_to_num" in text
    assert "pcm holds" in refused(ValueError, np.array([[0.0, bad]]))  # stereo too


@pytest.mark.parametrize("dtype", [np.int64, np.uint64, np.bool_, np.complex64, object])
def test_dtypes_whose_scale_is_a_guess_are_refused(dtype: Any) -> None:
    text = refused(TypeError, np.zeros(4, dtype=dtype))
    assert text.startswith("pcm has dtype") and "astype(np.int16)" in text


def test_shapes_that_are_not_audio_are_refused() -> None:
    assert "channel axis" in refused(ValueError, np.zeros((20, 20), np.int16))
    assert refused(ValueError, np.zeros((2, 2, 2))).startswith("pcm: audio array must be 1-D")
    assert refused(ValueError, np.array(0.5)).startswith("pcm: audio array must be 1-D")
    assert refused(TypeError, [1, 2]).startswith("pcm must be bytes or a numpy array")
    assert refused(ValueError, b"\x00\x01\x02").startswith("pcm: PCM16 audio must have an even number of bytes")


@pytest.mark.parametrize("rate", ["24000", True, False, 24000.0, None, b"24000"])
def test_a_sample_rate_that_is_not_an_int_is_a_type_error(rate: Any) -> None:
    text = refused(TypeError, b"\x00\x00", rate)
    assert text.startswith("sample_rate must be an int in Hz") and "sample_rate=24000" in text


@pytest.mark.parametrize("rate", [-24000, 0, 1, 7999, 384_001, 10**9])
def test_an_implausible_sample_rate_is_a_value_error(rate: int) -> None:
    text = refused(ValueError, b"\x00\x00" * 240, rate)
    assert f"sample_rate={rate} Hz" in text and "8000..384000" in text


def test_plausible_rates_at_both_ends_and_numpy_ints() -> None:
    assert pcm16(np.zeros(80, np.int16), 8000).size == 240
    assert pcm16(np.zeros(3840, np.int16), 384_000).size == 240
    assert pcm16(np.zeros(160, np.int16), np.int64(16000)).size == 240  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dst_rate=1 Hz"):
        audio.resample(np.zeros(10, np.int16), 24000, 1)


def test_empty_audio_is_empty() -> None:
    assert audio.to_pcm16(b"") == b""
    assert audio.to_pcm16(np.zeros(0, np.float32), 16000) == b""
    for shape in ((0, 2), (2, 0), (100, 0)):  # no frames, or no channels
        assert audio.to_pcm16(np.zeros(shape, np.int16)) == b""


@pytest.mark.parametrize(("width", "dtype"), [(1, np.uint8), (4, np.int32)])
def test_wav_files_of_8_and_32_bits(tmp_path: Path, width: int, dtype: Any) -> None:
    info = np.iinfo(dtype)
    samples = np.array([info.min, info.max, (int(info.min) + int(info.max) + 1) // 2] * 10, dtype=dtype)
    path = tmp_path / "a.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(width)
        wav.setframerate(24000)
        wav.writeframes(samples.tobytes())
    assert np.frombuffer(audio.read_wav(path), "<i2")[:3].tolist() == [-32768, 32767 if width == 4 else 32512, 0]
