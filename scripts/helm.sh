#!/usr/bin/env bash
# Makes sure ./bin/helm exists for the Helm chart's test
# (cmd/previewd/helm_test.go), building it from the Go module proxy when
# missing, as Terraform is: no binary is downloaded. The first build takes a
# few minutes; after that the script returns at once. Delete ./bin/helm to
# rebuild. Needs only Go and git.
#
# Helm 4 first; should the proxy not serve it, the previous patch release,
# then Helm 3 (the chart is apiVersion v2, which both read).
set -euo pipefail

cd "$(dirname "$0")/.."
BIN="$PWD/bin"
GO="${GO:-go}"
HELM="$BIN/helm"

if [ -x "$HELM" ]; then
  exit 0
fi

mkdir -p "$BIN"
for pkg in \
  helm.sh/helm/v4/cmd/helm@v4.3.2 \
  helm.sh/helm/v4/cmd/helm@v4.3.1 \
  helm.sh/helm/v3/cmd/helm@v3.21.4; do
  echo "building ${pkg#*cmd/} from source into ./bin (a few minutes, once)"
  # Outside this module, so its go.mod plays no part in helm's build; the
  # version stamped as a release stamps it (`helm version` says v4.3
  # otherwise).
  module="${pkg%%/cmd/*}" version="${pkg##*@}"
  ldflags="-s -w -X $module/internal/version.version=$version"
  if (cd / && CGO_ENABLED=0 GOBIN="$BIN" "$GO" install -trimpath -ldflags "$ldflags" "$pkg"); then
    "$HELM" version >/dev/null
    exit 0
  fi
  echo "building $pkg failed; trying the next version" >&2
done
echo "could not build helm from the Go module proxy" >&2
exit 1
