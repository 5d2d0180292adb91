package model

import (
	"context"
)

// Operations: readiness, online backup and retention (issue 11).

// Writable reports whether the database can take a write now: it opens
// and rolls back a write transaction (BEGIN IMMEDIATE) on the writer
// connection, so a database locked by another process, read-only or gone
// fails with ErrUnavailable. It waits behind the writes in flight.
func (d *DB) Writable(ctx context.Context) error {
	const op = "probe write"
	if err := d.check(op); err != nil {
		return err
	}
	tx, err := d.wdb.BeginTx(ctx, nil)
	if err != nil {
		return d.wrap(op, err)
	}
	if err := tx.Rollback(); err != nil {
		return d.wrap(op, err)
	}
	return nil
}
