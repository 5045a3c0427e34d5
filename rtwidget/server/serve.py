"""Run the local server from a command line: the arguments and the loop behind ``rtwidget serve`` and
``python -m rtwidget.server`` (both call here, so the server never imports the floor-4 CLI)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

from .local_server import LocalServer
from .script import Script

__all__ = ["TOKEN_ENV", "add_serve_arguments", "serve"]

# The environment variable ``--token`` defaults to.
TOKEN_ENV = "RTWIDGET_SERVER_TOKEN"


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` options: host, port, token, dialect, pace, envelope, script, cassette."""
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (default 127.0.0.1; any other needs a token, generated if not given)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV) or None,
        help="the API key clients must send (Bearer or api-key); required and generated when --host is not "
        f"loopback (default: ${TOKEN_ENV}, which, unlike this option, other local users cannot see in ps)",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument("--dialect", choices=("ga", "beta"), default="ga", help="protocol dialect (default ga)")
    parser.add_argument(
        "--pace",
        choices=("realtime", "fast"),
        default="realtime",
        help="release output audio at real time (default) or all at once",
    )
    parser.add_argument(
        "--envelope",
        action="store_true",
        help="wrap every event in the 'realtime.'-prefixed envelope some gateways use (default: plain events)",
    )
    parser.add_argument("--script", metavar="FILE", help="a JSON script of extra events, errors and disconnects")
    parser.add_argument(
        "--cassette",
        metavar="FILE",
        help="answer every client with this recorded session (session.record(path)) instead; --pace fast sends "
        "the recorded answers at once, realtime at their recorded pace (see docs/cassettes.md)",
    )


def serve(args: argparse.Namespace) -> int:
    """Start the server, print its URL on one line, run until Ctrl-C or SIGTERM; returns the exit status."""
    script = Script.load(args.script) if args.script else None
    token = getattr(args, "token", None)
    server = LocalServer(
        args.host,
        args.port,
        dialect=args.dialect,
        pace=args.pace,
        envelope=getattr(args, "envelope", False),
        script=script,
        token=token,
        cassette=getattr(args, "cassette", None),
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
                loop.add_signal_handler(sig, stop.set)
        async with server:
            print(server.url, flush=True)
            _announce_token(server)
            await stop.wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def _announce_token(server: LocalServer) -> None:
    """Warn when the server is reachable from the network, and say which token clients need (second line)."""
    if server.exposed:
        print(
            f"rtwidget: warning: listening on {server.host}, reachable from other machines; "
            "only clients that send the token below as their API key are let in",
            file=sys.stderr,
            flush=True,
        )
    if server.token is not None:
        print(f"token: {server.token}", flush=True)
