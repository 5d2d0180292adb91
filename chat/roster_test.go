package chat

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// checkRoster compares r with a model map of who is online.
func checkRoster(t *testing.T, r *Roster, want map[UserID]Presence) {
	t.Helper()
	if r.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", r.Len(), len(want))
	}
	var prev *rosterMember
	for i := range r.Len() {
		m := r.members[i]
		if w, ok := want[m.User]; !ok || w != m.Presence {
			t.Fatalf("member %d = %+v, want %+v (present %v)", i, m.Presence, w, ok)
		}
		if m.key != strings.ToLower(m.Handle) {
			t.Fatalf("key %q for %q", m.key, m.Handle)
		}
		if prev != nil && !prev.less(m) {
			t.Fatalf("out of order at %d: %q/%d before %q/%d", i, prev.key, prev.User, m.key, m.User)
		}
		prev = m
	}
	for id, p := range want {
		if got, ok := r.Lookup(id); !ok || got != p {
			t.Fatalf("Lookup(%d) = %+v, %v", id, got, ok)
		}
	}
}

func TestRosterWithKeepsOrderAndNeverChangesTheOld(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[UserID]Presence{}
	var r *Roster
	for step := range 3000 {
		id := UserID(rng.IntN(60) + 1)
		p := Presence{User: id, Handle: fmt.Sprintf("U%02d", rng.IntN(40)), Status: Status(rng.IntN(3))}
		before := slices.Clone(r.membersOrNil())
		oldWant := maps(want)
		next := r.With(p)
		if !slices.Equal(before, r.membersOrNil()) {
			t.Fatalf("step %d: With modified the old roster", step)
		}
		checkRoster(t, r, oldWant)
		if p.Status == Offline {
			delete(want, id)
		} else {
			want[id] = p
		}
		checkRoster(t, next, want)
		r = next
	}
}

func TestRosterNilIsEmptyAndNoOpKeepsTheSameRoster(t *testing.T) {
	var r *Roster
	if r.Len() != 0 || r.With(Presence{User: 1}) != nil {
		t.Fatal("nil roster")
	}
	if _, ok := r.Lookup(1); ok {
		t.Fatal("lookup in nil roster")
	}
	r = NewRoster([]Presence{{User: 2, Handle: "bob", Status: Online}, {User: 1, Handle: "Alice", Status: Away}})
	if r.At(0).Handle != "Alice" || r.At(1).Handle != "bob" {
		t.Fatalf("order: %v %v", r.At(0), r.At(1))
	}
	if r.With(Presence{User: 2, Handle: "bob", Status: Online}) != r {
		t.Fatal("an unchanged presence built a new roster")
	}
}

func (r *Roster) membersOrNil() []*rosterMember {
	if r == nil {
		return nil
	}
	return r.members
}

func maps(m map[UserID]Presence) map[UserID]Presence {
	out := make(map[UserID]Presence, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
