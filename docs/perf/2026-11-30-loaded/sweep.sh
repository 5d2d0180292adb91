#!/usr/bin/env bash
# One run per size: fresh data dir, fresh server, floor first (-floor), JSON appended.
set -u
cd /tmp/lt
: > runs.jsonl
for n in 100 250; do
  D=$(mktemp -d /tmp/lt/data.XXXX); PORT=$((24000 + n))
  ./sshchat --addr 127.0.0.1:$PORT --data-dir $D --host-key $D/hostkey --log-level warn 2>$D/log & PID=$!
  sleep 1
  echo "n=$n load: $(cut -d' ' -f1-3 /proc/loadavg)" >> sweep.log
  ./loadtest -addr 127.0.0.1:$PORT -pid $PID -floor -json -q -allow-loss -n $n -observers 50 -senders 5 -rate 2 -duration 10s >> runs.jsonl
  echo "n=$n rc=$?" >> sweep.log
  kill $PID; wait $PID
done
