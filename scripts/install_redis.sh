#!/usr/bin/env bash
# Debian's Redis server for the tests that run the optional Redis pieces against a real server
# (tests/campaigns/test_flash_gate.py starts its own /usr/bin/redis-server on a free port; nothing
# listens once the test ends). Quick when it is already there; needs root or sudo.
set -euo pipefail

if [ -x /usr/bin/redis-server ]; then
    exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    as_root=(sudo)
fi
echo "install_redis: apt-get install redis-server"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends redis-server >/dev/null
# Debian's package starts a system-wide server; the tests start their own.
if command -v systemctl >/dev/null 2>&1; then
    "${as_root[@]}" systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
