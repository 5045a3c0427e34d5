"""The protocol core's exceptions, re-exported from :mod:`rtwidget.errors` (the one tree, standard library only)."""

from __future__ import annotations

from ..errors import ClientEventError, ProtocolError

__all__ = ["ClientEventError", "ProtocolError"]
