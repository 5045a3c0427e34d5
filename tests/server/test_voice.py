"""The local server's voices: format, durations, voice mapping, backends, fallback and threads."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable

import numpy as np
import pytest

from rtwidget.protocol.event_types import VOICES
from rtwidget.protocol.pcm import BYTES_PER_SAMPLE, SAMPLE_RATE
from rtwidget.server import voice as voice_module
from rtwidget.server.vad import EnergyVad
from rtwidget.server.voice import (
    EspeakLibraryVoice,
    EspeakProgramVoice,
    SyntheticVoice,
    Voice,
    VoiceProfile,
    default_voice,
    voice_profile,
)

TEN_WORDS = "Please tell me the weather in Paris for tomorrow morning."


def _library() -> Voice:
    try:
        return EspeakLibraryVoice()
    except Exception as exc:
        pytest.skip(f"espeak-ng library not available here: {exc!r}")


def _program() -> Voice:
    if shutil.which("espeak-ng") is None:
        pytest.skip("the espeak-ng program is not installed")
    return EspeakProgramVoice()


BACKENDS: dict[str, Callable[[], Voice]] = {
    "library": _library,
    "program": _program,
    "synthetic": SyntheticVoice,
}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Voice:
    """A fresh instance (so a fresh cache) of each backend available here."""
    return BACKENDS[request.param]()


def samples(pcm: bytes) -> np.ndarray:
    assert len(pcm) % 2 == 0
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def seconds(pcm: bytes) -> float:
    return len(pcm) / BYTES_PER_SAMPLE / SAMPLE_RATE


def f0_hz(pcm: bytes) -> float:
    """Median pitch over the loud 40 ms frames, by autocorrelation between 60 and 400 Hz."""
    x = samples(pcm)
    frames = x[: x.size // 960 * 960].reshape(-1, 960)
    frames = frames[frames.std(axis=1) > 0.05 * 32768]
    lo, hi = SAMPLE_RATE // 400, SAMPLE_RATE // 60
    pitches = []
    for frame in frames:
        frame = frame - frame.mean()
        ac = np.correlate(frame, frame, "full")[959:]
        pitches.append(SAMPLE_RATE / (lo + int(np.argmax(ac[lo:hi]))))
    return float(np.median(pitches))


def envelope(pcm: bytes, frame: int = 480) -> np.ndarray:
    x = samples(pcm)
    rms: np.ndarray = np.sqrt((x[: x.size // frame * frame].reshape(-1, frame) ** 2).mean(axis=1))
    return rms


def test_output_is_pcm16_at_24khz_with_speech_like_level_and_length(backend: Voice) -> None:
    pcm = backend.synthesize(TEN_WORDS)
    x = samples(pcm)
    assert x.size > 0
    # Ten words (57 characters) last 2-6 s at 24 kHz: at 22.05 kHz or 16 kHz the count would be off.
    assert 2.0 < seconds(pcm) < 6.0
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean(x**2)) / 32768)
    assert -30 < rms_dbfs < -10
    assert np.abs(x).max() < 32767  # no clipping


@pytest.mark.parametrize("make", [_library, _program], ids=["library", "program"])
def test_espeak_output_is_band_limited_like_a_22khz_source_resampled_to_24khz(
    make: Callable[[], Voice],
) -> None:
    backend = make()
    x = samples(backend.synthesize(TEN_WORDS))
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)
    speech_band = power[(freqs > 100) & (freqs < 4000)].sum()
    assert power[freqs > 11_100].sum() < 1e-3 * speech_band  # nothing above the source's Nyquist


def test_duration_grows_with_text_length(backend: Voice) -> None:
    short = backend.synthesize("Hello there.")
    long = backend.synthesize("Hello there. " + TEN_WORDS + " " + TEN_WORDS)
    assert seconds(long) > 3 * seconds(short)


def test_duration_shrinks_with_speed(backend: Voice) -> None:
    slow, normal, fast = (backend.synthesize(TEN_WORDS, speed=s) for s in (0.6, 1.0, 1.5))
    assert seconds(slow) > 1.3 * seconds(normal)
    assert seconds(normal) > 1.3 * seconds(fast)


def test_openai_voices_sound_different(backend: Voice) -> None:
    outputs = {name: backend.synthesize(TEN_WORDS, voice=name) for name in VOICES}
    assert len(set(outputs.values())) == len(VOICES)
    # The lower voices really are lower: echo and cedar against shimmer and coral.
    for low, high in [("echo", "shimmer"), ("cedar", "coral"), ("ash", "alloy")]:
        assert f0_hz(outputs[low]) * 1.4 < f0_hz(outputs[high])


def test_unknown_voice_names_get_a_fixed_known_profile(backend: Voice) -> None:
    profile = voice_profile("nova")
    assert profile in {voice_profile(name) for name in VOICES}
    assert voice_profile("nova") == profile
    assert voice_profile("MARIN") == voice_profile("marin")
    twin = next(name for name in VOICES if voice_profile(name) == profile)
    assert backend.synthesize("Good morning.", voice="nova") == backend.synthesize("Good morning.", voice=twin)


def test_results_are_cached(backend: Voice) -> None:
    first = backend.synthesize(TEN_WORDS, voice="verse")
    assert backend.synthesize(TEN_WORDS, voice="verse") is first
    assert backend.synthesize(TEN_WORDS, voice="verse", speed=1.2) is not first


def test_blank_text_gives_no_audio_and_bad_speed_is_refused(backend: Voice) -> None:
    assert backend.synthesize("") == b""
    assert backend.synthesize("  \n\0 ") == b""
    for speed in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            backend.synthesize("Hello.", speed=speed)


def test_text_that_looks_like_options_or_markup_is_spoken(backend: Voice) -> None:
    pcm = backend.synthesize("--help -v xx <speak> [[a]] ok")
    assert seconds(pcm) > 0.5


def test_output_is_detected_as_one_turn_by_the_vad(backend: Voice) -> None:
    second = b"\0" * 2 * SAMPLE_RATE
    events = EnergyVad().feed(second + backend.synthesize(TEN_WORDS) + second)
    assert [e.kind for e in events] == ["speech_started", "speech_stopped"]


def test_backends_are_voices(backend: Voice) -> None:
    assert isinstance(backend, Voice)
    assert backend.name in {"espeak-ng library", "espeak-ng program", "synthetic"}


def test_synthetic_voice_duration_follows_text_length_and_speed() -> None:
    voice = SyntheticVoice()
    assert seconds(voice.synthesize("x" * 100)) == pytest.approx(7.0, abs=0.001)
    assert seconds(voice.synthesize("x" * 100, speed=0.5)) == pytest.approx(14.0, abs=0.001)
    assert seconds(voice.synthesize("Hi")) == pytest.approx(0.2, abs=0.001)  # the minimum
    assert SyntheticVoice().synthesize("Same text.") == voice.synthesize("Same text.")  # deterministic


def test_library_voice_matches_the_espeak_ng_program() -> None:
    library, program = _library(), _program()
    for name in ("alloy", "echo"):
        a = library.synthesize(TEN_WORDS, voice=name)
        b = program.synthesize(TEN_WORDS, voice=name)
        assert seconds(a) == pytest.approx(seconds(b), rel=0.1)
        n = min(len(envelope(a)), len(envelope(b)))
        assert np.corrcoef(envelope(a)[:n], envelope(b)[:n])[0, 1] > 0.8
        assert f0_hz(a) == pytest.approx(f0_hz(b), rel=0.15)


def test_default_voice_is_the_espeak_library_here() -> None:
    pytest.importorskip("espeakng_loader")
    chosen = default_voice()
    assert chosen.name == "espeak-ng library"
    assert default_voice() is chosen  # one shared instance, so one shared cache


def test_fallback_to_the_program_then_to_the_synthetic_voice(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("libespeak-ng.so: cannot open shared object file")

    monkeypatch.setattr(voice_module, "EspeakLibraryVoice", broken)
    if shutil.which("espeak-ng") is not None:
        assert voice_module._pick_voice().name == "espeak-ng program"
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert isinstance(voice_module._pick_voice(), SyntheticVoice)


def test_program_voice_refuses_a_missing_program() -> None:
    with pytest.raises(FileNotFoundError):
        EspeakProgramVoice("/nonexistent/espeak-ng")


def test_concurrent_synthesis_gives_the_same_audio_as_serial(backend: Voice) -> None:
    jobs = [
        (f"Sentence number {i} for thread safety.", VOICES[i % len(VOICES)], 1.0 + 0.1 * (i % 3)) for i in range(24)
    ]
    expected = [type(backend)().synthesize(text, voice=v, speed=s) for text, v, s in jobs]
    results: list[bytes | None] = [None] * len(jobs)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(worker: int) -> None:
        voice = type(backend)()  # separate caches: every call really synthesizes
        start.wait()
        try:
            for index in range(worker, len(jobs), 8):
                text, v, s = jobs[index]
                results[index] = voice.synthesize(text, voice=v, speed=s)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    if backend.name == "espeak-ng library":
        # espeak-ng's pitch flutter runs on from one utterance to the next, so a repeat is not
        # bit-identical. Audio of two calls mixed into one, or a voice or rate set by another thread,
        # would change the length or the pitch far more than that.
        for got, want in zip(results, expected, strict=True):
            assert got is not None
            assert seconds(got) == pytest.approx(seconds(want), rel=0.03)
            assert f0_hz(got) == pytest.approx(f0_hz(want), rel=0.1)
    else:
        assert results == expected


def test_voice_profile_table_covers_every_openai_voice_distinctly() -> None:
    assert set(voice_module._PROFILES) == set(VOICES)  # one table entry per voice the API offers, no more
    profiles = [voice_profile(name) for name in VOICES]
    assert all(isinstance(p, VoiceProfile) for p in profiles)
    assert len(set(profiles)) == len(VOICES)
    assert all(0 <= p.pitch <= 99 for p in profiles)


def test_cache_is_bounded_and_evicts_the_least_recently_used() -> None:
    voice = SyntheticVoice(cache_entries=2)
    a = voice.synthesize("First.")
    b = voice.synthesize("Second.")
    assert voice.synthesize("First.") is a  # now the most recent
    voice.synthesize("Third.")  # evicts "Second."
    assert voice.synthesize("First.") is a
    again = voice.synthesize("Second.")
    assert again == b and again is not b
    tiny = SyntheticVoice(cache_bytes=1000)  # results larger than the budget are not kept
    assert tiny.synthesize("Too long to keep.") is not tiny.synthesize("Too long to keep.")
