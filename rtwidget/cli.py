"""The ``rtwidget`` command.

Subcommands (argparse; more can be added beside ``serve``):

- ``rtwidget serve [--host 127.0.0.1] [--port 0] [--dialect ga|beta] [--pace realtime|fast] [--script FILE]``:
  run the local Realtime server, print its URL on one line, and run until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtwidget", description="Talk to Realtime speech-to-speech models.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    serve = commands.add_parser(
        "serve",
        help="run the local Realtime server (no API key, no network)",
        description="Run rtwidget's local Realtime server and print its URL. Stop it with Ctrl-C.",
    )
    add_serve_arguments(serve)
    serve.set_defaults(func=_serve)
    return parser


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument("--dialect", choices=("ga", "beta"), default="ga", help="protocol dialect (default ga)")
    parser.add_argument(
        "--pace",
        choices=("realtime", "fast"),
        default="realtime",
        help="release output audio at real time (default) or all at once",
    )
    parser.add_argument("--script", metavar="FILE", help="a JSON script of extra events, errors and disconnects")


def _serve(args: argparse.Namespace) -> int:
    from rtwidget.server import LocalServer, Script  # imported here: other commands must not need it

    script = Script.load(args.script) if args.script else None
    server = LocalServer(args.host, args.port, dialect=args.dialect, pace=args.pace, script=script)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
                loop.add_signal_handler(sig, stop.set)
        async with server:
            print(server.url, flush=True)
            await stop.wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return int(args.func(args))
    except (OSError, ValueError) as exc:
        print(f"rtwidget: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
