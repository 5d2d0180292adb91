package model

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// DB is the SQLite implementation of Store.
//
// All writes go through one connection (SQLite has one writer at a time; a
// single pooled connection makes writers queue in Go instead of failing with
// "database is locked"), and every write transaction starts with BEGIN
// IMMEDIATE. Reads use a separate pool of query-only connections, which WAL
// lets run concurrently with the writer.
type DB struct {
	w   *gorm.DB // writer: one connection
	r   *gorm.DB // readers: query_only pool
	wdb *sql.DB
	rdb *sql.DB
	dia dialect

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*DB)(nil)

// defaultBusyTimeout is how long a connection waits for a lock held by
// another connection (a checkpoint, another process) before failing.
const defaultBusyTimeout = 5 * time.Second

// Option tunes Open.
type Option func(*openConfig)

type openConfig struct {
	busyTimeout time.Duration
	maxConns    int
}

// WithBusyTimeout sets how long a statement waits for a lock held by
// another connection before failing with ErrUnavailable (default 5 s).
func WithBusyTimeout(d time.Duration) Option {
	return func(c *openConfig) {
		if d > 0 {
			c.busyTimeout = d
		}
	}
}

// Open opens (creating if needed) the SQLite database at path with WAL,
// synchronous=FULL, foreign keys and BEGIN IMMEDIATE transactions, and
// migrates its schema. The parent directory is created with mode 0700.
func Open(path string, opts ...Option) (*DB, error) {
	cfg := openConfig{busyTimeout: defaultBusyTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	busyMS := fmt.Sprint(max(1, cfg.busyTimeout.Milliseconds()))
	if path == "" {
		return nil, errors.New("open store: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// Create the file private (SQLite would use 0644); its -wal and -shm
	// files inherit its mode.
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
	} else {
		return nil, fmt.Errorf("open store: %w", err)
	}

	w, wdb, err := openGorm(dsn(abs, url.Values{
		"_journal_mode": {"WAL"},
		"_synchronous":  {"FULL"},
		"_foreign_keys": {"1"},
		"_busy_timeout": {busyMS},
		"_txlock":       {"immediate"},
		"_cache_size":   {"-16384"}, // KiB: index pages of a large messages table
	}))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)

	if err := migrate(w); err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("open store: migrate: %w", err)
	}

	// Readers: no _journal_mode (the database is already WAL, and setting it
	// needs a write lock), query_only so a bug cannot write outside the
	// writer's transactions.
	r, rdb, err := openGorm(dsn(abs, url.Values{
		"_foreign_keys": {"1"},
		"_busy_timeout": {busyMS},
		"_query_only":   {"1"},
		"_cache_size":   {"-8192"},
	}))
	if err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("open store: readers: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)

	return &DB{w: w, r: r, wdb: wdb, rdb: rdb, dia: sqliteDialect}, nil
}

// dsn builds a mattn/go-sqlite3 URI for the absolute path abs. The path is
// escaped so that '?', '#' or '%' in a directory name cannot be read as
// parameters.
func dsn(abs string, params url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: params.Encode()}
	return u.String()
}

func openGorm(dsn string) (*gorm.DB, *sql.DB, error) {
	g, err := gorm.Open(sqlite.Open(dsn), gormConfig())
	if err != nil {
		return nil, nil, err
	}
	s, err := g.DB()
	if err != nil {
		return nil, nil, err
	}
	return g, s, nil
}

