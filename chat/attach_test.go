package chat

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func attach(t *testing.T, h *Hub, a Account) Session {
	t.Helper()
	s, err := h.Attach(context.Background(), a)
	if err != nil {
		t.Fatalf("attach %s: %v", a.Handle, err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestAttachedSessionAnnouncesNoPresence(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	alice := connect(t, h, account(t, h, "alice"))
	bobAcct := account(t, h, "bob")
	bot := attach(t, h, bobAcct)
	if _, err := bot.Send(context.Background(), Lobby, "from a script"); err != nil {
		t.Fatal(err)
	}
	bot.Close()
	// A later message is fanned out after anything the attach or the
	// close could have published.
	if _, err := alice.Send(context.Background(), Lobby, "marker"); err != nil {
		t.Fatal(err)
	}
	for {
		ev := next[Event](t, alice)
		if p, ok := ev.(PresenceEvent); ok && p.User == bobAcct.ID {
			t.Fatalf("alice was told of bob's presence: %+v", p)
		}
		if m, ok := ev.(MessageEvent); ok && m.Message.Body == "marker" {
			break
		}
	}
	if n := h.Online(); n != 1 {
		t.Fatalf("Online() = %d; want 1 (only alice)", n)
	}
}

func TestAttachedSessionSeesDirectMessagesLeftQueuedForNextLogin(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	ctx := context.Background()
	alice := connect(t, h, account(t, h, "alice"))
	bobAcct := account(t, h, "bob")
	bot := attach(t, h, bobAcct)
	conv := DirectConv(alice.Snapshot().Me.ID, bobAcct.ID)
	if err := h.Follow(context.Background(), bot, conv); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, conv, "are you there?"); err != nil {
		t.Fatal(err)
	}
	got := next[MessageEvent](t, bot)
	if got.Message.Body != "are you there?" || got.Conversation.Name != "alice" {
		t.Fatalf("quiet session got %+v; want alice's direct message", got)
	}
	// The message stays queued: bob's next interactive login gets it.
	bob := connect(t, h, bobAcct)
	off := bob.Snapshot().Offline
	if len(off) != 1 || off[0].Count != 1 || off[0].Messages[0].Body != "are you there?" {
		t.Fatalf("offline groups %+v; want alice's message", off)
	}
}

func TestAttachedSessionDoesNotClaimOfflineMessages(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	ctx := context.Background()
	alice := connect(t, h, account(t, h, "alice"))
	bobAcct := account(t, h, "bob")
	if _, err := alice.Send(ctx, DirectConv(alice.Snapshot().Me.ID, bobAcct.ID), "left while away"); err != nil {
		t.Fatal(err)
	}
	bot := attach(t, h, bobAcct)
	if len(bot.Snapshot().Offline) != 0 {
		t.Fatalf("quiet snapshot has offline groups: %+v", bot.Snapshot().Offline)
	}
	var unread int
	for _, c := range bot.Snapshot().Conversations {
		if c.Kind == KindDirect {
			unread = c.Unread
		}
	}
	if unread != 1 {
		t.Fatalf("quiet snapshot unread = %d; want 1 from the store", unread)
	}
	if err := bot.DismissOffline(ctx); err != nil {
		t.Fatal(err)
	}
	bot.Close()
	bob := connect(t, h, bobAcct)
	if off := bob.Snapshot().Offline; len(off) != 1 || off[0].Count != 1 {
		t.Fatalf("offline groups %+v after a quiet session; want alice's message", off)
	}
}

func TestAttachedSessionsShareOneRateLimitAcrossSessions(t *testing.T) {
	h, _ := newTestHub(t, Options{RateBurst: 2, RatePerSecond: 0.001})
	bobAcct := account(t, h, "bob")
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		bot := attach(t, h, bobAcct)
		if _, err := bot.Send(ctx, Lobby, "burst"); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		bot.Close()
	}
	bot := attach(t, h, bobAcct)
	if _, err := bot.Send(ctx, Lobby, "one too many"); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("third send in a new session: %v; want ErrRateLimited", err)
	}
}

