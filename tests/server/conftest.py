"""Fixtures of the server tests: ``h``, a started engine Harness (fast pace)."""

from __future__ import annotations

import pytest

from .engine_harness import Harness


@pytest.fixture
def h() -> Harness:
    harness = Harness()
    harness.start()
    return harness
