package model

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestReleasedHandleIsHeldAcrossRestart checks that a handle given up by a
// rename is held for its previous owner in the database (so a restart does
// not free it), that the owner can take it back, and that it is free once
// the hold ends.
func TestReleasedHandleIsHeldAcrossRestart(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, path := openOn(t, dia)
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
		d, err := OpenURL(path)
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
	})
}

// TestSchemaStepsAreRecordedAndRunOnce checks the versioned migrations: each
// step is recorded, reopening applies nothing again, and a database from a
// newer server is refused instead of being used.
func TestSchemaStepsAreRecordedAndRunOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		d, path := openOn(t, dia)
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
		if d, err = OpenURL(path); err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if v := versions(); len(v) != len(migrations) {
			t.Fatalf("reopen recorded %v", v)
		}
		if err := d.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', ?)`, time.Now()).Error; err != nil {
			t.Fatal(err)
		}
		_ = d.Close()
		if d2, err := OpenURL(path); !errors.Is(err, ErrSchemaTooNew) {
			if d2 != nil {
				_ = d2.Close()
			}
			t.Fatalf("open of a newer schema: %v, want ErrSchemaTooNew", err)
		}
	})
}

func TestSkeletonFoldsASCIIConfusables(t *testing.T) {
	same := [][]string{
		{"alice", "aiice", "a1ice", "ailce", "al1ce"}, // l, I (as i) and 1
		{"bob", "b0b"},
		{"mom", "rnom", "m0rn", "rnorn"},
		{"ian", "lan", "1an"},
	}
	for _, group := range same {
		for _, k := range group[1:] {
			if Skeleton(k) != Skeleton(group[0]) {
				t.Errorf("Skeleton(%q) = %q, Skeleton(%q) = %q: want equal", k, Skeleton(k), group[0], Skeleton(group[0]))
			}
		}
	}
	for _, pair := range [][2]string{{"alice", "alive"}, {"bob", "bab"}, {"vv", "w"}, {"cl", "d"}, {"a_b", "a-b"}, {"a.b", "ab"}} {
		if Skeleton(pair[0]) == Skeleton(pair[1]) {
			t.Errorf("Skeleton(%q) == Skeleton(%q) = %q: want different", pair[0], pair[1], Skeleton(pair[0]))
		}
	}
}

// TestLookAlikeHandleIsRefused checks that a handle whose skeleton equals
// another account's, or a held one's, is refused with the handle in the
// way, on creation and on rename.
func TestLookAlikeHandleIsRefused(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		mustUser(t, d, "alice")
		b := mustUser(t, d, "bob")
		u := User{Handle: "aIice", HandleKey: "aiice"}
		err := d.CreateUser(ctx, &u, &Key{Fingerprint: "SHA256:x", PublicKey: "x"})
		var hc *HandleConflictError
		if !errors.As(err, &hc) || hc.Holder != "alice" || !hc.HeldUntil.IsZero() {
			t.Fatalf("create aIice next to alice: %v", err)
		}
		if err := d.RenameUser(ctx, Rename{UserID: b.ID, Handle: "a1ice", HandleKey: "a1ice"}); !errors.As(err, &hc) || hc.Holder != "alice" {
			t.Fatalf("rename to a1ice next to alice: %v", err)
		}
		// A look-alike of a held handle is refused too, for others only.
		at := time.Now()
		if err := d.RenameUser(ctx, Rename{UserID: b.ID, Handle: "robert", HandleKey: "robert", At: at, HoldUntil: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		u = User{Handle: "b0b", HandleKey: "b0b"}
		if err := d.CreateUser(ctx, &u, &Key{Fingerprint: "SHA256:y", PublicKey: "y"}); !errors.As(err, &hc) || hc.Holder != "bob" || hc.HeldUntil.IsZero() {
			t.Fatalf("create b0b while bob is held: %v", err)
		}
		if err := d.RenameUser(ctx, Rename{UserID: b.ID, Handle: "B0B", HandleKey: "b0b", At: at}); err != nil {
			t.Fatalf("the holder takes a look-alike of their own handle: %v", err)
		}
	})
}

