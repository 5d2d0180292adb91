package model

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A backup taken while the store is open holds every committed message,
// opens as a store of its own, is private, and never replaces a file.
func TestBackupCopiesCommittedMessagesAndRefusesExistingFile(t *testing.T) {
	ctx := context.Background()
	d, src := openTest(t)
	a := mustUser(t, d, "alice")
	want := appendN(t, d, "#lobby", 20, "m", a)
	dest := filepath.Join(t.TempDir(), "backup.db")
	if err := d.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v; want mode 0600", fi, err)
	}
	if err := d.Backup(ctx, dest); !errors.Is(err, ErrBackupExists) {
		t.Fatalf("backup over an existing file: %v; want ErrBackupExists", err)
	}
	again := filepath.Join(filepath.Dir(dest), "second.db")
	if err := BackupFile(ctx, src, again); err != nil {
		t.Fatalf("backup of the file: %v", err)
	}
	for _, p := range []string{dest, again} {
		r, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.History(ctx, "#lobby", 0, 100, nil)
		r.Close()
		if err != nil || len(got) != len(want) || got[0].ID != want[0] || got[len(got)-1].ID != want[len(want)-1] {
			t.Fatalf("restored %s: %d messages, %v; want %d", p, len(got), err, len(want))
		}
	}
	if err := BackupFile(ctx, filepath.Join(t.TempDir(), "none.db"), filepath.Join(t.TempDir(), "x.db")); err == nil {
		t.Fatal("backup of a missing database succeeded")
	}
}
