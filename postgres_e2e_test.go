package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"sshchat/model"
	"sshchat/model/modeltest"
)

// TestDatabaseURLKeepsEverythingInPostgreSQL: a server started with
// --database-url stores in that PostgreSQL database, not in a SQLite file:
// what a script sends is read back by another store opened on the URL,
// and nothing is created in the data directory's database file.
func TestDatabaseURLKeepsEverythingInPostgreSQL(t *testing.T) {
	url := modeltest.PostgresURL(t)
	dir := t.TempDir()
	ts := startServer(t, testConfig(t, dir, "--database-url", url))
	key := newKey(t)
	mustRun(t, ts.addr, "alice", key, "", "send lobby stored in postgres")
	out := mustRun(t, ts.addr, "alice", key, "", "history lobby")
	if !strings.HasSuffix(strings.TrimSpace(out), "\talice: stored in postgres") {
		t.Fatalf("history:\n%s", out)
	}
	db, err := model.OpenURL(url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	msgs, err := db.History(context.Background(), "#lobby", 0, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Body != "stored in postgres" {
		t.Fatalf("PostgreSQL holds %+v, want the one message", msgs)
	}
	if _, err := os.Stat(ts.cfg.DBPath); err == nil {
		t.Fatalf("a SQLite file was created at %s beside --database-url", ts.cfg.DBPath)
	}
}

// TestBackupRefusesPostgreSQL: `sshchat backup` copies SQLite files; with
// SSHCHAT_DATABASE_URL set it says to use pg_dump instead of copying a
// file that is not the database.
func TestBackupRefusesPostgreSQL(t *testing.T) {
	getenv := func(k string) string {
		if k == "SSHCHAT_DATABASE_URL" {
			return "postgres://db/chat"
		}
		return ""
	}
	err := backup(context.Background(), []string{"--data-dir", t.TempDir(), t.TempDir() + "/b.db"}, getenv, new(strings.Builder))
	if err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Fatalf("backup with a PostgreSQL URL: %v; want a refusal naming pg_dump", err)
	}
}
