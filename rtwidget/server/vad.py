"""Energy-based voice activity detection implementing the ``server_vad`` turn-detection parameters.

The local server feeds every ``input_audio_buffer.append`` payload (PCM16 mono 24 kHz) to an
:class:`EnergyVad` and turns the :class:`VadEvent` values it returns into
``input_audio_buffer.speech_started`` / ``speech_stopped`` events::

    vad = EnergyVad(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=200)
    for event in vad.feed(pcm):          # any chunk size; partial frames are carried over
        ...                              # event.kind, event.audio_ms

How it decides
--------------
- Audio is cut into 10 ms frames (240 samples) on the cumulative timeline of all audio fed since the
  VAD was created; frame ``k`` covers ``[10 k, 10 k + 10)`` ms, whatever the chunk sizes were, so the
  events do not depend on how the audio was chunked.
- Each frame's energy is its mean power with the DC offset removed, in dBFS relative to a full-scale
  square wave (the convention of :func:`rtwidget.audio.level`; a full-scale sine is -3 dBFS).
- ``threshold`` (0.0-1.0) maps linearly onto the start level: ``-70 + 60 * threshold`` dBFS
  (:func:`threshold_dbfs`). 0.5 gives -40 dBFS: normal speech (about -30 to -15 dBFS, espeak-ng
  at default amplitude about -20 dBFS) starts a turn, while low hiss (-60 dBFS) and room noise
  (-50 dBFS) do not. Each +0.1 asks for 6 dB more, twice the amplitude; 1.0 (-10 dBFS) takes
  shouting, 0.0 (-70 dBFS) reacts to almost anything that is not digital silence.
- Speech starts after :data:`MIN_SPEECH_FRAMES` consecutive frames (30 ms) at or above the start
  level, so a click does not start a turn. ``audio_start_ms`` is the start of the first of those frames
  minus ``prefix_padding_ms``, clamped to the start of the not-yet-committed buffer (see below).
- While in speech a frame counts as speech down to :data:`HYSTERESIS_DB` (6 dB) below the start level,
  so soft consonants and decaying word endings do not count as silence. Speech stops after
  ``silence_duration_ms`` of consecutive quieter frames (rounded up to whole frames, at least one);
  ``audio_end_ms`` is the end of that silence window, as the real API reports it.
- The start of the not-yet-committed buffer is the ``audio_end_ms`` of the last ``speech_stopped``
  (the server commits the buffer then) or the position at the last :meth:`EnergyVad.reset` (which the
  server calls after ``input_audio_buffer.clear`` or a manual commit), and never before 0.

Cost: one vectorised numpy pass per chunk over its whole frames, plus a few array operations per speech
start or stop; no Python loop over samples or frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from rtwidget.audio import BYTES_PER_SAMPLE, SAMPLES_PER_MS

__all__ = [
    "FRAME_MS",
    "HYSTERESIS_DB",
    "MIN_SPEECH_FRAMES",
    "EnergyVad",
    "VadEvent",
    "threshold_dbfs",
]

FRAME_MS = 10
"""Analysis frame length in milliseconds."""
FRAME_SAMPLES = SAMPLES_PER_MS * FRAME_MS
FRAME_BYTES = FRAME_SAMPLES * BYTES_PER_SAMPLE
MIN_SPEECH_FRAMES = 3
"""Consecutive frames at or above the start level needed to start speech (30 ms)."""
HYSTERESIS_DB = 6.0
"""Once in speech, frames down to this many dB below the start level still count as speech."""

_FULL_SCALE_POWER = 32768.0**2


def threshold_dbfs(threshold: float) -> float:
    """The frame level in dBFS at which speech starts for a ``server_vad`` ``threshold`` in [0, 1]."""
    return -70.0 + 60.0 * threshold


@dataclass(frozen=True)
class VadEvent:
    """A turn boundary found by :class:`EnergyVad`.

    ``audio_ms`` is on the cumulative timeline of all audio fed to the VAD: for ``speech_started`` it is
    the ``audio_start_ms`` to report (prefix padding included), for ``speech_stopped`` the
    ``audio_end_ms`` (silence window included).
    """

    kind: Literal["speech_started", "speech_stopped"]
    audio_ms: int


def _check_params(threshold: float, prefix_padding_ms: int, silence_duration_ms: int) -> None:
    if not (isinstance(threshold, (int, float)) and 0.0 <= threshold <= 1.0):
        raise ValueError(f"threshold must be a number from 0.0 to 1.0, got {threshold!r}")
    for name, value in (
        ("prefix_padding_ms", prefix_padding_ms),
        ("silence_duration_ms", silence_duration_ms),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def _first_run(mask: npt.NDArray[np.bool_], carry: int, need: int) -> tuple[int | None, int]:
    """Find the first run of ``need`` consecutive True values in ``mask``.

    ``carry`` True values are taken to precede ``mask[0]``. Returns ``(start, 0)`` where ``start`` is
    the index where the run begins (negative if it began before ``mask``), or ``(None, carry)`` with
    the length of the run still open at the end of ``mask``.
    """
    if carry >= need:
        return -carry, 0
    if not mask.any():
        return None, 0
    breaks = np.flatnonzero(~mask)
    n = int(mask.size)
    if breaks.size == 0:
        return (-carry, 0) if carry + n >= need else (None, carry + n)
    if carry + int(breaks[0]) >= need:
        return -carry, 0
    if breaks.size > 1:
        hits = np.flatnonzero(np.diff(breaks) - 1 >= need)
        if hits.size:
            return int(breaks[hits[0]]) + 1, 0
    last = int(breaks[-1])
    tail = n - 1 - last
    return (last + 1, 0) if tail >= need else (None, tail)


class EnergyVad:
    """Frame-energy VAD with the ``server_vad`` parameters; see the module docstring for the rules.

    Call :meth:`feed` with every chunk of input audio and act on the events it returns, in order. Call
    :meth:`configure` on ``session.update`` and :meth:`reset` after ``input_audio_buffer.clear`` (or a
    manual commit). Not thread-safe: one VAD per session, used from one thread.
    """

    def __init__(self, threshold: float = 0.5, prefix_padding_ms: int = 300, silence_duration_ms: int = 200) -> None:
        _check_params(threshold, prefix_padding_ms, silence_duration_ms)
        self._threshold = float(threshold)
        self._prefix_padding_ms = prefix_padding_ms
        self._silence_duration_ms = silence_duration_ms
        # Frame power (DC removed) at or above which speech starts; below _stop_power it counts as silence.
        self._start_power = 0.0
        self._stop_power = 0.0
        # Frames of silence that end speech: ceil(silence_duration_ms / FRAME_MS), at least 1.
        self._silence_frames = 1
        self._apply_params()
        # Bytes fed but not yet analysed (less than one frame, possibly an odd byte).
        self._pending = b""
        # Total bytes fed since creation: the cumulative timeline.
        self._bytes_fed = 0
        # Index of the next frame to analyse (frames analysed so far).
        self._frames_done = 0
        # True between a speech_started and the following speech_stopped.
        self._in_speech = False
        # Length of the run ending at the last analysed frame: loud frames while idle, quiet ones in speech.
        self._run = 0
        # Start of the not-yet-committed buffer (ms); audio_start_ms never goes below it.
        self._floor_ms = 0

    # -- configuration -------------------------------------------------------------------------------

    @property
    def threshold(self) -> float:
        return self._threshold

    @property
    def prefix_padding_ms(self) -> int:
        return self._prefix_padding_ms

    @property
    def silence_duration_ms(self) -> int:
        return self._silence_duration_ms

    def configure(
        self,
        threshold: float | None = None,
        prefix_padding_ms: int | None = None,
        silence_duration_ms: int | None = None,
    ) -> None:
        """Change the parameters given (``None`` keeps one) without losing the speech state or timeline.

        The new values apply from the next frame analysed. If a shorter ``silence_duration_ms`` is
        already covered by the silence in progress, the next :meth:`feed` reports ``speech_stopped``.
        """
        new_threshold = self._threshold if threshold is None else threshold
        new_prefix = self._prefix_padding_ms if prefix_padding_ms is None else prefix_padding_ms
        new_silence = self._silence_duration_ms if silence_duration_ms is None else silence_duration_ms
        _check_params(new_threshold, new_prefix, new_silence)
        self._threshold = float(new_threshold)
        self._prefix_padding_ms = new_prefix
        self._silence_duration_ms = new_silence
        self._apply_params()

    def _apply_params(self) -> None:
        self._start_power = _FULL_SCALE_POWER * 10.0 ** (threshold_dbfs(self._threshold) / 10.0)
        self._stop_power = self._start_power * 10.0 ** (-HYSTERESIS_DB / 10.0)
        self._silence_frames = max(1, math.ceil(self._silence_duration_ms / FRAME_MS))

    # -- state ---------------------------------------------------------------------------------------

    @property
    def position_ms(self) -> int:
        """Milliseconds of audio fed since creation (whole samples; ``samples / 24``, rounded down)."""
        return self._bytes_fed // BYTES_PER_SAMPLE // SAMPLES_PER_MS

    @property
    def in_speech(self) -> bool:
        """True after ``speech_started`` until the matching ``speech_stopped``."""
        return self._in_speech

    def reset(self) -> None:
        """Forget any speech in progress; the timeline goes on and the uncommitted buffer starts here.

        No ``speech_stopped`` is reported for speech cut short by a reset.
        """
        self._in_speech = False
        self._run = 0
        self._floor_ms = self.position_ms

    # -- analysis ------------------------------------------------------------------------------------

    def feed(self, pcm: bytes | bytearray | memoryview) -> list[VadEvent]:
        """Analyse the next chunk of PCM16 mono 24 kHz audio and return the turn boundaries it completes.

        Chunks may have any length, odd ones included: bytes short of a whole frame wait for the next call.
        """
        if not pcm:
            return []
        chunk = bytes(pcm)
        self._bytes_fed += len(chunk)
        data = self._pending + chunk if self._pending else chunk
        n_frames = len(data) // FRAME_BYTES
        used = n_frames * FRAME_BYTES
        self._pending = data[used:]
        if n_frames == 0:
            return []
        samples = np.frombuffer(data, dtype="<i2", count=used // BYTES_PER_SAMPLE)
        x = samples.reshape(n_frames, FRAME_SAMPLES).astype(np.float64)
        sums = x.sum(axis=1)
        power = (np.einsum("ij,ij->i", x, x) - sums * sums / FRAME_SAMPLES) / FRAME_SAMPLES
        base = self._frames_done
        self._frames_done += n_frames
        return self._scan(power, base)

    def _scan(self, power: npt.NDArray[np.float64], base: int) -> list[VadEvent]:
        """Run the idle/speech state machine over frame powers; ``base`` is the first frame's index."""
        events: list[VadEvent] = []
        i = 0
        n = int(power.size)
        while i < n:
            if self._in_speech:
                need = self._silence_frames
                start, carry = _first_run(power[i:] < self._stop_power, self._run, need)
            else:
                need = MIN_SPEECH_FRAMES
                start, carry = _first_run(power[i:] >= self._start_power, self._run, need)
            if start is None:
                self._run = carry
                break
            run_frame = base + i + start  # absolute index of the run's first frame
            if self._in_speech:
                end_ms = (run_frame + need) * FRAME_MS
                events.append(VadEvent("speech_stopped", end_ms))
                self._floor_ms = max(self._floor_ms, end_ms)
            else:
                onset_ms = run_frame * FRAME_MS
                start_ms = max(onset_ms - self._prefix_padding_ms, self._floor_ms, 0)
                events.append(VadEvent("speech_started", start_ms))
            self._in_speech = not self._in_speech
            self._run = 0
            # Go on after the frame that completed the run (not before i, for a run completed earlier).
            i = max(i + start + need, i)
        return events

    def __repr__(self) -> str:
        state = "speech" if self._in_speech else "idle"
        return (
            f"EnergyVad(threshold={self._threshold}, prefix_padding_ms={self._prefix_padding_ms}, "
            f"silence_duration_ms={self._silence_duration_ms}, {state} at {self.position_ms} ms)"
        )