func TestAttachedSessionHonoursBlocks(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	ctx := context.Background()
	aliceAcct, bobAcct := account(t, h, "alice"), account(t, h, "bob")
	alice := connect(t, h, aliceAcct)
	bobUI := connect(t, h, bobAcct)
	bot := attach(t, h, bobAcct)
	if err := h.Follow(context.Background(), bot, Lobby); err != nil {
		t.Fatal(err)
	}
	if _, err := bobUI.Exec(ctx, Lobby, "/block alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, Lobby, "hidden"); err != nil {
		t.Fatal(err)
	}
	if _, err := bobUI.Send(ctx, Lobby, "marker"); err != nil {
		t.Fatal(err)
	}
	for {
		m := next[MessageEvent](t, bot)
		if m.Message.Body == "hidden" {
			t.Fatal("quiet session of the blocker got the blocked user's message")
		}
		if m.Message.Body == "marker" {
			break
		}
	}
}

func TestHubCloseEndsAttachedSessions(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	bot := attach(t, h, account(t, h, "bob"))
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bot.Done():
	default:
		t.Fatal("quiet session still open after Close")
	}
	if !errors.Is(bot.Err(), ErrShutdown) {
		t.Fatalf("Err() = %v; want ErrShutdown", bot.Err())
	}
}

func TestAttachedSessionFollowingNothingIsNotDroppedBySends(t *testing.T) {
	h, _ := newTestHub(t, Options{QueueLen: 4})
	bot := attach(t, h, account(t, h, "bob"))
	for i := range 20 {
		if _, err := bot.Send(context.Background(), Lobby, "line"); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if len(drain(bot)) != 0 {
		t.Fatal("a session following nothing got events")
	}
}

func TestFollowRefusesSomeoneElsesDirectConversation(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	a, b, eve := account(t, h, "alice"), account(t, h, "bob"), account(t, h, "eve")
	bot := attach(t, h, eve)
	if err := h.Follow(context.Background(), bot, DirectConv(a.ID, b.ID)); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("Follow of alice and bob's conversation by eve: %v; want ErrNotAllowed", err)
	}
	if err := h.Follow(context.Background(), connect(t, h, a), Lobby); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("Follow of a session of Connect: %v; want ErrNotAllowed", err)
	}
}

// TestFollowedRoomGivesItsSystemLinesAndEndsOnRemoval checks that a quiet
// session following a room gets every line of its history as it is
// committed, system lines (topics, joins, kicks) included, as its members'
// sessions do, and that a member removed from the room is told so in the
// quiet sessions that follow it too, which then get nothing more of it.
func TestFollowedRoomGivesItsSystemLinesAndEndsOnRemoval(t *testing.T) {
	for _, how := range []string{"/kick bob", "/ban bob", "/part"} {
		t.Run(how, func(t *testing.T) {
			h, _ := newTestHub(t, Options{})
			ctx := context.Background()
			alice := connect(t, h, account(t, h, "alice"))
			bobAcct := account(t, h, "bob")
			bob := connect(t, h, bobAcct)
			exec(t, alice, Lobby, "/create #ops private")
			exec(t, alice, "#ops", "/invite bob")
			exec(t, bob, Lobby, "/join #ops")
			bot := attach(t, h, bobAcct)
			if err := h.Follow(ctx, bot, "#ops"); err != nil {
				t.Fatal(err)
			}
			exec(t, alice, "#ops", "/topic deploys at noon")
			ev := next[MessageEvent](t, bot)
			if ev.Message.Conv != "#ops" || ev.Message.Kind != KindSystem || !strings.Contains(ev.Message.Body, "deploys at noon") {
				t.Fatalf("follower got %+v; want the topic line", ev.Message)
			}
			actor := alice
			if how == "/part" {
				actor = bob
			}
			exec(t, actor, "#ops", how)
			ce := next[ConversationEvent](t, bot)
			if !ce.Removed || ce.Conversation.ID != "#ops" || ce.Reason == "" {
				t.Fatalf("follower got %+v; want the removal", ce)
			}
			if _, err := alice.Send(ctx, "#ops", "SECRET-after"); err != nil {
				t.Fatal(err)
			}
			for _, ev := range drain(bot) {
				if m, ok := ev.(MessageEvent); ok {
					t.Fatalf("removed follower got %+v", m.Message)
				}
			}
		})
	}
}
