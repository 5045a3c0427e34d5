"""The local server's sans-I/O engine: one instance per connection, client JSON text in, server JSON text out.

In the manner of the websockets library's protocol objects, the engine never touches a socket, a thread or
a clock it was not given::

    engine = Engine(EngineConfig(model="gpt-realtime"), clock=time.time, voice=default_voice())
    engine.start()                       # queues session.created
    send_all(engine.data_to_send())
    ... for each text frame received:
    engine.receive_text(text)            # never raises; bad input becomes `error` events
    send_all(engine.data_to_send())
    ... when engine.next_deadline() (a clock value) has passed:
    engine.advance(clock())              # releases paced output (audio at real time)
    send_all(engine.data_to_send())
    ... and when engine.close_code is not None: close the socket with it (nothing more will be queued).

GA is the canonical form inside. With ``dialect="beta"`` the engine reads beta client events and writes beta
server events (translated at the edge by :mod:`rtwidget.protocol.dialects`); with ``envelope=True`` every
event is wrapped as ``{"type": "realtime.<type>", "data": {...}}`` both ways.

Pacing: with ``pace="realtime"`` the audio deltas of a response are released at real time (each 100 ms
chunk when its start is due, a quarter of a second ahead), text deltas 30 ms apart, everything else at
once; with ``pace="fast"`` a whole response is queued at once.
"""

from __future__ import annotations

import copy
import functools
import heapq
import json
import logging
import math
import random
import re
import string
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from rtwidget import audio
from rtwidget.protocol import dialects
from rtwidget.protocol.event_types import GA_CLIENT_EVENTS
from rtwidget.protocol.session_config import GA_SESSION_FIELDS

from .brain import Brain, FunctionCall, Reply, text_tokens
from .script import Rule, Script
from .vad import EnergyVad, VadEvent

Json = dict[str, Any]
Pace = Literal["realtime", "fast"]

__all__ = ["DEFAULT_INSTRUCTIONS", "SEMANTIC_SILENCE_MS", "Engine", "EngineConfig", "SpeechVoice"]

log = logging.getLogger("rtwidget.server")

DEFAULT_INSTRUCTIONS = (
    "You are the rtwidget local server, a deterministic stand-in for a Realtime model. You repeat what you "
    "are told, call the tools that are named to you, and read their results back. You are not a language "
    "model and you do not pretend to be one."
)
BETA_REFUSAL = (
    "The Realtime Beta API is no longer supported. Please use the GA API: remove the "
    "'OpenAI-Beta: realtime=v1' header and send GA events."
)
# semantic_vad eagerness -> silence_duration_ms of the energy VAD that stands in for it.
SEMANTIC_SILENCE_MS: dict[str, int] = {"low": 1000, "medium": 600, "auto": 600, "high": 300}

_SAMPLES_PER_MS = audio.SAMPLE_RATE // 1000  # 24
_MIN_COMMIT_MS = 100
_TEXT_DELTA_S = 0.03
_ARGS_DELTA_S = 0.02
_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
_ID_ALPHABET = string.ascii_letters + string.digits
_WORDS = re.compile(r"\S+\s*")

# The GA session fields: one list, shared with the client side.
_SESSION_KEYS = GA_SESSION_FIELDS
_RESPONSE_KEYS = (
    "conversation",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "prompt",
    "output_modalities",
    "audio",
    "max_output_tokens",
    "metadata",
)
_SERVER_VAD_KEYS = (
    "type",
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "idle_timeout_ms",
    "create_response",
    "interrupt_response",
)
_SEMANTIC_VAD_KEYS = ("type", "eagerness", "create_response", "interrupt_response")
_TRANSCRIPTION_KEYS = ("model", "language", "languages", "prompt", "keywords", "delay")


class SpeechVoice(Protocol):
    """What the engine needs from a voice (see :mod:`rtwidget.server.voice`)."""

    name: str

    def synthesize(self, text: str, *, voice: str = "alloy", speed: float = 1.0) -> bytes: ...


@dataclass(frozen=True)
class EngineConfig:
    """Per-server settings shared by every connection's engine."""

    model: str = "gpt-realtime"
    pace: Pace = "realtime"
    script: Script | None = None
    # Maximum session duration: session_expired and a close after this long.
    session_minutes: int = 60
    # Seed for the ids (event_, item_, resp_, sess_, call_); None for fresh random ids.
    seed: int | None = None
    # Size of the output audio deltas, and how far ahead of real time they are released (pace realtime).
    audio_chunk_ms: int = 100
    audio_lead_ms: int = 250
    instructions: str = DEFAULT_INSTRUCTIONS


