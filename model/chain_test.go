package model

import (
	"context"
	"errors"
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

// TestLargeBatchKeepsOrderAndItsRows appends one batch of more messages
// than one INSERT writes (insertChunk), over two conversations, with
// deliveries and mentions: IDs grow in slice order, each ID is its
// message's (bodies read back by ID), Prev chains each conversation, and
// every delivery and mention belongs to its message.
func TestLargeBatchKeepsOrderAndItsRows(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		dm := DMConv(a.ID, b.ID)
		const n = 2*insertChunk + 45
		batch := make([]*Message, n)
		wantOffline, wantMentions := map[string]bool{}, 0
		for i := range batch {
			m := &Message{Conv: "#lobby", SenderID: a.ID, SenderHandle: "alice", Body: fmt.Sprint("m", i)}
			switch {
			case i%3 == 0:
				m.Conv, m.OfflineFor = dm, b.ID
				wantOffline[m.Body] = true
			case i%5 == 0:
				m.Mentions = []Mention{{UserID: b.ID}}
				wantMentions++
			}
			batch[i] = m
		}
		if err := d.AppendMessages(ctx, batch); err != nil {
			t.Fatal(err)
		}
		last := map[string]int64{}
		for i, m := range batch {
			if i > 0 && m.ID <= batch[i-1].ID {
				t.Fatalf("message %d: ID %d after %d", i, m.ID, batch[i-1].ID)
			}
			if m.Prev != last[m.Conv] {
				t.Fatalf("message %d: Prev %d, want %d", i, m.Prev, last[m.Conv])
			}
			last[m.Conv] = m.ID
			got, err := d.MessageByID(ctx, m.ID)
			if err != nil || got.Body != m.Body || got.Conv != m.Conv {
				t.Fatalf("message %d by ID %d = %+v, %v; want %q in %s", i, m.ID, got, err, m.Body, m.Conv)
			}
		}
		claimed, err := d.ClaimOffline(ctx, b.ID, "s1", n)
		if err != nil || claimed.Total != len(wantOffline) {
			t.Fatalf("claimed %d, %v; want %d", claimed.Total, err, len(wantOffline))
		}
		for _, m := range claimed.Messages {
			if !wantOffline[m.Body] {
				t.Fatalf("delivery of %q, which was not for bob", m.Body)
			}
		}
		mc, err := d.MentionCounts(ctx, b.ID, []string{"#lobby"}, nil)
		if err != nil || mc["#lobby"] != wantMentions {
			t.Fatalf("mentions of bob = %v, %v; want %d", mc, err, wantMentions)
		}
	})
}

// TestNewestMessageIDIsTheGreatestCommittedInAnyConversation: a node
// joining a cluster starts from it; an empty store says 0.
func TestNewestMessageIDIsTheGreatestCommittedInAnyConversation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
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
	})
}

// TestInstallationIDIsTheDatabases: every store opened on one database
// reads the same ID, and another database has another, so nodes can tell
// a peer on their database from one on another.
func TestInstallationIDIsTheDatabases(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, where := openOn(t, dia)
		again, err := OpenURL(where)
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		other, _ := openOn(t, dia)
		a, err1 := d.InstallationID(ctx)
		b, err2 := again.InstallationID(ctx)
		c, err3 := other.InstallationID(ctx)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		if a == "" || a != b || a == c {
			t.Fatalf("IDs: %q and %q on one database, %q on another", a, b, c)
		}
	})
}
