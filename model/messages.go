package model

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Queries kept as constants or builders so the EXPLAIN QUERY PLAN tests check
// exactly what runs.
const (
	// Inserts of messages, deliveries and mentions: a head and a row,
	// repeated by valuesSQL for a multi-row INSERT.
	qInsertMessageHead = `INSERT INTO messages (conv, sender_id, sender_handle, kind, body, created_at) VALUES `
	qInsertMessageRow  = `(?, ?, ?, ?, ?, ?)`
	qInsertMessage     = qInsertMessageHead + qInsertMessageRow + ` RETURNING id`
	qInsertPendingHead = `INSERT INTO deliveries (recipient_id, claim, message_id, sender_id) VALUES `
	qInsertPendingRow  = `(?, '', ?, ?)`
	qInsertPending     = qInsertPendingHead + qInsertPendingRow
	qInsertMentionHead = `INSERT INTO mentions (message_id, user_id, conv, sender_id) VALUES `
	qInsertMentionRow  = `(?, ?, ?, ?)`
	qInsertMention     = qInsertMentionHead + qInsertMentionRow
	qInsertDirect      = `INSERT INTO direct_convs (conv, user_a, user_b, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (conv) DO NOTHING`
	qMarkRead          = `INSERT INTO read_markers (user_id, conv, last_read_id) VALUES (?, ?, ?)
		ON CONFLICT (user_id, conv) DO UPDATE SET last_read_id = ` + keepNewerMark

	// keepNewerMark is the SET of an upsert of read_markers: the marker
	// never moves back (the two-argument max() is SQLite's only).
	keepNewerMark = `CASE WHEN excluded.last_read_id > read_markers.last_read_id
		THEN excluded.last_read_id ELSE read_markers.last_read_id END`

	// qConversations lists user's direct conversations (args: user, user,
	// user), newest activity first.
	qConversations = `SELECT conv, peer_id, last_id FROM (
		SELECT dc.conv AS conv, dc.user_b AS peer_id,
			coalesce((SELECT max(m.id) FROM messages m WHERE m.conv = dc.conv), 0) AS last_id
		FROM direct_convs dc WHERE dc.user_a = ?
		UNION ALL
		SELECT dc.conv, dc.user_a,
			coalesce((SELECT max(m.id) FROM messages m WHERE m.conv = dc.conv), 0)
		FROM direct_convs dc WHERE dc.user_b = ? AND dc.user_a <> ?
	) AS dcs ORDER BY last_id DESC, conv`

	// messageColumns are what scanMessages reads, from messages m joined
	// with users u on the sender (a LEFT JOIN: a deleted sender keeps the
	// handle stored with the message).
	messageColumns = `m.id, m.conv, m.sender_id, m.sender_handle, m.kind, m.body, m.created_at, coalesce(u.handle, m.sender_handle), e.edited_at, coalesce(e.deleted, FALSE)`

	// joinEdits joins a message m with its edit record e, for messageColumns.
	joinEdits = ` LEFT JOIN message_edits e ON e.message_id = m.id`
)

// placeholders returns "?, ?, ..." with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// notInSenders is the hidden-senders filter for n hidden IDs ("" when n is 0).
func notInSenders(col string, n int) string {
	if n == 0 {
		return ""
	}
	return " AND " + col + " NOT IN (" + placeholders(n) + ")"
}

// historySQL returns the History query for nHidden hidden senders (args:
// conv, before, hidden..., limit).
func historySQL(nHidden int) string {
	return `SELECT ` + messageColumns + ` FROM messages m LEFT JOIN users u ON u.id = m.sender_id` + joinEdits + `
		WHERE m.conv = ? AND m.id < ?` + notInSenders("m.sender_id", nHidden) + ` ORDER BY m.id DESC LIMIT ?`
}

// historyAfterSQL returns the HistoryAfter query for nHidden hidden
// senders (args: conv, after, hidden..., limit).
func historyAfterSQL(nHidden int) string {
	return `SELECT ` + messageColumns + ` FROM messages m LEFT JOIN users u ON u.id = m.sender_id` + joinEdits + `
		WHERE m.conv = ? AND m.id > ?` + notInSenders("m.sender_id", nHidden) + ` ORDER BY m.id ASC LIMIT ?`
}

