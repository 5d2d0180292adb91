package main

import (
	"bytes"
	"runtime"
	"runtime/pprof"
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
