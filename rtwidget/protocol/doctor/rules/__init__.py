"""The doctor's rules, one :class:`~..check.Check` each, grouped by theme. :data:`CHECKS` is their order: the
rules that explain a server error run before ``unhandled-error``, which stays quiet about a mistake already named."""

from __future__ import annotations

from .conversation import TextHistoryThenResponse, VoiceAfterAudio
from .lifecycle import SessionExpiring, UnhandledError
from .responses import CreateBeforeAllOutputs, CreateWhileActive, SilentAfterOutput
from .shapes import BadToolArguments, BetaOnGa, OutputNotString
from .turns import BargeInNoTruncate, CommittedNoResponse, VadNeverTriggers

CHECKS = (
    SilentAfterOutput,
    CreateBeforeAllOutputs,
    CreateWhileActive,
    OutputNotString,
    TextHistoryThenResponse,
    CommittedNoResponse,
    VoiceAfterAudio,
    BetaOnGa,
    BargeInNoTruncate,
    VadNeverTriggers,
    SessionExpiring,
    BadToolArguments,
    UnhandledError,
)
