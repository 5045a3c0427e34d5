"""The local server's "model": a small deterministic brain that never pretends to be a language model.

The engine hands the brain the context of a response (the conversation, or the response's own ``input``) as
GA items, and gets back a :class:`Reply`: either function calls or one text to say. The rules, in order:

1. The context ends with ``function_call_output`` items (after the last user message): the reply reads each
   output back, ``"get_weather returned: {...}."``, one sentence per output, in conversation order.
2. The last user message names one or more configured function tools (word match, case-insensitive; an
   underscore in the name also matches a space, so "get weather" names ``get_weather``): one function call per
   named tool, in the order they are first named. Arguments come from ``key=value`` pairs in the text
   (``city=Paris``, ``city="New York"``, ``units='metric'``): pairs before the first tool name and after a
   tool name belong to that tool. Values are coerced with the tool's JSON-schema property types when given
   (``integer``, ``number``, ``boolean``), else kept as strings; no pairs gives ``{}``.
   ``tool_choice`` ``"none"`` disables calls, ``"required"`` calls the first tool when none is named, and
   ``{"type": "function", "name": X}`` calls X only.
3. Otherwise ``"You said: <text>"``.
4. A user message that is audio with no text (no client transcript, no speech recogniser installed) gives
   ``"I heard 1.4 seconds of audio."``.
5. No user message at all gives a short greeting.

A speech recogniser can be plugged in (``Brain(recognizer=callable)``, PCM16 24 kHz bytes -> text or None);
none ships with rtwidget, so :meth:`Brain.transcribe` reports the duration by default.

Items reach the brain in their wire shape, except that ``input_audio`` parts carry ``audio_ms`` (the length of
the audio) instead of the audio bytes, and ``transcript`` only when real text is known for them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rtwidget import audio

Json = dict[str, Any]
Recognizer = Callable[[bytes], "str | None"]

__all__ = ["Brain", "FunctionCall", "Reply", "heard_seconds", "parse_arguments"]

GREETING = "Hello! I am the rtwidget local server. Say something, or type a message."

# key=value, key="quoted value", key='quoted value'
_PAIR = re.compile(r"""(?<![\w.])([A-Za-z_][\w\-]*)\s*=\s*("([^"]*)"|'([^']*)'|[^\s,;]+)""")
_TRAILING = ".!?:;,)"


@dataclass(frozen=True)
class FunctionCall:
    """A call the brain wants to make: a tool name and its arguments as JSON text."""

    name: str
    arguments: str


@dataclass(frozen=True)
class Reply:
    """What a response produces: function calls (one output item each), or one text to say or write."""

    text: str | None = None
    calls: tuple[FunctionCall, ...] = field(default_factory=tuple)


def heard_seconds(audio_ms: int) -> str:
    """``1400`` -> ``"1.4"`` (one decimal, the unit the replies use)."""
    return f"{audio_ms / 1000:.1f}"


def _coerce(value: str, schema: Any) -> Any:
    kind = schema.get("type") if isinstance(schema, Mapping) else None
    if isinstance(kind, list):  # ["integer", "null"]
        kind = next((k for k in kind if k != "null"), None)
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            number = float(value)
            return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
        if kind == "boolean":
            low = value.lower()
            if low in ("true", "yes", "on", "1"):
                return True
            if low in ("false", "no", "off", "0"):
                return False
    except ValueError:
        pass
    return value


def parse_arguments(text: str, parameters: Any = None) -> dict[str, Any]:
    """``key=value`` pairs of ``text`` as a dict, values coerced with the JSON-schema ``parameters``."""
    properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
    props: Mapping[str, Any] = properties if isinstance(properties, Mapping) else {}
    out: dict[str, Any] = {}
    for match in _PAIR.finditer(text):
        key, raw, dq, sq = match.group(1), match.group(2), match.group(3), match.group(4)
        if dq is not None:
            value = dq
        elif sq is not None:
            value = sq
        else:
            value = raw.rstrip(_TRAILING) or raw
        out[key] = value if (dq is not None or sq is not None) else _coerce(value, props.get(key))
    return out


def _tool_pattern(name: str) -> re.Pattern[str]:
    variants = {re.escape(name)}
    if "_" in name:
        variants.add(re.escape(name).replace("_", r"[\s_]+"))
    return re.compile(r"(?<![\w])(?:" + "|".join(sorted(variants)) + r")(?![\w])", re.IGNORECASE)


