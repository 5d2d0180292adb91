#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for the tests: installs the distribution's
# package when initdb/pg_ctl are missing, creates a data directory in a temp
# dir, runs initdb and starts the server on 127.0.0.1 on a free port (fsync
# and synchronous_commit left on, as in production), waits until it accepts
# connections and prints what the tests need:
#
#   export SSHCHAT_TEST_POSTGRES='postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable'
#   export SSHCHAT_TEST_POSTGRES_STOP='...'   # the command that stops it
#
# Use: eval "$(bash .ci/postgres.sh)"; ...; eval "$SSHCHAT_TEST_POSTGRES_STOP"
# PostgreSQL refuses to run as root: as root the server runs as the
# `postgres` user (created if missing); otherwise as the current user.
# Progress goes to stderr, so only the export lines reach stdout.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
	local name=$1 d
	if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/$name" ] && { echo "$d/$name"; return; }
	done
	return 1
}

if ! find_bin initdb >/dev/null || ! find_bin pg_ctl >/dev/null; then
	if [ "$(id -u)" -ne 0 ]; then
		log "initdb/pg_ctl not found and not root: install PostgreSQL (apt-get install postgresql)"
		exit 1
	fi
	log "installing postgresql from apt"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
initdb=$(readlink -f "$(find_bin initdb)")
pg_ctl=$(readlink -f "$(find_bin pg_ctl)")
bindir=$(dirname "$initdb")

run_as=()
if [ "$(id -u)" -eq 0 ]; then
	if ! id postgres >/dev/null 2>&1; then
		log "creating user postgres"
		useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
	fi
	if command -v runuser >/dev/null; then
		run_as=(runuser -u postgres --)
	else
		run_as=(su postgres -s /bin/sh -c)
	fi
fi
as_db() {
	if [ ${#run_as[@]} -eq 0 ]; then
		"$@"
	elif [ "${run_as[0]}" = runuser ]; then
		"${run_as[@]}" "$@"
	else
		"${run_as[@]}" "$(printf '%q ' "$@")"
	fi
}

tmp=$(mktemp -d /tmp/sshchat-pg.XXXXXX)
chmod 0755 "$tmp"
[ "$(id -u)" -eq 0 ] && chown postgres: "$tmp"
data=$tmp/data

# A free port: one nothing answers on.
for _ in $(seq 50); do
	port=$((30000 + RANDOM % 20000))
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
done

log "initdb in $data"
as_db "$initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$tmp/initdb.log" 2>&1 ||
	as_db "$initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$tmp/initdb.log" 2>&1 ||
	{ cat "$tmp/initdb.log" >&2; exit 1; }

log "starting on 127.0.0.1:$port"
# Unix socket in the temp dir: /var/run/postgresql may not exist or be
# writable. max_connections: each test database opens its own pool.
as_db "$pg_ctl" -D "$data" -l "$tmp/server.log" -w -t 60 \
	-o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c max_connections=400 -c fsync=on -c synchronous_commit=on -c shared_buffers=64MB" \
	start >&2 || { cat "$tmp/server.log" >&2; exit 1; }

for _ in $(seq 100); do
	"$bindir/pg_isready" -h 127.0.0.1 -p "$port" -q 2>/dev/null && break
	sleep 0.1
done
"$bindir/pg_isready" -h 127.0.0.1 -p "$port" >&2 || { cat "$tmp/server.log" >&2; exit 1; }

stop="${run_as[*]:+$(printf '%q ' "${run_as[@]}")}$(printf '%q' "$pg_ctl") -D $(printf '%q' "$data") -m fast stop >/dev/null 2>&1; rm -rf $(printf '%q' "$tmp")"
echo "export SSHCHAT_TEST_POSTGRES='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'"
echo "export SSHCHAT_TEST_POSTGRES_STOP=$(printf '%q' "$stop")"
