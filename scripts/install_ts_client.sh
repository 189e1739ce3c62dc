#!/usr/bin/env bash
# Node.js from Debian's packages and the TypeScript client's pinned npm packages
# (clients/typescript: openapi-typescript and typescript, exact versions in its package-lock.json),
# for tests/api/test_typescript_client.py, which generates the API's types from /api/schema/ and
# type-checks real responses against them. Quick when both are already there; the npm install
# prefers npm's local cache, so a machine that installed them once does it without the network.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CLIENT=clients/typescript
STAMP="$CLIENT/node_modules/.package-lock.sha256"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        as_root=(sudo)
    fi
    echo "install_ts_client: apt-get install nodejs npm"
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

want=$(sha256sum "$CLIENT/package-lock.json" | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi
echo "install_ts_client: npm ci in $CLIENT"
npm ci --prefix "$CLIENT" --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null
echo "$want" > "$STAMP"
