package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Retention (issue 11, operations): a pruner goroutine owned by the
// server deletes messages older than Config.Retention and offline
// deliveries acknowledged long enough ago, in small transactions with a
// pause between them so that sends are never held up for long.

const (
	// pruneBatch is how many rows one pruning transaction deletes.
	pruneBatch = 500
	// prunePause is the pause between two batches, in which the
	// sequencer's commits take the write lock.
	prunePause = 20 * time.Millisecond
	// defaultPruneEvery is how often the pruner runs (and once at start).
	defaultPruneEvery = time.Hour
	// ackedKeep is how long an acknowledged offline delivery is kept
	// when retention is off or longer.
	ackedKeep = 24 * time.Hour
	// minRetention refuses a retention that is surely a typo (90m for 90d).
	minRetention = time.Hour
)

// parseRetention reads a retention: empty or 0 keeps everything; Nd is N
// days; anything else is a Go duration (36h) of at least minRetention.
func parseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 100*365 {
			return 0, fmt.Errorf("invalid retention %q: want days like 90d, a duration like 36h, or 0 to keep everything", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d < 0 {
			return 0, fmt.Errorf("invalid retention %q: want days like 90d, a duration like 36h, or 0 to keep everything", s)
		}
	}
	if d < minRetention {
		return 0, fmt.Errorf("invalid retention %q: want at least 1h (or 0 to keep everything)", s)
	}
	return d, nil
}

// stopPruner ends the pruner and waits for it (idempotent).
func (s *server) stopPruner() {
	s.pruneOnce.Do(func() { close(s.stopPrune) })
	<-s.pruneDone
}

// pruneLoop runs a pruning pass at start and then every interval until
// stopPrune is closed.
func (s *server) pruneLoop(every time.Duration) {
	defer close(s.pruneDone)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.stopPrune:
			return
		case <-t.C:
		}
		s.prunePass(time.Now())
		t.Reset(every)
	}
}

// prunePass deletes what retention no longer keeps as of now: messages
// older than Config.Retention (when set) and deliveries acknowledged
// more than ackedKeep (or the retention, if shorter) ago.
func (s *server) prunePass(now time.Time) {
	acked := ackedKeep
	var msgs int
	if r := s.cfg.Retention; r > 0 {
		acked = min(acked, r)
		msgs = s.pruneBatches("messages", func(ctx context.Context) (int, error) {
			return s.store.PruneMessages(ctx, now.Add(-r), pruneBatch)
		})
	}
	dels := s.pruneBatches("deliveries", func(ctx context.Context) (int, error) {
		return s.store.PruneDeliveries(ctx, now.Add(-acked), pruneBatch)
	})
	if msgs > 0 || dels > 0 {
		s.log.Info("pruned", "messages", msgs, "deliveries", dels, "retention", s.cfg.Retention)
	}
}

// pruneBatches calls prune until it deletes less than a batch, pausing
// between calls; it stops early at shutdown or on an error (logged; the
// next pass tries again). It returns how many rows were deleted.
func (s *server) pruneBatches(what string, prune func(context.Context) (int, error)) int {
	total := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		n, err := prune(ctx)
		cancel()
		if err != nil {
			s.log.Warn("prune failed; retrying at the next pass", "what", what, "err", err)
			return total
		}
		total += n
		s.metrics.pruned.WithLabelValues(what).Add(float64(n))
		if n > 0 && what == "messages" {
			s.hub.Pruned()
		}
		if n < pruneBatch {
			return total
		}
		select {
		case <-s.stopPrune:
			return total
		case <-time.After(prunePause):
		}
	}
}
