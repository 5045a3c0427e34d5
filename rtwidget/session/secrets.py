"""Secrets never leak: a logging filter for ``websockets``' own loggers, and a socket opener that refuses to carry
credentials to another origin and never shows them in an exception.

The text rules (what counts as a secret) live in :func:`rtwidget.endpoints.redact`, one floor down, so endpoints,
the session and the widget share them.

Wiring (the session does both):

- at import, ``install_log_filter()``: ``websockets`` logs every request header at DEBUG (``> Authorization:
  Bearer ...``, ``> api-key: ...``) on ``websockets.client`` (and the server's on ``websockets.server``), and
  rtwidget's own loggers may quote a URL (the local server logs the request path, query included);
- ``await open_socket(endpoint.url, additional_headers=..., ...)`` in place of ``websockets.connect(...)``: a
  server that refuses the upgrade (HTTP 401, 403, 404, ...) becomes a ``RealtimeError`` that says the status, the
  server's own message and what to check.

Why filters on the loggers and not on handlers: a logger's filters see every record logged on it before any
handler (the root's, pytest's, a notebook's) does, whatever handlers the user adds later; a filter on handlers
would have to chase each handler. The cost: a record logged on a *child* logger (``websockets.client.x``, which
``websockets`` does not use) skips them; :class:`RedactingFilter` can be added to a handler for that.
"""

from __future__ import annotations

import json
import logging
import traceback
from http import HTTPStatus
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, SecurityError
from websockets.uri import parse_uri

from ..endpoints import redact
from ..errors import RealtimeError

# Every logger websockets (asyncio, sync and legacy) logs on by default, and their parent.
WEBSOCKETS_LOGGERS = ("websockets", "websockets.client", "websockets.server", "websockets.protocol")
# rtwidget's own loggers (a test checks this covers every one in the package): the local server logs the
# request path, query included, and any log line may quote a URL or a header.
RTWIDGET_LOGGERS = (
    "rtwidget",
    "rtwidget.doctor",
    "rtwidget.session",
    "rtwidget.server",
    "rtwidget.server.voice",
    "rtwidget.server.websockets",
    "rtwidget.tools",
    "rtwidget.widget",
    "rtwidget.widget.direct",
)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and its traceback text) through :func:`~rtwidget.endpoints.redact`.

    It never drops a record: the log keeps the line with ``<redacted>`` in place of the secret.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always keep it."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error report
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()  # empty args: the clean text is not %-formatted again
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the traceback they print is the redacted one.
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install_log_filter(names: tuple[str, ...] = WEBSOCKETS_LOGGERS + RTWIDGET_LOGGERS) -> RedactingFilter:
    """Add the shared :class:`RedactingFilter` to each named logger, once (calling again adds nothing)."""
    for name in names:
        log = logging.getLogger(name)
        if _FILTER not in log.filters:
            log.addFilter(_FILTER)
    return _FILTER


def _origin(uri: str) -> tuple[bool, str, int]:
    parsed = parse_uri(uri)
    return parsed.secure, parsed.host, parsed.port


class SameOriginConnect(connect):
    """``websockets``' ``connect`` that follows a redirect only to the same origin (scheme, host and port).

    ``websockets`` 13+ follows a 3xx during the handshake and sends ``additional_headers`` (the key) again to
    wherever ``Location`` points; here a redirect to another origin is refused with a ``SecurityError``.
    """

    def process_redirect(self, exc: Exception) -> Exception | str:
        """The new URI for a same-origin redirect; an error for anything else (the URI redacted)."""
        target = super().process_redirect(exc)
        if isinstance(target, str) and _origin(target) != _origin(self.uri):
            return SecurityError(
                f"refused a redirect from {redact(self.uri)} to another origin, {redact(target)}: the API key "
                "would go with it. If that server is the right one, connect to its URL directly"
            )
        return target


# What to check when the server refuses the WebSocket upgrade with this HTTP status.
REFUSAL_HINTS = {
    401: "Check the API key: OPENAI_API_KEY (or AZURE_OPENAI_API_KEY), the api_key= argument, or, for an "
    "rtwidget server on another machine, the token it printed when it started",
    403: "The key is valid but may not use this: check the project's or deployment's permissions, and that "
    "the API is available in your region",
    404: "Check the URL and the model (or Azure deployment) name: the server has no Realtime endpoint there",
    429: "Rate limit or quota reached: wait, or check the account's usage and billing",
}
# At most this much of a refusal's body goes into the error's message.
MAX_REFUSAL_TEXT = 500


def _server_message(body: bytes | None) -> str:
    """The message of a refusal's body: OpenAI's (and Azure's) ``{"error": {"message": ...}}``, else its text."""
    text = (body or b"").decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return text[:MAX_REFUSAL_TEXT]
    error = parsed.get("error") if isinstance(parsed, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return str(message)[:MAX_REFUSAL_TEXT] if message else text[:MAX_REFUSAL_TEXT]


def refusal_error(url: str, exc: InvalidStatus) -> RealtimeError:
    """The error for a server that refused the upgrade: the status, the server's message and what to check,
    every part redacted. Its ``code`` is ``"http_<status>"``."""
    status = exc.response.status_code
    try:
        phrase = f" {HTTPStatus(status).phrase}"
    except ValueError:
        phrase = ""
    said = redact(_server_message(exc.response.body)).rstrip(".")
    hint = REFUSAL_HINTS.get(status) or ("The server failed: try again later" if status >= 500 else "")
    message = f"{redact(url)} refused the connection: HTTP {status}{phrase}"
    message += f": {said}." if said else "."
    return RealtimeError(message + (f" {hint}." if hint else ""), code=f"http_{status}")


def _chain_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


async def open_socket(url: str, **kwargs: Any) -> ClientConnection:
    """Open the WebSocket like ``websockets.connect(url, **kwargs)``, with two guards.

    A redirect to another origin is refused (see :class:`SameOriginConnect`). A refused upgrade (HTTP 401, 403,
    404, ...) is raised as a ``RealtimeError`` naming the status, the server's message and the fix
    (:func:`refusal_error`). A failure whose message or chain would show a secret (an invalid URI echoes the URL,
    with its query and password) is raised again as a ``RealtimeError`` with the secrets redacted and no chain;
    any other failure is raised as it came.
    """
    try:
        return await SameOriginConnect(url, **kwargs)
    except Exception as exc:
        failure = exc
    # Raised outside the except blocks, so the original (which may hold a secret) is not chained as context.
    if isinstance(failure, InvalidStatus):
        raise refusal_error(url, failure)
    text = _chain_text(failure)
    if redact(text) == text:
        raise failure
    raise RealtimeError(
        f"could not connect to {redact(url)}: {type(failure).__name__}: {redact(str(failure))}", code="connect"
    )
