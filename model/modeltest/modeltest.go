// Package modeltest gives tests of any package a real PostgreSQL database
// of their own: a fresh, empty schema of the server that the environment
// names, dropped when the test ends.
//
// The server's URL comes from SSHCHAT_TEST_POSTGRES (bash .ci/postgres.sh
// starts one and prints it). Without it the tests that need PostgreSQL
// skip, saying so; with SSHCHAT_REQUIRE_POSTGRES=1 (as in CI) they fail
// instead.
package modeltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// EnvURL names the variable holding the test server's URL, e.g.
	// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
	EnvURL = "SSHCHAT_TEST_POSTGRES"
	// EnvRequire names the variable that, set to 1, makes a missing
	// server fail the tests that need it instead of skipping them.
	EnvRequire = "SSHCHAT_REQUIRE_POSTGRES"
	// SkipMessage is what a test without PostgreSQL says.
	SkipMessage = "PostgreSQL not available: set " + EnvURL + " (see .ci/postgres.sh)"
)

// Available reports whether a PostgreSQL server for tests is configured.
func Available() bool { return os.Getenv(EnvURL) != "" }

// Required reports whether tests must fail, not skip, without PostgreSQL.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// PostgresURL returns the URL of a new, empty schema on the test server
// (its search_path), which is dropped with everything in it when t ends:
// open it with model.OpenURL. It skips t when no server is configured, or
// fails it when EnvRequire is set.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		if Required() {
			t.Fatalf("%s=1 but %s", EnvRequire, SkipMessage)
		}
		t.Skip(SkipMessage)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	admin(t, base, `CREATE SCHEMA `+schema)
	t.Cleanup(func() { admin(t, base, `DROP SCHEMA `+schema+` CASCADE`) })
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// admin runs one statement on its own connection to the server.
func admin(t testing.TB, base, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v", EnvURL, err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, stmt); err != nil {
		t.Fatalf("PostgreSQL: %s: %v", stmt, err)
	}
}
