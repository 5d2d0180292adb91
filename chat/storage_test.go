package chat

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"sshchat/model"
)

// TestStorageTroubleIsToldLoggedOnceAndRecovers replays issue 7 item 11
// with a real SQLite file whose write lock another process holds: sends
// fail with a sentence saying what is wrong (nothing stored, nothing
// lost), reading and logging in still work, the log has one line when
// storage degrades and one when it recovers, and the next message after
// the lock is gone is sent and stored without a restart.
func TestStorageTroubleIsToldLoggedOnceAndRecovers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	db, err := model.Open(path, model.WithBusyTimeout(30*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	lg := &recLogger{}
	h, err := NewHub(db, lg, Options{RateBurst: 1000, RatePerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close(context.Background())
		db.Close()
	})
	alice := connect(t, h, account(t, h, "alice"))
	bobAcct := account(t, h, "bob")
	if _, err := alice.Send(ctx, Lobby, "before"); err != nil {
		t.Fatal(err)
	}
	// Bob, offline, has a message waiting (a login with nothing waiting
	// claims nothing, so it writes nothing and has nothing to be told).
	if _, err := alice.Send(ctx, DirectConv(alice.Snapshot().Me.ID, bobAcct.ID), "waiting"); err != nil {
		t.Fatal(err)
	}

	// Another process takes the write lock.
	other, err := sql.Open("sqlite3", "file:"+filepath.ToSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}

	const want = "the server cannot store anything right now; your message was not sent"
	for i := range 20 {
		_, err := alice.Send(ctx, Lobby, "while locked")
		if !errors.Is(err, ErrStorageUnavailable) || err.Error() != want {
			t.Fatalf("send %d while locked: %v, want %q", i, err, want)
		}
	}
	if _, err := alice.Exec(ctx, Lobby, "/nick alicia"); !errors.Is(err, ErrStorageUnavailable) {
		t.Fatalf("/nick while locked: %v", err)
	}
	_, err = h.Register(ctx, Key{Fingerprint: "SHA256:new", Authorized: "x"}, "newcomer")
	if !errors.Is(err, ErrStorageUnavailable) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("register while locked: %v", err)
	}
	// What only reads still works, and a login gets in (told why its
	// offline messages wait).
	if hist, err := alice.History(ctx, Lobby, 0, 10); err != nil || len(hist) != 1 || hist[0].Body != "before" {
		t.Fatalf("history while locked: %+v, %v", hist, err)
	}
	bob := connect(t, h, bobAcct)
	if n := next[NoticeEvent](t, bob); !strings.HasPrefix(n.Text, "the server cannot store anything right now") {
		t.Fatalf("login notice: %q", n.Text)
	}

	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	m, err := alice.Send(ctx, Lobby, "after")
	if err != nil {
		t.Fatalf("send after the lock is gone: %v", err)
	}
	if ev := next[MessageEvent](t, bob); ev.Message.ID != m.ID {
		t.Fatalf("bob got %+v, want the message sent after recovery", ev.Message)
	}
	hist, err := db.History(ctx, string(Lobby), 0, 10, nil)
	if err != nil || len(hist) != 2 || hist[0].Body != "before" || hist[1].Body != "after" {
		t.Fatalf("stored history %+v, %v; want before and after only", hist, err)
	}
	log := lg.text()
	if n := strings.Count(log, "storage degraded"); n != 1 {
		t.Errorf("%d 'storage degraded' lines, want 1:\n%s", n, log)
	}
	if n := strings.Count(log, "storage recovered"); n != 1 {
		t.Errorf("%d 'storage recovered' lines, want 1:\n%s", n, log)
	}
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "append messages") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("append failures logged on %d lines, want 1 (the degraded line):\n%s", n, log)
	}
}

// gateLogger records lines like recLogger, holding its first Error call
// (after entered is closed) until release is closed: a slow log write.
type gateLogger struct {
	recLogger
	once             sync.Once
	entered, release chan struct{}
}

func (l *gateLogger) Error(msg any, kv ...any) {
	first := false
	l.once.Do(func() { first = true })
	if first {
		close(l.entered)
		<-l.release
	}
	l.recLogger.Error(msg, kv...)
}

// TestStorageHealthLogFollowsItsState checks that a write that succeeds
// while the line saying storage degraded is still being written is logged
// after it: the log must end in the state the hub is in, not claim
// "degraded" for good while writes succeed.
func TestStorageHealthLogFollowsItsState(t *testing.T) {
	lg := &gateLogger{entered: make(chan struct{}), release: make(chan struct{})}
	s := &storageHealth{log: lg}
	failed := make(chan struct{})
	go func() {
		defer close(failed)
		s.failed("append messages", model.ErrUnavailable)
	}()
	<-lg.entered // the failure is being logged
	recovered := make(chan struct{})
	go func() {
		defer close(recovered)
		s.ok()
	}()
	// Give the success its chance to run now; it may also wait its turn.
	deadline := time.Now().Add(200 * time.Millisecond)
	for waiting := true; waiting && time.Now().Before(deadline); {
		select {
		case <-recovered:
			waiting = false
		default:
			runtime.Gosched()
		}
	}
	close(lg.release)
	<-failed
	<-recovered
	if got := lg.text(); !strings.HasPrefix(got, "ERROR storage degraded") || !strings.Contains(got, "\nINFO storage recovered") {
		t.Fatalf("log, in order:\n%s\nwant the degraded line, then the recovered one", got)
	}
}
