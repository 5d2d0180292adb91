package model

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func appendBodies(t testing.TB, d *DB, conv string, from User, bodies ...string) []int64 {
	t.Helper()
	msgs := make([]*Message, len(bodies))
	for i, b := range bodies {
		msgs[i] = &Message{Conv: conv, SenderID: from.ID, SenderHandle: from.Handle, Body: b}
	}
	if err := d.AppendMessages(context.Background(), msgs); err != nil {
		t.Fatalf("AppendMessages: %v", err)
	}
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func TestSearchFindsAcrossGivenConversationsNewestFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		l := appendBodies(t, d, "#lobby", a, "the Blue whale", "nothing here")
		r := appendBodies(t, d, "#ops", b, "blue-berry pie")
		p := appendBodies(t, d, "#secret", b, "blue secret")
		dm := appendBodies(t, d, DMConv(a.ID, b.ID), b, "a blue note")
		got, err := d.Search(ctx, Search{Words: "blue", Convs: []string{"#lobby", "#ops", DMConv(a.ID, b.ID)}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{dm[0], r[0], l[0]}; !reflect.DeepEqual(ids(got), want) {
			t.Fatalf("search blue = %v, want %v (not %v of a conversation not given)", ids(got), want, p)
		}
		// Paging and hidden senders.
		got, _ = d.Search(ctx, Search{Words: "BLUE", Convs: []string{"#lobby", "#ops", DMConv(a.ID, b.ID)}, Before: dm[0], Limit: 1})
		if want := []int64{r[0]}; !reflect.DeepEqual(ids(got), want) {
			t.Fatalf("page before %d = %v, want %v", dm[0], ids(got), want)
		}
		got, _ = d.Search(ctx, Search{Words: "blue", Convs: []string{"#lobby", "#ops"}, Hidden: []uint64{b.ID}, Limit: 10})
		if want := []int64{l[0]}; !reflect.DeepEqual(ids(got), want) {
			t.Fatalf("hiding bob = %v, want %v", ids(got), want)
		}
		if _, err := d.Search(ctx, Search{Words: ` "*( `, Convs: []string{"#lobby"}, Limit: 10}); !errors.Is(err, ErrBadSearch) {
			t.Fatalf("punctuation only: %v, want ErrBadSearch", err)
		}
		if got, err := d.Search(ctx, Search{Words: `whale" OR "pie`, Convs: []string{"#lobby", "#ops"}, Limit: 10}); err != nil || len(got) != 0 {
			t.Fatalf("syntax typed is a word, not an operator: %v, %v", ids(got), err)
		}
	})
}

func TestSearchAfterEditFindsNewTextOnlyAndDeleteRemoves(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a := mustUser(t, d, "alice")
		id := appendBodies(t, d, "#lobby", a, "old words")[0]
		at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		if err := d.EditMessage(ctx, id, "new text", at); err != nil {
			t.Fatal(err)
		}
		search := func(w string) []int64 {
			got, err := d.Search(ctx, Search{Words: w, Convs: []string{"#lobby"}, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			return ids(got)
		}
		if got := search("old"); len(got) != 0 {
			t.Fatalf("old text still found: %v", got)
		}
		if got := search("new"); !reflect.DeepEqual(got, []int64{id}) {
			t.Fatalf("new text: %v", got)
		}
		m, err := d.MessageByID(ctx, id)
		if err != nil || m.Body != "new text" || m.EditedAt == nil || !m.EditedAt.Equal(at) {
			t.Fatalf("edited message = %+v, %v", m, err)
		}
		if err := d.DeleteMessage(ctx, id, at); err != nil {
			t.Fatal(err)
		}
		if got := search("new"); len(got) != 0 {
			t.Fatalf("deleted message still found: %v", got)
		}
		h, _ := d.History(ctx, "#lobby", 0, 10, nil)
		if len(h) != 1 || !h[0].Deleted || h[0].Body != "" {
			t.Fatalf("history keeps a deleted row with an empty body: %+v", h)
		}
		if err := d.EditMessage(ctx, id, "again", at); !errors.Is(err, ErrNotFound) {
			t.Fatalf("edit of a deleted message: %v, want ErrNotFound", err)
		}
		if _, err := d.LastOwnMessage(ctx, "#lobby", a.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("last own message skips deleted ones: %v", err)
		}
	})
}

