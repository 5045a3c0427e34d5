"""EnergyVad: turn boundaries on synthesized speech, noise rejection, chunking, live configuration."""

from __future__ import annotations

import numpy as np
import pytest

from rtwidget.protocol.pcm import SAMPLE_RATE
from rtwidget.server.vad import FRAME_MS, EnergyVad, VadEvent, threshold_dbfs
from rtwidget.server.voice import default_voice

SENTENCE = "The quick brown fox jumps over the lazy dog today."
SECOND = np.zeros(SAMPLE_RATE, dtype=np.int16)


def silence(ms: int) -> np.ndarray:
    return np.zeros(SAMPLE_RATE * ms // 1000, dtype=np.int16)


def pcm(*parts: np.ndarray) -> bytes:
    return np.concatenate(parts).astype("<i2").tobytes()


def feed_in_chunks(vad: EnergyVad, data: bytes, size: int) -> list[VadEvent]:
    events: list[VadEvent] = []
    for start in range(0, len(data), size):
        events += vad.feed(data[start : start + size])
    return events


def kinds(events: list[VadEvent]) -> list[str]:
    return [e.kind for e in events]


def noise_at(dbfs: float, seconds: float, *, seed: int = 0, brown: bool = False) -> np.ndarray:
    """White (or low-passed, room-like) noise whose RMS is ``dbfs`` relative to full scale."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(SAMPLE_RATE * seconds))
    if brown:  # one-pole low-pass: most energy below ~200 Hz, like ventilation rumble
        from itertools import accumulate

        x = np.fromiter(accumulate(x, lambda acc, v: 0.95 * acc + v), dtype=np.float64, count=x.size)
    x *= 32768 * 10 ** (dbfs / 20) / np.sqrt(np.mean(x**2))
    return np.round(x).astype(np.int16)


def sine_at(dbfs: float, seconds: float, hz: float = 220.0) -> np.ndarray:
    """A sine whose RMS is ``dbfs`` (peak is 3 dB higher)."""
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    wave: np.ndarray = np.round(np.sqrt(2) * 32768 * 10 ** (dbfs / 20) * np.sin(2 * np.pi * hz * t))
    return wave.astype(np.int16)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """About 3 s of synthesized speech (espeak-ng when available) as int16 samples."""
    samples = np.frombuffer(default_voice().synthesize(SENTENCE), dtype="<i2")
    assert samples.size > SAMPLE_RATE
    return samples


def span_ms(samples: np.ndarray, offset_ms: int) -> tuple[float, float]:
    """Onset and end (ms on the fed timeline) of the audible part: samples above 1 % of full scale."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 328)
    return offset_ms + loud[0] / 24, offset_ms + (loud[-1] + 1) / 24


def test_threshold_mapping_is_linear_in_db() -> None:
    assert threshold_dbfs(0.5) == -40.0
    assert threshold_dbfs(0.0) == -70.0
    assert threshold_dbfs(1.0) == -10.0
    assert threshold_dbfs(0.6) - threshold_dbfs(0.5) == pytest.approx(6.0)


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.8])
def test_tone_just_above_threshold_starts_speech_and_just_below_does_not(threshold: float) -> None:
    level = threshold_dbfs(threshold)
    above = EnergyVad(threshold=threshold).feed(pcm(SECOND, sine_at(level + 2, 0.5), SECOND))
    below = EnergyVad(threshold=threshold).feed(pcm(SECOND, sine_at(level - 2, 0.5), SECOND))
    assert kinds(above) == ["speech_started", "speech_stopped"]
    assert below == []


def test_silence_gives_no_events_and_advances_the_timeline() -> None:
    vad = EnergyVad()
    assert feed_in_chunks(vad, pcm(silence(5000)), 960) == []
    assert vad.position_ms == 5000
    assert not vad.in_speech


def test_one_utterance_gives_one_start_and_one_stop_with_api_timings(speech: np.ndarray) -> None:
    vad = EnergyVad(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=200)
    events = vad.feed(pcm(SECOND, speech, SECOND))
    assert kinds(events) == ["speech_started", "speech_stopped"]
    onset, end = span_ms(speech, 1000)
    # Start: speech onset minus the prefix padding, within two frames (plus the 30 ms to confirm speech).
    assert onset - 300 - 2 * FRAME_MS <= events[0].audio_ms <= onset - 300 + 4 * FRAME_MS
    # Stop: end of speech plus the silence window, within two frames.
    assert abs(events[1].audio_ms - (end + 200)) <= 2 * FRAME_MS
    assert not vad.in_speech
    assert vad.position_ms == 2000 + speech.size // 24


