#!/usr/bin/env bash
# One command from a fresh clone: install mediarec and its offline model kit, then run the end-to-end
# demo (real media through the real pipeline, then recommendations) on the embedded store.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
install_mediarec "serve,plots,media,understand"
cd "$ROOT"
"$VENV/bin/mediarec" models install
exec "$VENV/bin/mediarec" demo "$@"
