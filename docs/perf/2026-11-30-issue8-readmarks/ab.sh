#!/bin/bash
# A/B at 1,000 sessions, no floor, alternating builds.
OUT=/tmp/perf2/ab; mkdir -p $OUT
i=0
for bin in sshchat sshchat-new sshchat sshchat-new; do
  i=$((i+1)); port=$((25200+i))
  D=$(mktemp -d /tmp/perf2/d.XXXX)
  GODEBUG=adaptivestackstart=0 /tmp/perf2/$bin --addr 127.0.0.1:$port --data-dir $D --host-key $D/hk --log-level warn --max-conns-per-source 0 --max-startups-per-source 0 > $D/log 2>&1 &
  PID=$!; sleep 1
  echo "# $i $bin $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/log.txt
  /tmp/perf2/loadtest -addr 127.0.0.1:$port -pid $PID -json -q -allow-loss -n 1000 -senders 5 -rate 2 -duration 20s -timeout 30s > $OUT/$i-$bin.json 2>> $OUT/log.txt
  echo "# $i done $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/log.txt
  kill $PID; wait $PID 2>/dev/null; rm -rf $D
done
echo ALLDONE >> $OUT/log.txt
