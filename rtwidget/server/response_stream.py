"""What one response sends: its events planned from the brain's reply as paced steps, then sent step by step.

Events come in the order the real server uses: ``response.created``, ``rate_limits.updated``, then per output
item ``response.output_item.added``, ``conversation.item.added``, ``response.content_part.added``, the deltas
(transcript and audio interleaved), the ``.done`` events, ``response.output_item.done`` and
``conversation.item.done``; ``response.done`` is sent by :class:`~.responses.Responses` when the last step runs.

With pace ``realtime`` each 100 ms audio delta is due when its start is, a quarter of a second ahead, text deltas
30 ms apart; with pace ``fast`` every step is due at once.
"""

from __future__ import annotations

import copy
import functools
import math
import re
from collections.abc import Callable, Sequence

from rtwidget import audio
from rtwidget.protocol.pcm import BYTES_PER_MS

from .brain import FunctionCall, Reply, text_tokens
from .config import EngineConfig, Json, Pace, SpeechVoice
from .items import Conversation, Item
from .outbox import Outbox
from .param_checks import voice_name
from .runs import Output, OutputKind, Run
from .usage import output_audio_tokens, rate_limits
from .voice import default_voice

__all__ = ["WORDS", "ResponseStream"]

_TEXT_DELTA_S = 0.03
_ARGS_DELTA_S = 0.02
# Words with their trailing space: the unit of text and transcript deltas.
WORDS = re.compile(r"\S+\s*")

# Puts a step on a run at an offset (seconds) from the start of the response.
At = Callable[[float, Callable[[], None]], None]


