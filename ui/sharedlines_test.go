package ui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"sshchat/chat"
)

// TestMessageRenderingIsSharedButNotMentionsOrOwn: readers of a message
// at the same width and theme get one rendering, but a reader it mentions
// and its sender each get their own (highlighted mention, own style),
// whoever drew the message first.
func TestMessageRenderingIsSharedButNotMentionsOrOwn(t *testing.T) {
	theme := NewTheme()
	ctx := func(me chat.UserID, handle string, shared *sharedLines) *renderCtx {
		return &renderCtx{st: theme.Dark, me: me, meKey: chat.HandleKey(handle), loc: time.UTC, shared: shared}
	}
	alice, bob, carol := ctx(1, "alice", theme.lines), ctx(2, "bob", theme.lines), ctx(3, "carol", theme.lines)
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	msg := func(id chat.MessageID, from chat.UserID, handle, body string) *entry {
		return &entry{key: 2 * int64(id), kind: entMessage, msg: chat.Message{ID: id, Conv: chat.Lobby, From: from, FromHandle: handle, Kind: chat.KindText, Body: body, At: at}}
	}
	alone := func(rc *renderCtx, e *entry, w int) []string { // the reader's own rendering, nothing shared
		own := *rc
		own.shared = nil
		c := *e
		c.lines = nil
		return c.render(&own, w)
	}

	plain := msg(10, 3, "carol", "hello everyone")
	a, b := slices.Clone(plain.render(alice, 60)), msg(10, 3, "carol", "hello everyone").render(bob, 60)
	if &plain.lines[0] != &b[0] {
		t.Fatal("bob rendered carol's message again instead of sharing alice's rendering")
	}
	if !slices.Equal(a, alone(bob, plain, 60)) {
		t.Fatalf("shared rendering differs from bob's own:\n%q\n%q", a, alone(bob, plain, 60))
	}
	if wide := msg(10, 3, "carol", "hello everyone").render(bob, 70); &wide[0] == &b[0] {
		t.Fatal("a rendering at another width was shared")
	}

	if !chat.Mentions("hi @bob, look", chat.HandleKey("bob")) {
		t.Fatal("test message does not mention bob")
	}
	mention := msg(11, 3, "carol", "hi @bob, look")
	mention.render(alice, 60)
	got := msg(11, 3, "carol", "hi @bob, look").render(bob, 60)
	if want := alone(bob, mention, 60); !slices.Equal(got, want) || slices.Equal(got, mention.lines) {
		t.Fatalf("bob's mention: got %q, want his highlighted %q (alice's %q)", got, want, mention.lines)
	}

	own := msg(12, 1, "alice", "my own words")
	own.render(carol, 60)
	got = msg(12, 1, "alice", "my own words").render(alice, 60)
	if want := alone(alice, own, 60); !slices.Equal(got, want) || slices.Equal(got, own.lines) {
		t.Fatalf("alice's own message: got %q, want her own style %q (carol's %q)", got, want, own.lines)
	}
}

// TestSharedRenderingsAreBounded: the shared renderings keep the newest
// sharedLinesCap messages, however many pass through.
func TestSharedRenderingsAreBounded(t *testing.T) {
	s := newSharedLines()
	for id := range 3 * sharedLinesCap {
		s.put(sharedKey{id: chat.MessageID(id + 1), width: 80}, []string{"x"})
	}
	if len(s.m) != sharedLinesCap {
		t.Fatalf("%d renderings kept, want %d", len(s.m), sharedLinesCap)
	}
	if _, ok := s.get(sharedKey{id: 3 * sharedLinesCap, width: 80}); !ok {
		t.Fatal("the newest rendering was evicted")
	}
	if _, ok := s.get(sharedKey{id: 1, width: 80}); ok {
		t.Fatal("the oldest rendering was kept")
	}
}

// TestSharedRenderingFollowsAnEdit: once a message is edited (or deleted),
// a reader who draws it gets the new text, not the rendering another
// reader shared before the edit.
func TestSharedRenderingFollowsAnEdit(t *testing.T) {
	theme := NewTheme()
	rc := func(me chat.UserID, handle string) *renderCtx {
		return &renderCtx{st: theme.Dark, me: me, meKey: chat.HandleKey(handle), loc: time.UTC, shared: theme.lines}
	}
	alice, bob := rc(1, "alice"), rc(2, "bob")
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	m := chat.Message{ID: 20, Conv: chat.Lobby, From: 3, FromHandle: "carol", Kind: chat.KindText, Body: "first words", At: at}
	(&entry{key: 40, kind: entMessage, msg: m}).render(alice, 60)

	m.Body, m.Edited = "second words", at.Add(time.Minute)
	got := strings.Join((&entry{key: 40, kind: entMessage, msg: m}).render(bob, 60), "\n")
	if strings.Contains(got, "first words") || !strings.Contains(got, "second words") {
		t.Fatalf("bob drew the edited message as %q", got)
	}
	m.Body, m.Deleted, m.Edited = "", true, at.Add(2*time.Minute)
	got = strings.Join((&entry{key: 40, kind: entMessage, msg: m}).render(alice, 60), "\n")
	if strings.Contains(got, "words") {
		t.Fatalf("alice drew the deleted message as %q", got)
	}
}
