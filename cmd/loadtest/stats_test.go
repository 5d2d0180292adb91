package main

import (
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
