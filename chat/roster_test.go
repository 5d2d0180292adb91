package chat

import (
	"fmt"
	"math/rand/v2"
	"runtime"
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
		m := r.member(i)
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

// TestRosterWithKeepsOrderAcrossChunks is the test above with enough users
// for many chunks, logins, renames and logouts splitting and merging them.
func TestRosterWithKeepsOrderAcrossChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	want := map[UserID]Presence{}
	var r *Roster
	for step := range 6000 {
		id := UserID(rng.IntN(700) + 1)
		st := Online
		if step > 3000 && rng.IntN(2) == 0 {
			st = Offline // the second half shrinks the roster again
		}
		p := Presence{User: id, Handle: fmt.Sprintf("u%03d", rng.IntN(500)), Status: st}
		before := slices.Clone(r.membersOrNil())
		next := r.With(p)
		if st == Offline {
			delete(want, id)
		} else {
			want[id] = p
		}
		if step%97 == 0 || step == 5999 {
			if !slices.Equal(before, r.membersOrNil()) {
				t.Fatalf("step %d: With modified the old roster", step)
			}
			checkRoster(t, next, want)
			for c, ch := range next.chunks {
				if len(ch.members) == 0 || len(ch.members) > 2*rosterChunkSize {
					t.Fatalf("step %d: chunk %d has %d members", step, c, len(ch.members))
				}
			}
		}
		r = next
	}
}

// TestRosterVersionsShareMemory: a login to a roster of 2,000 copies one
// chunk and the list of chunks, not the 2,000 members, so that the
// versions sessions still hold (each snapshot keeps the roster of its
// connect time) do not cost O(users) each.
func TestRosterVersionsShareMemory(t *testing.T) {
	var r *Roster
	for i := range 2000 {
		r = r.With(Presence{User: UserID(i + 1), Handle: fmt.Sprintf("load%04d", i+1), Status: Online})
	}
	ids := 2000
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	for range 100 {
		ids++
		r = r.With(Presence{User: UserID(ids), Handle: fmt.Sprintf("load%04d", ids), Status: Online})
	}
	runtime.ReadMemStats(&ms)
	per := (ms.TotalAlloc - before) / 100
	// 2,000 members × 8 bytes is 16,000 bytes; one chunk and the chunk
	// list are a few hundred to a couple of thousand.
	if per > 4000 {
		t.Fatalf("a login to 2,000 users allocates %d bytes, want ≤ 4,000", per)
	}
	if r.Len() != 2100 || r.At(0).Handle != "load0001" || r.At(2099).Handle != "load2100" {
		t.Fatalf("roster: %d, %v .. %v", r.Len(), r.At(0), r.At(r.Len()-1))
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
	var out []*rosterMember
	for _, ch := range r.chunks {
		out = append(out, ch.members...)
	}
	return out
}

func maps(m map[UserID]Presence) map[UserID]Presence {
	out := make(map[UserID]Presence, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
