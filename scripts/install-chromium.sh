#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser test (tests/test_dashboard_browser.py), installed
# only when missing. Playwright's own browser download is never used.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