def test_stop_is_reported_once_the_silence_window_has_been_fed(speech: np.ndarray) -> None:
    vad = EnergyVad(silence_duration_ms=500)
    _, end = span_ms(speech, 1000)
    started = vad.feed(pcm(SECOND, speech))
    assert kinds(started) == ["speech_started"]
    assert vad.in_speech
    assert vad.feed(pcm(silence(400))) == []  # the window is not over yet
    stopped = vad.feed(pcm(silence(200)))
    assert kinds(stopped) == ["speech_stopped"]
    assert abs(stopped[0].audio_ms - (end + 500)) <= 2 * FRAME_MS


@pytest.mark.parametrize("size", [1, 333, 960, 4800, 48_001], ids=["1B", "333B", "20ms", "100ms", "1s+1B"])
def test_events_do_not_depend_on_chunk_size(speech: np.ndarray, size: int) -> None:
    data = pcm(SECOND, speech, silence(150), speech, SECOND, speech, SECOND)
    whole = EnergyVad().feed(data)
    assert kinds(whole) == ["speech_started", "speech_stopped"] * 2
    vad = EnergyVad()
    assert feed_in_chunks(vad, data, size) == whole
    assert vad.position_ms == len(data) // 48


def test_two_utterances_separated_by_a_long_gap_give_two_turns(speech: np.ndarray) -> None:
    events = EnergyVad().feed(pcm(SECOND, speech, SECOND, SECOND, speech, SECOND))
    assert kinds(events) == ["speech_started", "speech_stopped", "speech_started", "speech_stopped"]
    second_onset, _ = span_ms(speech, 3000 + speech.size // 24)
    assert abs(events[2].audio_ms - (second_onset - 300)) <= 4 * FRAME_MS
    assert events[1].audio_ms < events[2].audio_ms


def test_gap_shorter_than_silence_duration_keeps_one_turn(speech: np.ndarray) -> None:
    data = pcm(SECOND, speech, silence(400), speech, SECOND)
    assert kinds(EnergyVad(silence_duration_ms=600).feed(data)) == ["speech_started", "speech_stopped"]
    assert kinds(EnergyVad(silence_duration_ms=200).feed(data)) == ["speech_started", "speech_stopped"] * 2


def test_next_start_is_clamped_to_the_end_of_the_previous_turn(speech: np.ndarray) -> None:
    # The second utterance begins 250 ms after the first ends: its 300 ms prefix would reach back into
    # audio the server already committed at speech_stopped.
    events = EnergyVad(silence_duration_ms=200).feed(pcm(SECOND, speech, silence(250), speech, SECOND))
    assert kinds(events) == ["speech_started", "speech_stopped"] * 2
    assert events[2].audio_ms == events[1].audio_ms


def test_prefix_padding_never_goes_before_zero(speech: np.ndarray) -> None:
    events = EnergyVad(prefix_padding_ms=300).feed(pcm(silence(100), speech, SECOND))
    assert events[0] == VadEvent("speech_started", 0)


def test_prefix_padding_is_applied_as_configured(speech: np.ndarray) -> None:
    data = pcm(SECOND, speech, SECOND)
    start_0 = EnergyVad(prefix_padding_ms=0).feed(data)[0].audio_ms
    start_500 = EnergyVad(prefix_padding_ms=500).feed(data)[0].audio_ms
    assert start_0 - start_500 == 500


def test_low_hiss_gives_no_events() -> None:
    assert EnergyVad().feed(pcm(noise_at(-60.0, 10.0))) == []


def test_room_noise_around_minus_50_dbfs_gives_no_events() -> None:
    assert EnergyVad().feed(pcm(noise_at(-50.0, 10.0, seed=1))) == []
    assert EnergyVad().feed(pcm(noise_at(-50.0, 10.0, seed=2, brown=True))) == []


def test_speech_over_room_noise_is_still_one_turn(speech: np.ndarray) -> None:
    clean = np.concatenate([SECOND, speech, SECOND]).astype(np.int32)
    noisy = np.clip(clean + noise_at(-50.0, clean.size / SAMPLE_RATE, seed=3), -32768, 32767)
    assert kinds(EnergyVad().feed(pcm(noisy))) == ["speech_started", "speech_stopped"]


def test_a_click_does_not_start_speech() -> None:
    click = np.full(120, 20_000, dtype=np.int16)  # 5 ms at -4 dBFS, straddling two frames
    assert EnergyVad().feed(pcm(silence(1005), click, SECOND)) == []
    burst = np.full(480, 20_000, dtype=np.int16)  # 20 ms, aligned on two whole frames
    assert EnergyVad().feed(pcm(silence(1000), burst, SECOND)) == []


def test_higher_threshold_rejects_quieter_speech(speech: np.ndarray) -> None:
    quiet = np.round(speech * 0.1).astype(np.int16)  # 20 dB down: about -39 dBFS overall
    data = pcm(SECOND, quiet, SECOND)
    assert kinds(EnergyVad(threshold=0.5).feed(data)) == ["speech_started", "speech_stopped"]
    assert EnergyVad(threshold=0.7).feed(data) == []
    # The louder original still passes the higher threshold.
    assert kinds(EnergyVad(threshold=0.7).feed(pcm(SECOND, speech, SECOND))) == [
        "speech_started",
        "speech_stopped",
    ]


def test_configure_changes_the_threshold_live(speech: np.ndarray) -> None:
    quiet = np.round(speech * 0.1).astype(np.int16)
    vad = EnergyVad()
    assert kinds(vad.feed(pcm(SECOND, quiet, SECOND))) == ["speech_started", "speech_stopped"]
    vad.configure(threshold=0.7)
    assert vad.threshold == 0.7
    assert vad.prefix_padding_ms == 300  # unchanged
    assert vad.feed(pcm(quiet, SECOND)) == []
    vad.configure(threshold=0.5)
    assert kinds(vad.feed(pcm(quiet, SECOND))) == ["speech_started", "speech_stopped"]


def test_configure_keeps_the_speech_state(speech: np.ndarray) -> None:
    vad = EnergyVad(silence_duration_ms=500)
    assert kinds(vad.feed(pcm(SECOND, speech))) == ["speech_started"]
    vad.configure(prefix_padding_ms=100)
    assert vad.in_speech
    _, end = span_ms(speech, 1000)
    assert vad.feed(pcm(silence(300))) == []
    # The 300 ms of silence already fed cover a new 200 ms window: the next feed reports the stop, dated
    # at the end of that window, in the past.
    vad.configure(silence_duration_ms=200)
    stopped = vad.feed(pcm(silence(10)))
    assert kinds(stopped) == ["speech_stopped"]
    assert abs(stopped[0].audio_ms - (end + 200)) <= 2 * FRAME_MS
    assert stopped[0].audio_ms < vad.position_ms - 50


def test_reset_forgets_speech_but_keeps_the_timeline(speech: np.ndarray) -> None:
    vad = EnergyVad()
    half = speech[: speech.size // 2]
    assert kinds(vad.feed(pcm(SECOND, half))) == ["speech_started"]
    position = vad.position_ms
    vad.reset()
    assert not vad.in_speech
    assert vad.position_ms == position
    # Speech that goes on after the reset is a new turn whose prefix stops at the reset point.
    events = vad.feed(pcm(speech[speech.size // 2 :], SECOND))
    assert kinds(events) == ["speech_started", "speech_stopped"]
    assert events[0].audio_ms >= position
    # Later turns are dated on the same cumulative timeline.
    later = vad.feed(pcm(SECOND, speech, SECOND))
    onset, _ = span_ms(speech, vad.position_ms - 1000 - speech.size // 24)
    assert abs(later[0].audio_ms - (onset - 300)) <= 4 * FRAME_MS


def test_odd_sized_feeds_count_whole_samples() -> None:
    vad = EnergyVad()
    assert vad.feed(b"\x00\x00\x00") == []
    assert vad.position_ms == 0
    vad.feed(b"\x00" * 47)  # 50 bytes = 25 samples
    assert vad.position_ms == 1
    assert vad.feed(b"") == []
    vad.feed(bytearray(47_950))  # now exactly 1 s
    assert vad.position_ms == 1000


@pytest.mark.parametrize(
    "kwargs",
    [{"threshold": 1.5}, {"threshold": -0.1}, {"prefix_padding_ms": -1}, {"silence_duration_ms": 2.5}],
)
def test_invalid_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EnergyVad(**kwargs)  # type: ignore[arg-type]
    vad = EnergyVad()
    with pytest.raises(ValueError):
        vad.configure(**kwargs)  # type: ignore[arg-type]
    assert vad.threshold == 0.5 and vad.silence_duration_ms == 200  # a refused update changes nothing
