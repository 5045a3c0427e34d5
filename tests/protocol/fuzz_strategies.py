"""Hypothesis strategies for hostile server events: the shapes a real server sends, with fields a fuzzer bends.

Events are built from the real GA types with every field drawn from a mix of right and wrong values (wrong
types, huge and negative indexes, non-finite floats, missing and repeated ids); sequences repeat and reorder
events; raw texts add what a dict cannot hold (deep nesting, ``NaN`` literals, broken UTF-8).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from rtwidget.protocol.event_types import BETA_SERVER_EVENTS, GA_SERVER_EVENTS

from . import wire_events as S

Json = dict[str, Any]

# A few ids, so that events refer to each other (and repeat) often.
IDS = ["item_1", "item_2", "resp_1", "resp_2", "call_1", "call_2", "evt_rtw0_1", "root", ""]
HUGE = st.one_of(
    st.integers(10**6, 10**18),
    st.integers(-(10**18), -1),
    st.sampled_from([10**6, 10**9, 10**18, 2**63, -(2**63), 10**40]),
)
NON_FINITE = st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308])
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    HUGE,
    NON_FINITE,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(IDS),
    st.text(max_size=8),
)
ANY = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(IDS), inner, max_size=3)),
    max_leaves=6,
)
ID = st.one_of(st.sampled_from(IDS), ANY)
INDEX = st.one_of(st.integers(0, 3), HUGE, NON_FINITE, ANY)

PART = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.sampled_from(["output_text", "output_audio", "input_audio", "input_text"]), ANY),
        "text": st.one_of(st.text(max_size=8), ANY),
        "transcript": st.one_of(st.text(max_size=8), ANY),
        "audio": st.one_of(st.sampled_from(["AAAA", "AA==", ""]), ANY),
    },
)
ITEM = st.fixed_dictionaries(
    {},
    optional={
        "id": ID,
        "type": st.one_of(st.sampled_from(["message", "function_call", "function_call_output", "unknown_kind"]), ANY),
        "role": st.one_of(st.sampled_from(["user", "assistant", "system"]), ANY),
        "status": st.one_of(st.sampled_from(["completed", "incomplete", "in_progress"]), ANY),
        "call_id": ID,
        "name": st.one_of(st.sampled_from(["tool"]), ANY),
        "arguments": st.one_of(st.sampled_from(["{}", '{"a": 1}']), ANY),
        "output": ANY,
        "content": st.one_of(st.lists(st.one_of(PART, ANY), max_size=3), ANY),
    },
)
RESPONSE = st.fixed_dictionaries(
    {},
    optional={
        "id": ID,
        "conversation_id": st.one_of(st.none(), st.just("conv_1"), ANY),
        "status": ANY,
        "output": st.one_of(st.lists(st.one_of(ITEM, ANY), max_size=3), ANY),
        "metadata": ANY,
        "usage": ANY,
    },
)
SESSION = st.fixed_dictionaries(
    {},
    optional={"id": ID, "expires_at": st.one_of(st.integers(0, 2**31), HUGE, NON_FINITE, ANY), "model": ANY},
)
ERROR = st.one_of(
    st.fixed_dictionaries({}, optional={"code": ANY, "message": ANY, "event_id": ID, "type": ANY}),
    ANY,
)
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "event_id": st.one_of(st.sampled_from(["event_1", "event_2", "event_3"]), ANY),
    "item_id": ID,
    "response_id": ID,
    "previous_item_id": ID,
    "call_id": ID,
    "content_index": INDEX,
    "output_index": INDEX,
    "delta": st.one_of(st.sampled_from(["hi", "AAAA", "{"]), ANY),
    "text": st.one_of(st.text(max_size=8), ANY),
    "transcript": st.one_of(st.text(max_size=8), ANY),
    "arguments": st.one_of(st.sampled_from(["{}"]), ANY),
    "name": ANY,
    "audio_start_ms": INDEX,
    "audio_end_ms": INDEX,
    "item": st.one_of(ITEM, ANY),
    "part": st.one_of(PART, ANY),
    "response": st.one_of(RESPONSE, ANY),
    "session": st.one_of(SESSION, ANY),
    "error": ERROR,
    "data": ANY,
}
TYPES = st.one_of(
    st.sampled_from(sorted(GA_SERVER_EVENTS)),
    st.sampled_from(sorted(BETA_SERVER_EVENTS)),
    st.sampled_from(["realtime.response.done", "unknown.event", "", "error"]),
)


# A real session's events (items, responses and calls the fuzzed events refer to), to reorder and repeat.
VALID = [
    S.session_created(),
    *S.function_call_turn("resp_1", [("item_1", "call_1", "tool", "{}")], previous_item_id=None),
    *S.text_turn("resp_2", "item_2", ["a", "b"], previous_item_id="item_1"),
    S.audio_delta("resp_2", "item_2", 4),
]


@st.composite
def mutated_event(draw: st.DrawFn) -> Json:
    """A real event with some fields bent (wrong type, huge, non-finite, missing) and maybe another type."""
    event = dict(draw(st.sampled_from(VALID)))
    if draw(st.integers(0, 4)) == 0:
        event["type"] = draw(TYPES)
    for name in draw(st.sets(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=3)):
        if name in event and draw(st.integers(0, 3)) == 0:
            del event[name]
        else:
            event[name] = draw(FIELDS[name])
    return event


@st.composite
def random_event(draw: st.DrawFn) -> Json:
    """A real or unknown type with a random subset of (possibly wrong) fields."""
    event: Json = {"type": draw(TYPES)}
    for name in draw(st.sets(st.sampled_from(sorted(FIELDS)), max_size=6)):
        event[name] = draw(FIELDS[name])
    if event["type"].startswith("realtime.") and draw(st.booleans()):
        event["data"] = {k: v for k, v in event.items() if k != "type"} | {"type": event["type"][9:]}
    return event


@st.composite
def index_attack(draw: st.DrawFn) -> Json:
    """A real event that names a content part or output, with a huge, negative or non-finite index."""
    event = dict(draw(st.sampled_from([e for e in VALID if "content_index" in e])))
    event[draw(st.sampled_from(["content_index", "output_index"]))] = draw(st.one_of(HUGE, NON_FINITE))
    event["event_id"] = draw(st.sampled_from(["event_x", "event_y", "event_z"]))
    return event


def server_event() -> st.SearchStrategy[Json]:
    """One hostile server event: a bent real one, an index attack, or one made up from scratch."""
    return st.one_of(mutated_event(), mutated_event(), index_attack(), random_event())


@st.composite
def session_events(draw: st.DrawFn) -> list[Json]:
    """A real turn, partly reordered, with fuzzed events mixed in and some events sent again."""
    valid = list(VALID)
    for _ in range(draw(st.integers(0, 6))):  # a few swaps: out-of-order delivery
        i, j = draw(st.integers(0, len(valid) - 1)), draw(st.integers(0, len(valid) - 1))
        valid[i], valid[j] = valid[j], valid[i]
    fuzzed = draw(st.lists(server_event(), min_size=5, max_size=20))
    events = []
    for event in valid:
        take = draw(st.integers(0, 2))
        events += [event, *fuzzed[:take]]
        fuzzed = fuzzed[take:]
    return with_duplicates(events + fuzzed, draw(st.lists(st.integers(0, 200), max_size=5)))


def deep(depth: int, kind: str) -> str:
    """JSON text nested ``depth`` levels deep (arrays, objects, or objects with a type at the top)."""
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    return '{"type":"response.done","response":' + '{"a":' * depth + "1" + "}" * depth + "}"


# Named, so that a failing example shows a name and not 200 kB of brackets.
RAW = dict(
    enumerate(
        [
            deep(100_000, "array"),
            deep(100_000, "object"),
            deep(100_000, "typed"),
            deep(990, "typed"),
            deep(127, "typed"),
            deep(128, "typed"),
            '{"type":"session.created","session":{"expires_at":1e309}}',
            '{"type":"session.created","session":{"expires_at":NaN}}',
            '{"type":"response.output_text.delta","item_id":"item_1","content_index":-Infinity,"delta":"x"}',
            '{"type":"response.output_text.delta","item_id":"item_1","content_index":1e309,"delta":"x"}',
            '{"type":"response.output_text.delta","item_id":"item_1","content_index":' + "9" * 5000 + "}",
            '{"type":"response.output_audio.delta","item_id":"item_1","content_index":1000000000,"delta":"AA"}',
            '{"type": 5}',
            "[]",
            "",
            "\x00",
        ]
    )
)
RAW_TEXTS = st.one_of(
    st.sampled_from(sorted(RAW)).map(lambda k: f"RAW[{k}]"),
    st.binary(max_size=12),
    st.text(max_size=12),
)


def wire(event: Json) -> str:
    """Wire text of a fuzzed event: infinities as ``1e309`` (valid JSON that reads as inf), NaN as ``NaN``."""
    return json.dumps(event).replace("-Infinity", "-1e309").replace("Infinity", "1e309")


def with_duplicates(events: list[Json], repeats: list[int]) -> list[Json]:
    """``events`` with the ones at ``repeats`` (indexes modulo the length) sent again at the end."""
    if not events:
        return events
    return events + [events[i % len(events)] for i in repeats]
