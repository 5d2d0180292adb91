package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Resource-attack tests (issue 7, items 1-5): each runs a bounded version
// of the attack and asserts that goroutines and memory come back.

// goroutineSlack is how many goroutines above the baseline a test accepts
// once the attack is over (timers, runtime helpers finishing up).
const goroutineSlack = 8

// waitGoroutines polls until at most baseline+goroutineSlack goroutines run.
func waitGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > baseline+goroutineSlack {
		if time.Now().After(deadline) {
			var b bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), baseline, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sshConfig is a client configuration logging in with key.
func sshConfig(user string, key gossh.Signer) *gossh.ClientConfig {
	return &gossh.ClientConfig{
		User: user, Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	}
}

// Connections that request a PTY and resize it but never start a shell
// leave no goroutine behind once they close.
func TestWindowChangesWithoutShellLeaveNoGoroutine(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	baseline := runtime.NumGoroutine()
	key := newKey(t)
	for range 20 {
		conn, err := gossh.Dial("tcp", ts.addr, sshConfig("resizer", key))
		if err != nil {
			t.Fatal(err)
		}
		sess, err := conn.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.RequestPty("xterm", 24, 80, nil); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := sess.WindowChange(24+i, 80+i); err != nil {
				t.Fatal(err)
			}
		}
		// A request with a reply: the window changes have been handled.
		replied := make(chan struct{})
		go func() { sess.SendRequest("sshchat-probe", true, nil); close(replied) }()
		select {
		case <-replied:
		case <-time.After(5 * time.Second):
			conn.Close()
			t.Fatal("the session's request loop is stuck after window changes")
		}
		conn.Close()
	}
	waitGoroutines(t, baseline)
}

// 100,000 env requests on one session leave the heap where it was, and
// the session still opens the chat.
func TestEnvRequestFloodIsBounded(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	conn, err := gossh.Dial("tcp", ts.addr, sshConfig("envflood", newKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	if err := sess.Setenv("LANG", "C.UTF-8"); err != nil {
		t.Fatalf("LANG: %v", err)
	}
	before := heap()
	value := strings.Repeat("v", 250)
	for i := range 100_000 {
		key := fmt.Sprintf("LC_%d", i) // half look like locale variables
		if i%2 == 1 {
			key = fmt.Sprintf("X%d", i)
		}
		if _, err := sess.SendRequest("env", false, gossh.Marshal(struct{ Key, Value string }{key, value})); err != nil {
			t.Fatal(err)
		}
	}
	// Answered in order: every request before it has been handled.
	if err := sess.Setenv("EVIL", "x"); err == nil {
		t.Fatal("a variable the UI does not use was accepted")
	}
	if grew := int64(heap()) - int64(before); grew > 8<<20 {
		t.Fatalf("heap grew by %d bytes after 100,000 env requests", grew)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 24, 80, nil); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	readUntil(t, stdout, "#lobby")
}

// readUntil reads r until its output contains want.
func readUntil(t *testing.T, r io.Reader, want string) {
	t.Helper()
	found := make(chan struct{})
	go func() {
		var seen []byte
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			seen = append(seen, buf[:n]...)
			if bytes.Contains(seen, []byte(want)) {
				close(found)
				io.Copy(io.Discard, r)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-found:
	case <-time.After(waitTimeout):
		t.Fatalf("output never contained %q", want)
	}
}

// Session channels opened without any request are capped per connection
// where they are accepted, and cost no goroutine beyond the cap.
func TestBareChannelsPerConnectionAreCapped(t *testing.T) {
	ts := startServer(t, testConfig(t, t.TempDir()))
	baseline := runtime.NumGoroutine()
	conn, err := gossh.Dial("tcp", ts.addr, sshConfig("channels", newKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	opened := 0
	for range 300 {
		_, _, err := conn.OpenChannel("session", nil)
		if err == nil {
			opened++
			continue
		}
		var oe *gossh.OpenChannelError
		if !errors.As(err, &oe) || oe.Reason != gossh.ResourceShortage || !strings.Contains(oe.Message, "sessions per connection") {
			t.Fatalf("extra channel: %v; want a resource-shortage refusal", err)
		}
	}
	if opened != maxSessionsPerConn {
		t.Fatalf("%d channels opened; want %d", opened, maxSessionsPerConn)
	}
	if n := runtime.NumGoroutine() - baseline; n > 20*maxSessionsPerConn {
		t.Fatalf("%d goroutines for %d open channels", n, opened)
	}
	conn.Close()
	waitGoroutines(t, baseline)
}
