package chat

import (
	"context"
	"fmt"
	"testing"
	"unsafe"
)

// TestHistoryBodiesAreHeldOnceForAllSessions: sessions that load the same
// recent page get the same body strings, the ones the live events carried,
// not a copy each read from the store.
func TestHistoryBodiesAreHeldOnceForAllSessions(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	ctx := context.Background()
	alice := connect(t, h, account(t, h, "alice"))
	bob := connect(t, h, account(t, h, "bob"))
	carol := connect(t, h, account(t, h, "carol"))
	for i := range 30 {
		if _, err := alice.Send(ctx, Lobby, fmt.Sprintf("message %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var live MessageEvent
	for live.Message.Body != "message 29" {
		live = next[MessageEvent](t, bob)
	}
	hb, err := bob.History(ctx, Lobby, 0, 20)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := carol.History(ctx, Lobby, 0, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(hb) != 20 || len(hc) != 20 || hb[19].Body != "message 29" {
		t.Fatalf("pages of %d and %d messages, newest %+v", len(hb), len(hc), hb[len(hb)-1])
	}
	for i := range hb {
		if unsafe.StringData(hb[i].Body) != unsafe.StringData(hc[i].Body) {
			t.Fatalf("message %d: each session holds its own copy of the body", hb[i].ID)
		}
	}
	if unsafe.StringData(hb[19].Body) != unsafe.StringData(live.Message.Body) {
		t.Fatal("history holds another copy of the body the live event carried")
	}
}

// TestHistoryFromTheSharedCacheEqualsTheStore: every page History answers,
// whether the cache can vouch for it or the store is asked, equals what the
// store holds, with blocked senders left out and handles as of now (after a
// rename, whose line bypasses the commit path).
func TestHistoryFromTheSharedCacheEqualsTheStore(t *testing.T) {
	h, db := newTestHub(t, Options{QueueLen: 4096})
	ctx := context.Background()
	aa, ca := account(t, h, "alice"), account(t, h, "carol")
	alice, carol := connect(t, h, aa), connect(t, h, ca)
	bob := connect(t, h, account(t, h, "bob"))
	if _, err := bob.Exec(ctx, Lobby, "/block carol"); err != nil {
		t.Fatal(err)
	}
	send := func(from Session, n int, tag string) {
		t.Helper()
		for i := range n {
			if _, err := from.Send(ctx, Lobby, fmt.Sprintf("%s %d", tag, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(when string) {
		t.Helper()
		for _, before := range []MessageID{0, 50, 200, 400, 600, 700, 720, 10000} {
			for _, n := range []int{1, 20, 100, 500} {
				for who, s := range map[string]Session{"alice": alice, "bob": bob} {
					got, err := s.History(ctx, Lobby, before, n)
					if err != nil {
						t.Fatal(err)
					}
					var hidden []uint64
					if who == "bob" {
						hidden = []uint64{uint64(ca.ID)}
					}
					rows, err := db.History(ctx, string(Lobby), int64(before), n, hidden)
					if err != nil {
						t.Fatal(err)
					}
					want := toMessages(rows)
					if len(got) != len(want) {
						t.Fatalf("%s: %s History(before %d, %d) = %d messages, store has %d", when, who, before, n, len(got), len(want))
					}
					for i := range got {
						g, w := got[i], want[i]
						if g.ID != w.ID || g.Body != w.Body || g.FromHandle != w.FromHandle || g.From != w.From || g.Kind != w.Kind || !g.At.Equal(w.At) {
							t.Fatalf("%s: %s History(before %d, %d)[%d] = %+v, store has %+v", when, who, before, n, i, g, w)
						}
					}
				}
			}
		}
	}
	send(alice, 5, "early")
	check("few messages")
	send(alice, 300, "alice")
	send(carol, 100, "carol")
	send(alice, 300, "alice again")
	check("more than the cache keeps")
	if _, err := carol.Exec(ctx, Lobby, "/nick Caroline"); err != nil {
		t.Fatal(err)
	}
	check("after a rename")
	send(carol, 10, "renamed")
	check("after a rename and more messages")
}

// TestRecentCacheVouchesOnlyForWhatItSawWhole: a page read from the store
// seeds the cache only if nothing was committed meanwhile, a page reaching
// below the floor is left to the store, and messages out of order make the
// cache forget the conversation rather than answer with a gap.
func TestRecentCacheVouchesOnlyForWhatItSawWhole(t *testing.T) {
	msg := func(id int) Message { return Message{ID: MessageID(id), Conv: Lobby, Body: fmt.Sprint(id)} }
	var c recentCache
	gen := c.generation()
	c.add(msg(10))
	c.seed(Lobby, gen, []Message{msg(8), msg(9)}, 2)
	if got, ok := c.page(Lobby, 10, 1, nil); ok {
		t.Fatalf("a seed raced by a commit was taken: %+v", got)
	}
	if got, ok := c.page(Lobby, 0, 1, nil); !ok || len(got) != 1 || got[0].ID != 10 {
		t.Fatalf("newest = %+v %v", got, ok)
	}
	c.reset()
	c.seed(Lobby, c.generation(), []Message{msg(8), msg(9)}, 5) // a short page: the whole conversation
	c.add(msg(11))
	if got, ok := c.page(Lobby, 0, 5, nil); !ok || len(got) != 3 || got[0].ID != 8 {
		t.Fatalf("whole conversation = %+v %v", got, ok)
	}
	if got, ok := c.page(Lobby, 0, 2, []uint64{0}); !ok || len(got) != 0 {
		t.Fatalf("hidden sender's messages = %+v %v", got, ok)
	}
	c.add(msg(7))
	if _, ok := c.page(Lobby, 0, 1, nil); ok {
		t.Fatal("answered after a message arrived out of order")
	}
	for i := 1; i <= recentPerConv*2; i++ {
		c.add(msg(100 + i))
	}
	if got, ok := c.page(Lobby, 0, recentPerConv, nil); !ok || len(got) != recentPerConv {
		t.Fatalf("newest %d: %d messages, %v", recentPerConv, len(got), ok)
	}
	if _, ok := c.page(Lobby, 150, 10, nil); ok {
		t.Fatal("answered below the floor")
	}
	for i := range recentConvs + 1 {
		c.add(Message{ID: MessageID(10000 + i), Conv: ConvID(fmt.Sprint("dm:", i))})
	}
	if len(c.convs) > recentConvs {
		t.Fatalf("%d conversations kept", len(c.convs))
	}
}