// gormConfig is the GORM configuration of both databases.
func gormConfig() *gorm.Config {
	return &gorm.Config{
		Logger:                 logger.Discard, // message bodies are private: never log SQL
		TranslateError:         true,
		SkipDefaultTransaction: true, // our writes open their own transactions
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
}

// migrate creates or updates the schema under the dialect's migration
// lock (see migrateLocked).
func migrate(g *gorm.DB) error {
	dia := dialectOf(g.Dialector.Name())
	if dia.migrateLock == "" {
		return migrateLocked(g)
	}
	// The lock is the session's: hold one connection throughout.
	return g.Connection(func(c *gorm.DB) error {
		if err := c.Exec(dia.migrateLock).Error; err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		err := migrateLocked(c)
		if uerr := c.Exec(dia.migrateUnlock).Error; uerr != nil && err == nil {
			err = fmt.Errorf("unlock: %w", uerr)
		}
		return err
	})
}

// migrateLocked creates or updates the schema: the AutoMigrate baseline, then the
// versioned steps of migrate.go; a database of a newer server is refused
// first, unchanged. It is a no-op on an up-to-date database (no table is
// rebuilt).
func migrateLocked(g *gorm.DB) error {
	// Indexes GORM tags cannot express: store.go's Message is shared, and
	// the second one is partial.
	extraIndexes := []string{
		// Unread counts read (conv, id, sender_id) from the index only.
		`CREATE INDEX IF NOT EXISTS idx_messages_conv_id_sender ON messages(conv, id, sender_id)`,
		// ReleaseAllClaims finds held, undelivered deliveries without a scan.
		`CREATE INDEX IF NOT EXISTS idx_deliveries_held ON deliveries(claim) WHERE delivered_at IS NULL AND claim <> ''`,
	}
	if err := checkSchemaVersion(g, migrations); err != nil {
		return err
	}
	if err := g.AutoMigrate(
		&User{}, &Key{}, &Message{},
		&Contact{}, &Block{}, &Delivery{}, &ReadMarker{}, &DirectConv{},
	); err != nil {
		return err
	}
	for _, q := range extraIndexes {
		if err := g.Exec(q).Error; err != nil {
			return err
		}
	}
	return runMigrations(g, migrations)
}

// Close closes the reader pool and then the writer connection; the writer
// is the last connection, so SQLite checkpoints the WAL. Calling Close more
// than once returns the first result.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		var rerr error
		if d.rdb != d.wdb {
			rerr = d.rdb.Close()
		}
		werr := d.wdb.Close()
		if err := errors.Join(rerr, werr); err != nil {
			d.closeErr = fmt.Errorf("close store: %w", err)
		}
	})
	return d.closeErr
}

// Pragmas reports the journal mode, synchronous level (2 = FULL) and
// foreign-key setting of the writer connection, so tests can assert that the
// durability settings are in force.
func (d *DB) Pragmas(ctx context.Context) (journalMode string, synchronous int, foreignKeys int, err error) {
	const op = "pragmas"
	if err := d.check(op); err != nil {
		return "", 0, 0, err
	}
	if d.dia.name != sqliteDialect.name {
		return "", 0, 0, fmt.Errorf("%s: %w", op, ErrNotSQLite)
	}
	conn, err := d.wdb.Conn(ctx)
	if err != nil {
		return "", 0, 0, d.wrap(op, err)
	}
	defer conn.Close()
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journalMode); err != nil {
		return "", 0, 0, d.wrap(op, err)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&synchronous); err != nil {
		return "", 0, 0, d.wrap(op, err)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&foreignKeys); err != nil {
		return "", 0, 0, d.wrap(op, err)
	}
	return journalMode, synchronous, foreignKeys, nil
}

// check returns ErrClosed, wrapped with op, once Close has been called.
func (d *DB) check(op string) error {
	if d.closed.Load() {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	return nil
}

// wrap translates a database error into the package's sentinels (through
// the dialect) and wraps it with op. ErrUnavailable also wraps the driver's
// error.
func (d *DB) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound), errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%s: %w", op, ErrConflict)
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	switch s := d.dia.classify(err); s {
	case nil:
	case ErrUnavailable:
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", op, s)
	}
	if d.closed.Load() {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// writeTx runs fn in one write transaction and commits it: BEGIN
// IMMEDIATE on SQLite's writer connection, READ COMMITTED on PostgreSQL.
// A transaction the database aborted to break a deadlock (PostgreSQL's
// writers lock rows in the order they reach them) is run again, from
// the start: fn must set what it reports afresh on each run.
func (d *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	const attempts = 5
	for i := 1; ; i++ {
		err := d.writeTxOnce(ctx, fn)
		if err == nil || i == attempts || !d.dia.retry(err) || ctx.Err() != nil {
			return err
		}
	}
}

// gormTx runs fn in one GORM write transaction, run again as writeTx
// runs one when the database aborted it to break a deadlock: fn must
// set what it reports afresh on each run.
func (d *DB) gormTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	const attempts = 5
	for i := 1; ; i++ {
		err := d.w.WithContext(ctx).Transaction(fn)
		if err == nil || i == attempts || !d.dia.retry(err) || ctx.Err() != nil {
			return err
		}
	}
}

// exec runs one write statement on its own (autocommit), run again as
// writeTx runs a transaction when the database aborted it to break a
// deadlock.
func (d *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	const attempts = 5
	for i := 1; ; i++ {
		res, err := d.wdb.ExecContext(ctx, q, args...)
		if err == nil || i == attempts || !d.dia.retry(err) || ctx.Err() != nil {
			return res, err
		}
	}
}

func (d *DB) writeTxOnce(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
