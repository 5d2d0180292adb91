package ssh

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// sshchat patch tests (see PATCHES.md).

// A client that sends window changes but never starts a shell must not
// block the session's request loop: later requests are still answered.
func TestWindowChangesWithoutShellDoNotBlockRequests(t *testing.T) {
	t.Parallel()
	session, client, cleanup := newTestSession(t, &Server{Handler: func(Session) {}}, nil)
	defer cleanup()
	if err := session.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := session.WindowChange(24+i, 80+i); err != nil {
			t.Fatal(err)
		}
	}
	replied := make(chan error, 1)
	go func() { _, err := session.SendRequest("unknown-request", true, nil); replied <- err }()
	select {
	case <-replied:
	case <-time.After(10 * time.Second):
		client.Close()
		t.Fatal("the request loop is stuck after window changes without a shell")
	}
}

// The handler sees the newest window size when it starts late.
func TestLateHandlerSeesNewestWindow(t *testing.T) {
	t.Parallel()
	got := make(chan Window, 1)
	session, _, cleanup := newTestSession(t, &Server{Handler: func(s Session) {
		_, winCh, _ := s.Pty()
		got <- <-winCh
	}}, nil)
	defer cleanup()
	if err := session.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := session.WindowChange(30, 100); err != nil {
		t.Fatal(err)
	}
	if err := session.WindowChange(40, 120); err != nil {
		t.Fatal(err)
	}
	// A request with a reply orders the shell after the window changes.
	if _, err := session.SendRequest("unknown-request", true, nil); err != nil {
		t.Fatal(err)
	}
	if err := session.Shell(); err != nil {
		t.Fatal(err)
	}
	if w := <-got; w.Width != 120 || w.Height != 40 {
		t.Fatalf("handler saw %dx%d; want the newest size 120x40", w.Width, w.Height)
	}
}

