#!/usr/bin/env bash
# Makes sure the release program can check Debian's signed archive for the
# image's userland: gpgv and Debian's archive keyring, installed from
# Debian's packages when missing.
set -euo pipefail
if command -v gpgv >/dev/null 2>&1 && [ -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
  exit 0
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
echo "installing gpgv and debian-archive-keyring from Debian's packages"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gpgv debian-archive-keyring >/dev/null
command -v gpgv >/dev/null