def _message_text(item: Mapping[str, Any]) -> tuple[str | None, int]:
    """(text, audio_ms) of a user message: its text parts and known transcripts, and its audio length."""
    texts: list[str] = []
    audio_ms = 0
    for part in item.get("content") or []:
        if not isinstance(part, Mapping):
            continue
        ptype = part.get("type")
        if ptype in ("input_text", "text") and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif ptype == "input_audio":
            if isinstance(part.get("transcript"), str) and part["transcript"]:
                texts.append(part["transcript"])
            else:
                audio_ms += int(part.get("audio_ms") or 0)
    text = " ".join(t.strip() for t in texts if t.strip())
    return (text or None), audio_ms


class Brain:
    """The deterministic rules above. Stateless: one instance can serve many connections."""

    def __init__(self, recognizer: Recognizer | None = None) -> None:
        # Optional speech recogniser: PCM16 24 kHz mono -> text (None when it heard nothing).
        self.recognizer = recognizer

    def recognize(self, pcm: bytes) -> str | None:
        """Text for user audio when a recogniser is installed and hears something, else None."""
        if self.recognizer is None:
            return None
        text = self.recognizer(pcm)
        return text.strip() or None if isinstance(text, str) else None

    def transcribe(self, pcm: bytes) -> str:
        """The input transcript: recognised text, or ``"[1.4 seconds of audio]"`` without a recogniser."""
        text = self.recognize(pcm)
        if text:
            return text
        return f"[{heard_seconds(round(audio.duration_ms(len(pcm))))} seconds of audio]"

    def reply(self, context: Sequence[Json], *, tools: Sequence[Any] = (), tool_choice: Any = "auto") -> Reply:
        """The reply to ``context`` (GA items, oldest first) given the response's tools and tool_choice."""
        last_user = -1
        for index, item in enumerate(context):
            if item.get("type") == "message" and item.get("role") == "user":
                last_user = index
        tail = context[last_user + 1 :]
        outputs = [i for i in tail if i.get("type") == "function_call_output"]
        if outputs:
            return Reply(text=self._read_outputs(context, outputs))
        if last_user < 0:
            return Reply(text=GREETING)
        text, audio_ms = _message_text(context[last_user])
        if text is None:
            return Reply(text=f"I heard {heard_seconds(audio_ms)} seconds of audio.")
        calls = self._calls(text, tools, tool_choice)
        if calls:
            return Reply(calls=calls)
        return Reply(text=f"You said: {text}")

    # -------------------------------------------------------------------------------------------- helpers

    @staticmethod
    def _read_outputs(context: Sequence[Json], outputs: Sequence[Json]) -> str:
        names = {
            i.get("call_id"): i.get("name")
            for i in context
            if i.get("type") == "function_call" and isinstance(i.get("name"), str)
        }
        sentences = []
        for out in outputs:
            name = names.get(out.get("call_id")) or "the tool"
            sentences.append(f"{name} returned: {out.get('output', '')}.")
        return " ".join(sentences)

    @staticmethod
    def _calls(text: str, tools: Sequence[Any], tool_choice: Any) -> tuple[FunctionCall, ...]:
        functions = [
            t for t in tools if isinstance(t, Mapping) and t.get("type", "function") == "function" and t.get("name")
        ]
        if not functions or tool_choice == "none":
            return ()
        forced = tool_choice.get("name") if isinstance(tool_choice, Mapping) else None
        if forced is not None:
            functions = [t for t in functions if t.get("name") == forced]
            if not functions:
                return ()
        # (position of first mention, tool)
        named: list[tuple[int, Mapping[str, Any]]] = []
        for tool in functions:
            match = _tool_pattern(str(tool["name"])).search(text)
            if match:
                named.append((match.start(), tool))
        named.sort(key=lambda pair: pair[0])
        if not named and (forced is not None or tool_choice == "required"):
            named = [(0, functions[0])]
        calls = []
        for n, (start, tool) in enumerate(named):
            seg_start = 0 if n == 0 else start
            seg_end = named[n + 1][0] if n + 1 < len(named) else len(text)
            args = parse_arguments(text[seg_start:seg_end], tool.get("parameters"))
            calls.append(FunctionCall(name=str(tool["name"]), arguments=json.dumps(args, separators=(", ", ": "))))
        return tuple(calls)


def text_tokens(text: str | None) -> int:
    """Deterministic token estimate for text: one token per four characters, rounded up."""
    return math.ceil(len(text) / 4) if text else 0
