#!/usr/bin/env bash
# One command from a fresh clone: install mediarec and run the end-to-end demo on the embedded store.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
install_mediarec "serve,plots"
cd "$ROOT"
exec "$VENV/bin/mediarec" demo "$@"
