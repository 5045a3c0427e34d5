"""The ``rtwidget`` command.

Subcommands (argparse; more can be added beside ``serve``):

- ``rtwidget serve [--host 127.0.0.1] [--port 0] [--token TOKEN] [--dialect ga|beta] [--pace realtime|fast]
  [--envelope] [--script FILE] [--cassette FILE]``: run the local Realtime server, print its URL on one line (and
  ``token: ...`` on the next when it needs one: any host but loopback does), and run until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
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
    from rtwidget.server.serve import add_serve_arguments

    add_serve_arguments(serve)
    serve.set_defaults(func=_serve)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from rtwidget.server.serve import serve  # imported here: other commands must not need the server

    return serve(args)


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
