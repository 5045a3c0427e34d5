"""``python -m rtwidget.server [--host ..] [--port ..] [--dialect ..] [--pace ..] [--script FILE]``: the same as
``rtwidget serve``."""

from __future__ import annotations

import argparse
import logging
import sys

from .serve import add_serve_arguments, serve

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m rtwidget.server", description="Run rtwidget's local server.")
    add_serve_arguments(parser)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    args = parser.parse_args()
    logging.basicConfig(level={0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG))
    try:
        sys.exit(serve(args))
    except (OSError, ValueError) as exc:
        print(f"rtwidget: {exc}", file=sys.stderr)
        sys.exit(2)
