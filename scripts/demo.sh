#!/usr/bin/env bash
# Starts previewd on the embedded defaults (bbolt and local state in
# ./.previewd, offline GitHub mode) with the example module, plays a pull
# request's life through signed webhooks, and leaves the server running.
# With PostgreSQL on 127.0.0.1:5432 (started by ./scripts/postgres.sh when
# that needs no password), it also shows a migration judged at production's
# size; without, it says it skips that part.
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

# Where "CI" publishes each commit's release for the example application
# (acme/orders' migrations); previewd passes it to Terraform
# (terraform.env_passthrough in examples/previewd.yaml).
export PREVIEW_WEB_RELEASES=$data/releases
mkdir -p "$PREVIEW_WEB_RELEASES"

# acme/orders' databases live on a PostgreSQL server at 127.0.0.1:5432.
database=(--database-server postgres://postgres@127.0.0.1:5432)
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  if [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; then
    echo "no PostgreSQL on 127.0.0.1:5432: starting one with ./scripts/postgres.sh"
    ./scripts/postgres.sh || database=(--database-skip "./scripts/postgres.sh could not start PostgreSQL on 127.0.0.1:5432")
  else
    database=(--database-skip "no PostgreSQL on 127.0.0.1:5432, and starting one needs root: sudo asks for a password")
  fi
fi

echo "starting previewd on http://$addr (log: $data/previewd.log)"
PATH="$root/bin:$PATH" \
PREVIEWD_LISTEN_ADDR=$addr \
PREVIEWD_DATA_DIR=$data \
PREVIEWD_CONFIG=${PREVIEWD_CONFIG:-$root/examples/previewd.yaml} \
PREVIEWD_TERRAFORM_BIN=${PREVIEWD_TERRAFORM_BIN:-$root/bin/terraform} \
  nohup "$root/bin/previewd" serve >"$data/previewd.log" 2>&1 &
echo $! > "$data/previewd.pid"

if ! go run ./scripts/demo --url "http://$addr" "${database[@]}"; then
  echo; echo "the demo failed; the end of previewd's log:"; tail -n 40 "$data/previewd.log"; exit 1
fi

cat <<MSG

previewd keeps running (pid $(cat "$data/previewd.pid")); its log is $data/previewd.log.
The demo's secrets are in $secrets:  set -a; . $secrets; set +a
Stop it with:  kill \$(cat $data/previewd.pid)   (it stops cleanly on SIGTERM)
MSG
if [ "${database[0]}" = --database-server ]; then
  cat <<MSG
acme/orders' production database and the template its previews copy stay on
PostgreSQL for the next run (which then takes seconds); drop them with:
  export DATABASE_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres
  ./bin/preview-web db drop -name orders_production; ./bin/preview-web db drop -name orders_template
MSG
fi
