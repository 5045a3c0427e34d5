"""``python -m rtwidget.server [--host ..] [--port ..] [--dialect ..] [--pace ..] [--script FILE]``: same as
``rtwidget serve``."""

from __future__ import annotations

import sys

from rtwidget.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
