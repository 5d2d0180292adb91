package model

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// seedMessages sizes the database of BenchmarkHistoryFirstPage; -short uses
// 100,000 instead.
var seedMessages = flag.Int("model.seed", 1_000_000, "messages seeded for the history benchmarks")

// BenchmarkAppendMessages measures durable (WAL, synchronous=FULL) appends
// of one batch per op, as the chat group-commit writer issues them. One
// message in four is a DM to an offline user, so it also writes a Delivery.
func BenchmarkAppendMessages(b *testing.B) {
	for _, batch := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			d, _ := openTest(b)
			alice, bob := mustUser(b, d, "alice"), mustUser(b, d, "bob")
			dm := DMConv(alice.ID, bob.ID)
			msgs := make([]*Message, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for i := range msgs {
					m := &Message{Conv: "#lobby", SenderID: alice.ID, SenderHandle: "alice",
						Body: "a typical chat line of a few dozen characters"}
					if i%4 == 3 {
						m.Conv, m.OfflineFor = dm, bob.ID
					}
					msgs[i] = m
				}
				if err := d.AppendMessages(ctx, msgs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// seedHistory fills d with n messages spread over 100 rooms and 10 senders
// (every room hears every sender), generated inside SQLite by one INSERT ...
// SELECT over a recursive sequence in one transaction: seconds, not minutes.
func seedHistory(b *testing.B, d *DB, n int) {
	b.Helper()
	ctx := context.Background()
	tx, err := d.wdb.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // committed below
	// A big page cache keeps the seeding transaction from spilling to the WAL.
	if _, err := tx.ExecContext(ctx, "PRAGMA cache_size = -524288"); err != nil {
		b.Fatal(err)
	}
	defer d.wdb.ExecContext(ctx, "PRAGMA cache_size = -16384") //nolint:errcheck // restores the DSN value
	const seed = `WITH RECURSIVE seq(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM seq WHERE k + 1 < ?)
		INSERT INTO messages (conv, sender_id, sender_handle, kind, body, created_at)
		SELECT '#room' || (k % 100), k / 100 % 10 + 1, 'user' || (k / 100 % 10 + 1), 0,
			'a typical chat line of a few dozen characters, seeded', ?
		FROM seq`
	if _, err := tx.ExecContext(ctx, seed, n, time.Now().UTC()); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHistoryFirstPage measures the first History page (50 messages) of
// a room in a database of -model.seed messages (default 1,000,000), plus an
// older page, the hidden-senders variant and Unread over ten rooms.
func BenchmarkHistoryFirstPage(b *testing.B) {
	n := *seedMessages
	if testing.Short() {
		n = min(n, 100_000)
	}
	ctx := context.Background()
	d, _ := openTest(b)
	start := time.Now()
	seedHistory(b, d, n)
	b.Logf("seeded %d messages in %v", n, time.Since(start))
	const room = "#room42"
	first, err := d.History(ctx, room, 0, 50, nil)
	if err != nil || len(first) != 50 {
		b.Fatalf("History = %d, %v", len(first), err)
	}
	newest := first[len(first)-1].ID

	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			if _, err := d.History(ctx, room, 0, 50, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("older", func(b *testing.B) {
		for b.Loop() {
			if _, err := d.History(ctx, room, newest/2, 50, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hidden", func(b *testing.B) {
		hidden := []uint64{1, 3, 5, 7}
		for b.Loop() {
			if _, err := d.History(ctx, room, 0, 50, hidden); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unread10rooms", func(b *testing.B) {
		// Each room has ~1,000 unread messages (newest - 100,000 IDs).
		convs := make([]string, 10)
		for i := range convs {
			convs[i] = fmt.Sprintf("#room%d", i)
			if err := d.MarkRead(ctx, 1, convs[i], max(newest-100_000, 0)); err != nil {
				b.Fatal(err)
			}
		}
		for b.Loop() {
			if _, err := d.Unread(ctx, 1, convs, []uint64{2}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClaimOffline10k claims a queue of 10,000 offline messages
// (returning the newest 50 and the per-sender counts); the release that
// returns them to the queue between ops is not timed.
func BenchmarkClaimOffline10k(b *testing.B) {
	ctx := context.Background()
	d, _ := openTest(b)
	users := []User{mustUser(b, d, "alice"), mustUser(b, d, "carol"), mustUser(b, d, "dave")}
	bob := mustUser(b, d, "bob")
	for range 10 {
		queueFor(b, d, bob, 1000, users...)
	}
	for b.Loop() {
		bt, err := d.ClaimOffline(ctx, bob.ID, "s", 50)
		if err != nil || bt.Total != 10_000 {
			b.Fatalf("claim = %d, %v", bt.Total, err)
		}
		b.StopTimer()
		if err := d.ReleaseOffline(ctx, bob.ID, "s"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkAppendMessagesPostgres measures committed messages per second
// on the PostgreSQL of SSHCHAT_TEST_POSTGRES with synchronous_commit=on:
// one writer appending batches of batch messages (a group commit, as the
// chat writer issues them), and 8 writers at once (as several nodes do),
// either all to the lobby and one DM (they queue on their conv_heads
// rows) or each to a room and a DM of its own. One message in four is a
// DM to an offline user.
func BenchmarkAppendMessagesPostgres(b *testing.B) {
	for _, batch := range []int{1, 16, 64, 256} {
		for _, w := range []struct {
			name    string
			writers int
			ownRoom bool
		}{{"writers=1", 1, false}, {"writers=8/one-room", 8, false}, {"writers=8/own-rooms", 8, true}} {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, w.name), func(b *testing.B) {
				ctx := context.Background()
				d, _ := openOn(b, "postgres")
				var sc string
				if err := d.rdb.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&sc); err != nil || sc != "on" {
					b.Fatalf("synchronous_commit = %q, %v: want on", sc, err)
				}
				alice, bob := mustUser(b, d, "alice"), mustUser(b, d, "bob")
				var next atomic.Int64
				b.ReportAllocs()
				b.SetParallelism(max(1, w.writers/runtime.GOMAXPROCS(0)))
				if w.writers == 1 {
					b.SetParallelism(1)
				}
				b.ResetTimer()
				run := func(conv, dm string, pb interface{ Next() bool }) {
					msgs := make([]*Message, batch)
					for pb.Next() {
						for i := range msgs {
							m := &Message{Conv: conv, SenderID: alice.ID, SenderHandle: "alice",
								Body: "a typical chat line of a few dozen characters"}
							if i%4 == 3 {
								m.Conv, m.OfflineFor = dm, bob.ID
							}
							msgs[i] = m
						}
						if err := d.AppendMessages(ctx, msgs); err != nil {
							b.Error(err)
							return
						}
					}
				}
				if w.writers == 1 {
					run("#lobby", DMConv(alice.ID, bob.ID), loopNext{b})
				} else {
					b.RunParallel(func(pb *testing.PB) {
						conv, dm := "#lobby", DMConv(alice.ID, bob.ID)
						if w.ownRoom {
							k := next.Add(1)
							conv, dm = fmt.Sprintf("#room%d", k), DMConv(alice.ID, bob.ID+uint64(k)*1000)
						}
						run(conv, dm, pb)
					})
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// loopNext is b.Loop as a PB.Next.
type loopNext struct{ b *testing.B }

func (l loopNext) Next() bool { return l.b.Loop() }
