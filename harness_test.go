package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/vt"
	gossh "golang.org/x/crypto/ssh"
)

// testServer is a real sshchat server on a loopback port.
type testServer struct {
	t    *testing.T
	cfg  Config
	srv  *server
	addr string
	logs *syncBuffer
	done chan error
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testConfig returns a configuration with everything under dir.
func testConfig(t *testing.T, dir string, args ...string) Config {
	t.Helper()
	base := []string{"--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--host-key", filepath.Join(dir, "ssh", "host_ed25519"), "--name", "testchat", "--shutdown-timeout", "3s", "--log-level", "debug",
		"--msg-rate", "1000", "--msg-burst", "1000", "--max-new-accounts-per-source", "0"}
	cfg, err := parseConfig(append(base, args...), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// startServer starts a server with cfg; it is shut down at cleanup.
func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	srv, err := newServer(cfg, newLogger(logs, cfg.LogLevel))
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ts := &testServer{t: t, cfg: cfg, srv: srv, addr: l.Addr().String(), logs: logs, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(l) }()
	t.Cleanup(func() { ts.stop() })
	return ts
}

// stop shuts the server down gracefully (idempotent).
func (ts *testServer) stop() error {
	if ts.srv == nil {
		return nil
	}
	err := ts.srv.shutdown(ts.cfg.ShutdownWait)
	<-ts.done
	ts.srv = nil
	return err
}

// newKey makes an ed25519 signer.
func newKey(t testing.TB) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// client is an interactive SSH session with a PTY whose output feeds a
// terminal emulator, as a person's terminal would.
type client struct {
	t     *testing.T
	name  string
	conn  *gossh.Client
	sess  *gossh.Session
	stdin io.WriteCloser
	mu    sync.Mutex
	term  *vt.Emulator
	raw   bytes.Buffer
	// termBroken is set when the emulator failed; guarded by mu.
	termBroken bool
	closed     chan struct{}
	exit       error
}

// dial connects as user with key and opens a shell with a w×h PTY.
func dial(t *testing.T, addr, user string, key gossh.Signer, w, h int) *client {
	t.Helper()
	c, err := dialErr(t, addr, user, key, w, h)
	if err != nil {
		t.Fatalf("dial %s: %v", user, err)
	}
	return c
}

func dialErr(t *testing.T, addr, user string, key gossh.Signer, w, h int) (*client, error) {
	return dialConfig(t, addr, &gossh.ClientConfig{
		User:            user,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	}, w, h)
}

// dialConfig opens a PTY shell with any client configuration.
func dialConfig(t *testing.T, addr string, cfg *gossh.ClientConfig, w, h int) (*client, error) {
	user := cfg.User
	conn, err := gossh.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	sess, err := conn.NewSession()
	if err != nil {
		conn.Close()
		return nil, err
	}
	// The emulator stays small even when the PTY request is huge.
	c := &client{t: t, name: user, conn: conn, sess: sess, term: vt.NewEmulator(min(w, 300), min(h, 100)), closed: make(chan struct{})}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return nil, err
	}
	sess.Stderr = &lockedWriter{c: c}
	if c.stdin, err = sess.StdinPipe(); err != nil {
		return nil, err
	}
	if err := sess.RequestPty("xterm-256color", h, w, gossh.TerminalModes{}); err != nil {
		return nil, err
	}
	if err := sess.Shell(); err != nil {
		return nil, err
	}
	// Answer the terminal's replies to the program's queries, as a real
	// terminal does.
	go func() {
		buf := make([]byte, 1024)
		for {
			n, err := c.term.Read(buf)
			if n > 0 {
				c.stdin.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		buf := make([]byte, 32*1024)
		for {
			n, err := stdout.Read(buf)
			if n > 0 {
				c.mu.Lock()
				c.raw.Write(buf[:n])
				c.feed(buf[:n])
				c.mu.Unlock()
			}
			if err != nil {
				break
			}
		}
		c.exit = sess.Wait()
		close(c.closed)
	}()
	t.Cleanup(c.Close)
	return c, nil
}

// feed writes output to the emulator. The emulator can panic on frames
// drawn for a window size it was not told about (resize tests); that is a
// limit of the test terminal, so it is contained and the screen goes stale.
func (c *client) feed(p []byte) {
	if c.termBroken {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			c.termBroken = true
		}
	}()
	c.term.Write(p)
}

// Resize changes the PTY size and the emulator's.
func (c *client) Resize(w, h int) {
	c.t.Helper()
	c.mu.Lock()
	c.term.Resize(min(w, 300), min(h, 100))
	c.mu.Unlock()
	if err := c.sess.WindowChange(h, w); err != nil {
		c.t.Fatalf("%s: window change: %v", c.name, err)
	}
}

// lockedWriter appends stderr to the raw log.
type lockedWriter struct{ c *client }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.raw.Write(p)
}

// Close ends the connection.
func (c *client) Close() {
	c.conn.Close()
	// Ends the reply forwarder; vt's own Close is not safe alongside Read.
	if pw, ok := c.term.InputPipe().(io.Closer); ok {
		pw.Close()
	}
}

// Type sends keystrokes.
func (c *client) Type(s string) {
	c.t.Helper()
	if _, err := c.stdin.Write([]byte(s)); err != nil {
		c.t.Logf("%s: type: %v", c.name, err)
	}
}

// Line types s and Enter.
func (c *client) Line(s string) { c.Type(s + "\r") }

// Screen is the emulated screen's text.
func (c *client) Screen() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.term.String()
}

// Raw is every byte received so far.
func (c *client) Raw() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw.String()
}

// WaitFor polls until the screen contains every one of want.
func (c *client) WaitFor(want ...string) {
	c.t.Helper()
	c.waitUntil(func(s string) bool {
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	}, fmt.Sprintf("screen to contain %q", want))
}

// WaitGone polls until the screen no longer contains s.
func (c *client) WaitGone(s string) {
	c.t.Helper()
	c.waitUntil(func(scr string) bool { return !strings.Contains(scr, s) }, fmt.Sprintf("screen to lose %q", s))
}

func (c *client) waitUntil(ok func(string) bool, what string) {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		s := c.Screen()
		if ok(s) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: timed out waiting for %s; screen:\n%s", c.name, what, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitRaw polls until the raw stream (stdout and stderr) contains s.
func (c *client) WaitRaw(s string) {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !strings.Contains(c.Raw(), s) {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: timed out waiting for %q in output:\n%q", c.name, s, c.Raw())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitClosed waits for the session to end and returns its exit error.
func (c *client) WaitClosed() error {
	c.t.Helper()
	select {
	case <-c.closed:
		return c.exit
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: session did not end; screen:\n%s", c.name, c.Screen())
		return nil
	}
}

// waitTimeout bounds every wait of the end-to-end tests. Waits poll and
// return as soon as their condition holds; the bound only matters when a
// test fails, and is generous because CI runs packages in parallel on two
// cores.
const waitTimeout = 30 * time.Second

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
