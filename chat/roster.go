package chat

import (
	"sort"
	"strings"
)

// Roster is an immutable list of the users online (and away), sorted by
// lowercased handle, then by ID. It is shared: the hub publishes one Roster
// per presence change and every session holds a reference to it instead of
// a copy. Changes build a new Roster with With, never modify one in place.
//
// The members are kept in chunks of at most 2 × rosterChunkSize; a new
// version copies only the chunk that changed plus the list of chunks: the
// versions that sessions still hold (a snapshot keeps the roster of its
// connect time) share everything else, so each costs O(users /
// rosterChunkSize + rosterChunkSize) instead of O(users).
//
// A nil *Roster is the empty roster. Every method is safe for concurrent
// use.
type Roster struct {
	chunks []*rosterChunk // non-empty, in order; shared between versions
	starts []int          // starts[c]: index of chunks[c]'s first member
	n      int
}

// rosterChunk is a run of consecutive members; immutable once published.
type rosterChunk struct {
	members []*rosterMember
}

// rosterChunkSize is the size a chunk is split back to when it grows past
// twice this.
const rosterChunkSize = 64

// rosterMember is one immutable entry; key is the lowercased handle.
type rosterMember struct {
	key string
	Presence
}

// NewRoster builds a roster from ps; offline entries are left out and a
// user listed twice keeps the last entry.
func NewRoster(ps []Presence) *Roster {
	var r *Roster
	for _, p := range ps {
		r = r.With(p)
	}
	return r
}

// Len is the number of users online.
func (r *Roster) Len() int {
	if r == nil {
		return 0
	}
	return r.n
}

// At returns the i-th user in handle order; 0 ≤ i < Len.
func (r *Roster) At(i int) Presence { return r.member(i).Presence }

// member returns the i-th member; 0 ≤ i < Len.
func (r *Roster) member(i int) *rosterMember {
	c := sort.Search(len(r.starts), func(c int) bool { return r.starts[c] > i }) - 1
	return r.chunks[c].members[i-r.starts[c]]
}

// Lookup returns the presence of user id, or false when id is not online.
// It is a linear scan: meant for one lookup per screen, not per row.
func (r *Roster) Lookup(id UserID) (Presence, bool) {
	if c, k := r.locate(id); c >= 0 {
		return r.chunks[c].members[k].Presence, true
	}
	return Presence{}, false
}

// locate returns the chunk and the position in it of user id, or -1, -1.
func (r *Roster) locate(id UserID) (c, k int) {
	if r == nil {
		return -1, -1
	}
	for c, ch := range r.chunks {
		for k, m := range ch.members {
			if m.User == id {
				return c, k
			}
		}
	}
	return -1, -1
}

// With returns a roster with p applied: p replaces the user's entry (a
// rename moves it), and an Offline p removes it. r is left unchanged; when
// p changes nothing, r itself is returned.
func (r *Roster) With(p Presence) *Roster {
	c, k := r.locate(p.User)
	if c >= 0 && p.Status != Offline && r.chunks[c].members[k].Presence == p {
		return r
	}
	var chunks []*rosterChunk
	if r != nil {
		chunks = r.chunks
	}
	if c >= 0 {
		chunks = removeMember(chunks, c, k)
	}
	if p.Status == Offline {
		if c < 0 {
			return r
		}
	} else {
		chunks = insertMember(chunks, &rosterMember{key: strings.ToLower(p.Handle), Presence: p})
	}
	return newRosterOf(chunks)
}

// newRosterOf returns the roster of chunks (nil when there are none).
func newRosterOf(chunks []*rosterChunk) *Roster {
	if len(chunks) == 0 {
		return nil
	}
	r := &Roster{chunks: chunks, starts: make([]int, len(chunks))}
	for c, ch := range chunks {
		r.starts[c] = r.n
		r.n += len(ch.members)
	}
	return r
}

// removeMember returns a new list of chunks without member k of chunk c;
// chunks is left unchanged. A chunk that shrinks below half of
// rosterChunkSize takes in its next chunk when both fit in one, so that
// logouts do not leave many small chunks behind.
func removeMember(chunks []*rosterChunk, c, k int) []*rosterChunk {
	old := chunks[c].members
	var next []*rosterMember
	rest := chunks[c+1:]
	if len(old)-1 < rosterChunkSize/2 && len(rest) > 0 && len(old)-1+len(rest[0].members) <= 2*rosterChunkSize {
		next, rest = rest[0].members, rest[1:]
	}
	out := make([]*rosterChunk, 0, len(chunks))
	out = append(out, chunks[:c]...)
	if len(old)-1+len(next) > 0 {
		ms := make([]*rosterMember, 0, len(old)-1+len(next))
		ms = append(ms, old[:k]...)
		ms = append(ms, old[k+1:]...)
		ms = append(ms, next...)
		out = append(out, &rosterChunk{members: ms})
	}
	return append(out, rest...)
}

// insertMember returns a new list of chunks with m in its place; chunks is
// left unchanged. A chunk grown past 2 × rosterChunkSize is split in two.
func insertMember(chunks []*rosterChunk, m *rosterMember) []*rosterChunk {
	if len(chunks) == 0 {
		return []*rosterChunk{{members: []*rosterMember{m}}}
	}
	// The first chunk whose last member does not sort before m, or the
	// last chunk.
	c := sort.Search(len(chunks), func(c int) bool {
		ms := chunks[c].members
		return !ms[len(ms)-1].less(m)
	})
	c = min(c, len(chunks)-1)
	old := chunks[c].members
	at := sort.Search(len(old), func(k int) bool { return !old[k].less(m) })
	ms := make([]*rosterMember, 0, len(old)+1)
	ms = append(ms, old[:at]...)
	ms = append(ms, m)
	ms = append(ms, old[at:]...)
	out := make([]*rosterChunk, 0, len(chunks)+1)
	out = append(out, chunks[:c]...)
	if len(ms) > 2*rosterChunkSize {
		half := len(ms) / 2
		out = append(out, &rosterChunk{members: ms[:half:half]}, &rosterChunk{members: ms[half:]})
	} else {
		out = append(out, &rosterChunk{members: ms})
	}
	return append(out, chunks[c+1:]...)
}

// less orders members by key, then by user ID.
func (m *rosterMember) less(o *rosterMember) bool {
	return m.key < o.key || m.key == o.key && m.User < o.User
}
