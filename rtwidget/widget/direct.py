"""The direct channel: the browser's messages to the kernel over a WebSocket straight to the kernel, when the
browser can reach it; the comm stays the path that always works.

Why: in JupyterLab every comm message from the browser makes the kernel publish a busy/idle ``status`` pair, and
the page reacts to each pair (the notebook's execution indicator, status bar, favicon; JupyterLab #12616). For
the microphone's ten messages a second that reaction costs several times what the messages themselves do
(bench/RESULTS.md, ``bench/browser_msgcost.py``). A WebSocket to the kernel carries the same messages without
any status traffic, and without the Jupyter server in between.

How: a server on ``127.0.0.1`` (a free port) in a thread of the kernel, started when a view asks for it (its
``hello`` says ``direct: true``); the kernel tells that view the URL, with a random token in its path, in the
``snapshot`` (a custom message: never saved with the notebook). The browser tries it; only a page on the
kernel's own machine gets through (elsewhere 127.0.0.1 is another machine, and the connection fails, or the
token does not match; the page waits for the kernel's greeting, which repeats the token, before it sends
anything), and it falls back to the comm whenever the socket is not open. Frames are binary:
a 4-byte little-endian length, that many bytes of JSON (the message content, with ``buffers``: the byte length
of each buffer), then the buffers' bytes. The kernel hands each message to the same handler as a comm message,
on the session's I/O thread.

Order across the switch: the kernel handles the page's messages in the order the page sent them. The comm is
slower (through the Jupyter server), so a comm message sent just before the switch could otherwise reach the
kernel after the socket's first messages. After the greeting the page sends ``{kind: "direct_ready", n}`` (``n``
a random nonce) over the comm and holds every later message; the kernel handles comm messages in order, so when
it handles the marker everything the page sent before it has been handled, and it answers ``{kind:
"direct_ready", n}`` (``BrowserActions.msg_direct_ready``). Only then does the page send what it held, and all
that follows, over the socket. No answer within a few seconds, too many messages held, or the socket closing:
the page sends what it held over the comm, in order, and stays on the comm. A socket the page has sent on is
left only when it closes, which the kernel side does when the widget closes or the kernel stops (nothing sent
after that needs an order), or when the page itself goes.

The token: compared in constant time, never logged (the websockets library logs request paths and frames at
DEBUG, and each connection at INFO: its logger here says only failures).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import struct
import threading
from collections.abc import Callable
from typing import Any

from websockets.sync.server import Server, ServerConnection, serve

logger = logging.getLogger("rtwidget.widget")
# The server's own logger: at DEBUG, websockets logs the request path and every frame, which hold the token.
_WS_LOGGER = logging.getLogger("rtwidget.widget.direct")
_WS_LOGGER.setLevel(logging.WARNING)

# The largest frame accepted: a mic chunk of a few seconds at most (24 kHz PCM16 is 48 kB a second).
MAX_FRAME = 1 << 20
_LENGTH = struct.Struct("<I")
# The server's first (text) frame, then the URL's token.
GREETING = "rtwidget-direct "

Deliver = Callable[[dict[str, Any], list[bytes]], None]


def encode_frame(content: dict[str, Any], buffers: list[bytes] | None = None) -> bytes:
    """One message as a frame (what the browser sends; for tests and symmetry)."""
    buffers = buffers or []
    head = json.dumps({**content, "buffers": [len(b) for b in buffers]}).encode()
    return _LENGTH.pack(len(head)) + head + b"".join(buffers)


def decode_frame(frame: bytes) -> tuple[dict[str, Any], list[bytes]] | None:
    """A frame's content and buffers; None when it is not a well-formed frame."""
    if len(frame) < _LENGTH.size:
        return None
    (n,) = _LENGTH.unpack_from(frame)
    end = _LENGTH.size + n
    try:
        content = json.loads(frame[_LENGTH.size : end])
    except ValueError:
        return None
    if not isinstance(content, dict):
        return None
    lengths = content.pop("buffers", [])
    if not isinstance(lengths, list) or not all(isinstance(x, int) and x >= 0 for x in lengths):
        return None
    if end + sum(lengths) != len(frame):
        return None
    buffers = []
    for length in lengths:
        buffers.append(frame[end : end + length])
        end += length
    return content, buffers


class DirectChannel:
    """A WebSocket server on 127.0.0.1 whose messages go to ``deliver`` (the widget's message handler)."""

    def __init__(self, deliver: Deliver, host: str = "127.0.0.1") -> None:
        self._deliver = deliver
        self.token = secrets.token_urlsafe(24)
        self.received = 0  # messages delivered (for the benchmarks' message counts)
        self._connections: set[ServerConnection] = set()
        self._lock = threading.Lock()
        self._server: Server = serve(self._serve, host, 0, compression=None, max_size=MAX_FRAME, logger=_WS_LOGGER)
        port = self._server.socket.getsockname()[1]
        self.url = f"ws://{host}:{port}/{self.token}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="rtwidget-direct", daemon=True)
        self._thread.start()

    def _serve(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        if not hmac.compare_digest(path.encode(), f"/{self.token}".encode()):
            ws.close(1008, "unknown path")
            return
        # The page uses the socket only after this greeting: whatever else may listen on this port of the page's
        # own machine (a kernel elsewhere, in a container or over a tunnel) never receives its messages.
        ws.send(GREETING + self.token)
        with self._lock:
            self._connections.add(ws)
        try:
            self._receive(ws)
        finally:
            with self._lock:
                self._connections.discard(ws)

    def _receive(self, ws: ServerConnection) -> None:
        for frame in ws:
            if isinstance(frame, str):
                continue
            message = decode_frame(frame)
            if message is None:
                logger.warning("rtwidget: a malformed frame on the direct channel was dropped")
                continue
            self.received += 1
            self._deliver(*message)

    def close(self) -> None:
        """Stop the server and close its connections (the browser falls back to the comm)."""
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for ws in connections:
            ws.close(1001, "the widget closed")
        self._thread.join(timeout=5)


def open_channel(session: Any, handle: Deliver) -> DirectChannel | None:
    """A channel whose messages go to ``handle`` on the session's I/O thread (the channel's own thread hands them
    over, as the widget does with comm messages); None, logged, when it cannot start."""

    def deliver(content: dict[str, Any], buffers: list[bytes]) -> None:
        session.call_soon(handle, content, buffers)

    try:
        return DirectChannel(deliver)
    except OSError as exc:
        logger.info("rtwidget: no direct channel (%s): the comm carries everything", exc)
        return None
