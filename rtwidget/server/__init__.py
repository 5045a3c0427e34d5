"""rtwidget's local Realtime server: speaks the GA protocol on loopback, with no API key and no network.

- :class:`LocalServer` / :func:`shared_server` (``app``): the websockets server.
- :class:`Engine` (``engine``): the sans-I/O protocol engine, one per connection.
- :class:`Brain` (``brain``): the deterministic "model".
- :class:`Script` (``script``): scripted events, errors and disconnects for tests.
- ``vad`` (energy VAD) and ``voice`` (speech synthesis) are used by the engine.

See ``docs/local-server.md``.
"""

from __future__ import annotations

from .app import LocalServer, shared_server
from .brain import Brain, FunctionCall, Reply
from .engine import Engine, EngineConfig
from .script import Rule, Script

__all__ = [
    "Brain",
    "Engine",
    "EngineConfig",
    "FunctionCall",
    "LocalServer",
    "Reply",
    "Rule",
    "Script",
    "shared_server",
]
