package model

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"sshchat/model/modeltest"
)

func TestMain(m *testing.M) {
	if !modeltest.Available() {
		fmt.Fprintln(os.Stderr, "model: PostgreSQL tests SKIPPED: "+modeltest.SkipMessage)
	}
	os.Exit(m.Run())
}

// forEachDialect runs fn as a subtest per database: "sqlite" and
// "postgres" (which skips, or fails under SSHCHAT_REQUIRE_POSTGRES=1,
// without a server: see modeltest). fn opens its store with openOn(t, dia).
func forEachDialect(t *testing.T, fn func(t *testing.T, dia string)) {
	t.Helper()
	for _, dia := range []string{"sqlite", "postgres"} {
		t.Run(dia, func(t *testing.T) { fn(t, dia) })
	}
}

// openOn opens a fresh, empty store on dia ("sqlite": a file in a temp
// dir; "postgres": a schema of its own) and closes it when the test ends.
// The second result reopens the same database with OpenURL.
func openOn(t testing.TB, dia string) (*DB, string) {
	t.Helper()
	if dia == "sqlite" {
		return openTest(t)
	}
	u := modeltest.PostgresURL(t)
	d, err := OpenURL(u)
	if err != nil {
		t.Fatalf("OpenURL: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d, u
}

// stored is t as dia keeps it: PostgreSQL keeps microseconds.
func stored(dia string, t time.Time) time.Time {
	if dia == "postgres" {
		return t.Truncate(time.Microsecond)
	}
	return t
}

func TestRebindNumbersPlaceholdersOutsideQuotes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE a = ? AND b IN (?, ?)`, `SELECT a FROM t WHERE a = $1 AND b IN ($2, $3)`},
		{`SELECT '?', "a?b", c FROM t WHERE c = ?`, `SELECT '?', "a?b", c FROM t WHERE c = $1`},
		{`SELECT 'it''s ?' WHERE x = ?`, `SELECT 'it''s ?' WHERE x = $1`},
		{"SELECT 1 -- why?\nWHERE x = ?", "SELECT 1 -- why?\nWHERE x = $1"},
		{`INSERT INTO t VALUES ($1, $2)`, `INSERT INTO t VALUES ($1, $2)`},
		{`SELECT 'open ?`, `SELECT 'open ?`},
	} {
		if got := rebind(c.in); got != c.want {
			t.Errorf("rebind(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPostgresDDLKeepsTheInstantOfTimestamps(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"CREATE TABLE t (at TIMESTAMP NOT NULL, b TIMESTAMP NULL)", "CREATE TABLE t (at TIMESTAMP WITH TIME ZONE NOT NULL, b TIMESTAMP WITH TIME ZONE NULL)"},
		{"ALTER TABLE t ADD COLUMN at timestamp", "ALTER TABLE t ADD COLUMN at TIMESTAMP WITH TIME ZONE"},
		{"CREATE TABLE t (at timestamptz, b TIMESTAMP WITHOUT TIME ZONE)", "CREATE TABLE t (at timestamptz, b TIMESTAMP WITHOUT TIME ZONE)"},
		{"SELECT timestamp FROM t", "SELECT timestamp FROM t"},
		{"INSERT INTO t (timestamp) VALUES (?)", "INSERT INTO t (timestamp) VALUES (?)"},
	} {
		if got := postgresDDL(c.in); got != c.want {
			t.Errorf("postgresDDL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPostgresErrorsMapToSentinels(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{&pgconn.PgError{Code: "23505"}, ErrConflict},
		{&pgconn.PgError{Code: "23503"}, ErrNotFound},
		{&pgconn.PgError{Code: "57P01"}, ErrUnavailable},
		{&pgconn.PgError{Code: "53300"}, ErrUnavailable},
		{&pgconn.PgError{Code: "25006"}, ErrUnavailable},
		{&pgconn.PgError{Code: "08006"}, ErrUnavailable},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), ErrUnavailable},
		{&pgconn.PgError{Code: "42601"}, nil},
		{context.Canceled, nil},
	} {
		if got := classifyPostgres(c.err); got != c.want {
			t.Errorf("classifyPostgres(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if !retryPostgres(&pgconn.PgError{Code: "40P01"}) || retryPostgres(&pgconn.PgError{Code: "23505"}) {
		t.Error("a deadlock victim is run again, a conflict is not")
	}
	d := &DB{dia: postgresDialect}
	driverErr := &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}
	err := d.wrap("append messages", driverErr)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, driverErr) {
		t.Fatalf("wrap = %v: want ErrUnavailable wrapping the driver's error", err)
	}
}

// TestOpenURLOfAStoppedPostgreSQLIsUnavailable: nothing listens on the
// port, so the open fails with ErrUnavailable, at once.
func TestOpenURLOfAStoppedPostgreSQLIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	d, err := OpenURL("postgres://postgres@" + addr + "/postgres?sslmode=disable&connect_timeout=5")
	if err == nil {
		_ = d.Close()
		t.Fatal("OpenURL of a closed port succeeded")
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("OpenURL of a closed port: %v, want ErrUnavailable", err)
	}
}

func TestOpenURLSelectsTheDatabase(t *testing.T) {
	dir := t.TempDir()
	for _, u := range []string{
		filepath.Join(dir, "plain.db"),
		"sqlite://" + filepath.Join(dir, "scheme.db"),
		"file:" + filepath.Join(dir, "file.db"),
	} {
		d, err := OpenURL(u)
		if err != nil {
			t.Fatalf("OpenURL(%q): %v", u, err)
		}
		if d.dia.name != "sqlite" {
			t.Errorf("OpenURL(%q) opened %s", u, d.dia.name)
		}
		_ = d.Close()
	}
	for _, u := range []string{"mysql://x@y/z", "file:" + filepath.Join(dir, "x.db") + "?mode=ro"} {
		if d, err := OpenURL(u); !errors.Is(err, ErrBadURL) {
			if d != nil {
				_ = d.Close()
			}
			t.Errorf("OpenURL(%q) = %v, want ErrBadURL", u, err)
		}
	}
	if !modeltest.Available() && !modeltest.Required() {
		return
	}
	d, err := OpenURL(modeltest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.dia.name != "postgres" {
		t.Errorf("postgres:// opened %s", d.dia.name)
	}
}

// TestReadOnlyPostgreSQLIsUnavailableThenRecovers: a PostgreSQL that
// refuses writes (a standby after a failover) makes writes and Writable
// fail with ErrUnavailable, wrapping the server's error; reads go on, and
// writes work again once it takes them.
func TestReadOnlyPostgreSQLIsUnavailableThenRecovers(t *testing.T) {
	ctx := context.Background()
	d, err := OpenURL(modeltest.PostgresURL(t), WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	a := mustUser(t, d, "alice")
	msg := func() []*Message {
		return []*Message{{Conv: "#lobby", SenderID: a.ID, SenderHandle: "alice", Body: "hi"}}
	}
	if _, err := d.wdb.ExecContext(ctx, `SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY`); err != nil {
		t.Fatal(err)
	}
	var pe *pgconn.PgError
	if err := d.Writable(ctx); !errors.Is(err, ErrUnavailable) || !errors.As(err, &pe) {
		t.Fatalf("Writable on a read-only server: %v, want ErrUnavailable wrapping the server's error", err)
	}
	if err := d.AppendMessages(ctx, msg()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("append on a read-only server: %v, want ErrUnavailable", err)
	}
	if _, err := d.UserByID(ctx, a.ID); err != nil {
		t.Fatalf("read on a read-only server: %v", err)
	}
	if _, err := d.wdb.ExecContext(ctx, `SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE`); err != nil {
		t.Fatal(err)
	}
	if err := d.Writable(ctx); err != nil {
		t.Fatalf("Writable after: %v", err)
	}
	if err := d.AppendMessages(ctx, msg()); err != nil {
		t.Fatalf("append after: %v", err)
	}
}

func TestBackupAndPragmasRefusePostgreSQL(t *testing.T) {
	d, _ := openOn(t, "postgres")
	if err := d.Backup(context.Background(), filepath.Join(t.TempDir(), "b.db")); !errors.Is(err, ErrNotSQLite) {
		t.Fatalf("Backup: %v, want ErrNotSQLite", err)
	}
	if _, _, _, err := d.Pragmas(context.Background()); !errors.Is(err, ErrNotSQLite) {
		t.Fatalf("Pragmas: %v, want ErrNotSQLite", err)
	}
}

// TestNodesStartingTogetherMigrateOnce opens three stores at once on one
// new database, as three nodes starting together do: each opens, and the
// schema steps are recorded once.
//
// PostgreSQL only: nodes share a PostgreSQL database; a SQLite file has
// one server.
func TestNodesStartingTogetherMigrateOnce(t *testing.T) {
	u := modeltest.PostgresURL(t)
	const nodes = 3
	stores := make([]*DB, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { stores[i], errs[i] = OpenURL(u) })
	}
	wg.Wait()
	for i := range nodes {
		if errs[i] != nil {
			t.Errorf("node %d: %v", i, errs[i])
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	var n int
	if err := stores[0].rdb.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(migrations) {
		t.Fatalf("steps recorded: %d, %v; want %d", n, err, len(migrations))
	}
}
