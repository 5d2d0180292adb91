package chat

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"sshchat/model"
)

// storageHealth is whether the store could be written the last time the
// hub tried. It logs one line when the storage becomes unavailable and one
// when it works again, however many writes fail in between. A change and
// its line are made under mu, so that the lines come in the order of the
// changes and the last one tells the current state.
type storageHealth struct {
	log      Logger
	mu       sync.Mutex
	degraded atomic.Bool // written under mu; read without it to skip mu
}

// failed records a write that failed because the storage is unavailable.
func (s *storageHealth) failed(op string, err error) {
	if s.degraded.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.degraded.Load() {
		return
	}
	s.degraded.Store(true)
	s.log.Error("storage degraded: writes fail until it recovers; users are told", "op", op, "err", err)
}

// ok records a write that succeeded.
func (s *storageHealth) ok() {
	if !s.degraded.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.degraded.Load() {
		return
	}
	s.degraded.Store(false)
	s.log.Info("storage recovered: writes succeed again")
}

// wrote reports the outcome of the store write op to the health state. An
// unavailable store becomes ErrStorageUnavailable saying what was not done
// (notDone, e.g. "your message was not sent"); another error is wrapped with op.
func (h *Hub) wrote(err error, op, notDone string) error {
	if err == nil {
		h.health.ok()
		return nil
	}
	if errors.Is(err, model.ErrUnavailable) {
		h.health.failed(op, err)
		return fmt.Errorf("%w; %s", ErrStorageUnavailable, notDone)
	}
	return fmt.Errorf("%s: %w", op, err)
}
