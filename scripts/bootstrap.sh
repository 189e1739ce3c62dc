#!/usr/bin/env bash
# Create .venv with Python 3.11 and install requirements-dev.txt when the requirements changed.
#
# Called by every Makefile target, so it must be fast when nothing changed: the install is keyed
# on a hash of the requirements files, stored in .venv/.requirements.sha256.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
STAMP="$VENV/.requirements.sha256"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
    if ! python=$(find_python); then
        echo "bootstrap: Python 3.11 is required (set PYTHON=/path/to/python3.11)." >&2
        exit 1
    fi
    echo "bootstrap: creating $VENV with $($python --version 2>&1)"
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
    rm -f "$STAMP"
fi

hash=$(cat requirements.txt requirements-dev.txt | "$VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$hash" ]; then
    echo "bootstrap: installing requirements-dev.txt into $VENV (first run takes a few minutes)"
    log="$VENV/pip-install.log"
    if ! "$VENV/bin/python" -m pip install -r requirements-dev.txt >"$log" 2>&1; then
        grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -40 >&2
        echo "bootstrap: pip install failed (full log: $log)" >&2
        exit 1
    fi
    echo "$hash" > "$STAMP"
fi
