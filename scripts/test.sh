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

# The browser tests (tests/browser) drive Debian's Chromium with Playwright and feed its fake microphone a WAV made
# with espeak-ng + sox. Without chromium they skip locally, but in CI (CI=true) they must run: a failed install
# fails here. (Never `playwright install`: a downloaded browser does not work on these machines.)
browser_pkgs=()
[ -x /usr/bin/chromium ] || browser_pkgs+=(chromium)
command -v sox >/dev/null 2>&1 || browser_pkgs+=(sox)
if [ ${#browser_pkgs[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${browser_pkgs[@]}" >/dev/null) \
            || echo "[rtwidget] could not install ${browser_pkgs[*]} with apt-get"
    fi
    case "${CI:-}" in 1 | [Tt]rue | TRUE | yes) in_ci=1 ;; *) in_ci=0 ;; esac
    if [ "$in_ci" = 1 ] && [ ! -x /usr/bin/chromium ]; then
        echo "[rtwidget] CI: chromium is missing and could not be installed; the browser tests cannot run" >&2
        exit 1
    fi
    [ -x /usr/bin/chromium ] || echo "[rtwidget] no /usr/bin/chromium: the browser tests will skip"
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"

# Lint and types: ruff everywhere (with C901, max-complexity 12), mypy --strict on the whole package (pyproject.toml).
.venv/bin/python -m ruff check rtwidget tests bench
.venv/bin/python -m ruff format --check rtwidget tests bench
.venv/bin/python -m mypy

# The front end: type-check rtwidget/widget/static and run the JS unit tests (pure helpers and both worklets).
bash js/check.sh

# The protocol core must be fully covered by its own tests. (--cov=rtwidget, not rtwidget.protocol:
# naming a subpackage makes coverage import numpy twice, which numpy refuses.)
.venv/bin/python -m pytest tests/protocol -q -p no:cacheprovider --cov=rtwidget --cov-report=
.venv/bin/python -m coverage report --include='rtwidget/protocol/*' --show-missing --skip-covered --fail-under=100
# The whole suite.
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
