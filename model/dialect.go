package model

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// dialect is everything that differs between the databases the store
// runs on; the queries themselves do not (see the package comment).
type dialect struct {
	// name is the GORM dialector's name: "sqlite" or "postgres".
	name string
	// classify returns the sentinel a driver error stands for
	// (ErrConflict, ErrNotFound or ErrUnavailable), or nil.
	classify func(err error) error
	// readTx starts the read transactions whose queries must see one
	// snapshot (PostgreSQL's READ COMMITTED takes one per statement).
	readTx *sql.TxOptions
	// retry reports whether a write transaction that failed with err
	// may simply be run again (the database aborted it to break a
	// deadlock).
	retry func(err error) bool
	// migrateLock and migrateUnlock bracket migrate on one connection,
	// so that servers opening one database at once migrate it one after
	// the other ("": SQLite serves one server per file).
	migrateLock, migrateUnlock string
	// search is full-text search: its index and query (search.go).
	search fullText
}

var (
	sqliteDialect = dialect{
		name:     "sqlite",
		classify: classifySQLite,
		readTx:   &sql.TxOptions{ReadOnly: true},
		retry:    func(error) bool { return false }, // one writer: no deadlock
		search: fullText{
			schema: searchSchema, newestFirst: searchNewestFirst,
			match: ftsMatch, query: searchSQL,
		},
	}
	postgresDialect = dialect{
		name:     "postgres",
		classify: classifyPostgres,
		readTx:   &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
		retry:    retryPostgres,
		// A lock per schema: each test has its own.
		migrateLock:   `SELECT pg_advisory_lock(hashtext('sshchat migrate ' || current_schema()))`,
		migrateUnlock: `SELECT pg_advisory_unlock(hashtext('sshchat migrate ' || current_schema()))`,
		search:        fullText{schema: searchSchemaPostgres, match: tsQuery, query: searchSQLPostgres},
	}
)

// dialectOf returns the dialect of the database GORM names name.
func dialectOf(name string) dialect {
	if name == postgresDialect.name {
		return postgresDialect
	}
	return sqliteDialect
}

// classifySQLite maps SQLite's result codes.
func classifySQLite(err error) error {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.ExtendedCode {
	case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
		return ErrConflict
	case sqlite3.ErrConstraintForeignKey:
		return ErrNotFound
	}
	if unavailable(se.Code) {
		return ErrUnavailable
	}
	return nil
}

// unavailable reports whether a SQLite result code means the database
// cannot be used now for a reason outside the server that may pass. Not
// SQLITE_LOCKED: without a shared cache it is a conflict within one of the
// server's own connections, a bug ("locked by another process" is
// SQLITE_BUSY).
func unavailable(code sqlite3.ErrNo) bool {
	switch code {
	case sqlite3.ErrBusy, sqlite3.ErrFull, sqlite3.ErrReadonly,
		sqlite3.ErrIoErr, sqlite3.ErrCantOpen, sqlite3.ErrPerm:
		return true
	}
	return false
}

// classifyPostgres maps PostgreSQL's SQLSTATEs and the connection errors
// of its driver. A cancelled or timed-out context is the caller's, not
// the database's, and maps to nothing.
func classifyPostgres(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return ErrConflict
		case "23503": // foreign_key_violation
			return ErrNotFound
		case "57P01", "57P02", "57P03", // admin or crash shutdown, cannot connect now
			"53000", "53100", "53200", "53300", // insufficient resources, disk full, out of memory, too many connections
			"25006": // read-only transaction (a standby)
			return ErrUnavailable
		}
		if strings.HasPrefix(pe.Code, "08") { // connection exception
			return ErrUnavailable
		}
		return nil
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, driver.ErrBadConn), errors.As(err, &ne):
		return ErrUnavailable
	}
	return nil
}

