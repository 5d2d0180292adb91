package main

import (
	"slices"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {90, 90}, {99, 99}, {100, 100}, {0.1, 1}, {99.5, 100}} {
		if got := percentile(d, tt.p); got != tt.want {
			t.Errorf("percentile(1..100, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	small := []time.Duration{10, 20, 30, 40}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{25, 10}, {26, 20}, {50, 20}, {51, 30}, {99, 40}} {
		if got := percentile(small, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", small, tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil) = %v", got)
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("percentile([7], 99) = %v", got)
	}
}

func TestSummarize(t *testing.T) {
	d := []time.Duration{5, 1, 4, 2, 3}
	s := summarize(d)
	want := distribution{N: 5, P50: 3, P90: 5, P99: 5, Max: 5}
	if s != want {
		t.Fatalf("summarize = %+v, want %+v", s, want)
	}
	if (summarize(nil) != distribution{}) {
		t.Fatal("summarize(nil) not zero")
	}
}

func TestMsRounding(t *testing.T) {
	if got := ms(1234567 * time.Nanosecond); got != 1.23 {
		t.Fatalf("ms = %v", got)
	}
}

func TestObserverSetSpreadEvenly(t *testing.T) {
	idx := func(obs []bool) []int {
		var out []int
		for i, o := range obs {
			if o {
				out = append(out, i)
			}
		}
		return out
	}
	for _, tc := range []struct {
		n, k int
		want []int
	}{
		{5, 100, []int{0, 1, 2, 3, 4}},
		{8, 3, []int{0, 2, 5}},
		{10, 1, []int{0}},
		{4, 0, nil},
	} {
		if got := idx(observerSet(tc.n, tc.k)); !slices.Equal(got, tc.want) {
			t.Errorf("observerSet(%d, %d) = %v, want %v", tc.n, tc.k, got, tc.want)
		}
	}
	got := idx(observerSet(1000, 100))
	if len(got) != 100 || got[0] != 0 || got[1] != 10 || got[99] != 990 {
		t.Fatalf("observerSet(1000, 100) = %v", got)
	}
}

func TestExpectedDeliveriesOverObservers(t *testing.T) {
	// Senders 0 and 1 sent 10 and 7; observers: sender 0 and two
	// non-senders. Sender 0 does not count its own 10.
	sent, exp := expectedDeliveries([]int64{10, 7}, []int32{0, -1, -1})
	if sent != 17 || exp != 7+17+17 {
		t.Fatalf("sent %d expected %d", sent, exp)
	}
	// Every session observes (the old rule): sent × (sessions − 1).
	sent, exp = expectedDeliveries([]int64{4, 4}, []int32{0, 1, -1, -1, -1})
	if sent != 8 || exp != 8*4 {
		t.Fatalf("sent %d expected %d", sent, exp)
	}
	// No observer: nothing expected.
	if _, exp := expectedDeliveries([]int64{3}, nil); exp != 0 {
		t.Fatalf("expected %d without observers", exp)
	}
}

// TestServerCPUPerDeliveryCountsAllSessions: with a sample of observers the
// server's CPU is divided by the deliveries it made to all sessions
// (estimated from the observers' ratio), not by the sampled ones.
func TestServerCPUPerDeliveryCountsAllSessions(t *testing.T) {
	r := &report{Mode: "send", ServerPID: 1, Connected: 1000, Receivers: 1000, Sent: 10,
		Expected: 1000, Delivered: 900, ExpectedAll: 10000, ServerCPURunS: 0.9, ToolCPURunS: 0.09}
	r.finish(&config{})
	if r.DeliveredAll != 9000 || r.ServerCPUPerDeliveryMs != 0.1 || r.ToolCPUPerDeliveryUs != 100 {
		t.Fatalf("delivered all %d, server %v ms, tool %v µs per delivery", r.DeliveredAll, r.ServerCPUPerDeliveryMs, r.ToolCPUPerDeliveryUs)
	}
}
