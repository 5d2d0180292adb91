package ssh

import (
	"fmt"
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
