#!/usr/bin/env bash
# Builds previewd/pg, the PostgreSQL provider of the tests
# (testdata/terraform-provider-pg, a module of its own), into the
# filesystem mirror $1 (default ./.cache/providers), laid out as Terraform
# reads it, and hard-links it under OpenTofu's registry name. Nothing is
# built when the binary is newer than every file of the provider's source.
# Needs only Go; its dependencies come from the Go module proxy.
set -euo pipefail

cd "$(dirname "$0")/.."
GO="${GO:-go}"
VERSION=0.1.0
SRC="$PWD/testdata/terraform-provider-pg"
MIRROR="$(realpath -m "${1:-.cache/providers}")"
PLATFORM="$("$GO" env GOOS)_$("$GO" env GOARCH)"
NAME="previewd/pg/$VERSION/$PLATFORM/terraform-provider-pg_v$VERSION"
BIN="$MIRROR/registry.terraform.io/$NAME"
TOFU="$MIRROR/registry.opentofu.org/$NAME"

if [ -x "$BIN" ] && [ -z "$(find "$SRC" -type f -newer "$BIN" -print -quit)" ]; then
  [ "$TOFU" -ef "$BIN" ] || { mkdir -p "$(dirname "$TOFU")" && ln -f "$BIN" "$TOFU"; }
  exit 0
fi

echo "building terraform-provider-pg $VERSION into $MIRROR"
mkdir -p "$(dirname "$BIN")" "$(dirname "$TOFU")"
# Built beside the binary and renamed over it, so that a failed build
# leaves no half-written provider in the mirror.
(cd "$SRC" && CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$BIN.tmp" .)
mv -f "$BIN.tmp" "$BIN"
ln -f "$BIN" "$TOFU"
