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

:class:`Engine` is a facade: it decodes client events and hands each to the collaborator that owns it, and runs
what is due on the clock. The collaborators, one job each:

- :mod:`.outbox`: server events out (ids, dialect, envelope, the close);
- :mod:`.session_state`: the session and ``session.update`` (with :mod:`.param_checks` for the shared values);
- :mod:`.items`: conversation items and ``conversation.item.*``;
- :mod:`.input_buffer`: ``input_audio_buffer.*`` and turn detection (VAD, idle timeout);
- :mod:`.responses`: ``response.create`` / ``.cancel`` / ``.done``; :mod:`.response_stream` sends each response
  step by step, :mod:`.usage` counts its tokens;
- :mod:`.script_runner`: a :class:`~.script.Script`'s rules on this connection;
- :mod:`.api_errors`: the OpenAI-shaped errors all of them raise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from rtwidget.protocol import dialects
from rtwidget.protocol.event_types import GA_CLIENT_EVENTS

from .api_errors import ApiError, kind, type_error, value_error
from .brain import Brain
from .config import DEFAULT_INSTRUCTIONS, EngineConfig, Json, Pace, SpeechVoice
from .input_buffer import InputBuffer
from .items import Conversation
from .outbox import Outbox
from .responses import Responses
from .script_runner import ScriptRunner
from .session_state import SEMANTIC_SILENCE_MS, SessionState

__all__ = ["DEFAULT_INSTRUCTIONS", "SEMANTIC_SILENCE_MS", "Engine", "EngineConfig", "Pace", "SpeechVoice"]

log = logging.getLogger("rtwidget.server")

