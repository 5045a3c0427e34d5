"""What every part of the engine shares: the per-server settings (:class:`EngineConfig`), the default model and
instructions, and what a voice must do.

Kept apart from :mod:`.engine` so the engine's collaborators can read the settings without importing the facade.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rtwidget.protocol.session_config import DEFAULT_MODEL

from .script import Pace, Script
from .voice import Voice

__all__ = ["DEFAULT_INSTRUCTIONS", "DEFAULT_MODEL", "EngineConfig", "Json", "Pace", "SpeechVoice"]

Json = dict[str, Any]

# The model a connection gets when its URL names none (``?model=`` / ``deployment=``).
DEFAULT_INSTRUCTIONS = (
    "You are the rtwidget local server, a deterministic stand-in for a Realtime model. You repeat what you "
    "are told, call the tools that are named to you, and read their results back. You are not a language "
    "model and you do not pretend to be one."
)


# What the engine needs from a voice: the protocol of :mod:`rtwidget.server.voice`, under the engine's old name.
SpeechVoice = Voice


@dataclass(frozen=True)
class EngineConfig:
    """Per-server settings shared by every connection's engine."""

    model: str = DEFAULT_MODEL
    pace: Pace = "realtime"
    script: Script | None = None
    # Maximum session duration: session_expired and a close after this long (a fraction for tests).
    session_minutes: float = 60
    # Which of the server's connections this engine serves (1 for the first): scripts may target one.
    connection: int = 1
    # Seed for the ids (event_, item_, resp_, sess_, call_); None for fresh random ids.
    seed: int | None = None
    # Size of the output audio deltas, and how far ahead of real time they are released (pace realtime).
    audio_chunk_ms: int = 100
    audio_lead_ms: int = 250
    instructions: str = DEFAULT_INSTRUCTIONS
