package chat

import (
	"context"
	"path/filepath"
	"testing"

	"sshchat/model"
)

// TestReadMarkersCountAtOnceAndSurviveRestart: a marker is batched off the
// request path, yet the user's next login counts from it at once, and a
// clean shutdown writes what was pending.
func TestReadMarkersCountAtOnceAndSurviveRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	open := func() (*Hub, *model.DB) { return openHubAt(t, path) }
	h, db := open()
	a, b := account(t, h, "alice"), account(t, h, "bob")
	alice, bob := connect(t, h, a), connect(t, h, b)
	var last Message
	for _, text := range []string{"one", "two", "three"} {
		m, err := alice.Send(ctx, Lobby, text)
		if err != nil {
			t.Fatal(err)
		}
		last = m
	}
	unreadOf := func(s Session) int {
		for _, c := range s.Snapshot().Conversations {
			if c.ID == Lobby {
				return c.Unread
			}
		}
		t.Fatal("no lobby in the snapshot")
		return 0
	}
	if n := unreadOf(connect(t, h, b)); n != 3 {
		t.Fatalf("unread before reading = %d, want 3", n)
	}
	if err := bob.MarkRead(ctx, Lobby, last.ID-1); err != nil {
		t.Fatal(err)
	}
	// The next login counts from the marker just noted, written or not.
	if n := unreadOf(connect(t, h, b)); n != 1 {
		t.Fatalf("unread at the next login = %d, want 1", n)
	}
	if err := bob.MarkRead(ctx, Lobby, last.ID); err != nil {
		t.Fatal(err)
	}
	if err := bob.MarkRead(ctx, Lobby, last.ID-2); err != nil { // never moves back
		t.Fatal(err)
	}
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()

	h, db = open()
	t.Cleanup(func() { h.Close(ctx); db.Close() })
	if n := unreadOf(connect(t, h, b)); n != 0 {
		t.Fatalf("unread after restart = %d, want 0", n)
	}
}
