package main

import (
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted values by
// the nearest-rank method: the smallest value such that at least p % of the
// values are less than or equal to it. It returns 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// distribution summarises a set of durations.
type distribution struct {
	N   int
	P50 time.Duration
	P90 time.Duration
	P99 time.Duration
	Max time.Duration
}

// summarize sorts d in place and returns its distribution.
func summarize(d []time.Duration) distribution {
	slices.Sort(d)
	if len(d) == 0 {
		return distribution{}
	}
	return distribution{
		N:   len(d),
		P50: percentile(d, 50),
		P90: percentile(d, 90),
		P99: percentile(d, 99),
		Max: d[len(d)-1],
	}
}

// ms converts a duration to milliseconds rounded to 0.01 ms.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*100) / 100
}

// round3 rounds to three decimals (for JSON output).
func round3(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return math.Round(f*1000) / 1000
}
