package chat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// lastSeenWriter records when users went offline, off the sequencer: a
// logout's presence event carries the time at once, and the store write
// follows, coalesced per user with the other logouts waiting meanwhile
// into a few small transactions at most once per lastSeenEvery. A storm of
// logouts thus costs a few commits a second, none queued ahead of a
// message. Until a time is written, of serves it to
// readers (contacts, /whois) in place of the stored one.
//
// Its mutex may be taken with Hub.mu held, never the reverse.
type lastSeenWriter struct {
	mu      sync.Mutex
	pending map[UserID]time.Time // to write, newest per user
	writing map[UserID]time.Time // being written now
	wake    chan struct{}        // capacity 1: there is something to write
	stop    chan struct{}        // closed by close: write what is left and exit
	done    chan struct{}        // closed when run has exited
}

func (w *lastSeenWriter) init() {
	w.pending = make(map[UserID]time.Time)
	w.wake = make(chan struct{}, 1)
	w.stop = make(chan struct{})
	w.done = make(chan struct{})
}

// touch records that id was last seen at t.
func (w *lastSeenWriter) touch(id UserID, t time.Time) {
	w.mu.Lock()
	w.pending[id] = t
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// of returns the last-seen time of id not yet stored, else stored.
func (w *lastSeenWriter) of(id UserID, stored time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.pending[id]; ok {
		return t
	}
	if t, ok := w.writing[id]; ok {
		return t
	}
	return stored
}

// lastSeenChunk is how many users one last-seen transaction writes at
// most: a message waiting for SQLite's single writer waits for one chunk,
// not for every logout of the interval.
const lastSeenChunk = 64

// lastSeenEvery is the least time between two last-seen writes: under a
// storm of logouts the writer makes one commit per interval, not one per
// logout, and leaves SQLite's single writer to the messages in between.
const lastSeenEvery = time.Second

// run writes pending times until close; h.Close ends it.
func (w *lastSeenWriter) run(h *Hub) {
	defer close(w.done)
	for {
		select {
		case <-w.wake:
		case <-w.stop:
			return
		}
		w.flush(context.Background(), h)
		select {
		case <-time.After(lastSeenEvery):
		case <-w.stop:
			return
		}
	}
}

// flush writes what is pending, lastSeenChunk users per transaction. A
// write that fails is logged and dropped: a last-seen time is a hint, and
// the next logout of the user writes a newer one.
func (w *lastSeenWriter) flush(ctx context.Context, h *Hub) error {
	w.mu.Lock()
	batch := w.pending
	if len(batch) == 0 {
		w.mu.Unlock()
		return nil
	}
	w.pending, w.writing = make(map[UserID]time.Time), batch
	w.mu.Unlock()
	var err error
	seen := make(map[uint64]time.Time, lastSeenChunk)
	write := func() {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if werr := h.wrote(h.store.TouchLastSeenAll(wctx, seen), "touch last seen", ""); werr != nil {
			err = werr
			if !errors.Is(werr, ErrStorageUnavailable) {
				h.log.Error("touch last seen", "err", werr, "users", len(seen))
			}
		}
		clear(seen)
	}
	for id, t := range batch {
		seen[uint64(id)] = t
		if len(seen) == lastSeenChunk {
			write()
		}
	}
	if len(seen) > 0 {
		write()
	}
	w.mu.Lock()
	w.writing = nil
	w.mu.Unlock()
	return err
}

// close stops run and writes what is left; it fails only when ctx ends
// first.
func (w *lastSeenWriter) close(ctx context.Context, h *Hub) error {
	if err := stopWriter(ctx, &w.mu, w.stop, w.done); err != nil {
		return err
	}
	w.flush(ctx, h) // logs its own failure
	return nil
}

// stopWriter closes stop (once, under mu) and waits until the writer's
// run loop has closed done, or ctx ends. The writers (lastSeenWriter,
// readMarkWriter) then write what is left themselves.
func stopWriter(ctx context.Context, mu *sync.Mutex, stop, done chan struct{}) error {
	mu.Lock()
	select {
	case <-stop:
	default:
		close(stop)
	}
	mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close hub: %w", ctx.Err())
	}
}