// unreadSQL returns the per-conversation unread count query for nHidden
// hidden senders (args: conv, user, conv, user, hidden...). Lines of
// record (renames, a room's joins, kicks, topics) are not unread, as the
// UI does not count them live: only text and actions are.
func unreadSQL(nHidden int) string {
	return `SELECT count(*) FROM (SELECT 1 FROM messages WHERE conv = ?
		AND id > coalesce((SELECT last_read_id FROM read_markers WHERE user_id = ? AND conv = ?), 0)
		AND sender_id <> ? AND kind IN (` + strconv.Itoa(KindText) + `, ` + strconv.Itoa(KindAction) + `)` +
		notInSenders("sender_id", nHidden) + ` LIMIT ` + strconv.Itoa(UnreadCap) + `) AS unread`
}

// UnreadCap is the largest count Unread reports: counting stops there, so
// a login costs the same whether a busy room has a thousand or a million
// messages unread.
const UnreadCap = 999

// uniqueIDs returns ids sorted and without duplicates, as query arguments.
func uniqueIDs(ids []uint64) []any {
	s := slices.Clone(ids)
	slices.Sort(s)
	s = slices.Compact(s)
	out := make([]any, len(s))
	for i, id := range s {
		out[i] = id
	}
	return out
}

// AppendMessages persists msgs in one transaction, in order, assigning each
// its ID and, when zero, its CreatedAt. A pending Delivery is written for
// every message with OfflineFor set (and every offline user it mentions), a
// mention row for every user it mentions, and every "dm:" conversation is
// registered for Conversations, in the same transaction. It returns only
// after commit; on error no message is stored and msgs are left unchanged.
// A "dm:" conversation ID that is not "dm:<lowID>:<highID>" is rejected.
func (d *DB) AppendMessages(ctx context.Context, msgs []*Message) error {
	const op = "append messages"
	if err := d.check(op); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	type pair struct{ a, b uint64 }
	var dms map[string]pair
	for i, m := range msgs {
		if m == nil {
			return fmt.Errorf("%s: message %d is nil", op, i)
		}
		if m.Conv == "" {
			return fmt.Errorf("%s: message %d has no conversation", op, i)
		}
		if strings.HasPrefix(m.Conv, dmPrefix) {
			a, b, ok := ParseDMConv(m.Conv)
			if !ok {
				return fmt.Errorf("%s: message %d: malformed direct conversation %q", op, i, m.Conv)
			}
			if dms == nil {
				dms = make(map[string]pair)
			}
			dms[m.Conv] = pair{a, b}
		}
	}

	now := time.Now().UTC()
	set := make([]*Message, len(msgs)) // copies: on error msgs are left unchanged
	for i, m := range msgs {
		c := *m
		set[i] = &c
	}
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		var mentions, pending []any
		err := insertChained(ctx, tx, set, now, func(i int) error {
			m := set[i]
			for _, mn := range m.Mentions {
				mentions = append(mentions, m.ID, mn.UserID, m.Conv, m.SenderID)
			}
			for _, to := range offlineRecipients(m) {
				pending = append(pending, to, m.ID, m.SenderID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := execRows(ctx, tx, qInsertMentionHead, qInsertMentionRow, 4, mentions); err != nil {
			return err
		}
		if err := execRows(ctx, tx, qInsertPendingHead, qInsertPendingRow, 3, pending); err != nil {
			return err
		}
		for conv, p := range dms {
			if _, err := tx.ExecContext(ctx, qInsertDirect, conv, p.a, p.b, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return d.wrap(op, err)
	}
	for i, m := range msgs {
		m.ID, m.Prev, m.CreatedAt = set[i].ID, set[i].Prev, set[i].CreatedAt
	}
	return nil
}

// offlineRecipients lists who gets a pending delivery of m: OfflineFor and
// the mentioned users marked Offline, each once.
func offlineRecipients(m *Message) []uint64 {
	var out []uint64
	if m.OfflineFor != 0 {
		out = append(out, m.OfflineFor)
	}
	for _, mn := range m.Mentions {
		if mn.Offline && !slices.Contains(out, mn.UserID) {
			out = append(out, mn.UserID)
		}
	}
	return out
}

// History returns up to limit messages of conv with ID < before (before <= 0
// means from the newest), oldest first, leaving out messages sent by a user
// in hidden.
func (d *DB) History(ctx context.Context, conv string, before int64, limit int, hidden []uint64) ([]Message, error) {
	const op = "history"
	if err := d.check(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	h := uniqueIDs(hidden)
	args := make([]any, 0, len(h)+3)
	args = append(args, conv, before)
	args = append(args, h...)
	args = append(args, limit)
	rows, err := d.rdb.QueryContext(ctx, historySQL(len(h)), args...)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	msgs, err := scanMessages(rows, min(limit, 256))
	if err != nil {
		return nil, d.wrap(op, err)
	}
	slices.Reverse(msgs)
	return msgs, nil
}

// HistoryAfter returns up to limit messages of conv with ID > after,
// oldest first, leaving out messages sent by a user in hidden: the page
// that follows a message, for reading a conversation forwards.
func (d *DB) HistoryAfter(ctx context.Context, conv string, after int64, limit int, hidden []uint64) ([]Message, error) {
	const op = "history after"
	if err := d.check(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	h := uniqueIDs(hidden)
	args := make([]any, 0, len(h)+3)
	args = append(args, conv, max(after, 0))
	args = append(args, h...)
	args = append(args, limit)
	rows, err := d.rdb.QueryContext(ctx, historyAfterSQL(len(h)), args...)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	msgs, err := scanMessages(rows, min(limit, 256))
	if err != nil {
		return nil, d.wrap(op, err)
	}
	return msgs, nil
}

// scanMessages reads messageColumns rows and closes rows.
func scanMessages(rows *sql.Rows, capHint int) ([]Message, error) {
	defer rows.Close()
	msgs := make([]Message, 0, capHint)
	for rows.Next() {
		var m Message
		if err := rows.Scan(&m.ID, &m.Conv, &m.SenderID, &m.SenderHandle, &m.Kind, &m.Body, &m.CreatedAt, &m.Author, &m.EditedAt, &m.Deleted); err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return msgs, nil
}

// Conversations lists the direct conversations user takes part in, each with
// its peer and newest message ID, most recently active first.
func (d *DB) Conversations(ctx context.Context, userID uint64) ([]ConvSummary, error) {
	const op = "conversations"
	if err := d.check(op); err != nil {
		return nil, err
	}
	rows, err := d.rdb.QueryContext(ctx, qConversations, userID, userID, userID)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer rows.Close()
	var out []ConvSummary
	for rows.Next() {
		var c ConvSummary
		if err := rows.Scan(&c.Conv, &c.PeerID, &c.LastID); err != nil {
			return nil, d.wrap(op, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	return out, nil
}

// MarkRead records that user has read conv up to message ID upTo. The marker
// never moves backwards.
func (d *DB) MarkRead(ctx context.Context, userID uint64, conv string, upTo int64) error {
	const op = "mark read"
	if err := d.check(op); err != nil {
		return err
	}
	if _, err := d.exec(ctx, qMarkRead, userID, conv, max(upTo, 0)); err != nil {
		return d.wrap(op, err)
	}
	return nil
}

// Unread counts, for every conversation in convs, the messages newer than
// the user's read marker that were sent neither by the user nor by a user in
// hidden. Every conversation of convs is a key of the result.
func (d *DB) Unread(ctx context.Context, userID uint64, convs []string, hidden []uint64) (map[string]int, error) {
	return d.countPerConv(ctx, "unread", unreadSQL, convs, hidden, func(conv string) [4]any {
		return [4]any{conv, userID, conv, userID}
	})
}

// countPerConv runs one count query per conversation of convs (each once),
// all in one read transaction so that the counts come from one snapshot.
// query builds the statement for n hidden senders; head gives its first
// four arguments for a conversation, the hidden IDs follow.
func (d *DB) countPerConv(ctx context.Context, op string, query func(nHidden int) string, convs []string, hidden []uint64, head func(conv string) [4]any) (map[string]int, error) {
	if err := d.check(op); err != nil {
		return nil, err
	}
	out := make(map[string]int, len(convs))
	if len(convs) == 0 {
		return out, nil
	}
	h := uniqueIDs(hidden)
	tx, err := d.rdb.BeginTx(ctx, d.dia.readTx)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to undo
	stmt, err := tx.PrepareContext(ctx, query(len(h)))
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer stmt.Close()
	args := make([]any, 4, 4+len(h))
	args = append(args, h...)
	for _, conv := range convs {
		if _, done := out[conv]; done {
			continue
		}
		a := head(conv)
		copy(args, a[:])
		var n int
		if err := stmt.QueryRowContext(ctx, args...).Scan(&n); err != nil {
			return nil, d.wrap(op, err)
		}
		out[conv] = n
	}
	return out, nil
}
