package model

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"gorm.io/gorm"
)

// Every message is appended through insertChained, which keeps one order
// per conversation across writers: it first locks the conversation's row of
// conv_heads (creating it), then inserts, then moves the head. A second
// writer to the same conversation waits on that row until the first
// commits, so within a conversation IDs grow in commit order, and each
// message learns the ID of the one before it (Message.Prev). Nodes that
// share a database use Prev to see that a message reached them before the
// one it follows and to fill such a gap from the database.
//
// The locking upsert is plain SQL both SQLite and PostgreSQL accept;
// SQLite, whose write transactions are already serial, pays one indexed
// write per conversation per transaction. Conversations are locked in
// sorted order so that two transactions cannot deadlock on them.

const (
	// qLockHead creates a conversation's head or locks it, returning the
	// ID of its newest message (args: conv).
	qLockHead = `INSERT INTO conv_heads (conv, last_id) VALUES (?, 0)
		ON CONFLICT (conv) DO UPDATE SET last_id = conv_heads.last_id RETURNING last_id`
	// qMoveHead records a conversation's newest message (args: id, conv).
	qMoveHead = `UPDATE conv_heads SET last_id = ? WHERE conv = ?`
)

// querier is what insertChained needs of a transaction: *sql.Tx and the
// connection of a GORM transaction both have it.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// insertChained inserts msgs in order in tx, setting each one's ID, Prev
// and (when zero) CreatedAt to now; after each insert, each(i) runs for
// the rows that go with message i. On error msgs may be partly set; the
// caller rolls back and discards them.
func insertChained(ctx context.Context, tx querier, msgs []*Message, now time.Time, each func(i int) error) error {
	convs := make([]string, 0, 1)
	for _, m := range msgs {
		if !slices.Contains(convs, m.Conv) {
			convs = append(convs, m.Conv)
		}
	}
	slices.Sort(convs)
	heads := make(map[string]int64, len(convs))
	for _, c := range convs {
		var last int64
		if err := tx.QueryRowContext(ctx, qLockHead, c).Scan(&last); err != nil {
			return err
		}
		heads[c] = last
	}
	for i, m := range msgs {
		at := m.CreatedAt.UTC()
		if m.CreatedAt.IsZero() {
			at = now
		}
		var id int64
		if err := tx.QueryRowContext(ctx, qInsertMessage, m.Conv, m.SenderID, m.SenderHandle, m.Kind, m.Body, at).Scan(&id); err != nil {
			return err
		}
		m.ID, m.Prev, m.CreatedAt = id, heads[m.Conv], at
		heads[m.Conv] = id
		if each != nil {
			if err := each(i); err != nil {
				return err
			}
		}
	}
	for _, c := range convs {
		if _, err := tx.ExecContext(ctx, qMoveHead, heads[c], c); err != nil {
			return err
		}
	}
	return nil
}

// NewestMessageID returns the ID of the newest message committed in any
// conversation (0: none). A node reads it as it joins a cluster: a message
// with a greater ID was committed after, so the node is told of it or reads
// it from the store.
func (d *DB) NewestMessageID(ctx context.Context) (int64, error) {
	const op = "newest message id"
	if err := d.check(op); err != nil {
		return 0, err
	}
	var id int64
	if err := d.rdb.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM messages`).Scan(&id); err != nil {
		return 0, d.wrap(op, err)
	}
	return id, nil
}

// migrateConvHeads creates conv_heads and starts each conversation's head
// at its newest message.
func migrateConvHeads(tx *gorm.DB) error {
	for _, q := range []string{
		`CREATE TABLE conv_heads (conv VARCHAR(64) PRIMARY KEY, last_id BIGINT NOT NULL)`,
		`INSERT INTO conv_heads (conv, last_id) SELECT conv, max(id) FROM messages GROUP BY conv`,
	} {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}