// Env requests are bounded per session, replace earlier values, and pass
// through EnvCallback.
func TestEnvIsBoundedAndFiltered(t *testing.T) {
	t.Parallel()
	got := make(chan []string, 1)
	session, _, cleanup := newTestSession(t, &Server{
		Handler:     func(s Session) { got <- s.Environ() },
		EnvCallback: func(_ Context, key, _ string) bool { return key != "REFUSED" },
	}, nil)
	defer cleanup()
	setenv := func(k, v string) bool {
		t.Helper()
		ok, err := session.SendRequest("env", true, gossh.Marshal(struct{ Key, Value string }{k, v}))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if setenv("REFUSED", "x") {
		t.Fatal("EnvCallback's refusal was accepted")
	}
	if !setenv("LANG", "C") || !setenv("LANG", "C.UTF-8") {
		t.Fatal("LANG refused")
	}
	if setenv("", "x") || setenv("A=B", "x") {
		t.Fatal("an empty key or a key with '=' was accepted")
	}
	if setenv("BIG", string(make([]byte, MaxEnvBytes))) {
		t.Fatal("a value over MaxEnvBytes was accepted")
	}
	accepted := 1
	for i := range 2 * MaxEnvVars {
		if setenv(fmt.Sprintf("V%d", i), "1") {
			accepted++
		}
	}
	if accepted != MaxEnvVars {
		t.Fatalf("%d variables accepted; want MaxEnvVars = %d", accepted, MaxEnvVars)
	}
	if err := session.Shell(); err != nil {
		t.Fatal(err)
	}
	env := <-got
	if len(env) != MaxEnvVars || env[0] != "LANG=C.UTF-8" {
		t.Fatalf("environment %d entries starting %q; want %d starting LANG=C.UTF-8", len(env), env[0], MaxEnvVars)
	}
}

// AuthenticatedCallback runs once per connection, after authentication,
// with the key in the context; returning false closes the connection.
func TestAuthenticatedCallback(t *testing.T) {
	t.Parallel()
	called := make(chan PublicKey, 2)
	refuse := false
	srv := &Server{
		Handler:          func(s Session) { _, _ = s.Write([]byte("ok")) },
		PublicKeyHandler: func(Context, PublicKey) bool { return true },
		AuthenticatedCallback: func(ctx Context, _ *gossh.ServerConn) bool {
			called <- ctx.Value(ContextKeyPublicKey).(PublicKey)
			return !refuse
		},
	}
	signer, err := generateSigner()
	if err != nil {
		t.Fatal(err)
	}
	cfg := &gossh.ClientConfig{User: "u", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)}}
	session, _, cleanup := newTestSession(t, srv, cfg)
	out, err := session.Output("")
	cleanup()
	if err != nil || string(out) != "ok" {
		t.Fatalf("session: %q %v", out, err)
	}
	if k := <-called; string(k.Marshal()) != string(signer.PublicKey().Marshal()) {
		t.Fatal("callback saw another key than the one that authenticated")
	}
	refuse = true
	l := newLocalListener()
	go srv.serveOnce(l)
	client, err := gossh.Dial("tcp", l.Addr().String(), &gossh.ClientConfig{User: "u", Auth: cfg.Auth, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	<-called
	if _, err := client.NewSession(); err == nil {
		t.Fatal("a session opened on a connection the callback refused")
	}
}

// stacksHolding counts the goroutines whose stack mentions fn.
func stacksHolding(fn string) int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// A connection refused by AuthenticatedCallback leaves no goroutine
// behind, even when its client queued more channels than x/crypto's mux
// buffers: the mux blocks handing them over until someone takes them.
// Not parallel: it counts goroutines.
func TestAuthenticatedCallbackRefusalDrainsQueuedChannels(t *testing.T) {
	baseline := runtime.NumGoroutine()
	release := make(chan struct{})
	srv := &Server{
		Handler:               func(Session) {},
		PublicKeyHandler:      func(Context, PublicKey) bool { return true },
		AuthenticatedCallback: func(Context, *gossh.ServerConn) bool { <-release; return false },
	}
	signer, err := generateSigner()
	if err != nil {
		t.Fatal(err)
	}
	l := newLocalListener()
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.serveOnce(l) }()
	client, err := gossh.Dial("tcp", l.Addr().String(), &gossh.ClientConfig{User: "u", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	const queued = 40 // more than the mux's buffer of 16
	opened := make(chan struct{}, queued)
	for range queued {
		go func() {
			if ch, _, err := client.OpenChannel("session", nil); err == nil {
				_ = ch.Close()
			}
			opened <- struct{}{}
		}()
	}
	// Wait until the server's mux is blocked handing over a channel.
	deadline := time.Now().Add(10 * time.Second)
	for stacksHolding("(*mux).handleChannelOpen") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server never queued the client's channels")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	for range queued {
		<-opened
	}
	<-served
	_ = client.Close()
	_ = l.Close()
	deadline = time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline+2 || stacksHolding("(*mux).loop") > 0 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, baseline %d; the refused connection left:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A handler reading Pty() while the client resizes its window does not
// race with the request loop recording the new size (run with -race).
func TestPtyWindowReadDuringWindowChanges(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	last := make(chan Window, 1)
	session, _, cleanup := newTestSession(t, &Server{Handler: func(s Session) {
		for {
			select {
			case <-stop:
				// Read once more: the loop's last read may have come
				// before the changes were applied (a busy machine).
				pty, _, _ := s.Pty()
				last <- pty.Window
				return
			default:
			}
			_, _, _ = s.Pty() // concurrent with the window changes
		}
	}}, nil)
	defer cleanup()
	if err := session.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := session.Shell(); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := session.WindowChange(24+i, 80+i); err != nil {
			t.Fatal(err)
		}
	}
	// A request with a reply orders the check after the window changes.
	if _, err := session.SendRequest("unknown-request", true, nil); err != nil {
		t.Fatal(err)
	}
	close(stop)
	if w := <-last; w.Width != 129 || w.Height != 73 {
		t.Fatalf("Pty() reports %dx%d after the last change; want 129x73", w.Width, w.Height)
	}
}

// Global requests are answered by the connection's own loop, between new
// channels: no goroutine per connection waits for them (sshchat patch 5).
func TestGlobalRequestsAreServedByTheConnectionLoop(t *testing.T) {
	t.Parallel()
	session, client, cleanup := newTestSession(t, &Server{
		Handler: func(Session) {},
		RequestHandlers: map[string]RequestHandler{
			"ping@sshchat": func(Context, *Server, *gossh.Request) (bool, []byte) { return true, []byte("pong") },
		},
	}, nil)
	defer cleanup()
	ok, payload, err := client.SendRequest("ping@sshchat", true, nil)
	if err != nil || !ok || string(payload) != "pong" {
		t.Fatalf("handled request: ok=%v payload=%q err=%v", ok, payload, err)
	}
	if ok, _, err := client.SendRequest("unknown@sshchat", true, nil); err != nil || ok {
		t.Fatalf("unknown request: ok=%v err=%v", ok, err)
	}
	// Channels are still served after requests.
	if _, err := session.SendRequest("unknown-request", true, nil); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	if s := string(buf[:runtime.Stack(buf, true)]); strings.Contains(s, "(*Server).handleRequests") {
		t.Fatal("a goroutine waits for global requests")
	}
}
