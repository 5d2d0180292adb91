package model

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A backup taken while the store is open holds every committed message,
// opens as a store of its own, is private, and never replaces a file.
//
// SQLite only: Backup copies the database file.
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

// count returns the rows of table matching where.
func count(t *testing.T, d *DB, table, where string, args ...any) int {
	t.Helper()
	var n int
	if err := d.rdb.QueryRow(`SELECT count(*) FROM `+table+` WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Retention deletes messages older than the cutoff in batches of at most
// the limit, with their mentions and delivered rows, and keeps newer
// messages and every message a pending delivery still needs.
func TestPruneMessagesRemovesOldKeepsNewAndPending(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b, c := mustUser(t, d, "alice"), mustUser(t, d, "bob"), mustUser(t, d, "carol")
		old := time.Now().Add(-100 * 24 * time.Hour)
		var msgs []*Message
		for i := range 7 {
			msgs = append(msgs, &Message{Conv: "#lobby", SenderID: a.ID, SenderHandle: "alice", Body: fmt.Sprint("old", i), CreatedAt: old,
				Mentions: []Mention{{UserID: b.ID}}})
		}
		pending := &Message{Conv: DMConv(a.ID, b.ID), SenderID: a.ID, Body: "old but unread", CreatedAt: old, OfflineFor: b.ID}
		delivered := &Message{Conv: DMConv(a.ID, c.ID), SenderID: a.ID, Body: "old and read", CreatedAt: old, OfflineFor: c.ID}
		msgs = append(msgs, pending, delivered)
		if err := d.AppendMessages(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ClaimOffline(ctx, c.ID, "claim", 10); err != nil {
			t.Fatal(err)
		}
		if err := d.AckOffline(ctx, c.ID, "claim"); err != nil {
			t.Fatal(err)
		}
		fresh := appendN(t, d, "#lobby", 3, "new", a)

		cutoff := time.Now().Add(-90 * 24 * time.Hour)
		var batches []int
		for {
			n, err := d.PruneMessages(ctx, cutoff, 3)
			if err != nil {
				t.Fatal(err)
			}
			batches = append(batches, n)
			if n < 3 {
				break
			}
		}
		if fmt.Sprint(batches) != "[3 3 2]" {
			t.Fatalf("batches %v; want [3 3 2] (8 old messages, batches of 3)", batches)
		}
		if n := count(t, d, "messages", "id = ?", pending.ID); n != 1 {
			t.Fatal("a message a pending delivery needs was pruned")
		}
		if n := count(t, d, "messages", "id >= ?", fresh[0]); n != 3 {
			t.Fatalf("%d of 3 new messages left", n)
		}
		if n := count(t, d, "messages", "1 = 1"); n != 4 {
			t.Fatalf("%d messages left; want the pending one and 3 new", n)
		}
		if n := count(t, d, "mentions", "1 = 1"); n != 0 {
			t.Fatalf("%d mentions of pruned messages left", n)
		}
		if n := count(t, d, "deliveries", "message_id = ?", delivered.ID); n != 0 {
			t.Fatal("the delivered row of a pruned message is left")
		}
	})
}

// Acknowledged deliveries acked before the cutoff are pruned; pending
// ones never are.
func TestPruneDeliveriesRemovesOnlyAcknowledgedOnes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b, c := mustUser(t, d, "alice"), mustUser(t, d, "bob"), mustUser(t, d, "carol")
		if err := d.AppendMessages(ctx, []*Message{
			{Conv: DMConv(a.ID, b.ID), SenderID: a.ID, Body: "to bob, unread", OfflineFor: b.ID},
			{Conv: DMConv(a.ID, c.ID), SenderID: a.ID, Body: "to carol, read", OfflineFor: c.ID},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ClaimOffline(ctx, c.ID, "claim", 10); err != nil {
			t.Fatal(err)
		}
		if err := d.AckOffline(ctx, c.ID, "claim"); err != nil {
			t.Fatal(err)
		}
		if n, err := d.PruneDeliveries(ctx, time.Now().Add(-time.Hour), 500); err != nil || n != 0 {
			t.Fatalf("pruned %d (%v) acked after the cutoff; want 0", n, err)
		}
		if n, err := d.PruneDeliveries(ctx, time.Now().Add(time.Minute), 500); err != nil || n != 1 {
			t.Fatalf("pruned %d (%v); want the one acknowledged row", n, err)
		}
		if n := count(t, d, "deliveries", "recipient_id = ? AND delivered_at IS NULL", b.ID); n != 1 {
			t.Fatal("a pending delivery was pruned")
		}
		if n := count(t, d, "messages", "1 = 1"); n != 2 {
			t.Fatalf("%d messages; pruning deliveries must not delete messages", n)
		}
	})
}

// BenchmarkPruneMessagesBatch is one retention transaction: 500 old
// messages (with a mention each) deleted out of a table of 100,000.
func BenchmarkPruneMessagesBatch(b *testing.B) {
	ctx := context.Background()
	d, _ := openTest(b)
	a, m := mustUser(b, d, "alice"), mustUser(b, d, "bob")
	old := time.Now().Add(-200 * 24 * time.Hour)
	for i := 0; i < 100; i++ {
		msgs := make([]*Message, 1000)
		for j := range msgs {
			msgs[j] = &Message{Conv: "#lobby", SenderID: a.ID, Body: "old message body", CreatedAt: old, Mentions: []Mention{{UserID: m.ID}}}
		}
		if err := d.AppendMessages(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
	cutoff := time.Now().Add(-90 * 24 * time.Hour)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n, err := d.PruneMessages(ctx, cutoff, 500); err != nil || n != 500 {
			b.Fatalf("pruned %d: %v", n, err)
		}
	}
}
