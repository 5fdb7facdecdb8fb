#!/usr/bin/env bash
# One command from a fresh clone: install mediarec with its test tools, lint, type-check, run the tests.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
install_mediarec "serve,plots,dev"
cd "$ROOT"
"$VENV/bin/ruff" check src tests bench
"$VENV/bin/mypy"
exec "$VENV/bin/pytest" "$@"
