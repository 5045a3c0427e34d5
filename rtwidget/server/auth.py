"""The local server's token: who may connect when it listens beyond loopback.

On loopback nobody else can reach the server, so no key is asked for. On any other interface (a workshop room's
``rtwidget serve --host 0.0.0.0``) clients must send the server's token as their API key, in any of the three
places the real API reads one: ``Authorization: Bearer <token>``, Azure's ``api-key`` header, or the browser
subprotocol ``openai-insecure-api-key.<token>``. Anything else is refused at the handshake as OpenAI refuses a bad
key: HTTP 401 with a JSON ``error`` body. The token is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import secrets
from collections.abc import Mapping

__all__ = [
    "RedactKeys",
    "is_loopback",
    "new_token",
    "offered_key",
    "redact_query",
    "token_matches",
    "unauthorized_body",
]

# The browser subprotocol that carries an API key (the server echoes only "realtime", never this one).
KEY_SUBPROTOCOL = "openai-insecure-api-key."
# Handshake headers that can carry a key: websockets' DEBUG log of each header shows these as redacted.
_SECRET_HEADERS = frozenset({"authorization", "api-key", "sec-websocket-protocol"})
# Query parameters that may carry a key (Azure's browser clients send ?api-key=): their values are never logged.
_SECRET_QUERY = re.compile(r"((?:^|[?&])[^=&]*(?:key|token|secret|auth)[^=&]*=)[^&]*", re.IGNORECASE)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1): nobody else can connect."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def new_token() -> str:
    """A fresh random token (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(32)


def offered_key(headers: Mapping[str, str]) -> str | None:
    """The API key a client sent: Bearer auth, ``api-key``, or the key subprotocol (first found), else None."""
    auth = headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if headers.get("api-key"):
        return headers["api-key"].strip()
    for offered in headers.get("Sec-WebSocket-Protocol", "").split(","):
        offered = offered.strip()
        if offered.startswith(KEY_SUBPROTOCOL):
            return offered[len(KEY_SUBPROTOCOL) :]
    return None


def token_matches(token: str, offered: str | None) -> bool:
    """Constant-time comparison (so the time taken says nothing about how much of the token was right)."""
    return offered is not None and hmac.compare_digest(token.encode(), offered.encode())


def unauthorized_body(offered: str | None) -> str:
    """The real API's 401 body; the offered key is never echoed (not even masked)."""
    if offered is None:
        message = (
            "You didn't provide an API key. This rtwidget server listens beyond loopback and needs its token as "
            "the API key (Authorization: Bearer <token>, or the api-key header)."
        )
    else:
        message = (
            "Incorrect API key provided. This rtwidget server needs the token it printed when it started (or "
            "the one given with --token) as the API key."
        )
    error = {"message": message, "type": "invalid_request_error", "code": "invalid_api_key", "param": None}
    return json.dumps({"error": error})


def redact_query(path: str) -> str:
    """``path`` with the values of key-like query parameters (``api-key``, ``token``...) as ``[redacted]``."""
    return _SECRET_QUERY.sub(r"\1[redacted]", path)


class RedactKeys(logging.Filter):
    """Hides keys in websockets' DEBUG handshake log: key-carrying headers (``< Authorization: Bearer ...``) and
    key-like query parameters of the request line (``< GET /v1/realtime?api-key=... HTTP/1.1``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and str(args[0]).lower() in _SECRET_HEADERS:
            record.args = (args[0], "[redacted]")
        elif isinstance(args, tuple) and len(args) == 1 and str(record.msg).startswith("< GET "):
            record.args = (redact_query(str(args[0])),)
        return True
