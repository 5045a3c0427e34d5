"""The local Realtime server: a websockets server on loopback pumping one :class:`Engine` per connection.

::

    async with LocalServer(pace="fast") as server:
        print(server.url)                       # ws://127.0.0.1:PORT/v1/realtime
        ...

    server = LocalServer().start_in_thread()   # its own daemon thread and event loop (notebooks)
    ...
    server.stop_in_thread()

    shared_server().url                        # one lazily started in-thread server per process

Paths accepted: ``/v1/realtime`` (OpenAI), ``/openai/v1/realtime`` (Azure GA), ``/openai/realtime`` (Azure
preview, ``?api-version=..&deployment=..``) and ``/``. The model comes from ``?model=`` (or ``deployment=``),
default ``gpt-realtime``. On loopback any Authorization (or none) is accepted; with a token (required on any other
host, see :mod:`.auth`) a client without it is refused with HTTP 401 as OpenAI refuses a bad key. A client that
sends ``OpenAI-Beta: realtime=v1`` (or the ``openai-beta.realtime-v1`` subprotocol) to a GA server gets the real
refusal:
``error`` ``beta_api_shape_disabled``, then close code 4000.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import MultipleValuesError
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from rtwidget._loopthread import LoopThread
from rtwidget.protocol import dialects

from . import auth
from .brain import Brain
from .cassette_replay import CassetteSource, ReplayEngine, load_cassette
from .config import DEFAULT_MODEL
from .engine import Engine, EngineConfig, Pace, SpeechVoice
from .script import Script
from .voice import default_voice

__all__ = ["PATHS", "LocalServer", "shared_server"]

log = logging.getLogger("rtwidget.server")

PATHS = ("/v1/realtime", "/openai/v1/realtime", "/openai/realtime", "/")

# The largest message accepted: a 15 MiB append (MAX_APPEND_BYTES) is 20 MiB of base64 plus its JSON; a larger
# frame closes the connection with 1009 (message too big).
MAX_MESSAGE_BYTES = 21 * 1024 * 1024
# Received messages held before the server stops reading the socket (so at most this many x MAX_MESSAGE_BYTES).
MAX_QUEUED_MESSAGES = 4
# Bytes waiting in a connection's socket buffer before a send waits for the client to read.
WRITE_LIMIT_BYTES = 256 * 1024
# Worker threads running the engines' work (speech synthesis, VAD, decoding) off the event loop, for all
# connections; each engine is handed to one worker at a time.
ENGINE_WORKERS = 4

# How the pump runs engine work off the loop: run(function, *args) -> awaitable.
_Work = Callable[..., Awaitable[None]]

# websockets' own logger for the server, its DEBUG handshake log with key-carrying headers redacted.
_ws_log = logging.getLogger("rtwidget.server.websockets")
_ws_log.addFilter(auth.RedactKeys())


def _model_from(path: str) -> str:
    query = parse_qs(urlsplit(path).query)
    for key in ("model", "deployment"):
        if query.get(key):
            return query[key][0]
    return DEFAULT_MODEL


def _select_subprotocol(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    # Browsers offer ["realtime", "openai-insecure-api-key.<key>", ...] and need one echoed back.
    return Subprotocol("realtime") if "realtime" in offered else None


class LocalServer:
    """rtwidget's local Realtime server on 127.0.0.1 (see the module docstring).

    ``port=0`` picks a free port. ``pace="realtime"`` releases output audio at real time, ``"fast"`` all at
    once (tests). ``script`` applies a :class:`~rtwidget.server.script.Script` to every connection.
    ``voice`` is the speech synthesizer (default: the best one available, see :mod:`rtwidget.server.voice`); the
    engines run on worker threads, so it (and a ``brain``'s recognizer) may be called from several at once.

    ``send_timeout``: how long one send may wait for a client that does not read before it is dropped (its output
    waits in a bounded buffer meanwhile, so a stalled client costs no more memory).

    ``token``: the API key clients must send (Bearer, ``api-key`` or the key subprotocol). On loopback none is
    needed (None); on any other ``host`` one is required, and generated when not given (read it from
    :attr:`token`, and hand it to whoever should connect).

    ``session_minutes``: how long a session lives before ``session_expired`` and a close (the API's cap is 60; a
    fraction of a minute lets a test see a client renew its session).

    ``cassette``: a :class:`~rtwidget.cassette.Cassette` or its path: every connection is answered with the
    recorded server events instead (see :mod:`.cassette_replay`; ``pace`` "realtime" keeps the recorded timing).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        dialect: str = "ga",
        pace: Pace = "realtime",
        envelope: bool = False,
        script: Script | None = None,
        voice: SpeechVoice | None = None,
        brain: Brain | None = None,
        seed: int | None = None,
        token: str | None = None,
        send_timeout: float = 30.0,
        session_minutes: float = 60,
        cassette: CassetteSource | None = None,
    ) -> None:
        if pace not in ("realtime", "fast"):
            raise ValueError(f"unknown pace {pace!r}: use 'realtime' or 'fast'")
        if not isinstance(host, str):
            raise TypeError(f"host must be a string such as '127.0.0.1' or '0.0.0.0', not {type(host).__name__}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer from 0 (a free port) to 65535, not {port!r}")
        if isinstance(send_timeout, bool) or not isinstance(send_timeout, (int, float)) or not send_timeout > 0:
            raise ValueError(f"send_timeout must be a positive number of seconds, not {send_timeout!r}")
        number = isinstance(session_minutes, (int, float)) and not isinstance(session_minutes, bool)
        if not number or not math.isfinite(session_minutes) or session_minutes <= 0:
            raise ValueError(
                f"session_minutes must be a positive number (the API's cap is 60), not {session_minutes!r}"
            )
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise ValueError("token must be a non-empty string: pass token=None to have one generated")
        self.host = host
        self.exposed = not auth.is_loopback(host)
        self._token = auth.new_token() if token is None and self.exposed else token
        self.dialect = dialects.check_dialect(dialect)
        self.pace: Pace = pace
        self.envelope = envelope
        self.script = script
        self.brain = brain or Brain()
        self._voice = voice
        self._seed = seed
        self._requested_port = port
        self.send_timeout = float(send_timeout)
        self.session_minutes = session_minutes
        if cassette is not None and (dialect != "ga" or envelope or script is not None):
            raise ValueError("a cassette is replayed as recorded (GA events): drop dialect, envelope and script")
        self.cassette = None if cassette is None else load_cassette(cassette)
        self._server: Server | None = None
        # Connection pump tasks (one per open connection), so stop() can wait for them.
        self._tasks: set[asyncio.Task[None]] = set()
        # Runs each connection's engine work (set by start(), shut down by stop()).
        self._workers: concurrent.futures.ThreadPoolExecutor | None = None
        # Set by start_in_thread(): the server's own I/O thread and loop (the same kind a Session uses).
        self._thread: LoopThread | None = None
        # Connections served so far, and those dropped for not reading what was sent (for logs and tests).
        self.connections_served = 0
        self.clients_dropped = 0

    # ---------------------------------------------------------------------------------------- properties

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the local server is not running: call start() first")
        sockets = list(self._server.sockets)
        return int(sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT/v1/realtime`` (the OpenAI SDK wants it without ``/realtime``)."""
        return f"ws://{self.host}:{self.port}/v1/realtime"

    @property
    def token(self) -> str | None:
        """The API key clients must send, or None (loopback without a token: anyone local may connect)."""
        return self._token

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def open_connections(self) -> int:
        return len(self._tasks)

    # ---------------------------------------------------------------------------------------- asyncio

    async def start(self) -> LocalServer:
        """Listen; returns self. The voice is loaded here, once, so the first response is not slow."""
        if self._server is not None:
            return self
        if self._voice is None and self.cassette is None:  # a replay speaks the recorded audio
            self._voice = default_voice()  # created once per process; well under a second
        self._workers = concurrent.futures.ThreadPoolExecutor(ENGINE_WORKERS, "rtwidget-server-engine")
        self._server = await serve(
            self._handle,
            self.host,
            self._requested_port,
            process_request=self._check_request,
            select_subprotocol=_select_subprotocol,
            logger=_ws_log,
            max_size=MAX_MESSAGE_BYTES,
            max_queue=MAX_QUEUED_MESSAGES,
            write_limit=WRITE_LIMIT_BYTES,
            compression=None,
            ping_interval=20,
            ping_timeout=20,
        )
        log.info("local Realtime server listening on %s (dialect %s, pace %s)", self.url, self.dialect, self.pace)
        if self.exposed:
            log.warning(
                "the local Realtime server listens on %s, reachable from other machines: "
                "clients must send its token as their API key",
                self.host,
            )
        return self

    async def stop(self) -> None:
        """Close every connection and stop listening; returns when no task of the server is left."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close(close_connections=True)
        await server.wait_closed()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        workers, self._workers = self._workers, None
        if workers is not None:
            workers.shutdown(wait=True, cancel_futures=True)  # joins its threads (idle once the pumps end)
        log.info("local Realtime server stopped")

    async def __aenter__(self) -> LocalServer:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ---------------------------------------------------------------------------------------- threads

    def start_in_thread(self, timeout: float = 15.0) -> LocalServer:
        """Run the server on its own daemon thread with its own event loop; returns self once listening."""
        if self._thread is not None:
            return self
        thread = LoopThread("rtwidget-local-server")
        try:
            thread.submit(self.start()).result(timeout)
        except concurrent.futures.TimeoutError:
            thread.stop(timeout)
            raise TimeoutError(f"the local server did not start within {timeout} s") from None
        except BaseException:
            thread.stop(timeout)
            raise
        self._thread = thread
        return self

    def stop_in_thread(self, timeout: float = 10.0) -> None:
        """Stop a server started with :meth:`start_in_thread`, and its thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        try:
            if thread.running:
                thread.submit(self.stop()).result(timeout)
        finally:
            thread.stop(timeout)

    # ---------------------------------------------------------------------------------------- connections

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path.rstrip("/") or "/"
        if path not in PATHS:
            return connection.respond(
                HTTPStatus.NOT_FOUND,
                f"Not found: {path}. The local Realtime server listens on /v1/realtime.\n",
            )
        if self._token is None:
            return None
        try:
            offered = auth.offered_key(request.headers)
        except MultipleValuesError:  # a key header sent twice: no single key was offered
            offered = None
        if auth.token_matches(self._token, offered):
            return None
        log.info("refused a connection from %s: missing or wrong token", connection.remote_address)
        response = connection.respond(HTTPStatus.UNAUTHORIZED, auth.unauthorized_body(offered))
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve_connection(ws)
        finally:
            self._tasks.discard(task)

    async def _serve_connection(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        self.connections_served += 1
        model = _model_from(request.path)
        config = EngineConfig(
            model=model,
            pace=self.pace,
            script=self.script,
            seed=self._seed,
            session_minutes=self.session_minutes,
            connection=self.connections_served,
        )
        engine: Engine | ReplayEngine
        if self.cassette is not None:
            engine = ReplayEngine(self.cassette, pace=self.pace, clock=time.time)
        else:
            engine = Engine(
                config,
                clock=time.time,
                voice=self._voice,
                brain=self.brain,
                dialect=self.dialect,
                envelope=self.envelope,
            )
        beta = "realtime=v1" in request.headers.get("OpenAI-Beta", "") or "openai-beta.realtime-v1" in (
            request.headers.get("Sec-WebSocket-Protocol", "")
        )
        log.debug(
            "connection from %s to %s (model %s, beta header %s)",
            ws.remote_address,
            auth.redact_query(request.path),
            model,
            beta,
        )
        if beta and self.dialect == "ga":
            engine.reject_beta()
        else:
            engine.start()
        if not await _pump(ws, engine, self.send_timeout, self._work):
            self.clients_dropped += 1
            log.warning(
                "dropped the connection from %s: it read nothing for %s s while output waited (%d bytes unsent)",
                ws.remote_address,
                self.send_timeout,
                ws.transport.get_write_buffer_size(),
            )
            ws.transport.abort()  # a close frame would wait behind the unread output

    async def _work(self, function: Callable[..., None], *args: Any) -> None:
        """Run ``function(*args)`` on a worker thread; after stop() (a pump that outlived it) right here."""
        workers = self._workers
        if workers is None:
            function(*args)
            return
        await asyncio.get_running_loop().run_in_executor(workers, function, *args)


async def _pump(ws: ServerConnection, engine: Engine | ReplayEngine, send_timeout: float, work: _Work) -> bool:
    """Feed received messages to the engine, release its paced output on time, write what it wants sent.

    The engine's work runs through ``work`` (a worker thread), so a long synthesis never holds the event loop and
    the other connections; the pump awaits each piece, so the engine is only ever touched by one thread at a time.
    Returns False when a send waited ``send_timeout`` for the client to read (the caller drops it), else True.
    """
    receiving: asyncio.Task[Any] | None = None
    try:
        while True:
            for text in engine.data_to_send():
                try:
                    await asyncio.wait_for(ws.send(text), send_timeout)
                except asyncio.TimeoutError:
                    return False
            if engine.close_code is not None:
                if engine.close_reset:
                    ws.transport.abort()  # no close frame: what a dropped network looks like to the client
                else:
                    await ws.close(engine.close_code, engine.close_reason)
                return True
            if receiving is None:
                receiving = asyncio.ensure_future(ws.recv())
            deadline = engine.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - time.time())
            done, _ = await asyncio.wait({receiving}, timeout=timeout)
            message = None
            if receiving in done:
                message = receiving.result()  # raises ConnectionClosed when the client goes
                receiving = None
            await work(_step, engine, message)
    except ConnectionClosed:
        return True
    finally:
        if receiving is not None:
            if not receiving.done():
                receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await receiving  # also retrieves a ConnectionClosed the task may hold


def _step(engine: Engine | ReplayEngine, message: str | bytes | None) -> None:
    """One piece of an engine's work, on a worker thread: the message received (if any), then what is due."""
    if message is not None:
        engine.receive_text(message)
    engine.advance(time.time())


# -------------------------------------------------------------------------------------------- shared server

_shared_lock = threading.Lock()
_shared: LocalServer | None = None
# The shared server's pace: "realtime" unless this environment variable says "fast" (a test or CI running the
# notebooks: audio released at once, so a spoken reply takes no wall time).
PACE_ENV = "RTWIDGET_LOCAL_PACE"


def shared_pace() -> Pace:
    """The pace the shared server starts with: ``$RTWIDGET_LOCAL_PACE`` (``realtime`` or ``fast``), else realtime."""
    value = os.environ.get(PACE_ENV, "").strip() or "realtime"
    if value not in ("realtime", "fast"):
        raise ValueError(f"{PACE_ENV}={value!r} is not a pace: set it to 'realtime' or 'fast', or unset it")
    return "fast" if value == "fast" else "realtime"


def shared_server() -> LocalServer:
    """The process-wide local server (pace "realtime", or ``$RTWIDGET_LOCAL_PACE``), started on first use on its
    own daemon thread.

    Many sessions in one kernel share it; it stops when the interpreter exits. Blocking: call it from a
    thread (or an executor), not from inside a running event loop's callbacks.
    """
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            server = LocalServer(pace=shared_pace()).start_in_thread()
            atexit.register(server.stop_in_thread, 2.0)
            _shared = server
        return _shared
