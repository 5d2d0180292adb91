package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// stormResult is what a login storm did.
type stormResult struct {
	connected, failed int
	wall              time.Duration
	connectTimes      []time.Duration
}

// storm connects cfg.storm more sessions (users cfg.n, cfg.n+1, ...),
// cfg.concurrency at a time, and closes each as soon as it is ready: a
// login and a logout per session while the others chat. It returns when
// every storm session has ended its attempt or ctx ends.
func (r *runner) storm(ctx context.Context) stormResult {
	cfg := r.cfg
	start := time.Now()
	var res stormResult
	var mu sync.Mutex
	var connected, failed atomic.Int64
	sem := make(chan struct{}, cfg.concurrency)
	var wg sync.WaitGroup
	for i := range cfg.storm {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				failed.Add(1)
				return
			}
			defer func() { <-sem }()
			s := newSession(cfg.n+i, cfg.userName(cfg.n+i), r.tr)
			s.storm = true
			signer, err := deriveSigner(cfg.seed, s.user)
			if err == nil {
				var d time.Duration
				if d, err = s.connect(ctx, cfg, signer); err == nil {
					mu.Lock()
					res.connectTimes = append(res.connectTimes, d)
					mu.Unlock()
				}
			}
			s.close()
			if s.started {
				<-s.done
			}
			if err != nil {
				failed.Add(1)
				return
			}
			connected.Add(1)
		})
	}
	wg.Wait()
	res.connected, res.failed = int(connected.Load()), int(failed.Load())
	res.wall = time.Since(start)
	return res
}