class ApiError(Exception):
    """An error the engine answers with an ``error`` event (never escapes :meth:`Engine.receive_text`)."""

    def __init__(
        self, message: str, code: str | None, param: str | None = None, type: str = "invalid_request_error"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.type = type


# ------------------------------------------------------------------------------------------ validation


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "an unknown type"


def _type_error(path: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        f"Invalid type for '{path}': expected {expected}, but got {_kind(value)} instead.",
        "invalid_type",
        path,
    )


def _value_error(path: str, value: Any, supported: Sequence[str]) -> ApiError:
    choices = [f"'{s}'" for s in supported]
    listed = choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + f", and {choices[-1]}"
    return ApiError(f"Invalid value: '{value}'. Supported values are: {listed}.", "invalid_value", path)


def _unknown(path: str) -> ApiError:
    return ApiError(f"Unknown parameter: '{path}'.", "unknown_parameter", path)


def _missing(path: str) -> ApiError:
    return ApiError(f"Missing required parameter: '{path}'.", "missing_required_parameter", path)


def _check_keys(obj: Mapping[str, Any], allowed: Sequence[str] | frozenset[str], path: str) -> None:
    for key in obj:
        if key not in allowed:
            raise _unknown(f"{path}.{key}" if path else key)


def _want_dict(value: Any, path: str) -> Json:
    if not isinstance(value, dict):
        raise _type_error(path, "an object", value)
    return value


def _want_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _type_error(path, "a string", value)
    return value


def _want_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _type_error(path, "a boolean", value)
    return value


def _want_number(value: Any, path: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error(path, "a decimal", value)
    if value < lo:
        raise ApiError(
            f"Invalid '{path}': decimal below minimum value. Expected a value >= {lo}, but got {value} instead.",
            "decimal_below_min_value",
            path,
        )
    if value > hi:
        raise ApiError(
            f"Invalid '{path}': decimal above maximum value. Expected a value <= {hi}, but got {value} instead.",
            "decimal_above_max_value",
            path,
        )
    return float(value)


def _want_int(value: Any, path: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(path, "an integer", value)
    if value < lo:
        raise ApiError(
            f"Invalid '{path}': integer below minimum value. Expected a value >= {lo}, but got {value} instead.",
            "integer_below_min_value",
            path,
        )
    if hi is not None and value > hi:
        raise ApiError(
            f"Invalid '{path}': integer above maximum value. Expected a value <= {hi}, but got {value} instead.",
            "integer_above_max_value",
            path,
        )
    return value


def _check_format(value: Any, path: str) -> Json:
    fmt = _want_dict(value, path)
    ftype = fmt.get("type")
    if ftype is None:
        raise _missing(f"{path}.type")
    if ftype in ("audio/pcmu", "audio/pcma"):
        raise ApiError(
            f"Invalid value: '{ftype}'. The rtwidget local server supports only 'audio/pcm' at 24000 Hz.",
            "invalid_value",
            f"{path}.type",
        )
    if ftype != "audio/pcm":
        raise _value_error(f"{path}.type", ftype, ["audio/pcm", "audio/pcmu", "audio/pcma"])
    _check_keys(fmt, ("type", "rate"), path)
    if fmt.get("rate", 24000) != 24000:
        raise _value_error(f"{path}.rate", fmt.get("rate"), ["24000"])
    return {"type": "audio/pcm", "rate": 24000}


def _check_modalities(value: Any, path: str) -> list[str]:
    if not isinstance(value, list):
        raise _type_error(path, "an array", value)
    if value not in (["audio"], ["text"]):
        raise ApiError(
            f'Invalid value for \'{path}\': {json.dumps(value)}. Supported values are: ["audio"] and ["text"].',
            "invalid_value",
            path,
        )
    return list(value)


def _check_max_tokens(value: Any, path: str) -> int | str:
    if value == "inf":
        return "inf"
    if isinstance(value, str):
        raise _value_error(path, value, ["inf"])
    return _want_int(value, path, 1, 4096)


def _check_tools(value: Any, path: str) -> list[Json]:
    if not isinstance(value, list):
        raise _type_error(path, "an array", value)
    out = []
    for i, tool in enumerate(value):
        tpath = f"{path}[{i}]"
        tool = _want_dict(tool, tpath)
        ttype = tool.get("type", "function")
        if ttype == "function":
            if "name" not in tool:
                raise _missing(f"{tpath}.name")
            _want_str(tool["name"], f"{tpath}.name")
            _check_keys(tool, ("type", "name", "description", "parameters"), tpath)
            if "parameters" in tool:
                _want_dict(tool["parameters"], f"{tpath}.parameters")
        elif ttype == "mcp":
            if "server_label" not in tool:
                raise _missing(f"{tpath}.server_label")
        else:
            raise _value_error(f"{tpath}.type", ttype, ["function", "mcp"])
        out.append(copy.deepcopy(tool))
    return out


def _check_tool_choice(value: Any, path: str) -> Any:
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise _value_error(path, value, ["auto", "none", "required"])
        return value
    choice = _want_dict(value, path)
    if choice.get("type") == "function":
        if "name" not in choice:
            raise _missing(f"{path}.name")
        return {"type": "function", "name": _want_str(choice["name"], f"{path}.name")}
    if choice.get("type") == "mcp":
        return copy.deepcopy(choice)
    raise _value_error(f"{path}.type", choice.get("type"), ["function", "mcp"])


def _check_voice(value: Any, path: str) -> Any:
    if isinstance(value, str):
        return value
    voice = _want_dict(value, path)
    if not isinstance(voice.get("id"), str):
        raise _missing(f"{path}.id")
    return {"id": voice["id"]}


def _voice_name(voice: Any) -> str:
    return voice if isinstance(voice, str) else str(voice.get("id", "alloy"))


def _check_metadata(value: Any, path: str) -> dict[str, str] | None:
    if value is None:
        return None
    meta = _want_dict(value, path)
    if len(meta) > 16:
        raise ApiError(
            f"Invalid '{path}': too many properties. Expected an object with at most 16 properties, but got "
            f"an object with {len(meta)} properties instead.",
            "object_above_max_properties",
            path,
        )
    for key, val in meta.items():
        if len(key) > 64:
            raise ApiError(f"Invalid '{path}': key '{key[:20]}…' is longer than 64 characters.", "invalid_value", path)
        _want_str(val, f"{path}.{key}")
        if len(val) > 512:
            raise ApiError(
                f"Invalid '{path}.{key}': string longer than 512 characters.",
                "string_above_max_length",
                f"{path}.{key}",
            )
    return dict(meta)


def _default_turn_detection(kind: str) -> Json:
    if kind == "semantic_vad":
        return {
            "type": "semantic_vad",
            "eagerness": "auto",
            "create_response": True,
            "interrupt_response": True,
        }
    return {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }


def _check_turn_detection(value: Any, current: Any, path: str) -> Json | None:
    if value is None:
        return None
    td = _want_dict(value, path)
    kind = td.get("type")
    if kind is None:
        raise _missing(f"{path}.type")
    if kind not in ("server_vad", "semantic_vad"):
        raise _value_error(f"{path}.type", kind, ["server_vad", "semantic_vad"])
    _check_keys(td, _SERVER_VAD_KEYS if kind == "server_vad" else _SEMANTIC_VAD_KEYS, path)
    base = dict(current) if isinstance(current, dict) and current.get("type") == kind else {}
    out = {**_default_turn_detection(kind), **base}
    for key, val in td.items():
        kpath = f"{path}.{key}"
        if key == "threshold":
            out[key] = _want_number(val, kpath, 0.0, 1.0)
        elif key in ("prefix_padding_ms", "silence_duration_ms"):
            out[key] = _want_int(val, kpath, 0, 10_000)
        elif key == "idle_timeout_ms":
            out[key] = None if val is None else _want_int(val, kpath, 5000, 30000)
        elif key in ("create_response", "interrupt_response"):
            out[key] = _want_bool(val, kpath)
        elif key == "eagerness":
            if val not in SEMANTIC_SILENCE_MS:
                raise _value_error(kpath, val, ["low", "medium", "high", "auto"])
            out[key] = val
    return out


def _check_audio(value: Any, current: Json, path: str) -> Json:
    update = _want_dict(value, path)
    _check_keys(update, ("input", "output"), path)
    out = copy.deepcopy(current)
    if "input" in update:
        inp = _want_dict(update["input"], f"{path}.input")
        _check_keys(inp, ("format", "noise_reduction", "transcription", "turn_detection"), f"{path}.input")
        target = out["input"]
        for key, val in inp.items():
            kpath = f"{path}.input.{key}"
            if key == "format":
                target[key] = _check_format(val, kpath)
            elif key == "noise_reduction":
                if val is None:
                    target[key] = None
                else:
                    nr = _want_dict(val, kpath)
                    _check_keys(nr, ("type", "strength"), kpath)
                    if "type" in nr and nr["type"] not in ("near_field", "far_field"):
                        raise _value_error(f"{kpath}.type", nr["type"], ["near_field", "far_field"])
                    old = target.get(key) or {}
                    target[key] = {"type": nr.get("type", old.get("type", "near_field"))}
                    if "strength" in nr or "strength" in old:
                        strength = nr.get("strength", old.get("strength"))
                        target[key]["strength"] = _want_number(strength, f"{kpath}.strength", 0.0, 10.0)
            elif key == "transcription":
                if val is None:
                    target[key] = None
                else:
                    tr = _want_dict(val, kpath)
                    _check_keys(tr, _TRANSCRIPTION_KEYS, kpath)
                    target[key] = copy.deepcopy(tr)
            else:
                target[key] = _check_turn_detection(val, target.get(key), kpath)
    if "output" in update:
        outp = _want_dict(update["output"], f"{path}.output")
        _check_keys(outp, ("format", "voice", "speed"), f"{path}.output")
        target = out["output"]
        for key, val in outp.items():
            kpath = f"{path}.output.{key}"
            if key == "format":
                target[key] = _check_format(val, kpath)
            elif key == "voice":
                target[key] = _check_voice(val, kpath)
            else:
                target[key] = _want_number(val, kpath, 0.25, 1.5)
    return out


# ------------------------------------------------------------------------------------------ state


@dataclass
class _Item:
    """A conversation item: its wire form (no audio bytes) plus the audio and text the server keeps."""

    data: Json
    # content index -> PCM16 audio of that input_audio / output_audio part
    audio: dict[int, bytearray] = field(default_factory=dict)
    # content index -> text known for an audio part (client transcript or recogniser), for the brain
    heard: dict[int, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.data["id"])

    def audio_ms(self) -> int:
        return sum(round(audio.duration_ms(len(pcm))) for pcm in self.audio.values())

    def wire(self, *, with_audio: bool = False) -> Json:
        data = copy.deepcopy(self.data)
        if with_audio:
            for index, pcm in self.audio.items():
                data["content"][index]["audio"] = audio.b64encode(bytes(pcm))
        return data

    def brain_view(self) -> Json:
        data = copy.deepcopy(self.data)
        for index, pcm in self.audio.items():
            part = data["content"][index]
            if part.get("type") == "input_audio":
                view: Json = {"type": "input_audio", "audio_ms": round(audio.duration_ms(len(pcm)))}
                if index in self.heard:
                    view["transcript"] = self.heard[index]
                data["content"][index] = view
        return data


@dataclass
class _Output:
    """One output item of a response while it streams."""

    index: int
    item: _Item
    kind: Literal["audio", "text", "function_call"]
    started: bool = False
    finished: bool = False
    sent_text: str = ""  # transcript or text sent so far
    sent_audio: bytearray = field(default_factory=bytearray)
    call: FunctionCall | None = None


@dataclass
class _Run:
    """A response from response.created to response.done."""

    response: Json
    in_conversation: bool
    # Paced steps, due times non-decreasing: (due, action).
    steps: deque[tuple[float, Callable[[], None]]] = field(default_factory=deque)
    outputs: list[_Output] = field(default_factory=list)
    input_tokens: Json = field(default_factory=dict)
    status: str = "completed"
    reason: str | None = None

    @property
    def id(self) -> str:
        return str(self.response["id"])


@dataclass
class _RuleState:
    rule: Rule
    seen: int = 0
    done: bool = False


class Engine:
    """One Realtime connection's server side. See the module docstring for the calling pattern."""

    def __init__(
        self,
        config: EngineConfig | None = None,
        *,
        clock: Callable[[], float],
        voice: SpeechVoice | None = None,
        brain: Brain | None = None,
        dialect: str = "ga",
        envelope: bool = False,
    ) -> None:
        self.config = config or EngineConfig()
        self._clock = clock
        self._voice = voice
        self.brain = brain or Brain()
        self.dialect = dialects.check_dialect(dialect)
        self.envelope = envelope
        self.pace: Pace = (self.config.script.pace if self.config.script else None) or self.config.pace
        self._rng = random.Random(self.config.seed)
        # Serialized events waiting for data_to_send(), oldest first.
        self._out: list[str] = []
        # Server events queued so far (the count scripts trigger on).
        self.events_sent = 0
        # Set when the engine wants the socket closed; nothing is queued after that.
        self.close_code: int | None = None
        self.close_reason = ""
        self._started_at = clock()
        self._conversation_id = self._new_id("conv_")
        self.session: Json = self._default_session()
        # The default conversation, in order; and by id.
        self._items: list[_Item] = []
        self._by_id: dict[str, _Item] = {}
        # Responses in progress (out-of-band ones too), in creation order; at most one in the conversation.
        self._runs: list[_Run] = []
        self._active: _Run | None = None
        self._last_response_id: str | None = None
        self._assistant_audio = False
        # Input audio buffer: PCM16 bytes, and the timeline position (samples) of its first sample.
        self._buffer = bytearray()
        self._buffer_start = 0
        self._total_samples = 0
        self._vad = EnergyVad()
        self._speech_item_id: str | None = None
        # Timeline position (samples) where the speech in progress started, prefix padding included.
        self._speech_start = 0
        # Start of the idle timeout (server_vad idle_timeout_ms): end of the last response's audio.
        self._idle_anchor: float | None = None
        # Script progress and delayed script actions: heap of (due, seq, action).
        self._rules = [_RuleState(r) for r in (self.config.script.rules if self.config.script else ())]
        self._client_counts: dict[str, int] = {}
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = 0
        self._apply_turn_detection()

    # ---------------------------------------------------------------------------------------- public API

    def start(self) -> None:
        """Queue ``session.created``. Call once, right after the connection opens."""
        self._emit({"type": "session.created", "session": self._session_wire()})
        self._pump(self._clock())

    def reject_beta(self) -> None:
        """Refuse a beta-dialect client as OpenAI does now: one ``error``, then close code 4000."""
        self._emit_error(ApiError(BETA_REFUSAL, "beta_api_shape_disabled"), None)
        self._close(4000, "beta_api_shape_disabled")

    def receive_text(self, text: str | bytes) -> None:
        """Handle one client message; answers (and errors) are queued for :meth:`data_to_send`."""
        if self.close_code is not None:
            return
        event_id: str | None = None
        try:
            try:
                raw = json.loads(text)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ApiError(f"Invalid JSON in client event: {exc}.", "invalid_event") from None
            if not isinstance(raw, dict):
                raise ApiError(f"Client events must be JSON objects, got {_kind(raw)}.", "invalid_event")
            if self.envelope:
                raw = dialects.unwrap_envelope(raw)
            if self.dialect == "beta":
                raw = dialects.client_event_to_ga(raw)
            if isinstance(raw.get("event_id"), str):
                event_id = raw["event_id"]
            etype = raw.get("type")
            if etype is None:
                raise ApiError("Missing required parameter: 'type'.", "invalid_event", "type")
            if not isinstance(etype, str):
                raise _type_error("type", "a string", etype)
            if etype not in GA_CLIENT_EVENTS:
                raise _value_error("type", etype, sorted(GA_CLIENT_EVENTS))
            if self._script_refuses(etype, event_id):
                return
            handler = getattr(self, "_on_" + etype.replace(".", "_"))
            handler(raw, event_id)
            self._script_after_client(etype)
        except ApiError as err:
            self._emit_error(err, event_id)
        except Exception as exc:  # a bug here must not kill the connection
            log.exception("local server failed on a client event")
            self._emit_error(
                ApiError(f"The server had an error: {exc!r}", "server_error", None, "server_error"), event_id
            )
        self._pump(self._clock())

    def data_to_send(self) -> list[str]:
        """Serialized server events to write, in order; the queue is emptied."""
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        """The clock value at which :meth:`advance` has paced output to release, or None."""
        if self.close_code is not None:
            return None
        candidates = [run.steps[0][0] for run in self._runs if run.steps]
        if self._timers:
            candidates.append(self._timers[0][0])
        idle = self._idle_deadline()
        if idle is not None:
            candidates.append(idle)
        candidates.append(self._started_at + self.config.session_minutes * 60)
        return min(candidates)

    def advance(self, now: float) -> None:
        """Release everything due at ``now`` (a value of the engine's clock)."""
        self._pump(now)

    @property
    def conversation(self) -> list[Json]:
        """The default conversation's items, as a client would retrieve them (without audio)."""
        return [item.wire() for item in self._items]

    @property
    def active_response_id(self) -> str | None:
        return self._active.id if self._active else None

    # ---------------------------------------------------------------------------------------- output

    def _new_id(self, prefix: str, length: int = 21) -> str:
        return prefix + "".join(self._rng.choices(_ID_ALPHABET, k=length))

    def _emit(self, event: Json) -> None:
        if self.close_code is not None:
            return
        event = {"type": event["type"], "event_id": self._new_id("event_"), **event}
        if self.dialect == "beta":
            beta = dialects.server_event_from_ga(event)
            if beta is None:
                return
            if beta["type"] == "response.function_call_arguments.done":
                beta.pop("name", None)
            if beta["type"] in ("session.created", "session.updated"):
                beta["session"].setdefault("temperature", 0.8)
            event = beta
        if self.envelope:
            event = dialects.wrap_envelope(event)
        self._out.append(json.dumps(event, separators=(",", ":")))
        self.events_sent += 1
        self._script_after_events()

    def _emit_error(self, err: ApiError, event_id: str | None) -> None:
        self._emit(
            {
                "type": "error",
                "error": {
                    "type": err.type,
                    "code": err.code,
                    "message": err.message,
                    "param": err.param,
                    "event_id": event_id,
                },
            }
        )

    def _close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
            self._runs.clear()
            self._timers.clear()

    def _pump(self, now: float) -> None:
        """Run every paced step and timer due at ``now``, earliest first (runs in creation order on ties)."""
        while self.close_code is None:
            best: _Run | None = None
            for run in self._runs:
                if run.steps and run.steps[0][0] <= now and (best is None or run.steps[0][0] < best.steps[0][0]):
                    best = run
            timer_due = self._timers[0][0] if self._timers else math.inf
            if best is not None and best.steps[0][0] <= timer_due:
                _, action = best.steps.popleft()
                action()
            elif timer_due <= now:
                _, _, action = heapq.heappop(self._timers)
                action()
            else:
                break
        if self.close_code is None:
            idle = self._idle_deadline()
            if idle is not None and idle <= now:
                self._idle_timeout()
            if now >= self._started_at + self.config.session_minutes * 60:
                minutes = self.config.session_minutes
                self._emit_error(
                    ApiError(f"Your session hit the maximum duration of {minutes} minutes.", "session_expired"),
                    None,
                )
                self._close(1000, "session_expired")

    def _later(self, delay_s: float, action: Callable[[], None]) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (self._clock() + delay_s, self._timer_seq, action))

    # ---------------------------------------------------------------------------------------- scripts

    def _script_refuses(self, etype: str, event_id: str | None) -> bool:
        count = self._client_counts[etype] = self._client_counts.get(etype, 0) + 1
        for state in self._rules:
            rule = state.rule
            if rule.on == etype and rule.fail is not None and not state.done and rule.nth in (0, count):
                state.done = rule.nth != 0
                spec = rule.fail
                self._emit_error(
                    ApiError(
                        spec["message"],
                        spec.get("code"),
                        spec.get("param"),
                        spec.get("type") or "invalid_request_error",
                    ),
                    event_id,
                )
                return True
        return False

    def _script_after_client(self, etype: str) -> None:
        count = self._client_counts.get(etype, 0)
        for state in self._rules:
            rule = state.rule
            if rule.on == etype and rule.fail is None and not state.done and rule.nth in (0, count):
                state.done = rule.nth != 0
                self._script_act(rule)

    def _script_after_events(self) -> None:
        for state in self._rules:
            rule = state.rule
            if rule.after_events is not None and not state.done and self.events_sent >= rule.after_events:
                state.done = True
                self._script_act(rule)

    def _script_act(self, rule: Rule) -> None:
        def act() -> None:
            if rule.emit is not None:
                fresh = {"$new_item_id": self._new_id("item_"), "$new_response_id": self._new_id("resp_")}
                known = {
                    "$item_id": self._items[-1].id if self._items else None,
                    "$response_id": self._last_response_id,
                }
                for event in rule.emit:
                    self._emit(_substitute(copy.deepcopy(event), {**fresh, **known}))
            elif rule.error is not None:
                spec = rule.error
                self._emit_error(
                    ApiError(
                        spec["message"],
                        spec.get("code"),
                        spec.get("param"),
                        spec.get("type") or "server_error",
                    ),
                    None,
                )
            elif rule.disconnect is not None:
                self._close(int(rule.disconnect.get("code", 1011)), str(rule.disconnect.get("reason", "")))

        if rule.delay_ms:
            self._later(rule.delay_ms / 1000, act)
        else:
            act()

    # ---------------------------------------------------------------------------------------- session

    def _default_session(self) -> Json:
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": self._new_id("sess_"),
            "model": self.config.model,
            "output_modalities": ["audio"],
            "instructions": self.config.instructions,
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "expires_at": int(self._started_at) + self.config.session_minutes * 60,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": _default_turn_detection("server_vad"),
                },
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin", "speed": 1.0},
            },
            "include": None,
        }

    def _session_wire(self) -> Json:
        return copy.deepcopy(self.session)

    def _merged_session(self, update: Json) -> Json:
        if "type" not in update:
            raise _missing("session.type")
        if update["type"] != "realtime":
            if update["type"] == "transcription":
                raise ApiError(
                    "Invalid value: 'transcription'. This is a realtime session, and the rtwidget local "
                    "server "
                    "does not run transcription sessions.",
                    "invalid_value",
                    "session.type",
                )
            raise _value_error("session.type", update["type"], ["realtime", "transcription"])
        _check_keys(update, _SESSION_KEYS, "session")
        new = copy.deepcopy(self.session)
        for key, value in update.items():
            path = f"session.{key}"
            if key == "type":
                continue
            if key == "model":
                if _want_str(value, path) != self.session["model"]:
                    raise ApiError(
                        "Cannot update a session's model. Open a new connection with ?model= instead.",
                        "invalid_value",
                        path,
                    )
            elif key == "output_modalities":
                new[key] = _check_modalities(value, path)
            elif key == "instructions":
                new[key] = _want_str(value, path)
            elif key == "audio":
                new[key] = _check_audio(value, new["audio"], path)
            elif key == "tools":
                new[key] = _check_tools(value, path)
            elif key == "tool_choice":
                new[key] = _check_tool_choice(value, path)
            elif key == "max_output_tokens":
                new[key] = _check_max_tokens(value, path)
            elif key == "parallel_tool_calls":
                new[key] = _want_bool(value, path)
            elif key == "tracing":
                if value is not None and value != "auto":
                    _want_dict(value, path)
                new[key] = copy.deepcopy(value)
            elif key == "truncation":
                if value not in ("auto", "disabled"):
                    _want_dict(value, path)
                new[key] = copy.deepcopy(value)
            elif key == "include":
                if value is not None and value != ["item.input_audio_transcription.logprobs"]:
                    raise _value_error(path, value, ["item.input_audio_transcription.logprobs"])
                new[key] = copy.deepcopy(value)
            else:  # reasoning, prompt
                if value is not None:
                    _want_dict(value, path)
                new[key] = copy.deepcopy(value)
        old_voice = self.session["audio"]["output"]["voice"]
        if self._assistant_audio and new["audio"]["output"]["voice"] != old_voice:
            raise ApiError("Cannot update a conversation's voice if assistant audio is present.", "cannot_update_voice")
        return new

    def _apply_turn_detection(self) -> None:
        td = self.session["audio"]["input"]["turn_detection"]
        if td is None:
            return
        if td["type"] == "server_vad":
            self._vad.configure(td["threshold"], td["prefix_padding_ms"], td["silence_duration_ms"])
        else:
            self._vad.configure(0.5, 300, SEMANTIC_SILENCE_MS[td["eagerness"]])

    def _on_session_update(self, event: Json, event_id: str | None) -> None:
        if "session" not in event:
            raise _missing("session")
        update = _want_dict(event["session"], "session")
        _check_keys(event, ("type", "event_id", "session"), "")
        was_on = self.session["audio"]["input"]["turn_detection"] is not None
        self.session = self._merged_session(update)
        is_on = self.session["audio"]["input"]["turn_detection"] is not None
        if is_on and not was_on:
            self._vad.reset()
        if not is_on and was_on:
            self._speech_item_id = None
        self._apply_turn_detection()
        self._emit({"type": "session.updated", "session": self._session_wire()})

    # ---------------------------------------------------------------------------------------- items

    def _parse_item(self, raw: Any, path: str, *, for_input: bool = False) -> _Item:
        item = _want_dict(raw, path)
        itype = item.get("type")
        if itype is None:
            raise _missing(f"{path}.type")
        data: Json = {"id": item.get("id") or self._new_id("item_"), "type": itype, "object": "realtime.item"}
        if "id" in item:
            _want_str(item["id"], f"{path}.id")
            if item["id"] in self._by_id and not for_input:
                raise ApiError(
                    f"Item with id '{item['id']}' already exists in the conversation.",
                    "invalid_value",
                    f"{path}.id",
                )
        stored = _Item(data)
        if itype == "message":
            _check_keys(item, ("id", "type", "object", "status", "role", "content"), path)
            role = item.get("role")
            if role is None:
                raise _missing(f"{path}.role")
            if role not in ("user", "assistant", "system"):
                raise _value_error(f"{path}.role", role, ["user", "assistant", "system"])
            if "content" not in item:
                raise _missing(f"{path}.content")
            if not isinstance(item["content"], list):
                raise _type_error(f"{path}.content", "an array", item["content"])
            allowed = {
                "system": ("input_text",),
                "user": ("input_text", "input_audio", "input_image"),
                "assistant": ("output_text", "output_audio"),
            }[role]
            content: list[Json] = []
            for i, part in enumerate(item["content"]):
                ppath = f"{path}.content[{i}]"
                part = _want_dict(part, ppath)
                ptype = part.get("type")
                if ptype is None:
                    raise _missing(f"{ppath}.type")
                if ptype not in allowed:
                    raise _value_error(f"{ppath}.type", ptype, allowed)
                if ptype in ("input_text", "output_text"):
                    if "text" not in part:
                        raise _missing(f"{ppath}.text")
                    content.append({"type": ptype, "text": _want_str(part["text"], f"{ppath}.text")})
                elif ptype == "input_audio":
                    if "audio" not in part:
                        raise _missing(f"{ppath}.audio")
                    try:
                        pcm = audio.b64decode(_want_str(part["audio"], f"{ppath}.audio"))
                    except ValueError:
                        raise ApiError(
                            "Invalid 'audio': not valid base64.", "invalid_value", f"{ppath}.audio"
                        ) from None
                    transcript = part.get("transcript")
                    if transcript is not None:
                        _want_str(transcript, f"{ppath}.transcript")
                        stored.heard[len(content)] = transcript
                    stored.audio[len(content)] = bytearray(pcm[: len(pcm) // 2 * 2])
                    content.append({"type": "input_audio", "transcript": transcript})
                elif ptype == "input_image":
                    if "image_url" not in part:
                        raise _missing(f"{ppath}.image_url")
                    content.append(
                        {
                            "type": "input_image",
                            "image_url": _want_str(part["image_url"], f"{ppath}.image_url"),
                            "detail": part.get("detail", "auto"),
                        }
                    )
                else:  # output_audio
                    raise ApiError(
                        "Assistant audio cannot be created by the client; use 'output_text'.",
                        "invalid_value",
                        f"{ppath}.type",
                    )
            data.update({"status": "completed", "role": role, "content": content})
        elif itype == "function_call":
            for key in ("name", "arguments"):
                if key not in item:
                    raise _missing(f"{path}.{key}")
            data.update(
                {
                    "status": "completed",
                    "name": _want_str(item["name"], f"{path}.name"),
                    "call_id": _want_str(item.get("call_id") or self._new_id("call_", 16), f"{path}.call_id"),
                    "arguments": _want_str(item["arguments"], f"{path}.arguments"),
                }
            )
        elif itype == "function_call_output":
            for key in ("call_id", "output"):
                if key not in item:
                    raise _missing(f"{path}.{key}")
            data.update(
                {
                    "status": "completed",
                    "call_id": _want_str(item["call_id"], f"{path}.call_id"),
                    "output": _want_str(item["output"], f"{path}.output"),
                }
            )
        elif itype == "mcp_approval_response":
            for key in ("approval_request_id", "approve"):
                if key not in item:
                    raise _missing(f"{path}.{key}")
            data.update({"approval_request_id": item["approval_request_id"], "approve": bool(item["approve"])})
        else:
            supported = ["message", "function_call", "function_call_output", "mcp_approval_response"]
            raise _value_error(f"{path}.type", itype, supported)
        return stored

    def _insert(self, item: _Item, position: int | None = None) -> str | None:
        """Put ``item`` in the conversation (at the end by default); return the previous item's id."""
        if position is None:
            position = len(self._items)
        self._items.insert(position, item)
        self._by_id[item.id] = item
        return self._items[position - 1].id if position > 0 else None

    def _find(self, item_id: Any, path: str = "item_id") -> _Item:
        if item_id is None:
            raise _missing(path)
        item = self._by_id.get(_want_str(item_id, path))
        if item is None:
            raise ApiError(f"Item with item_id '{item_id}' not found.", "item_not_found", path)
        return item

    def _on_conversation_item_create(self, event: Json, event_id: str | None) -> None:
        if "item" not in event:
            raise _missing("item")
        _check_keys(event, ("type", "event_id", "item", "previous_item_id"), "")
        position = None
        prev = event.get("previous_item_id")
        if prev is not None:
            position = 0 if prev == "root" else self._items.index(self._find(prev, "previous_item_id")) + 1
        item = self._parse_item(event["item"], "item")
        previous = self._insert(item, position)
        self._emit({"type": "conversation.item.added", "previous_item_id": previous, "item": item.wire()})
        self._emit({"type": "conversation.item.done", "previous_item_id": previous, "item": item.wire()})

    def _on_conversation_item_retrieve(self, event: Json, event_id: str | None) -> None:
        item = self._find(event.get("item_id"))
        self._emit({"type": "conversation.item.retrieved", "item": item.wire(with_audio=True)})

    def _on_conversation_item_delete(self, event: Json, event_id: str | None) -> None:
        item = self._find(event.get("item_id"))
        self._items.remove(item)
        del self._by_id[item.id]
        self._emit({"type": "conversation.item.deleted", "item_id": item.id})

    def _on_conversation_item_truncate(self, event: Json, event_id: str | None) -> None:
        item = self._find(event.get("item_id"))
        index = _want_int(event.get("content_index", 0), "content_index", 0)
        if "audio_end_ms" not in event:
            raise _missing("audio_end_ms")
        end_ms = _want_int(event["audio_end_ms"], "audio_end_ms", 0)
        content = item.data.get("content") or []
        if (
            item.data.get("role") != "assistant"
            or index >= len(content)
            or content[index].get("type") != "output_audio"
            or index not in item.audio
        ):
            raise ApiError("Only model output audio messages can be truncated", "invalid_value", "item_id")
        pcm = item.audio[index]
        length_ms = round(audio.duration_ms(len(pcm)))
        if end_ms > length_ms:
            raise ApiError(
                f"Audio content of {length_ms}ms is already shorter than {end_ms}ms",
                "invalid_value",
                "audio_end_ms",
            )
        del pcm[end_ms * _SAMPLES_PER_MS * 2 :]
        content[index].pop("transcript", None)
        self._emit(
            {
                "type": "conversation.item.truncated",
                "item_id": item.id,
                "content_index": index,
                "audio_end_ms": end_ms,
            }
        )

    # ---------------------------------------------------------------------------------------- input audio

    def _on_input_audio_buffer_append(self, event: Json, event_id: str | None) -> None:
        if "audio" not in event:
            raise _missing("audio")
        try:
            pcm = audio.b64decode(_want_str(event["audio"], "audio"))
        except ValueError:
            raise ApiError("Invalid 'audio': not valid base64.", "invalid_value", "audio") from None
        if len(pcm) % 2:
            raise ApiError("Invalid 'audio': PCM16 audio must have an even number of bytes.", "invalid_value", "audio")
        self._append_audio(pcm)

    def append_audio(self, pcm: bytes) -> None:
        """Feed input audio as if appended by the client (tests, benchmarks); then drain data_to_send()."""
        self._append_audio(pcm)
        self._pump(self._clock())

    def _append_audio(self, pcm: bytes) -> None:
        self._buffer += pcm
        self._total_samples += len(pcm) // 2
        events = self._vad.feed(pcm)
        td = self.session["audio"]["input"]["turn_detection"]
        if td is None:
            return
        for ev in events:
            self._on_vad(ev, td)
        if not self._vad.in_speech:
            keep = (td.get("prefix_padding_ms", 300) + 1000) * _SAMPLES_PER_MS
            drop = self._total_samples - keep - self._buffer_start
            if drop > 0:
                del self._buffer[: drop * 2]
                self._buffer_start += drop

    def _on_vad(self, ev: VadEvent, td: Json) -> None:
        if ev.kind == "speech_started":
            self._idle_anchor = None
            self._speech_item_id = self._new_id("item_")
            # The user item's audio starts where speech_started says (the idle buffer keeps the prefix).
            self._speech_start = ev.audio_ms * _SAMPLES_PER_MS
            self._consume_buffer(self._speech_start)
            self._emit(
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": ev.audio_ms,
                    "item_id": self._speech_item_id,
                }
            )
            if td.get("interrupt_response", True) and self._active is not None:
                self._cancel(self._active, "turn_detected")
            return
        item_id = self._speech_item_id or self._new_id("item_")
        self._speech_item_id = None
        self._emit({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": ev.audio_ms, "item_id": item_id})
        start = max(self._buffer_start, self._speech_start)
        end = min(self._total_samples, ev.audio_ms * _SAMPLES_PER_MS)
        pcm = bytes(self._buffer[(start - self._buffer_start) * 2 : (end - self._buffer_start) * 2])
        self._consume_buffer(end)
        self._commit(pcm, item_id)
        if td.get("create_response", True) and self._active is None:
            self._start_response({}, None)

    def _consume_buffer(self, end_sample: int) -> None:
        cut = max(0, end_sample - self._buffer_start)
        del self._buffer[: cut * 2]
        self._buffer_start += cut

    def _commit(self, pcm: bytes, item_id: str) -> None:
        item = _Item(
            {
                "id": item_id,
                "type": "message",
                "object": "realtime.item",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            },
            audio={0: bytearray(pcm)},
        )
        heard = self.brain.recognize(pcm)
        if heard:
            item.heard[0] = heard
        previous = self._items[-1].id if self._items else None
        self._emit({"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id})
        self._insert(item)
        self._emit({"type": "conversation.item.added", "previous_item_id": previous, "item": item.wire()})
        self._emit({"type": "conversation.item.done", "previous_item_id": previous, "item": item.wire()})
        if self.session["audio"]["input"]["transcription"] is not None:
            transcript = self.brain.transcribe(pcm)
            item.data["content"][0]["transcript"] = transcript
            for piece in _WORDS.findall(transcript):
                self._emit(
                    {
                        "type": "conversation.item.input_audio_transcription.delta",
                        "item_id": item_id,
                        "content_index": 0,
                        "delta": piece,
                    }
                )
            audio_tokens = math.ceil(audio.duration_ms(len(pcm)) / 100)
            out_tokens = text_tokens(transcript)
            self._emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": transcript,
                    "usage": {
                        "type": "tokens",
                        "input_tokens": audio_tokens,
                        "output_tokens": out_tokens,
                        "total_tokens": audio_tokens + out_tokens,
                        "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
                    },
                }
            )

    def _on_input_audio_buffer_commit(self, event: Json, event_id: str | None) -> None:
        held_ms = audio.duration_ms(len(self._buffer))
        if held_ms < _MIN_COMMIT_MS:
            raise ApiError(
                "Error committing input audio buffer: buffer too small. "
                "Expected at least 100ms of audio, but "
                f"buffer only has {held_ms:.2f}ms of audio.",
                "input_audio_buffer_commit_empty",
            )
        pcm = bytes(self._buffer)
        item_id = self._speech_item_id or self._new_id("item_")
        self._speech_item_id = None
        self._consume_buffer(self._total_samples)
        self._vad.reset()
        self._idle_anchor = None
        self._commit(pcm, item_id)

    def _on_input_audio_buffer_clear(self, event: Json, event_id: str | None) -> None:
        self._consume_buffer(self._total_samples)
        self._vad.reset()
        self._speech_item_id = None
        self._emit({"type": "input_audio_buffer.cleared"})

    def _on_output_audio_buffer_clear(self, event: Json, event_id: str | None) -> None:
        # WebRTC/SIP only: over a WebSocket the client owns playback, so there is nothing to clear.
        log.debug("output_audio_buffer.clear ignored (WebSocket connection)")

    def _idle_deadline(self) -> float | None:
        td = self.session["audio"]["input"]["turn_detection"]
        if self._idle_anchor is None or td is None or not td.get("idle_timeout_ms") or self._active is not None:
            return None
        return self._idle_anchor + float(td["idle_timeout_ms"]) / 1000

    def _idle_timeout(self) -> None:
        self._idle_anchor = None
        if self._vad.in_speech:
            return
        item_id = self._new_id("item_")
        start_ms = self._buffer_start // _SAMPLES_PER_MS
        end_ms = self._total_samples // _SAMPLES_PER_MS
        self._emit(
            {
                "type": "input_audio_buffer.timeout_triggered",
                "audio_start_ms": start_ms,
                "audio_end_ms": end_ms,
                "item_id": item_id,
            }
        )
        pcm = bytes(self._buffer)
        self._consume_buffer(self._total_samples)
        self._vad.reset()
        self._commit(pcm, item_id)
        self._start_response({}, None)

    # ---------------------------------------------------------------------------------------- responses

    def _on_response_create(self, event: Json, event_id: str | None) -> None:
        _check_keys(event, ("type", "event_id", "response"), "")
        params = _want_dict(event.get("response") or {}, "response")
        self._start_response(params, event_id)

    def _on_response_cancel(self, event: Json, event_id: str | None) -> None:
        response_id = event.get("response_id")
        if response_id is None:
            run = self._active
        else:
            run = next((r for r in self._runs if r.id == response_id), None)
        if run is None:
            raise ApiError("Cancellation failed: no active response found", "response_cancel_not_active")
        self._cancel(run, "client_cancelled")

    def _start_response(self, params: Json, event_id: str | None) -> None:
        """Validate ``params`` (response.create's ``response``), then plan the response and start it."""
        _check_keys(params, _RESPONSE_KEYS, "response")
        session = self.session
        conversation = params.get("conversation", "auto")
        if conversation not in ("auto", "none"):
            raise _value_error("response.conversation", conversation, ["auto", "none"])
        in_conversation = conversation == "auto"
        if in_conversation and self._active is not None:
            raise ApiError(
                f"Conversation already has an active response in progress: {self._active.id}. Wait until the "
                "response is finished before creating a new one.",
                "conversation_already_has_active_response",
            )
        instructions = _want_str(params.get("instructions", session["instructions"]), "response.instructions")
        tools = _check_tools(params["tools"], "response.tools") if "tools" in params else session["tools"]
        tool_choice = (
            _check_tool_choice(params["tool_choice"], "response.tool_choice")
            if "tool_choice" in params
            else session["tool_choice"]
        )
        modalities = (
            _check_modalities(params["output_modalities"], "response.output_modalities")
            if "output_modalities" in params
            else session["output_modalities"]
        )
        max_tokens = (
            _check_max_tokens(params["max_output_tokens"], "response.max_output_tokens")
            if "max_output_tokens" in params
            else session["max_output_tokens"]
        )
        out_audio = copy.deepcopy(session["audio"]["output"])
        if "audio" in params:
            audio_params = _want_dict(params["audio"], "response.audio")
            _check_keys(audio_params, ("output",), "response.audio")
            over = _want_dict(audio_params.get("output", {}), "response.audio.output")
            _check_keys(over, ("format", "voice"), "response.audio.output")
            if "format" in over:
                out_audio["format"] = _check_format(over["format"], "response.audio.output.format")
            if "voice" in over:
                out_audio["voice"] = _check_voice(over["voice"], "response.audio.output.voice")
        metadata = _check_metadata(params.get("metadata"), "response.metadata")
        for key in ("parallel_tool_calls", "reasoning", "prompt"):
            if key in params and params[key] is not None and key != "parallel_tool_calls":
                _want_dict(params[key], f"response.{key}")
        context = self._input_context(params["input"]) if "input" in params else list(self._items)

        reply = self.brain.reply([i.brain_view() for i in context], tools=tools, tool_choice=tool_choice)
        response_id = self._new_id("resp_")
        self._last_response_id = response_id
        response: Json = {
            "object": "realtime.response",
            "id": response_id,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": self._conversation_id if in_conversation else None,
            "output_modalities": modalities,
            "max_output_tokens": max_tokens,
            "audio": {"output": {"format": out_audio["format"], "voice": out_audio["voice"]}},
            "usage": None,
            "metadata": metadata,
        }
        run = _Run(response=response, in_conversation=in_conversation)
        run.input_tokens = _input_tokens(instructions, tools, context)
        self._plan(run, reply, modalities, out_audio, max_tokens)
        self._runs.append(run)
        if in_conversation:
            self._active = run
            self._idle_anchor = None
        self._pump(self._clock())  # response.created and everything already due go out now

    def _input_context(self, value: Any) -> list[_Item]:
        if not isinstance(value, list):
            raise _type_error("response.input", "an array", value)
        context = []
        for i, raw in enumerate(value):
            path = f"response.input[{i}]"
            if isinstance(raw, dict) and raw.get("type") == "item_reference":
                context.append(self._find(raw.get("id"), f"{path}.id"))
            else:
                context.append(self._parse_item(raw, path, for_input=True))
        return context

    # -- planning ------------------------------------------------------------------------------------

    def _plan(self, run: _Run, reply: Reply, modalities: list[str], out_audio: Json, max_tokens: Any) -> None:
        t0 = self._clock()
        realtime = self.pace == "realtime"

        def at(offset: float, action: Callable[[], None]) -> None:
            run.steps.append((t0 + (offset if realtime else 0.0), action))

        at(0.0, lambda: self._begin(run))
        offset = 0.0
        budget = math.inf if max_tokens == "inf" else float(max_tokens)
        if reply.calls:
            for call in reply.calls:
                out = self._new_output(run, "function_call")
                out.call = call
                at(offset, functools.partial(self._open_output, run, out))
                offset += _ARGS_DELTA_S
                at(offset, functools.partial(self._function_args, run, out))
                at(offset, functools.partial(self._finish_output, run, out, "completed"))
        else:
            text = reply.text or ""
            words = _WORDS.findall(text)
            if modalities == ["audio"]:
                out = self._new_output(run, "audio")
                pcm = self._speak(text, out_audio)
                chunk = self.config.audio_chunk_ms * _SAMPLES_PER_MS * 2
                n_chunks = math.ceil(len(pcm) / chunk) if pcm else 0
                total_tokens = text_tokens(text) + math.ceil(audio.duration_ms(len(pcm)) / 50)
                if total_tokens > budget:
                    keep = budget / total_tokens
                    words = words[: int(len(words) * keep)]
                    n_chunks = int(n_chunks * keep)
                    run.status, run.reason = "incomplete", "max_output_tokens"
                at(0.0, lambda: self._open_output(run, out))
                lead = self.config.audio_lead_ms / 1000
                if n_chunks == 0 and words:
                    at(0.0, lambda: self._transcript_delta(run, out, "".join(words)))
                sent_words = 0
                for k in range(n_chunks):
                    upto = len(words) if k == n_chunks - 1 else len(words) * (k + 1) // n_chunks
                    piece = "".join(words[sent_words:upto])
                    sent_words = upto
                    delta = bytes(pcm[k * chunk : (k + 1) * chunk])
                    due = max(0.0, k * self.config.audio_chunk_ms / 1000 - lead)
                    at(due, functools.partial(self._audio_delta, run, out, piece, delta))
                    offset = due
                at(offset, lambda: self._finish_output(run, out, "completed"))
            else:
                out = self._new_output(run, "text")
                if text_tokens(text) > budget:
                    words = words[: int(len(words) * budget / text_tokens(text))]
                    run.status, run.reason = "incomplete", "max_output_tokens"
                at(0.0, lambda: self._open_output(run, out))
                for word in words:
                    at(offset, functools.partial(self._text_delta, run, out, word))
                    offset += _TEXT_DELTA_S
                at(offset, lambda: self._finish_output(run, out, "completed"))
        at(offset, lambda: self._done(run))

    def _speak(self, text: str, out_audio: Json) -> bytes:
        if not text:
            return b""
        if self._voice is None:
            from .voice import default_voice  # the voice backends load lazily

            self._voice = default_voice()
        speed = float(out_audio.get("speed", 1.0))
        return self._voice.synthesize(text, voice=_voice_name(out_audio["voice"]), speed=speed)

    def _new_output(self, run: _Run, kind: Literal["audio", "text", "function_call"]) -> _Output:
        item_id = self._new_id("item_")
        if kind == "function_call":
            data: Json = {
                "id": item_id,
                "type": "function_call",
                "object": "realtime.item",
                "status": "in_progress",
            }
        else:
            data = {
                "id": item_id,
                "type": "message",
                "object": "realtime.item",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
        out = _Output(index=len(run.outputs), item=_Item(data), kind=kind)
        run.outputs.append(out)
        return out

    # -- steps ---------------------------------------------------------------------------------------

    def _begin(self, run: _Run) -> None:
        self._emit({"type": "response.created", "response": copy.deepcopy(run.response)})
        reserved = run.input_tokens["total"] + (
            4096 if run.response["max_output_tokens"] == "inf" else int(run.response["max_output_tokens"])
        )
        self._emit(
            {
                "type": "rate_limits.updated",
                "rate_limits": [
                    {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
                    {
                        "name": "tokens",
                        "limit": 40000,
                        "remaining": max(0, 40000 - reserved),
                        "reset_seconds": round(reserved / 40000 * 60, 3),
                    },
                ],
            }
        )

    def _open_output(self, run: _Run, out: _Output) -> None:
        out.started = True
        data = out.item.data
        if out.kind == "function_call":
            assert out.call is not None
            data.update({"name": out.call.name, "call_id": self._new_id("call_", 16), "arguments": ""})
        self._emit(
            {
                "type": "response.output_item.added",
                "response_id": run.id,
                "output_index": out.index,
                "item": out.item.wire(),
            }
        )
        if run.in_conversation:
            previous = self._insert(out.item)
            self._emit({"type": "conversation.item.added", "previous_item_id": previous, "item": out.item.wire()})
        if out.kind == "function_call":
            return
        part_type = "audio" if out.kind == "audio" else "text"
        wire_part: Json = {"type": part_type, "transcript": ""} if out.kind == "audio" else {"type": "text", "text": ""}
        data["content"].append(
            {"type": "output_audio", "transcript": ""} if out.kind == "audio" else {"type": "output_text", "text": ""}
        )
        if out.kind == "audio":
            out.item.audio[0] = out.sent_audio
        self._emit(
            {
                **self._where(run, out),
                "type": "response.content_part.added",
                "content_index": 0,
                "part": wire_part,
            }
        )

    @staticmethod
    def _where(run: _Run, out: _Output) -> Json:
        return {"response_id": run.id, "item_id": out.item.id, "output_index": out.index}

    def _transcript_delta(self, run: _Run, out: _Output, piece: str) -> None:
        out.sent_text += piece
        out.item.data["content"][0]["transcript"] = out.sent_text
        self._emit(
            {
                "type": "response.output_audio_transcript.delta",
                **self._where(run, out),
                "content_index": 0,
                "delta": piece,
            }
        )

    def _audio_delta(self, run: _Run, out: _Output, piece: str, delta: bytes) -> None:
        if piece:
            self._transcript_delta(run, out, piece)
        out.sent_audio += delta
        if run.in_conversation:
            self._assistant_audio = True
        self._emit(
            {
                "type": "response.output_audio.delta",
                **self._where(run, out),
                "content_index": 0,
                "delta": audio.b64encode(delta),
            }
        )

    def _text_delta(self, run: _Run, out: _Output, word: str) -> None:
        out.sent_text += word
        out.item.data["content"][0]["text"] = out.sent_text
        self._emit({"type": "response.output_text.delta", **self._where(run, out), "content_index": 0, "delta": word})

    def _function_args(self, run: _Run, out: _Output) -> None:
        assert out.call is not None
        args = out.call.arguments
        out.sent_text = args
        cut = max(1, len(args) // 2)
        for piece in (args[:cut], args[cut:]):
            if piece:
                self._emit(
                    {
                        "type": "response.function_call_arguments.delta",
                        **self._where(run, out),
                        "call_id": out.item.data["call_id"],
                        "delta": piece,
                    }
                )

    def _finish_output(self, run: _Run, out: _Output, status: str) -> None:
        if out.finished or not out.started:
            return
        out.finished = True
        where = self._where(run, out)
        data = out.item.data
        if out.kind == "function_call":
            if status == "completed":
                data["arguments"] = out.sent_text
                self._emit(
                    {
                        "type": "response.function_call_arguments.done",
                        **where,
                        "call_id": data["call_id"],
                        "name": data["name"],
                        "arguments": out.sent_text,
                    }
                )
        elif out.kind == "audio":
            self._emit({"type": "response.output_audio.done", **where, "content_index": 0})
            self._emit(
                {
                    "type": "response.output_audio_transcript.done",
                    **where,
                    "content_index": 0,
                    "transcript": out.sent_text,
                }
            )
            self._emit(
                {
                    "type": "response.content_part.done",
                    **where,
                    "content_index": 0,
                    "part": {"type": "audio", "transcript": out.sent_text},
                }
            )
        else:
            self._emit({"type": "response.output_text.done", **where, "content_index": 0, "text": out.sent_text})
            self._emit(
                {
                    "type": "response.content_part.done",
                    **where,
                    "content_index": 0,
                    "part": {"type": "text", "text": out.sent_text},
                }
            )
        data["status"] = status
        run.response["output"].append(out.item.wire())
        self._emit(
            {
                "type": "response.output_item.done",
                "response_id": run.id,
                "output_index": out.index,
                "item": out.item.wire(),
            }
        )
        if run.in_conversation and out.item.id in self._by_id:
            previous = self._previous_id(out.item)
            self._emit({"type": "conversation.item.done", "previous_item_id": previous, "item": out.item.wire()})

    def _previous_id(self, item: _Item) -> str | None:
        index = self._items.index(item)
        return self._items[index - 1].id if index > 0 else None

    def _done(self, run: _Run) -> None:
        if run not in self._runs:
            return
        self._runs.remove(run)
        response = run.response
        response["status"] = run.status
        details: Json = {"type": run.status}
        if run.reason is not None:
            details["reason"] = run.reason
        response["status_details"] = details
        response["usage"] = self._usage(run)
        self._emit({"type": "response.done", "response": copy.deepcopy(response)})
        if run is self._active:
            self._active = None
            audio_s = sum(audio.duration_ms(len(o.sent_audio)) for o in run.outputs) / 1000
            self._idle_anchor = self._clock() + audio_s

    def _cancel(self, run: _Run, reason: str) -> None:
        run.steps.clear()
        for out in run.outputs:
            if out.started and not out.finished:
                self._finish_output(run, out, "incomplete")
        run.outputs = [o for o in run.outputs if o.started]
        run.status, run.reason = "cancelled", reason
        self._done(run)

    def _usage(self, run: _Run) -> Json:
        text_out = sum(text_tokens(o.sent_text) for o in run.outputs)
        text_out += sum(text_tokens(o.call.name) for o in run.outputs if o.call is not None and o.started)
        audio_out = sum(math.ceil(audio.duration_ms(len(o.sent_audio)) / 50) for o in run.outputs)
        inp = run.input_tokens
        input_total = inp["total"]
        output_total = text_out + audio_out
        return {
            "total_tokens": input_total + output_total,
            "input_tokens": input_total,
            "output_tokens": output_total,
            "input_token_details": {
                "text_tokens": inp["text"],
                "audio_tokens": inp["audio"],
                "image_tokens": inp["image"],
                "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }


def _input_tokens(instructions: str, tools: Sequence[Any], context: Sequence[_Item]) -> Json:
    """Deterministic input token counts: 4 characters a token for text, 100 ms a token for input audio."""
    text = text_tokens(instructions) + (text_tokens(json.dumps(tools)) if tools else 0)
    audio_tokens = 0
    image = 0
    for item in context:
        data = item.data
        for part in data.get("content") or []:
            if part.get("type") in ("input_text", "output_text"):
                text += text_tokens(part.get("text"))
            elif part.get("type") == "input_image":
                image += 85
            elif part.get("type") == "output_audio":
                text += text_tokens(part.get("transcript"))
        audio_tokens += math.ceil(item.audio_ms() / 100)
        if data.get("type") == "function_call":
            text += text_tokens(str(data.get("name"))) + text_tokens(str(data.get("arguments")))
        elif data.get("type") == "function_call_output":
            text += text_tokens(str(data.get("output")))
    return {"text": text, "audio": audio_tokens, "image": image, "total": text + audio_tokens + image}


def _substitute(value: Any, table: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value in table:
        return table[value]
    if isinstance(value, list):
        return [_substitute(v, table) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, table) for k, v in value.items()}
    return value
