"""rtwidget's local Realtime server: speaks the GA protocol on loopback, with no API key and no network.

- :class:`LocalServer` / :func:`shared_server` (``local_server``): the websockets server.
- :class:`Engine` (``engine``): the sans-I/O protocol engine, one per connection.
- :class:`Brain` (``brain``): the deterministic "model".
- :class:`Script` (``script``): scripted events, errors and disconnects for tests.
- ``vad`` (energy VAD) and ``voice`` (speech synthesis) are used by the engine.

See ``docs/local-server.md``.
"""

from __future__ import annotations

from .brain import Brain, FunctionCall, Reply
from .engine import Engine, EngineConfig
from .local_server import LocalServer, shared_server
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
