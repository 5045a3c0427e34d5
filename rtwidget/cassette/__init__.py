"""Cassettes: a recorded Realtime session in one file (wire events both ways with their times, the audio once as
PCM16, the effective config), written by :class:`CassetteWriter` and read by :class:`Cassette`.

Floor 2 (standard library only). The format is documented in ``docs/cassettes.md``; ``session.record(path)`` makes
one (see ``rtwidget.session.recording``).
"""

from .format import (
    AUDIO_REF,
    FORMAT,
    MIC,
    MODEL,
    SERVER,
    VERSION,
    Cassette,
    CassetteEvent,
    CassetteSource,
    is_audio_ref,
    load_cassette,
)
from .writer import CassetteWriter, check_path

__all__ = [
    "AUDIO_REF",
    "FORMAT",
    "MIC",
    "MODEL",
    "SERVER",
    "VERSION",
    "Cassette",
    "CassetteEvent",
    "CassetteSource",
    "CassetteWriter",
    "check_path",
    "is_audio_ref",
    "load_cassette",
]
