package model

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Full-text search of message bodies.
//
// Search is the one feature whose SQL differs between the databases, and
// everything specific to each engine is in this file: the index (created
// by migration step 7, rebuilt by step 8), how the words typed become a
// match expression and the one query that uses it: the dialect's search
// (a fullText) holds them.
//
// SQLite: the index (searchSchema, stored newest first since step 8:
// searchNewestFirst) is an FTS4 table over the body and the conversation
// (as one token), with external content (a view of messages: it stores
// no copy of the text), kept by triggers, so every write of messages
// (AppendMessages, EditMessage, DeleteMessage, pruning) changes it in the
// same transaction; ftsQuery and ftsConvs build the match, searchSQL
// uses it.
//
// PostgreSQL: a GIN index of to_tsvector('simple', body) over texts and
// actions (searchSchemaPostgres), which PostgreSQL keeps with every write
// of messages; tsQuery builds the match (every word, lower-cased, as a
// whole word), searchSQLPostgres uses it. Step 8 has nothing to do there.

// searchSchema creates the index and its triggers and fills it from the
// stored messages. Only text and actions are indexed (a deleted message
// has an empty body).
var searchSchema = []string{
	// The index reads its content through this view: the body, and the
	// conversation as one token ("c" and its hex), so that the readable
	// conversations can be part of the MATCH.
	`CREATE VIEW messages_fts_content (rowid, conv, body) AS
		SELECT id, 'c' || hex(conv), body FROM messages`,
	`CREATE VIRTUAL TABLE messages_fts USING fts4(content="messages_fts_content", conv, body, tokenize=unicode61)`,
	`CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages
		WHEN new.kind IN (0, 1)
		BEGIN INSERT INTO messages_fts (docid, conv, body) VALUES (new.id, 'c' || hex(new.conv), new.body); END`,
	`CREATE TRIGGER messages_fts_bd BEFORE DELETE ON messages
		WHEN old.kind IN (0, 1)
		BEGIN DELETE FROM messages_fts WHERE docid = old.id; END`,
	`CREATE TRIGGER messages_fts_bu BEFORE UPDATE OF body ON messages
		WHEN old.kind IN (0, 1)
		BEGIN DELETE FROM messages_fts WHERE docid = old.id; END`,
	`CREATE TRIGGER messages_fts_au AFTER UPDATE OF body ON messages
		WHEN new.kind IN (0, 1)
		BEGIN INSERT INTO messages_fts (docid, conv, body) VALUES (new.id, 'c' || hex(new.conv), new.body); END`,
	`INSERT INTO messages_fts (docid, conv, body) SELECT id, 'c' || hex(conv), body FROM messages WHERE kind IN (0, 1)`,
}

// searchNewestFirst (step 8) rebuilds the index with every word's list
// of documents stored newest first (order=DESC). Search reads newest
// first, and FTS4 reads a list lazily only in the order it is stored:
// the other way round it loads a word's whole list before the first row,
// which for a word in nearly every message is the whole history. The
// view and the triggers of step 7 stay as they are.
var searchNewestFirst = []string{
	`DROP TABLE messages_fts`,
	`CREATE VIRTUAL TABLE messages_fts USING fts4(content="messages_fts_content", conv, body, tokenize=unicode61, order=DESC)`,
	`INSERT INTO messages_fts (docid, conv, body) SELECT id, 'c' || hex(conv), body FROM messages WHERE kind IN (0, 1)`,
}

// searchSchemaPostgres is step 7's index on PostgreSQL. The 'simple'
// configuration lower-cases words and keeps them whole (no stemming, no
// stop words), as unicode61 does on SQLite; pgSearchBody folds accents.
var searchSchemaPostgres = []string{
	`CREATE INDEX idx_messages_body_fts ON messages USING GIN (` + pgSearchBody + `) WHERE kind IN (0, 1)`,
}

// Accents on PostgreSQL: the index and the query see the body through
// pgSearchBody, which decomposes it (NFD) and drops the combining marks
// U+0300 to U+036F, as foldAccents does to the words typed: "é" and
// "e\u0301" are "e". (SQLite's unicode61 does the same.) It is step 7's
// index expression and the query's, which must match it: never change it
// (a change is a new step). normalize() needs a UTF8 database.
const (
	// pgSearchBody is the folded body PostgreSQL indexes and searches.
	pgSearchBody = `to_tsvector('simple', regexp_replace(normalize(body, NFD), E'[\u0300-\u036F]', '', 'g'))`
	// pgSearchMatch is what the index serves (args: the tsquery).
	pgSearchMatch = pgSearchBody + ` @@ to_tsquery('simple', ?) AND m.kind IN (0, 1)`
)

// fullText is one database's search: the index's schema steps, the match
// expression for the words and conversations, and the query (args: match,
// before, convs..., hidden..., limit).
type fullText struct {
	schema, newestFirst []string
	match               func(words, convs []string) string
	query               func(nConvs, nHidden int) string
}

