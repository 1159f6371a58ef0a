#!/usr/bin/env bash
# Starts previewd on the embedded defaults (bbolt and local state in
# ./.previewd, offline GitHub mode) with the example module, plays a pull
# request's life through signed webhooks, and leaves the server running.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
data=${PREVIEWD_DATA_DIR:-$root/.previewd}
addr=${PREVIEWD_LISTEN_ADDR:-127.0.0.1:8080}
mkdir -p "$data"

# Secrets for this demo, kept in the data directory (mode 0600): 32 random
# bytes each in hex, as `openssl rand -hex 32` makes them (previewd refuses
# secrets shorter than 32 characters).
secrets=$data/demo.env
if [ ! -f "$secrets" ]; then
  umask 077
  printf 'PREVIEWD_WEBHOOK_SECRET=%s\nPREVIEWD_ADMIN_TOKEN=%s\n' \
    "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" > "$secrets"
fi
set -a; . "$secrets"; set +a

if pid=$(cat "$data/previewd.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; then
  echo "stopping the previewd left by an earlier demo (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
fi

echo "starting previewd on http://$addr (log: $data/previewd.log)"
PATH="$root/bin:$PATH" \
PREVIEWD_LISTEN_ADDR=$addr \
PREVIEWD_DATA_DIR=$data \
PREVIEWD_CONFIG=${PREVIEWD_CONFIG:-$root/examples/previewd.yaml} \
PREVIEWD_TERRAFORM_BIN=${PREVIEWD_TERRAFORM_BIN:-$root/bin/terraform} \
  nohup "$root/bin/previewd" serve >"$data/previewd.log" 2>&1 &
echo $! > "$data/previewd.pid"

if ! go run ./scripts/demo --url "http://$addr"; then
  echo; echo "the demo failed; the end of previewd's log:"; tail -n 40 "$data/previewd.log"; exit 1
fi

cat <<MSG

previewd keeps running (pid $(cat "$data/previewd.pid")); its log is $data/previewd.log.
The demo's secrets are in $secrets:  set -a; . $secrets; set +a
Stop it with:  kill \$(cat $data/previewd.pid)   (it stops cleanly on SIGTERM)
MSG
