package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"runtime"
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

// A session refused at once, or one that only gets the help (here: no
// PTY, no command), is not activity: a connection that only opens such
// sessions is still closed at the open timeout.
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

// stacksBlockedOnSSHWindow counts the goroutines of the process that wait
// for a peer to open its SSH channel window.
func stacksBlockedOnSSHWindow() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("ssh.(*window).reserve"))
}

// Revocations run side by side: clients that stopped reading, revoked
// together, are all disconnected after about one revokeWait, not one
// revokeWait each in turn.
func TestStuckRevokedSessionsAreClosedTogether(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	posterKey := newKey(t)
	stuckKeys := []gossh.Signer{newKey(t), newKey(t), newKey(t)}
	lines := authorizedLine(posterKey, "")
	for _, k := range stuckKeys {
		lines += authorizedLine(k, "")
	}
	writeKeys(t, keysFile, lines)
	ts := startServer(t, testConfig(t, dir, "--authorized-keys", keysFile))

	// History that fills a big screen, so that each redraw is large.
	poster := dial(t, ts.addr, "poster", posterKey, 80, 24)
	poster.WaitFor("#lobby")
	for i := range 60 {
		pad := strings.Repeat(fmt.Sprintf("%x ", sha256.Sum256([]byte(fmt.Sprint(i)))), 25)
		poster.Type(fmt.Sprintf("\x1b[200~%s line-%02d\x1b[201~\r", pad[:1400], i))
		if i%4 == 3 {
			poster.WaitFor(fmt.Sprintf("line-%02d", i))
		}
	}
	poster.WaitFor("line-59")

	ended := make([]chan time.Time, len(stuckKeys))
	for i, k := range stuckKeys {
		before := stacksBlockedOnSSHWindow()
		stuck := dialNoRead(t, ts.addr, fmt.Sprintf("stuck%d", i), k, 500, 200)
		eventually(t, "the stuck client to be online", func() bool { return ts.srv.hub.Online() == 2+i })
		resizes := 0
		eventually(t, "the stuck client's SSH window to fill", func() bool {
			if stacksBlockedOnSSHWindow() > before {
				return true
			}
			resizes++
			return stuck.WindowChange(200, 500-resizes%2) != nil
		})
		ended[i] = make(chan time.Time, 1)
		go func() { stuck.Wait(); ended[i] <- time.Now() }()
	}

	writeKeys(t, keysFile, authorizedLine(posterKey, ""))
	var first, last time.Time
	for i := range ended {
		select {
		case at := <-ended[i]:
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
		case <-time.After(waitTimeout):
			t.Fatalf("revoked stuck session %d was never ended", i)
		}
	}
	if spread := last.Sub(first); spread >= revokeWait {
		t.Fatalf("the stuck sessions ended %v apart; revoked together, they should end within one revokeWait (%v)", spread, revokeWait)
	}
	poster.Line("still here")
	poster.WaitFor("still here")
}

// A file restored while its revocations are still running stops them:
// each revocation asks the file again when its turn comes.
func TestRestoredFileStopsTheRevocationsInFlight(t *testing.T) {
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "authorized_keys")
	k, other := newKey(t), newKey(t)
	full := authorizedLine(k, "") + authorizedLine(other, "")
	writeKeys(t, keysFile, full)
	cfg := testConfig(t, dir, "--authorized-keys", keysFile, "--max-conns-per-key", "0")
	cfg.maxRevoking = 2
	ts := startServer(t, cfg)

	const n = 20
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dial(t, ts.addr, "many", k, 80, 24)
	}
	for _, c := range clients {
		c.WaitFor("#lobby")
	}
	closed := func(c *client) bool {
		select {
		case <-c.closed:
			return true
		default:
			return false
		}
	}
	count := func(s string) int { return strings.Count(ts.logs.String(), s) }

	writeKeys(t, keysFile, authorizedLine(other, ""))
	eventually(t, "the first revoked session to end", func() bool {
		for _, c := range clients {
			if closed(c) {
				return true
			}
		}
		return false
	})
	writeKeys(t, keysFile, full)
	eventually(t, "every revocation to end or be skipped", func() bool {
		return count("key no longer authorized; ending session")+count("key admitted again") == n
	})
	revoked := count("key no longer authorized; ending session")
	if revoked > n/2 {
		t.Fatalf("%d of %d sessions were ended after the file was restored:\n%s", revoked, n, ts.logs.String())
	}
	eventually(t, "the revoked sessions to end", func() bool {
		open := 0
		for _, c := range clients {
			if !closed(c) {
				open++
			}
		}
		return open == n-revoked
	})
	for _, c := range clients {
		if !closed(c) {
			c.Line("still here")
			c.WaitFor("still here")
			break
		}
	}
}
