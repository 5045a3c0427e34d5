#!/usr/bin/env bash
# Install everything the tests need into .venv, then run the whole suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k session -x`).
set -euo pipefail
cd "$(dirname "$0")/.."

# espeak-ng gives the local server real speech (the espeakng-loader wheel also ships it; the program is
# used by tests that compare both). Best effort: without it those tests skip, they do not fail.
if ! command -v espeak-ng >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null) \
        || echo "[rtwidget] could not install espeak-ng with apt-get; tests that need the program will skip"
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"

# Lint and types: ruff everywhere, mypy strict on the sans-I/O core and the local server.
.venv/bin/python -m ruff check rtwidget tests bench
.venv/bin/python -m ruff format --check rtwidget tests bench
.venv/bin/python -m mypy --strict --follow-imports=silent rtwidget/protocol rtwidget/server

# The protocol core must be fully covered by its own tests. (--cov=rtwidget, not rtwidget.protocol:
# naming a subpackage makes coverage import numpy twice, which numpy refuses.)
.venv/bin/python -m pytest tests/protocol -q -p no:cacheprovider --cov=rtwidget --cov-report=
.venv/bin/python -m coverage report --include='rtwidget/protocol/*' --show-missing --skip-covered --fail-under=100
# The whole suite.
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