// fullTextOf returns the search of the database GORM names name.
func fullTextOf(name string) fullText { return dialectOf(name).search }

// ftsMatch is SQLite's match: the words, within the conversations.
func ftsMatch(words, convs []string) string { return ftsQuery(words) + " " + ftsConvs(convs) }

// ErrBadSearch means the words to search for have nothing to match.
var ErrBadSearch = errors.New("nothing to search for")

// SearchLimit is the largest page Search returns.
const SearchLimit = 100

// Search is one search: the words, where to look and which page.
type Search struct {
	// Words are what to find: messages containing every word, as whole
	// words (case and accents ignored by the tokenizer).
	Words string
	// Convs are the conversations the searching user may read; nothing
	// else is searched. Empty: nothing is found.
	Convs []string
	// Hidden are senders left out (those the user blocked).
	Hidden []uint64
	// Before pages back: only messages with an ID below it (0: newest).
	Before int64
	// Limit is the page size (at most SearchLimit).
	Limit int
}

// searchSQL returns the search query for nConvs conversations and nHidden
// hidden senders (args: match, before, convs..., hidden..., limit). The
// index is the outer loop, walked newest first in the order it is stored
// (searchNewestFirst), so a page stops at its limit; the privacy filter
// is part of the query.
func searchSQL(nConvs, nHidden int) string {
	return `SELECT ` + messageColumns + ` FROM messages_fts f
		CROSS JOIN messages m ON m.id = f.docid
		LEFT JOIN users u ON u.id = m.sender_id` + joinEdits + `
		WHERE messages_fts MATCH ? AND f.docid < ?
		AND m.conv IN (` + placeholders(nConvs) + `)` +
		notInSenders("m.sender_id", nHidden) + `
		ORDER BY f.docid DESC LIMIT ?`
}

// searchSQLPostgres is searchSQL on PostgreSQL: the GIN index finds the
// matching messages (pgSearchBody is the index's expression, body
// unqualified, as the index has it), the conversation and sender filters
// and the page are the same.
func searchSQLPostgres(nConvs, nHidden int) string {
	return `SELECT ` + messageColumns + ` FROM messages m
		LEFT JOIN users u ON u.id = m.sender_id` + joinEdits + `
		WHERE ` + pgSearchMatch + ` AND m.id < ?
		AND m.conv IN (` + placeholders(nConvs) + `)` +
		notInSenders("m.sender_id", nHidden) + `
		ORDER BY m.id DESC LIMIT ?`
}

// searchWords splits typed words into the words to find: runs of letters
// and digits, lower-cased (so nothing typed is read as an operator) and
// without accents (as the indexes store them), at most 16. Words match whole words only: a prefix query reads the index
// of every word it starts, too slow on a large history. ok is false when
// no word is left.
func searchWords(words string) ([]string, bool) {
	fields := strings.FieldsFunc(foldAccents(words), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	})
	if len(fields) == 0 {
		return nil, false
	}
	if len(fields) > 16 {
		fields = fields[:16]
	}
	for i, f := range fields {
		fields[i] = strings.ToLower(f)
	}
	return fields, true
}

