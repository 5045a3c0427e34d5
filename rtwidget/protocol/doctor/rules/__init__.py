"""The doctor's rules, one :class:`~..check.Check` each, grouped by theme. :data:`CHECKS` is their order: a rule
that explains a server error runs before ``unhandled-error``, which stays quiet about a mistake already named."""

from __future__ import annotations

from .responses import CreateBeforeAllOutputs, CreateWhileActive, SilentAfterOutput
from .shapes import BadToolArguments, BetaOnGa, OutputNotString

CHECKS = (
    SilentAfterOutput,
    CreateBeforeAllOutputs,
    CreateWhileActive,
    OutputNotString,
    BetaOnGa,
    BadToolArguments,
)
