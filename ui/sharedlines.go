package ui

import (
	"sync"
	"time"

	"sshchat/chat"
)

// sharedLinesCap is how many renderings sharedLines keeps: enough for the
// new messages of a busy room at a few widths while every session draws
// them.
const sharedLinesCap = 256

// sharedLines holds the rendered lines of recent messages for all the
// sessions that draw a message the same way, so that a message seen by a
// thousand sessions is wrapped and styled once per width instead of once
// per session. Only readings with nothing of the reader in them are shared:
// not the reader's own messages (their own style) and not a message that
// mentions them (the mention is highlighted); everything else a rendering
// depends on is in the key. The lines are read-only once stored. It belongs
// to the Theme, built once per server; a nil *sharedLines shares nothing.
type sharedLines struct {
	mu   sync.Mutex
	m    map[sharedKey][]string
	ring [sharedLinesCap]sharedKey // insertion order, to evict the oldest
	next int
}

// sharedKey is what renderMessage's result depends on, besides the reader.
type sharedKey struct {
	conv   chat.ConvID
	id     chat.MessageID
	handle string // the sender's handle as shown (a rename changes it)
	width  int
	st     *Styles
	loc    *time.Location
	// clock12 and links are the reader's settings that change a rendering
	// (see settings.go).
	clock12, links bool
	// edited and deleted tell an edited message's renderings apart.
	edited  int64 // Message.Edited in Unix nanoseconds, 0 for never
	deleted bool
}

func newSharedLines() *sharedLines {
	return &sharedLines{m: make(map[sharedKey][]string, sharedLinesCap)}
}

// get returns the stored lines of k.
func (s *sharedLines) get(k sharedKey) ([]string, bool) {
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.m[k]
	return l, ok
}

// put stores lines for k, evicting the oldest entry when full. The caller
// must not change lines afterwards.
func (s *sharedLines) put(k sharedKey, lines []string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; ok {
		return
	}
	old := s.ring[s.next]
	if _, ok := s.m[old]; ok && len(s.m) >= sharedLinesCap {
		delete(s.m, old)
	}
	s.ring[s.next] = k
	s.next = (s.next + 1) % sharedLinesCap
	s.m[k] = lines
}

// sharedKeyOf returns the key under which m's rendering at width w can be
// shared with other readers, or false when it has something of this reader
// in it.
func sharedKeyOf(rc *renderCtx, m *chat.Message, w int) (sharedKey, bool) {
	if rc.shared == nil || m.ID == 0 || m.From == rc.me || chat.Mentions(m.Body, rc.meKey) {
		return sharedKey{}, false
	}
	return sharedKey{conv: m.Conv, id: m.ID, handle: m.FromHandle, width: w, st: rc.st, loc: rc.loc,
		clock12: rc.clock12, links: rc.links, deleted: m.Deleted, edited: editedAt(m)}, true
}

// editedAt is m's edit time for sharedKey (0 when never edited).
func editedAt(m *chat.Message) int64 {
	if m.Edited.IsZero() {
		return 0
	}
	return m.Edited.UnixNano()
}