// TestSkeletonStepKeepsExistingLookAlikes migrates a database that already
// holds two look-alike handles: the step must not fail, both accounts stay,
// and only new claims are refused.
//
// SQLite only: it rebuilds a database of an old release by hand.
func TestSkeletonStepKeepsExistingLookAlikes(t *testing.T) {
	ctx := context.Background()
	d, path := openTest(t)
	// Back to the schema before step 2, with two look-alikes in it.
	for _, q := range []string{
		`DROP TABLE installation`,                                     // step 11
		`DROP TABLE id_counters`,                                      // step 10
		`DROP TABLE conv_heads`,                                       // step 9
		`DROP TABLE audit_log`, `DROP TABLE mutes`, `DROP TABLE bans`, // step 4
		`DROP TABLE link_codes`,    // step 5
		`DROP TABLE user_settings`, // step 6
		`DROP TABLE messages_fts`, `DROP TRIGGER messages_fts_ai`, `DROP TRIGGER messages_fts_bd`,
		`DROP TRIGGER messages_fts_bu`, `DROP TRIGGER messages_fts_au`, `DROP TABLE message_edits`, `DROP VIEW messages_fts_content`, // step 7
		`DROP TABLE mentions`, `DROP TABLE room_bans`, `DROP TABLE room_invites`,
		`DROP TABLE room_members`, `DROP TABLE rooms`, // step 3
		`DROP INDEX idx_users_skeleton`,
		`ALTER TABLE users DROP COLUMN skeleton`,
		`DROP INDEX idx_released_handles_skeleton`,
		`ALTER TABLE released_handles DROP COLUMN skeleton`,
		`DELETE FROM schema_migrations WHERE version >= 2`,
		`INSERT INTO users (handle, handle_key, created_at, last_seen) VALUES ('alice', 'alice', '2026-01-01', '2026-01-01'), ('aIice', 'aiice', '2026-01-01', '2026-01-01')`,
	} {
		if err := d.w.Exec(q).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	_ = d.Close()
	d, err := Open(path)
	if err != nil {
		t.Fatalf("migrating a database with look-alikes: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	for _, k := range []string{"alice", "aiice"} {
		u, err := d.UserByHandle(ctx, k)
		if err != nil || u.Skeleton != Skeleton("alice") {
			t.Fatalf("%s after the step: %+v, %v", k, u, err)
		}
	}
	u := User{Handle: "a1ice", HandleKey: "a1ice"}
	var hc *HandleConflictError
	if err := d.CreateUser(ctx, &u, &Key{Fingerprint: "SHA256:z", PublicKey: "z"}); !errors.As(err, &hc) {
		t.Fatalf("a third look-alike: %v", err)
	}
}

// schema96ca550 is the schema the server wrote before versioned steps
// (commit 96ca550), as SQLite printed it.
var schema96ca550 = []string{
	"CREATE TABLE `users` (`id` integer PRIMARY KEY AUTOINCREMENT,`handle` text NOT NULL,`handle_key` text NOT NULL,`created_at` datetime,`last_seen` datetime)",
	"CREATE UNIQUE INDEX `idx_users_handle_key` ON `users`(`handle_key`)",
	"CREATE TABLE `keys` (`id` integer PRIMARY KEY AUTOINCREMENT,`fingerprint` text NOT NULL,`user_id` integer NOT NULL,`public_key` text NOT NULL,`created_at` datetime)",
	"CREATE INDEX `idx_keys_user_id` ON `keys`(`user_id`)",
	"CREATE UNIQUE INDEX `idx_keys_fingerprint` ON `keys`(`fingerprint`)",
	"CREATE TABLE `messages` (`id` integer PRIMARY KEY AUTOINCREMENT,`conv` text NOT NULL,`sender_id` integer NOT NULL,`sender_handle` text NOT NULL,`kind` integer NOT NULL DEFAULT 0,`body` text NOT NULL,`created_at` datetime)",
	"CREATE INDEX `idx_messages_sender_id` ON `messages`(`sender_id`)",
	"CREATE INDEX `idx_conv_id` ON `messages`(`conv`)",
	"CREATE TABLE `contacts` (`id` integer PRIMARY KEY AUTOINCREMENT,`owner_id` integer NOT NULL,`contact_id` integer NOT NULL,`created_at` datetime,CONSTRAINT `fk_contacts_owner_user` FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON DELETE CASCADE,CONSTRAINT `fk_contacts_contact_user` FOREIGN KEY (`contact_id`) REFERENCES `users`(`id`) ON DELETE CASCADE)",
	"CREATE INDEX `idx_contacts_contact_id` ON `contacts`(`contact_id`)",
	"CREATE UNIQUE INDEX `idx_contacts_pair` ON `contacts`(`owner_id`,`contact_id`)",
	"CREATE TABLE `blocks` (`id` integer PRIMARY KEY AUTOINCREMENT,`owner_id` integer NOT NULL,`blocked_id` integer NOT NULL,`created_at` datetime,CONSTRAINT `fk_blocks_owner_user` FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON DELETE CASCADE,CONSTRAINT `fk_blocks_blocked_user` FOREIGN KEY (`blocked_id`) REFERENCES `users`(`id`) ON DELETE CASCADE)",
	"CREATE INDEX `idx_blocks_blocked_id` ON `blocks`(`blocked_id`)",
	"CREATE UNIQUE INDEX `idx_blocks_pair` ON `blocks`(`owner_id`,`blocked_id`)",
	"CREATE TABLE `deliveries` (`id` integer PRIMARY KEY AUTOINCREMENT,`recipient_id` integer NOT NULL,`delivered_at` datetime,`claim` text NOT NULL,`message_id` integer NOT NULL,`sender_id` integer NOT NULL,CONSTRAINT `fk_deliveries_message` FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON DELETE CASCADE)",
	"CREATE INDEX `idx_deliveries_message` ON `deliveries`(`message_id`)",
	"CREATE INDEX `idx_deliveries_pending` ON `deliveries`(`recipient_id`,`delivered_at`,`claim`,`message_id`,`sender_id`)",
	"CREATE TABLE `read_markers` (`id` integer PRIMARY KEY AUTOINCREMENT,`user_id` integer NOT NULL,`conv` text NOT NULL,`last_read_id` integer NOT NULL DEFAULT 0)",
	"CREATE UNIQUE INDEX `idx_read_markers_user_conv` ON `read_markers`(`user_id`,`conv`)",
	"CREATE TABLE `direct_convs` (`conv` text,`user_a` integer NOT NULL,`user_b` integer NOT NULL,`created_at` datetime,PRIMARY KEY (`conv`))",
	"CREATE INDEX `idx_direct_convs_user_b` ON `direct_convs`(`user_b`)",
	"CREATE INDEX `idx_direct_convs_user_a` ON `direct_convs`(`user_a`)",
	"CREATE INDEX idx_messages_conv_id_sender ON messages(conv, id, sender_id)",
	"CREATE INDEX idx_deliveries_held ON deliveries(claim) WHERE delivered_at IS NULL AND claim <> ''",
	// Its data: two look-alikes, and rca renamed to rca_away after posting.
	`INSERT INTO users (id, handle, handle_key, created_at, last_seen) VALUES
		(1, 'alice', 'alice', '2026-11-30 15:59:39+00:00', '2026-11-30 15:59:39+00:00'),
		(2, 'aIice', 'aiice', '2026-11-30 15:59:39+00:00', '2026-11-30 15:59:39+00:00'),
		(3, 'rca_away', 'rca_away', '2026-11-30 15:59:39+00:00', '2026-11-30 15:59:39+00:00')`,
	`INSERT INTO keys (fingerprint, user_id, public_key, created_at) VALUES
		('SHA256:k1', 1, 'x', '2026-11-30 15:59:39+00:00'), ('SHA256:k2', 2, 'x', '2026-11-30 15:59:39+00:00'),
		('SHA256:k3', 3, 'x', '2026-11-30 15:59:39+00:00')`,
	`INSERT INTO messages (conv, sender_id, sender_handle, kind, body, created_at) VALUES
		('#lobby', 3, 'rca', 0, 'send payments', '2026-11-30 15:59:39+00:00')`,
}

// TestOpenUpgradesADatabaseOfThePreviousVersion opens a database written
// by the server before versioned steps: every step runs once, the
// look-alikes in it stay, new look-alikes are refused, history names
// authors by their current handle, and opening again changes nothing.
//
// SQLite only: a database file of an old release.
func TestOpenUpgradesADatabaseOfThePreviousVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	old, err := sql.Open("sqlite3", "file:"+filepath.ToSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range schema96ca550 {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		d, err := Open(path)
		if err != nil {
			t.Fatalf("open %d: %v", round, err)
		}
		var versions []int
		if err := d.w.Raw(`SELECT version FROM schema_migrations ORDER BY version`).Scan(&versions).Error; err != nil {
			t.Fatal(err)
		}
		if len(versions) != len(migrations) {
			t.Fatalf("open %d: versions %v", round, versions)
		}
		for _, k := range []string{"alice", "aiice"} {
			if u, err := d.UserByHandle(ctx, k); err != nil || u.Skeleton != Skeleton("alice") {
				t.Fatalf("open %d: %s is %+v, %v", round, k, u, err)
			}
		}
		u := User{Handle: "a1ice", HandleKey: "a1ice"}
		var hc *HandleConflictError
		if err := d.CreateUser(ctx, &u, &Key{Fingerprint: "SHA256:new", PublicKey: "x"}); !errors.As(err, &hc) || hc.Holder != "alice" {
			t.Fatalf("open %d: a third look-alike: %v", round, err)
		}
		if h, err := d.History(ctx, "#lobby", 0, 10, nil); err != nil || len(h) != 1 || h[0].Author != "rca_away" {
			t.Fatalf("open %d: history %+v, %v", round, h, err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNewerSchemaIsRefusedUntouched checks that a database migrated by a
// newer server is refused before anything in it changes: here a newer
// step has dropped a table this server's baseline has, and the refused
// open must not create it again.
//
// SQLite only: it reads the refused file with the driver.
func TestNewerSchemaIsRefusedUntouched(t *testing.T) {
	d, path := openTest(t)
	for _, q := range []string{
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', '2027-01-01 00:00:00+00:00')`,
		`DROP TABLE read_markers`,
	} {
		if err := d.w.Exec(q).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	_ = d.Close()
	if d2, err := Open(path); !errors.Is(err, ErrSchemaTooNew) {
		if d2 != nil {
			_ = d2.Close()
		}
		t.Fatalf("open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
	db, err := sql.Open("sqlite3", "file:"+filepath.ToSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'read_markers'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the refused database was changed: read_markers tables %d, %v", n, err)
	}
}
