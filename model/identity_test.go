package model

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestReleasedHandleIsHeldAcrossRestart checks that a handle given up by a
// rename is held for its previous owner in the database (so a restart does
// not free it), that the owner can take it back, and that it is free once
// the hold ends.
func TestReleasedHandleIsHeldAcrossRestart(t *testing.T) {
	ctx := context.Background()
	d, path := openTest(t)
	a := mustUser(t, d, "rca")
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	until := at.Add(7 * 24 * time.Hour)
	notice := &Message{Conv: "#lobby", SenderID: a.ID, SenderHandle: "rca_away", Kind: KindRename, Body: "rca is now known as rca_away"}
	if err := d.RenameUser(ctx, Rename{UserID: a.ID, Handle: "rca_away", HandleKey: "rca_away", At: at, HoldUntil: until, Notice: notice}); err != nil {
		t.Fatal(err)
	}
	if notice.ID == 0 {
		t.Fatal("notice not appended")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })

	u := User{Handle: "RCA", HandleKey: "rca", CreatedAt: at.Add(time.Hour)}
	err = d.CreateUser(ctx, &u, &Key{Fingerprint: "SHA256:other", PublicKey: "x"})
	var hc *HandleConflictError
	if !errors.As(err, &hc) || !errors.Is(err, ErrConflict) || hc.Holder != "rca" || !hc.HeldUntil.Equal(until) {
		t.Fatalf("claim of a held handle after restart: %v (%+v)", err, hc)
	}
	// The previous owner may take it back at any time.
	if err := d.RenameUser(ctx, Rename{UserID: a.ID, Handle: "rca", HandleKey: "rca", At: at.Add(time.Hour)}); err != nil {
		t.Fatalf("owner takes the handle back: %v", err)
	}
	// After the hold, another key may take a released handle.
	if err := d.RenameUser(ctx, Rename{UserID: a.ID, Handle: "rca2", HandleKey: "rca2", At: at, HoldUntil: until}); err != nil {
		t.Fatal(err)
	}
	u = User{Handle: "rca", HandleKey: "rca", CreatedAt: until.Add(time.Second)}
	if err := d.CreateUser(ctx, &u, &Key{Fingerprint: "SHA256:other", PublicKey: "x"}); err != nil {
		t.Fatalf("claim after the hold: %v", err)
	}
	// History names the old author by their current handle.
	h, err := d.History(ctx, "#lobby", 0, 10, nil)
	if err != nil || len(h) != 1 || h[0].Author != "rca2" || h[0].SenderHandle != "rca_away" {
		t.Fatalf("history = %+v, %v", h, err)
	}
}

// TestSchemaStepsAreRecordedAndRunOnce checks the versioned migrations: each
// step is recorded, reopening applies nothing again, and a database from a
// newer server is refused instead of being used.
func TestSchemaStepsAreRecordedAndRunOnce(t *testing.T) {
	d, path := openTest(t)
	versions := func() []int {
		t.Helper()
		var v []int
		if err := d.w.Raw(`SELECT version FROM schema_migrations ORDER BY version`).Scan(&v).Error; err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := versions(); len(v) != len(migrations) || v[len(v)-1] != migrations[len(migrations)-1].version {
		t.Fatalf("recorded versions %v, want one per step of %d", v, len(migrations))
	}
	_ = d.Close()
	var err error
	if d, err = Open(path); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if v := versions(); len(v) != len(migrations) {
		t.Fatalf("reopen recorded %v", v)
	}
	if err := d.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', ?)`, time.Now()).Error; err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	if d2, err := Open(path); !errors.Is(err, ErrSchemaTooNew) {
		if d2 != nil {
			_ = d2.Close()
		}
		t.Fatalf("open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}
