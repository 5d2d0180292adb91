package model

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// openTest opens a fresh database in a temporary directory and closes it when
// the test ends.
func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chat.db")
	d, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d, path
}

// mustUser creates a user with one key named after handle.
func mustUser(t testing.TB, d *DB, handle string) User {
	t.Helper()
	u := User{Handle: handle, HandleKey: handle}
	k := Key{Fingerprint: "SHA256:" + handle, PublicKey: "ssh-ed25519 AAAA" + handle}
	if err := d.CreateUser(context.Background(), &u, &k); err != nil {
		t.Fatalf("CreateUser(%s): %v", handle, err)
	}
	return u
}

// SQLite only: the database file and its directory.
func TestOpenCreatesPrivateParentDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	d, err := Open(filepath.Join(dir, "chat.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("parent dir mode = %o, want 700", perm)
	}
}

// SQLite only: a file path as the driver's URI.
func TestOpenPathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "we?ird #dir%20", "chat?.db")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustUser(t, d, "alice")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the literal path: %v", err)
	}
}

// SQLite only: a file path.
func TestOpenRejectsEmptyPath(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

// SQLite only: the database file.
func TestOpenRejectsNonDatabaseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("this is not an SQLite database, just text. "+
		"It is long enough to contain a header page worth of bytes, more or less."), 0o600); err != nil {
		t.Fatal(err)
	}
	if d, err := Open(path); err == nil {
		d.Close()
		t.Fatal("Open accepted a text file")
	}
	if d, err := Open(t.TempDir()); err == nil {
		d.Close()
		t.Fatal("Open accepted a directory")
	}
}

// SQLite only: its PRAGMAs.
func TestPragmasAreDurable(t *testing.T) {
	d, _ := openTest(t)
	jm, syn, fk, err := d.Pragmas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if jm != "wal" || syn != 2 || fk != 1 {
		t.Fatalf("pragmas = %q/%d/%d, want wal/2 (FULL)/1", jm, syn, fk)
	}
}

func TestCreateUserAndLookups(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		u := mustUser(t, d, "alice")
		if u.ID == 0 || u.CreatedAt.IsZero() {
			t.Fatalf("CreateUser did not fill ID/CreatedAt: %+v", u)
		}
		for name, get := range map[string]func() (User, error){
			"fingerprint": func() (User, error) { return d.UserByFingerprint(ctx, "SHA256:alice") },
			"handle":      func() (User, error) { return d.UserByHandle(ctx, "alice") },
			"id":          func() (User, error) { return d.UserByID(ctx, u.ID) },
		} {
			got, err := get()
			if err != nil {
				t.Fatalf("by %s: %v", name, err)
			}
			if got.ID != u.ID || got.Handle != "alice" || !got.CreatedAt.Equal(stored(dia, u.CreatedAt)) {
				t.Errorf("by %s = %+v, want %+v", name, got, u)
			}
		}
		keys, err := d.KeysOf(ctx, u.ID)
		if err != nil || len(keys) != 1 || keys[0].UserID != u.ID || keys[0].Fingerprint != "SHA256:alice" {
			t.Fatalf("KeysOf = %+v, %v", keys, err)
		}
	})
}

func TestLookupsOfMissingRowsReturnErrNotFound(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		if _, err := d.UserByFingerprint(ctx, "SHA256:nobody"); !errors.Is(err, ErrNotFound) {
			t.Errorf("UserByFingerprint: %v", err)
		}
		if _, err := d.UserByHandle(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Errorf("UserByHandle: %v", err)
		}
		if _, err := d.UserByID(ctx, 42); !errors.Is(err, ErrNotFound) {
			t.Errorf("UserByID: %v", err)
		}
		if err := d.RenameUser(ctx, Rename{UserID: 42, Handle: "x", HandleKey: "x"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("RenameUser: %v", err)
		}
		if err := d.TouchLastSeen(ctx, 42, time.Now()); !errors.Is(err, ErrNotFound) {
			t.Errorf("TouchLastSeen: %v", err)
		}
		if keys, err := d.KeysOf(ctx, 42); err != nil || len(keys) != 0 {
			t.Errorf("KeysOf = %v, %v", keys, err)
		}
	})
}

