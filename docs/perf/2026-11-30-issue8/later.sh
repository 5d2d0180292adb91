#!/bin/bash
# The later runs (18:53-19:00 UTC), same run() as batch.sh, writing to final2/.
# sshchat-new: eeba0df; sshchat-old: 8dd19ad (start of this session);
# *-nomark: eeba0df with markReadDelay = time.Hour (a diagnostic build, not committed).
run n1000-new 24301 /tmp/perf/sshchat-new -n 1000 -senders 5 -rate 2 -duration 20s -timeout 30s
run n1000-old 24302 /tmp/perf/sshchat-old -n 1000 -senders 5 -rate 2 -duration 20s -timeout 30s
run n2000-new 24303 /tmp/perf/sshchat-new -n 2000 -senders 5 -rate 2 -duration 20s -timeout 30s
run n1000-new-nomark 24311 /tmp/perf/sshchat-new-nomark -n 1000 -senders 5 -rate 2 -duration 20s -timeout 30s
run n2000-new-nomark 24312 /tmp/perf/sshchat-new-nomark -n 2000 -senders 5 -rate 2 -duration 20s -timeout 30s
# final3/ (19:02-19:09): idle and 5,000 messages at eeba0df
run idle2000-new 24401 /tmp/perf/sshchat-new -n 2000 -idle 30s -timeout 30s
run msgs5000-new 24402 /tmp/perf/sshchat-new -n 1000 -senders 10 -rate 5 -duration 100s -observers 30 -timeout 30s
