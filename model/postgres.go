package model

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// defaultPostgresConns is the size of the one pool PostgreSQL's reads and
// writes share.
const defaultPostgresConns = 16

// WithMaxConns sets the size of PostgreSQL's connection pool (default
// 16). SQLite ignores it: it has one writer and a reader pool of its own.
func WithMaxConns(n int) Option {
	return func(c *openConfig) {
		if n > 0 {
			c.maxConns = n
		}
	}
}

// ErrBadURL means OpenURL was given a database URL it does not know.
var ErrBadURL = errors.New("unsupported database URL")

// OpenURL opens the database that u names and migrates its schema:
// postgres:// or postgresql:// for PostgreSQL, and sqlite://PATH, file:PATH
// or a plain path for SQLite (as Open). A PostgreSQL database must exist;
// its tables are created in the connection's search_path.
func OpenURL(u string, opts ...Option) (*DB, error) {
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return openPostgres(u, opts...)
	case strings.HasPrefix(u, "sqlite://"):
		return Open(strings.TrimPrefix(u, "sqlite://"), opts...)
	case strings.HasPrefix(u, "file:"):
		p, err := url.PathUnescape(strings.TrimPrefix(strings.TrimPrefix(u, "file:"), "//"))
		if err != nil {
			return nil, fmt.Errorf("open store: %w: %w", ErrBadURL, err)
		}
		if i := strings.IndexByte(p, '?'); i >= 0 {
			return nil, fmt.Errorf("open store: %w: parameters of a file: URL are set by the server", ErrBadURL)
		}
		return Open(p, opts...)
	}
	if i := strings.Index(u, "://"); i > 0 && !strings.ContainsAny(u[:i], `/\`) {
		return nil, fmt.Errorf("open store: %w: %q (postgres://, sqlite:// or a path)", ErrBadURL, u[:i+3])
	}
	return Open(u, opts...)
}

// openPostgres opens a pool of defaultPostgresConns connections to the
// PostgreSQL database at u for both reads and writes (transactions at the
// default READ COMMITTED: the order of messages is kept by conv_heads'
// row locks, see chain.go) and migrates the schema.
func openPostgres(u string, opts ...Option) (*DB, error) {
	cfg := openConfig{busyTimeout: defaultBusyTimeout, maxConns: defaultPostgresConns}
	for _, o := range opts {
		o(&cfg)
	}
	pc, err := pgx.ParseConfig(u)
	if err != nil {
		return nil, fmt.Errorf("open store: %w: %w", ErrBadURL, err)
	}
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = 10 * time.Second
	}
	connector := stdlib.GetConnector(*pc, stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
		// Times come back in UTC, as from SQLite.
		c.TypeMap().RegisterType(&pgtype.Type{
			Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	}))
	sdb := sql.OpenDB(rebindConnector{connector})
	sdb.SetMaxOpenConns(cfg.maxConns)
	sdb.SetMaxIdleConns(cfg.maxConns)
	sdb.SetConnMaxIdleTime(5 * time.Minute)

	d := &DB{wdb: sdb, rdb: sdb, dia: postgresDialect}
	ctx, cancel := context.WithTimeout(context.Background(), pc.ConnectTimeout)
	defer cancel()
	if err := sdb.PingContext(ctx); err != nil {
		_ = sdb.Close()
		return nil, d.wrap("open store", err)
	}
	g, err := gorm.Open(postgres.New(postgres.Config{Conn: sdb}), gormConfig())
	if err != nil {
		_ = sdb.Close()
		return nil, d.wrap("open store", err)
	}
	d.w, d.r = g, g
	if err := migrate(g); err != nil {
		_ = sdb.Close()
		return nil, d.wrap("open store: migrate", err)
	}
	return d, nil
}
