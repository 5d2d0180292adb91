package main

import (
	"strings"
	"testing"
)

func TestSearchCommandFindsAcrossConversationsNewestFirstAsJSON(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	alice, bob := newKey(t), newKey(t)
	mustRun(t, ts.addr, "bob", bob, "", "send lobby hi") // bob's account exists
	mustRun(t, ts.addr, "alice", alice, "", "send lobby the deploy is at noon")
	mustRun(t, ts.addr, "alice", alice, "", "send @bob deploy keys are rotated")
	mustRun(t, ts.addr, "alice", alice, "", "send lobby lunch")
	out := mustRun(t, ts.addr, "alice", alice, "", "search deploy")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "@bob\t") || !strings.HasSuffix(lines[0], "alice: deploy keys are rotated") ||
		!strings.HasPrefix(lines[1], "#lobby\t") {
		t.Fatalf("search deploy:\n%s", out)
	}
	msgs := decode(t, strings.Split(strings.TrimSpace(mustRun(t, ts.addr, "alice", alice, "", "search deploy --json --limit 1")), "\n"))
	if len(msgs) != 1 || msgs[0].Body != "deploy keys are rotated" || msgs[0].From != "alice" {
		t.Fatalf("search --json: %+v", msgs)
	}
	// Someone else's direct conversation is never searched.
	carol := newKey(t)
	if out := mustRun(t, ts.addr, "carol", carol, "", "search rotated"); strings.TrimSpace(out) != "" {
		t.Fatalf("carol finds alice and bob's message:\n%s", out)
	}
	if r := runCmd(t, ts.addr, "alice", alice, "", "search ..."); r.code == 0 || !strings.Contains(r.stderr, "search for a word") {
		t.Fatalf("search with no word: %+v", r)
	}
}
