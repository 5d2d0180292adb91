package chat

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"sshchat/model"
)

// driveBus is a Bus the test drives: what the hub publishes goes nowhere,
// and deliver hands the hub an event as another node's.
type driveBus struct {
	mu sync.Mutex
	fn func([]byte)
}

func (b *driveBus) Node() string         { return "a" }
func (b *driveBus) Publish([]byte) error { return nil }
func (b *driveBus) Connected() bool      { return true }
func (b *driveBus) OnChange(func(bool))  {}
func (b *driveBus) Subscribe(fn func([]byte)) (func(), error) {
	b.mu.Lock()
	b.fn = fn
	b.mu.Unlock()
	return func() {}, nil
}

// deliver runs the subscriber with ev (it returns once the hub queued it).
func (b *driveBus) deliver(t *testing.T, ev busEvent) {
	t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	fn := b.fn
	b.mu.Unlock()
	fn(data)
}

// commitSizes records how many messages each group commit stored.
type commitSizes struct {
	noMetrics
	mu    sync.Mutex
	sizes []int
}

func (c *commitSizes) Committed(n int, _ time.Duration) {
	c.mu.Lock()
	c.sizes = append(c.sizes, n)
	c.mu.Unlock()
}

func (c *commitSizes) get() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sizes)
}

// A message another node committed, arriving between two local sends,
// must not cut their group commit in two (on three busy nodes that halved
// the messages per commit), and every session still gets the three in
// the stored order.
func TestRemoteLineDoesNotEndGroupCommit(t *testing.T) {
	bus, sizes := &driveBus{}, &commitSizes{}
	h, db := newTestHub(t, Options{Bus: bus, Metrics: sizes})
	h.stopCluster() // no tick ops among the ones this test queues
	alice, carol := account(t, h, "alice"), account(t, h, "carol")
	as := connect(t, h, alice)
	bob := connect(t, h, account(t, h, "bob"))
	ctx := context.Background()

	// Hold the sequencer in an op, so the next ones queue behind it.
	entered, gate := make(chan struct{}), make(chan struct{})
	hold := &listOp{s: as.(*session), name: "hold", res: make(chan error, 1),
		do: func(context.Context, uint64, uint64) error { close(entered); <-gate; return nil }}
	if err := h.submit(ctx, hold); err != nil {
		t.Fatal(err)
	}
	<-entered
	queued := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for len(h.ops) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d ops queued, want %d", len(h.ops), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	sent := make(chan error, 2)
	send := func(body string) {
		go func() {
			_, err := as.Send(ctx, Lobby, body)
			sent <- err
		}()
	}

	send("one")
	queued(1)
	// Node b commits a lobby message and publishes its line.
	remote := &model.Message{Conv: string(Lobby), SenderID: uint64(carol.ID), SenderHandle: "carol", Body: "from b"}
	if err := db.AppendMessages(ctx, []*model.Message{remote}); err != nil {
		t.Fatal(err)
	}
	bus.deliver(t, busEvent{Node: "b", DB: h.link.db, Kind: evLine, Body: mustJSON(line{M: toMessage(*remote), Prev: MessageID(remote.Prev)})})
	queued(2)
	send("two")
	queued(3)
	close(gate)
	for range 2 {
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-hold.res; err != nil {
		t.Fatal(err)
	}

	if got := sizes.get(); !slices.Equal(got, []int{2}) {
		t.Errorf("group commits of %v messages, want one of 2", got)
	}
	var bodies []string
	for len(bodies) < 3 {
		bodies = append(bodies, next[MessageEvent](t, bob).Message.Body)
	}
	hist, err := db.History(ctx, string(Lobby), 0, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, m := range hist {
		stored = append(stored, m.Body)
	}
	if want := []string{"from b", "one", "two"}; !slices.Equal(bodies, want) || !slices.Equal(stored, want) {
		t.Errorf("bob got %q, the store has %q, want %q", bodies, stored, want)
	}
}

// Only another node's text and action lines may be delivered inside a
// group commit: a line of record changes a room's members, a rename a
// handle, and a line read back from the store may be a gap's first news
// of such a change; each of those must keep its place among the sends.
func TestOnlyRemoteTextLinesAreInert(t *testing.T) {
	for _, c := range []struct {
		name string
		l    line
		want bool
	}{
		{"remote text", line{M: Message{Kind: KindText}, remote: true}, true},
		{"remote action", line{M: Message{Kind: KindAction}, remote: true}, true},
		{"remote line of record", line{M: Message{Kind: KindSystem}, remote: true}, false},
		{"remote rename", line{M: Message{Kind: KindRename}, remote: true}, false},
		{"text read from the store", line{M: Message{Kind: KindText}, remote: true, stored: true}, false},
		{"own text", line{M: Message{Kind: KindText}}, false},
	} {
		if got := c.l.inert(); got != c.want {
			t.Errorf("%s: inert = %v, want %v", c.name, got, c.want)
		}
	}
}
