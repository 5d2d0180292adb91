package chat

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"sshchat/model"
)

var benchDMSize = flag.Int("chat.dmsize", 1_000_000, "messages seeded for BenchmarkOpenDirectConversation")

// seed appends n messages to conv from user in batches.
func seed(b *testing.B, db *model.DB, conv string, from uint64, offlineFor uint64, n int) {
	b.Helper()
	const batch = 2000
	msgs := make([]*model.Message, 0, batch)
	for i := 0; i < n; i++ {
		msgs = append(msgs, &model.Message{Conv: conv, SenderID: from, SenderHandle: "alice", Body: fmt.Sprintf("message number %d with some text", i), CreatedAt: time.Now(), OfflineFor: offlineFor})
		if len(msgs) == batch || i == n-1 {
			if err := db.AppendMessages(context.Background(), msgs); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
}

// BenchmarkLoginWith10kOfflineMessages measures Connect (claim, snapshot,
// grouped dialog data) for a user with 10,000 queued messages from 20
// senders. Each iteration releases the claim so the next login sees the
// same queue.
func BenchmarkLoginWith10kOfflineMessages(b *testing.B) {
	h, db := newTestHub(b, Options{})
	bob := account(b, h, "bob")
	for s := 0; s < 20; s++ {
		from := account(b, h, fmt.Sprintf("sender%d", s))
		seed(b, db, string(DirectConv(from.ID, bob.ID)), uint64(from.ID), uint64(bob.ID), 500)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		s, err := h.Connect(ctx, bob)
		if err != nil {
			b.Fatal(err)
		}
		snap := s.Snapshot()
		total := 0
		for _, g := range snap.Offline {
			total += g.Count
		}
		if total != 10000 || len(snap.Offline) != 20 {
			b.Fatalf("offline total %d in %d groups", total, len(snap.Offline))
		}
		s.Close()
		// Wait until the leave (which releases the claim) is applied.
		for h.Online() != 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// BenchmarkOpenDirectConversation measures the first page of a direct
// conversation holding -chat.dmsize messages, through the session (privacy
// check, block list, query).
func BenchmarkOpenDirectConversation(b *testing.B) {
	h, db := newTestHub(b, Options{})
	a, c := account(b, h, "alice"), account(b, h, "bob")
	conv := DirectConv(a.ID, c.ID)
	seed(b, db, string(conv), uint64(a.ID), 0, *benchDMSize)
	s, err := h.Connect(context.Background(), c)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for b.Loop() {
		page, err := s.History(context.Background(), conv, 0, 100)
		if err != nil || len(page) != 100 {
			b.Fatalf("%d %v", len(page), err)
		}
	}
}

// BenchmarkLobbySendGroupCommit measures persisted lobby messages per
// second with many concurrent senders (group commit, synchronous=FULL).
func BenchmarkLobbySendGroupCommit(b *testing.B) {
	h, _ := newTestHub(b, Options{})
	h.opts.RateBurst, h.opts.RatePerSecond = 1<<30, 1<<30
	var sessions []Session
	for i := 0; i < 64; i++ {
		s, err := h.Connect(context.Background(), account(b, h, fmt.Sprintf("u%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		sessions = append(sessions, s)
		go func() {
			for range s.Events() {
			}
		}()
	}
	b.SetParallelism(32)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			s := sessions[i%len(sessions)]
			i++
			if _, err := s.Send(context.Background(), Lobby, "hello world"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
