"""The one audio format of the Realtime wire that rtwidget speaks: PCM16, mono, little-endian, 24 kHz.

Every rate, size and duration conversion in rtwidget (client, local server, widget) derives from these.
"""

from __future__ import annotations

SAMPLE_RATE = 24_000
BYTES_PER_SAMPLE = 2
SAMPLES_PER_MS = SAMPLE_RATE // 1000
BYTES_PER_MS = SAMPLES_PER_MS * BYTES_PER_SAMPLE
BYTES_PER_SECOND = SAMPLE_RATE * BYTES_PER_SAMPLE
# The API refuses to commit less audio than this (``input_audio_buffer_commit_empty``).
MIN_COMMIT_MS = 100
# The GA session field for this format, and its beta name.
GA_FORMAT: dict[str, str | int] = {"type": "audio/pcm", "rate": SAMPLE_RATE}
BETA_FORMAT = "pcm16"
