package chat

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// countingMetrics counts the hub's observations.
type countingMetrics struct {
	committed, commits, fanouts, dropped, limited atomic.Int64
}

func (m *countingMetrics) Committed(n int, _ time.Duration) {
	m.committed.Add(int64(n))
	m.commits.Add(1)
}
func (m *countingMetrics) FannedOut(time.Duration) { m.fanouts.Add(1) }
func (m *countingMetrics) SlowConsumerDropped()    { m.dropped.Add(1) }
func (m *countingMetrics) RateLimited()            { m.limited.Add(1) }

// The hub tells its Metrics of every committed message, each group's
// fan-out, a dropped slow consumer and a refused over-rate send.
func TestHubReportsCommitsFanOutDropsAndRateRefusals(t *testing.T) {
	m := &countingMetrics{}
	h, _ := newTestHub(t, Options{Metrics: m, QueueLen: 4, RateBurst: 50, RatePerSecond: 0.001})
	ctx := context.Background()
	sender := connect(t, h, account(t, h, "sender"))
	go func() { // the sender reads its events; slow never does and is dropped
		for range sender.Events() {
		}
	}()
	slow := connect(t, h, account(t, h, "slow"))
	var limited error
	for i := 0; i < 60 && limited == nil; i++ {
		if _, err := sender.Send(ctx, Lobby, "hello"); err != nil {
			limited = err
		}
	}
	if !errors.Is(limited, ErrRateLimited) {
		t.Fatalf("flood not limited: %v", limited)
	}
	if got := m.committed.Load(); got != 50 {
		t.Fatalf("committed %d messages; want 50", got)
	}
	if m.fanouts.Load() != m.commits.Load() || m.commits.Load() == 0 {
		t.Fatalf("%d fan-outs for %d commits", m.fanouts.Load(), m.commits.Load())
	}
	if m.limited.Load() != 1 {
		t.Fatalf("rate refusals %d; want 1", m.limited.Load())
	}
	<-slow.Done()
	if m.dropped.Load() < 1 {
		t.Fatal("slow consumer drop not reported")
	}
}
