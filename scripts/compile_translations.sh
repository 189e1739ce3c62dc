#!/usr/bin/env bash
# Compile the console's own translations (locale/**/*.po) to the .mo files Django reads. The .mo
# files are committed, so running the mall needs no gettext; run this after editing a .po
# (needs msgfmt: apt-get install gettext). tests/config/test_translations.py fails while a .mo
# is older than its .po's messages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for po in locale/*/LC_MESSAGES/*.po; do
    msgfmt --check-format -o "${po%.po}.mo" "$po"
done
