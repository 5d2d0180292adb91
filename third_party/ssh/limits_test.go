package ssh

import (
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