func TestSearchIndexFollowsPruning(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a := mustUser(t, d, "alice")
		msgs := []*Message{{Conv: "#lobby", SenderID: a.ID, SenderHandle: "alice", Body: "ancient", CreatedAt: time.Now().Add(-48 * time.Hour)}}
		if err := d.AppendMessages(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		if n, err := d.PruneMessages(ctx, time.Now().Add(-time.Hour), 10); err != nil || n != 1 {
			t.Fatalf("prune = %d, %v", n, err)
		}
		if got, err := d.Search(ctx, Search{Words: "ancient", Convs: []string{"#lobby"}, Limit: 10}); err != nil || len(got) != 0 {
			t.Fatalf("search after prune = %+v, %v", got, err)
		}
		if dia != "sqlite" {
			return // PostgreSQL's index is of messages itself
		}
		var n int
		if err := d.rdb.QueryRowContext(ctx, `SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'ancient'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("index rows after prune = %d, %v", n, err)
		}
	})
}

// BenchmarkSearch1M searches a database of -model.seed messages (default
// 1,000,000) over 100 rooms, as a user who may read 11 conversations (the
// lobby and ten rooms): a word in one message of a thousand, a word in
// every message (the newest 20 are the page), a two-word query, and a
// word only in rooms the user may not read (the worst case: every match
// is read and filtered out).
func BenchmarkSearch1M(b *testing.B) {
	n := *seedMessages
	if testing.Short() {
		n = min(n, 100_000)
	}
	ctx := context.Background()
	d, _ := openTest(b)
	start := time.Now()
	tx, err := d.wdb.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA cache_size = -524288"); err != nil {
		b.Fatal(err)
	}
	const seed = `WITH RECURSIVE seq(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM seq WHERE k + 1 < ?)
		INSERT INTO messages (conv, sender_id, sender_handle, kind, body, created_at)
		SELECT '#room' || (k % 100), k / 100 % 10 + 1, 'user' || (k / 100 % 10 + 1), 0,
			'a typical chat line about w' || (k % 1000) || ' and t' || (k % 7) ||
			CASE WHEN k % 100 >= 50 THEN ' elsewhere' ELSE '' END, ?
		FROM seq`
	if _, err := tx.ExecContext(ctx, seed, n, time.Now().UTC()); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	_, _ = d.wdb.ExecContext(ctx, "PRAGMA cache_size = -16384")
	var segs int
	_ = d.rdb.QueryRowContext(ctx, `SELECT count(*) FROM messages_fts_segdir`).Scan(&segs)
	b.Logf("index segments: %d", segs)
	if os.Getenv("SEARCH_OPTIMIZE") != "" {
		if _, err := d.wdb.ExecContext(ctx, `INSERT INTO messages_fts (messages_fts) VALUES ('optimize')`); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded %d messages (indexed) in %v", n, time.Since(start))
	convs := []string{"#lobby"}
	for i := range 10 {
		convs = append(convs, fmt.Sprintf("#room%d", i))
	}
	for _, c := range []struct{ name, words string }{
		{"rare", "w7"},
		{"common", "typical"},
		{"twowords", "w7 t0"},
		{"unreadable", "elsewhere"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := d.Search(ctx, Search{Words: c.words, Convs: convs, Hidden: []uint64{3}, Limit: 20}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// SQLite only: it rebuilds a database of an old release by hand.
func TestSearchStepBackfillsMessagesStoredBeforeIt(t *testing.T) {
	ctx := context.Background()
	d, path := openTest(t)
	a := mustUser(t, d, "alice")
	// Back to the schema before step 7, with a message in it.
	for _, q := range []string{
		`DROP TRIGGER messages_fts_ai`, `DROP TRIGGER messages_fts_bd`, `DROP TRIGGER messages_fts_bu`,
		`DROP TRIGGER messages_fts_au`, `DROP TABLE messages_fts`, `DROP VIEW messages_fts_content`,
		`DROP TABLE message_edits`, `DELETE FROM schema_migrations WHERE version = 7`,
	} {
		if _, err := d.wdb.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	id := appendBodies(t, d, "#lobby", a, "stored before the index")[0]
	_ = d.Close()
	d, err := Open(path)
	if err != nil {
		t.Fatalf("migrating: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	got, err := d.Search(ctx, Search{Words: "before index", Convs: []string{"#lobby"}, Limit: 10})
	if err != nil || len(got) != 1 || got[0].ID != id {
		t.Fatalf("search after the step = %v, %v", ids(got), err)
	}
}

// TestSearchIndexStepStoresNewestFirst migrates an index of step 7 (lists
// stored oldest first, which a newest-first search must load whole) with
// messages in it: step 8 stores it newest first, and search still finds
// every message, newest first, page by page.
//
// SQLite only: the FTS4 table of step 8.
func TestSearchIndexStepStoresNewestFirst(t *testing.T) {
	ctx := context.Background()
	d, path := openTest(t)
	a := mustUser(t, d, "alice")
	for _, q := range []string{
		`DROP TABLE messages_fts`,
		`CREATE VIRTUAL TABLE messages_fts USING fts4(content="messages_fts_content", conv, body, tokenize=unicode61)`,
		`DELETE FROM schema_migrations WHERE version = 8`,
	} {
		if _, err := d.wdb.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	want := appendBodies(t, d, "#lobby", a, "one word", "two word", "three word")
	_ = d.Close()
	d, err := Open(path)
	if err != nil {
		t.Fatalf("migrating: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	var decl string
	if err := d.rdb.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'messages_fts'`).Scan(&decl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(decl, "order=DESC") {
		t.Fatalf("index after step 8: %s", decl)
	}
	more := appendBodies(t, d, "#lobby", a, "four word")
	var got []int64
	for before := int64(0); ; {
		page, err := d.Search(ctx, Search{Words: "word", Convs: []string{"#lobby"}, Before: before, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, ids(page)...)
		before = page[len(page)-1].ID
	}
	if w := []int64{more[0], want[2], want[1], want[0]}; !reflect.DeepEqual(got, w) {
		t.Fatalf("pages = %v, want %v", got, w)
	}
}

func TestAuditedDeleteMessageWritesAuditInItsTransactionOnly(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a := mustUser(t, d, "alice")
		ids := appendN(t, d, "#lobby", 2, "m", a)
		at := time.Now()
		if err := d.AuditedDeleteMessage(ctx, ids[0], at, &AuditEntry{Actor: "boss", Action: "delete", Target: "alice"}); err != nil {
			t.Fatal(err)
		}
		m, err := d.MessageByID(ctx, ids[0])
		if err != nil || !m.Deleted || m.Body != "" {
			t.Fatalf("not deleted: %+v %v", m, err)
		}
		// Deleting again, or a message that is not there, stores no audit row.
		for _, id := range []int64{ids[0], 9999} {
			if err := d.AuditedDeleteMessage(ctx, id, at, &AuditEntry{Actor: "boss", Action: "delete"}); !errors.Is(err, ErrNotFound) {
				t.Fatalf("delete %d: %v", id, err)
			}
		}
		log, err := d.Audit(ctx, 10)
		if err != nil || len(log) != 1 || log[0].Action != "delete" || log[0].Target != "alice" {
			t.Fatalf("audit = %+v, %v", log, err)
		}
	})
}

// TestSearchIgnoresCaseAndAccents: the words match whatever their case
// and accents, composed or not, on both databases.
func TestSearchIgnoresCaseAndAccents(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a := mustUser(t, d, "alice")
		at := appendBodies(t, d, "#lobby", a, "Café CRÈME à Zürich", "cafe\u0301 de\u0301compose\u0301", "São Paulo, Ñandú")
		for _, c := range []struct {
			words string
			want  []int64
		}{
			{"cafe", []int64{at[1], at[0]}},
			{"CAFÉ", []int64{at[1], at[0]}},
			{"creme zurich", []int64{at[0]}},
			{"décomposé", []int64{at[1]}},
			{"sao nandu", []int64{at[2]}},
			{"ÑANDU", []int64{at[2]}},
		} {
			got, err := d.Search(ctx, Search{Words: c.words, Convs: []string{"#lobby"}, Limit: 10})
			if err != nil || !slices.Equal(ids(got), c.want) {
				t.Errorf("search %q = %v, %v; want %v", c.words, ids(got), err, c.want)
			}
		}
	})
}

// TestSearchUsesItsIndexOnPostgreSQL: the search's match (pgSearchMatch,
// part of searchSQLPostgres) must be the index's expression, or
// PostgreSQL reads every message.
func TestSearchUsesItsIndexOnPostgreSQL(t *testing.T) {
	ctx := context.Background()
	d, _ := openOn(t, "postgres")
	a := mustUser(t, d, "alice")
	appendBodies(t, d, "#lobby", a, "the blue whale", "a red fox")
	tx, err := d.rdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	// Two messages are read faster without an index: forbid the scan of
	// the table, to see whether the planner can use the full-text index.
	if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.QueryContext(ctx, `EXPLAIN SELECT m.id FROM messages m WHERE `+pgSearchMatch, "whale")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "idx_messages_body_fts") {
		t.Fatalf("search does not use idx_messages_body_fts:\n%s", strings.Join(plan, "\n"))
	}
}