func TestCreateUserHandleConflict(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		d, _ := openOn(t, dia)
		mustUser(t, d, "alice")
		u := User{Handle: "Alice", HandleKey: "alice"}
		k := Key{Fingerprint: "SHA256:other", PublicKey: "x"}
		err := d.CreateUser(context.Background(), &u, &k)
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
		if u.ID != 0 || k.ID != 0 {
			t.Errorf("failed CreateUser changed its arguments: %+v %+v", u, k)
		}
	})
}

func TestCreateUserFingerprintConflictLeavesNoUser(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		mustUser(t, d, "alice")
		u := User{Handle: "bob", HandleKey: "bob"}
		k := Key{Fingerprint: "SHA256:alice", PublicKey: "x"}
		if err := d.CreateUser(ctx, &u, &k); !errors.Is(err, ErrConflict) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
		// The user insert must have been rolled back with the key insert.
		if _, err := d.UserByHandle(ctx, "bob"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("half-created user exists: %v", err)
		}
	})
}

func TestCreateUserRejectsNil(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		d, _ := openOn(t, dia)
		if err := d.CreateUser(context.Background(), nil, &Key{}); err == nil {
			t.Fatal("nil user accepted")
		}
	})
}

func TestRenameUser(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a := mustUser(t, d, "alice")
		mustUser(t, d, "bob")
		if err := d.RenameUser(ctx, Rename{UserID: a.ID, Handle: "bob", HandleKey: "bob"}); !errors.Is(err, ErrConflict) {
			t.Fatalf("rename onto taken handle: %v, want ErrConflict", err)
		}
		if err := d.RenameUser(ctx, Rename{UserID: a.ID, Handle: "Carol", HandleKey: "carol"}); err != nil {
			t.Fatal(err)
		}
		got, err := d.UserByHandle(ctx, "carol")
		if err != nil || got.ID != a.ID || got.Handle != "Carol" {
			t.Fatalf("after rename: %+v, %v", got, err)
		}
	})
}

func TestTouchLastSeen(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a := mustUser(t, d, "alice")
		at := time.Date(2026, 11, 21, 14, 0, 0, 123456789, time.FixedZone("X", 3600))
		if err := d.TouchLastSeen(ctx, a.ID, at); err != nil {
			t.Fatal(err)
		}
		got, err := d.UserByID(ctx, a.ID)
		if err != nil || !got.LastSeen.Equal(stored(dia, at)) {
			t.Fatalf("LastSeen = %v, %v; want %v", got.LastSeen, err, at)
		}
	})
}

func TestTouchLastSeenAllWritesEachAndSkipsUnknown(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		at := time.Date(2026, 11, 21, 14, 0, 0, 0, time.UTC)
		seen := map[uint64]time.Time{a.ID: at, b.ID: at.Add(time.Minute), 4242: at}
		if err := d.TouchLastSeenAll(ctx, seen); err != nil {
			t.Fatal(err)
		}
		for _, u := range []User{a, b} {
			got, err := d.UserByID(ctx, u.ID)
			if err != nil || !got.LastSeen.Equal(seen[u.ID]) {
				t.Fatalf("%s LastSeen = %v, %v; want %v", u.Handle, got.LastSeen, err, seen[u.ID])
			}
		}
	})
}

