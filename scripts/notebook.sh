#!/usr/bin/env bash
# Install rtwidget with JupyterLab into .venv and open the quickstart notebook.
# With no OPENAI_API_KEY it talks to rtwidget's local server: no key, no network needed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[notebook]"
args=()
[ "$(id -u)" = 0 ] && args+=(--allow-root)   # JupyterLab refuses root unless told
exec .venv/bin/jupyter lab "${args[@]}" "$@" notebooks/01-quickstart.ipynb
