package model

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestPrevChainsEachConversationInCommitOrder appends from several writers
// at once, through two stores on one database (two nodes), to two
// conversations: every message's Prev must be the message before it in
// its conversation's history, so that a node reading the chain can tell
// a missing message from a late one.
func TestPrevChainsEachConversationInCommitOrder(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, url := openOn(t, dia)
		d2, err := OpenURL(url)
		if err != nil {
			t.Fatal(err)
		}
		defer d2.Close()
		stores := []*DB{d, d2}
		prev := map[int64]int64{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 20 {
					conv := []string{"#lobby", "#ops"}[i%2]
					batch := []*Message{
						{Conv: conv, SenderID: 1, SenderHandle: "a", Body: fmt.Sprint(w, i)},
						{Conv: "#lobby", SenderID: 1, SenderHandle: "a", Body: "second"},
					}
					if err := stores[w%2].AppendMessages(ctx, batch); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, m := range batch {
						prev[m.ID] = m.Prev
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for _, conv := range []string{"#lobby", "#ops"} {
			hist, err := d.History(ctx, conv, 0, 1000, nil)
			if err != nil {
				t.Fatal(err)
			}
			var last int64
			for _, m := range hist {
				if p, ok := prev[m.ID]; !ok || p != last {
					t.Fatalf("%s: message %d has Prev %d, history has %d before it", conv, m.ID, p, last)
				}
				last = m.ID
			}
		}
	})
}

// TestNewestMessageIDIsTheGreatestCommittedInAnyConversation: a node
// joining a cluster starts from it; an empty store says 0.
func TestNewestMessageIDIsTheGreatestCommittedInAnyConversation(t *testing.T) {
	ctx := context.Background()
	d, _ := openTest(t)
	if id, err := d.NewestMessageID(ctx); err != nil || id != 0 {
		t.Fatalf("empty store: %d, %v; want 0", id, err)
	}
	batch := []*Message{
		{Conv: "#lobby", SenderID: 1, SenderHandle: "a", Body: "one"},
		{Conv: "#ops", SenderID: 1, SenderHandle: "a", Body: "two"},
	}
	if err := d.AppendMessages(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if id, err := d.NewestMessageID(ctx); err != nil || id != batch[1].ID {
		t.Fatalf("got %d, %v; want %d", id, err, batch[1].ID)
	}
}
