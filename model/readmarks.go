package model

import (
	"context"
	"database/sql"
)

// ReadMark is one read marker to record: User has read Conv up to UpTo.
type ReadMark struct {
	UserID uint64
	Conv   string
	UpTo   int64
}

// MarkReadAll records several read markers in one transaction, each as
// MarkRead does (a marker never moves backwards).
func (d *DB) MarkReadAll(ctx context.Context, marks []ReadMark) error {
	const op = "mark read"
	if err := d.check(op); err != nil {
		return err
	}
	if len(marks) == 0 {
		return nil
	}
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, qMarkRead)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, m := range marks {
			if _, err := stmt.ExecContext(ctx, m.UserID, m.Conv, max(m.UpTo, 0)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return d.wrap(op, err)
	}
	return nil
}