// retryPostgres: deadlock_detected and serialization_failure abort one
// transaction so that the others go on; run again, it succeeds.
func retryPostgres(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// rebind rewrites the ? placeholders of q as PostgreSQL's $1, $2, ...,
// leaving alone a ? inside a quoted string or identifier, or a comment.
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(q[i+1:], c)
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+2])
			i += j + 1
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+1])
			i += j
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// timestampType is the column type of the raw DDL's TIMESTAMP (and not of
// TIMESTAMPTZ nor TIMESTAMP WITH[OUT] TIME ZONE).
var timestampType = regexp.MustCompile(`(?i)\bTIMESTAMP\b(\s+WITH(OUT)?\s+TIME\s+ZONE)?`)

// postgresDDL rewrites a CREATE or ALTER TABLE written for both databases
// for PostgreSQL: TIMESTAMP becomes TIMESTAMP WITH TIME ZONE, so that a
// time.Time keeps its instant (SQLite stores what it is given; a bare
// PostgreSQL TIMESTAMP would drop the zone). Other statements are
// returned unchanged.
func postgresDDL(q string) string {
	t := strings.TrimLeft(q, " \t\r\n")
	if len(t) < 6 || !strings.EqualFold(t[:6], "CREATE") && !strings.EqualFold(t[:5], "ALTER") {
		return q // the common case, without allocating
	}
	head := strings.ToUpper(strings.Join(strings.Fields(q[:min(len(q), 40)]), " "))
	if !strings.HasPrefix(head, "CREATE TABLE") && !strings.HasPrefix(head, "ALTER TABLE") {
		return q
	}
	return timestampType.ReplaceAllStringFunc(q, func(m string) string {
		if len(m) > len("TIMESTAMP") {
			return m
		}
		return "TIMESTAMP WITH TIME ZONE"
	})
}

// postgresQuery is what the PostgreSQL connections do to every statement
// before sending it: the DDL rewrite, then the placeholders.
func postgresQuery(q string) string { return rebind(postgresDDL(q)) }

// rebindConnector opens PostgreSQL connections that rewrite each
// statement with postgresQuery, so that the package's SQL, written with ?
// (as GORM's raw SQL and SQLite take it), runs unchanged on both. GORM's
// own statements already use $n and pass through.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &rebindConn{conn: conn}, nil
}

// pgDriverConn is what database/sql uses of a pgx stdlib connection.
type pgDriverConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.NamedValueChecker
	driver.SessionResetter
}

// rebindConn forwards to the pgx connection, rewriting statements.
type rebindConn struct{ conn driver.Conn }

func (c *rebindConn) pg() (pgDriverConn, error) {
	p, ok := c.conn.(pgDriverConn)
	if !ok {
		return nil, errors.New("postgres: driver connection lacks context methods")
	}
	return p, nil
}

func (c *rebindConn) Prepare(q string) (driver.Stmt, error) {
	return c.conn.Prepare(postgresQuery(q))
}

func (c *rebindConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	p, err := c.pg()
	if err != nil {
		return nil, err
	}
	return p.PrepareContext(ctx, postgresQuery(q))
}

func (c *rebindConn) Close() error { return c.conn.Close() }

func (c *rebindConn) Begin() (driver.Tx, error) { return c.conn.Begin() } //nolint:staticcheck // driver.Conn requires it

func (c *rebindConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	p, err := c.pg()
	if err != nil {
		return nil, err
	}
	return p.BeginTx(ctx, opts)
}

func (c *rebindConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	p, err := c.pg()
	if err != nil {
		return nil, err
	}
	return p.ExecContext(ctx, postgresQuery(q), args)
}

func (c *rebindConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	p, err := c.pg()
	if err != nil {
		return nil, err
	}
	return p.QueryContext(ctx, postgresQuery(q), args)
}

func (c *rebindConn) Ping(ctx context.Context) error {
	p, err := c.pg()
	if err != nil {
		return err
	}
	return p.Ping(ctx)
}

func (c *rebindConn) CheckNamedValue(v *driver.NamedValue) error {
	p, err := c.pg()
	if err != nil {
		return err
	}
	return p.CheckNamedValue(v)
}

func (c *rebindConn) ResetSession(ctx context.Context) error {
	p, err := c.pg()
	if err != nil {
		return err
	}
	return p.ResetSession(ctx)
}