func TestContactsAndBlocks(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b, c := mustUser(t, d, "alice"), mustUser(t, d, "bob"), mustUser(t, d, "carol")

		for range 2 { // idempotent
			if err := d.AddContact(ctx, a.ID, c.ID); err != nil {
				t.Fatal(err)
			}
			if err := d.AddContact(ctx, a.ID, b.ID); err != nil {
				t.Fatal(err)
			}
		}
		got, err := d.ContactsOf(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Handle != "bob" || got[1].Handle != "carol" {
			t.Fatalf("ContactsOf = %+v, want bob, carol", got)
		}
		if err := d.AddContact(ctx, a.ID, 9999); !errors.Is(err, ErrNotFound) {
			t.Errorf("AddContact(unknown user) = %v, want ErrNotFound", err)
		}
		if err := d.RemoveContact(ctx, a.ID, b.ID); err != nil {
			t.Fatal(err)
		}
		if err := d.RemoveContact(ctx, a.ID, b.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second RemoveContact = %v, want ErrNotFound", err)
		}
		if got, _ := d.ContactsOf(ctx, a.ID); len(got) != 1 || got[0].ID != c.ID {
			t.Errorf("after remove: %+v", got)
		}

		for range 2 {
			if err := d.Block(ctx, a.ID, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Block(ctx, a.ID, b.ID); err != nil {
			t.Fatal(err)
		}
		ids, err := d.BlockedBy(ctx, a.ID)
		if err != nil || !slices.Equal(ids, []uint64{b.ID, c.ID}) {
			t.Fatalf("BlockedBy = %v, %v", ids, err)
		}
		if ok, err := d.IsBlocked(ctx, a.ID, c.ID); err != nil || !ok {
			t.Errorf("IsBlocked(a, c) = %v, %v", ok, err)
		}
		if ok, err := d.IsBlocked(ctx, c.ID, a.ID); err != nil || ok {
			t.Errorf("IsBlocked(c, a) = %v, %v (blocks are one-way)", ok, err)
		}
		if err := d.Unblock(ctx, a.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		if err := d.Unblock(ctx, a.ID, c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second Unblock = %v, want ErrNotFound", err)
		}
		if ok, _ := d.IsBlocked(ctx, a.ID, c.ID); ok {
			t.Error("still blocked after Unblock")
		}
		if err := d.Block(ctx, a.ID, 9999); !errors.Is(err, ErrNotFound) {
			t.Errorf("Block(unknown user) = %v, want ErrNotFound", err)
		}
	})
}

func TestClosedStoreReturnsErrClosed(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := d.UserByID(ctx, 1); !errors.Is(err, ErrClosed) {
			t.Errorf("UserByID after Close: %v", err)
		}
		if err := d.AppendMessages(ctx, []*Message{{Conv: "#lobby"}}); !errors.Is(err, ErrClosed) {
			t.Errorf("AppendMessages after Close: %v", err)
		}
		if _, err := d.ClaimOffline(ctx, 1, "s", 10); !errors.Is(err, ErrClosed) {
			t.Errorf("ClaimOffline after Close: %v", err)
		}
	})
}

// TestConcurrentUseNeverLocked runs many goroutines mixing every kind of
// write and read; none may fail (in particular with "database is locked").
func TestConcurrentUseNeverLocked(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		users := make([]User, 8)
		for i := range users {
			users[i] = mustUser(t, d, fmt.Sprintf("u%d", i))
		}
		const workers, rounds = 32, 40
		var wg sync.WaitGroup
		errs := make(chan error, workers*rounds)
		for w := range workers {
			wg.Go(func() {
				me, peer := users[w%len(users)], users[(w+1)%len(users)]
				conv := DMConv(me.ID, peer.ID)
				for r := range rounds {
					var err error
					switch r % 8 {
					case 0:
						err = d.AppendMessages(ctx, []*Message{
							{Conv: "#lobby", SenderID: me.ID, SenderHandle: me.Handle, Body: "hi"},
							{Conv: conv, SenderID: me.ID, SenderHandle: me.Handle, Body: "dm", OfflineFor: peer.ID},
						})
					case 1:
						_, err = d.History(ctx, "#lobby", 0, 50, nil)
					case 2:
						_, err = d.ClaimOffline(ctx, peer.ID, fmt.Sprintf("w%d-%d", w, r), 10)
					case 3:
						err = d.ReleaseOffline(ctx, peer.ID, fmt.Sprintf("w%d-%d", w, r-1))
					case 4:
						err = d.MarkRead(ctx, me.ID, "#lobby", int64(r))
					case 5:
						_, err = d.Unread(ctx, me.ID, []string{"#lobby", conv}, []uint64{peer.ID})
					case 6:
						err = d.TouchLastSeen(ctx, me.ID, time.Now())
						if err == nil {
							err = d.AddContact(ctx, me.ID, peer.ID)
						}
					case 7:
						_, err = d.Conversations(ctx, me.ID)
						if err == nil {
							_, err = d.ContactsOf(ctx, me.ID)
						}
					}
					if err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// SQLite only: the database file and its WAL.
func TestDatabaseFilesArePrivate(t *testing.T) {
	d, path := openTest(t)
	if err := d.AppendMessages(context.Background(), []*Message{{Conv: "#lobby", SenderID: mustUser(t, d, "a").ID, SenderHandle: "a", Body: "x"}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Fatalf("%s has mode %v; want no group/other access", p, fi.Mode().Perm())
		}
	}
}
