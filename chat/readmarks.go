package chat

import (
	"context"
	"errors"
	"sync"
	"time"

	"sshchat/model"
)

// readMarkWriter records read markers off the request path, as
// lastSeenWriter does last-seen times: MarkRead notes the marker and tells
// the user's other sessions at once, and the store write follows,
// coalesced (the newest marker per user and conversation) with every other
// marker noted meanwhile into a few transactions at most once per
// readMarkEvery. Each session marks what it reads every few seconds; one
// commit each would queue thousands of writes a second on SQLite's single
// writer ahead of the messages.
//
// A snapshot reads unread counts from the store, so it first writes the
// user's pending markers (flushUser). A crash loses at most the markers of
// the last interval: counts come back a little higher, nothing else.
//
// Its mutex may be taken with Hub.mu held, never the reverse; writeMu is
// held only around store writes, never with mu or Hub.mu.
type readMarkWriter struct {
	writeMu sync.Mutex // serialises writes, so flushUser waits for one under way

	mu      sync.Mutex
	pending map[readMarkKey]MessageID // to write, newest per user and conversation
	wake    chan struct{}             // capacity 1: there is something to write
	stop    chan struct{}             // closed by close: write what is left and exit
	done    chan struct{}             // closed when run has exited
}

type readMarkKey struct {
	user UserID
	conv ConvID
}

// readMarkEvery is the least time between two marker writes of run.
const readMarkEvery = time.Second

// readMarkChunk is how many markers one transaction writes at most: a
// message waiting for the single writer waits for one chunk.
const readMarkChunk = 128

func (w *readMarkWriter) init() {
	w.pending = make(map[readMarkKey]MessageID)
	w.wake = make(chan struct{}, 1)
	w.stop = make(chan struct{})
	w.done = make(chan struct{})
}

// note records that user read conv up to upTo (a marker never moves back).
func (w *readMarkWriter) note(user UserID, conv ConvID, upTo MessageID) {
	k := readMarkKey{user, conv}
	w.mu.Lock()
	if cur, ok := w.pending[k]; !ok || upTo > cur {
		w.pending[k] = upTo
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run writes pending markers until close; Hub.Close ends it.
func (w *readMarkWriter) run(h *Hub) {
	defer close(w.done)
	for {
		select {
		case <-w.wake:
		case <-w.stop:
			return
		}
		w.flush(context.Background(), h, func(readMarkKey) bool { return true })
		select {
		case <-time.After(readMarkEvery):
		case <-w.stop:
			return
		}
	}
}

// flushUser writes the user's pending markers now, after any write under
// way: once it returns, every marker the user noted before the call is in
// the store (or its write failed and was logged).
func (w *readMarkWriter) flushUser(ctx context.Context, h *Hub, user UserID) error {
	return w.flush(ctx, h, func(k readMarkKey) bool { return k.user == user })
}

// flush writes the pending markers keep selects, readMarkChunk per
// transaction. A marker whose write fails goes back to pending unless a
// newer one was noted meanwhile, and is retried with the next write.
func (w *readMarkWriter) flush(ctx context.Context, h *Hub, keep func(readMarkKey) bool) error {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	w.mu.Lock()
	var batch []model.ReadMark
	var keys []readMarkKey
	for k, upTo := range w.pending {
		if keep(k) {
			batch = append(batch, model.ReadMark{UserID: uint64(k.user), Conv: string(k.conv), UpTo: int64(upTo)})
			keys = append(keys, k)
			delete(w.pending, k)
		}
	}
	w.mu.Unlock()
	var err error
	for start := 0; start < len(batch); start += readMarkChunk {
		end := min(start+readMarkChunk, len(batch))
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		werr := h.wrote(h.store.MarkReadAll(wctx, batch[start:end]), "mark read", "")
		cancel()
		if werr == nil {
			continue
		}
		err = werr
		if !errors.Is(werr, ErrStorageUnavailable) {
			h.log.Error("mark read", "err", werr, "markers", end-start)
		}
		w.mu.Lock()
		for i := start; i < end; i++ {
			if _, newer := w.pending[keys[i]]; !newer {
				w.pending[keys[i]] = MessageID(batch[i].UpTo)
			}
		}
		w.mu.Unlock()
	}
	return err
}

// close stops run and writes what is left; it fails only when ctx ends
// first.
func (w *readMarkWriter) close(ctx context.Context, h *Hub) error {
	if err := stopWriter(ctx, &w.mu, w.stop, w.done); err != nil {
		return err
	}
	w.flush(ctx, h, func(readMarkKey) bool { return true }) // logs its own failure
	return nil
}
