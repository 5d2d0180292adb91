package chat

import (
	"context"
	"errors"
	"testing"
)

func bodies(msgs []Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Body
	}
	return out
}

func TestSearchFindsAcrossConversationsNewestFirst(t *testing.T) {
	ctx := context.Background()
	h, _ := newTestHub(t, Options{})
	alice, bob := account(t, h, "alice"), account(t, h, "bob")
	sa, _ := h.Connect(ctx, alice)
	sb, _ := h.Connect(ctx, bob)
	t.Cleanup(sa.Close)
	t.Cleanup(sb.Close)
	exec(t, sa, Lobby, "/create #ops")
	exec(t, sb, Lobby, "/join #ops")
	for _, x := range []struct {
		s    Session
		conv ConvID
		body string
	}{
		{sa, Lobby, "deploy at noon"},
		{sb, RoomConv("ops"), "deploy failed"},
		{sb, DirectConv(alice.ID, bob.ID), "redeploy? no: deploy tomorrow"},
		{sa, Lobby, "lunch"},
	} {
		if _, err := x.s.Send(ctx, x.conv, x.body); err != nil {
			t.Fatal(err)
		}
	}
	found, err := sa.Search(ctx, "deploy", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"redeploy? no: deploy tomorrow", "deploy failed", "deploy at noon"}
	if got := bodies(found); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("search = %q, want %q", got, want)
	}
	if found[1].Conv != RoomConv("ops") || found[1].FromHandle != "bob" || found[1].At.IsZero() {
		t.Fatalf("a result names its conversation, sender and time: %+v", found[1])
	}
	page, _ := sa.Search(ctx, "deploy", found[1].ID, 10)
	if got := bodies(page); len(got) != 1 || got[0] != want[2] {
		t.Fatalf("next page = %q", got)
	}
	rep := exec(t, sa, Lobby, "/search deploy")
	if len(rep.Found) != 3 || len(rep.Lines) != 4 {
		t.Fatalf("/search reply = %+v", rep)
	}
	if _, err := sa.Exec(ctx, Lobby, "/search ?!"); !errors.Is(err, ErrUsage) {
		t.Fatalf("/search with no word: %v, want ErrUsage", err)
	}
}

func TestSearchNeverReturnsBlockedSendersOrOthersDMsOrLeftRooms(t *testing.T) {
	ctx := context.Background()
	h, _ := newTestHub(t, Options{})
	alice, bob, carol := account(t, h, "alice"), account(t, h, "bob"), account(t, h, "carol")
	sa, _ := h.Connect(ctx, alice)
	sb, _ := h.Connect(ctx, bob)
	sc, _ := h.Connect(ctx, carol)
	for _, s := range []Session{sa, sb, sc} {
		t.Cleanup(s.Close)
	}
	exec(t, sb, Lobby, "/create #hidden private")
	exec(t, sb, RoomConv("hidden"), "/invite alice")
	exec(t, sa, Lobby, "/join #hidden")
	for _, x := range []struct {
		s    Session
		conv ConvID
		body string
	}{
		{sb, RoomConv("hidden"), "secret plan"},
		{sb, DirectConv(bob.ID, carol.ID), "secret between bob and carol"},
		{sc, Lobby, "secret from carol"},
	} {
		if _, err := x.s.Send(ctx, x.conv, x.body); err != nil {
			t.Fatal(err)
		}
	}
	exec(t, sa, Lobby, "/block carol")
	found, err := sa.Search(ctx, "secret", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := bodies(found); len(got) != 1 || got[0] != "secret plan" {
		t.Fatalf("alice finds %q, want only the room she is in", got)
	}
	exec(t, sa, RoomConv("hidden"), "/part")
	if found, _ := sa.Search(ctx, "secret", 0, 10); len(found) != 0 {
		t.Fatalf("after /part alice still finds %q", bodies(found))
	}
}