class ResponseStream:
    """Plans each response's steps (:meth:`plan`) and runs them: output items, content parts, deltas."""

    def __init__(
        self,
        config: EngineConfig,
        outbox: Outbox,
        conversation: Conversation,
        *,
        clock: Callable[[], float],
        voice: SpeechVoice | None,
        pace: Pace,
        on_done: Callable[[Run], None],
    ) -> None:
        self._config = config
        self._outbox = outbox
        self._conversation = conversation
        self._clock = clock
        self._voice = voice
        self._pace = pace
        self._on_done = on_done
        # Set once assistant audio is in the conversation (the voice can no longer change).
        self.assistant_audio = False

    # -- planning ------------------------------------------------------------------------------------

    def plan(self, run: Run, reply: Reply, modalities: list[str], out_audio: Json, max_tokens: int | str) -> None:
        """Queue the steps of ``run`` on it, from ``reply``; the last one finishes the response."""
        t0 = self._clock()
        realtime = self._pace == "realtime"

        def at(offset: float, action: Callable[[], None]) -> None:
            run.steps.append((t0 + (offset if realtime else 0.0), action))

        at(0.0, lambda: self._begin(run))
        budget = math.inf if max_tokens == "inf" else float(max_tokens)
        if reply.calls:
            offset = self._plan_calls(run, reply.calls, at)
        elif modalities == ["audio"]:
            offset = self._plan_audio(run, reply.text or "", out_audio, budget, at)
        else:
            offset = self._plan_text(run, reply.text or "", budget, at)
        at(offset, lambda: self._on_done(run))

    def _plan_calls(self, run: Run, calls: Sequence[FunctionCall], at: At) -> float:
        offset = 0.0
        for call in calls:
            out = self._new_output(run, "function_call")
            out.call = call
            at(offset, functools.partial(self._open_output, run, out))
            offset += _ARGS_DELTA_S
            at(offset, functools.partial(self._function_args, run, out))
            at(offset, functools.partial(self.finish_output, run, out, "completed"))
        return offset

    def _plan_audio(self, run: Run, text: str, out_audio: Json, budget: float, at: At) -> float:
        words = WORDS.findall(text)
        out = self._new_output(run, "audio")
        pcm = self._speak(text, out_audio)
        chunk = self._config.audio_chunk_ms * BYTES_PER_MS
        n_chunks = math.ceil(len(pcm) / chunk) if pcm else 0
        total_tokens = text_tokens(text) + output_audio_tokens(len(pcm))
        if total_tokens > budget:  # cut words and audio alike
            keep = budget / total_tokens
            words = words[: int(len(words) * keep)]
            n_chunks = int(n_chunks * keep)
            run.status, run.reason = "incomplete", "max_output_tokens"
        at(0.0, lambda: self._open_output(run, out))
        lead = self._config.audio_lead_ms / 1000
        if n_chunks == 0 and words:
            at(0.0, lambda: self._transcript_delta(run, out, "".join(words)))
        offset = 0.0
        sent_words = 0
        for k in range(n_chunks):
            # The transcript is spread over the audio chunks, all of it sent by the last one.
            upto = len(words) if k == n_chunks - 1 else len(words) * (k + 1) // n_chunks
            piece = "".join(words[sent_words:upto])
            sent_words = upto
            delta = bytes(pcm[k * chunk : (k + 1) * chunk])
            offset = max(0.0, k * self._config.audio_chunk_ms / 1000 - lead)
            at(offset, functools.partial(self._audio_delta, run, out, piece, delta))
        at(offset, lambda: self.finish_output(run, out, "completed"))
        return offset

    def _plan_text(self, run: Run, text: str, budget: float, at: At) -> float:
        words = WORDS.findall(text)
        out = self._new_output(run, "text")
        if text_tokens(text) > budget:
            words = words[: int(len(words) * budget / text_tokens(text))]
            run.status, run.reason = "incomplete", "max_output_tokens"
        at(0.0, lambda: self._open_output(run, out))
        offset = 0.0
        for word in words:
            at(offset, functools.partial(self._text_delta, run, out, word))
            offset += _TEXT_DELTA_S
        at(offset, lambda: self.finish_output(run, out, "completed"))
        return offset

    def _speak(self, text: str, out_audio: Json) -> bytes:
        if not text:
            return b""
        if self._voice is None:
            self._voice = default_voice()
        speed = float(out_audio.get("speed", 1.0))
        return self._voice.synthesize(text, voice=voice_name(out_audio["voice"]), speed=speed)

    def _new_output(self, run: Run, kind: OutputKind) -> Output:
        data: Json = {
            "id": self._outbox.new_id("item_"),
            "type": "function_call" if kind == "function_call" else "message",
            "object": "realtime.item",
            "status": "in_progress",
        }
        if kind != "function_call":
            data.update({"role": "assistant", "content": []})
        out = Output(index=len(run.outputs), item=Item(data), kind=kind)
        run.outputs.append(out)
        return out

    # -- steps ---------------------------------------------------------------------------------------

    def _emit(self, event: Json) -> None:
        self._outbox.emit(event)

    @staticmethod
    def _where(run: Run, out: Output) -> Json:
        return {"response_id": run.id, "item_id": out.item.id, "output_index": out.index}

    def _begin(self, run: Run) -> None:
        self._emit({"type": "response.created", "response": copy.deepcopy(run.response)})
        self._emit({"type": "rate_limits.updated", "rate_limits": rate_limits(run)})

    def _open_output(self, run: Run, out: Output) -> None:
        out.started = True
        data = out.item.data
        if out.kind == "function_call":
            assert out.call is not None
            data.update({"name": out.call.name, "call_id": self._outbox.new_id("call_", 16), "arguments": ""})
        self._emit(
            {
                "type": "response.output_item.added",
                "response_id": run.id,
                "output_index": out.index,
                "item": out.item.wire(),
            }
        )
        if run.in_conversation:
            previous = self._conversation.insert(out.item)
            self._emit({"type": "conversation.item.added", "previous_item_id": previous, "item": out.item.wire()})
        if out.kind == "function_call":
            return
        # The item's part is output_audio / output_text; the content part events say "audio" / "text".
        if out.kind == "audio":
            data["content"].append({"type": "output_audio", "transcript": ""})
            out.item.audio[0] = out.sent_audio
            part: Json = {"type": "audio", "transcript": ""}
        else:
            data["content"].append({"type": "output_text", "text": ""})
            part = {"type": "text", "text": ""}
        self._emit({**self._where(run, out), "type": "response.content_part.added", "content_index": 0, "part": part})

    def _transcript_delta(self, run: Run, out: Output, piece: str) -> None:
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

    def _audio_delta(self, run: Run, out: Output, piece: str, delta: bytes) -> None:
        if piece:
            self._transcript_delta(run, out, piece)
        out.sent_audio += delta
        if run.in_conversation:
            self.assistant_audio = True
        self._emit(
            {
                "type": "response.output_audio.delta",
                **self._where(run, out),
                "content_index": 0,
                "delta": audio.b64encode(delta),
            }
        )

    def _text_delta(self, run: Run, out: Output, word: str) -> None:
        out.sent_text += word
        out.item.data["content"][0]["text"] = out.sent_text
        self._emit({"type": "response.output_text.delta", **self._where(run, out), "content_index": 0, "delta": word})

    def _function_args(self, run: Run, out: Output) -> None:
        assert out.call is not None
        args = out.call.arguments
        out.sent_text = args
        cut = max(1, len(args) // 2)  # two deltas, as the real server streams them
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

    def finish_output(self, run: Run, out: Output, status: str) -> None:
        """Close an open output item with ``status`` (``completed``, or ``incomplete`` when cancelled)."""
        if out.finished or not out.started:
            return
        out.finished = True
        where = self._where(run, out)
        if out.kind == "function_call":
            if status == "completed":
                self._finish_call(out, where)
        elif out.kind == "audio":
            self._finish_audio(out, where)
        else:
            self._finish_text(out, where)
        out.item.data["status"] = status
        run.response["output"].append(out.item.wire())
        self._emit(
            {
                "type": "response.output_item.done",
                "response_id": run.id,
                "output_index": out.index,
                "item": out.item.wire(),
            }
        )
        if run.in_conversation and out.item in self._conversation:
            previous = self._conversation.previous_id(out.item)
            self._emit({"type": "conversation.item.done", "previous_item_id": previous, "item": out.item.wire()})

    def _finish_call(self, out: Output, where: Json) -> None:
        data = out.item.data
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

    def _finish_audio(self, out: Output, where: Json) -> None:
        self._emit({"type": "response.output_audio.done", **where, "content_index": 0})
        self._emit(
            {"type": "response.output_audio_transcript.done", **where, "content_index": 0, "transcript": out.sent_text}
        )
        part = {"type": "audio", "transcript": out.sent_text}
        self._emit({"type": "response.content_part.done", **where, "content_index": 0, "part": part})

    def _finish_text(self, out: Output, where: Json) -> None:
        self._emit({"type": "response.output_text.done", **where, "content_index": 0, "text": out.sent_text})
        part = {"type": "text", "text": out.sent_text}
        self._emit({"type": "response.content_part.done", **where, "content_index": 0, "part": part})