BETA_REFUSAL = (
    "The Realtime Beta API is no longer supported. Please use the GA API: remove the "
    "'OpenAI-Beta: realtime=v1' header and send GA events."
)


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
        self.config = config = config or EngineConfig()
        self._clock = clock
        self.brain = brain or Brain()
        self._outbox = outbox = Outbox(seed=config.seed, dialect=dialect, envelope=envelope)
        self.dialect = outbox.dialect
        self.envelope = envelope
        self.pace: Pace = (config.script.pace if config.script else None) or config.pace
        started_at = clock()
        self._expires_at = started_at + config.session_minutes * 60
        conversation_id = outbox.new_id("conv_")  # drawn before sess_, so seeded ids stay as they were
        self._session = SessionState(config, session_id=outbox.new_id("sess_"), started_at=started_at)
        self._conversation = Conversation(outbox, conversation_id)
        self._responses = Responses(
            config,
            outbox,
            self._session,
            self._conversation,
            self.brain,
            clock=clock,
            voice=voice,
            pace=self.pace,
            release_due=lambda: self._pump(self._clock()),
        )
        self._input = InputBuffer(outbox, self._session, self._conversation, self._responses, self.brain)
        self._scripts = ScriptRunner(
            config.script, outbox, clock=clock, known_ids=self._known_ids, connection=config.connection
        )
        outbox.on_emit = self._scripts.after_event
        outbox.on_close = self._drop_pending
        # Client event type -> the collaborator's handler (every GA client event has one).
        self._handlers: dict[str, Callable[[Json], None]] = {
            "session.update": self._update_session,
            "input_audio_buffer.append": self._input.on_append,
            "input_audio_buffer.commit": self._input.on_commit,
            "input_audio_buffer.clear": self._input.on_clear,
            "output_audio_buffer.clear": _ignore_output_clear,
            "conversation.item.create": self._conversation.on_create,
            "conversation.item.retrieve": self._conversation.on_retrieve,
            "conversation.item.truncate": self._conversation.on_truncate,
            "conversation.item.delete": self._conversation.on_delete,
            "response.create": self._responses.on_create,
            "response.cancel": self._responses.on_cancel,
        }

    # ---------------------------------------------------------------------------------------- public API

    def start(self) -> None:
        """Queue ``session.created``. Call once, right after the connection opens."""
        self._outbox.emit({"type": "session.created", "session": self._session.wire()})
        self._pump(self._clock())

    def reject_beta(self) -> None:
        """Refuse a beta-dialect client as OpenAI does now: one ``error``, then close code 4000."""
        self._outbox.error(ApiError(BETA_REFUSAL, "beta_api_shape_disabled"), None)
        self._outbox.close(4000, "beta_api_shape_disabled")

    def receive_text(self, text: str | bytes) -> None:
        """Handle one client message; answers (and errors) are queued for :meth:`data_to_send`."""
        if self._outbox.closed:
            return
        event_id: str | None = None
        try:
            event = self._decode(text)
            if isinstance(event.get("event_id"), str):
                event_id = event["event_id"]
            etype = _event_type(event)
            if self._scripts.refuses(etype, event_id):
                return  # the script's error is the answer
            self._handlers[etype](event)
            self._scripts.after_client(etype)
        except ApiError as err:
            self._outbox.error(err, event_id)
        except Exception as exc:  # a bug here must not kill the connection
            log.exception("local server failed on a client event")
            self._outbox.error(
                ApiError(f"The server had an error: {exc!r}", "server_error", None, "server_error"), event_id
            )
        self._pump(self._clock())

    def data_to_send(self) -> list[str]:
        """Serialized server events to write, in order; the queue is emptied."""
        return self._outbox.take()

    def next_deadline(self) -> float | None:
        """The clock value at which :meth:`advance` has paced output to release, or None."""
        if self._outbox.closed:
            return None
        due = (self._responses.next_due(), self._scripts.next_due(), self._input.idle_deadline())
        return min([d for d in due if d is not None] + [self._expires_at])

    def advance(self, now: float) -> None:
        """Release everything due at ``now`` (a value of the engine's clock)."""
        self._pump(now)

    def append_audio(self, pcm: bytes) -> None:
        """Feed input audio as if appended by the client (tests, benchmarks); then drain data_to_send()."""
        self._input.append(pcm)
        self._pump(self._clock())

    @property
    def session(self) -> Json:
        """The effective session (GA form); replaced, never changed in place, by each accepted update."""
        return self._session.data

    @property
    def conversation(self) -> list[Json]:
        """The default conversation's items, as a client would retrieve them (without audio)."""
        return [item.wire() for item in self._conversation.items]

    @property
    def active_response_id(self) -> str | None:
        active = self._responses.active
        return active.id if active else None

    @property
    def events_sent(self) -> int:
        """Server events queued so far (the count scripts trigger on)."""
        return self._outbox.events_sent

    @property
    def close_code(self) -> int | None:
        """Set when the engine wants the socket closed; nothing is queued after that."""
        return self._outbox.close_code

    @property
    def close_reason(self) -> str:
        return self._outbox.close_reason

    @property
    def close_reset(self) -> bool:
        """True when the socket is to be dropped with no close frame (a scripted network failure)."""
        return self._outbox.close_reset

    # ---------------------------------------------------------------------------------------- internals

    def _decode(self, text: str | bytes) -> Json:
        """A client message as a GA event object (JSON, then the envelope and the dialect undone)."""
        try:
            raw = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(f"Invalid JSON in client event: {exc}.", "invalid_event") from None
        if not isinstance(raw, dict):
            raise ApiError(f"Client events must be JSON objects, got {kind(raw)}.", "invalid_event")
        if self.envelope:
            raw = dialects.unwrap_envelope(raw)
        if self.dialect == "beta":
            raw = dialects.client_event_to_ga(raw)
        event: Json = raw
        return event

    def _update_session(self, event: Json) -> None:
        was_on = self._session.turn_detection is not None
        self._session.update(event, voice_locked=self._responses.assistant_audio)
        self._input.follow_session(was_on=was_on)
        self._outbox.emit({"type": "session.updated", "session": self._session.wire()})

    def _pump(self, now: float) -> None:
        """Run every paced step and timer due at ``now``, earliest first (responses before timers on ties), then
        the idle timeout and the session's expiry."""
        while not self._outbox.closed:
            step_due = self._responses.next_due()
            timer_due = self._scripts.next_due()
            if step_due is not None and step_due <= now and (timer_due is None or step_due <= timer_due):
                self._responses.run_next_step()
            elif timer_due is not None and timer_due <= now:
                self._scripts.run_next_timer()
            else:
                break
        if self._outbox.closed:
            return
        idle = self._input.idle_deadline()
        if idle is not None and idle <= now:
            self._input.idle_timeout()
        if now >= self._expires_at:
            minutes = f"{self.config.session_minutes:g}"
            self._outbox.error(
                ApiError(f"Your session hit the maximum duration of {minutes} minutes.", "session_expired"), None
            )
            self._outbox.close(1000, "session_expired")

    def _known_ids(self) -> Mapping[str, Any]:
        return {"$item_id": self._conversation.last_id, "$response_id": self._responses.last_id}

    def _drop_pending(self) -> None:
        self._responses.drop()
        self._scripts.drop()


def _event_type(event: Json) -> str:
    etype = event.get("type")
    if etype is None:
        raise ApiError("Missing required parameter: 'type'.", "invalid_event", "type")
    if not isinstance(etype, str):
        raise type_error("type", "a string", etype)
    if etype not in GA_CLIENT_EVENTS:
        raise value_error("type", etype, sorted(GA_CLIENT_EVENTS))
    return etype


def _ignore_output_clear(event: Json) -> None:
    # WebRTC/SIP only: over a WebSocket the client owns playback, so there is nothing to clear.
    log.debug("output_audio_buffer.clear ignored (WebSocket connection)")
