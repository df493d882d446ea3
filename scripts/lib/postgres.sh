# Sourced by scripts/test.sh and bench/run.sh: a throwaway PostgreSQL cluster from Debian's
# postgresql package, on a free port, owned by the postgres user when run as root (initdb refuses
# root). pg_start sets PG_URL (postgres://postgres@127.0.0.1:PORT); pg_stop removes it all.

pg_start() {
  local pgbin
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$pgbin" ]; then
    echo "PostgreSQL is not installed: apt-get install postgresql (the CI script does)" >&2
    return 1
  fi
  PG_BIN=$pgbin
  PG_CLUSTER=$(mktemp -d)
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  [ "$(id -u)" = 0 ] && chown postgres "$PG_CLUSTER"
  pg_as_owner "$PG_BIN/initdb" -D "$PG_CLUSTER/data" -U postgres --auth=trust --no-sync >/dev/null
  pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_CLUSTER/data" -l "$PG_CLUSTER/log" -w \
    -o "-p $port -k $PG_CLUSTER -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$port"
}

pg_as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_stop() {
  [ -n "${PG_CLUSTER:-}" ] || return 0
  pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_CLUSTER/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_CLUSTER"
  PG_CLUSTER=
}
