"""Rules about the session as a whole: server errors nobody reads, the session's end approaching."""

from __future__ import annotations

import time

from ...events import Event
from ...server_errors import error_info
from ..check import Check
from ..hint import Hint, Rule
from ..state import field, text

# How long (s) before expires_at the doctor says the session is ending (the server closes it then).
EXPIRY_NOTICE_S = 300.0
# The longest server message a hint quotes.
QUOTE = 200


class UnhandledError(Check):
    """A server ``error`` that no handler, waiter or ``ask()`` reads, and no other rule explained."""

    rule = Rule("unhandled-error", "warning", "a server error nobody reads")
    server_types = frozenset({"error"})

    def server_received(self, event: Event, now: float) -> list[Hint]:
        if event.type != "error" or self.state.errors_watched:
            return []
        info = error_info(event.data)
        cause = info.event_id or text(field(event.cause, "event_id")) or ""
        named = (cause, event.event_id or "")
        if info.harmless or cause in self.state.handled or any(i in self.state.explained for i in named):
            return []
        ctype = text(field(event.cause, "type"))
        by = f"refused {ctype + ' ' if ctype else ''}{cause}" if cause else "sent an error"
        message = info.message if len(info.message) <= QUOTE else info.message[: QUOTE - 3] + "..."
        message = message or "no message"
        what = f"The server {by} with {info.label}: {message}{'' if message.endswith('.') else '.'}"
        fix = (
            'Read the errors: session.errors keeps them, and session.on("error", fn) calls fn with each one as it '
            "comes (a wrong event is refused and nothing else happens)."
        )
        return self.hint((info.label, ctype), what, fix, [event.event_id, cause], now)


class SessionExpiring(Check):
    """The session's ``expires_at`` (from ``session.created``) is near."""

    rule = Rule("session-expiring", "info", "the session ends soon (expires_at)")

    def tick(self, now: float) -> list[Hint]:
        expires = self.state.expires_at
        if expires is not None and now >= expires:
            self._named[("expiring", self.state.session_id, expires)] = None  # over: no deadline left to wait for
        if expires is None or not expires - EXPIRY_NOTICE_S <= now < expires:
            return []
        left = expires - now
        clock = time.strftime("%H:%M:%S UTC", time.gmtime(expires))
        session = f"Session {self.state.session_id}" if self.state.session_id else "The session"
        what = (
            f"{session} ends at {clock} (expires_at), in {left // 60:.0f} min {left % 60:.0f} s: the server then "
            "sends session_expired and closes the connection."
        )
        fix = (
            'Save what you need and reconnect before then; Session(renew="auto") renews the session before '
            "expires_at and restores the conversation."
        )
        return self.hint(("expiring", self.state.session_id, expires), what, fix, (), now)

    def deadline(self) -> float | None:
        expires = self.state.expires_at
        if expires is None or ("expiring", self.state.session_id, expires) in self._named:
            return None
        return expires - EXPIRY_NOTICE_S
