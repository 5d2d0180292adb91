package chat

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
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

	const want = "the server cannot store messages right now; yours was not sent"
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
	if n := next[NoticeEvent](t, bob); !strings.HasPrefix(n.Text, "the server cannot store messages right now") {
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
