"""A response while it runs: :class:`Run` (from ``response.created`` to ``response.done``) and its
:class:`Output` items while they stream. Plain state, shared by the responses, their stream and the usage count.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from .brain import FunctionCall
from .config import Json
from .items import Item

__all__ = ["Output", "OutputKind", "Run", "Step"]

OutputKind = Literal["audio", "text", "function_call"]
# A paced step of a response: (due time on the engine's clock, action).
Step = tuple[float, Callable[[], None]]


@dataclass
class Output:
    """One output item of a response while it streams."""

    index: int
    item: Item
    kind: OutputKind
    started: bool = False
    finished: bool = False
    sent_text: str = ""  # transcript, text or arguments sent so far
    sent_audio: bytearray = field(default_factory=bytearray)
    call: FunctionCall | None = None


@dataclass
class Run:
    """A response from response.created to response.done."""

    response: Json
    in_conversation: bool
    # Paced steps, due times non-decreasing.
    steps: deque[Step] = field(default_factory=deque)
    outputs: list[Output] = field(default_factory=list)
    input_tokens: Json = field(default_factory=dict)
    status: str = "completed"
    reason: str | None = None

    @property
    def id(self) -> str:
        return str(self.response["id"])

    @property
    def next_due(self) -> float | None:
        """When its next step is due, or None when it has none left."""
        return self.steps[0][0] if self.steps else None
