package main

import (
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// An administrator's `ssh host admin limits` lists every limit with its
// configured value and names the key and source holding the most
// connections and sessions; a non-administrator gets exit 1.
func TestAdminLimitsListsEveryLimitAndWhoIsNearest(t *testing.T) {
	ts, boss := adminServer(t, "--max-new-accounts-per-source", "5", "--max-conns-per-key", "7", "--max-sessions-per-key", "9",
		"--max-conns-per-source", "50", "--max-startups-per-source", "11", "--max-startups", "20:30:40", "--msg-rate", "3", "--msg-burst", "8")
	carol := newKey(t)
	mustRun(t, ts.addr, "carol", carol, "", "who")
	for range 3 {
		startTail(t, ts.addr, "carol", carol, "tail lobby")
	}
	fp := gossh.FingerprintSHA256(carol.PublicKey())
	var out string
	eventually(t, "three tails of carol's key to be counted", func() bool {
		out = mustRun(t, ts.addr, "boss", boss, "", "admin limits")
		return strings.Contains(out, "sessions per key (--max-sessions-per-key): 9; most: "+fp+" (carol) 3")
	})
	for _, want := range []string{
		"connections (--max-sessions + 256): 5256; open now: ",
		"sessions (--max-sessions): 5000; open now: ",
		"unauthenticated connections (--max-startups): 20:30:40 ",
		"unauthenticated connections per source (--max-startups-per-source): 11; most: ",
		"connections per source (--max-conns-per-source): 50; most: 127.0.0.1 4",
		"connections per key (--max-conns-per-key): 7; most: " + fp + " (carol) 3, SHA256:",
		"sessions per connection: 10",
		"new accounts per source (--max-new-accounts-per-source): 5 an hour; most this hour: 127.0.0.1 2",
		"wrong link codes: 5 per source, 10 per account",
		"timeouts: login 30s (--login-timeout), session start 30s (--open-timeout), idle without a session 1m0s (--idle-timeout)",
		"message rate (--msg-rate, --msg-burst): 3 per second per user, bursts of 8",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("admin limits does not say %q:\n%s", want, out)
		}
	}
	r := runCmd(t, ts.addr, "carol", carol, "", "admin limits")
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("admin limits by a non-admin: exit %d, %q", r.code, r.stdout)
	}
	requireOneLine(t, "admin limits by a non-admin", r.stderr, "not allowed")
}
