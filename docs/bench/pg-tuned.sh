#!/bin/sh
# pg-tuned.sh starts a PostgreSQL cluster with the settings BENCHMARKS.md
# calls "tuned", for runs beside the machine's default cluster:
#
#   sh docs/bench/pg-tuned.sh /var/tmp/pg-tuned 5433     # create (once) and start
#   sh docs/bench/pg-tuned.sh /var/tmp/pg-tuned 5433 stop
#
# The settings are the usual starting point for a dedicated database host
# with 24 GiB: a quarter of the memory for shared_buffers, the rest counted
# as the OS cache, JIT off (it only adds planning time to Roster's short
# statements), autovacuum on. Durability is unchanged: fsync and
# synchronous_commit keep their defaults. Run as root (it switches to the
# postgres user) or as the user that owns DIR.
set -eu
dir=${1:?usage: pg-tuned.sh DIR PORT [stop]}
port=${2:?usage: pg-tuned.sh DIR PORT [stop]}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || bin=$(dirname "$(command -v pg_ctl)")
as() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }

if [ "${3:-}" = stop ]; then
	as "$bin/pg_ctl -D $dir -m fast stop"
	exit 0
fi
if [ ! -f "$dir/PG_VERSION" ]; then
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	as "$bin/initdb -D $dir -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null"
	cat >>"$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 100
shared_buffers = 6GB
effective_cache_size = 16GB
work_mem = 16MB
maintenance_work_mem = 1GB
random_page_cost = 1.1
effective_io_concurrency = 200
jit = off
autovacuum = on
max_wal_size = 8GB
checkpoint_timeout = 15min
CONF
fi
as "$bin/pg_ctl -D $dir -l $dir/server.log -w start >/dev/null"
echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
