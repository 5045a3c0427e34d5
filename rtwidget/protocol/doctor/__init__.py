"""The doctor: a sans-I/O rule engine that watches a Realtime conversation's events in both directions and says,
in plain words, when a flow goes wrong and how to fix it (a function output with no ``response.create`` after it,
a ``response.create`` while outputs are still owed, beta names on a GA connection, ...).

Standard library only, like the rest of the protocol core. Feed it what the session sees, with the time (Unix
seconds, the caller's clock); each feed returns the :class:`Hint` objects it raised. It never blocks, never
raises on odd input and never changes traffic: it only watches.
"""

from .engine import Doctor
from .hint import DOCS_PAGE, LEVELS, Hint, Rule

__all__ = ["DOCS_PAGE", "LEVELS", "Doctor", "Hint", "Rule"]
