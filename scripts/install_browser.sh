#!/usr/bin/env bash
# Debian's headless Chromium and a Chinese font for the console's browser tests
# (tests/admin/test_console_browser.py drives /usr/bin/chromium with Playwright; Playwright never
# downloads a browser build of its own). Quick when both are already there; needs root or sudo.
set -euo pipefail

if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -q "Noto Sans CJK"; then
    exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    as_root=(sudo)
fi
echo "install_browser: apt-get install chromium fonts-noto-cjk"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
