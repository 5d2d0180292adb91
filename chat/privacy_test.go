package chat

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestDirectMessagesInvisibleOnEveryReadPath seeds direct messages between
// alice and bob (live and offline), then lets carol use every read path the
// broker has — her snapshot, live events, lobby history, every command of
// the registry with every plausible argument — and checks that no trace of
// them reaches her: not the text, not the conversation, not a count.
// (Her own arguments may be echoed back, e.g. "/away SECRET", so the marker
// of the private text is "SECRET-".)
func TestDirectMessagesInvisibleOnEveryReadPath(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	ctx := context.Background()
	a, b, c := account(t, h, "alice"), account(t, h, "bob"), account(t, h, "carol")
	carolLive := connect(t, h, c)
	alice := connect(t, h, a)
	bob := connect(t, h, b)
	conv := DirectConv(a.ID, b.ID)
	if _, err := alice.Send(ctx, conv, "SECRET-live"); err != nil {
		t.Fatal(err)
	}
	bob.Close()
	if _, err := alice.Send(ctx, conv, "SECRET-offline"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Exec(ctx, conv, "/me SECRET-action"); err != nil {
		t.Fatal(err)
	}

	leak := func(where, text string) {
		t.Helper()
		if strings.Contains(text, "SECRET-") {
			t.Errorf("%s leaked: %s", where, text)
		}
	}
	for _, ev := range drain(carolLive) {
		leak("live event", fmt.Sprintf("%+v", ev))
	}

	carol := connect(t, h, c)
	snap := carol.Snapshot()
	leak("snapshot", fmt.Sprintf("%+v", snap))
	if strings.Contains(fmt.Sprintf("%+v", snap), string(conv)) {
		t.Errorf("carol's snapshot names the conversation: %+v", snap)
	}
	for _, cv := range snap.Conversations {
		if cv.ID != Lobby {
			t.Errorf("carol's snapshot lists %+v", cv)
		}
		if cv.Unread != 0 {
			t.Errorf("carol's unread count for %s is %d", cv.ID, cv.Unread)
		}
	}
	hist, err := carol.History(ctx, Lobby, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	leak("lobby history", fmt.Sprintf("%+v", hist))

	for _, cmd := range commands() {
		if cmd.name == "quit" {
			continue
		}
		for _, arg := range []string{"", "alice", "bob", "carol", string(conv), "SECRET"} {
			line := "/" + cmd.name + " " + arg
			rep, err := carol.Exec(ctx, Lobby, line)
			leak(line, fmt.Sprintf("%+v %v", rep, err))
			if rep.Open != nil {
				msgs, err := carol.History(ctx, rep.Open.ID, 0, 500)
				leak(line+" then history", fmt.Sprintf("%+v %v", msgs, err))
			}
		}
	}
	for _, ev := range drain(carol) {
		leak("event after commands", fmt.Sprintf("%+v", ev))
	}
	if _, err := carol.History(ctx, conv, 0, 500); err == nil {
		t.Error("carol read the conversation by its ID")
	}
}
