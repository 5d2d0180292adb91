package chat

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// The cluster tests (package cluster) cover the events of cluster_sync.go
// on three nodes; remoteLine is called by the orderer of other nodes'
// messages, so these tests call it as that orderer does, on a second hub
// over the same database whose sequencer is idle meanwhile.

// twoHubs opens two hubs over one database file, as two nodes.
func twoHubs(t *testing.T) (*Hub, *Hub) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chat.db")
	a, dbA := openHubAt(t, path)
	b, dbB := openHubAt(t, path)
	t.Cleanup(func() {
		a.Close(context.Background())
		b.Close(context.Background())
		dbA.Close()
		dbB.Close()
	})
	return a, b
}

func TestRemoteLineAppliesRoomChangeFromTheStore(t *testing.T) {
	ctx := context.Background()
	a, b := twoHubs(t)
	alice, bob := account(t, a, "alice"), account(t, a, "bob")
	aliceA := connect(t, a, alice)
	bobA := connect(t, a, bob)
	bobB := connect(t, b, bob)
	if _, err := aliceA.Exec(ctx, Lobby, "/create #r"); err != nil {
		t.Fatal(err)
	}
	if _, err := bobA.Exec(ctx, Lobby, "/join #r"); err != nil {
		t.Fatal(err)
	}
	if _, err := bobB.Send(ctx, "#r", "hello"); err != nil { // b loads #r
		t.Fatal(err)
	}
	// The kick is made on a alone: b has bob in #r until the line of
	// record reaches it.
	if _, err := aliceA.Exec(ctx, "#r", "/kick bob"); err != nil {
		t.Fatal(err)
	}
	msgs, err := aliceA.History(ctx, "#r", 0, 1)
	if err != nil || len(msgs) != 1 || msgs[0].Kind != KindSystem {
		t.Fatalf("the kick's line: %v, %v", msgs, err)
	}
	b.remoteLine(msgs[0])
	if _, err := bobB.Send(ctx, "#r", "still in?"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("bob's post on b after the kick's line: %v, want ErrNotAllowed", err)
	}
}

func TestRemoteLineAppliesRename(t *testing.T) {
	ctx := context.Background()
	a, b := twoHubs(t)
	alice, bob := account(t, a, "alice"), account(t, a, "bob")
	aliceA := connect(t, a, alice)
	aliceB := connect(t, b, alice)
	bobB := connect(t, b, bob)
	if _, err := aliceA.Exec(ctx, Lobby, "/nick alicia"); err != nil {
		t.Fatal(err)
	}
	msgs, err := aliceA.History(ctx, Lobby, 0, 1)
	if err != nil || len(msgs) != 1 || msgs[0].Kind != KindRename {
		t.Fatalf("the rename's line: %v, %v", msgs, err)
	}
	drain(bobB)
	b.remoteLine(msgs[0])
	p := next[PresenceEvent](t, bobB)
	if p.OldHandle != "alice" || p.Handle != "alicia" || p.User != alice.ID {
		t.Fatalf("bob on b was told %+v, want alice renamed alicia", p)
	}
	if n := next[NoticeEvent](t, aliceB); n.Text != "you are now known as alicia" {
		t.Fatalf("alice on b was told %q", n.Text)
	}
	m, err := aliceB.Send(ctx, Lobby, "hi")
	if err != nil || m.FromHandle != "alicia" {
		t.Fatalf("alice's post on b after the rename: %+v, %v; want it from alicia", m, err)
	}
}

func TestRemoteLineRenameIsAppliedOnce(t *testing.T) {
	ctx := context.Background()
	a, b := twoHubs(t)
	alice, bob := account(t, a, "alice"), account(t, a, "bob")
	aliceA := connect(t, a, alice)
	bobB := connect(t, b, bob)
	connect(t, b, alice)
	if _, err := aliceA.Exec(ctx, Lobby, "/nick alicia"); err != nil {
		t.Fatal(err)
	}
	msgs, err := aliceA.History(ctx, Lobby, 0, 1)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("the rename's line: %v, %v", msgs, err)
	}
	drain(bobB)
	b.remoteLine(msgs[0])
	b.remoteLine(msgs[0]) // told again (by presence, or a catch-up)
	next[PresenceEvent](t, bobB)
	for _, ev := range drain(bobB) {
		if p, ok := ev.(PresenceEvent); ok && p.OldHandle != "" {
			t.Fatalf("the rename was told twice: %+v", p)
		}
	}
}
