package chat

import (
	"sort"
	"strings"
)

// Roster is an immutable list of the users online (and away), sorted by
// lowercased handle, then by ID. It is shared: the hub publishes one Roster
// per presence change and every session holds a reference to it instead of
// a copy, so the memory for who-is-online is O(users), not O(users ×
// sessions). Changes build a new Roster with With (copy-on-write of a slice
// of pointers: 8 bytes per member), never modify one in place.
//
// A nil *Roster is the empty roster. Every method is safe for concurrent
// use.
type Roster struct {
	members []*rosterMember
}

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
	return len(r.members)
}

// At returns the i-th user in handle order; 0 ≤ i < Len.
func (r *Roster) At(i int) Presence { return r.members[i].Presence }

// Lookup returns the presence of user id, or false when id is not online.
// It is a linear scan: meant for one lookup per screen, not per row.
func (r *Roster) Lookup(id UserID) (Presence, bool) {
	if i := r.indexOf(id); i >= 0 {
		return r.members[i].Presence, true
	}
	return Presence{}, false
}

func (r *Roster) indexOf(id UserID) int {
	if r == nil {
		return -1
	}
	for i, m := range r.members {
		if m.User == id {
			return i
		}
	}
	return -1
}

// With returns a roster with p applied: p replaces the user's entry (a
// rename moves it), and an Offline p removes it. r is left unchanged; when
// p changes nothing, r itself is returned.
func (r *Roster) With(p Presence) *Roster {
	old := r.indexOf(p.User)
	if p.Status == Offline {
		if old < 0 {
			return r
		}
		out := make([]*rosterMember, 0, len(r.members)-1)
		out = append(out, r.members[:old]...)
		out = append(out, r.members[old+1:]...)
		return &Roster{members: out}
	}
	m := &rosterMember{key: strings.ToLower(p.Handle), Presence: p}
	var base []*rosterMember
	if r != nil {
		base = r.members
	}
	if old >= 0 && base[old].Presence == p {
		return r
	}
	// base[:n] are the members that sort before m; the old entry, if it is
	// among them, does not count once it is gone.
	n := sort.Search(len(base), func(k int) bool { return !base[k].less(m) })
	at := n
	if old >= 0 && old < n {
		at--
	}
	out := make([]*rosterMember, 0, len(base)+1)
	for k, b := range base {
		if k == old {
			continue
		}
		if len(out) == at {
			out = append(out, m)
		}
		out = append(out, b)
	}
	if len(out) == at {
		out = append(out, m)
	}
	return &Roster{members: out}
}

// less orders members by key, then by user ID.
func (m *rosterMember) less(o *rosterMember) bool {
	return m.key < o.key || m.key == o.key && m.User < o.User
}
