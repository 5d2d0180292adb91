package chat

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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

var (
	benchStorm     = flag.Int("chat.storm", 500, "accounts logging in and out during BenchmarkLoginStorm/storm")
	benchStormRate = flag.Int("chat.stormrate", 500, "logins per second during BenchmarkLoginStorm/storm (0: as fast as they go)")
)

// BenchmarkLoginStorm measures how long Send takes to return (p50, p99)
// for five chatters in a lobby, without ("quiet") and with ("storm")
// -chat.storm accounts logging in and out, -chat.stormrate logins a second
// in all, meanwhile. Logins and logouts must not queue their store writes
// ahead of messages. At least 200 sends are timed, so that the
// percentiles mean something when a send is slow.
func BenchmarkLoginStorm(b *testing.B) {
	for _, storm := range []bool{false, true} {
		name := "quiet"
		if storm {
			name = "storm"
		}
		b.Run(name, func(b *testing.B) { benchLoginStorm(b, storm) })
	}
}

func benchLoginStorm(b *testing.B, storm bool) {
	h, _ := newTestHub(b, Options{QueueLen: 4096})
	h.opts.RateBurst, h.opts.RatePerSecond = 1<<30, 1<<30
	ctx := context.Background()
	const chatters = 5
	var senders []Session
	for i := range chatters {
		s, err := h.Connect(ctx, account(b, h, fmt.Sprintf("chatter%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		senders = append(senders, s)
		go func() {
			for range s.Events() {
			}
		}()
	}
	var crowd []Account
	for i := range *benchStorm {
		crowd = append(crowd, account(b, h, fmt.Sprintf("crowd%d", i)))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var logins atomic.Int64
	if storm {
		// Every crowd account logs in and out in a loop, when a ticket
		// lets it; a login is Connect (registration, offline claim,
		// snapshot), a logout Close.
		tickets := make(chan struct{}, len(crowd))
		if rate := *benchStormRate; rate > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					for range max(1, rate/100) {
						select {
						case tickets <- struct{}{}:
						default:
						}
					}
				}
			}()
		} else {
			close(tickets)
		}
		for _, a := range crowd {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					case <-tickets:
					}
					s, err := h.Connect(ctx, a)
					if err != nil {
						b.Error(err)
						return
					}
					logins.Add(1)
					s.Close()
				}
			}()
		}
		// Let the storm build up before measuring.
		for logins.Load() < int64(len(crowd)) {
			time.Sleep(time.Millisecond)
		}
	}
	n := max(b.N, 200)
	lat := make([]time.Duration, 0, n)
	var mu sync.Mutex
	next := atomic.Int64{}
	start, before := time.Now(), logins.Load()
	b.ResetTimer()
	var sw sync.WaitGroup
	for _, s := range senders {
		sw.Add(1)
		go func() {
			defer sw.Done()
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				if _, err := s.Send(ctx, Lobby, "hello world"); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	sw.Wait()
	b.StopTimer()
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(logins.Load()-before)/time.Since(start).Seconds(), "logins/s")
	b.ReportMetric(0, "ns/op")
}
