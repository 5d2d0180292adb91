package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Loose ends of issue 7 found after its fixes: sessions refused at once,
// session log lines and revocations.

// refusedSessionOutput opens a session on conn and returns what it was
// told, or ok false when the connection no longer opens sessions.
func refusedSessionOutput(t *testing.T, conn *gossh.Client) (out string, ok bool) {
	t.Helper()
	sess, err := conn.NewSession()
	if err != nil {
		return "", false
	}
	defer sess.Close()
	b, _ := sess.CombinedOutput("")
	return string(b), true
}

// A revoked key whose connection was authenticated before the revocation
// is told why once, and its connection is closed: it cannot keep the
// connection open by asking for a session again and again. The refusal
// lines are rate-limited like every other refusal.
func TestRevokedKeyRefusedSessionClosesItsConnection(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	k, other := newKey(t), newKey(t)
	writeKeys(t, keysFile, authorizedLine(k, "")+authorizedLine(other, ""))
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))
	const n = refusalLinesPerMinute + 3
	var conns []*gossh.Client
	for range n {
		conn, err := gossh.Dial("tcp", ts.addr, sshConfig("revoked", k))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns = append(conns, conn)
	}
	writeKeys(t, keysFile, authorizedLine(other, ""))
	for _, conn := range conns {
		out, ok := refusedSessionOutput(t, conn)
		if !ok {
			t.Fatal("the revoked key's connection was closed before it was told why")
		}
		if !strings.Contains(out, "no longer authorized") {
			t.Fatalf("the revoked key's session was told %q", out)
		}
		waitServerClose(t, conn)
	}
	if got := strings.Count(ts.logs.String(), "refusing session"); got > refusalLinesPerMinute {
		t.Fatalf("%d refused-session lines from one address; want at most %d", got, refusalLinesPerMinute)
	}
}

// A session refused at once (here: without a PTY) is not activity: a
// connection that only opens such sessions is still closed at the open
// timeout.
func TestRefusedSessionsDoNotKeepAConnectionOpen(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir(), "--open-timeout", "1s", "--idle-timeout", "1s"))
	conn, err := gossh.Dial("tcp", ts.addr, sshConfig("looper", newKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	deadline := time.Now().Add(waitTimeout)
	sessions := 0
	for {
		out, ok := refusedSessionOutput(t, conn)
		if !ok {
			break
		}
		if out != "" && !strings.Contains(out, "connect with a terminal") {
			t.Fatalf("a session without a PTY was told %q", out)
		}
		sessions++
		if time.Now().After(deadline) {
			t.Fatalf("a connection opening only refused sessions is still open after %d of them", sessions)
		}
	}
	waitServerClose(t, conn)
}

// Session start and end lines have a per-source budget like refusal
// lines: one connection looping sessions cannot flood the log, and the
// lines it had suppressed are counted.
func TestSessionLinesAreRateLimitedPerSource(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	conn, err := gossh.Dial("tcp", ts.addr, sshConfig("looper", newKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range sessionLinesPerMinute {
		if _, ok := refusedSessionOutput(t, conn); !ok {
			t.Fatalf("the connection closed after %d sessions", i)
		}
	}
	conn.Close()
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}
	logs := ts.logs.String()
	if n := strings.Count(logs, "session start") + strings.Count(logs, "session end"); n > sessionLinesPerMinute {
		t.Fatalf("%d session lines from one address; want at most %d", n, sessionLinesPerMinute)
	}
	if !strings.Contains(logs, "session lines suppressed") || !strings.Contains(logs, fmt.Sprintf("lines=%d", sessionLinesPerMinute)) {
		t.Fatalf("the %d suppressed session lines are not counted in the log:\n%s", sessionLinesPerMinute, logs)
	}
}
