# Sourced by demo.sh and test.sh: make ./.venv with Python >= 3.11 and install mediarec into it.
# Usage: install_mediarec EXTRAS   (e.g. "serve,plots")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MEDIAREC_VENV:-$ROOT/.venv}"

pick_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "mediarec needs Python 3.11 or newer (python3.11 not found)" >&2
    exit 1
}

install_mediarec() {
    local extras="$1"
    if [ ! -x "$VENV/bin/python" ]; then
        "$(pick_python)" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[$extras]"
}
