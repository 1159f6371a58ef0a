#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the dashboard's browser
# tests (/usr/bin/chromium), installing the package when missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "installing Chromium from Debian's packages"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
