"""Tools the session tests register: sync and async, one that fails; each call is noted in a list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal


def tool_fns(log: list[str]) -> list[Callable[..., Any]]:
    """``get_weather``, ``get_time``, ``roll_dice`` (async) and ``broken`` (raises), each appending its name."""

    def get_weather(city: str, units: Literal["c", "f"] = "c") -> dict[str, Any]:
        """Current weather for a city."""
        log.append("get_weather")
        return {"city": city, "temp": 21 if units == "c" else 70}

    def get_time(zone: str = "UTC") -> str:
        """The time in a zone."""
        log.append("get_time")
        return f"12:00 {zone}"

    async def roll_dice(sides: int = 6) -> int:
        """Roll a die."""
        log.append("roll_dice")
        return sides

    def broken() -> str:
        """Always fails."""
        log.append("broken")
        raise RuntimeError("the tool broke")

    return [get_weather, get_time, roll_dice, broken]
