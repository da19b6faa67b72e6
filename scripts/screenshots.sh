#!/usr/bin/env bash
# Renders the README's screenshots (docs/screenshots/) from a fresh demo and
# a fresh empty server: the quick payment page on a phone, office pages on a
# laptop, a starter email as the customer sees it, the portal on a phone,
# /setup and the setup checklist. The work is done by scripts/screenshots.py.
# Needs chromium (Debian package) and python3.
#
#   scripts/screenshots.sh                                  # the debug build, built if missing
#   FIELDPAY_BIN=target/release/fieldpay scripts/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export FIELDPAY_BIN=${FIELDPAY_BIN:-target/debug/fieldpay}
[ -x "$FIELDPAY_BIN" ] || cargo build
exec python3 scripts/screenshots.py
