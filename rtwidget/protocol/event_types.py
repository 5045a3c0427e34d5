"""The event grammar's vocabulary: every wire ``type`` of both dialects, and the renames between them.

GA names are canonical inside rtwidget; beta names exist only at the edge (see :mod:`.dialects`).
"""

from __future__ import annotations

GA_CLIENT_EVENTS: frozenset[str] = frozenset(
    {
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "output_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "conversation.item.delete",
        "response.create",
        "response.cancel",
    }
)

BETA_CLIENT_EVENTS: frozenset[str] = GA_CLIENT_EVENTS | {"transcription_session.update"}

# Server events GA has and beta never had (so a beta server never sends them).
GA_ONLY_SERVER_EVENTS: frozenset[str] = frozenset(
    {
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.segment",
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.dtmf_event_received",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
    }
)

GA_SERVER_EVENTS: frozenset[str] = (
    frozenset(
        {
            "session.created",
            "session.updated",
            "conversation.created",
            "conversation.item.created",
            "conversation.item.retrieved",
            "conversation.item.truncated",
            "conversation.item.deleted",
            "conversation.item.input_audio_transcription.delta",
            "conversation.item.input_audio_transcription.completed",
            "conversation.item.input_audio_transcription.failed",
            "input_audio_buffer.committed",
            "input_audio_buffer.cleared",
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "output_audio_buffer.started",
            "output_audio_buffer.stopped",
            "output_audio_buffer.cleared",
            "response.created",
            "response.done",
            "response.output_item.added",
            "response.output_item.done",
            "response.content_part.added",
            "response.content_part.done",
            "response.output_text.delta",
            "response.output_text.done",
            "response.output_audio.delta",
            "response.output_audio.done",
            "response.output_audio_transcript.delta",
            "response.output_audio_transcript.done",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "rate_limits.updated",
            "error",
        }
    )
    | GA_ONLY_SERVER_EVENTS
)

# Server event renames, beta name -> GA name. Everything else keeps its name.
BETA_TO_GA_SERVER: dict[str, str] = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "transcription_session.updated": "session.updated",
    "transcription_session.created": "session.created",
}
GA_TO_BETA_SERVER: dict[str, str] = {
    ga: beta for beta, ga in BETA_TO_GA_SERVER.items() if not beta.startswith("transcription_session")
}

BETA_SERVER_EVENTS: frozenset[str] = (
    frozenset(GA_SERVER_EVENTS - set(GA_TO_BETA_SERVER) - GA_ONLY_SERVER_EVENTS)
    | set(GA_TO_BETA_SERVER.values())
    | {"transcription_session.updated"}
)

# The envelope variant wraps every event as {"type": "realtime.<type>", "data": {...}}.
ENVELOPE_PREFIX = "realtime."

# The voices the Realtime API offers (GA). The widget's picker and the local server's validation both read this.
VOICES: tuple[str, ...] = ("alloy", "ash", "ballad", "cedar", "coral", "echo", "marin", "sage", "shimmer", "verse")

# Turn detection: the two VAD types the server runs, and push-to-talk, which is turn_detection None on the wire
# (the client commits and asks for a response itself). TURN_MODES is what a user picks from.
VAD_TYPES: tuple[str, ...] = ("server_vad", "semantic_vad")
PUSH_TO_TALK = "push_to_talk"
TURN_MODES: tuple[str, ...] = (*VAD_TYPES, PUSH_TO_TALK)
# semantic_vad's eagerness values; and the input transcription models a user picks from (the first is the
# default when transcription is turned on). The widget's session form reads both.
EAGERNESS: tuple[str, ...] = ("auto", "low", "medium", "high")
TRANSCRIPTION_MODELS: tuple[str, ...] = ("gpt-4o-mini-transcribe", "gpt-4o-transcribe", "whisper-1")

# Content part types each message role accepts (GA). Beta names map onto GA before validation. The client's
# validator and the local server both check items against this table, so they cannot disagree.
ROLE_PARTS: dict[str, frozenset[str]] = {
    "system": frozenset({"input_text"}),
    "user": frozenset({"input_text", "input_audio", "input_image"}),
    "assistant": frozenset({"output_text", "output_audio"}),
}