// foldAccents decomposes s (NFD) and drops the combining marks U+0300 to
// U+036F, as pgSearchBody does: "é" and "e\u0301" become "e".
func foldAccents(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		if r < 0x300 || r > 0x36F {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ftsQuery is the FTS4 match expression of words: each a term of the
// body, all required.
func ftsQuery(words []string) string {
	var b strings.Builder
	for i, f := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("body:" + f)
	}
	return b.String()
}

// tsQuery is the tsquery of words: all required. A word is letters and
// digits only, so it needs no quoting; convs are filtered by the SQL.
func tsQuery(words, _ []string) string { return strings.Join(words, " & ") }

// Search returns up to q.Limit messages of q.Convs containing q.Words,
// newest first, leaving out deleted messages and those sent by q.Hidden.
// ErrBadSearch when the words have nothing to match.
func (d *DB) Search(ctx context.Context, q Search) ([]Message, error) {
	const op = "search"
	if err := d.check(op); err != nil {
		return nil, err
	}
	words, ok := searchWords(q.Words)
	if !ok {
		return nil, ErrBadSearch
	}
	if len(q.Convs) == 0 || q.Limit <= 0 {
		return nil, nil
	}
	ft := d.dia.search
	match := ft.match(words, q.Convs)
	limit := min(q.Limit, SearchLimit)
	before := q.Before
	if before <= 0 {
		before = math.MaxInt64
	}
	h := uniqueIDs(q.Hidden)
	args := make([]any, 0, 3+len(q.Convs)+len(h))
	args = append(args, match, before)
	for _, c := range q.Convs {
		args = append(args, c)
	}
	args = append(args, h...)
	args = append(args, limit)
	rows, err := d.rdb.QueryContext(ctx, ft.query(len(q.Convs), len(h)), args...)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	msgs, err := scanMessages(rows, limit)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	return msgs, nil
}

const (
	qLastOwn = `SELECT ` + messageColumns + ` FROM messages m LEFT JOIN users u ON u.id = m.sender_id` + joinEdits + `
		WHERE m.conv = ? AND m.sender_id = ? AND m.kind IN (0, 1) AND NOT coalesce(e.deleted, FALSE)
		ORDER BY m.id DESC LIMIT 1`
	qMessageByID = `SELECT ` + messageColumns + ` FROM messages m LEFT JOIN users u ON u.id = m.sender_id` + joinEdits + ` WHERE m.id = ?`
	// qChangeBody sets a body (args: body, id, id) of a text or action
	// not deleted.
	qChangeBody = `UPDATE messages SET body = ? WHERE id = ? AND kind IN (0, 1)
		AND NOT EXISTS (SELECT 1 FROM message_edits WHERE message_id = ? AND deleted)`
	// qRecordEdit records an edit or deletion (args: id, at, deleted).
	qRecordEdit = `INSERT INTO message_edits (message_id, edited_at, deleted) VALUES (?, ?, ?)
		ON CONFLICT (message_id) DO UPDATE SET edited_at = excluded.edited_at, deleted = excluded.deleted`
)

// LastOwnMessage returns the newest text or action userID sent in conv
// that is not deleted, or ErrNotFound.
func (d *DB) LastOwnMessage(ctx context.Context, conv string, userID uint64) (Message, error) {
	return d.oneMessage(ctx, "last own message", qLastOwn, conv, userID)
}

// MessageByID returns one message, or ErrNotFound.
func (d *DB) MessageByID(ctx context.Context, id int64) (Message, error) {
	return d.oneMessage(ctx, "message by id", qMessageByID, id)
}

func (d *DB) oneMessage(ctx context.Context, op, q string, args ...any) (Message, error) {
	if err := d.check(op); err != nil {
		return Message{}, err
	}
	rows, err := d.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return Message{}, d.wrap(op, err)
	}
	msgs, err := scanMessages(rows, 1)
	if err != nil {
		return Message{}, d.wrap(op, err)
	}
	if len(msgs) == 0 {
		return Message{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return msgs[0], nil
}

// EditMessage replaces the body of message id and records when, in one
// transaction (the search index follows by trigger). ErrNotFound when
// there is no such text or action, or it was deleted.
func (d *DB) EditMessage(ctx context.Context, id int64, body string, at time.Time) error {
	return d.changeMessage(ctx, "edit message", id, body, at, false)
}

// DeleteMessage empties message id and marks it deleted (the row stays,
// for order), in one transaction. ErrNotFound when there is no such text
// or action, or it is already deleted.
func (d *DB) DeleteMessage(ctx context.Context, id int64, at time.Time) error {
	return d.changeMessage(ctx, "delete message", id, "", at, true)
}

// AuditedDeleteMessage deletes message id as DeleteMessage does and
// stores a (an administrator's deletion) in the same transaction.
// ErrNotFound, and nothing stored, when there is no such text or action
// or it is already deleted.
func (d *DB) AuditedDeleteMessage(ctx context.Context, id int64, at time.Time, a *AuditEntry) error {
	return d.moderationWrite(ctx, "delete message", a, func(tx *sql.Tx, _ time.Time) error {
		if err := affected(tx.ExecContext(ctx, qChangeBody, "", id, id)); err != nil {
			return fmt.Errorf("message %d: %w", id, err)
		}
		_, err := tx.ExecContext(ctx, qRecordEdit, id, at.UTC(), true)
		return err
	})
}

func (d *DB) changeMessage(ctx context.Context, op string, id int64, body string, at time.Time, deleted bool) error {
	if err := d.check(op); err != nil {
		return err
	}
	var n int64
	err := d.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, qChangeBody, body, id, id)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, qRecordEdit, id, at.UTC(), deleted)
		return err
	})
	if err != nil {
		return d.wrap(op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return nil
}

// ftsConvs is the match expression "in one of convs", on the index's
// one-token form of a conversation ("c" and the hex of its ID). The index
// then reads only what those conversations said; the SQL filter stays the
// guarantee. The driver builds FTS4 with the enhanced query syntax
// (SQLITE_ENABLE_FTS3_PARENTHESIS), where AND binds tighter than OR:
// hence the parentheses (TestSearchFindsAcrossGivenConversationsNewestFirst
// fails without them).
func ftsConvs(convs []string) string {
	parts := make([]string, len(convs))
	for i, c := range convs {
		parts[i] = "conv:c" + strings.ToUpper(hex.EncodeToString([]byte(c)))
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}
