package chat

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sshchat/model"
)

// gateBus is a bus of one node that records the kinds it publishes and
// can hold the next heartbeat's publish until the test lets it go.
type gateBus struct {
	mu    sync.Mutex
	kinds []string
	gate  chan struct{} // the next heartbeat waits on it
	held  chan struct{} // closed when that heartbeat is waiting
}

func (b *gateBus) Node() string { return "n1" }

func (b *gateBus) Publish(data []byte) error {
	var ev busEvent
	_ = json.Unmarshal(data, &ev)
	b.mu.Lock()
	gate, held := b.gate, b.held
	if ev.Kind == evHeartbeat && gate != nil {
		b.gate = nil
	} else {
		gate = nil
	}
	b.mu.Unlock()
	if gate != nil {
		close(held)
		<-gate
	}
	b.mu.Lock()
	b.kinds = append(b.kinds, ev.Kind)
	b.mu.Unlock()
	return nil
}

func (b *gateBus) Subscribe(func([]byte)) (func(), error) { return func() {}, nil }
func (b *gateBus) Connected() bool                        { return true }
func (b *gateBus) OnChange(func(bool))                    {}

func (b *gateBus) published() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.kinds...)
}

func TestClosedNodePublishesNothingAfterItsGoodbye(t *testing.T) {
	db, err := model.Open(filepath.Join(t.TempDir(), "chat.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	gate := make(chan struct{})
	bus := &gateBus{gate: gate, held: make(chan struct{})}
	h, err := NewHub(db, nopLogger{}, Options{RateBurst: 1000, RatePerSecond: 1000, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	connect(t, h, account(t, h, "alice"))
	// Another node says hello: the sequencer answers with a heartbeat,
	// held in Publish; a second hello waits behind it.
	hello := &remoteOp{ev: busEvent{Node: "n2", Kind: evHello}}
	for range 2 {
		if err := h.submit(context.Background(), hello); err != nil {
			t.Fatal(err)
		}
	}
	<-bus.held
	closed := make(chan error, 1)
	go func() { closed <- h.Close(context.Background()) }()
	for deadline := time.Now().Add(5 * time.Second); !h.isStopped(); {
		if time.Now().After(deadline) {
			t.Fatal("Close did not stop submissions")
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	kinds := bus.published()
	if len(kinds) == 0 || kinds[len(kinds)-1] != evBye {
		t.Fatalf("published %v: the goodbye is not the last (the others would take its users for online again)", kinds)
	}
}
