#!/bin/bash
# Re-measurement after 97e4ce6 (read markers batched); same run() as
# ../2026-11-30-issue8/batch.sh. OUT: output dir; BIN: server binary.
OUT=${OUT:-/tmp/perf2/r1}; BIN=${BIN:-/tmp/perf2/sshchat}
mkdir -p $OUT
run() { # name port args...
  name=$1; port=$2; shift 2
  D=$(mktemp -d /tmp/perf2/d.XXXX)
  GODEBUG=adaptivestackstart=0 $BIN --addr 127.0.0.1:$port --data-dir $D --host-key $D/hk --log-level warn --max-conns-per-source 0 --max-startups-per-source 0 > $D/log 2>&1 &
  PID=$!
  sleep 1
  echo "# $name $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg) bin=$BIN args=$*" >> $OUT/log.txt
  /tmp/perf2/loadtest -addr 127.0.0.1:$port -pid $PID -floor -json -q -allow-loss "$@" > $OUT/$name.json 2>> $OUT/log.txt
  echo "# $name done $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/log.txt
  kill $PID; wait $PID 2>/dev/null; rm -rf $D
}
for r in ${RUNS:-n1000 n2000 idle2000 msgs5000}; do
  case $r in
  n250) run n250 25006 -n 250 -senders 5 -rate 2 -duration 20s -timeout 30s ;;
  n500) run n500 25007 -n 500 -senders 5 -rate 2 -duration 20s -timeout 30s ;;
  n1000) run n1000 25001 -n 1000 -senders 5 -rate 2 -duration 20s -timeout 30s ;;
  n2000) run n2000 25003 -n 2000 -senders 5 -rate 2 -duration 20s -timeout 30s ;;
  idle2000) run idle2000 25004 -n 2000 -idle 30s -timeout 30s ;;
  storm1000) run storm1000 25008 -n 1000 -storm 500 -senders 5 -rate 2 -duration 40s -timeout 60s ;;
  msgs5000) run msgs5000 25005 -n 1000 -senders 10 -rate 5 -duration 100s -observers 30 -timeout 30s ;;
  esac
done
echo ALLDONE >> $OUT/log.txt
