#!/usr/bin/env bash
# cluster.sh: the several-nodes measurements of docs/performance.md in one
# invocation, on loopback. It builds sshchat, the load tool and nats-server
# (from the module cache), starts a throwaway PostgreSQL (.ci/postgres.sh),
# a NATS server, three sshchat nodes sharing both, and one single node (the
# default: SQLite, no NATS) as the baseline, then runs, one after the other:
#
#   single   the single node with N sessions, with -floor (the tool's own
#            line-broadcast server measured first, same workload)
#   cluster  the three nodes with N sessions spread over them
#   kill     the same, SIGKILLing node 2 halfway through the send window
#            (node 2 is restarted afterwards for the next run)
#   commit   committed messages per second: WRITERS `ssh send` commands
#            (spread over the three nodes) each send LINES lines as fast as
#            the server acknowledges them; counted in PostgreSQL
#   burst    (not by default) committed messages per second with many in
#            flight: BURST_N sessions over the three nodes all type
#            BURST_RATE msg/s for BURST_DURATION; counted in PostgreSQL
#
# Usage (from the repository root; every setting has a default):
#
#   N=1500 SENDERS=5 RATE=2 DURATION=20s RUNS="single cluster kill commit" \
#     OUT=/tmp/cluster-runs bash cmd/loadtest/cluster.sh
#
# The load tool's JSON lines go to $OUT/runs.jsonl, summaries and the CPU
# of PostgreSQL and NATS per run to stdout, logs to $OUT/*.log. Everything
# it starts is stopped at exit; the temp directory is removed unless KEEP=1.
set -euo pipefail

N=${N:-1500}
SENDERS=${SENDERS:-5}
RATE=${RATE:-2}
DURATION=${DURATION:-20s}
OBSERVERS=${OBSERVERS:-99}
RUNS=${RUNS:-single cluster kill commit}
WRITERS=${WRITERS:-30}
LINES=${LINES:-200}
BASE=${BASE:-23300}
OUT=${OUT:-/tmp/cluster-runs}
LOADFLAGS=${LOADFLAGS:-}
BURST_N=${BURST_N:-30}
BURST_RATE=${BURST_RATE:-20}

if ! [[ $DURATION =~ ^[0-9]+s$ ]]; then
	echo "cluster.sh: DURATION must be whole seconds, like 20s (the kill run kills at half of it)" >&2
	exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/sshchat-cluster.XXXXXX)
chmod 755 "$tmp"
mkdir -p "$OUT"
log() { echo "cluster.sh: $*" >&2; }

