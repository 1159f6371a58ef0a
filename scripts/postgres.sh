#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:$PORT (default 5432)
# for the tests: the machine's own when one answers, else a cluster of the
# project's own under $DIR (default ./.cache/postgres), with trust
# authentication for the postgres user, started from Debian's packages
# (installed when missing). Stop it with: pg_ctl -D $DIR/data stop
set -euo pipefail

PORT="${PGTEST_PORT:-5432}"
DIR="$(realpath -m "${PGTEST_DIR:-.cache/postgres}")"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

if answers; then
  exit 0
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "installing PostgreSQL from Debian's packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
fi

# initdb and postgres refuse to run as root: the cluster belongs to the
# postgres system user the package creates, or to the caller.
run=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" postgres
  run=(runuser -u postgres --)
fi

mkdir -p "$DIR"
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; fi
if [ ! -f "$DIR/data/PG_VERSION" ]; then
  "${run[@]}" "$bin/initdb" --pgdata="$DIR/data" --username=postgres --auth=trust --encoding=UTF8 >/dev/null
fi
echo "starting PostgreSQL on 127.0.0.1:$PORT (data in $DIR/data)"
"${run[@]}" "$bin/pg_ctl" --pgdata="$DIR/data" --log="$DIR/server.log" --wait \
  -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR" start >/dev/null
answers || { echo "PostgreSQL did not come up; see $DIR/server.log" >&2; exit 1; }
