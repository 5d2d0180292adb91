package model

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Operations: readiness, online backup and retention (issue 11).

// Writable reports whether the database can take a write now: it opens a
// write transaction (BEGIN IMMEDIATE on SQLite's writer connection), runs
// a write that changes nothing (a read-only PostgreSQL, such as a
// standby, refuses it) and rolls back, so a database locked by another
// process, read-only or gone fails with ErrUnavailable. On SQLite it waits
// behind the writes in flight.
func (d *DB) Writable(ctx context.Context) error {
	const op = "probe write"
	if err := d.check(op); err != nil {
		return err
	}
	tx, err := d.wdb.BeginTx(ctx, nil)
	if err != nil {
		return d.wrap(op, err)
	}
	if _, err := tx.ExecContext(ctx, qProbeWrite); err != nil {
		_ = tx.Rollback()
		return d.wrap(op, err)
	}
	if err := tx.Rollback(); err != nil {
		return d.wrap(op, err)
	}
	return nil
}

// qProbeWrite is a write that changes no row.
const qProbeWrite = `UPDATE id_counters SET last_id = last_id WHERE name = ''`

// ErrBackupExists refuses a backup over an existing file.
var ErrBackupExists = errors.New("backup file already exists")

// ErrNotSQLite refuses what only a SQLite database has (Backup, Pragmas):
// a PostgreSQL database is backed up with its own tools (pg_dump).
var ErrNotSQLite = errors.New("the database is not SQLite")

// Backup writes a consistent copy of the database to the new file dest
// (0600), while the server runs: SQLite's VACUUM INTO reads one snapshot
// on a connection of its own, so writers go on meanwhile. The copy is
// written beside dest and linked into place, so dest never holds half a
// backup and an existing dest is refused with ErrBackupExists, never
// replaced.
func (d *DB) Backup(ctx context.Context, dest string) error {
	const op = "backup"
	if err := d.check(op); err != nil {
		return err
	}
	if d.dia.name != sqliteDialect.name {
		return fmt.Errorf("%s: %w (use pg_dump)", op, ErrNotSQLite)
	}
	var src string
	if err := d.rdb.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&src); err != nil {
		return d.wrap(op, err)
	}
	return BackupFile(ctx, src, dest)
}

// BackupFile is Backup of the database file src, also for a process other
// than the server's (sshchat backup): it opens src read-only (mode=ro),
// without migrating it. (Not query_only, which SQLite refuses VACUUM INTO
// on.)
func BackupFile(ctx context.Context, src, dest string) error {
	const op = "backup"
	abs, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("%s: no database at %s: %w", op, src, err)
	}
	db, err := sql.Open("sqlite3", dsn(abs, url.Values{"_busy_timeout": {"5000"}, "mode": {"ro"}}))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer db.Close()
	return backupInto(ctx, db, dest)
}

// backupInto runs VACUUM INTO on a connection of db.
func backupInto(ctx context.Context, db *sql.DB, dest string) error {
	const op = "backup"
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("%s: %w: %s", op, ErrBackupExists, dest)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".partial-*")
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmpName); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	// VACUUM INTO does not sync its output.
	f, err := os.OpenFile(tmpName, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := os.Link(tmpName, dest); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s: %w: %s", op, ErrBackupExists, dest)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	if dir, err := os.Open(filepath.Dir(dest)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}

// Retention queries. A message some recipient has not yet received (a
// pending delivery) is never pruned.
const (
	qPrunableMessages = `SELECT id FROM messages WHERE created_at < ?
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = messages.id AND d.delivered_at IS NULL)
		ORDER BY id LIMIT ?`
	qPruneMessagesIn = `DELETE FROM messages WHERE created_at < ?
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = messages.id AND d.delivered_at IS NULL)
		AND id IN (`
	qPrunableDeliveries = `SELECT id FROM deliveries WHERE delivered_at IS NOT NULL AND delivered_at < ? ORDER BY id LIMIT ?`
	qPruneDeliveriesIn  = `DELETE FROM deliveries WHERE delivered_at IS NOT NULL AND delivered_at < ? AND id IN (`
)

// PruneMessages deletes up to limit messages created before cutoff,
// oldest first, with their mentions and delivered offline rows, in one
// short transaction, and returns how many it deleted. Messages a pending
// delivery still needs are kept. The candidates are found on a reader
// connection, so the write lock is held only for the delete; call it in
// a loop, pausing between calls, until it returns fewer than limit.
func (d *DB) PruneMessages(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	return d.prune(ctx, "prune messages", qPrunableMessages, qPruneMessagesIn, cutoff, limit)
}

// PruneDeliveries deletes up to limit offline-delivery rows acknowledged
// (delivered) before cutoff in one transaction and returns how many;
// pending ones are never touched.
func (d *DB) PruneDeliveries(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	return d.prune(ctx, "prune deliveries", qPrunableDeliveries, qPruneDeliveriesIn, cutoff, limit)
}

// prune reads up to limit IDs with pick and deletes those that still
// qualify with del (its conditions are checked again under the write lock).
func (d *DB) prune(ctx context.Context, op, pick, del string, cutoff time.Time, limit int) (int, error) {
	if err := d.check(op); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	cutoff = cutoff.UTC()
	rows, err := d.rdb.QueryContext(ctx, pick, cutoff, limit)
	if err != nil {
		return 0, d.wrap(op, err)
	}
	args := []any{cutoff}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, d.wrap(op, err)
		}
		args = append(args, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, d.wrap(op, err)
	}
	if len(args) == 1 {
		return 0, nil
	}
	var n int64
	err = d.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, del+placeholders(len(args)-1)+`)`, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, d.wrap(op, err)
	}
	return int(n), nil
}
