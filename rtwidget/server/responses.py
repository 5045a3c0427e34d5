"""The responses of one connection: ``response.create`` (its parameters checked and resolved against the
session), ``response.cancel``, the one response active in the conversation, and ``response.done`` with usage.

Out-of-band responses (``conversation: "none"``) run beside the conversation's one and leave it alone. What each
response sends, step by step, is :class:`~.response_stream.ResponseStream`'s job; :meth:`Responses.run_next_step`
runs the earliest due step of all of them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rtwidget import audio
from rtwidget.protocol.server_errors import ACTIVE_RESPONSE_CODE

from .api_errors import ApiError, check_keys, type_error, value_error, want_dict, want_str
from .brain import Brain
from .config import EngineConfig, Json, Pace, SpeechVoice
from .items import Conversation, Item
from .outbox import Outbox
from .param_checks import (
    check_format,
    check_max_tokens,
    check_metadata,
    check_modalities,
    check_tool_choice,
    check_tools,
    check_voice,
)
from .response_stream import ResponseStream
from .runs import Run
from .session_state import SessionState
from .usage import input_tokens, response_usage

__all__ = ["Responses"]

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


@dataclass
class _Params:
    """``response.create``'s parameters, checked, with the session's values where it gave none."""

    in_conversation: bool
    instructions: str
    tools: list[Json]
    tool_choice: Any
    modalities: list[str]
    max_tokens: int | str
    out_audio: Json
    metadata: dict[str, str] | None


class Responses:
    """Every response in progress (out-of-band ones too), in creation order; at most one in the conversation."""

    def __init__(
        self,
        config: EngineConfig,
        outbox: Outbox,
        session: SessionState,
        conversation: Conversation,
        brain: Brain,
        *,
        clock: Callable[[], float],
        voice: SpeechVoice | None,
        pace: Pace,
        release_due: Callable[[], None],
    ) -> None:
        self._outbox = outbox
        self._session = session
        self._conversation = conversation
        self._brain = brain
        self._clock = clock
        # Sends what is already due (the engine's pump): a new response's first events go out at once.
        self._release_due = release_due
        self._stream = ResponseStream(
            config, outbox, conversation, clock=clock, voice=voice, pace=pace, on_done=self._done
        )
        self.runs: list[Run] = []
        # The response of the default conversation in progress, if any.
        self.active: Run | None = None
        self.last_id: str | None = None
        # Start of the idle timeout (server_vad idle_timeout_ms): when the last conversation response's audio
        # will have finished playing; None while a response runs and once the user spoke.
        self.idle_since: float | None = None

    @property
    def assistant_audio(self) -> bool:
        """True once assistant audio is in the conversation (the voice can no longer change)."""
        return self._stream.assistant_audio

    # -- client events --------------------------------------------------------------------------------

    def on_create(self, event: Json) -> None:
        check_keys(event, ("type", "event_id", "response"), "")
        self.start(want_dict(event.get("response") or {}, "response"))

    def on_cancel(self, event: Json) -> None:
        response_id = event.get("response_id")
        if response_id is None:
            run = self.active
        else:
            run = next((r for r in self.runs if r.id == response_id), None)
        if run is None:
            raise ApiError("Cancellation failed: no active response found", "response_cancel_not_active")
        self.cancel(run, "client_cancelled")

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self, params: Json) -> None:
        """Check ``params`` (response.create's ``response``), then plan the response and queue its steps."""
        resolved = self._resolve(params)
        context = self._input_context(params["input"]) if "input" in params else list(self._conversation.items)
        reply = self._brain.reply(
            [i.brain_view() for i in context], tools=resolved.tools, tool_choice=resolved.tool_choice
        )
        response_id = self._outbox.new_id("resp_")
        self.last_id = response_id
        out_audio = resolved.out_audio
        response: Json = {
            "object": "realtime.response",
            "id": response_id,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": self._conversation.id if resolved.in_conversation else None,
            "output_modalities": resolved.modalities,
            "max_output_tokens": resolved.max_tokens,
            "audio": {"output": {"format": out_audio["format"], "voice": out_audio["voice"]}},
            "usage": None,
            "metadata": resolved.metadata,
        }
        run = Run(response=response, in_conversation=resolved.in_conversation)
        run.input_tokens = input_tokens(resolved.instructions, resolved.tools, context)
        self._stream.plan(run, reply, resolved.modalities, out_audio, resolved.max_tokens)
        self.runs.append(run)
        if resolved.in_conversation:
            self.active = run
            self.idle_since = None
        self._release_due()

    def _resolve(self, params: Json) -> _Params:
        check_keys(params, _RESPONSE_KEYS, "response")
        session = self._session.data
        conversation = params.get("conversation", "auto")
        if conversation not in ("auto", "none"):
            raise value_error("response.conversation", conversation, ["auto", "none"])
        in_conversation = conversation == "auto"
        if in_conversation and self.active is not None:
            raise ApiError(
                f"Conversation already has an active response in progress: {self.active.id}. Wait until the "
                "response is finished before creating a new one.",
                ACTIVE_RESPONSE_CODE,
            )

        def pick(key: str, check: Callable[[Any, str], Any]) -> Any:
            return check(params[key], f"response.{key}") if key in params else session[key]

        resolved = _Params(
            in_conversation=in_conversation,
            instructions=want_str(params.get("instructions", session["instructions"]), "response.instructions"),
            tools=pick("tools", check_tools),
            tool_choice=pick("tool_choice", check_tool_choice),
            modalities=pick("output_modalities", check_modalities),
            max_tokens=pick("max_output_tokens", check_max_tokens),
            out_audio=_output_audio(params, session["audio"]["output"]),
            metadata=check_metadata(params.get("metadata"), "response.metadata"),
        )
        for key in ("reasoning", "prompt"):
            if params.get(key) is not None:
                want_dict(params[key], f"response.{key}")
        return resolved

    def _input_context(self, value: Any) -> list[Item]:
        if not isinstance(value, list):
            raise type_error("response.input", "an array", value)
        context = []
        for i, raw in enumerate(value):
            path = f"response.input[{i}]"
            if isinstance(raw, dict) and raw.get("type") == "item_reference":
                context.append(self._conversation.find(raw.get("id"), f"{path}.id"))
            else:
                context.append(self._conversation.parse(raw, path, for_input=True))
        return context

    def cancel(self, run: Run, reason: str) -> None:
        """Stop ``run`` now: open output items close as ``incomplete``, then ``response.done`` (cancelled)."""
        run.steps.clear()
        for out in run.outputs:
            if out.started and not out.finished:
                self._stream.finish_output(run, out, "incomplete")
        run.outputs = [o for o in run.outputs if o.started]
        run.status, run.reason = "cancelled", reason
        self._done(run)

    def _done(self, run: Run) -> None:
        if run not in self.runs:
            return
        self.runs.remove(run)
        response = run.response
        response["status"] = run.status
        details: Json = {"type": run.status}
        if run.reason is not None:
            details["reason"] = run.reason
        response["status_details"] = details
        response["usage"] = response_usage(run)
        self._outbox.emit({"type": "response.done", "response": copy.deepcopy(response)})
        if run is self.active:
            self.active = None
            audio_s = sum(audio.duration_ms(len(o.sent_audio)) for o in run.outputs) / 1000
            self.idle_since = self._clock() + audio_s

    # -- paced steps ----------------------------------------------------------------------------------

    def _earliest(self) -> Run | None:
        best: Run | None = None
        for run in self.runs:
            due = run.next_due
            if due is not None and (best is None or due < best.steps[0][0]):  # ties: the older run first
                best = run
        return best

    def next_due(self) -> float | None:
        """When the earliest step of any response is due, or None."""
        run = self._earliest()
        return None if run is None else run.next_due

    def run_next_step(self) -> None:
        """Run the earliest due step (of the oldest response on ties)."""
        run = self._earliest()
        if run is not None:
            _, action = run.steps.popleft()
            action()

    def drop(self) -> None:
        """Forget every response in progress (the connection is closing)."""
        self.runs.clear()


def _output_audio(params: Json, session_output: Json) -> Json:
    """The session's ``audio.output`` with response.create's ``audio.output`` overrides (format, voice)."""
    out_audio = copy.deepcopy(session_output)
    if "audio" not in params:
        return out_audio
    audio_params = want_dict(params["audio"], "response.audio")
    check_keys(audio_params, ("output",), "response.audio")
    over = want_dict(audio_params.get("output", {}), "response.audio.output")
    check_keys(over, ("format", "voice"), "response.audio.output")
    if "format" in over:
        out_audio["format"] = check_format(over["format"], "response.audio.output.format")
    if "voice" in over:
        out_audio["voice"] = check_voice(over["voice"], "response.audio.output.voice")
    return out_audio
