"""Docstrings: the summary and each parameter's text, in Google, reST and NumPy styles."""

from __future__ import annotations

import inspect
import re

__all__ = ["parse_docstring"]

_GOOGLE_PARAMS = re.compile(
    r"^(args|arguments|parameters|params|keyword args|keyword arguments|kwargs|other parameters)\s*:\s*$",
    re.I,
)
_GOOGLE_SECTION = re.compile(
    r"^(args|arguments|attributes|example|examples|keyword args|keyword arguments|kwargs|methods|note|notes|"
    r"other parameters|parameters|params|return|returns|raise|raises|references|see also|todo|warning|"
    r"warnings|warns|yield|yields)\s*:\s*$",
    re.I,
)
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\(.*?\))?\s*:(.*)$")
_REST_PARAM = re.compile(r"^:(?:param|parameter|arg|argument|key|keyword)\s+(?:[^:]*\s)?\*{0,2}(\w+)\s*:(.*)$")
_REST_FIELD = re.compile(r"^:[a-zA-Z]")
_NUMPY_UNDERLINE = re.compile(r"^-{3,}$")
_NUMPY_PARAMS = {"parameters", "other parameters", "keyword arguments", "params"}
_NUMPY_ENTRY = re.compile(r"^(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::.*)?$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a docstring into its summary text and a ``{parameter: description}`` mapping.

    The summary is everything before the first section (a Google ``Args:``/``Returns:``-style header, a
    reST ``:field:`` or a NumPy header underlined with dashes). Parameter texts come from Google ``Args:``
    sections, reST ``:param x:`` fields and NumPy ``Parameters`` sections; continuation lines are joined
    with spaces.
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    params: dict[str, str] = {}
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if _GOOGLE_PARAMS.match(stripped):
            i = _parse_google(lines, i, params)
        elif _is_numpy_header(lines, i) and stripped.lower() in _NUMPY_PARAMS:
            i = _parse_numpy(lines, i, params)
        elif field := _REST_PARAM.match(stripped):
            i = _parse_rest(lines, i, field, params)
        else:
            i += 1
    return _summary(lines), params


def _summary(lines: list[str]) -> str:
    """Everything before the first section of any style."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _GOOGLE_SECTION.match(stripped) or _REST_FIELD.match(stripped) or _is_numpy_header(lines, i):
            return "\n".join(lines[:i]).strip()
    return "\n".join(lines).strip()


def _parse_rest(lines: list[str], start: int, field: re.Match[str], params: dict[str, str]) -> int:
    """One ``:param name: text`` field (``field`` matched line ``start``); returns the index of the line after it."""
    base = _indent(lines[start])
    text, i = [field.group(2)], start + 1
    # Continuation lines are indented deeper than the field and are not fields themselves.
    while i < len(lines) and lines[i].strip() and _indent(lines[i]) > base and not _REST_FIELD.match(lines[i].strip()):
        text.append(lines[i])
        i += 1
    params[field.group(1)] = _join(text)
    return i


def _parse_google(lines: list[str], header: int, params: dict[str, str]) -> int:
    """An ``Args:`` section; returns the index of the first line after it."""
    base = _indent(lines[header])
    i = header + 1
    entry_indent: int | None = None
    name: str | None = None
    text: list[str] = []
    while i < len(lines):
        line = lines[i]
        if line.strip():
            ind = _indent(line)
            if ind <= base:
                break
            if entry_indent is None:
                entry_indent = ind
            m = _GOOGLE_ENTRY.match(line.strip()) if ind <= entry_indent else None
            if m:
                if name:
                    params[name] = _join(text)
                name, text = m.group(1), [m.group(2)]
            else:
                text.append(line)
        i += 1
    if name:
        params[name] = _join(text)
    return i


def _parse_numpy(lines: list[str], header: int, params: dict[str, str]) -> int:
    """A ``Parameters`` section (header, dashes, entries); returns the index of the first line after it.

    One entry may name several parameters (``width, height : float``); they share its text.
    """
    base = _indent(lines[header])
    i = header + 2
    names: list[str] = []
    text: list[str] = []

    def flush() -> None:
        for n in names:
            params[n] = _join(text)

    while i < len(lines):
        line = lines[i]
        if line.strip():
            ind = _indent(line)
            if ind < base or _is_numpy_header(lines, i):
                break
            m = _NUMPY_ENTRY.match(line.strip()) if ind == base else None
            if m:
                flush()
                names, text = [n.strip().lstrip("*") for n in m.group(1).split(",")], []
            else:
                text.append(line)
        i += 1
    flush()
    return i


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_numpy_header(lines: list[str], i: int) -> bool:
    return bool(lines[i].strip()) and i + 1 < len(lines) and bool(_NUMPY_UNDERLINE.match(lines[i + 1].strip()))


def _join(parts: list[str]) -> str:
    return " ".join(p.strip() for p in parts if p.strip())
