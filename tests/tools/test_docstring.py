"""Tests for rtwidget.tools.docstring: descriptions from Google, reST and NumPy docstrings."""

from __future__ import annotations

import json

from rtwidget.tools import Tool, parse_docstring


def test_docstring_google_style() -> None:
    def weather(city: str, units: str = "c", days: int = 1) -> dict:
        """Current weather for a city.

        Uses the cache when it can.

        Args:
            city (str): City name,
                for example "Paris".
            units (str, optional): Temperature units (c or f): default c.
            days: Number of days.

        Returns:
            dict: the weather.
        """
        return {}

    tool = Tool(weather)
    assert tool.description == "Current weather for a city.\n\nUses the cache when it can."
    props = tool.parameters["properties"]
    assert props["city"]["description"] == 'City name, for example "Paris".'
    assert props["units"]["description"] == "Temperature units (c or f): default c."
    assert props["days"]["description"] == "Number of days."


def test_docstring_rest_style() -> None:
    def convert(amount: float, currency: str) -> float:
        """Convert money.

        :param amount: How much,
            in the source currency.
        :param str currency: ISO code.
        :returns: the converted amount.
        """
        return amount

    tool = Tool(convert)
    assert tool.description == "Convert money."
    props = tool.parameters["properties"]
    assert props["amount"]["description"] == "How much, in the source currency."
    assert props["currency"]["description"] == "ISO code."


def test_docstring_numpy_style() -> None:
    def area(width: float, height: float, unit: str = "m") -> float:
        """Area of a rectangle.

        Parameters
        ----------
        width, height : float
            Side lengths,
            both positive.
        unit : str, optional
            Length unit.

        Returns
        -------
        float
        """
        return width * height

    tool = Tool(area)
    assert tool.description == "Area of a rectangle."
    props = tool.parameters["properties"]
    assert props["width"]["description"] == "Side lengths, both positive."
    assert props["height"]["description"] == "Side lengths, both positive."
    assert props["unit"]["description"] == "Length unit."
    assert "returns" not in json.dumps(props).lower()


def test_parse_docstring_edge_cases() -> None:
    assert parse_docstring(None) == ("", {})
    assert parse_docstring("Just a summary.") == ("Just a summary.", {})
    summary, params = parse_docstring(
        """Summary.

        Args:
            *args: Positional things.
            **kwargs: Keyword things.
            data (dict(str, int)): A mapping.

        Raises:
            ValueError: never listed as a parameter.
        """
    )
    assert summary == "Summary."
    assert params == {"args": "Positional things.", "kwargs": "Keyword things.", "data": "A mapping."}
    summary, params = parse_docstring(
        """Summary.

        Parameters
        ----------
        a : int
            First.
        Returns
        -------
        int
        """
    )
    assert params == {"a": "First."}


def test_explicit_description_overrides_docstring() -> None:
    def f() -> None:
        """Docstring summary."""

    assert Tool(f, description="Given.").description == "Given."
    assert Tool(f, description="").description == ""
    assert Tool(lambda: None, name="anon").description == ""
