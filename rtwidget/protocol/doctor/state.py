"""What the doctor's rules share: the session's settings as the server confirmed them, the response in progress,
the function calls of each response and the outputs sent for them, and the assistant audio received and played.

The engine feeds every event to the rules first (they see the state as it was before the event), then folds it
in here. Folding reads every field defensively: any shape a hostile server or a hand-made event may have is
skipped, never raised on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..pcm import BYTES_PER_MS

Json = dict[str, Any]

# How many responses, items and ids each table keeps (oldest dropped): a long session stays small.
LIMIT = 256
# A response.create the server has not answered after this long (s) no longer counts as pending (lost, refused).
PENDING_S = 10.0
# The Realtime API's default turn detection (GA session.created): server VAD that creates responses.
DEFAULT_TURN_DETECTION: Json = {"type": "server_vad", "create_response": True}


def field(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]...``, or None as soon as a step is not a dict or lacks the key."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def text(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def trim(table: dict[Any, Any], limit: int = LIMIT) -> None:
    """Drop the oldest entries of ``table`` past ``limit``."""
    while len(table) > limit:
        del table[next(iter(table))]


def output_item(event: Json) -> Json | None:
    """The ``function_call_output`` item a ``conversation.item.create`` carries, or None."""
    item = event.get("item") if event.get("type") == "conversation.item.create" else None
    return item if isinstance(item, dict) and item.get("type") == "function_call_output" else None


def is_out_of_band_create(event: Json) -> bool:
    """A ``response.create`` whose response stays out of the default conversation (``conversation: "none"``)."""
    return bool(field(event, "response", "conversation") == "none")


def audio_ms(delta: Any) -> float:
    """Milliseconds of PCM16 audio in a base64 delta (0 for anything else)."""
    if not isinstance(delta, str):
        return 0.0
    return (len(delta) * 3 // 4 - delta.count("=", -2)) / BYTES_PER_MS


@dataclass
class AudioItem:
    """Assistant audio received for one item: when its first delta came (s) and how much came (ms)."""

    first: float
    ms: float = 0.0
    response_id: str | None = None


@dataclass
class Played:
    """The last playback report for an item: position (ms), whether it was still playing, and when (s)."""

    ms: float
    playing: bool
    at: float


class State:
    """The conversation as the rules need it; :meth:`reset` for a new connection."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        # The caller's flag: the user's code reads server errors (see Doctor.errors_watched).
        self.errors_watched = False
        self.reset()

    def reset(self) -> None:
        """Forget the connection: settings, responses, calls, audio."""
        # Settings from session.created / session.updated (the server's word, not what the client asked).
        self.turn_detection: Json | None = dict(DEFAULT_TURN_DETECTION)
        self.voice: str | None = None
        self.output_modalities: list[str] = ["audio"]
        self.session_id: str | None = None
        self.expires_at: float | None = None
        # The default conversation's response in progress (response.created .. response.done), or None.
        self.active: str | None = None
        # Default-conversation response.create events sent and not answered yet: event id -> when sent.
        self.pending_creates: dict[str, float] = {}
        # Function calls per response (response id -> call id -> tool name); which response each call is of.
        self.calls: dict[str, dict[str, str]] = {}
        self.call_response: dict[str, str] = {}
        # The last default-conversation response that ended (its calls are the ones owed now).
        self.latest: str | None = None
        # Call ids whose function_call_output was sent.
        self.outputs_sent: dict[str, None] = {}
        # Assistant audio received per item, the item that received audio last, and playback reports.
        self.audio: dict[str, AudioItem] = {}
        self.last_audio_item: str | None = None
        self.played: dict[str, Played] = {}
        self.model_spoke = False
        # Input audio appended or committed (a conversation that has audio is no longer a text history).
        self.input_audio = False
        # Client event ids sent by calls that report their own errors (Doctor.handled), and event ids a hint has
        # named already (a later rule does not explain the same mistake again).
        self.handled: dict[str, None] = {}
        self.explained: dict[str, None] = {}
        # Call ids whose output deliberately asks for no reply (a tool registered with reply=False).
        self.no_reply: dict[str, None] = {}

    # ---------------------------------------------------------------- questions the rules ask

    def auto_responds(self) -> bool:
        """True when the server creates a response by itself after the user's turn (VAD with create_response)."""
        td = self.turn_detection
        return isinstance(td, dict) and td.get("create_response", True) is not False

    def vad_type(self) -> str | None:
        """The turn detection type (``server_vad``, ``semantic_vad``), or None for push-to-talk."""
        return text(self.turn_detection.get("type")) if isinstance(self.turn_detection, dict) else None

    def owed(self, response_id: str | None) -> dict[str, str]:
        """The calls of ``response_id`` with no output sent yet (call id -> tool name)."""
        calls = self.calls.get(response_id or "", {})
        return {cid: name for cid, name in calls.items() if cid not in self.outputs_sent}

    def pending(self, now: float) -> list[str]:
        """Event ids of default-conversation response.create events still waiting for an answer."""
        return [eid for eid, sent in self.pending_creates.items() if now - sent < PENDING_S]

    # ---------------------------------------------------------------- folding events in

    def client_sent(self, event: Json, now: float) -> None:
        """Fold in a client event that went out."""
        etype = event.get("type")
        eid = text(event.get("event_id")) or f"#{now}"
        if etype == "response.create" and not is_out_of_band_create(event):
            self.pending_creates[eid] = now
            trim(self.pending_creates)
        elif etype in ("input_audio_buffer.append", "input_audio_buffer.commit"):
            self.input_audio = True
        else:
            item = output_item(event)
            call_id = text(item.get("call_id")) if item else None
            if call_id:
                self.outputs_sent[call_id] = None
                trim(self.outputs_sent, LIMIT * 4)

    def server_received(self, event: Any, now: float) -> bool:
        """Fold in a server event (an :class:`~..events.Event`). True when the settings changed (a rule's
        deadline may read them: the session's expiry)."""
        fold = _FOLDS.get(event.type)
        if fold is not None:
            fold(self, event.data, now)
        return fold is State._session

    def _session(self, data: Json, now: float) -> None:
        session = data.get("session")
        if not isinstance(session, dict):
            return
        self.session_id = text(session.get("id")) or self.session_id
        expires = session.get("expires_at")
        if isinstance(expires, (int, float)) and not isinstance(expires, bool) and expires == expires:
            self.expires_at = float(expires)
        audio_in = field(session, "audio", "input")
        if isinstance(audio_in, dict) and "turn_detection" in audio_in:
            td = audio_in["turn_detection"]
            self.turn_detection = dict(td) if isinstance(td, dict) else None
        self.voice = text(field(session, "audio", "output", "voice")) or self.voice
        modalities = session.get("output_modalities")
        if isinstance(modalities, list):
            self.output_modalities = [m for m in modalities if isinstance(m, str)]

    def _created(self, data: Json, now: float) -> None:
        response = data.get("response")
        rid = text(field(response, "id"))
        if rid is None or not isinstance(response, dict):
            return
        if "conversation_id" in response and response["conversation_id"] is None:
            return  # out of band: never blocks the default conversation
        self.active = rid
        if self.pending_creates:  # it answers the oldest create of ours (or none: the server's VAD made it)
            del self.pending_creates[next(iter(self.pending_creates))]

    def _done(self, data: Json, now: float) -> None:
        response = data.get("response")
        rid = text(field(response, "id"))
        if rid is None or not isinstance(response, dict):
            return
        output = response.get("output")
        for item in output if isinstance(output, list) else ():
            if isinstance(item, dict) and item.get("type") == "function_call":
                self._call(rid, item.get("call_id"), item.get("name"))
        if rid == self.active:
            self.active = None
        if not ("conversation_id" in response and response["conversation_id"] is None):
            self.latest = rid

    def _arguments_done(self, data: Json, now: float) -> None:
        rid = text(data.get("response_id"))
        if rid is not None:
            self._call(rid, data.get("call_id"), data.get("name"))

    def _call(self, rid: str, call_id: Any, name: Any) -> None:
        if text(call_id) is None:
            return
        self.calls.setdefault(rid, {})[call_id] = text(name) or self.calls.get(rid, {}).get(call_id) or "?"
        self.call_response[call_id] = rid
        trim(self.calls)
        trim(self.call_response, LIMIT * 4)

    def _error(self, data: Json, now: float) -> None:
        cause = field(data, "error", "event_id")
        if isinstance(cause, str):
            self.pending_creates.pop(cause, None)

    def _audio_delta(self, data: Json, now: float) -> None:
        item_id = text(data.get("item_id"))
        if item_id is None:
            return
        audio = self.audio.get(item_id)
        if audio is None:
            audio = self.audio[item_id] = AudioItem(now, response_id=text(data.get("response_id")))
            trim(self.audio)
        audio.ms += audio_ms(data.get("delta"))
        self.last_audio_item = item_id
        self.model_spoke = True

    def _committed(self, data: Json, now: float) -> None:
        self.input_audio = True

    def playback(self, item_id: str, played_ms: float, playing: bool, now: float) -> None:
        """Fold in a playback report."""
        self.played[item_id] = Played(float(played_ms), bool(playing), now)
        trim(self.played)

    def played_ms(self, item_id: str, now: float) -> tuple[float, bool] | None:
        """Where playback of ``item_id`` is at ``now`` (ms) and whether it is still playing: from the last report
        when there was one, else estimated as real-time playback from the first delta. None: no audio known."""
        audio = self.audio.get(item_id)
        report = self.played.get(item_id)
        if report is not None:
            position = report.ms + ((now - report.at) * 1000 if report.playing else 0.0)
            if audio is not None:
                position = min(position, audio.ms)
                return position, report.playing and position < audio.ms
            return position, report.playing
        if audio is None:
            return None
        position = min((now - audio.first) * 1000, audio.ms)
        return position, position < audio.ms


_FOLDS: dict[str, Any] = {
    "session.created": State._session,
    "session.updated": State._session,
    "response.created": State._created,
    "response.done": State._done,
    "response.function_call_arguments.done": State._arguments_done,
    "error": State._error,
    "response.output_audio.delta": State._audio_delta,
    "input_audio_buffer.committed": State._committed,
}
