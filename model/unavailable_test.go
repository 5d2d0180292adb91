package model

// SQLite only: locks of the database file, SQLite's result codes and its
// one writer connection. PostgreSQL's side is in dialect_test.go
// (TestPostgresErrorsMapToSentinels, TestReadOnlyPostgreSQLIsUnavailable-
// ThenRecovers, TestOpenURLOfAStoppedPostgreSQLIsUnavailable).

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
)

// lockDB holds the write lock of the database at path from another
// connection (as another process would) until the returned func is called.
func lockDB(t testing.TB, path string) (release func()) {
	t.Helper()
	ctx := context.Background()
	other, err := sql.Open("sqlite3", "file:"+filepath.ToSlash(path)+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Error(err)
		}
		_ = conn.Close()
		_ = other.Close()
	}
	t.Cleanup(release)
	return release
}

// TestLockedDatabaseIsUnavailableThenRecovers checks that a write refused
// because another process holds the lock is ErrUnavailable, that reads
// still work meanwhile, and that writes work again once the lock is gone.
func TestLockedDatabaseIsUnavailableThenRecovers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	d, err := Open(path, WithBusyTimeout(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	a := mustUser(t, d, "alice")
	appendN(t, d, "#lobby", 1, "before", a)

	release := lockDB(t, path)
	msg := &Message{Conv: "#lobby", SenderID: a.ID, SenderHandle: "alice", Body: "locked out"}
	if err := d.AppendMessages(ctx, []*Message{msg}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("append while locked: %v, want ErrUnavailable", err)
	}
	if err := d.MarkRead(ctx, a.ID, "#lobby", 1); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("mark read while locked: %v, want ErrUnavailable", err)
	}
	if h, err := d.History(ctx, "#lobby", 0, 10, nil); err != nil || len(h) != 1 {
		t.Fatalf("history while locked: %v, %v", h, err)
	}
	release()
	if err := d.AppendMessages(ctx, []*Message{msg}); err != nil {
		t.Fatalf("append after the lock is gone: %v", err)
	}
}

// TestStorageTroubleCodesAreUnavailable checks which SQLite results count
// as "the storage is unavailable" (a state that may pass) and that others,
// like a constraint or a corrupt file, do not.
func TestStorageTroubleCodesAreUnavailable(t *testing.T) {
	d, _ := openTest(t)
	for _, code := range []sqlite3.ErrNo{sqlite3.ErrBusy, sqlite3.ErrFull,
		sqlite3.ErrReadonly, sqlite3.ErrIoErr, sqlite3.ErrCantOpen, sqlite3.ErrPerm} {
		err := d.wrap("op", sqlite3.Error{Code: code})
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("code %d: %v, want ErrUnavailable", code, err)
		}
		var se sqlite3.Error
		if !errors.As(err, &se) || se.Code != code {
			t.Errorf("code %d: driver error not kept in %v", code, err)
		}
	}
	for _, code := range []sqlite3.ErrNo{sqlite3.ErrCorrupt, sqlite3.ErrMisuse, sqlite3.ErrError, sqlite3.ErrLocked} {
		if err := d.wrap("op", sqlite3.Error{Code: code}); errors.Is(err, ErrUnavailable) {
			t.Errorf("code %d counted as unavailable: %v", code, err)
		}
	}
}

// TestConflictWithinTheServerIsNotUnavailable checks that SQLITE_LOCKED, a
// conflict within one connection (another process gets SQLITE_BUSY, and
// there is no shared cache), is reported as the bug it is, not as storage
// trouble that would be told to users as passing.
func TestConflictWithinTheServerIsNotUnavailable(t *testing.T) {
	ctx := context.Background()
	d, _ := openTest(t)
	mustUser(t, d, "alice")
	tx, err := d.wdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	rows.Next() // a statement of this connection is reading users
	_, err = tx.ExecContext(ctx, `DROP TABLE contacts`)
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrLocked {
		t.Fatalf("drop while reading: %v, want SQLITE_LOCKED", err)
	}
	if err := d.wrap("op", err); errors.Is(err, ErrUnavailable) {
		t.Fatalf("a conflict within one connection counted as unavailable: %v", err)
	}
}
