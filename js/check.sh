#!/usr/bin/env bash
# Front-end checks: install the dev tools if needed, type-check rtwidget/widget/static, run the JS unit tests.
# Usage: bash js/check.sh  (from anywhere; needs Node >= 20 and npm)
set -euo pipefail
cd "$(dirname "$0")"

# npm ci only when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi

echo "[rtwidget] tsc --checkJs"
npx --no-install tsc -p .

echo "[rtwidget] node --test"
# The worklet tests evaluate the worklet sources as ES modules in node:vm (vm.SourceTextModule).
NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules --no-warnings=ExperimentalWarning" \
    node --test test/*.test.js
