#!/bin/bash
# Final measurement series; each run: fresh server + data dir, -floor.
cd /tmp/perf
run() { # name port bin args...
  name=$1; port=$2; bin=$3; shift 3
  D=$(mktemp -d /tmp/perf/d.XXXX)
  GODEBUG=adaptivestackstart=0 $bin --addr 127.0.0.1:$port --data-dir $D --host-key $D/hk --log-level warn --max-conns-per-source 0 --max-startups-per-source 0 > $D/log 2>&1 &
  PID=$!
  sleep 1
  echo "# $name $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg) bin=$bin args=$*" >> final/log.txt
  /tmp/perf/loadtest -addr 127.0.0.1:$port -pid $PID -floor -json -q -allow-loss "$@" > final/$name.json 2>> final/log.txt
  echo "# $name done $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" >> final/log.txt
  kill $PID; wait $PID 2>/dev/null; rm -rf $D
}
mkdir -p final
run n1000 24001 /tmp/perf/sshchat -n 1000 -senders 5 -rate 2 -duration 20s -timeout 30s
run n1000-nomark 24002 /tmp/perf/sshchat-nomark -n 1000 -senders 5 -rate 2 -duration 20s -timeout 30s
run n2000 24003 /tmp/perf/sshchat -n 2000 -senders 5 -rate 2 -duration 20s -timeout 30s
run idle2000 24004 /tmp/perf/sshchat -n 2000 -idle 30s -timeout 30s
run wide1000 24005 /tmp/perf/sshchat -n 1000 -senders 5 -rate 2 -duration 20s -timeout 30s -width 200 -height 50
run n250 24006 /tmp/perf/sshchat -n 250 -senders 5 -rate 2 -duration 20s -timeout 30s
run n500 24007 /tmp/perf/sshchat -n 500 -senders 5 -rate 2 -duration 20s -timeout 30s
echo ALLDONE >> final/log.txt