pids=()
pg_stop=
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "$pg_stop" ]; then eval "$pg_stop" >/dev/null 2>&1 || true; fi
	if [ "${KEEP:-0}" != 1 ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT

log "building into $tmp"
(cd "$root" && go build -o "$tmp/sshchat" . && go build -o "$tmp/loadtest" ./cmd/loadtest &&
	go build -o "$tmp/nats-server" github.com/nats-io/nats-server/v2)

log "starting PostgreSQL"
eval "$(bash "$root/.ci/postgres.sh")"
pg_stop=$SSHCHAT_TEST_POSTGRES_STOP
pgurl=$SSHCHAT_TEST_POSTGRES
# The server's data directory is in the stop command; its postmaster.pid
# names the server, whose children are the backends.
pgdata=$(echo "$pg_stop" | sed -n 's/.* -D \([^ ]*\) .*/\1/p')
log "PostgreSQL: $pgurl ($(psql "$pgurl" -Atc 'show synchronous_commit') synchronous_commit)"

natsport=$((BASE + 22))
"$tmp/nats-server" -a 127.0.0.1 -p "$natsport" >"$OUT/nats.log" 2>&1 &
natspid=$!
pids+=("$natspid")

common=(--max-conns-per-source 0 --max-startups-per-source 0 --max-new-accounts-per-source 0
	--msg-rate 1000 --msg-burst 1000)

# wait_listening LOG PID: until the server logs that it listens.
wait_listening() {
	for _ in $(seq 1 300); do
		grep -q listening "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || { log "server exited:"; cat "$1" >&2; exit 1; }
		sleep 0.1
	done
	log "server did not listen within 30 s: $1"
	exit 1
}

# node I: start cluster node I (1-based) on port BASE+I; sets nodepid[I].
declare -A nodepid
node() {
	local i=$1
	# A restarted node's log starts afresh (the last one is kept as .1), so
	# that wait_listening waits for this start.
	if [ -s "$OUT/node$i.log" ]; then mv "$OUT/node$i.log" "$OUT/node$i.log.1"; fi
	"$tmp/sshchat" --addr "127.0.0.1:$((BASE + i))" --data-dir "$tmp/node$i" --host-key "$tmp/node$i.key" \
		--database-url "$pgurl" --nats-url "nats://127.0.0.1:$natsport" --node-name "node$i" \
		"${common[@]}" >"$OUT/node$i.log" 2>&1 &
	nodepid[$i]=$!
	pids+=("${nodepid[$i]}")
	wait_listening "$OUT/node$i.log" "${nodepid[$i]}"
}
# One after the other: the first one migrates the database.
for i in 1 2 3; do rm -f "$OUT/node$i.log"; node "$i"; done
"$tmp/sshchat" --addr "127.0.0.1:$((BASE + 10))" --data-dir "$tmp/single" --host-key "$tmp/single.key" \
	"${common[@]}" >"$OUT/single.log" 2>&1 &
singlepid=$!
pids+=("$singlepid")
wait_listening "$OUT/single.log" "$singlepid"
cluster=127.0.0.1:$((BASE + 1)),127.0.0.1:$((BASE + 2)),127.0.0.1:$((BASE + 3))
log "nodes ${nodepid[1]} ${nodepid[2]} ${nodepid[3]} on $cluster; single node $singlepid; NATS $natspid"

# ticks PID...: CPU time (user+system, in 1/100 s) of the processes, from
# /proc/PID/stat (fields after the command name, which may hold spaces).
ticks() {
	local t=0 p v
	for p in "$@"; do
		v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
# cpu_of pg|nats: the CPU ticks of NATS, or of our PostgreSQL: the server
# with its exited children (cutime, cstime) and its live backends.
cpu_of() {
	if [ "$1" = nats ]; then
		ticks "$natspid"
		return
	fi
	local pm own
	pm=$(head -1 "$pgdata/postmaster.pid")
	own=$(sed 's/.*) //' "/proc/$pm/stat" | awk '{print $14 + $15}')
	echo $((own + $(ticks $(pgrep -P "$pm" || true))))
}
# report_cpu NAME PG0 NATS0 SECONDS0: PostgreSQL's and NATS's CPU during a run.
report_cpu() {
	local pg nats secs
	pg=$(cpu_of pg)
	nats=$(cpu_of nats)
	secs=$((SECONDS - $4))
	echo "   cpu $1: PostgreSQL $(awk "BEGIN{print ($pg - $2) / 100}")s, NATS $(awk "BEGIN{print ($nats - $3) / 100}")s over ${secs}s wall; load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

loadtest() {
	local name=$1
	shift
	local pg0 nats0 s0
	pg0=$(cpu_of pg)
	nats0=$(cpu_of nats)
	s0=$SECONDS
	echo "== $name ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"
	echo "   loadtest $*"
	"$tmp/loadtest" "$@" -n "$N" -observers "$OBSERVERS" -senders "$SENDERS" -rate "$RATE" -duration "$DURATION" \
		-q -allow-loss -timeout 60s $LOADFLAGS >"$OUT/$name.out" || true
	grep -v '^{' "$OUT/$name.out"
	grep '^{' "$OUT/$name.out" | sed "s/^{/{\"run\":\"$name\",/" >>"$OUT/runs.jsonl"
	report_cpu "$name" "$pg0" "$nats0" "$s0"
}

half=$((${DURATION%s} / 2))s
for run in $RUNS; do
	case $run in
	single) loadtest single -addr "127.0.0.1:$((BASE + 10))" -pid "$singlepid" -floor ;;
	cluster) loadtest cluster -addr "$cluster" -pid "${nodepid[1]},${nodepid[2]},${nodepid[3]}" ;;
	kill)
		loadtest kill -addr "$cluster" -pid "${nodepid[1]},${nodepid[2]},${nodepid[3]}" \
			-kill-pid "${nodepid[2]}" -kill-node 2 -kill-after "$half"
		wait "${nodepid[2]}" 2>/dev/null || true
		node 2
		;;
	commit)
		echo "== commit ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)): $WRITERS writers × $LINES lines over 3 nodes"
		for w in $(seq 1 "$WRITERS"); do
			[ -f "$tmp/w$w" ] || ssh-keygen -q -t ed25519 -N '' -f "$tmp/w$w" >/dev/null
			seq -f "w$w line %g" 1 "$LINES" >"$tmp/w$w.txt"
		done
		before=$(psql "$pgurl" -Atc 'select count(*) from messages')
		pg0=$(cpu_of pg)
		nats0=$(cpu_of nats)
		nodes0=$(ticks "${nodepid[1]}" "${nodepid[2]}" "${nodepid[3]}")
		s0=$SECONDS
		start=$(date +%s.%N)
		wp=()
		for w in $(seq 1 "$WRITERS"); do
			port=$((BASE + 1 + (w - 1) % 3))
			ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i "$tmp/w$w" -p "$port" \
				"cw$w@127.0.0.1" send lobby <"$tmp/w$w.txt" >"$tmp/commit-w$w.log" 2>&1 &
			wp+=($!)
		done
		failed=0
		for w in "${!wp[@]}"; do
			if ! wait "${wp[$w]}"; then
				failed=$((failed + 1))
				cat "$tmp/commit-w$((w + 1)).log" >>"$OUT/commit-failures.log"
			fi
		done
		end=$(date +%s.%N)
		after=$(psql "$pgurl" -Atc 'select count(*) from messages')
		wall=$(awk "BEGIN{printf \"%.2f\", $end - $start}")
		echo "   committed $((after - before)) messages in ${wall}s: $(awk "BEGIN{printf \"%.0f\", ($after - $before) / $wall}") messages/s; $failed writers failed"
		echo "{\"run\":\"commit\",\"writers\":$WRITERS,\"lines\":$LINES,\"committed\":$((after - before)),\"wall_s\":$wall,\"failed_writers\":$failed}" >>"$OUT/runs.jsonl"
		report_cpu commit "$pg0" "$nats0" "$s0"
		echo "   cpu commit: sshchat nodes $(awk "BEGIN{print ($(ticks "${nodepid[1]}" "${nodepid[2]}" "${nodepid[3]}") - $nodes0) / 100}")s"
		;;
	burst)
		# Committed messages per second with many messages in flight: the
		# UI does not wait for one message's commit before the next. Few
		# sessions (BURST_N, all sending BURST_RATE msg/s), 3 observers;
		# deliveries are not the point (-allow-loss). PostgreSQL's count is
		# sampled every second; the peak second and the mean over the
		# seconds in which it rose are reported.
		psql "$pgurl" -Atc 'select count(*) from messages' >/dev/null
		(while :; do echo "$(date +%s.%N) $(psql "$pgurl" -Atc 'select count(*) from messages')"; sleep 1; done) >"$OUT/burst-counts.txt" &
		sampler=$!
		N=$BURST_N SENDERS=$BURST_N RATE=$BURST_RATE OBSERVERS=3 DURATION=${BURST_DURATION:-10s} \
			loadtest burst -addr "$cluster" -pid "${nodepid[1]},${nodepid[2]},${nodepid[3]}"
		sleep 2
		kill "$sampler"
		wait "$sampler" 2>/dev/null || true
		awk 'NR > 1 && $2 > prev { d = $2 - prev; dt = $1 - pt; if (d / dt > peak) peak = d / dt; sum += d; secs += dt }
			{ prev = $2; pt = $1 }
			END { printf "   burst: committed %d messages in the %.1f s in which the count rose: %.0f messages/s, peak second %.0f\n", sum, secs, sum / secs, peak }' "$OUT/burst-counts.txt"
		;;
	*) log "unknown run $run" ;;
	esac
done
