package chat

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"sshchat/model"
)

func TestEditShowsEditedOnEverySessionAndAfterRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	db, err := model.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHub(db, nopLogger{}, Options{RateBurst: 100, RatePerSecond: 100})
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := account(t, h, "alice"), account(t, h, "bob")
	sa, sa2, sb := connect(t, h, alice), connect(t, h, alice), connect(t, h, bob)
	sent, err := sa.Send(ctx, Lobby, "helo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Send(ctx, Lobby, "bob's line"); err != nil {
		t.Fatal(err)
	}
	exec(t, sa, Lobby, "/edit hello")
	for _, s := range []Session{sa, sa2, sb} {
		ev := next[EditEvent](t, s)
		if ev.Message.ID != sent.ID || ev.Message.Body != "hello" || ev.Message.Edited.IsZero() || ev.Message.Deleted {
			t.Fatalf("edit event = %+v", ev)
		}
	}
	if found, _ := sb.Search(ctx, "helo", 0, 10); len(found) != 0 {
		t.Fatalf("search after edit finds the old text: %+v", found)
	}
	if found, _ := sb.Search(ctx, "hello", 0, 10); len(found) != 1 || found[0].ID != sent.ID {
		t.Fatalf("search after edit: %+v", found)
	}
	h.Close(ctx)
	db.Close()

	db, err = model.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h, err = NewHub(db, nopLogger{}, Options{RateBurst: 100, RatePerSecond: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	sb = connect(t, h, bob)
	hist, err := sb.History(ctx, Lobby, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range hist {
		if m.ID == sent.ID {
			if m.Body != "hello" || m.Edited.IsZero() {
				t.Fatalf("after restart the edit is lost: %+v", m)
			}
			return
		}
	}
	t.Fatalf("edited message not in history: %+v", hist)
}

func TestDeleteRemovesFromSearchAndShowsDeletedLiveAndInHistory(t *testing.T) {
	ctx := context.Background()
	h, _ := newTestHub(t, Options{})
	alice, bob := account(t, h, "alice"), account(t, h, "bob")
	sa, sb := connect(t, h, alice), connect(t, h, bob)
	dm := DirectConv(alice.ID, bob.ID)
	sent, err := sa.Send(ctx, dm, "regrettable words")
	if err != nil {
		t.Fatal(err)
	}
	// History before the delete seeds the shared cache: it must not serve
	// the old body afterwards.
	if _, err := sb.History(ctx, dm, 0, 10); err != nil {
		t.Fatal(err)
	}
	exec(t, sa, dm, "/delete")
	ev := next[EditEvent](t, sb)
	if ev.Message.ID != sent.ID || !ev.Message.Deleted || ev.Message.Body != "" {
		t.Fatalf("live delete = %+v", ev)
	}
	hist, _ := sb.History(ctx, dm, 0, 10)
	if len(hist) != 1 || !hist[0].Deleted || hist[0].Body != "" {
		t.Fatalf("history after delete = %+v", hist)
	}
	if found, _ := sb.Search(ctx, "regrettable", 0, 10); len(found) != 0 {
		t.Fatalf("deleted message found: %+v", found)
	}
}

func TestEditAndDeleteOnlyOwnMessages(t *testing.T) {
	ctx := context.Background()
	h, _ := newTestHub(t, Options{})
	alice, bob := account(t, h, "alice"), account(t, h, "bob")
	sa, sb := connect(t, h, alice), connect(t, h, bob)
	if _, err := sb.Send(ctx, Lobby, "bob speaks"); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"/edit mine now", "/delete"} {
		_, err := sa.Exec(ctx, Lobby, line)
		if !errors.Is(err, ErrNotAllowed) {
			t.Fatalf("%s with no message of one's own: %v, want ErrNotAllowed", line, err)
		}
	}
	mine, _ := sa.Send(ctx, Lobby, "alice speaks")
	if _, err := sb.Send(ctx, Lobby, "bob again"); err != nil {
		t.Fatal(err)
	}
	exec(t, sa, Lobby, "/edit alice edits")
	hist, _ := sb.History(ctx, Lobby, 0, 10)
	for _, m := range hist {
		switch {
		case m.ID == mine.ID && m.Body != "alice edits":
			t.Fatalf("alice's message not edited: %+v", m)
		case m.From == bob.ID && !m.Edited.IsZero():
			t.Fatalf("bob's message edited by alice: %+v", m)
		}
	}
	if _, err := sa.Exec(ctx, Lobby, "/edit"); !errors.Is(err, ErrUsage) {
		t.Fatalf("/edit with no text: %v", err)
	}
}
