"""Deterministic token accounting: a response's input and output tokens, and the rate limits it reserves.

Text is one token per 4 characters (rounded up), input audio one token per 100 ms, output audio one per 50 ms,
an input image 85 tokens. Input tokens count the instructions, the tools (as JSON) and every item of the context.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from rtwidget import audio

from .brain import text_tokens
from .config import Json
from .items import Item
from .runs import Run

__all__ = ["input_audio_tokens", "input_tokens", "output_audio_tokens", "rate_limits", "response_usage"]

_INPUT_AUDIO_MS_PER_TOKEN = 100
_OUTPUT_AUDIO_MS_PER_TOKEN = 50
_IMAGE_TOKENS = 85
# What rate_limits.updated reports: the requests and tokens of a minute, and the output reserved for "inf".
_REQUESTS_PER_MINUTE = 5000
_TOKENS_PER_MINUTE = 40000
_RESERVED_FOR_INF = 4096


def input_tokens(instructions: str, tools: Sequence[Any], context: Sequence[Item]) -> Json:
    """Input token counts of a response: ``{"text", "audio", "image", "total"}``."""
    text = text_tokens(instructions) + (text_tokens(json.dumps(tools)) if tools else 0)
    audio_tokens = 0
    image = 0
    for item in context:
        data = item.data
        for part in data.get("content") or []:
            if part.get("type") in ("input_text", "output_text"):
                text += text_tokens(part.get("text"))
            elif part.get("type") == "input_image":
                image += _IMAGE_TOKENS
            elif part.get("type") == "output_audio":
                text += text_tokens(part.get("transcript"))
        audio_tokens += math.ceil(item.audio_ms() / _INPUT_AUDIO_MS_PER_TOKEN)
        if data.get("type") == "function_call":
            text += text_tokens(str(data.get("name"))) + text_tokens(str(data.get("arguments")))
        elif data.get("type") == "function_call_output":
            text += text_tokens(str(data.get("output")))
    return {"text": text, "audio": audio_tokens, "image": image, "total": text + audio_tokens + image}


def output_audio_tokens(pcm_bytes: int) -> int:
    return math.ceil(audio.duration_ms(pcm_bytes) / _OUTPUT_AUDIO_MS_PER_TOKEN)


def input_audio_tokens(pcm_bytes: int) -> int:
    return math.ceil(audio.duration_ms(pcm_bytes) / _INPUT_AUDIO_MS_PER_TOKEN)


def response_usage(run: Run) -> Json:
    """``response.usage`` of a finished run: what it actually sent, and its input."""
    text_out = sum(text_tokens(o.sent_text) for o in run.outputs)
    text_out += sum(text_tokens(o.call.name) for o in run.outputs if o.call is not None and o.started)
    audio_out = sum(output_audio_tokens(len(o.sent_audio)) for o in run.outputs)
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


def rate_limits(run: Run) -> list[Json]:
    """``rate_limits.updated``'s limits when ``run`` starts: its input plus its reserved output are taken."""
    max_tokens = run.response["max_output_tokens"]
    reserved = run.input_tokens["total"] + (_RESERVED_FOR_INF if max_tokens == "inf" else int(max_tokens))
    return [
        {
            "name": "requests",
            "limit": _REQUESTS_PER_MINUTE,
            "remaining": _REQUESTS_PER_MINUTE - 1,
            "reset_seconds": 0.012,
        },
        {
            "name": "tokens",
            "limit": _TOKENS_PER_MINUTE,
            "remaining": max(0, _TOKENS_PER_MINUTE - reserved),
            "reset_seconds": round(reserved / _TOKENS_PER_MINUTE * 60, 3),
        },
    ]
