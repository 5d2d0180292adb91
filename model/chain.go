package model

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
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
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// insertChained inserts msgs in order in tx, setting each one's ID, Prev
// and (when zero) CreatedAt to now; then each(i) runs, in order, for the
// rows that go with message i. The messages are written by multi-row
// INSERTs (insertChunk rows each: a round trip per chunk, not per
// message); a statement's IDs are given in the order of its rows on both
// databases, and RETURNING's order is not promised, so they are sorted.
// On error msgs may be partly set; the caller rolls back and discards
// them.
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
	ats := make([]time.Time, len(msgs))
	for i, m := range msgs {
		ats[i] = m.CreatedAt.UTC()
		if m.CreatedAt.IsZero() {
			ats[i] = now
		}
	}
	ids := make([]int64, 0, len(msgs))
	for start := 0; start < len(msgs); start += insertChunk {
		chunk := msgs[start:min(start+insertChunk, len(msgs))]
		args := make([]any, 0, 6*len(chunk))
		for j, m := range chunk {
			args = append(args, m.Conv, m.SenderID, m.SenderHandle, m.Kind, m.Body, ats[start+j])
		}
		got, err := insertedIDs(ctx, tx, valuesSQL(qInsertMessageHead, qInsertMessageRow, len(chunk))+` RETURNING id`, args, len(chunk))
		if err != nil {
			return err
		}
		slices.Sort(got)
		ids = append(ids, got...)
	}
	for i, m := range msgs {
		m.ID, m.Prev, m.CreatedAt = ids[i], heads[m.Conv], ats[i]
		heads[m.Conv] = m.ID
	}
	for _, c := range convs {
		if _, err := tx.ExecContext(ctx, qMoveHead, heads[c], c); err != nil {
			return err
		}
	}
	if each != nil {
		for i := range msgs {
			if err := each(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// insertedIDs runs the INSERT ... RETURNING id q and returns its n IDs.
func insertedIDs(ctx context.Context, tx querier, q string, args []any, n int) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := make([]int64, 0, n)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(ids) != n {
		return nil, fmt.Errorf("insert returned %d IDs for %d rows", len(ids), n)
	}
	return ids, nil
}

// insertChunk is the most rows one multi-row INSERT writes: few round
// trips, and far below SQLite's limit of 32,766 parameters.
const insertChunk = 128

// valuesSQL is head followed by n copies of row: a multi-row INSERT.
func valuesSQL(head, row string, n int) string {
	var b strings.Builder
	b.Grow(len(head) + n*(len(row)+2))
	b.WriteString(head)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// execRows writes rows of width arguments each with multi-row INSERTs of
// head and row, insertChunk rows at a time.
func execRows(ctx context.Context, tx querier, head, row string, width int, args []any) error {
	for start := 0; start < len(args); start += insertChunk * width {
		chunk := args[start:min(start+insertChunk*width, len(args))]
		if _, err := tx.ExecContext(ctx, valuesSQL(head, row, len(chunk)/width), chunk...); err != nil {
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
